"""Reading and parsing import files (issue 16): rows per second and peak memory.

- ``read``: ``crm.imports.read`` streaming a generated CSV of ``BENCH_IMPORT_ROWS``
  (default 100,000) rows × 15 columns with the mess people's files have (a BOM and CRLF,
  quoted commas and ``""`` escapes, no-break spaces, ``m/d/yyyy`` dates, ``yyyymmdd``,
  numbers with thousands separators and currency signs, Yes/No, NULL, a lone space,
  codes with leading zeros);
- ``read_parse``: the same rows read and every cell parsed for its field through the
  type registry (``crm.imports.values.parse_row``: 15 fields of 9 types);
- ``xlsx`` (``BENCH_IMPORT_XLSX=1``): the same rows as an XLSX workbook, read;
- ``memory``: a child process reads (and parses) a file of ``BENCH_IMPORT_BIG_ROWS``
  (default 1,000,000) rows and reports its peak resident memory (``ru_maxrss``) beside
  its resident memory before reading (the interpreter, Flask, SQLAlchemy, Babel...).

Rows per second by wall clock and CPU (``time.process_time``) of this process; no
database is involved (writing rows through the record service is the run's benchmark,
which comes with the import runs). Results in ``bench/results/import_read.json``.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import save

ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "100000"))
BIG_ROWS = int(os.environ.get("BENCH_IMPORT_BIG_ROWS", "1000000"))
HEADER = [
    "Code", "Company", "Contact", "City", "Address", "Joined", "Born", "Revenue",
    "Employees", "Discount", "Active", "Segment", "Phone", "Email", "Notes",
]  # fmt: skip
_CITIES = ["México D.F.", "São Paulo", "Köln", "成都", "Madrid", "Boston", "Marseille"]
_SEGMENTS = ["Consumer", "Corporate", "Home Office"]


def line(i: int, rnd: random.Random) -> str:
    """One messy CSV line (CRLF)."""
    revenue = f'"{rnd.randint(0, 9_999_999):,}.{rnd.randint(0, 99):02d}"'
    notes = rnd.choice(['"Bretford 60"" table, oak"', "NULL", "", "plain note"])
    cells = [
        f"{i % 100000:05d}",
        f"Company\u00a0{i}",
        rnd.choice(["Ann Lee", "新 希 望", "José Núñez", "Frédérique Citeaux"]),
        rnd.choice(_CITIES),
        f'"{rnd.randint(1, 999)} Main St, Apt {rnd.randint(1, 99)}"',
        f"{rnd.randint(1, 12)}/{rnd.randint(1, 28)}/{rnd.randint(2000, 2024)}",
        f"{rnd.randint(1950, 2004)}{rnd.randint(1, 12):02d}{rnd.randint(1, 28):02d}",
        revenue,
        rnd.choice([str(rnd.randint(1, 5000)), " "]),
        f"{rnd.randint(0, 50)}.{rnd.randint(0, 9)}%",
        rnd.choice(["Yes", "No", "1", "0"]),
        rnd.choice(_SEGMENTS),
        f"+1-{rnd.randint(200, 999)}-555-{rnd.randint(1000, 9999)}",
        f"user{i}@example.com",
        notes,
    ]
    return ",".join(cells) + "\r\n"


def write_csv(path: Path, rows: int) -> None:
    rnd = random.Random(16)
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        f.write(",".join(HEADER) + "\r\n")
        for i in range(rows):
            f.write(line(i, rnd))


def columns():
    """The 15 fields the columns are read into (text, picklist, date, decimal, integer,
    percent, boolean, phone, email, long text)."""
    from crm.imports.values import ColumnMap
    from crm.metadata.spec import Choice, FieldSpec

    def f(key: str, type_key: str, **options):
        return FieldSpec(key=key, type=type_key, label=key, options=options)

    segment = FieldSpec(
        key="segment",
        type="picklist",
        label="Segment",
        choices=tuple(Choice(s.lower().replace(" ", "_"), s) for s in _SEGMENTS),
    )
    specs = [
        f("code", "text"), f("company", "text"), f("contact", "text"), f("city", "text"),
        f("address", "text"), f("joined", "date"), f("born", "date"),
        f("revenue", "currency", currency="USD", decimal_places=2),
        f("employees", "integer"), f("discount", "percent", decimal_places=1),
        f("active", "boolean"), segment, f("phone", "phone"), f("email", "email"),
        f("notes", "long_text"),
    ]  # fmt: skip
    return [ColumnMap(i, s) for i, s in enumerate(specs)]


def time_rows(path: Path, parse: bool) -> dict:
    from crm.imports.read import Limits, open_source
    from crm.imports.values import parse_row

    cols = columns()
    wall, cpu = time.perf_counter(), time.process_time()
    source = open_source(path, path.name, limits=Limits(max_bytes=2**31))
    good = problems = 0
    for row in source.rows():
        if not row.ok:
            continue
        if parse:
            parsed = parse_row(cols, row.values)
            problems += len(parsed.problems)
        good += 1
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "rows": good,
        "bad_rows": source.counts.bad,
        "value_problems": problems,
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "rows_per_s_wall": round(good / wall),
        "rows_per_s_cpu": round(good / cpu),
    }


def write_xlsx(csv_path: Path, path: Path) -> None:
    import csv

    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Data")
    with open(csv_path, encoding="utf-8-sig", newline="") as f:
        for rec in csv.reader(f):
            ws.append(rec)
    wb.save(path)


_CHILD = """
import resource, sys, time
from crm.imports.read import Limits, open_source
from crm.imports.values import parse_row
from bench.import_read_bench import columns
cols = columns()
parse = sys.argv[2] == "parse"
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
source = open_source(sys.argv[1], "big.csv", limits=Limits(max_bytes=2**31))
n = 0
for row in source.rows():
    if row.ok and parse:
        parse_row(cols, row.values)
    n += 1
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(n, before, peak, time.perf_counter() - start)
"""


def memory(path: Path, parse: bool) -> dict:
    """Peak RSS of a child process reading (and parsing) the whole file."""
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), "parse" if parse else "read"],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    ).stdout.split()
    rows, before, peak, wall = int(out[0]), int(out[1]), int(out[2]), float(out[3])
    return {
        "rows": rows,
        "rss_before_mb": round(before / 1024, 1),
        "peak_rss_mb": round(peak / 1024, 1),
        "growth_mb": round((peak - before) / 1024, 1),
        "wall_s": round(wall, 1),
    }


def main() -> None:
    results: dict = {"rows": ROWS, "columns": len(HEADER)}
    with tempfile.TemporaryDirectory(prefix="import-bench-") as tmp:
        small = Path(tmp) / "rows.csv"
        write_csv(small, ROWS)
        results["file_mb"] = round(small.stat().st_size / 2**20, 1)
        results["read"] = time_rows(small, parse=False)
        print("read", results["read"])
        results["read_parse"] = time_rows(small, parse=True)
        print("read + parse", results["read_parse"])
        if os.environ.get("BENCH_IMPORT_XLSX", "") not in ("", "0"):
            book = Path(tmp) / "rows.xlsx"
            write_xlsx(small, book)
            results["xlsx"] = {"file_mb": round(book.stat().st_size / 2**20, 1)}
            results["xlsx"].update(time_rows(book, parse=False))
            print("xlsx read", results["xlsx"])
        small.unlink()
        big = Path(tmp) / "big.csv"
        write_csv(big, BIG_ROWS)
        results["big_rows"] = BIG_ROWS
        results["big_file_mb"] = round(big.stat().st_size / 2**20, 1)
        results["memory_read"] = memory(big, parse=False)
        print("memory, read", results["memory_read"])
        results["memory_read_parse"] = memory(big, parse=True)
        print("memory, read + parse", results["memory_read_parse"])
    print("saved", save("import_read", results))
