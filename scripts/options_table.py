"""Print (or, with --write, put into README.md) the options table made from the option schema.

    python scripts/options_table.py          # print it
    python scripts/options_table.py --write  # replace the table between the README's markers
"""

from __future__ import annotations

import argparse
import dataclasses
import re
from pathlib import Path

from clipdraw.options import options_table
from clipdraw.settings import DrawSettings

README = Path(__file__).resolve().parent.parent / "README.md"
MARKERS = re.compile(r"(<!-- options:start -->\n).*?(<!-- options:end -->)", re.S)


def table() -> str:
    defaults = DrawSettings()
    return options_table({f.name: getattr(defaults, f.name)
                          for f in dataclasses.fields(defaults)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update README.md in place")
    args = parser.parse_args()
    if not args.write:
        print(table())
        return
    text = README.read_text(encoding="utf-8")
    README.write_text(MARKERS.sub(lambda m: m.group(1) + table() + "\n" + m.group(2), text),
                      encoding="utf-8")


if __name__ == "__main__":
    main()
