// PNG decoding on libdeflate for the PNGs the web serves most: 8-bit grey, RGB, grey + alpha and RGBA, and
// palettes of any depth, not interlaced, with no gAMA, cHRM or iCCP chunk (nothing to convert). libdeflate inflates
// the image data two to three times as fast as zlib does under libpng. Every other file, and every file this path
// finds anything wrong with, is left to libpng, so results and error messages are libpng's.
#ifndef WINNOW_PNG_FAST_H
#define WINNOW_PNG_FAST_H

#include <stddef.h>
#include <stdint.h>

/// Whether the fast path takes this PNG; if so, its size and the bytes `winnow_png_fast_decode` needs in `dst`: the
/// RGB result, or the inflated image data when that is larger, and one row more.
int winnow_png_fast_probe(const uint8_t *data, size_t len, uint32_t *width, uint32_t *height, size_t *capacity);

/// Decodes a PNG the probe took into the first width * height * 3 bytes of `dst` (`capacity` bytes, as the probe
/// said: the rest is scratch) as 8-bit RGB, alpha composited over white. 1 on success, 0 when anything is wrong (a
/// bad CRC, bad zlib data, too little or too much image data, an unknown filter): the caller then asks libpng,
/// which says what.
int winnow_png_fast_decode(const uint8_t *data, size_t len, uint8_t *dst, size_t capacity);

#endif
