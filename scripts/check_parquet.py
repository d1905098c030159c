#!/usr/bin/env python3
"""Interoperability check (development tool) of winnow's Parquet metadata: for a finished output DIR, reads each
shard's DIR/NNNNN.parquet with pyarrow and with DuckDB, checks that the two agree, that the column types are the
ones img2dataset's readers expect (UTF8 strings, int64 sizes, double similarity), and that the rows are exactly the
kept samples of that shard in DIR/index.sqlite and the members of DIR/NNNNN.tar.
With --export FILE it also checks an exported table of every candidate (kept and dropped) against the index.

    .venv/bin/python scripts/check_parquet.py --output DIR [--export FILE.parquet]
"""
import argparse
import subprocess
import tempfile
import collections
import glob
import json
import math
import os
import re
import sqlite3
import sys
import tarfile

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

# The columns of a shard's Parquet file: name -> (Arrow type, the index column it holds, or None).
# key is required (no nulls, REQUIRED in the schema); the others are nullable. Columns beyond these (the input's
# saved additional columns) are allowed: they are checked against the tar's .json members instead.
COLUMNS = {
    "key": (pa.string(), "key"),
    "url": (pa.string(), "url"),
    "caption": (pa.string(), "caption"),
    "status": (pa.string(), None),  # img2dataset's wording: 'success' for a kept sample
    "error_message": (pa.string(), None),  # null for a kept sample
    "width": (pa.int64(), "stored_width"),
    "height": (pa.int64(), "stored_height"),
    "original_width": (pa.int64(), "original_width"),
    "original_height": (pa.int64(), "original_height"),
    "sha256": (pa.string(), "sha256"),
    "md5": (pa.string(), "md5"),
    "sha1": (pa.string(), "sha1"),
    "pdq": (pa.string(), "pdq"),
    "similarity": (pa.float64(), "similarity"),
    "page_url": (pa.string(), "page_url"),
    "input_file": (pa.string(), "input_file"),
    "record_offset": (pa.int64(), "record_offset"),
}
REQUIRED = {"key"}
DUCKDB_TYPES = {pa.string(): "VARCHAR", pa.int64(): "BIGINT", pa.float64(): "DOUBLE"}
# The export's status, in the index's wording or img2dataset's.
KEPT, DROPPED = {"kept", "success"}, {"dropped", "failed", "failed_to_download", "failed_to_resize"}
SHARD = re.compile(r"^\d+\.(tar|parquet)$")


def fail(message):
    print(f"check_parquet: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--output", help="a finished winnow output directory (default: a new `winnow demo` run)")
    ap.add_argument("--export", help="an exported Parquet table of every candidate, checked against the index")
    ap.add_argument("--winnow", help="the winnow binary: runs the demo and `winnow export` when --output is not given")
    args = ap.parse_args()
    if args.output:
        run(args)
        return
    if not args.winnow:
        fail("give --output DIR, or --winnow BINARY to check a new demo run")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([args.winnow, "demo", "--output", tmp, "--pages", "12", "--pipeline", "pipelines/demo.json"],
                       check=True, stdout=subprocess.DEVNULL)
        args.output = os.path.join(tmp, "out")
        args.export = os.path.join(tmp, "export.parquet")
        subprocess.run([args.winnow, "export", args.output, "--output", args.export], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        run(args)


def run(args):
    checks, rows, files = check_shards(args.output)
    summary = f"{rows} rows in {files} shard Parquet files read with pyarrow and DuckDB"
    if args.export:
        c, n = check_export(args.export, os.path.join(args.output, "index.sqlite"))
        checks += c
        summary += f"; export of {n} candidates"
    print(f"check_parquet: {checks} passed, 0 failed ({summary})")


def same(a, b, tolerance=0.0):
    """Equal values, floats within `tolerance` (NaN equals NaN); lists and dicts element by element."""
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None or isinstance(a, (str, bytes)) or isinstance(b, (str, bytes)):
            return False
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b if tolerance == 0 else abs(a - b) <= tolerance
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y, tolerance) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k], tolerance) for k in a)
    return a == b


def sql_string(path):
    return "'" + path.replace("'", "''") + "'"


