"""CSV import of 50,000 rows (target ≤ 15 s on the 2-core machine).

Usage: python benchmarks/bench_import.py [--rows 50000] [--database-url postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import database, generate_import_csv, write_config  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args(argv)

    from registration.app import create_app

    with database(args.database_url) as (folder, url):
        csv_path = folder / "import.csv"
        generate_import_csv(csv_path, args.rows)
        app = create_app(write_config(folder, url))
        runner = app.test_cli_runner()
        assert runner.invoke(args=["init-db"]).exit_code == 0
        started = time.perf_counter()
        dry = runner.invoke(args=["import", "--dry-run", str(csv_path)])
        dry_s = time.perf_counter() - started
        assert dry.exit_code == 0, dry.output[-2000:]
        started = time.perf_counter()
        result = runner.invoke(args=["import", str(csv_path)])
        real_s = time.perf_counter() - started
        assert result.exit_code == 0, result.output[-2000:]
        summary = [line for line in result.output.splitlines() if line.startswith("Imported")][0]
        backend = url.split(":", 1)[0]
        print(f"import {args.rows} rows on {backend}: dry run {dry_s:.2f} s, real run {real_s:.2f} s "
              f"({args.rows / real_s:,.0f} rows/s; target ≤ 15 s) — {summary}")
        with app.app_context():
            from registration.extensions import db

            db.engine.dispose()


if __name__ == "__main__":
    main()
