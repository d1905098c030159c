#!/usr/bin/env python3
"""Near-duplicate benchmark (development tool; run in .venv-bench-dedup, which scripts/bench-setup.sh makes).

Generates a set with ground truth, then measures precision and recall per transformation for Winnow's duplicate
levels (identical bytes; PDQ within 31 bits, as `winnow hash` computes it and the pipeline matches it: the whole image's
hash, the hash inside a uniform border, and the mirror image's hash as a query) beside
imagededup 0.3's pHash (its default threshold, Hamming distance <= 10 of 64 bits) on the same files.

Base images: tiles of 240x240 cut from the photographs scikit-image ships (astronaut, coffee, chelsea, rocket,
retina, hubble...), near-uniform tiles left out (their hashes are noise for any method). Tiles of one photo are
different images with similar texture: realistic hard negatives. Each base gets every transformation below.

  python scripts/near_dup_bench.py --winnow .build/release/winnow [--out DIR]
"""
import argparse
import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import importlib.util

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

PHOTOS = ["astronaut.png", "brick.png", "camera.png", "cell.png", "chelsea.png", "coffee.png", "coins.png",
          "grass.png", "gravel.png", "hubble_deep_field.jpg", "ihc.png", "motorcycle_left.png", "retina.jpg",
          "rocket.jpg", "moon.png", "page.png", "text.png", "color.png", "logo.png", "clock_motion.png"]
TILE = 240
BENIGN = {"rescale_50", "rescale_75", "rescale_150", "jpeg_q30", "jpeg_q50", "jpeg_q70", "jpeg_q90", "border",
          "padding_square", "format_webp", "format_jpeg"}


def bases():
    data = os.path.join(os.path.dirname(importlib.util.find_spec("skimage").origin), "data")
    out = []
    for name in PHOTOS:
        im = Image.open(os.path.join(data, name)).convert("RGB")
        w, h = im.size
        n = 0
        for y in range(0, h - TILE + 1, TILE):
            for x in range(0, w - TILE + 1, TILE):
                tile = im.crop((x, y, x + TILE, y + TILE))
                if np.asarray(tile.convert("L"), dtype=np.float32).std() < 20 or n >= 8:
                    continue
                out.append((f"{name.split('.')[0]}_{x}_{y}", tile))
                n += 1
    return out


def encoded(im, fmt, **kw):
    b = io.BytesIO()
    im.save(b, format=fmt, **kw)
    return b.getvalue()


