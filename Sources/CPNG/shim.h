#ifndef WINNOW_CPNG_SHIM_H
#define WINNOW_CPNG_SHIM_H
#include <png.h>
#include <string.h>

// libpng's simplified API catches its own longjmp errors and reports them in png_image.message.
static inline png_image winnow_png_image_new(void) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    return image;
}
static inline size_t winnow_png_image_row_stride(const png_image *image) { return PNG_IMAGE_ROW_STRIDE(*image); }
static inline size_t winnow_png_image_size(const png_image *image) { return PNG_IMAGE_SIZE(*image); }
static inline int winnow_png_image_has_alpha(const png_image *image) { return (image->format & PNG_FORMAT_FLAG_ALPHA) != 0; }
static inline png_uint_32 winnow_png_format_rgb(void) { return PNG_FORMAT_RGB; }
static inline png_uint_32 winnow_png_format_rgba(void) { return PNG_FORMAT_RGBA; }
static inline png_uint_32 winnow_png_format_linear_rgba(void) { return PNG_FORMAT_LINEAR_RGB_ALPHA; }
#endif
