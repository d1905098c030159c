#!/usr/bin/env python3
"""Interoperability check (development tool): runs `winnow demo` on a small sample web, then reads the shards it
wrote with Python's tarfile and with the webdataset package, decodes every image with Pillow, and checks the
SQLite index against the shards (one row per candidate, offsets and sizes pointing at the right bytes).
With --output DIR it checks an existing output instead (the resume test checks what 20 kills left this way)."""
import argparse
import glob
import hashlib
import io
import json
import os
import sqlite3
import subprocess
import sys
import tarfile
import tempfile

import numpy as np
import webdataset as wds
from PIL import Image


def fail(message):
    print(f"check_shards: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--winnow", required=True)
    ap.add_argument("--pages", type=int, default=12)
    ap.add_argument("--output", help="check this finished output instead of a new demo run")
    args = ap.parse_args()
    if args.output:
        check(args.output, args.winnow)
        return
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [args.winnow, "demo", "--output", tmp, "--pages", str(args.pages), "--pipeline", "pipelines/demo.json"],
            check=True, stdout=subprocess.DEVNULL)
        check(os.path.join(tmp, "out"), args.winnow)


def check(out, winnow):
    checks = 0
    if True:
        shards = sorted(glob.glob(os.path.join(out, "*.tar")))
        if not shards:
            fail("no shards written")
        db = sqlite3.connect(os.path.join(out, "index.sqlite"))
        kept = {row[0]: row[1:] for row in db.execute(
            "SELECT key, shard, offset, size, sha256, caption FROM samples WHERE status = 'kept'")}

        # tarfile: every member is KEY.{jpg,txt,json}; offsets and sizes in the index point at the image bytes.
        seen = set()
        for path in shards:
            with tarfile.open(path) as tf:
                for m in tf.getmembers():
                    key, ext = m.name.split(".", 1)
                    if ext not in ("jpg", "png", "txt", "json"):
                        fail(f"{path}: unexpected member {m.name}")
                    if ext in ("jpg", "png"):
                        shard, offset, size, _, _ = kept[key]
                        if shard != os.path.basename(path) or offset != m.offset_data or size != m.size:
                            fail(f"{key}: index says {shard}@{offset}+{size}, tar has {m.offset_data}+{m.size}")
                        Image.open(io.BytesIO(tf.extractfile(m).read())).load()
                        seen.add(key)
                        checks += 1
        if seen != set(kept):
            fail(f"index has {len(kept)} kept samples, shards hold {len(seen)}")
        # Each key in exactly one tar, and the shards the index lists are exactly those on disk.
        members = [m.name.split(".", 1)[0] for path in shards for m in tarfile.open(path).getmembers()
                   if m.name.split(".", 1)[1] in ("jpg", "png")]
        if len(members) != len(set(members)):
            fail(f"{len(members) - len(set(members))} keys are in more than one tar")
        listed = {row[0] for row in db.execute("SELECT name FROM shards")}
        if listed != {os.path.basename(p) for p in shards}:
            fail(f"the index lists shards {sorted(listed)}, the directory holds {sorted(map(os.path.basename, shards))}")
        if glob.glob(os.path.join(out, "*.partial")) or glob.glob(os.path.join(out, "*_emb", "*.partial")):
            fail("partial files left in a finished output")
        checks += 2

        # webdataset: the shards load as samples with an image, a caption and metadata.
        n = 0
        for sample in wds.WebDataset(shards, shardshuffle=False).decode("pil"):
            image = sample.get("jpg") or sample.get("png")
            if image is None or image.size[0] == 0:
                fail(f"{sample['__key__']}: no decodable image")
            meta = sample["json"]
            if meta["key"] != sample["__key__"] or meta["caption"] != sample["txt"]:
                fail(f"{sample['__key__']}: json/txt disagree")
            if kept[sample["__key__"]][4] != sample["txt"]:
                fail(f"{sample['__key__']}: caption differs from the index")
            n += 1
        if n != len(kept):
            fail(f"webdataset read {n} samples, index has {len(kept)} kept")

        # Every candidate has exactly one row, and the stats agree with it.
        total = db.execute("SELECT count(*) FROM samples").fetchone()[0]
        stats = json.loads(subprocess.run([winnow, "stats", out, "--json"], check=True,
                                          capture_output=True, text=True).stdout)
        if stats["candidates"] != total or stats["kept"] != len(kept):
            fail(f"winnow stats {stats} disagrees with the index ({total} rows, {len(kept)} kept)")
        checks += 3

        # numpy: the embed stage's per-shard embedding files load with np.load, one unit-length row per kept
        # sample in the order of embedding_row, and each sample's similarity is the dot product of its two rows.
        has_embeddings = os.path.isdir(os.path.join(out, "img_emb"))
        rows = db.execute(
            "SELECT shard, embedding_row, similarity FROM samples WHERE status = 'kept' ORDER BY shard, offset")
        if not has_embeddings:
            rows = []
        by_shard = {}
        for shard, row, similarity in rows:
            if row is None or similarity is None:
                fail(f"{shard}: a kept sample has no embedding row or similarity")
            by_shard.setdefault(shard, []).append((row, similarity))
        for shard, entries in by_shard.items():
            number = shard[:-len(".tar")]
            image = np.load(os.path.join(out, "img_emb", f"img_emb_{number}.npy"))
            text = np.load(os.path.join(out, "text_emb", f"text_emb_{number}.npy"))
            if image.dtype != np.float16 or image.shape != text.shape or image.shape[0] != len(entries):
                fail(f"{shard}: embeddings {image.dtype} {image.shape} / {text.shape} for {len(entries)} samples")
            if [r for r, _ in entries] != list(range(len(entries))):
                fail(f"{shard}: embedding rows are not 0..n-1 in tar order")
            norms = np.linalg.norm(image.astype(np.float32), axis=1)
            if np.abs(norms - 1).max() > 2e-3:
                fail(f"{shard}: image embeddings are not unit length ({norms.min()}..{norms.max()})")
            dots = (image.astype(np.float32) * text.astype(np.float32)).sum(axis=1)
            if np.abs(dots - np.array([s for _, s in entries])).max() > 5e-3:
                fail(f"{shard}: similarities in the index differ from the embeddings' dot products")
            checks += 1
    print(f"check_shards: {checks} passed, 0 failed ({n} samples read with tarfile and webdataset)")


if __name__ == "__main__":
    main()
