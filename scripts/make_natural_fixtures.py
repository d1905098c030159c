"""Writes the natural-image and interlaced-PNG fixtures into Tests/WinnowImageTests/Fixtures (development tool).

    .venv-bench-dedup/bin/pip install pypng    # scikit-image and Pillow are already there (scripts/bench-setup.sh)
    .venv-bench-dedup/bin/python scripts/make_natural_fixtures.py

Natural images: three photographs that scikit-image ships (astronaut: NASA, public domain; coffee and chelsea:
CC0), saved as JPEG quality 92, and each one downscaled by Pillow's LANCZOS from the same decoded pixels (Pillow's
libjpeg-turbo decodes them to exactly the pixels Winnow's does), saved as PNG: what the resizer's quality is
measured against. Interlaced PNG (Adam7), which Pillow cannot write: written with pypng. An animated WebP (two
lossless frames: the quadrants with a transparent band, then all black), whose first frame the image stage decodes.
"""

import importlib.util
import io
import os

import png
from PIL import Image

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "WinnowImageTests", "Fixtures")
PHOTOS = [("astronaut.png", 160, 160), ("coffee.png", 300, 200), ("chelsea.png", 150, 100)]


def main():
    data = os.path.join(os.path.dirname(importlib.util.find_spec("skimage").origin), "data")
    for name, w, h in PHOTOS:
        im = Image.open(os.path.join(data, name)).convert("RGB")
        stem = f"natural_{name.split('.')[0]}_{im.width}x{im.height}"
        buf = io.BytesIO()
        im.save(buf, format="JPEG", quality=92)
        with open(os.path.join(OUT, stem + ".jpg"), "wb") as f:
            f.write(buf.getvalue())
        decoded = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
        decoded.resize((w, h), Image.LANCZOS).save(os.path.join(OUT, f"{stem}_pillow_lanczos_{w}x{h}.png"))
    # Adam7-interlaced 8-bit RGB, the four quadrant colours (red, green / blue, yellow) at 40x20.
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)]
    rows = []
    for y in range(20):
        row = []
        for x in range(40):
            row.extend(colours[(2 if y >= 10 else 0) + (1 if x >= 20 else 0)])
        rows.append(row)
    with open(os.path.join(OUT, "png_interlaced_adam7_rgb_40x20.png"), "wb") as f:
        png.Writer(40, 20, greyscale=False, bitdepth=8, interlace=True).write(f, rows)
    # Animated WebP: frame 1 the quadrants with the top two rows transparent, frame 2 black.
    first = Image.new("RGBA", (40, 20))
    for y in range(20):
        for x in range(40):
            r, g, b = colours[(2 if y >= 10 else 0) + (1 if x >= 20 else 0)]
            first.putpixel((x, y), (r, g, b, 0 if y < 2 else 255))
    second = Image.new("RGBA", (40, 20), (0, 0, 0, 255))
    first.save(os.path.join(OUT, "webp_animated_2frames_40x20.webp"), save_all=True, append_images=[second],
               lossless=True, duration=100, loop=0)
    # And a 16-bit grey + alpha one, interlaced: the left half opaque white, the right half fully transparent black.
    rows = [[v for x in range(40) for v in ((65535, 65535) if x < 20 else (0, 0))] for _ in range(20)]
    with open(os.path.join(OUT, "png_interlaced_adam7_grey16_alpha_40x20.png"), "wb") as f:
        png.Writer(40, 20, greyscale=True, alpha=True, bitdepth=16, interlace=True).write(f, rows)


if __name__ == "__main__":
    main()