def variants(im, rng):
    w, h = im.size
    font = ImageFont.load_default()
    out = {}
    out["rescale_50"] = encoded(im.resize((w // 2, h // 2), Image.BICUBIC), "PNG")
    out["rescale_75"] = encoded(im.resize((w * 3 // 4, h * 3 // 4), Image.BICUBIC), "PNG")
    out["rescale_150"] = encoded(im.resize((w * 3 // 2, h * 3 // 2), Image.BICUBIC), "PNG")
    for q in (30, 50, 70, 90):
        out[f"jpeg_q{q}"] = encoded(im, "JPEG", quality=q)
    for pct in (5, 10):
        dx, dy = w * pct // 200, h * pct // 200  # pct % of each side in all, split between both ends
        out[f"crop_{pct}"] = encoded(im.crop((dx, dy, w - dx, h - dy)), "PNG")
    out["crop_10_corner"] = encoded(im.crop((0, 0, w * 9 // 10, h * 9 // 10)), "PNG")
    out["rotate_3"] = encoded(im.rotate(3, resample=Image.BICUBIC), "PNG")
    out["rotate_10"] = encoded(im.rotate(10, resample=Image.BICUBIC), "PNG")
    out["flip"] = encoded(ImageOps.mirror(im), "PNG")
    out["brightness_120"] = encoded(ImageEnhance.Brightness(im).enhance(1.2), "PNG")
    out["contrast_130"] = encoded(ImageEnhance.Contrast(im).enhance(1.3), "PNG")
    t = im.copy()
    d = ImageDraw.Draw(t)
    d.text((10, h - 20), "(c) example.com 2024", fill=(255, 255, 255), font=font)
    out["text_overlay"] = encoded(t, "PNG")
    t = im.convert("RGBA")
    layer = Image.new("RGBA", t.size, (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    d.rectangle((w // 4, h // 3, w * 3 // 4, h * 2 // 3), fill=(255, 255, 255, 110))
    d.text((w // 4 + 8, h // 2 - 6), "WATERMARK", fill=(0, 0, 0, 160), font=font)
    out["watermark"] = encoded(Image.alpha_composite(t, layer).convert("RGB"), "PNG")
    out["border"] = encoded(ImageOps.expand(im, border=w // 10, fill=(255, 255, 255)), "PNG")
    square = Image.new("RGB", (w, h + h // 3), (0, 0, 0))
    square.paste(im, (0, h // 6))
    out["padding_square"] = encoded(square, "PNG")
    out["format_webp"] = encoded(im, "WEBP", quality=90)
    out["format_jpeg"] = encoded(im, "JPEG", quality=95)
    return out


def winnow_hashes(winnow, files):
    out = {}
    for i in range(0, len(files), 200):
        r = subprocess.run([winnow, "hash"] + files[i:i + 200], capture_output=True, text=True)
        for line in r.stdout.splitlines():
            o = json.loads(line)
            out[o["file"]] = o
    return out


def pdq_bits(hex_text):
    return np.unpackbits(np.frombuffer(bytes.fromhex(hex_text), dtype=np.uint8))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--winnow", required=True)
    ap.add_argument("--out")
    a = ap.parse_args()
    from imagededup.methods import PHash
    work = a.out or tempfile.mkdtemp(prefix="winnow-neardup-")
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(1)
    truth = {}  # variant file -> (base id, transformation)
    base_files = []
    for bid, im in bases():
        path = os.path.join(work, f"{bid}.png")
        im.save(path)
        base_files.append(path)
        for t, data in variants(im, rng).items():
            ext = {"format_webp": "webp", "format_jpeg": "jpg"}.get(t, "jpg" if t.startswith("jpeg") else "png")
            vpath = os.path.join(work, f"{bid}__{t}.{ext}")
            with open(vpath, "wb") as f:
                f.write(data)
            truth[vpath] = (path, t)
    files = base_files + sorted(truth)
    hashes = winnow_hashes(a.winnow, files)
    phash = PHash(verbose=False)
    ph = {f: phash.encode_image(image_file=f) for f in files}

    # Each base's PDQ, and its PDQ inside a uniform border when it has one (as the pipeline stores and matches).
    rows = [(i, hashes[b][k]) for i, b in enumerate(base_files) for k in ("pdq", "pdq_trimmed") if hashes[b].get(k)]
    base_index = np.array([i for i, _ in rows])
    base_pdq = np.stack([pdq_bits(h) for _, h in rows])
    base_q = np.array([hashes[base_files[i]]["pdq_quality"] for i in base_index])
    base_ph = np.stack([np.unpackbits(np.frombuffer(bytes.fromhex(ph[b]), dtype=np.uint8)) for b in base_files])
    base_sha = {hashes[b]["sha256"]: b for b in base_files}
    methods = ["exact", "pdq", "phash"]
    stats = {}  # transformation -> method -> [tp, fp, fn]
    for vpath, (base, t) in sorted(truth.items(), key=lambda kv: kv[1][1]):
        h = hashes[vpath]
        s = stats.setdefault(t, {m: [0, 0, 0] for m in methods})
        # exact
        match = base_sha.get(h["sha256"])
        s["exact"][0 if match == base else 2] += 1
        if match and match != base:
            s["exact"][1] += 1
        # PDQ: bases within 31 bits, both hashes of quality >= 50 (as the pipeline matches)
        hits = set()
        if h.get("pdq") and h["pdq_quality"] >= 50:
            for k in ("pdq", "pdq_trimmed", "pdq_mirrored"):
                if h.get(k):
                    d = (base_pdq != pdq_bits(h[k])).sum(axis=1)
                    hits |= {base_files[base_index[i]] for i in np.nonzero((d <= 31) & (base_q >= 50))[0]}
        s["pdq"][0 if base in hits else 2] += 1
        s["pdq"][1] += len(hits - {base})
        # imagededup pHash at its default threshold
        d = (base_ph != np.unpackbits(np.frombuffer(bytes.fromhex(ph[vpath]), dtype=np.uint8))).sum(axis=1)
        hits = {base_files[i] for i in np.nonzero(d <= 10)[0]}
        s["phash"][0 if base in hits else 2] += 1
        s["phash"][1] += len(hits - {base})
    # Distinct bases matching each other: false positives among originals.
    pairs_pdq = len({(base_index[i], base_index[j]) for i in range(len(rows)) for j in range(i + 1, len(rows))
                     if base_index[i] != base_index[j] and base_q[i] >= 50 and base_q[j] >= 50
                     and (base_pdq[i] != base_pdq[j]).sum() <= 31})
    pairs_ph = sum(int((base_ph[i] != base_ph[j]).sum() <= 10)
                   for i in range(len(base_files)) for j in range(i + 1, len(base_files)))

    def pr(c):
        tp, fp, fn = c
        p = tp / (tp + fp) if tp + fp else 1.0
        r = tp / (tp + fn) if tp + fn else 0.0
        return p, r

    print(f"near-dup: {len(base_files)} bases (240x240 tiles of scikit-image's photographs), "
          f"{len(truth)} variants; low-quality PDQ (< 50) among variants: "
          f"{sum(1 for v in truth if hashes[v]['pdq_quality'] < 50)}")
    print("| transformation | variants | exact P / R | PDQ <= 31 (+ inside border, mirror) P / R | imagededup pHash <= 10 P / R |")
    print("|---|---|---|---|---|")
    totals = {"benign": {m: [0, 0, 0] for m in methods}, "all": {m: [0, 0, 0] for m in methods}}
    for t in sorted(stats):
        row = [f"| {t}{' (benign)' if t in BENIGN else ''} | {sum(stats[t]['pdq'][i] for i in (0, 2))} "]
        for m in methods:
            p, r = pr(stats[t][m])
            row.append(f"| {p:.3f} / {r:.3f} ")
            for group in (["benign", "all"] if t in BENIGN else ["all"]):
                totals[group][m] = [x + y for x, y in zip(totals[group][m], stats[t][m])]
        print("".join(row) + "|")
    for group in ("benign", "all"):
        row = [f"| **{group}** | {sum(totals[group]['pdq'][i] for i in (0, 2))} "]
        for m in methods:
            p, r = pr(totals[group][m])
            row.append(f"| **{p:.3f} / {r:.3f}** ")
        print("".join(row) + "|")
    print(f"distinct bases matched to each other: PDQ {pairs_pdq}, pHash {pairs_ph} "
          f"(of {len(base_files) * (len(base_files) - 1) // 2} pairs)")


if __name__ == "__main__":
    sys.exit(main())
