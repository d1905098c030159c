#!/usr/bin/env python3
"""Generate a synthetic "web of images" for the fetch benchmark.

    python scripts/bench_fetch_web.py --out DIR --count 5000 --seed 1

writes
    DIR/site/img/NNNNN.{jpg,png,webp,avif}  the images nginx serves (DIR/site is the web root)
    DIR/urls.txt                       one URL a line: http://127.0.0.1:{PORT}/img/NNNNN.ext
    DIR/urls.csv                       url,caption (caption = file name), for img2dataset
    DIR/manifest.json                  parameters and figures of the generated web

`--count` is the number of URLs. About `--broken` (default 5%) of them point to
files that are never written (broken links, nginx answers 404); the rest exist.
`{PORT}` is a literal placeholder that scripts/bench_fetch_peer.sh replaces with
the port nginx listens on.

Images look roughly like photos so that encoded sizes are web-like: a smooth
low-frequency colour field, mid-frequency "texture", a few soft shapes, and
sensor-like noise. Formats: ~70% JPEG (quality 75..92, sizes 640x480..1600x1200,
mostly 30-300 KB), ~20% PNG (screenshot/graphics-like, flatter, 400x300..1024x768),
~10% WebP (photo-like, quality 75..92).

Every image is derived from (seed, index) alone, so the output is the same for a
seed whatever the number of worker processes. Needs Pillow and numpy.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import PIL
from PIL import Image, ImageDraw, ImageFilter

GENERATOR_VERSION = 2

# web-ish photo sizes (landscape; some are turned to portrait)
PHOTO_SIZES = [
    (640, 480), (800, 600), (960, 640), (1024, 768), (1024, 683),
    (1200, 800), (1280, 720), (1280, 960), (1600, 900), (1600, 1200),
]
PHOTO_WEIGHTS = [14, 14, 10, 14, 8, 10, 10, 8, 6, 6]
GRAPHIC_SIZES = [(400, 300), (512, 384), (640, 480), (800, 600), (1024, 768)]
GRAPHIC_WEIGHTS = [20, 20, 25, 20, 15]


def _plan(seed: int, count: int, broken_frac: float, png_frac: float, webp_frac: float, avif_frac: float = 0.0):
    """Per-index (ext, broken) decided up front from one RNG: deterministic."""
    rng = np.random.default_rng([seed, 0xB0B])
    u = rng.random(count)
    exts = np.where(u < webp_frac, "webp", np.where(u < webp_frac + png_frac, "png", "jpg"))
    # AVIF takes the top of the range, so that the other formats keep the files they had before it was added.
    exts = np.where(u >= 1.0 - avif_frac, "avif", exts)
    n_broken = int(round(count * broken_frac))
    broken = np.zeros(count, dtype=bool)
    if n_broken:
        broken[rng.choice(count, size=n_broken, replace=False)] = True
    return [str(e) for e in exts], broken


def _smooth_field(rng, w, h, grid_w, grid_h, channels, lo, hi):
    """Random values on a coarse grid, bicubically upscaled: smooth gradients."""
    small = rng.integers(lo, hi, size=(grid_h, grid_w, channels), dtype=np.uint8)
    mode = "RGB" if channels == 3 else "L"
    img = Image.fromarray(small if channels == 3 else small[:, :, 0], mode)
    return img.resize((w, h), Image.BICUBIC)


def _shapes(rng, img, n, blur):
    """Alpha-blend n random ellipses/rectangles/polygons onto img (optionally blurred)."""
    w, h = img.size
    layer = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    for _ in range(n):
        x0, y0 = int(rng.integers(-w // 4, w)), int(rng.integers(-h // 4, h))
        sw, sh = int(rng.integers(max(2, w // 12), max(3, w // 2))), int(rng.integers(max(2, h // 12), max(3, h // 2)))
        col = tuple(int(c) for c in rng.integers(0, 256, 3)) + (int(rng.integers(90, 230)),)
        kind = rng.integers(0, 3)
        if kind == 0:
            d.ellipse([x0, y0, x0 + sw, y0 + sh], fill=col)
        elif kind == 1:
            d.rectangle([x0, y0, x0 + sw, y0 + sh], fill=col)
        else:
            pts = [(int(x0 + rng.integers(0, sw)), int(y0 + rng.integers(0, sh))) for _ in range(int(rng.integers(3, 7)))]
            d.polygon(pts, fill=col)
    if blur:
        layer = layer.filter(ImageFilter.GaussianBlur(radius=blur))
    img.paste(layer, (0, 0), layer)
    return img


_NOISE = {}


def _noise_bank(seed):
    """Per-seed bank of N(0, 4) noise as int16, cropped at random offsets per image.
    Made once per process; depends on the seed only, so output stays deterministic."""
    if seed not in _NOISE:
        r = np.random.default_rng([seed, 0x4015E])
        _NOISE[seed] = np.round(r.normal(0.0, 4.0, size=(1800, 1800))).astype(np.int16)
    return _NOISE[seed]


def _photo(rng, w, h, seed):
    """Photo-like: smooth colour field + soft shapes (made at 1/4 scale, upscaled),
    mid-frequency texture on part of the frame, and sensor-like noise."""
    sw, sh = max(8, w // 4), max(8, h // 4)
    small = _smooth_field(rng, sw, sh, int(rng.integers(3, 9)), int(rng.integers(3, 7)), 3, 20, 236)
    # photos are far less saturated than random RGB: pull colours toward their luminance
    small = Image.blend(small.convert("L").convert("RGB"), small, float(rng.uniform(0.25, 0.65)))
    small = _shapes(rng, small, int(rng.integers(2, 9)), blur=float(rng.uniform(0.3, 1.5)))
    base = small.resize((w, h), Image.BILINEAR)
    # texture (foliage / fabric / gravel), strength varies a lot between images and
    # is confined to a "detailed" region so encoded sizes spread out
    cell = int(rng.choice([3, 4, 6, 8, 12]))
    tw, th = max(2, w // cell), max(2, h // cell)
    tex = rng.integers(0, 256, size=(th, tw), dtype=np.int16) - 128
    mask = np.asarray(_smooth_field(rng, tw, th, 3, 3, 1, 0, 256), dtype=np.int16)
    amp = int(rng.integers(4, 32))
    tex = 128 + (tex * mask * amp) // (255 * 128)
    tex_full = np.asarray(Image.fromarray(tex.astype(np.uint8), "L").resize((w, h), Image.BILINEAR), dtype=np.int16) - 128
    # sensor noise: a random crop of the per-seed bank, scaled (bank sigma is 4)
    bank = _noise_bank(seed)
    oy, ox = int(rng.integers(0, bank.shape[0] - h + 1)), int(rng.integers(0, bank.shape[1] - w + 1))
    k = int(rng.integers(1, 5))  # sigma 1..4
    noise = (bank[oy:oy + h, ox:ox + w] * k) >> 2
    a = np.asarray(base, dtype=np.int16) + (tex_full + noise)[:, :, None]
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "RGB")


def _graphic(rng, w, h):
    """Screenshot/graphics-like image for PNG: flat regions, hard shapes, little noise."""
    base = _smooth_field(rng, w, h, 2, 2, 3, 30, 230)
    base = _shapes(rng, base, int(rng.integers(4, 14)), blur=0)
    d = ImageDraw.Draw(base)
    for _ in range(int(rng.integers(3, 20))):  # "text lines"
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        d.rectangle([x, y, x + int(rng.integers(20, w // 2)), y + int(rng.integers(3, 9))],
                    fill=tuple(int(c) for c in rng.integers(0, 120, 3)))
    if rng.random() < 0.5:  # some carry a little photo-ish grain
        a = np.asarray(base, dtype=np.int16)
        a = a + rng.integers(-2, 3, size=(h, w, 1), dtype=np.int16)
        base = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "RGB")
    return base


def _make_one(job):
    seed, idx, ext, path = job
    rng = np.random.default_rng([seed, idx])
    if ext == "png":
        w, h = GRAPHIC_SIZES[rng.choice(len(GRAPHIC_SIZES), p=np.array(GRAPHIC_WEIGHTS) / sum(GRAPHIC_WEIGHTS))]
    else:
        w, h = PHOTO_SIZES[rng.choice(len(PHOTO_SIZES), p=np.array(PHOTO_WEIGHTS) / sum(PHOTO_WEIGHTS))]
    if rng.random() < 0.2:
        w, h = h, w  # portrait
    tmp = path + ".tmp"
    if ext == "jpg":
        img = _photo(rng, w, h, seed)
        img.save(tmp, "JPEG", quality=int(rng.integers(75, 93)), optimize=False)
    elif ext == "webp":
        img = _photo(rng, w, h, seed)
        img.save(tmp, "WEBP", quality=int(rng.integers(75, 93)), method=2)
    elif ext == "avif":
        # Debian's avifenc (libavif-bin) from a PNG of the photo: 8-bit 4:2:0, as CDNs serve AVIF.
        img = _photo(rng, w, h, seed)
        png = path + ".src.png"
        img.save(png, "PNG", compress_level=1)
        q = int(rng.integers(18, 30))
        subprocess.run(["avifenc", "--speed", "8", "--min", str(q), "--max", str(q + 4), "--yuv", "420",
                        png, tmp], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.remove(png)
        os.replace(tmp, path)
        return idx, ext, w, h, os.path.getsize(path)
    else:
        img = _graphic(rng, w, h)
        img.save(tmp, "PNG", compress_level=6)
    os.replace(tmp, path)
    return idx, ext, w, h, os.path.getsize(path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="output directory (DIR)")
    ap.add_argument("--count", type=int, default=5000, help="number of URLs (default 5000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--broken", type=float, default=0.05, help="fraction of URLs with no file behind them")
    ap.add_argument("--png", type=float, default=0.20, help="fraction of PNG")
    ap.add_argument("--webp", type=float, default=0.10, help="fraction of WebP (rest is JPEG)")
    ap.add_argument("--avif", type=float, default=0.03, help="fraction of AVIF (needs avifenc, libavif-bin)")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="worker processes (default 2)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--force", action="store_true", help="regenerate even if DIR holds this very web already")
    args = ap.parse_args(argv)

    out = os.path.abspath(args.out)
    img_dir = os.path.join(out, "site", "img")
    manifest_path = os.path.join(out, "manifest.json")
    params = dict(generator_version=GENERATOR_VERSION, count=args.count, seed=args.seed, broken=args.broken,
                  png=args.png, webp=args.webp, avif=args.avif, host=args.host)

    if not args.force and os.path.exists(manifest_path):
        try:
            with open(manifest_path) as f:
                old = json.load(f)
            if old.get("params") == params and old.get("complete"):
                print(f"bench_fetch_web: {out} already holds this web (seed {args.seed}, {args.count} urls); "
                      f"use --force to regenerate", file=sys.stderr)
                return 0
        except (OSError, ValueError):
            pass

    t0 = time.monotonic()
    if os.path.exists(os.path.join(out, "site")):
        shutil.rmtree(os.path.join(out, "site"))
    if os.path.exists(manifest_path):
        os.remove(manifest_path)
    os.makedirs(img_dir, exist_ok=True)

    exts, broken = _plan(args.seed, args.count, args.broken, args.png, args.webp, args.avif)
    width = max(5, len(str(args.count - 1)))
    names = [f"{i:0{width}d}.{exts[i]}" for i in range(args.count)]
    jobs = [(args.seed, i, exts[i], os.path.join(img_dir, names[i])) for i in range(args.count) if not broken[i]]

    results = []
    done = 0
    if args.jobs <= 1:
        it = map(_make_one, jobs)
        pool = None
    else:
        pool = ProcessPoolExecutor(max_workers=args.jobs)
        it = pool.map(_make_one, jobs, chunksize=16)
    try:
        for r in it:
            results.append(r)
            done += 1
            if done % 500 == 0 or done == len(jobs):
                print(f"bench_fetch_web: {done}/{len(jobs)} images, {time.monotonic() - t0:.1f} s", file=sys.stderr)
    finally:
        if pool is not None:
            pool.shutdown()

    with open(os.path.join(out, "urls.txt"), "w") as f:
        for n in names:
            f.write(f"http://{args.host}:{{PORT}}/img/{n}\n")
    with open(os.path.join(out, "urls.csv"), "w", newline="") as f:
        wr = csv.writer(f, lineterminator="\n")
        wr.writerow(["url", "caption"])
        for n in names:
            wr.writerow([f"http://{args.host}:{{PORT}}/img/{n}", n])
    with open(os.path.join(out, "site", "index.html"), "w") as f:
        f.write("<!doctype html><title>bench fetch web</title><p>synthetic image web</p>\n")

    gen_s = time.monotonic() - t0
    sizes = {}
    for _, ext, _, _, size in results:
        sizes.setdefault(ext, []).append(size)
    per_format = {}
    for ext, s in sorted(sizes.items()):
        a = np.array(s)
        per_format[ext] = dict(files=int(a.size), bytes=int(a.sum()), min=int(a.min()),
                               p10=int(np.percentile(a, 10)), median=int(np.median(a)),
                               p90=int(np.percentile(a, 90)), max=int(a.max()),
                               frac_30k_300k=round(float(((a >= 30_000) & (a <= 300_000)).mean()), 3))
    h = hashlib.sha256()
    for idx, ext, w, hh, size in sorted(results):
        h.update(f"{idx},{ext},{w},{hh},{size}\n".encode())
    manifest = dict(
        params=params, complete=True,
        urls=args.count, files=len(results), broken=int(broken.sum()),
        total_bytes=int(sum(r[4] for r in results)), per_format=per_format,
        content_digest=h.hexdigest(), generation_seconds=round(gen_s, 2), jobs=args.jobs,
        pillow=PIL.__version__, numpy=np.__version__,
    )
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    mb = manifest["total_bytes"] / 1e6
    print(f"bench_fetch_web: {args.count} urls, {len(results)} files ({int(broken.sum())} broken links), "
          f"{mb:.1f} MB, {gen_s:.1f} s -> {out}")
    for ext, st in per_format.items():
        print(f"  {ext}: {st['files']} files, median {st['median'] / 1e3:.0f} KB "
              f"(p10 {st['p10'] / 1e3:.0f}, p90 {st['p90'] / 1e3:.0f}), {st['frac_30k_300k'] * 100:.0f}% in 30-300 KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
