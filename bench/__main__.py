"""Run benchmarks: ``python -m bench`` (all) or ``python -m bench schema``."""

from __future__ import annotations

import sys

from bench import (
    bench_automation,
    board_bench,
    dedupe_bench,
    home_bench,
    i18n_bench,
    import_bench,
    import_read_bench,
    list_bench,
    load_bench,
    package_bench,
    pool_bench,
    report_bench,
    schema_bench,
    search_bench,
)

BENCHES = {
    "schema": schema_bench.main,
    "search": search_bench.main,
    "list": list_bench.main,
    "load": load_bench.main,
    "i18n": i18n_bench.main,
    "board": board_bench.main,
    "package": package_bench.main,
    "import_read": import_read_bench.main,
    "import": import_bench.main,
    "automation": bench_automation.main,
    "dedupe": dedupe_bench.main,
    "home": home_bench.main,
    "pool": pool_bench.main,
    "report": report_bench.main,
}


def main(argv: list[str]) -> int:
    names = argv or list(BENCHES)
    for name in names:
        BENCHES[name]()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
