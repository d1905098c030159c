"""Image-stage peers for winnow-bench (development tool, run from .venv-bench-fetch).

    python scripts/image_peer_bench.py TOOL LIST [--size 256] [--quality 95] [--runs 3] [--serve]

TOOL is `img2dataset` (img2dataset 1.47's own Resizer class: cv2.imdecode, INTER_AREA, centre crop, cv2.imencode,
as img2dataset calls it for each download) or `pillow-draft` (Pillow: Image.draft for JPEG DCT scaling, short side
to SIZE with LANCZOS, centre crop, JPEG QUALITY). LIST holds one image path per line. Every file is read into
memory first; one core (cv2.setNumThreads(1), as img2dataset sets it). Prints `ok=N images_per_s=R` per run after
a warm-up run. With --serve, after the warm-up it runs once for each line read from stdin and prints that run's
line, so that winnow-bench can alternate its own runs with this tool's without a process start between them.
"""

import argparse
import io
import os
import sys
import time

# img2dataset imports albumentations, which otherwise looks for a newer version of itself on the network.
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")


def img2dataset_tool(size, quality):
    from img2dataset.resizer import Resizer

    resizer = Resizer(image_size=size, resize_mode="center_crop", resize_only_if_bigger=False,
                      encode_quality=quality, encode_format="jpg")

    def run(data):
        out = resizer(io.BytesIO(data))
        return out[5] is None

    return run


def pillow_draft_tool(size, quality):
    from PIL import Image

    def run(data):
        try:
            im = Image.open(io.BytesIO(data))
            if im.format == "JPEG":
                im.draft("RGB", (size, size))
            if im.mode in ("RGBA", "LA", "P"):
                im = im.convert("RGBA")
                background = Image.new("RGBA", im.size, (255, 255, 255, 255))
                im = Image.alpha_composite(background, im)
            im = im.convert("RGB")
            w, h = im.size
            scale = size / min(w, h)
            nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
            im = im.resize((nw, nh), Image.LANCZOS)
            left, top = (nw - size) // 2, (nh - size) // 2
            im = im.crop((left, top, left + size, top + size))
            out = io.BytesIO()
            im.save(out, "JPEG", quality=quality)
            return True
        except Exception:  # a failed sample counts as not ok, as in the pipeline
            return False

    return run


def main():
    p = argparse.ArgumentParser()
    p.add_argument("tool", choices=["img2dataset", "pillow-draft"])
    p.add_argument("list")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--quality", type=int, default=95)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--serve", action="store_true")
    a = p.parse_args()
    files = [line.strip() for line in open(a.list) if line.strip()]
    data = [open(f, "rb").read() for f in files]
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:
        pass
    tool = img2dataset_tool(a.size, a.quality) if a.tool == "img2dataset" else pillow_draft_tool(a.size, a.quality)
    def one_run():
        t0 = time.perf_counter()
        ok = sum(1 for d in data if tool(d))
        return f"ok={ok} images_per_s={len(data) / (time.perf_counter() - t0):.2f}"

    one_run()  # warm-up
    if a.serve:
        print("ready", flush=True)
        for _ in sys.stdin:
            print(one_run(), flush=True)
        return 0
    for _ in range(a.runs):
        print(one_run(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
