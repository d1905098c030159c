"""Writes the image stage's small test files into Tests/WinnowImageTests/Fixtures (development tool; Pillow).

    .venv/bin/python scripts/make_image_fixtures.py     (pdq_reference.json also needs: pip install pdqhash numpy)

Deterministic: the same bytes every time for a given Pillow version. Names say what each file is; the tests
check the pixels the names promise.
"""

import os

from PIL import Image

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "WinnowImageTests", "Fixtures")


def quadrants(w, h):
    """Red top-left, green top-right, blue bottom-left, yellow bottom-right."""
    im = Image.new("RGB", (w, h))
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)]
    for y in range(h):
        for x in range(w):
            im.putpixel((x, y), colours[(2 if y >= h // 2 else 0) + (1 if x >= w // 2 else 0)])
    return im


def main():
    os.makedirs(OUT, exist_ok=True)
    # A still GIF, interlaced, with the four quadrant colours.
    quadrants(40, 20).convert("P", palette=Image.ADAPTIVE, colors=4).save(
        os.path.join(OUT, "gif_quadrants_40x20_interlaced.gif"), interlace=True)
    # An animation: frame 1 is the quadrants with its red quadrant transparent, frame 2 is all black.
    first = quadrants(40, 20).convert("P", palette=Image.ADAPTIVE, colors=4)
    red = next(i for i, c in enumerate(first.getpalette()[:12][::3]) if first.getpalette()[3 * i:3 * i + 3] == [255, 0, 0])
    second = Image.new("P", (40, 20), 0)
    second.putpalette([0, 0, 0] * 4)
    first.save(os.path.join(OUT, "gif_animated_2frames_red_transparent_40x20.gif"), save_all=True,
               append_images=[second], transparency=red, duration=100, loop=0, interlace=False, disposal=1)
    # The other formats' corners: 16-bit PNG, progressive and grey JPEG, lossless WebP with alpha. (Pillow cannot
    # write interlaced PNG.) All 40x20 quadrants, so the tests know every pixel's colour.
    q = quadrants(40, 20)
    grey = q.convert("L")
    # 16-bit grey holding each 8-bit value v as v * 257, so that a 16-to-8-bit reduction gives v back exactly.
    wide = b"".join((v * 257).to_bytes(2, "little") for v in grey.tobytes())
    Image.frombytes("I;16", grey.size, wide).save(os.path.join(OUT, "png_grey16_40x20.png"))
    rgba = q.convert("RGBA")
    rgba.putpixel((0, 0), (255, 0, 0, 0))
    rgba.save(os.path.join(OUT, "webp_lossless_alpha_40x20.webp"), lossless=True)
    q.save(os.path.join(OUT, "jpeg_progressive_40x20.jpg"), quality=95, progressive=True)
    q.convert("L").save(os.path.join(OUT, "jpeg_grey_40x20.jpg"), quality=95)
    # Broken: the same still GIF cut in half.
    data = open(os.path.join(OUT, "gif_quadrants_40x20_interlaced.gif"), "rb").read()
    open(os.path.join(OUT, "gif_truncated_half.gif"), "wb").write(data[: len(data) // 2])


def pdq_reference():
    """pdq_reference.json: Meta's PDQ (the pdqhash package) of the fixtures and the clip-tiny images, on the pixels
    the pipeline sees (alpha composited over white). Skipped, keeping the old file, when pdqhash is missing."""
    try:
        import numpy as np
        import pdqhash
    except ImportError:
        print("make_image_fixtures: pdqhash not installed; pdq_reference.json left as it is")
        return
    import json

    root = os.path.join(os.path.dirname(__file__), "..")
    shared = os.path.join(root, "..", "shared", "fixtures")
    # Only files with texture: on exactly flat colours (the GIF and 16-bit PNG quadrants) most DCT coefficients are
    # ties at the median, decided by float rounding, and pdqhash computes luma in float64 where Meta's C++ (and
    # Winnow) use float32. JPEG noise breaks those ties, so the JPEG and WebP quadrants stay in.
    files = [("Tests/WinnowImageTests/Fixtures/" + f, os.path.join(OUT, f)) for f in sorted(os.listdir(OUT))
             if f.startswith(("jpeg_", "webp_"))]
    tiny = os.path.join(shared, "clip-tiny", "images")
    files += [("clip-tiny/images/" + f, os.path.join(tiny, f)) for f in sorted(os.listdir(tiny))
              if "cmyk" not in f and "exif" not in f]
    out = []
    for name, path in files:
        im = Image.open(path)
        if im.mode in ("RGBA", "LA", "P", "PA") or "transparency" in im.info:
            im = im.convert("RGBA")
            im = Image.alpha_composite(Image.new("RGBA", im.size, (255, 255, 255, 255)), im)
        elif im.mode == "I;16":
            wide = np.asarray(im).astype(np.uint32)
            im = Image.fromarray(((wide * 255 + 32895) >> 16).astype(np.uint8), "L")
        rgb = np.asarray(im.convert("RGB"))
        vec, quality = pdqhash.compute(rgb)
        bits = vec[::-1]
        words = [sum(int(bits[16 * w + b]) << b for b in range(16)) for w in range(16)]
        out.append({"file": name, "hash": "".join("%04x" % w for w in reversed(words)), "quality": int(quality)})
    with open(os.path.join(OUT, "pdq_reference.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
    pdq_reference()
