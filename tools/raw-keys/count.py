#!/usr/bin/env python3
"""Counts raw string-key look-ups of documents in src/service, src/rules and src/store (issue 23's
figure): `.get("key")`, `str_at("key")`, `.insert("key")`, `doc["key"]` and the like.

Tests (everything from a file's first `#[cfg(test)]` on) and array literals such as role lists
(`["admin"]`) are counted apart; store/keys.rs, the key layout, is left out. With `-v` it lists the
look-ups that remain, each of which should say in a comment why it reads raw JSON.

    python3 tools/raw-keys/count.py [-v] [CHECKOUT]   # CHECKOUT: another tree (default: this one)
"""

import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
PATTERN = re.compile(
    r'(\.get|str_at|bool_at|strs_at|\.insert|shift_remove|get_mut|\.remove)\("[A-Za-z_]+"'
    r'|\["[A-Za-z_]+"\]')
# An index follows a name, `]` or `)`; a `[` anywhere else opens an array literal.
INDEXED = re.compile(r'[A-Za-z0-9_\])]')


def main():
    args = sys.argv[1:]
    verbose = "-v" in args
    trees = [a for a in args if a != "-v"]
    root = pathlib.Path(trees[0]).resolve() if trees else ROOT
    totals = {"documents": 0, "tests": 0, "array literals": 0}
    remaining = []
    for folder in ["src/service", "src/rules", "src/store"]:
        for path in sorted((root / folder).rglob("*.rs")):
            if path.name == "keys.rs":
                continue
            in_tests = False
            for number, line in enumerate(path.read_text().splitlines(), 1):
                in_tests = in_tests or line.strip() == "#[cfg(test)]"
                for m in PATTERN.finditer(line):
                    if in_tests:
                        totals["tests"] += 1
                    elif m.group(0).startswith("[") and (
                            m.start() == 0 or not INDEXED.match(line[m.start() - 1])):
                        totals["array literals"] += 1
                    else:
                        totals["documents"] += 1
                        remaining.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
    print(", ".join(f"{k}: {v}" for k, v in totals.items()))
    if verbose:
        print("\n".join(remaining))


if __name__ == "__main__":
    main()
