"""The import screens of an entity: its imports (with the error file and undo) and the
upload form; the mapping screen of an uploaded file (how it is read, columns to fields,
unknown picklist values, lookup rules, mode, saved mappings, preview and dry run, start).

Thin views: they parse the form into a ``Mapping`` and call ``crm.imports.drafts``,
``saved`` and ``service``; the run itself is a job whose page (``/admin/jobs/<id>``)
shows its progress.
"""

from __future__ import annotations

import io
from types import MappingProxyType
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_number
from flask_babel import gettext as _
from flask_login import current_user, login_required

from crm.access import policy
from crm.dedupe.rules import enabled_rules
from crm.errors import DomainError
from crm.ids import as_id
from crm.imports import drafts, saved, service
from crm.imports import mapping as mapping_service
from crm.imports.choices import may_add_choices
from crm.imports.duplicates import rule_name
from crm.imports.errors import UnreadableFile
from crm.imports.lookups import EMPTY, FAIL, LookupRule, match_fields
from crm.imports.mapping import MODES, ColumnChoice, Mapping
from crm.imports.matching import auto_match
from crm.imports.owners import OWNER
from crm.imports.read import Settings
from crm.metadata import specs, types
from crm.metadata.spec import EntitySpec
from crm.web.uploads import large_upload

bp = Blueprint("imports", __name__, url_prefix="/r")
SHOWN_VALUES = 25  # unknown values listed per field (the others go as "every other value")

ENCODINGS = ("utf-8", "utf-16", "gb18030", "cp1252", "latin-1")
DELIMITERS = ((",", ","), (";", ";"), ("\t", "Tab"), ("|", "|"))


@bp.before_request
@login_required
def _signed_in():
    return None


def _entity(key: str) -> EntitySpec:
    spec = specs.entity_or_404(key)
    policy.require(current_user, "read", spec.key)
    policy.require(current_user, "import", spec.key)
    return spec


@bp.route("/<key>/imports/", methods=["GET", "POST"])
@large_upload
def import_list(key: str):
    """The entity's imports and the upload form; POST: keep the file, go to its mapping."""
    spec = _entity(key)
    error = None
    if request.method == "POST":
        file = request.files.get("file")
        if file is None or not file.filename:
            error = _("Choose a file to import.")
        else:
            try:
                imp = drafts.upload(current_user, spec, file.stream, file.filename)
            except UnreadableFile as exc:
                error = str(exc)
            else:
                return redirect(url_for("imports.import_mapping", key=spec.key, import_id=imp.id))
    page = render_template(
        "imports/list.html",
        spec=spec,
        imports=drafts.imports_of(current_user, spec),
        error=error,
        statuses=_statuses(),
        max_mb=current_app.config["IMPORT_MAX_BYTES"] // 2**20,
    )
    return (page, 400) if error else page


def _statuses() -> dict[str, str]:
    return {
        "queued": _("Queued"),
        "running": _("Running"),
        "done": _("Done"),
        "failed": _("Failed"),
        "undone": _("Undone"),
    }


def _settings(form: Any) -> Settings:
    def pick(name: str) -> str | None:
        return (form.get(name) or "").strip() or None

    header = pick("header_row")
    return Settings(
        encoding=pick("encoding"),
        delimiter=(form.get("delimiter") or None),
        header_row=int(header) if header and header.isdigit() else None,
        sheet=pick("sheet"),
    )


def _auto(spec: EntitySpec, columns: tuple[str, ...]) -> Mapping:
    found = auto_match(current_user, spec, columns)
    return Mapping(
        spec.key,
        tuple(ColumnChoice(m.column, m.name, m.field) for m in found),
        mode=mapping_service.CREATE,
    )


def _posted(spec: EntitySpec, columns: tuple[str, ...], form: Any) -> Mapping:
    """The mapping the form describes (checked later by the service)."""
    chosen = []
    for i, name in enumerate(columns):
        values = {}
        for n in range(200):
            text = form.get(f"v-{i}-{n}-text")
            if text is None:
                break
            if form.get(f"v-{i}-{n}"):
                values[text] = form[f"v-{i}-{n}"]
        chosen.append(
            ColumnChoice(
                i,
                name,
                form.get(f"col-{i}") or None,
                values=MappingProxyType(values),
                otherwise=str(form.get(f"rest-{i}") or ""),
            )
        )
    lookups = {}
    for c in chosen:
        f = spec.field(c.field) if c.field else None
        if f is not None and types.lookup_target(f):
            lookups[f.key] = LookupRule(
                match_on=form.get(f"lk-{f.key}-on") or None,
                when_none=form.get(f"lk-{f.key}-none") or FAIL,
                when_several=form.get(f"lk-{f.key}-several") or FAIL,
            )
    mode = form.get("mode") or mapping_service.CREATE
    return Mapping(
        spec.key,
        tuple(chosen),
        MappingProxyType(lookups),
        mode=mode,
        match_on=form.get("match_on") or None,
        match_also=tuple(k for k in form.getlist("match_also") if k)[: mapping_service.MATCH_ALSO],
        duplicates=str(form.get("duplicates") or ""),
    )


