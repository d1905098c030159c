#ifndef WINNOW_JPEG_H
#define WINNOW_JPEG_H
#include <stddef.h>

/// Reads a JPEG's header only. Returns 0 on success, -1 with a message in `err` (`errlen` bytes) otherwise.
int winnow_jpeg_read_header(const unsigned char *data, size_t len, int *width, int *height, int *components,
                            char *err, size_t errlen);

/// Bytes libjpeg holds for the whole image while decoding, at any scale: the coefficients of a multi-scan
/// (progressive) file, 2 bytes for each of their 64 a block; 0 for a single-scan file (a few rows of blocks) or a
/// header libjpeg refuses.
size_t winnow_jpeg_whole_image_bytes(const unsigned char *data, size_t len);

/// Decodes a JPEG to 8-bit RGB, scaled by 1/`scale_denom` (1, 2, 4 or 8) in the DCT, into `dst` (the caller's
/// buffer of `capacity` bytes: ceil(width / scale_denom) * ceil(height / scale_denom) * 3 is enough). On success
/// returns 0 with the output size in `*width` and `*height`; an output larger than `capacity` is an error.
/// Grayscale, YCbCr, CMYK and YCCK inputs all come out as RGB. A truncated file decodes as far as it goes and
/// sets `*warnings` to the number of libjpeg warnings that mean missing or corrupt data (premature end, bad
/// entropy-coded data; not "extraneous bytes before marker", which leaves the pixels intact).
int winnow_jpeg_decode(const unsigned char *data, size_t len, int scale_denom, unsigned char *dst, size_t capacity,
                       int *width, int *height, int *warnings, char *err, size_t errlen);

/// Encodes 8-bit RGB to a JPEG of the given quality (1-100). `*out` is malloc'ed; free with winnow_jpeg_free.
int winnow_jpeg_encode(const unsigned char *rgb, int width, int height, int quality, unsigned char **out,
                       size_t *outlen, char *err, size_t errlen);

void winnow_jpeg_free(void *p);
#endif
