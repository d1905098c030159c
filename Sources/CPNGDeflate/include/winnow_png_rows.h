// 16-bit PNGs read a row at a time through libpng's progressive row API, each row reduced to 8-bit RGB as soon as
// it is read: the image never exists at 16 bits (a 9,400 x 9,400 RGBA file would take 707 MB there, against 265 MB
// for the RGB result).
#ifndef WINNOW_PNG_ROWS_H
#define WINNOW_PNG_ROWS_H

#include <stddef.h>
#include <stdint.h>

/// Decodes a 16-bit PNG (any colour type, a tRNS colour key, interlaced or not) into `dst` (`capacity` bytes, at
/// least width * height * 3) as 8-bit RGB, with no gamma conversion: samples are taken as sRGB-encoded, as browsers
/// and Pillow take a file that declares no colour space. Alpha is applied as premultiplying in 16 bits and adding
/// white, then each sample is rounded to 8 bits. 0 on success; -1 with libpng's message in `err` (`errlen`
/// bytes), -2 when the file is not 16-bit.
int winnow_png16_decode_rgb(const uint8_t *data, size_t len, uint8_t *dst, size_t capacity, char *err,
                            size_t errlen);

#endif