def read_both(path):
    """The file's table as pyarrow reads it, after checking that DuckDB reads the same columns and rows."""
    try:
        table = pq.read_table(path)
    except Exception as e:
        fail(f"{path}: pyarrow cannot read it: {e}")
    try:
        con = duckdb.connect()
        cur = con.execute(f"SELECT * FROM read_parquet({sql_string(path)})")
        names = [d[0] for d in cur.description]
        drows = cur.fetchall()
        dtypes = dict((r[0], r[1]) for r in con.execute(
            f"DESCRIBE SELECT * FROM read_parquet({sql_string(path)})").fetchall())
        con.close()
    except Exception as e:
        fail(f"{path}: DuckDB cannot read it: {e}")
    if names != table.column_names:
        fail(f"{path}: DuckDB reads columns {names}, pyarrow {table.column_names}")
    if len(drows) != table.num_rows:
        fail(f"{path}: DuckDB reads {len(drows)} rows, pyarrow {table.num_rows}")
    for j, name in enumerate(names):
        col = table.column(j).to_pylist()
        for i, (d, p) in enumerate(zip((r[j] for r in drows), col)):
            if not same(d, p):
                fail(f"{path}: row {i} column {name}: DuckDB reads {d!r}, pyarrow {p!r}")
    return table, dtypes


def check_types(path, table, dtypes, columns, required=()):
    """The Arrow, Parquet and DuckDB types of `columns` (name -> Arrow type) that the table has; `required` columns
    must be REQUIRED in the schema."""
    schema = pq.ParquetFile(path).schema
    leaves = {schema.column(j).path: schema.column(j) for j in range(len(schema))}
    for name, want in columns.items():
        if name not in table.column_names:
            continue
        field = table.schema.field(name)
        if field.type != want:
            fail(f"{path}: column {name} is {field.type}, expected {want}")
        leaf = leaves.get(name)
        if leaf is None:
            fail(f"{path}: column {name} is not a flat column")
        if want == pa.string() and (leaf.physical_type != "BYTE_ARRAY" or str(leaf.logical_type) != "String"):
            fail(f"{path}: column {name} is {leaf.physical_type} {leaf.logical_type}, expected BYTE_ARRAY with the "
                 f"String (UTF8) logical type")
        if want == pa.int64() and leaf.physical_type != "INT64":
            fail(f"{path}: column {name} is stored as {leaf.physical_type}, expected INT64")
        if want == pa.float64() and leaf.physical_type != "DOUBLE":
            fail(f"{path}: column {name} is stored as {leaf.physical_type}, expected DOUBLE")
        if dtypes.get(name) != DUCKDB_TYPES[want]:
            fail(f"{path}: DuckDB reads column {name} as {dtypes.get(name)}, expected {DUCKDB_TYPES[want]}")
        if name in required:
            if field.nullable or leaf.max_definition_level != 0:
                fail(f"{path}: column {name} is nullable, expected REQUIRED")
            if table.column(name).null_count:
                fail(f"{path}: column {name} has {table.column(name).null_count} nulls")


