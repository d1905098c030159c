#!/usr/bin/env python3
"""Writes the Parquet reader's test files into Tests/WinnowParquetTests/Fixtures (development tool; pyarrow, duckdb).

    .venv/bin/python scripts/gen_parquet_fixtures.py              (writes every fixture, checks each, prints the size)
    .venv/bin/python scripts/gen_parquet_fixtures.py --describe F (prints F's row groups, column chunks and pages)

Each NAME.parquet has a sibling NAME.expected.json saying what a correct reader returns:

    {"num_rows": N, "row_groups": K, "row_group_num_rows": [...], "writer", "compression", "encodings",
     "data_page_encodings", "dictionary_page_encodings", "page_types",
     "columns": [{"name", "type", "nullable", (the same encodings and page facts for the column), "pages",
                  "values": [one per row, null for null]}]}

type is one of string, int32, int64, float, double, bool. float values are the exact double of the float32 (a reader
converting the JSON number to Float gets the stored value bit for bit); doubles are repr-exact. "encodings" is the
union of the column chunks' metadata encodings; "data_page_encodings" and "page_types" come from walking every
page header of every column chunk, and each column entry carries its own. The script checks that each file really
holds the encodings and page kinds its name promises, and that pyarrow and DuckDB both read back the expected values.

Broken files have {"error": "...", ...} instead; corrupt_page_rg1 also gives the values of the row groups that are
still readable ("readable_row_groups", "corrupt_row_groups"). A file with nested columns lists only its flat columns,
the nested ones under "unsupported".

Deterministic: fixed seeds, one per fixture, so a rerun rewrites the same bytes for given pyarrow and DuckDB versions.
"""
import argparse
import hashlib
import json
import os
import struct
import sys

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "WinnowParquetTests", "Fixtures")

ARROW_TYPES = {"string": pa.string(), "int32": pa.int32(), "int64": pa.int64(), "float": pa.float32(),
               "double": pa.float64(), "bool": pa.bool_()}

# ---------------------------------------------------------------------------------------------------------------
# Page walking: a minimal Thrift compact-protocol reader for PageHeader, so that the fixtures' claims are checked
# against the pages themselves (the chunk metadata's `encodings` mixes level and value encodings).

PAGE_TYPES = {0: "DATA_PAGE", 1: "INDEX_PAGE", 2: "DICTIONARY_PAGE", 3: "DATA_PAGE_V2"}
ENCODINGS = {0: "PLAIN", 2: "PLAIN_DICTIONARY", 3: "RLE", 4: "BIT_PACKED", 5: "DELTA_BINARY_PACKED",
             6: "DELTA_LENGTH_BYTE_ARRAY", 7: "DELTA_BYTE_ARRAY", 8: "RLE_DICTIONARY", 9: "BYTE_STREAM_SPLIT"}


class ThriftError(Exception):
    pass


class Compact:
    def __init__(self, buf, pos):
        self.buf, self.pos = buf, pos

    def byte(self):
        if self.pos >= len(self.buf):
            raise ThriftError("past the end")
        b = self.buf[self.pos]
        self.pos += 1
        return b

    def varint(self):
        shift = result = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 63:
                raise ThriftError("varint too long")

    def zigzag(self):
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def value(self, t):
        if t in (1, 2):
            return t == 1
        if t == 3:
            return self.byte()
        if t in (4, 5, 6):
            return self.zigzag()
        if t == 7:
            self.pos += 8
            return None
        if t == 8:
            n = self.varint()
            self.pos += n
            return None
        if t in (9, 10):
            head = self.byte()
            size, et = head >> 4, head & 0x0F
            if size == 15:
                size = self.varint()
            return [self.byte() == 1 if et in (1, 2) else self.value(et) for _ in range(size)]
        if t == 11:
            size = self.varint()
            if size:
                kv = self.byte()
                for _ in range(size):
                    self.value(kv >> 4)
                    self.value(kv & 0x0F)
            return None
        if t == 12:
            return self.struct()
        raise ThriftError(f"bad compact type {t}")

    def struct(self):
        fields, last = {}, 0
        while True:
            head = self.byte()
            if head == 0:
                return fields
            delta, t = head >> 4, head & 0x0F
            fid = last + delta if delta else self.zigzag()
            last = fid
            fields[fid] = self.value(t)


def walk_chunk(data, cc):
    """The pages of column chunk `cc` (pyarrow ColumnChunkMetaData) in file bytes `data`: a list of dicts."""
    start = cc.dictionary_page_offset if cc.has_dictionary_page else cc.data_page_offset
    end, pos, pages = start + cc.total_compressed_size, start, []
    while pos < end:
        reader = Compact(data, pos)
        h = reader.struct()
        page = {"offset": pos, "header_bytes": reader.pos - pos, "type": PAGE_TYPES.get(h.get(1), h.get(1)),
                "uncompressed": h.get(2), "compressed": h.get(3)}
        if 5 in h:
            page.update(num_values=h[5].get(1), encoding=ENCODINGS[h[5].get(2)])
        if 7 in h:
            page.update(num_values=h[7].get(1), encoding=ENCODINGS[h[7].get(2)])
        if 8 in h:
            v2 = h[8]
            page.update(num_values=v2.get(1), num_nulls=v2.get(2), num_rows=v2.get(3), encoding=ENCODINGS[v2.get(4)],
                        is_compressed=v2.get(7, True))
        pages.append(page)
        pos = reader.pos + h[3]
    if pos != end:
        raise ThriftError(f"pages end at {pos}, the chunk at {end}")
    return pages


