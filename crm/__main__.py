"""``python -m crm migrate``: upgrade the database without building the app first."""

from __future__ import annotations

import argparse
import sys

from crm import config, migrate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crm")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="upgrade the database (DATABASE_URL) to the newest revision")
    args = parser.parse_args(argv)
    if args.command == "migrate":
        url = config.database_url()
        migrate.upgrade(url)
        print(f"Database is at revision {migrate.head_revision()}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
