"""``flask --app app crm import FILE --entity KEY``: scripted loads, run at once (the same
engine as the background job, without the queue).

Prints the counts (created, updated, skipped, errors) and the first rows in error. Exit
codes: 0 done (rows in error are in the import's error file), 1 the file cannot be read,
the user may not import, the mapping is refused, or, with ``--dry-run``, any row fails.
Without ``--mapping``, columns whose header is a field's key or label (case ignored) are
imported; ``--mapping M.json`` gives ``{"column name": "field key"}``.
"""

from __future__ import annotations

import json

import click
from flask_babel import gettext as _

from crm.errors import DomainError

# the run engine's words (crm.imports.models.MODES) and "upsert", an alias of "both"
MODES = ("create", "update", "both", "upsert")


def _fail(message: str) -> None:
    click.echo(message, err=True)
    raise click.exceptions.Exit(1)


def _user(email: str | None):
    from sqlalchemy import select

    from crm.access.models import User
    from crm.extensions import db

    query = select(User).where(User.is_active.is_(True))
    if email:
        query = query.where(User.email == email.strip().lower())
    else:
        query = query.where(User.is_admin.is_(True)).order_by(User.id)
    user = db.session.scalars(query.limit(1)).first()
    if user is None:
        _fail(_("There is no active user %(email)s.", email=email or "(admin)"))
    return user


def _columns(spec, names: tuple[str, ...], mapping_path: str | None):
    from crm.imports.values import ColumnMap

    if mapping_path:
        try:
            with open(mapping_path, encoding="utf-8") as handle:
                wanted = json.load(handle)
        except (OSError, ValueError) as exc:
            _fail(_("The mapping cannot be read: %(error)s", error=str(exc)))
        if not isinstance(wanted, dict):
            _fail(_("The mapping must be a JSON object of column name to field key."))
    else:
        wanted = {}
        for name in names:
            for f in spec.active_fields:
                if name.strip().casefold() in (f.key.casefold(), str(f.label).casefold()):
                    wanted[name] = f.key
                    break
    where = {n.strip().casefold(): i for i, n in reversed(list(enumerate(names)))}
    columns = []
    for name, key in wanted.items():
        i = where.get(str(name).strip().casefold())
        f = spec.field(str(key))
        if i is None:
            _fail(_("The file has no column “%(column)s”.", column=name))
        if f is None or f.archived:
            _fail(_("There is no field “%(field)s”.", field=key))
        columns.append(ColumnMap(i, f))
    if not columns:
        _fail(_("No column of the file matches a field."))
    return columns


def _report(summary, dry_run: bool, *, keyed: bool) -> bool:
    """Print the rows in error (with their field when ``keyed``) and the counts; a dry run
    says nothing was written and exits 1 when a row failed. True for a dry run."""
    for line, reasons in summary.samples:
        for key, messages in reasons.items():
            for message in messages:
                where = f"{key}: " if keyed and key else ""
                click.echo(_("Line %(line)s: ", line=line) + where + message, err=True)
    for line, message in getattr(summary, "duplicate_samples", ()):
        click.echo(_("Line %(line)s: ", line=line) + message, err=True)
    if getattr(summary, "duplicates", 0):
        click.echo(_("Skipped as duplicates: %(num)s.", num=summary.duplicates))
    click.echo(
        _("Created: %(created)s, updated: %(updated)s, skipped: %(skipped)s, errors: %(errors)s.",
          created=summary.created, updated=summary.updated, skipped=summary.skipped,
          errors=summary.errors)
    )  # fmt: skip
    if dry_run:
        click.echo(_("Dry run: nothing was written."))
        if summary.errors:
            raise click.exceptions.Exit(1)
    return dry_run


def _import_org(target: str, file: str, user, dry_run: bool) -> None:
    """Departments or users (``crm.imports.org``): prints the counts, the rows in error and,
    for new users, their invitation links (shown once, never stored)."""
    import os

    from flask import current_app, url_for

    from crm.extensions import db
    from crm.imports import org
    from crm.imports.read import UnreadableFile
    from crm.uow import unit_of_work

    try:
        with open(file, "rb") as handle, unit_of_work() as outer:
            imp = org.start(user, target, handle, os.path.basename(file), queue=False)
            summary = org.run(imp.id, dry_run=dry_run)
            if dry_run:
                outer.discard()
    except UnreadableFile as exc:
        _fail(str(exc))
    except DomainError as exc:
        db.session.rollback()
        _fail("\n".join([exc.message] + [m for ms in exc.errors.values() for m in ms]))
    if _report(summary, dry_run, keyed=False):
        return
    for address, token in summary.invites:
        try:  # a full address when SERVER_NAME is configured, else the path
            link = url_for("invite.accept", token=token, _external=True)
        except RuntimeError:
            with current_app.test_request_context():
                link = url_for("invite.accept", token=token)
        click.echo(_("Invitation for %(email)s: %(link)s", email=address, link=link))


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--entity",
    "entity_key",
    required=True,
    help="The entity's key, or departments / users (the organisation; full administrators).",
)
@click.option("--mapping", "mapping_path", default=None, help="JSON: column name -> field key.")
@click.option("--dry-run", is_flag=True, help="Check every row; write nothing.")
@click.option("--as", "email", default=None, help="The importing user (default: an admin).")
@click.option("--mode", type=click.Choice(MODES), default="create", show_default=True)
@click.option("--match", "match", default="", help="Field key(s) matching rows, comma-separated.")
@click.option(
    "--duplicates",
    type=click.Choice(("skip", "update", "create")),
    default="skip",
    show_default=True,
    help="Rows duplicating a record under the duplicate rules: skip, update it, create anyway.",
)
def import_command(
    file: str, entity_key: str, mapping_path: str | None, dry_run: bool, email: str | None,
    mode: str, match: str, duplicates: str = "skip",
) -> None:  # fmt: skip
    """Import FILE (CSV, TSV or XLSX) into the entity KEY, as --as EMAIL would."""
    import os

    from crm.extensions import db
    from crm.imports import run as engine
    from crm.imports import service
    from crm.imports.read import UnreadableFile, open_source
    from crm.metadata import specs
    from crm.uow import unit_of_work

    spec = specs.current().entity(entity_key)
    org_target = "@" + entity_key.lstrip("@") if spec is None or entity_key.startswith("@") else ""
    if org_target in ("@departments", "@users"):
        _import_org(org_target, file, _user(email), dry_run)
        return
    if spec is None:
        _fail(_("There is no entity “%(entity)s”.", entity=entity_key))
    user = _user(email)
    keys = tuple(k.strip() for k in match.split(",") if k.strip())
    name = os.path.basename(file)
    try:
        with open(file, "rb") as handle:
            source = open_source(handle, name)
            columns = _columns(spec, source.columns, mapping_path)
            args = dict(mode=mode, match=keys, queue=False, duplicates=duplicates)
            if dry_run:
                with unit_of_work() as outer:
                    imp = service.create(user, spec, handle, name, columns, **args)
                    summary = engine.run(imp.id, dry_run=True)
                    outer.discard()
            else:
                imp = service.create(user, spec, handle, name, columns, **args)
                summary = engine.run(imp.id)
    except UnreadableFile as exc:
        _fail(str(exc))
    except DomainError as exc:
        db.session.rollback()
        lines = [exc.message] + [f"{k}: {m}" for k, ms in exc.errors.items() for m in ms]
        _fail("\n".join(lines))
    _report(summary, dry_run, keyed=True)
