"""Writes the image stage's small test files into Tests/WinnowImageTests/Fixtures (development tool; Pillow).

    .venv/bin/python scripts/make_image_fixtures.py

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


if __name__ == "__main__":
    main()