def layout(path):
    """Per column (by top-level flat name): chunk encodings, data page encodings, page type counts, codec."""
    data = open(path, "rb").read()
    md = pq.ParquetFile(path).metadata
    cols = {}
    for i in range(md.num_row_groups):
        rg = md.row_group(i)
        for j in range(rg.num_columns):
            cc = rg.column(j)
            c = cols.setdefault(cc.path_in_schema, {"encodings": set(), "data_page_encodings": set(),
                                                    "dictionary_page_encodings": set(), "page_types": {}, "pages": 0,
                                                    "compression": set()})
            c["encodings"] |= set(cc.encodings)
            c["compression"].add(cc.compression)
            for p in walk_chunk(data, cc):
                c["page_types"][p["type"]] = c["page_types"].get(p["type"], 0) + 1
                c["pages"] += 1
                if p["type"] in ("DATA_PAGE", "DATA_PAGE_V2"):
                    c["data_page_encodings"].add(p["encoding"])
                elif p["type"] == "DICTIONARY_PAGE":
                    c["dictionary_page_encodings"].add(p["encoding"])
    return md, cols


def describe(path):
    data = open(path, "rb").read()
    md = pq.ParquetFile(path).metadata
    print(f"{path}: {md.num_rows} rows, {md.num_row_groups} row groups, created by {md.created_by}")
    for i in range(md.num_row_groups):
        rg = md.row_group(i)
        print(f"row group {i}: {rg.num_rows} rows")
        for j in range(rg.num_columns):
            cc = rg.column(j)
            print(f"  {cc.path_in_schema} {cc.physical_type} {cc.compression} {cc.encodings} "
                  f"dict@{cc.dictionary_page_offset} data@{cc.data_page_offset} size {cc.total_compressed_size}")
            for p in walk_chunk(data, cc):
                print("    " + " ".join(f"{k}={v}" for k, v in p.items()))


# ---------------------------------------------------------------------------------------------------------------
# Values.

WORDS = ("a the of on in with and for red blue green black white small large old new vintage modern photo picture "
         "image drawing vector icon logo illustration poster sunset beach mountain river city street night portrait "
         "cat dog bird flower tree house car wedding dress shoes kitchen garden abstract pattern background texture "
         "café naïve résumé über straße Zürich señor ångström crème brûlée 日本 東京タワー 猫 写真 風景 Ελλάδα Привет "
         "мир مرحبا 🐱 🌅 😀 👩‍💻 🎉 ❤️").split()
DOMAINS = ["example.com", "cdn.example.net", "images.example.org", "static.example.com", "img.example.co.uk",
           "media.example.io", "shop.example.com", "blog.example.net", "例え.example.jp"]


def caption(rng, lo=2, hi=12):
    return " ".join(WORDS[k] for k in rng.integers(0, len(WORDS), int(rng.integers(lo, hi + 1))))


def long_caption(rng):
    s = caption(rng, 50, 90)
    while len(s.encode()) < 320:
        s += " " + caption(rng)
    return s


def url(rng, i):
    kind = int(rng.integers(0, 10))
    d = DOMAINS[int(rng.integers(0, len(DOMAINS)))]
    h = "%016x" % int(rng.integers(0, 2**63))
    slug = "-".join(WORDS[k] for k in rng.integers(0, 30, int(rng.integers(1, 6))))
    if kind < 5:
        return f"https://example.com/img/{i}.jpg"
    if kind < 7:
        return f"https://{d}/photos/{2010 + i % 14}/{h[:8]}-{slug}.jpg"
    if kind < 9:
        return f"http://{d}/i/{h}.png?w={int(rng.integers(64, 4096))}&h={int(rng.integers(64, 4096))}"
    if i % 3:
        return f"https://{d}/画像/猫-{i}.webp"
    u = f"https://{d}/wp-content/uploads/{2015 + i % 9}/{1 + i % 12:02d}/{slug}"
    while len(u.encode()) < 280:
        u += "-" + slug
    return u + f"-{h}.jpeg?resize=1024%2C768&ssl=1"  # 300+ bytes


def captions(rng, n, pool=40, repeat=0.45, long_every=151):
    """Captions with many repeats (so dictionaries are real), empty strings, non-ASCII and some 300+ byte ones."""
    common = ["", "image", "logo", "Photo", "untitled", "日本の風景", "café ☕", "🐱🐱🐱"] + [caption(rng) for _ in range(pool)]
    out = []
    for i in range(n):
        if i % long_every == long_every - 1:
            out.append(long_caption(rng))
        elif rng.random() < repeat:
            out.append(common[int(rng.integers(0, len(common)))])
        else:
            out.append(caption(rng))
    return out


