"""Writes the JSON blocks of the WAT records in a folder of (gzipped) WAT files, one file each, as fuzzing seeds."""

import gzip
import os
import re
import sys


def main(source: str, target: str, limit: int = 400) -> None:
    written = 0
    for name in sorted(os.listdir(source)):
        if ".wat" not in name:
            continue
        path = os.path.join(source, name)
        opener = gzip.open if name.endswith(".gz") else open
        with opener(path, "rb") as f:
            data = f.read()
        for part in re.split(rb"(?:^|\n)WARC/1\.[01]\r?\n", data):
            start = part.find(b"{")
            if start < 0 or b"Content-Type: application/json" not in part[:start]:
                continue
            with open(os.path.join(target, f"{name}-{written}.json"), "wb") as out:
                out.write(part[start:].rstrip())
            written += 1
            if written >= limit:
                return


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
