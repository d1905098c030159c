"""Writes the AVIF and JPEG XL test files into Tests/WinnowImageTests/Fixtures (development tool).

    python3 scripts/gen_avif_jxl_fixtures.py      (needs numpy, and avifenc and cjxl: apt-get install libavif-bin
                                                   libjxl-tools; scripts/setup.sh installs them)

The source pictures are PNGs this script writes itself (no Pillow): a 64x48 gradient with stripes and a little
noise, so that chroma subsampling and quantisation show, and an RGBA version with a radial alpha. Beside the encoded
files it writes the reference pixels the tests compare decodes with (PSNR), as 8-bit RGB PNGs: the source, the RGBA
source over white, and the source turned as the orientation fixtures say it is displayed. Deterministic for a given
avifenc/cjxl (Debian 12: libavif 0.11.1 with aom, libjxl 0.7.0).
"""

import os
import struct
import subprocess
import tempfile
import zlib

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "WinnowImageTests", "Fixtures")
W, H = 64, 48


def write_png(path, a, exif_orientation=None):
    """An 8-bit RGB or RGBA PNG of `a` (H x W x 3|4, uint8), with an eXIf orientation when given."""
    h, w, c = a.shape

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, {3: 2, 4: 6}[c], 0, 0, 0))
    if exif_orientation:
        tiff = b"MM\0*" + struct.pack(">IH", 8, 1) + struct.pack(">HHIHH", 0x112, 3, 1, exif_orientation, 0) + bytes(4)
        out += chunk(b"eXIf", tiff)
    raw = b"".join(b"\0" + a[y].tobytes() for y in range(h))
    out += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(out)


def source():
    """Gradients, diagonal stripes and seeded noise: every pixel known, nothing flat."""
    y, x = np.mgrid[0:H, 0:W]
    rng = np.random.default_rng(28)
    r = x * 3.5 + 20 * ((x + y) // 6 % 2)
    g = y * 4.5 + 10 * np.sin(x / 3.0)
    b = 200 - (x + y) * 1.4
    a = np.stack([r, g, b], -1) + rng.normal(0, 4, (H, W, 3))
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


def alpha():
    """Opaque in the middle, transparent in the corners."""
    y, x = np.mgrid[0:H, 0:W]
    d = np.hypot((x - W / 2) / (W / 2), (y - H / 2) / (H / 2))
    return np.clip(np.rint(255 * (1.2 - d)), 0, 255).astype(np.uint8)


def over_white(rgb, a):
    """As Codec.overWhite: (c * a + 255 * (255 - a) + 127) / 255, truncated."""
    a32 = a.astype(np.uint32)[..., None]
    return ((rgb.astype(np.uint32) * a32 + 255 * (255 - a32) + 127) // 255).astype(np.uint8)


XMP = """<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/"
 plus:DataMining="http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-AIMLTRAINING"/>
</rdf:RDF></x:xmpmeta><?xpacket end="w"?>"""


def run(*args):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main():
    os.makedirs(OUT, exist_ok=True)
    src = source()
    a = alpha()
    rgba = np.concatenate([src, a[..., None]], -1)
    out = lambda name: os.path.join(OUT, name)  # noqa: E731
    # Reference pixels.
    write_png(out("avif_jxl_reference_64x48.png"), src)
    write_png(out("avif_jxl_reference_alpha_over_white_64x48.png"), over_white(src, a))
    # irot 1 (90 degrees anti-clockwise), then imir 0 (top and bottom exchanged): ISO/IEC 23008-12 applies the
    # rotation first. np.rot90 turns anti-clockwise.
    write_png(out("avif_jxl_reference_irot1_imir0_48x64.png"), np.flipud(np.rot90(src, 1)))
    # JPEG XL orientation 6 (Exif): rotate 90 degrees clockwise to display.
    write_png(out("avif_jxl_reference_orientation6_48x64.png"), np.rot90(src, -1))

    with tempfile.TemporaryDirectory() as tmp:
        t = lambda name: os.path.join(tmp, name)  # noqa: E731
        write_png(t("src.png"), src)
        write_png(t("rgba.png"), rgba)
        write_png(t("o6.png"), src, exif_orientation=6)
        frames = [src, 255 - src, np.roll(src, 16, axis=1)]
        for i, f in enumerate(frames):
            write_png(t(f"f{i}.png"), f)

        avif = ["avifenc", "--jobs", "1", "--speed", "6"]
        run(*avif, "-y", "420", "-d", "8", "--min", "10", "--max", "20", t("src.png"), out("avif_yuv420_8bit_64x48.avif"))
        run(*avif, "-y", "444", "-d", "10", "--min", "0", "--max", "6", t("src.png"), out("avif_yuv444_10bit_64x48.avif"))
        run(*avif, "-y", "420", "-d", "12", "-r", "limited", "--min", "4", "--max", "12", t("src.png"),
            out("avif_yuv420_12bit_limited_64x48.avif"))
        # Lossless: 4:4:4 with the identity matrix (nclx matrix coefficients 0), so the decode must be exact.
        run(*avif, "--lossless", t("src.png"), out("avif_lossless_identity_64x48.avif"))
        run(*avif, "-y", "444", "-d", "8", "--min", "0", "--max", "6", "--minalpha", "0", "--maxalpha", "0",
            t("rgba.png"), out("avif_alpha_yuv444_8bit_64x48.avif"))
        run(*avif, "-y", "420", "-d", "8", "--min", "4", "--max", "12", "--irot", "1", "--imir", "0", t("src.png"),
            out("avif_irot1_imir0_64x48.avif"))
        # An image sequence of three frames (source, negative, shifted): Winnow decodes the first.
        run(*avif, "-y", "420", "-d", "8", "--min", "4", "--max", "12", t("f0.png"), t("f1.png"), t("f2.png"),
            out("avif_sequence_3frames_64x48.avif"))

        # An XMP item saying plus:DataMining DMI-PROHIBITED-AIMLTRAINING (the image stage drops it by default).
        with open(t("dmi.xmp"), "w") as f:
            f.write(XMP)
        run(*avif, "-y", "420", "-d", "8", "--min", "20", "--max", "30", "--xmp", t("dmi.xmp"), t("src.png"),
            out("avif_xmp_dmi_prohibited_64x48.avif"))

        run("cjxl", "-d", "0", "-e", "7", t("src.png"), out("jxl_lossless_64x48.jxl"))
        run("cjxl", "-d", "1", "-e", "7", t("src.png"), out("jxl_lossy_d1_xyb_64x48.jxl"))
        run("cjxl", "-d", "0", "-e", "7", t("rgba.png"), out("jxl_alpha_lossless_64x48.jxl"))
        run("cjxl", "-d", "0", "-e", "7", t("o6.png"), out("jxl_orientation6_lossless_64x48.jxl"))

    # Truncated: the first half of a good file.
    for good, bad in [("avif_yuv420_8bit_64x48.avif", "avif_truncated_half.avif"),
                      ("jxl_lossy_d1_xyb_64x48.jxl", "jxl_truncated_half.jxl")]:
        with open(out(good), "rb") as f:
            data = f.read()
        with open(out(bad), "wb") as f:
            f.write(data[: len(data) // 2])


if __name__ == "__main__":
    main()
