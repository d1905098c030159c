#!/usr/bin/env python3
"""Peer baseline for the Parquet reader benchmark (development tool): pyarrow on one thread reads a URL and a caption
column and turns both into Python lists of str, the work a Python pipeline does before fetching.

    .venv/bin/python scripts/parquet_peer_bench.py FILE.parquet --url-col URL --caption-col TEXT --runs 5
        prints {"rows": n, "seconds": [one per run], "median": s}
    .venv/bin/python scripts/parquet_peer_bench.py --make FILE.parquet --rows 1000000
        writes a LAION-shaped input: SAMPLE_ID, URL (~90 bytes), TEXT (~50 bytes, some null), HEIGHT, WIDTH,
        similarity, hash, punsafe; snappy, row groups of 100,000 rows, the same bytes for the same --rows and --seed
"""
import argparse
import json
import statistics
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROW_GROUP = 100_000
WORDS = ("a the of on in with and for red blue green black white small large old new vintage modern photo picture "
         "image drawing vector icon logo illustration poster sunset beach mountain river city street night portrait "
         "cat dog bird flower tree house car wedding dress shoes kitchen garden abstract pattern background texture "
         "wooden table chair lamp sofa bedroom living room summer winter spring autumn women men kids shirt jacket "
         "café naïve 日本 東京 猫 写真 Привет 🐱").split()
HOSTS = ["example.com", "cdn.example.net", "images.example.org", "static.example.com", "media.example.io",
         "shop.example.co.uk", "i0.example-photos.com", "assets.example-store.com", "blog.example.net"]


def words(rng, n, lo, hi):
    """n strings of lo..hi random words each."""
    counts = rng.integers(lo, hi + 1, n)
    picks = rng.integers(0, len(WORDS), int(counts.sum()))
    out, at = [], 0
    for c in counts:
        out.append(" ".join(WORDS[k] for k in picks[at:at + c]))
        at += c
    return out


def make_batch(rng, start, n):
    hosts = rng.integers(0, len(HOSTS), n)
    ids = rng.integers(0, 2**63, n, dtype=np.int64)
    slugs = words(rng, n, 2, 4)
    years = rng.integers(2008, 2024, n)
    months = rng.integers(1, 13, n)
    # ~90 bytes: https://host/wp-content/uploads/YYYY/MM/slug-with-words-0123456789abcdef.jpg
    urls = [f"https://{HOSTS[h]}/wp-content/uploads/{y}/{m:02d}/{s.replace(' ', '-')}-{i:016x}.jpg"
            for h, y, m, s, i in zip(hosts, years, months, slugs, ids)]
    captions = words(rng, n, 4, 12)  # ~50 bytes
    text = pa.array(captions, pa.string(), mask=rng.random(n) < 0.01)
    return pa.table({
        "SAMPLE_ID": pa.array(np.arange(start, start + n, dtype=np.int64)),
        "URL": pa.array(urls, pa.string()),
        "TEXT": text,
        "HEIGHT": pa.array(rng.integers(64, 4096, n).astype(np.int32), mask=rng.random(n) < 0.05),
        "WIDTH": pa.array(rng.integers(64, 4096, n).astype(np.int32), mask=rng.random(n) < 0.05),
        "similarity": pa.array(rng.uniform(0.28, 0.45, n)),
        "hash": pa.array(rng.integers(-2**63, 2**63 - 1, n, dtype=np.int64)),
        "punsafe": pa.array(rng.beta(0.5, 8, n).astype(np.float32), mask=rng.random(n) < 0.02),
    })


def make(path, rows, seed):
    rng = np.random.default_rng(seed)
    writer = None
    url_bytes = text_bytes = 0
    for start in range(0, rows, ROW_GROUP):
        t = make_batch(rng, start, min(ROW_GROUP, rows - start))
        url_bytes += sum(len(u.encode()) for u in t.column("URL").to_pylist())
        text_bytes += sum(len(c.encode()) for c in t.column("TEXT").to_pylist() if c is not None)
        if writer is None:
            writer = pq.ParquetWriter(path, t.schema, compression="snappy")
        writer.write_table(t, row_group_size=ROW_GROUP)
    writer.close()
    md = pq.ParquetFile(path).metadata
    print(json.dumps({"file": path, "rows": md.num_rows, "row_groups": md.num_row_groups,
                      "mean_url_bytes": round(url_bytes / max(rows, 1), 1),
                      "mean_caption_bytes": round(text_bytes / max(rows, 1), 1)}))


def bench(path, url_col, caption_col, runs):
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    seconds, rows = [], None
    for _ in range(runs):
        # Timed as Winnow's side is: the values are made and let go (Winnow frees each candidate once counted).
        t0 = time.perf_counter()
        table = pq.read_table(path, columns=[url_col, caption_col], use_threads=False)
        urls = table.column(url_col).to_pylist()
        captions = table.column(caption_col).to_pylist()
        rows = len(urls)
        assert len(captions) == rows
        del table, urls, captions
        seconds.append(time.perf_counter() - t0)
    print(json.dumps({"rows": rows, "seconds": [round(s, 4) for s in seconds],
                      "median": round(statistics.median(seconds), 4)}))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file", nargs="?", help="the Parquet file to read")
    ap.add_argument("--url-col", default="URL")
    ap.add_argument("--caption-col", default="TEXT")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--make", metavar="FILE", help="write a LAION-shaped benchmark input instead")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.make:
        make(args.make, args.rows, args.seed)
    elif args.file:
        bench(args.file, args.url_col, args.caption_col, args.runs)
    else:
        ap.error("give a FILE to read or --make FILE")


if __name__ == "__main__":
    sys.exit(main())
