// See include/winnow_png_rows.h. libpng reports errors by longjmp: it stays inside this file.
#include "winnow_png_rows.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct winnow_png_source {
    const uint8_t *data;
    size_t len, at;
};

struct winnow_png_failure {
    jmp_buf jump;
    char *err;
    size_t errlen;
};

static void winnow_png_on_error(png_structp png, png_const_charp message) {
    struct winnow_png_failure *f = png_get_error_ptr(png);
    if (f->errlen > 0) snprintf(f->err, f->errlen, "%s", message);
    longjmp(f->jump, 1);
}

static void winnow_png_on_warning(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;
}

static void winnow_png_read(png_structp png, png_bytep out, size_t n) {
    struct winnow_png_source *s = png_get_io_ptr(png);
    if (n > s->len - s->at) png_error(png, "read beyond end of data");
    memcpy(out, s->data + s->at, n);
    s->at += n;
}

/// One pixel of a 16-bit big-endian RGB or RGBA row to 8-bit RGB over white.
static inline void winnow_png16_pixel(const uint8_t *p, int alpha, uint8_t *o) {
    uint32_t a = alpha ? ((uint32_t)p[6] << 8 | p[7]) : 65535;
    uint32_t white = 65535 - a;
    for (int c = 0; c < 3; c++) {
        uint32_t v = (uint32_t)p[2 * c] << 8 | p[2 * c + 1];
        uint32_t premultiplied = (v * a + 32767) / 65535;
        uint32_t over = premultiplied + white;  // at most a + (65535 - a)
        o[c] = (uint8_t)((over * 255 + 32895) >> 16);
    }
}

int winnow_png16_decode_rgb(const uint8_t *data, size_t len, uint8_t *dst, size_t capacity, char *err,
                            size_t errlen) {
    struct winnow_png_source source = {data, len, 0};
    struct winnow_png_failure failure;
    failure.err = err;
    failure.errlen = errlen;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &failure, winnow_png_on_error,
                                             winnow_png_on_warning);
    if (!png) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    png_infop info = png_create_info_struct(png);
    png_bytep volatile row = NULL;
    if (!info || setjmp(failure.jump)) {
        if (!info) snprintf(err, errlen, "out of memory");
        free(row);
        png_destroy_read_struct(&png, info ? &info : NULL, NULL);
        return -1;
    }
    png_set_read_fn(png, &source, winnow_png_read);
    png_read_info(png, info);
    if (png_get_bit_depth(png, info) != 16) {
        png_destroy_read_struct(&png, &info, NULL);
        return -2;
    }
    int colour = png_get_color_type(png, info);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    if (colour == PNG_COLOR_TYPE_GRAY || colour == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    // No png_set_interlace_handling: an interlaced file comes as its seven passes' own rows, each pixel placed
    // straight into the output, so no pass needs the image at 16 bits.
    png_read_update_info(png, info);
    size_t width = png_get_image_width(png, info), height = png_get_image_height(png, info);
    int alpha = png_get_channels(png, info) == 4;
    size_t step = alpha ? 8 : 6;
    if (capacity / 3 / width < height) png_error(png, "output buffer too small");
    row = malloc(png_get_rowbytes(png, info));
    if (!row) png_error(png, "out of memory");
    int interlaced = png_get_interlace_type(png, info) != PNG_INTERLACE_NONE;
    for (int pass = 0; pass < (interlaced ? 7 : 1); pass++) {
        size_t cols = interlaced ? PNG_PASS_COLS(width, pass) : width;
        size_t rows = interlaced ? PNG_PASS_ROWS(height, pass) : height;
        if (cols == 0 || rows == 0) continue;
        for (size_t y = 0; y < rows; y++) {
            png_read_row(png, row, NULL);
            size_t oy = interlaced ? PNG_ROW_FROM_PASS_ROW(y, pass) : y;
            uint8_t *out = dst + oy * width * 3;
            const uint8_t *p = row;
            if (!interlaced) {
                for (size_t x = 0; x < cols; x++, p += step) winnow_png16_pixel(p, alpha, out + 3 * x);
            } else {
                for (size_t x = 0; x < cols; x++, p += step)
                    winnow_png16_pixel(p, alpha, out + 3 * PNG_COL_FROM_PASS_COL(x, pass));
            }
        }
    }
    free(row);
    png_destroy_read_struct(&png, &info, NULL);
    return 0;
}