@bp.route("/<key>/imports/<int:import_id>/mapping", methods=["GET", "POST"])
def import_mapping(key: str, import_id: int):
    """The mapping screen of a draft import (see the module's docstring)."""
    spec = _entity(key)
    imp = drafts.draft(current_user, spec, import_id)
    action = request.form.get("action") if request.method == "POST" else None
    errors: dict[str, list[str]] = {}
    message = None
    result = None
    status = 200
    if action == "reread":
        try:
            imp = drafts.reread(current_user, spec, imp.id, _settings(request.form))
        except UnreadableFile as exc:
            message, status = str(exc), 400
    try:
        with drafts.opened(imp) as source:
            columns = source.columns
            if request.method == "POST" and action != "reread":
                mapping = _posted(spec, columns, request.form)
            elif request.args.get("saved"):
                mapping = saved.apply_saved(
                    current_user, spec, as_id(request.args["saved"]), columns
                )
            else:
                mapping = _auto(spec, columns)
            samples = _samples(source)
            unknown = mapping_service.unknown_values(
                source, spec, mapping, profile=(imp.settings or {}).get("profile")
            )
            source_info = source
            notices = [str(n.message) for n in source.notices]
    except UnreadableFile as exc:
        page = render_template(
            "imports/list.html", spec=spec, imports=[], error=str(exc), statuses=_statuses()
        )
        return page, 400
    if action == "save":
        try:
            saved.save(current_user, spec, request.form.get("save_name", ""), mapping)
            message = _("The mapping was saved.")
        except DomainError as exc:
            errors = dict(exc.errors)
            message, status = exc.message, 400
    elif action in ("preview", "start"):
        try:
            if action == "start":
                started = drafts.start(current_user, spec, imp.id, mapping)
                flash(_("The import has started: follow it here, or come back later."))
                return redirect(url_for("jobs.job_page", job_id=started.job_id), code=303)
            result = drafts.preview(current_user, spec, imp, mapping)
        except DomainError as exc:
            errors = dict(exc.errors)
            message, status = exc.message, 400
    matches = {m.column: m for m in auto_match(current_user, spec, columns)}
    editable = policy.visible_fields(current_user, spec, "edit")
    page = render_template(
        "imports/mapping.html",
        spec=spec,
        imp=imp,
        source=source_info,
        notices=notices,
        columns=columns,
        mapping=mapping,
        matches=matches,
        samples=samples,
        unknown=unknown,
        shown_values=SHOWN_VALUES,
        fields=editable,
        lookup_fields=_lookup_fields(spec, mapping),
        owner=OWNER if policy.can(current_user, "assign", spec.key) else None,
        new_choice_fields=_new_choice_fields(spec),
        fits=saved.for_columns(current_user, spec, columns),
        modes=MODES,
        duplicate_rules=[(rule_name(r), r.blocks) for r in enabled_rules(spec.key) if r.on_create],
        encodings=ENCODINGS,
        delimiters=DELIMITERS,
        when_none=(EMPTY, FAIL),
        errors=errors,
        message=message,
        result=result,
    )
    return page, status


def _samples(source: Any, count: int = 3) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    seen = 0
    for row in source.rows():
        if not row.ok:
            continue
        for i, v in enumerate(row.values):
            if v not in (None, "") and len(out.setdefault(i, [])) < count:
                out[i].append(str(v)[:40])
        seen += 1
        if seen >= 20:
            break
    return out


def _new_choice_fields(spec: EntitySpec) -> frozenset[str]:
    """The picklists whose unknown values this user may add as new choices (administrators;
    not the choices a feature manages, such as pipeline stages)."""
    if not may_add_choices(current_user):
        return frozenset()
    return frozenset(
        f.key
        for f in spec.active_fields
        if types.get(f.type).has_choices and not types.get(f.type).managed
    )


def _lookup_fields(spec: EntitySpec, mapping: Mapping) -> list[tuple[Any, Any, LookupRule, bool]]:
    """Each mapped lookup field: the target's fields it may be found by, its rule, and
    whether this user may create the target's records (else "create it" is not offered)."""
    out = []
    for c in mapping.mapped:
        f = spec.field(c.field)
        if f is None or not types.lookup_target(f):
            continue
        target = specs.current().entity(types.lookup_target(f) or "")
        if target is None:
            continue
        rule = mapping.lookups.get(f.key) or LookupRule()
        may_create = policy.can(current_user, "create", target.key)
        out.append((f, match_fields(current_user, target), rule, may_create))
    return out


@bp.get("/<key>/imports/<int:import_id>/errors.csv")
def import_errors(key: str, import_id: int):
    """The rows the import could not import, as a CSV to fix and import again."""
    spec = _entity(key)
    imp = drafts.one(current_user, spec, import_id)
    out = io.StringIO()
    service.write_errors(imp.id, out, spec=spec)
    name = f"{spec.key}-import-{imp.id}-errors.csv"
    return Response(
        "\ufeff" + out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.post("/<key>/imports/<int:import_id>/undo")
def import_undo(key: str, import_id: int):
    """Undo an import; the list page then says what was undone and what was left."""
    spec = _entity(key)
    if request.form.get("confirm") != "yes":
        abort(400)
    try:
        done = service.undo(current_user, spec, import_id)
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        flash(exc.message, "error")
        return redirect(url_for("imports.import_list", key=spec.key), code=303)
    flash(
        _(
            "Undone: %(removed)s records sent to the recycle bin, %(restored)s given their "
            "values back, %(kept)s left as they are (changed since).",
            removed=format_number(done.removed),
            restored=format_number(done.restored),
            kept=format_number(len(done.kept)),
        )
    )
    if done.kept:
        lines = ", ".join(str(line) for _id, line in sorted(done.kept, key=lambda k: k[1])[:50])
        flash(_("Left as they are, changed since the import: the records of lines %(lines)s.",
                lines=lines))  # fmt: skip
    return redirect(url_for("imports.import_list", key=spec.key), code=303)


def register(app: Any) -> None:
    """Register the import screens."""
    app.register_blueprint(bp)


__all__ = ["bp", "register"]
