"""The route table of the authorization matrix: every route of the app with the methods the
matrix sends it and the probes that exercise it; the administration areas' gate probe; the
routes that need no right (``PUBLIC``, with the reason).

``tests/authz/test_routes.py`` fails when a route of ``app.url_map`` is in neither."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from tests.authz import oracle
from tests.authz.harness import Run
from tests.authz.probes_approvals import probe_approvals
from tests.authz.probes_boards import probe_board, probe_move
from tests.authz.probes_dedupe import (
    probe_duplicates,
    probe_find_again,
    probe_merge,
    probe_merge_page,
    probe_merge_undo,
)
from tests.authz.probes_imports import probe_imports
from tests.authz.probes_lists import (
    probe_bin,
    probe_bulk,
    probe_bulk_input,
    probe_count,
    probe_duplicate_warning,
    probe_export,
    probe_filters,
    probe_home_entity,
    probe_list,
    probe_lookup,
    probe_new,
    probe_save_view,
    probe_validate,
)
from tests.authz.probes_pools import (
    probe_claim,
    probe_pool_claim_many,
    probe_pool_list,
    probe_pool_return,
)
from tests.authz.probes_records import (
    probe_access_panel,
    probe_binned,
    probe_delete,
    probe_edit,
    probe_inline,
    probe_note,
    probe_record_page,
    probe_related,
    probe_restore_purge,
    probe_sharing,
    probe_stage_move,
)
from tests.authz.probes_reports import probe_reports
from tests.authz.probes_tasks import probe_activity_log, probe_task_add, probe_task_state
from tests.authz.probes_webhooks import webhook_rows
from tests.authz.world import World

# --- the administration areas: one right each, checked before anything else ---------------


def admin_sample(world: World, name: str):
    """A value for a URL argument of an administration route: something that exists."""
    real = {
        "key": "account",
        "entity_key": "account",
        "field_key": "memo",
        "view_id": world.views["account"],
        "department_id": world.dept_id("B"),
        "role_id": world.role_ids["clerk"],
        "user_id": world.user_id("spare"),
        # the world has no pipeline: the gate answers before the route looks for one
        "pipeline_key": "sales",
        "rule_id": world.rule_id,
        # the world has no pool either: the gate answers before the route looks for one
        "pool_id": 1,
        # the world has no API token: the gate answers before the route looks for one
        "token_id": 1,
    }
    if name in ("delivery_id", "host_id"):
        delivery_id, host_id = webhook_rows()
        return delivery_id if name == "delivery_id" else host_id
    return real[name]


MISSING = {
    "key": "nosuchentity",
    "entity_key": "nosuchentity",
    "field_key": "nosuchfield",
    "view_id": 999999,
    "department_id": 999999,
    "role_id": 999999,
    "user_id": 999999,
    "pipeline_key": "nosuchpipeline",
    "delivery_id": 999999,
    "host_id": 999999,
    "rule_id": 999999,
    "pool_id": 999999,
    "token_id": 999999,
}


def probe_gate(run: Run, endpoint: str, rule, right: str) -> None:
    """An administration route: 403 without the right (and nothing changed), never 403 with
    it. With the right, writes go to things that do not exist (404) or carry empty forms."""
    a, w = run.actor, run.world
    gate = oracle.may_configure(a) if right == "configure" else oracle.may_manage_access(a)
    for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
        write = method == "POST"
        allowed = oracle.is_admin(a) if (write and endpoint in FULL_ADMIN_ONLY) else gate
        # with the right, writes go to things that do not exist, so nothing is changed;
        # without it, to real ones: only the gate stands between them and a change
        values = {
            n: (MISSING[n] if (write and allowed) else admin_sample(w, n)) for n in rule.arguments
        }
        url = build(rule, values)
        before = w.admin_state()
        r = run.post(url, {}) if write else run.get(url)
        status = r.status_code
        changed = w.admin_state() != before
        if allowed:
            observed = None if (status >= 500 or (write and changed)) else status != 403
        else:
            observed = False if (status == 403 and not changed) else None if changed else True
        run.case(
            f"{endpoint}[{method}]",
            "-",
            right,
            allowed,
            observed,
            f"(HTTP {status}{', changed stored data' if changed else ''})",
        )
        if changed:  # nothing to undo it with: stop here, the report names the route
            raise AssertionError(f"{a}: {method} {url} changed users, roles or metadata")


def build(rule, values: dict) -> str:
    url = rule.rule
    for name in rule.arguments:
        url = re.sub(rf"<(?:[a-z]+(?:\([^)]*\))?:)?{name}>", str(values[name]), url)
    return url


# --- the route table ------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    methods: frozenset[str]
    probes: tuple[Callable, ...] = ()  # probe(run, entity) for runtime routes
    right: str | None = None  # "configure" / "manage_access" for administration routes
    note: str = ""


def _r(methods: str, *probes: Callable, note: str = "") -> Route:
    return Route(frozenset(methods.split()), probes, note=note)


# Routes that need more than their blueprint's right: only full administrators change the
# department tree (access managers see it), crm/access/departments.py.
FULL_ADMIN_ONLY = {
    "access.department_new",
    "access.department_save",
    "access.department_move",
    "access.department_delete",
}

RECORD_ROUTES: dict[str, Route] = {
    "records.record_list": _r("GET", probe_list, note="page, results, rows, more, search"),
    "records.record_count": _r("GET", probe_count),
    "records.record_export": _r("GET", probe_export, note="csv and xlsx"),
    "records.lookup": _r("GET", probe_lookup),
    "records.recycle_bin": _r("GET", probe_bin),
    "records.bulk_input": _r("GET", probe_bulk_input),
    "records.save_view": _r("POST", probe_save_view),
    "records.record_new": _r("GET POST", probe_new, note="page, quick, lookups per position"),
    "records.validate_field": _r("POST", probe_validate),
    "records.duplicates": _r("POST", probe_duplicate_warning),
    "records.record_page": _r("GET", probe_record_page, probe_binned),
    "records.related_list": _r("GET", probe_related),
    "records.field_value": _r("GET", probe_inline),
    "records.field_edit": _r("GET", probe_inline),
    "records.field_save": _r("POST", probe_inline),
    "records.record_edit": _r("GET POST", probe_edit),
    "records.stage_move": _r("GET POST", probe_stage_move, note="stage path, gate form"),
    "records.note_add": _r("POST", probe_note),
    "records.record_delete": _r("POST", probe_delete),
    "records.record_restore": _r("POST", probe_restore_purge),
    "records.record_purge": _r("POST", probe_restore_purge),
    "records.bulk_edit": _r("POST", probe_bulk),
    "records.bulk_assign": _r("POST", probe_bulk),
    "records.bulk_delete": _r("POST", probe_bulk),
    "records.sharing_panel": _r("GET", probe_sharing),
    "records.share_add": _r("POST", probe_sharing),
    "records.share_remove": _r("POST", probe_sharing),
    "records.owner_transfer": _r("POST", probe_sharing),
    "records.access_panel": _r("GET", probe_access_panel),
    "records.filter_builder": _r("GET", probe_filters),
    "records.filter_input": _r("GET", probe_filters),
    "records.filter_apply": _r("GET", probe_filters),
    "pipelines.board": _r("GET", probe_board, note="cards, sums; no pipeline: none"),
    "pipelines.column_more": _r("GET", probe_board),
    "pipelines.move": _r("POST", probe_move),
    # The import screens (issue 16): the import right and reading the entity.
    "imports.import_list": _r("GET POST", probe_imports, note="list; upload keeps a draft"),
    "imports.import_mapping": _r("GET POST", probe_imports),
    "imports.import_errors": _r("GET", probe_imports),
    "imports.import_undo": _r("POST", probe_imports),
    # Tasks and activities (issue 17): the edit right on their record.
    "activities.task_add": _r("POST", probe_task_add),
    "activities.activity_log": _r("POST", probe_activity_log),
    "activities.task_done": _r("POST", probe_task_state, note="the actor's task on the record"),
    "activities.task_reopen": _r("POST", probe_task_state),
    "activities.task_edit": _r("POST", probe_task_state),
    "activities.task_delete": _r("POST", probe_task_state),
    # Approval requests (issue 17): those one takes part in (asked, approves) and, for
    # administrators, all; an approver decides without reading the record.
    "approvals.inbox": _r("GET", probe_approvals),
    "approvals.request_page": _r("GET", probe_approvals, note="approver, asker or admin"),
    "approvals.approve": _r("POST", probe_approvals, note="current step's approver or admin"),
    "approvals.reject": _r("POST", probe_approvals),
    # Customer pools (issue 18): the world has none, so every claim, pool list and return
    # is refused and changes nothing (tests/authz/probes_pools.py; tests/pools for the rest).
    "pools.claim": _r("POST", probe_claim),
    "pools.pool_list": _r("GET", probe_pool_list),
    "pools.return_records": _r("POST", probe_pool_return),
    # Duplicates and merge (issue 18): the edit right on the entity; a merge the edit right
    # on every record and the delete right on those merged away (tests/dedupe/test_merge*).
    "dedupe.duplicates": _r("GET", probe_duplicates),
    "dedupe.find_again": _r("POST", probe_find_again),
    "dedupe.merge_page": _r("GET", probe_merge_page),
    "dedupe.merge_submit": _r("POST", probe_merge),
    "dedupe.merge_undo": _r("POST", probe_merge_undo),
    "pools.claim_many": _r("POST", probe_pool_claim_many),
    # The home page's per-entity block (count and recent records): a runtime read route.
    "web.home_entity": _r("GET", probe_home_entity),
    # Reports (issue 19): counts and sums of the records one may read; an entity one may
    # not read is a 404, a hidden field a 400 (tests/authz/probes_reports.py).
    "reports.builder": _r("GET", probe_reports, note="scope and field rights"),
    "reports.export_csv": _r("GET", probe_reports),
    "reports.export_xlsx": _r("GET", probe_reports),
}
OTHER_ROUTES: dict[str, Route] = {
    "web.home": _r("GET", note="nav shows readable entities"),
    # The home page's blocks (issue 19): one's own tasks, records, notifications through
    # the scoped query layer; "team" only with a department scope, "health" only with the
    # configure right, else 404 (tests/analytics/test_home_blocks.py).
    "web.home_block": _r("GET", note="own figures in scope; team/health by right, else 404"),
    # A background job's page: its creator or an administrator; anyone else a 404
    # (tests/jobs/test_page.py).
    "jobs.job_page": _r("GET", note="creator or administrator, else 404"),
    "jobs.job_list_page": _r("GET", note="own jobs; an administrator every job"),
    # The go-live checklist and its pack upload: full administrators only
    # (tests/authz/probes_golive.py, tests/golive/test_views.py).
    "golive.checklist": _r("GET POST", note="full administrators only"),
    "golive.errors": _r("GET", note="full administrators only"),
    # One's own open tasks on the records one may read (tests/authz/probes_tasks.py).
    "activities.my_tasks": _r("GET", note="own tasks on readable live records"),
    # Trying an automation rule on a record: the configure right, then only records one
    # may read (tests/authz/probes_automation.py).
    "automation_try.try_rule": _r("GET POST", note="configure right; readable records only"),
    # One's own notifications and e-mail choices; another's notification is a 404
    # (tests/authz/probes_notifications.py).
    "notifications.bell_page": _r("GET", note="own notifications only"),
    "notifications.mark_read": _r("POST", note="own, else 404"),
    "notifications.mark_all_read": _r("POST", note="own only"),
    "notifications.open_one": _r("GET", note="own, else 404; marks read, to the record"),
    "notifications.email_choices": _r("GET POST", note="own e-mail choices"),
    # The e-mail outbox: full administrators only (bodies were written for their readers).
    "mail.outbox": _r("GET", note="full administrators only"),
    "mail.outbox_message": _r("GET", note="full administrators only"),
    # Pipeline analytics, forecast, targets and dashboards (issue 19): figures count only
    # the records the viewer reads (scoped queries); targets only for people in the
    # manager's reach; a dashboard is its owner's or its role's, else 404
    # (tests/analytics/test_pages.py, test_figures.py).
    "analytics.index": _r("GET", note="to the first readable pipeline"),
    "analytics.pipeline_page": _r("GET", note="entity read right; scoped figures"),
    "analytics.forecast_page": _r("GET", note="entity read right; scoped figures"),
    "analytics.targets_page": _r("GET POST", note="managers, for people in their reach"),
    "analytics.dashboard_list": _r("GET POST", note="own; a role's only with configure"),
    "analytics.dashboard_page": _r("GET", note="own or one's role's, else 404"),
    "analytics.tile_add": _r("POST", note="owner; a role's with configure"),
    "analytics.tile_delete": _r("POST", note="owner; a role's with configure"),
    "analytics.tile_order": _r("POST", note="owner; a role's with configure"),
    "analytics.tile_body": _r("GET", note="visible dashboard; viewer's own scope"),
    # Saved reports: one's own and those shared with one's roles; anything else a 404;
    # only the owner saves over or deletes one (tests/reports/test_views.py).
    "reports.report_list": _r("GET", note="own and shared with one's roles"),
    "reports.open_report": _r("GET", note="owner or a role it is shared with, else 404"),
    "reports.save_report": _r("POST", note="own new report, or over one's own, else 404"),
    "reports.delete_report": _r("POST", note="owner only, else 404"),
    # Personal API tokens (issue 20): one's own only; another's token is a 404
    # (tests/api/test_tokens.py).
    "api_tokens.token_list": _r("GET POST", note="own tokens; creates for oneself only"),
    "api_tokens.token_revoke": _r("POST", note="own token, else 404"),
    # The API authenticates by bearer token only (a session cookie is 401), so the matrix's
    # signed-in clients cannot drive it: tests/api/test_api.py covers the token acting as
    # its person (policy, scopes, hidden fields absent), read-only and entity limits.
    "api.me": _r("GET", note="token only (cookie: 401); tests/api"),
    "api.entities": _r("GET", note="token only; readable entities, visible fields; tests/api"),
    "reports.add_to_dashboard": _r(
        "POST", note="a report one may open, onto a dashboard one may change; else 404/403"
    ),
}
# Routes that need no data right: signing in and out, first-run setup, one's own password,
# accepting an invitation, the health check, static files.
PUBLIC = {
    "static": "static files",
    "auth.login": "signing in (public)",
    "auth.logout": "signing out (any signed-in user)",
    "auth.setup": "first-run setup, refused once an administrator exists",
    "auth.change_password": "one's own password (any signed-in user)",
    "auth.preferences": "one's own language and time zone (any signed-in user)",
    "web.healthz": "health check (public)",
    "invite.accept": "accepting an invitation with a one-time token (public)",
}
# The webhook screens (issue 17) sit in the configuration area: the gate probes them, and
# tests/authz/probes_webhooks.py writes to real rows with and without the right.
ADMIN_BLUEPRINTS = {
    "designer": "configure",
    "access": "manage_access",
    "webhooks": "configure",
    "approvals_admin": "configure",
    "mail_settings": "configure",
    "pools_admin": "configure",
    # The adoption evaluation (issue 19): about people, so the access managers' right.
    "adoption": "manage_access",
    # Every person's API tokens with revoke (issue 20): the access managers' right.
    "api_tokens_admin": "manage_access",
}


def route_table(app) -> dict[str, Route]:
    """Every route the matrix covers: the runtime routes above, and each administration
    route of ``app`` under the right its blueprint demands."""
    table = {**RECORD_ROUTES, **OTHER_ROUTES}
    for rule in app.url_map.iter_rules():
        blueprint = rule.endpoint.split(".")[0]
        if blueprint in ADMIN_BLUEPRINTS:
            table[rule.endpoint] = Route(
                frozenset(rule.methods - {"HEAD", "OPTIONS"}), right=ADMIN_BLUEPRINTS[blueprint]
            )
    return table
