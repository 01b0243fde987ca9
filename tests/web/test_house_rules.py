"""The house rules of ARCHITECTURE.md §5 and §6, checked on the source (an AST scan of crm/,
forms/ and app.py, and a text scan of templates/), so that breaking one fails a test:

- views run no SQL: no view module imports SQLAlchemy or ``db``, touches ``db.session``, or
  commits / rolls back (services own the transaction);
- only ``crm/web/htmx.py`` reads htmx request headers or sets htmx response headers;
- only ``crm/web/templating.py`` registers template globals, filters or context processors;
- no module imports another module's private names (``_name``).

Each rule's checker is also run on a planted violation, so a checker that silently finds
nothing cannot pass for a clean tree.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HTMX_MODULE = "crm/web/htmx.py"
TEMPLATING_MODULE = "crm/web/templating.py"
OUR_PACKAGES = ("crm", "forms")

Checker = Callable[[str, ast.Module], list[str]]


def sources() -> list[str]:
    """Every Python module of the application, as a path relative to the repository."""
    found = [p for pkg in OUR_PACKAGES for p in (ROOT / pkg).rglob("*.py")]
    return sorted(str(p.relative_to(ROOT)) for p in [*found, ROOT / "app.py"])


def parse(rel: str) -> ast.Module:
    return ast.parse((ROOT / rel).read_text(encoding="utf-8"), filename=rel)


def is_view_module(rel: str, tree: ast.Module) -> bool:
    """Views: ``views*.py`` and ``views/`` packages, the designer and web packages, and any
    module that makes a blueprint."""
    parts = Path(rel).parts
    if Path(rel).name.startswith("views") or "views" in parts[:-1]:
        return True
    if parts[:2] in (("crm", "designer"), ("crm", "web")):
        return True
    return any(
        isinstance(n, ast.Call) and getattr(n.func, "id", None) == "Blueprint"
        for n in ast.walk(tree)
    )


def docstrings(tree: ast.Module) -> set[int]:
    """ids of the string constants that are docstrings (they may name headers freely)."""
    out = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                out.add(id(value))
    return out


def private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def ours(module: str | None) -> bool:
    return bool(module) and module.split(".")[0] in OUR_PACKAGES


def is_our_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


# --- the checkers -----------------------------------------------------------------------------


def sql_in_view(rel: str, tree: ast.Module) -> list[str]:
    """SQLAlchemy, ``db``, ``db.session``, commits and rollbacks in a view module."""
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            problems += [f"imports {a.name}" for a in node.names if a.name.startswith("sqlalchemy")]
        elif isinstance(node, ast.ImportFrom):
            if (node.module or "").startswith("sqlalchemy"):
                problems.append(f"imports from {node.module}")
            if node.module == "crm.extensions" and any(a.name == "db" for a in node.names):
                problems.append("imports db")
        elif isinstance(node, ast.Attribute):
            if node.attr == "session" and getattr(node.value, "id", None) == "db":
                problems.append("uses db.session")
            if node.attr in ("commit", "rollback"):
                problems.append(f"calls .{node.attr}()")
    return [f"{rel}:{p}" for p in problems]


def htmx_header(rel: str, tree: ast.Module) -> list[str]:
    """An ``HX-...`` header named (to read or to set it), or ``request.htmx`` read."""
    skip = docstrings(tree)
    problems = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in skip
            and node.value.lower().startswith("hx-")
        ):
            problems.append(f"{rel}:{node.lineno}: names the header {node.value!r}")
        elif (
            isinstance(node, ast.Attribute)
            and node.attr == "htmx"
            and getattr(node.value, "id", None) == "request"
        ):
            problems.append(f"{rel}:{node.lineno}: reads request.htmx")
    return problems


REGISTERING = frozenset(
    {
        "app_template_global",
        "app_template_filter",
        "app_template_test",
        "app_context_processor",
        "template_global",
        "template_filter",
        "template_test",
        "context_processor",
        "add_template_global",
        "add_template_filter",
        "add_template_test",
        "add_app_template_global",
        "add_app_template_filter",
        "add_app_template_test",
    }
)


def template_registration(rel: str, tree: ast.Module) -> list[str]:
    """Flask's registration decorators and methods, or ``jinja_env.globals / filters /
    tests`` touched."""
    problems = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        if node.attr in REGISTERING:
            problems.append(f"{rel}:{node.lineno}: .{node.attr}")
        elif (
            node.attr in ("globals", "filters", "tests")
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "jinja_env"
        ):
            problems.append(f"{rel}:{node.lineno}: jinja_env.{node.attr}")
    return problems


def private_import(rel: str, tree: ast.Module) -> list[str]:
    """A private name of one of our modules imported (``from crm.x import _y``, ``import
    crm._x``) or reached through an imported module (``import crm.x as m ... m._y``)."""
    problems = []
    modules: set[str] = set()  # local names bound to our modules
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level or ours(node.module)):
            module = node.module or ""
            if any(private(part) for part in module.split(".")):
                problems.append(f"{rel}:{node.lineno}: imports from {module}")
            for alias in node.names:
                if private(alias.name):
                    problems.append(f"{rel}:{node.lineno}: imports {alias.name} from {module}")
                elif node.level == 0 and is_our_module(f"{module}.{alias.name}"):
                    modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if not ours(alias.name):
                    continue
                if any(private(part) for part in alias.name.split(".")):
                    problems.append(f"{rel}:{node.lineno}: imports {alias.name}")
                modules.add(alias.asname or alias.name.split(".")[0])
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and private(node.attr)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
        ):
            problems.append(f"{rel}:{node.lineno}: uses {node.value.id}.{node.attr}")
    return problems


# --- the rules on the tree --------------------------------------------------------------------


def test_the_scan_sees_the_application():
    found = sources()
    assert "crm/records/views/pages.py" in found and "forms/records.py" in found
    views = [rel for rel in found if is_view_module(rel, parse(rel))]
    for expected in (
        "crm/records/views/pages.py",
        "crm/records/views/__init__.py",
        "crm/designer/views_changes.py",
        "crm/access/views_departments.py",
        "crm/access/__init__.py",
        "crm/auth/views.py",
        "crm/web/errors.py",
    ):
        assert expected in views
    assert "crm/records/service.py" not in views


def test_views_run_no_sql_and_no_transactions():
    problems = [p for rel in sources() if is_view_module(rel, tree := parse(rel)) for p in
                sql_in_view(rel, tree)]  # fmt: skip
    assert problems == []


def test_only_the_htmx_module_touches_htmx_headers():
    problems = [p for rel in sources() if rel != HTMX_MODULE for p in htmx_header(rel, parse(rel))]
    assert problems == []


def test_templates_read_no_request_headers():
    pattern = re.compile(r"request\.(headers|htmx)")
    problems = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "templates").rglob("*.html")
        if pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert problems == []


def test_only_the_templating_module_registers_template_names():
    problems = [
        p
        for rel in sources()
        if rel != TEMPLATING_MODULE
        for p in template_registration(rel, parse(rel))
    ]
    assert problems == []


def test_no_private_name_is_imported_across_modules():
    problems = [p for rel in sources() for p in private_import(rel, parse(rel))]
    assert problems == []


# --- each checker finds what it is for --------------------------------------------------------

PLANTED = [
    (sql_in_view, "from sqlalchemy import select\n"),
    (sql_in_view, "import sqlalchemy as sa\n"),
    (sql_in_view, "from crm.extensions import db\n"),
    (sql_in_view, "def v():\n    return db.session.get(1, 2)\n"),
    (sql_in_view, "def v(s):\n    s.commit()\n"),
    (htmx_header, "def v(request):\n    return request.headers.get('HX-Target')\n"),
    (htmx_header, "def v(r):\n    r.headers['HX-Location'] = '{}'\n"),
    (htmx_header, "def v(request):\n    return request.htmx.target\n"),
    (template_registration, "@bp.app_template_global('x')\ndef x():\n    pass\n"),
    (template_registration, "@app.context_processor\ndef x():\n    return {}\n"),
    (template_registration, "def r(app):\n    app.jinja_env.globals['x'] = 1\n"),
    (private_import, "from crm.records.service import _secret\n"),
    (private_import, "from crm.records import service\nservice._secret()\n"),
    (private_import, "import crm.records.service as s\ns._secret()\n"),
    (private_import, "from . import _helpers\n"),
]


@pytest.mark.parametrize(("check", "source"), PLANTED)
def test_each_checker_finds_a_planted_violation(check: Checker, source: str):
    assert check("planted.py", ast.parse(source)) != []


CLEAN = [
    (sql_in_view, "from crm.records import lookup\n"),
    (
        htmx_header,
        '"""Answers with ``HX-Location`` for htmx."""\nfrom crm.web.htmx import location\n',
    ),
    (template_registration, "def r(app):\n    return app.jinja_env.from_string('x')\n"),
    (private_import, "class F:\n    def f(self, form):\n        return self._x, form._fields\n"),
]


@pytest.mark.parametrize(("check", "source"), CLEAN)
def test_checkers_leave_clean_code_alone(check: Checker, source: str):
    assert check("clean.py", ast.parse(source)) == []