def urls(rng, n, repeat=0.3):
    pool = [url(rng, 10_000_000 + k) for k in range(60)]
    return [pool[int(rng.integers(0, len(pool)))] if rng.random() < repeat else url(rng, i) for i in range(n)]


def f32(x):
    return float(np.float32(x))


def with_nulls(values, mask):
    return [None if m else v for v, m in zip(values, mask)]


def null_mask(rng, n, pattern):
    if pattern in ("required", "nonull"):
        return [False] * n
    if pattern == "allnull":
        return [True] * n
    if pattern == "alternate":
        return [i % 2 == 0 for i in range(n)]
    if pattern == "random30":
        return list(rng.random(n) < 0.3)
    if pattern == "runs":
        mask, null = [], True
        while len(mask) < n:
            mask += [null] * int(rng.integers(8, 40))
            null = not null
        return mask[:n]
    raise ValueError(pattern)


def typed_values(rng, t, n):
    """n values of type t, edge cases first."""
    if t == "string":
        edge = ["", "é", "日本語テキスト", "🎉👩‍👩‍👧 emoji", "tab\tnewline\nquote\"backslash\\", "nul\u0000byte",
                long_caption(rng)]
        return (edge + captions(rng, n))[:n]
    if t == "int32":
        edge = [0, -1, 1, -2**31, 2**31 - 1, 1 << 20, -(1 << 20)]
        return (edge + [int(v) for v in rng.integers(-2**31, 2**31, n)])[:n]
    if t == "int64":
        edge = [0, -1, 1, -2**63, 2**63 - 1, 1 << 40, -(1 << 40)]
        return (edge + [int(v) for v in rng.integers(-2**63, 2**63, n, dtype=np.int64)])[:n]
    if t == "float":
        edge = [0.0, -0.0, 0.1, -1.5, 3.4028234663852886e38, 1.401298464324817e-45, 1.1754943508222875e-38, 1e-7]
        return [f32(v) for v in (edge + list(rng.normal(0, 1000, n)))[:n]]
    if t == "double":
        edge = [0.0, -0.0, 0.1, -1.5, 1.7976931348623157e308, 5e-324, 2.2250738585072014e-308, 1e300, -1e-300]
        return [float(v) for v in (edge + list(rng.normal(0, 1e6, n)))[:n]]
    if t == "bool":
        return [bool(v) for v in rng.random(n) < 0.5]
    raise ValueError(t)


# ---------------------------------------------------------------------------------------------------------------
# Writing and checking.


class Col:
    def __init__(self, name, type, values, nullable=True):
        self.name, self.type, self.values, self.nullable = name, type, values, nullable
        if not nullable:
            assert None not in values, name


def table(cols, extra=None):
    fields = [pa.field(c.name, ARROW_TYPES[c.type], nullable=c.nullable) for c in cols]
    arrays = [pa.array(c.values, ARROW_TYPES[c.type]) for c in cols]
    if extra:
        for f, a in extra:
            fields.append(f)
            arrays.append(a)
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def write_json(path, obj):
    """Compact JSON, one column per line."""
    cols = obj.pop("columns", None)
    head = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    if cols is None:
        text = head
    else:
        lines = [json.dumps(c, ensure_ascii=False, separators=(",", ":"), allow_nan=False) for c in cols]
        text = head[:-1] + (',' if obj else '') + '"columns":[\n' + ",\n".join(lines) + "\n]}"
    with open(path, "w", encoding="utf-8") as f:
        f.write(text + "\n")


def check_values(path, cols, row_groups=None):
    """pyarrow and DuckDB both read back exactly the expected values (row_groups: only these)."""
    pf = pq.ParquetFile(path)
    names = [c.name for c in cols]
    if row_groups is None:
        t = pf.read(columns=names, use_threads=False)
    else:
        t = pa.concat_tables([pf.read_row_group(i, columns=names, use_threads=False) for i in row_groups])
    for c in cols:
        got = t.column(c.name).to_pylist()
        if got != c.values or any(isinstance(v, float) and np.signbit(v) != np.signbit(e)
                                  for v, e in zip(got, c.values) if v is not None):
            bad = next(i for i, (g, e) in enumerate(zip(got, c.values)) if g != e or repr(g) != repr(e))
            raise AssertionError(f"{path}: pyarrow reads {c.name}[{bad}] = {got[bad]!r}, expected {c.values[bad]!r}")
    if row_groups is None:
        con = duckdb.connect()
        sel = ", ".join('"%s"' % n for n in names)
        rows = con.execute(f"SELECT {sel} FROM read_parquet('{path}')").fetchall()
        for k, c in enumerate(cols):
            got = [r[k] for r in rows]
            if got != c.values:
                bad = next(i for i, (g, e) in enumerate(zip(got, c.values)) if g != e)
                raise AssertionError(f"{path}: DuckDB reads {c.name}[{bad}] = {got[bad]!r}, expected {c.values[bad]!r}")


