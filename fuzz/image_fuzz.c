// libFuzzer harness for the image decoders Winnow calls, through the same C entry points and shims:
// libjpeg-turbo via CJPEG (header, full and DCT-scaled decode, with its setjmp error handling), libpng's simplified
// API (8-bit RGB/RGBA and 16-bit linear RGBA, as Codec.decodePNG asks) and the libdeflate fast path before it
// (CPNGDeflate), libwebp (features, RGB into a buffer, RGBA)
// and the CGIF first-frame decoder. `make fuzz` builds it with ASan + UBSan and runs it for FUZZ_SECONDS.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "winnow_jpeg.h"
#include "winnow_png_fast.h"
#include "winnow_png_rows.h"
#include "../Sources/CPNG/shim.h"
#include "../Sources/CWebP/shim.h"
#include "../Sources/CGIF/shim.h"

static void fuzz_jpeg(const uint8_t *data, size_t size) {
    int w, h, n, warnings;
    char err[256];
    if (winnow_jpeg_read_header(data, size, &w, &h, &n, err, sizeof err) != 0) return;
    if ((long)w * h > 4000000) return;  // the pipeline refuses these before decoding
    size_t capacity = (size_t)w * (size_t)h * 3;
    unsigned char *out = malloc(capacity ? capacity : 1);
    if (!out) return;
    for (int scale = 1; scale <= 8; scale *= 2) {
        int ow, oh;
        winnow_jpeg_decode(data, size, scale, out, capacity, &ow, &oh, &warnings, err, sizeof err);
    }
    free(out);
}

static void fuzz_png(const uint8_t *data, size_t size) {
    uint32_t fw, fh;
    size_t capacity;
    if (winnow_png_fast_probe(data, size, &fw, &fh, &capacity) && (unsigned long)fw * fh <= 4000000) {
        uint8_t *out = malloc(capacity);
        if (out) winnow_png_fast_decode(data, size, out, capacity);
        free(out);
    }
    // The 16-bit row path, whatever the header says (it refuses what is not 16-bit), within the same pixel bound.
    if (size >= 24) {
        uint32_t w = (uint32_t)data[16] << 24 | (uint32_t)data[17] << 16 | (uint32_t)data[18] << 8 | data[19];
        uint32_t h = (uint32_t)data[20] << 24 | (uint32_t)data[21] << 16 | (uint32_t)data[22] << 8 | data[23];
        if ((uint64_t)w * h > 0 && (uint64_t)w * h <= 4000000) {
            size_t cap = (size_t)w * h * 3;
            uint8_t *rgb = malloc(cap);
            char err[256];
            if (rgb) winnow_png16_decode_rgb(data, size, rgb, cap, err, sizeof err);
            free(rgb);
        }
    }
    png_uint_32 formats[3] = {PNG_FORMAT_RGB, PNG_FORMAT_RGBA, PNG_FORMAT_LINEAR_RGB_ALPHA};
    for (int f = 0; f < 3; f++) {
        png_image image = winnow_png_image_new();
        if (!png_image_begin_read_from_memory(&image, data, size)) continue;
        if ((unsigned long)image.width * image.height > 4000000) {
            png_image_free(&image);
            return;
        }
        image.format = formats[f];
        void *buffer = malloc(PNG_IMAGE_SIZE(image));
        if (buffer) png_image_finish_read(&image, NULL, buffer, 0, NULL);
        free(buffer);
        png_image_free(&image);
    }
}

static void fuzz_webp(const uint8_t *data, size_t size) {
    WebPBitstreamFeatures features;
    if (WebPGetFeatures(data, size, &features) != VP8_STATUS_OK) return;
    if ((long)features.width * features.height > 4000000 || features.width <= 0 || features.height <= 0) return;
    size_t n = (size_t)features.width * features.height * 3;
    uint8_t *rgb = malloc(n);
    if (rgb) WebPDecodeRGBInto(data, size, rgb, n, features.width * 3);
    free(rgb);
    int w, h;
    uint8_t *rgba = WebPDecodeRGBA(data, size, &w, &h);
    if (rgba) WebPFree(rgba);
    if (features.has_animation) {
        // The first frame of an animation, as the image stage decodes it.
        WebPAnimDecoderOptions options;
        if (!WebPAnimDecoderOptionsInit(&options)) return;
        options.color_mode = MODE_RGBA;
        options.use_threads = 0;
        WebPData webp = {data, size};
        WebPAnimDecoder *decoder = WebPAnimDecoderNew(&webp, &options);
        if (!decoder) return;
        WebPAnimInfo info;
        uint8_t *frame;
        int timestamp;
        if (WebPAnimDecoderGetInfo(decoder, &info) && (long)info.canvas_width * info.canvas_height <= 4000000)
            WebPAnimDecoderGetNext(decoder, &frame, &timestamp);
        WebPAnimDecoderDelete(decoder);
    }
}

static void fuzz_gif(const uint8_t *data, size_t size) {
    unsigned char *out = NULL;
    int w, h;
    if (winnow_gif_decode_first_frame(data, size, 4000000, &out, &w, &h) == 0) free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_jpeg(data, size);
    fuzz_png(data, size);
    fuzz_webp(data, size);
    fuzz_gif(data, size);
    return 0;
}
