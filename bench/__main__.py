"""Run every benchmark and print one table; ``--write`` also updates bench/RESULTS.md.

The machine is shared and noisy: each comparison runs its contenders
alternately in the same run, several rounds, and reports the median and the
spread, and the ratio of medians.
"""

from __future__ import annotations

import argparse
import datetime
import os
import pathlib
import platform
import statistics
import sys
import tempfile

from bench import devcloud, front_door, instances, metadata, resources, serve_workers, vpcs, workers

HERE = pathlib.Path(__file__).resolve().parent


def summarize(samples: list[float]) -> str:
    median = statistics.median(samples)
    spread = (max(samples) - min(samples)) / median * 100 if median else 0.0
    return f"{median:,.0f} (±{spread / 2:.0f}%)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--only", action="append",
                        choices=("front_door", "devcloud", "metadata", "instances", "resources", "workers",
                                 "serve_workers", "vpcs"),
                        help="run only this benchmark (repeatable)")
    parser.add_argument("--write", action="store_true", help="write the table into bench/RESULTS.md")
    args = parser.parse_args(argv)
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        suites = {
            "front_door": lambda: front_door.run(pathlib.Path(tmp) / "front_door", args.rounds, args.seconds),
            "devcloud": lambda: devcloud.run(pathlib.Path(tmp) / "devcloud", args.rounds),
            "metadata": lambda: metadata.run(pathlib.Path(tmp) / "metadata", args.rounds, args.seconds),
            "instances": lambda: instances.run(pathlib.Path(tmp) / "instances", args.rounds),
            "resources": lambda: resources.run(pathlib.Path(tmp) / "resources", args.rounds),
            "workers": lambda: workers.run(pathlib.Path(tmp) / "workers", args.rounds, args.seconds),
            "serve_workers": lambda: serve_workers.run(pathlib.Path(tmp) / "serve_workers", args.rounds, args.seconds),
            "vpcs": lambda: vpcs.run(pathlib.Path(tmp) / "vpcs", args.rounds),
        }
        for name, suite in suites.items():
            if not args.only or name in args.only:
                rows += suite()
    width = max(len(row[0]) for row in rows)
    table = [f"| {'benchmark'.ljust(width)} | figure | note |", f"|{'-' * (width + 2)}|---|---|"]
    table += [f"| {name.ljust(width)} | {figure} | {note} |" for name, figure, note in rows]
    print("\n".join(table))
    if args.write:
        command = "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:])
        header = (
            f"# Benchmark results\n\nDate: {datetime.date.today()}  \n"
            f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}  \n"
            f"Command: `{command.strip()}`\n\n"
        )
        (HERE / "RESULTS.md").write_text(header + "\n".join(table) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