def expected(path, cols, writer, promise=None, unsupported=()):
    """The expected JSON object for a readable file; checks `promise` {column: {"data_page_encodings": set,
    "page_types": set}} (each a subset that must be present) and the nullability in the file's schema."""
    md, lay = layout(path)
    schema = pq.ParquetFile(path).schema
    leaf = {schema.column(j).path: schema.column(j) for j in range(len(schema))}
    out_cols = []
    for c in cols:
        sc = leaf[c.name]
        nullable = sc.max_definition_level > 0
        if writer.startswith("pyarrow") and nullable != c.nullable:
            raise AssertionError(f"{path}: {c.name} nullable {nullable}, meant {c.nullable}")
        c.nullable = nullable
        L = lay[c.name]
        out_cols.append({"name": c.name, "type": c.type, "nullable": nullable,
                         "encodings": sorted(L["encodings"]), "data_page_encodings": sorted(L["data_page_encodings"]),
                         "dictionary_page_encodings": sorted(L["dictionary_page_encodings"]),
                         "page_types": dict(sorted(L["page_types"].items())), "pages": L["pages"],
                         "values": c.values})
    for name, want in (promise or {}).items():
        L = lay[name]
        for key, need in want.items():
            have = set(L[key]) if key != "min_pages_per_chunk" else None
            if key == "min_pages_per_chunk":
                per_chunk = L["page_types"].get("DATA_PAGE", 0) + L["page_types"].get("DATA_PAGE_V2", 0)
                if per_chunk < need * md.num_row_groups:
                    raise AssertionError(f"{path}: {name} has {per_chunk} data pages in {md.num_row_groups} chunks")
            elif not set(need) <= have:
                raise AssertionError(f"{path}: {name} {key} {sorted(have)}, promised {sorted(need)}")
    every = lambda key: sorted(set().union(*(set(lay[c.name][key]) for c in cols)))
    obj = {"num_rows": md.num_rows, "row_groups": md.num_row_groups,
           "row_group_num_rows": [md.row_group(i).num_rows for i in range(md.num_row_groups)],
           "writer": writer + (" " + pa.__version__ if writer == "pyarrow" else ""), "compression": every("compression"), "encodings": every("encodings"),
           "data_page_encodings": every("data_page_encodings"),
           "dictionary_page_encodings": every("dictionary_page_encodings"),
           "page_types": sorted(set().union(*(lay[c.name]["page_types"] for c in cols))),
           "columns": out_cols}
    if unsupported:
        obj["unsupported"] = list(unsupported)
    return obj


FIXTURES = {}


def fixture(fn):
    FIXTURES[fn.__name__] = fn
    return fn


def write(name, cols, promise=None, **kw):
    path = os.path.join(OUT, name + ".parquet")
    pq.write_table(table(cols), path, **kw)
    check_values(path, cols)
    write_json(os.path.join(OUT, name + ".expected.json"), expected(path, cols, "pyarrow", promise))
    return path


def mixed(seed, n=200):
    """The codec fixtures' table: a column of each type, url/caption strings with repeats, some nulls."""
    rng = np.random.default_rng(seed)
    sizes = [64, 128, 256, 512, 640, 800, 1024, 1080, 1920]
    return [
        Col("url", "string", urls(rng, n), nullable=False),
        Col("caption", "string", with_nulls(captions(rng, n), rng.random(n) < 0.1)),
        Col("width", "int32", with_nulls([sizes[int(k)] for k in rng.integers(0, len(sizes), n)], rng.random(n) < 0.2)),
        Col("sample_id", "int64", [int(v) for v in rng.integers(-2**62, 2**62, n)], nullable=False),
        Col("punsafe", "float", with_nulls([f32(v) for v in rng.random(n)], rng.random(n) < 0.25)),
        Col("similarity", "double", [float(v) for v in rng.random(n)], nullable=False),
        Col("watermark", "bool", with_nulls([bool(v) for v in rng.random(n) < 0.3], rng.random(n) < 0.15)),
    ]


DICT_V1 = {"DICTIONARY_PAGE", "DATA_PAGE"}
DICT_V2 = {"DICTIONARY_PAGE", "DATA_PAGE_V2"}


def dict_promise(v2):
    pages = DICT_V2 if v2 else DICT_V1
    return {c: {"data_page_encodings": {"RLE_DICTIONARY"}, "page_types": pages}
            for c in ("url", "caption", "width", "sample_id", "punsafe", "similarity")}


@fixture
def codecs():
    for i, (codec, v) in enumerate([("none", "1.0"), ("snappy", "1.0"), ("gzip", "1.0"), ("zstd", "1.0"),
                                    ("none", "2.0"), ("zstd", "2.0")]):
        name = f"{codec}_dict_v{v[0]}"
        write(name, mixed(100 + i), dict_promise(v == "2.0"), compression=codec, data_page_version=v,
              use_dictionary=True)