def check_shards(out):
    index = os.path.join(out, "index.sqlite")
    if not os.path.isdir(out):
        fail(f"{out} is not a directory")
    if not os.path.exists(index):
        fail(f"{out} has no index.sqlite: not a winnow output")
    shards = sorted(p for p in glob.glob(os.path.join(out, "*.tar")) if SHARD.match(os.path.basename(p)))
    if not shards:
        fail(f"no shards (NNNNN.tar) in {out}")
    parquets = sorted(p for p in glob.glob(os.path.join(out, "*.parquet")) if SHARD.match(os.path.basename(p)))
    stray = {os.path.basename(p)[:-len(".parquet")] for p in parquets} - {
        os.path.basename(p)[:-len(".tar")] for p in shards}
    if stray:
        fail(f"Parquet files without a tar shard: {', '.join(sorted(s + '.parquet' for s in stray))}")
    if glob.glob(os.path.join(out, "*.parquet.partial")) or glob.glob(os.path.join(out, "*.parquet.tmp")):
        fail("partial Parquet files left in a finished output")
    db = sqlite3.connect(f"file:{index}?mode=ro", uri=True)
    mapped = [(name, source) for name, (_, source) in COLUMNS.items() if source]
    select = ", ".join(source for _, source in mapped)

    checks = rows_total = 0
    for tar_path in shards:
        shard = os.path.basename(tar_path)
        path = tar_path[:-len(".tar")] + ".parquet"
        if not os.path.exists(path):
            fail(f"{shard} has no {os.path.basename(path)}")
        table, dtypes = read_both(path)
        missing = [name for name in COLUMNS if name not in table.column_names]
        if missing:
            fail(f"{path}: missing columns {missing} (has {table.column_names})")
        check_types(path, table, dtypes, {name: t for name, (t, _) in COLUMNS.items()}, REQUIRED)
        checks += 2

        # The rows are the shard's kept samples in the index, keyed by key.
        data = table.to_pylist()
        by_key = {}
        for row in data:
            if row["key"] in by_key:
                fail(f"{path}: key {row['key']} is in two rows")
            by_key[row["key"]] = row
        kept = {r[0]: r for r in db.execute(
            f"SELECT {select} FROM samples WHERE status = 'kept' AND shard = ?", (shard,))}
        if by_key.keys() != kept.keys():
            extra, absent = sorted(by_key.keys() - kept.keys()), sorted(kept.keys() - by_key.keys())
            fail(f"{path}: {len(data)} rows, the index has {len(kept)} kept samples in {shard}; "
                 f"not in the index: {extra[:5]}, missing: {absent[:5]}")
        for key, row in by_key.items():
            for (name, source), value in zip(mapped, kept[key]):
                if not same(row[name], value, 1e-9 if name == "similarity" else 0.0):
                    fail(f"{path}: {key}: {name} is {row[name]!r}, the index's {source} is {value!r}")
            if row["status"] != "success":
                fail(f"{path}: {key}: status {row['status']!r}, expected 'success' for a kept sample")
            if row["error_message"] is not None:
                fail(f"{path}: {key}: error_message {row['error_message']!r} for a kept sample")
        checks += 1

        # The tar's .json members: every key is a row, and the fields they share with the row agree.
        members = 0
        with tarfile.open(tar_path) as tf:
            for m in tf.getmembers():
                if not m.name.endswith(".json"):
                    continue
                meta = json.loads(tf.extractfile(m).read())
                key = meta.get("key", m.name[:-len(".json")])
                if key not in by_key:
                    fail(f"{shard}: {m.name} (key {key}) is not in {os.path.basename(path)}")
                for name in meta.keys() & by_key[key].keys():
                    if not same(meta[name], by_key[key][name], 1e-6):
                        fail(f"{shard}: {m.name}: {name} is {meta[name]!r}, the Parquet row has {by_key[key][name]!r}")
                members += 1
        if members != len(by_key):
            fail(f"{shard}: {members} .json members, {os.path.basename(path)} has {len(by_key)} rows")
        checks += 1
        rows_total += len(data)
    return checks, rows_total, len(shards)


def check_export(path, index):
    if not os.path.exists(path):
        fail(f"{path}: no such export")
    table, dtypes = read_both(path)
    for name in ("status", "reason"):
        if name not in table.column_names:
            fail(f"{path}: no {name} column (has {table.column_names})")
    check_types(path, table, dtypes, {name: t for name, (t, _) in COLUMNS.items() if name in ("key", "url", "caption")}
                | {"status": pa.string(), "reason": pa.string()})
    db = sqlite3.connect(f"file:{index}?mode=ro", uri=True)
    total = db.execute("SELECT count(*) FROM samples").fetchone()[0]
    if table.num_rows != total:
        fail(f"{path}: {table.num_rows} rows, the index has {total} candidates")

    def outcome(status):
        if status in KEPT:
            return "kept"
        if status in DROPPED:
            return "dropped"
        fail(f"{path}: unknown status {status!r}")

    statuses = [outcome(s) for s in table.column("status").to_pylist()]
    reasons = table.column("reason").to_pylist()
    got = collections.Counter(zip(statuses, reasons))
    want = collections.Counter(db.execute("SELECT status, reason FROM samples"))
    if got != want:
        diff = sorted(set(got) | set(want), key=str)
        fail(f"{path}: outcomes differ from the index: " + ", ".join(
            f"{s}/{r}: {got[(s, r)]} vs {want[(s, r)]}" for s, r in diff if got[(s, r)] != want[(s, r)]))
    checks = 3
    if "key" in table.column_names:
        got = collections.Counter(zip(table.column("key").to_pylist(), statuses, reasons))
        want = collections.Counter(db.execute("SELECT key, status, reason FROM samples"))
        if got != want:
            bad = sorted((got - want) + (want - got), key=str)[:5]
            fail(f"{path}: per-key outcomes differ from the index, e.g. {bad}")
        checks += 1
    return checks, table.num_rows


if __name__ == "__main__":
    main()
