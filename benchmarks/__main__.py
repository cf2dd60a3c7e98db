"""``python -m benchmarks [--quick] [--only NAME] [--store sqlite|mongo|both]
[--json OUT]``: measure the connector against the limits that bind it and
print one row per figure (value, target, met?).  See docs/benchmarks.md."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .harness import STORES, Sizes, print_table, write_json
from .suite import BENCHMARKS, run


def main(argv: Sequence[str] | None = None, sizes: Sizes | None = None) -> int:
    """Run from the command line; *sizes* replaces the chosen sizes (the
    harness's own test runs it tiny)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--quick", action="store_true", help="small sizes, seconds")
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(BENCHMARKS),
        metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument("--store", choices=("sqlite", "mongo", "both"), default="both")
    parser.add_argument("--json", type=Path, metavar="OUT", help="write figures here")
    args = parser.parse_args(argv)

    sizes = sizes or (Sizes.quick() if args.quick else Sizes.full())
    kinds = STORES if args.store == "both" else (args.store,)
    figures = run(args.only or list(BENCHMARKS), kinds, sizes)
    print_table(figures)
    if args.json:
        write_json(figures, args.json, sizes)
    return 0 if all(f.met for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