@fixture
def plain():
    for i, v in enumerate(["1.0", "2.0"]):
        cols = mixed(200 + i)
        page = "DATA_PAGE_V2" if v == "2.0" else "DATA_PAGE"
        promise = {c.name: {"data_page_encodings": {"PLAIN"}, "page_types": {page}} for c in cols if c.type != "bool"}
        # pyarrow writes booleans PLAIN (bit-packed) in v1 pages and RLE in v2 pages.
        promise["watermark"] = {"data_page_encodings": {"RLE" if v == "2.0" else "PLAIN"}, "page_types": {page}}
        write(f"none_plain_v{v[0]}", cols, promise, compression="none", data_page_version=v, use_dictionary=False)


@fixture
def delta_strings():
    for i, enc in enumerate(["DELTA_BYTE_ARRAY", "DELTA_LENGTH_BYTE_ARRAY"]):
        for k, v in enumerate(["1.0", "2.0"]):
            rng = np.random.default_rng(300 + 10 * i + k)
            n = 180
            # Sorted-ish URLs share long prefixes (what DELTA_BYTE_ARRAY's prefix lengths are for).
            us = urls(rng, n)
            us[60:160] = sorted(us[60:160])
            cols = [Col("url", "string", us, nullable=False),
                    Col("caption", "string", with_nulls(captions(rng, n), null_mask(rng, n, "random30"))),
                    Col("label", "string", with_nulls(typed_values(rng, "string", n), null_mask(rng, n, "runs")))]
            page = "DATA_PAGE_V2" if v == "2.0" else "DATA_PAGE"
            promise = {c.name: {"data_page_encodings": {enc}, "page_types": {page}} for c in cols}
            write(f"{enc.lower()}_v{v[0]}", cols, promise, compression="none", data_page_version=v,
                  use_dictionary=False, column_encoding={c.name: enc for c in cols})


@fixture
def delta_ints():
    for k, v in enumerate(["1.0", "2.0"]):
        rng = np.random.default_rng(400 + k)
        n = 300
        cols = [
            Col("id32", "int32", list(range(1000, 1000 + n)), nullable=False),  # constant delta: bit width 0
            Col("rand32", "int32", typed_values(rng, "int32", n), nullable=False),  # min/max: deltas wrap
            Col("small32", "int32", with_nulls([int(x) for x in rng.integers(-50, 50, n)], null_mask(rng, n, "runs"))),
            Col("id64", "int64", [10**12 + 7 * i for i in range(n)], nullable=False),
            Col("rand64", "int64", typed_values(rng, "int64", n), nullable=False),
            Col("hash64", "int64", with_nulls(typed_values(rng, "int64", n), null_mask(rng, n, "random30"))),
            Col("const64", "int64", [-5] * n, nullable=False),
        ]
        page = "DATA_PAGE_V2" if v == "2.0" else "DATA_PAGE"
        promise = {c.name: {"data_page_encodings": {"DELTA_BINARY_PACKED"}, "page_types": {page}} for c in cols}
        write(f"delta_binary_packed_v{v[0]}", cols, promise, compression="none", data_page_version=v,
              use_dictionary=False, column_encoding={c.name: "DELTA_BINARY_PACKED" for c in cols})


@fixture
def dict_fallback():
    for k, v in enumerate(["1.0", "2.0"]):
        rng = np.random.default_rng(500 + k)
        n = 300
        distinct = [f"https://example.com/{i}-{'%06x' % int(rng.integers(0, 2**24))}.jpg" for i in range(n)]
        cols = [Col("url", "string", distinct, nullable=False),
                Col("caption", "string", with_nulls(captions(rng, n, repeat=0.9), null_mask(rng, n, "random30")))]
        page = "DATA_PAGE_V2" if v == "2.0" else "DATA_PAGE"
        promise = {"url": {"data_page_encodings": {"RLE_DICTIONARY", "PLAIN"}, "page_types": {"DICTIONARY_PAGE", page}},
                   "caption": {"data_page_encodings": {"RLE_DICTIONARY"}, "page_types": {"DICTIONARY_PAGE", page}}}
        write(f"dict_fallback_v{v[0]}", cols, promise, compression="snappy", data_page_version=v,
              use_dictionary=True, dictionary_pagesize_limit=1024, write_batch_size=32, data_page_size=2048)


@fixture
def many_row_groups():
    rng = np.random.default_rng(600)
    n = 140
    cols = [Col("url", "string", urls(rng, n), nullable=False),
            Col("caption", "string", with_nulls(captions(rng, n), null_mask(rng, n, "runs"))),
            Col("sample_id", "int64", list(range(n)), nullable=False),
            Col("similarity", "double", with_nulls([float(x) for x in rng.random(n)], null_mask(rng, n, "random30")))]
    write("many_row_groups", cols, compression="snappy", row_group_size=7)


