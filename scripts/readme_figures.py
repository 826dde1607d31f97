"""Rewrite README.md's figure tables from the last evaluation (eval/figures.json, written by `ipt-qa eval`).

    python scripts/readme_figures.py          # rewrite the tables
    python scripts/readme_figures.py --check  # exit 1 when README differs from eval/figures.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa.evaluate.figures import render  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="only check; exit 1 when README is out of date")
    ap.add_argument("--figures", type=Path, default=ROOT / "eval" / "figures.json")
    ap.add_argument("--readme", type=Path, default=ROOT / "README.md")
    args = ap.parse_args(argv)
    old = args.readme.read_text(encoding="utf-8")
    new = render(old, json.loads(args.figures.read_text(encoding="utf-8")))
    if args.check:
        if new != old:
            print(f"{args.readme}: figures differ from {args.figures}; run python scripts/readme_figures.py",
                  file=sys.stderr)
            return 1
        return 0
    args.readme.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
