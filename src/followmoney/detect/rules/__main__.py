"""Write the rule reference generated from the catalogue: ``python -m followmoney.detect.rules [PATH] [--check]``.

Without PATH the reference goes to standard output. ``--check`` writes nothing and
exits 1 when PATH differs from what the catalogue generates (``make docs`` writes
``docs/rules.md``; the tests check it has not drifted).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from followmoney.detect.rules.catalogue import rules_markdown


def main(argv: list[str] | None = None) -> int:
    """Write or check the rule reference; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m followmoney.detect.rules", description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, help="file to write (default: standard output)")
    parser.add_argument("--check", action="store_true", help="exit 1 if PATH differs from the generated reference")
    args = parser.parse_args(argv)
    text = rules_markdown()
    if args.path is None:
        if args.check:
            parser.error("--check needs PATH")
        sys.stdout.write(text)
        return 0
    if args.check:
        current = args.path.read_text(encoding="utf-8") if args.path.is_file() else None
        if current != text:
            print(f"{args.path}: out of date with the rule catalogue; run `make docs`", file=sys.stderr)
            return 1
        return 0
    args.path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