@fixture
def many_pages():
    for k, v in enumerate(["1.0", "2.0"]):
        rng = np.random.default_rng(700 + k)
        n = 300
        cols = [Col("url", "string", urls(rng, n, repeat=0.6), nullable=False),
                Col("caption", "string", with_nulls(captions(rng, n), null_mask(rng, n, "random30"))),
                Col("height", "int64", with_nulls([int(x) for x in rng.integers(1, 5000, n)], null_mask(rng, n, "runs"))),
                Col("punsafe", "float", with_nulls([f32(x) for x in rng.random(n)], null_mask(rng, n, "alternate")))]
        page = "DATA_PAGE_V2" if v == "2.0" else "DATA_PAGE"
        promise = {"url": {"data_page_encodings": {"RLE_DICTIONARY"}, "page_types": {"DICTIONARY_PAGE", page},
                           "min_pages_per_chunk": 4},
                   "caption": {"data_page_encodings": {"PLAIN"}, "min_pages_per_chunk": 10},
                   "height": {"data_page_encodings": {"PLAIN"}, "min_pages_per_chunk": 2},
                   "punsafe": {"data_page_encodings": {"PLAIN"}, "min_pages_per_chunk": 2}}
        write(f"many_pages_v{v[0]}", cols, promise, compression="snappy", data_page_version=v,
              use_dictionary=["url"], data_page_size=256, write_batch_size=8, row_group_size=150)


PATTERNS = ["required", "nonull", "allnull", "alternate", "runs", "random30"]


def types_nulls_cols(seed, n=100):
    rng = np.random.default_rng(seed)
    cols = []
    for t in ARROW_TYPES:
        for p in PATTERNS:
            cols.append(Col(f"{t}_{p}", t, with_nulls(typed_values(rng, t, n), null_mask(rng, n, p)),
                            nullable=p != "required"))
    return cols


@fixture
def types_nulls():
    write("types_nulls_dict_v1", types_nulls_cols(800), compression="snappy", data_page_version="1.0",
          use_dictionary=True, promise={"string_random30": {"data_page_encodings": {"RLE_DICTIONARY"}}})
    write("types_nulls_plain_v2", types_nulls_cols(801), compression="snappy", data_page_version="2.0",
          use_dictionary=False, promise={"string_random30": {"data_page_encodings": {"PLAIN"},
                                                             "page_types": {"DATA_PAGE_V2"}}})


@fixture
def zero_rows():
    # pyarrow writes one row group of 0 rows whose chunks hold only an empty dictionary page, with data_page_offset 0.
    cols = [Col("url", "string", [], nullable=False), Col("caption", "string", []), Col("width", "int64", [])]
    write("zero_rows", cols, compression="snappy")


@fixture
def laion_like():
    rng = np.random.default_rng(900)
    n = 480
    licenses = ["?"] * 18 + ["https://creativecommons.org/licenses/by/4.0/", "https://creativecommons.org/licenses/by-sa/3.0/"]
    nsfw = ["UNLIKELY"] * 12 + ["UNSURE"] * 3 + ["NSFW"]
    dims = [int(x) for x in rng.integers(1, 4000, 2 * n)]
    cols = [
        Col("SAMPLE_ID", "int64", [int(x) for x in np.sort(rng.choice(10**12, n, replace=False))]),
        Col("URL", "string", [f"https://example.com/img/{int(rng.integers(0, 10**9))}.jpg" if rng.random() < 0.5
                              else url(rng, i) for i in range(n)]),
        Col("TEXT", "string", with_nulls(captions(rng, n), rng.random(n) < 0.05)),
        Col("HEIGHT", "int32", with_nulls(dims[:n], rng.random(n) < 0.08)),
        Col("WIDTH", "int32", with_nulls(dims[n:], rng.random(n) < 0.08)),
        Col("LICENSE", "string", [licenses[int(k)] for k in rng.integers(0, len(licenses), n)]),
        Col("NSFW", "string", [nsfw[int(k)] for k in rng.integers(0, len(nsfw), n)]),
        Col("similarity", "double", [float(x) for x in rng.uniform(0.28, 0.45, n)]),
        Col("hash", "int64", [int(x) for x in rng.integers(-2**63, 2**63, n, dtype=np.int64)]),
        Col("punsafe", "float", with_nulls([f32(x) for x in rng.beta(0.5, 8, n)], rng.random(n) < 0.03)),
        Col("pwatermark", "float", with_nulls([f32(x) for x in rng.beta(0.6, 3, n)], rng.random(n) < 0.03)),
    ]
    assert any(v < 0 for v in cols[8].values)
    write("laion_like", cols, compression="snappy", row_group_size=200)


