"""``flask --app app crm package ...``: configuration packages from the command line.

``export`` writes the company's configuration as a package (standard output by default);
``plan FILE`` prints what applying a package would do, grouped by entity; ``apply FILE
--yes`` prints the plan and applies it, all or nothing. Exit codes for scripts: 0 done (or
nothing to do), 1 refused (no --yes, destructive steps, conflicts, a writer's problem:
nothing changed), 2 the package itself is invalid (one ``pointer: message`` per line).
Messages for people are in the company's default language (``crm.cli``)."""

from __future__ import annotations

from collections.abc import Iterable

import click
from flask_babel import gettext as _
from flask_babel import ngettext

from crm.errors import Conflict, ValidationFailed

package_group = click.Group("package", help="Configuration packages: export, plan, apply.")


@package_group.command("export")
@click.option("--out", "out", type=click.Path(dir_okay=False, writable=True), default=None)
@click.option("--name", default="configuration", show_default=True)
@click.option("--version", "version", default="1.0.0", show_default=True)
@click.option("--description", default=None)
def export_command(out: str | None, name: str, version: str, description: str | None) -> None:
    """Export the whole configuration as a package: JSON on standard output, or in --out
    FILE. The same configuration always gives the same bytes."""
    from crm.extensions import db
    from crm.packages import export

    try:
        text = export.dumps(
            export.export_package(name=name, version=version, description=description)
        )
    except ValidationFailed as exc:
        for where, messages in exc.errors.items():
            for message in messages:
                click.echo(f"--{where}: {message}", err=True)
        raise click.exceptions.Exit(1) from None
    finally:
        db.session.rollback()  # read only: end the transaction the reads opened
    if out is None:
        click.echo(text, nl=False)
        return
    with open(out, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
    click.echo(_("The package was written to %(path)s.", path=out), err=True)


# -- plan, apply ---------------------------------------------------------------------------


def _read(path: str):
    """The package in FILE, loaded and checked against this installation; on any problem,
    every ``pointer: message`` on standard error and exit 2."""
    from crm.metadata import specs
    from crm.packages.load import MAX_BYTES, load
    from crm.packages.problems import PackageInvalid
    from crm.packages.seed import seeded_keys

    with open(path, "rb") as handle:
        data = handle.read(MAX_BYTES + 1)  # enough for the size check, no more
    try:
        return load(data, filename=path, existing=specs.raw().entities, seeded=seeded_keys())
    except PackageInvalid as exc:
        click.echo(exc.message, err=True)
        for problem in exc.problems:
            click.echo(f"{problem.pointer or '/'}: {problem.message}", err=True)
        raise click.exceptions.Exit(2) from None


def _plan(data):
    """The plan of ``data`` here, printed; returned."""
    from crm.packages import describe
    from crm.packages.apply import plan_package

    p = plan_package(data)
    for text in describe.lines(p):
        click.echo(text)
    return p


def _refuse(heading: str, lines: Iterable[str]) -> None:
    click.echo(heading, err=True)
    for text in lines:
        click.echo(f"  {text}", err=True)


_FILE = click.Path(exists=True, dir_okay=False, readable=True)


@package_group.command("plan")
@click.argument("file", type=_FILE)
def plan_command(file: str) -> None:
    """Print what applying the package in FILE would add, change, archive, keep and where
    it conflicts, grouped by entity. Changes nothing."""
    from crm.extensions import db

    try:
        _plan(_read(file).data)
    finally:
        db.session.rollback()  # read only


@package_group.command("apply")
@click.argument("file", type=_FILE)
@click.option("--yes", is_flag=True, help="Apply (without it, only the plan is printed).")
@click.option("--allow-destructive", is_flag=True, help="Allow steps that may lose data.")
@click.option(
    "--as",
    "actor_email",
    default=None,
    metavar="EMAIL",
    help="The user who applies: needed when the package changes roles (they must hold "
    "the rights the roles grant).",
)
@click.option(
    "--take-theirs",
    "theirs",
    multiple=True,
    metavar="PATH",
    help="Resolve the conflict at PATH with the package's value.",
)
@click.option(
    "--keep-mine",
    "mine",
    multiple=True,
    metavar="PATH",
    help="Resolve the conflict at PATH by keeping this installation's value.",
)
def apply_command(
    file: str,
    yes: bool,
    allow_destructive: bool,
    actor_email: str | None,
    theirs: tuple[str, ...],
    mine: tuple[str, ...],
) -> None:
    """Print the plan of the package in FILE and apply it, all of it or nothing. Refused
    (exit 1, nothing changed) without --yes, with destructive steps and no
    --allow-destructive, or with a conflict neither --take-theirs nor --keep-mine
    resolves."""
    from crm.extensions import db
    from crm.packages import describe
    from crm.packages.apply import apply
    from crm.packages.plan import MINE, THEIRS

    package = _read(file)
    p = _plan(package.data)
    choices = {path: THEIRS for path in theirs}
    both = sorted(set(theirs) & set(mine))
    choices.update({path: MINE for path in mine})
    conflicts = {c.path for c in p.conflicts}
    unknown = sorted((set(theirs) | set(mine)) - conflicts)
    unresolved = [c for c in p.conflicts if c.path not in choices]
    refused = False
    if both or unknown:
        refused = True
        _refuse(
            _("These paths are not conflicts of this plan, or were given both choices:"),
            [*unknown, *both],
        )
    if unresolved:
        refused = True
        _refuse(
            _("Conflicts need a choice (--take-theirs PATH or --keep-mine PATH):"),
            [describe.line(c).text for c in unresolved],
        )
    assumed = {**{c.path: MINE for c in p.conflicts}, **choices}
    destructive = p.destructive(assumed)
    if destructive and not allow_destructive:
        refused = True
        _refuse(
            _("Destructive steps need --allow-destructive:"),
            [f"{step.path}: {step.why}" for step in destructive],
        )
    if not refused and not yes and not p.empty:
        refused = True
        click.echo(_("Nothing was changed: add --yes to apply this plan."), err=True)
    actor_id = None
    if actor_email is not None:
        from sqlalchemy import func, select

        from crm.access.models import User

        actor_id = db.session.scalar(
            select(User.id).where(func.lower(User.email) == actor_email.strip().lower())
        )
        if actor_id is None:
            refused = True
            click.echo(_("There is no user with the email %(email)s.", email=actor_email), err=True)
    if refused:
        db.session.rollback()
        raise click.exceptions.Exit(1)
    try:
        result = apply(
            p,
            choices=choices,
            allow_destructive=allow_destructive,
            actor_id=actor_id,
            progress=_print_step,
        )
    except ValidationFailed as exc:
        db.session.rollback()
        click.echo(str(exc.message), err=True)
        for where, messages in exc.errors.items():
            for message in messages:
                click.echo(f"  {where}: {message}", err=True)
        raise click.exceptions.Exit(1) from None
    except Conflict as exc:
        db.session.rollback()
        click.echo(str(exc.message), err=True)
        raise click.exceptions.Exit(1) from None
    if result.changed:
        click.echo(
            ngettext(
                "Package %(name)s %(version)s applied: %(num)d step.",
                "Package %(name)s %(version)s applied: %(num)d steps.",
                result.steps,
                name=package.name,
                version=package.version,
            )
        )


def _print_step(done: int, total: int, message: str) -> None:
    """An apply's progress on standard error, one line a step (standard output keeps the
    outcome alone, for scripts)."""
    click.echo(f"[{done}/{total}] {message}", err=True)
