"""Run the whole test suite on SQLite, then on PostgreSQL when a server answers.

Used by ``make test`` and (through it) by ``.ci/run``. It says plainly what it skipped.
With ``CI=true`` (or ``ATELIER_REQUIRE_ALL=1``) nothing may be skipped: a missing
PostgreSQL or Chromium, or any skipped test, fails the run.

Environment: ``TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``) names a
server and a database to connect to; each run creates and drops its own fresh databases.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


def strict() -> bool:
    return (
        os.environ.get("CI", "").lower() == "true" or os.environ.get("ATELIER_REQUIRE_ALL") == "1"
    )


def postgres_url() -> str | None:
    url = os.environ.get("TEST_POSTGRES_URL", DEFAULT_PG)
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("select 1")
        return url
    except Exception as exc:  # noqa: BLE001 - any failure means "no server here"
        print(f"PostgreSQL at {url} did not answer ({type(exc).__name__}).")
        return None


def chromium() -> str | None:
    return shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )


def run_suite(label: str, env: dict[str, str], extra: list[str]) -> dict[str, int]:
    ARTIFACTS.mkdir(exist_ok=True)
    report = ARTIFACTS / f"junit-{label}.xml"
    workers = os.environ.get("TEST_WORKERS", "auto")
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", workers]
    cmd += [f"--junitxml={report}", *extra]
    print(f"\n=== Test suite on {label} ===", flush=True)
    code = subprocess.call(cmd, cwd=ROOT, env=env)  # noqa: S603 - our own fixed command
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0, "exit": code}
    if report.exists():
        suite = ET.parse(report).getroot()  # noqa: S314 - pytest's own report
        suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
        for key in ("tests", "failures", "errors", "skipped"):
            counts[key] = int(suite.get(key, 0))
    return counts


def main() -> int:
    extra = sys.argv[1:]
    base = dict(os.environ)
    skipped_parts: list[str] = []
    problems: list[str] = []

    browser = chromium()
    if browser:
        base["ATELIER_CHROMIUM"] = browser
    else:
        skipped_parts.append("browser tests (no Chromium: apt-get install chromium)")
        if strict():
            problems.append("Chromium is required in CI but was not found.")

    results = {}
    results["sqlite"] = run_suite("sqlite", {**base, "TEST_DATABASE": "sqlite"}, extra)

    pg = postgres_url()
    if pg:
        env = {**base, "TEST_DATABASE": "postgresql", "TEST_POSTGRES_URL": pg}
        results["postgresql"] = run_suite("postgresql", env, extra)
    else:
        skipped_parts.append("the PostgreSQL run (no server answered)")
        if strict():
            problems.append("PostgreSQL is required in CI but did not answer.")

    passed = failed = skipped = 0
    print("\n=== Summary ===")
    for label, c in results.items():
        bad = c["failures"] + c["errors"]
        ok = c["tests"] - bad - c["skipped"]
        passed, failed, skipped = passed + ok, failed + bad, skipped + c["skipped"]
        print(f"{label:>10}: {ok} passed, {bad} failed, {c['skipped']} skipped (exit {c['exit']})")
        if c["exit"] != 0:
            problems.append(f"The {label} run exited with {c['exit']}.")
        if strict() and c["skipped"]:
            problems.append(f"The {label} run skipped {c['skipped']} tests; CI allows none.")
    for part in skipped_parts:
        print(f"Skipped: {part}.")
    for problem in problems:
        print(f"FAILED: {problem}")
    print(f"total: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if problems or failed else 0


if __name__ == "__main__":
    sys.exit(main())