@fixture
def datacomp_like():
    rng = np.random.default_rng(1000)
    n = 160
    cols = [
        # uid: 32 hex digits (128 random bits).
        Col("uid", "string", [bytes(rng.integers(0, 256, 16, dtype=np.uint8)).hex() for _ in range(n)]),
        Col("url", "string", urls(rng, n, repeat=0.0)),
        Col("text", "string", captions(rng, n)),
        Col("original_width", "int64", [int(x) for x in rng.integers(64, 8000, n)]),
        Col("original_height", "int64", [int(x) for x in rng.integers(64, 8000, n)]),
        Col("sha256", "string", [hashlib.sha256(b"%d" % i).hexdigest() for i in range(n)]),
    ]
    assert all(len(u) == 32 for u in cols[0].values)
    write("datacomp_like", cols, compression="zstd", row_group_size=60)


@fixture
def nested():
    rng = np.random.default_rng(1100)
    n = 160
    flat = [Col("url", "string", urls(rng, n), nullable=False),
            Col("caption", "string", with_nulls(captions(rng, n), null_mask(rng, n, "random30")))]
    tags = pa.array([None if i % 11 == 0 else [WORDS[int(k)] for k in rng.integers(0, len(WORDS), i % 4)]
                     for i in range(n)], pa.list_(pa.string()))
    meta = pa.array([None if i % 13 == 0 else {"width": int(rng.integers(1, 4000)), "source": caption(rng, 1, 2)}
                     for i in range(n)], pa.struct([("width", pa.int32()), ("source", pa.string())]))
    after = Col("similarity", "double", [float(x) for x in rng.random(n)], nullable=False)
    # A flat column after the nested ones: its leaf index (5) differs from its field index (4).
    path = os.path.join(OUT, "nested_columns.parquet")
    t = table(flat, [(pa.field("tags", tags.type), tags), (pa.field("meta", meta.type), meta)])
    t = t.append_column(pa.field("similarity", pa.float64(), nullable=False), pa.array(after.values, pa.float64()))
    pq.write_table(t, path, compression="snappy")
    cols = flat + [after]
    check_values(path, cols)
    write_json(os.path.join(OUT, "nested_columns.expected.json"),
               expected(path, cols, "pyarrow", unsupported=("tags", "meta")))


def duckdb_cols(seed, n):
    """DuckDB dictionary-encodes only low-cardinality columns: license, width and (mostly) caption are, url is not."""
    rng = np.random.default_rng(seed)
    sizes = [256, 512, 640, 1024, 1080]
    return [Col("url", "string", urls(rng, n)),
            Col("caption", "string", with_nulls(captions(rng, n, pool=10, repeat=0.9), null_mask(rng, n, "random30"))),
            Col("license", "string", ["?" if x < 0.9 else "cc-by-4.0" for x in rng.random(n)]),
            Col("width", "int32", with_nulls([sizes[int(k)] for k in rng.integers(0, len(sizes), n)],
                                             null_mask(rng, n, "runs"))),
            Col("height", "int64", with_nulls([int(x) for x in rng.integers(1, 4000, n)], null_mask(rng, n, "alternate"))),
            Col("similarity", "double", with_nulls([float(x) for x in rng.random(n)], rng.random(n) < 0.1)),
            Col("nsfw", "bool", with_nulls([bool(x) for x in rng.random(n) < 0.1], rng.random(n) < 0.2))]


def write_duckdb(name, cols, options, promise=None):
    path = os.path.join(OUT, name + ".parquet")
    con = duckdb.connect()
    con.execute("SET threads = 1")
    src = table(cols)
    con.register("src", src)
    sel = ", ".join('"%s"' % c.name for c in cols)
    con.execute(f"COPY (SELECT {sel} FROM src) TO '{path}' (FORMAT PARQUET{options})")
    con.close()
    check_values(path, cols)
    write_json(os.path.join(OUT, name + ".expected.json"),
               expected(path, cols, "duckdb " + duckdb.__version__, promise))


@fixture
def duckdb_files():
    # DuckDB cuts row groups at multiples of its 2,048-row vectors, so these small files have one row group each.
    # Its v1 data pages name their dictionary encoding PLAIN_DICTIONARY (2), which readers treat as RLE_DICTIONARY.
    v1 = {"license": {"data_page_encodings": {"PLAIN_DICTIONARY"}, "page_types": {"DICTIONARY_PAGE", "DATA_PAGE"}},
          "url": {"data_page_encodings": {"PLAIN"}}}
    write_duckdb("duckdb_written", duckdb_cols(1200, 250), "", v1)
    write_duckdb("duckdb_zstd", duckdb_cols(1201, 250), ", COMPRESSION zstd, ROW_GROUP_SIZE 2048", v1)
    write_duckdb("duckdb_v2", duckdb_cols(1202, 200), ", COMPRESSION snappy, PARQUET_VERSION V2",
                 {"license": {"data_page_encodings": {"RLE_DICTIONARY"}},
                  "url": {"data_page_encodings": {"DELTA_LENGTH_BYTE_ARRAY"}}})


def small_valid(seed, n=300):
    rng = np.random.default_rng(seed)
    cols = [Col("url", "string", urls(rng, n), nullable=False), Col("caption", "string", captions(rng, n))]
    return cols, table(cols)


@fixture
def broken():
    cols, t = small_valid(1300)
    tmp = os.path.join(OUT, "valid.tmp")
    pq.write_table(t, tmp, compression="snappy")
    good = open(tmp, "rb").read()
    os.remove(tmp)
    footer_len = struct.unpack("<I", good[-8:-4])[0]
    cases = {
        "truncated": (good[:len(good) // 2],
                      "truncated: a valid file cut in half, so it does not end with PAR1 and has no footer"),
        "bad_magic": (good[:-4] + b"PARX", "the last 4 bytes are PARX, not the PAR1 magic"),
        "footer_length_lies": (good[:-8] + struct.pack("<I", 0x7FFFFFF0) + b"PAR1",
                               "the footer length (0x7FFFFFF0) is larger than the file"),
    }
    for name, (data, why) in cases.items():
        open(os.path.join(OUT, name + ".parquet"), "wb").write(data)
        write_json(os.path.join(OUT, name + ".expected.json"),
                   {"error": why, "file_size": len(data), "original_size": len(good), "original_footer_length": footer_len})
    rng = np.random.default_rng(1301)
    text = "".join(url(rng, i) + "\n" for i in range(40))
    open(os.path.join(OUT, "not_parquet.parquet"), "w", encoding="utf-8").write(text)
    write_json(os.path.join(OUT, "not_parquet.expected.json"),
               {"error": "not a Parquet file: a text file of URLs (no PAR1 magic at either end)",
                "file_size": len(text.encode())})
    for name in list(cases) + ["not_parquet"]:
        try:
            pq.read_table(os.path.join(OUT, name + ".parquet"))
        except Exception:
            continue
        raise AssertionError(f"pyarrow reads {name}.parquet")


@fixture
def corrupt_page():
    rng = np.random.default_rng(1400)
    n = 180
    cols = [Col("url", "string", urls(rng, n), nullable=False),
            Col("caption", "string", with_nulls(captions(rng, n), rng.random(n) < 0.1))]
    path = os.path.join(OUT, "corrupt_page_rg1.parquet")
    pq.write_table(table(cols), path, compression="snappy", row_group_size=60)
    md = pq.ParquetFile(path).metadata
    assert md.num_row_groups == 3
    data = bytearray(open(path, "rb").read())
    cc = md.row_group(1).column(0)
    first = walk_chunk(bytes(data), cc)[0]
    start = cc.dictionary_page_offset if cc.has_dictionary_page else cc.data_page_offset
    assert first["offset"] == start
    data[start:start + first["header_bytes"]] = b"\xff" * first["header_bytes"]
    open(path, "wb").write(bytes(data))
    rows = [md.row_group(i).num_rows for i in range(3)]
    keep = [Col(c.name, c.type, c.values[:rows[0]] + c.values[rows[0] + rows[1]:], c.nullable) for c in cols]
    check_values(path, keep, row_groups=[0, 2])
    try:
        pq.ParquetFile(path).read_row_group(1, use_threads=False)
        raise AssertionError("pyarrow reads row group 1 of corrupt_page_rg1")
    except (OSError, pa.ArrowException):
        pass
    obj = {"error": f"row group 1: the url column chunk's first page header ({first['type']}, {first['header_bytes']} "
                    f"bytes at offset {start}) is overwritten with 0xFF bytes",
           "num_rows": md.num_rows, "row_groups": 3, "row_group_num_rows": rows,
           "corrupt_row_groups": [1], "corrupt_column": "url", "corrupt_offset": start,
           "corrupt_bytes": first["header_bytes"], "readable_row_groups": [0, 2],
           "values_note": "values are those of row groups 0 and 2, concatenated",
           "columns": [{"name": c.name, "type": c.type, "nullable": c.nullable, "values": c.values} for c in keep]}
    write_json(os.path.join(OUT, "corrupt_page_rg1.expected.json"), obj)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--describe", metavar="FILE", help="print a Parquet file's row groups, chunks and pages")
    ap.add_argument("--only", nargs="*", help="write only these fixture groups: " + " ".join(FIXTURES))
    args = ap.parse_args()
    if args.describe:
        describe(args.describe)
        return
    os.makedirs(OUT, exist_ok=True)
    for name, fn in FIXTURES.items():
        if not args.only or name in args.only:
            fn()
    files = sorted(f for f in os.listdir(OUT) if f.endswith(".parquet") or f.endswith(".expected.json"))
    pq_bytes = sum(os.path.getsize(os.path.join(OUT, f)) for f in files if f.endswith(".parquet"))
    js_bytes = sum(os.path.getsize(os.path.join(OUT, f)) for f in files if f.endswith(".json"))
    print(f"gen_parquet_fixtures: {len(files) // 2} fixtures in {os.path.relpath(OUT)}: "
          f"{pq_bytes / 1024:.0f} KiB of .parquet + {js_bytes / 1024:.0f} KiB of .expected.json = "
          f"{(pq_bytes + js_bytes) / 1024:.0f} KiB (pyarrow {pa.__version__}, duckdb {duckdb.__version__})")


if __name__ == "__main__":
    sys.exit(main())
