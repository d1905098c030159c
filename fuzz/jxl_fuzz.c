// libFuzzer harness for JPEG XL decoding as WinnowImage does it (Codec+JXL.swift), through the same libjxl calls:
// basic info alone (the header), then the first frame to 8-bit RGB or RGBA, orientation kept, XYB asked for in
// sRGB, input not closed. `make fuzz` builds it with ASan + UBSan and runs it for FUZZ_SECONDS.
// libjxl is Debian's (not instrumented): a crash or a leak in it still shows.
#include <stdint.h>
#include <stdlib.h>

#include "../Sources/CJXL/shim.h"

#define MAX_PIXELS 4000000  // the pipeline refuses larger images before decoding

static void decode(const uint8_t *data, size_t size, int pixels) {
    JxlDecoder *d = JxlDecoderCreate(NULL);
    if (!d) return;
    JxlBasicInfo info;
    uint8_t *out = NULL;
    int have_info = 0;
    if (winnow_jxl_subscribe(d, pixels) != JXL_DEC_SUCCESS || JxlDecoderSetKeepOrientation(d, 1) != JXL_DEC_SUCCESS ||
        JxlDecoderSetInput(d, data, size) != JXL_DEC_SUCCESS)
        goto done;
    for (int events = 0; events < 32; events++) {
        JxlDecoderStatus s = JxlDecoderProcessInput(d);
        if (s == JXL_DEC_BASIC_INFO) {
            if (JxlDecoderGetBasicInfo(d, &info) != JXL_DEC_SUCCESS) break;
            if (!pixels || info.xsize == 0 || info.ysize == 0 || (uint64_t)info.xsize * info.ysize > MAX_PIXELS) break;
            have_info = 1;
        } else if (s == JXL_DEC_COLOR_ENCODING && have_info) {
            if (!info.uses_original_profile) {
                JxlColorEncoding srgb = winnow_jxl_srgb(info.num_color_channels == 1);
                if (JxlDecoderSetPreferredColorProfile(d, &srgb) != JXL_DEC_SUCCESS) break;
            }
        } else if (s == JXL_DEC_NEED_IMAGE_OUT_BUFFER && have_info && !out) {
            JxlPixelFormat format = winnow_jxl_format_u8(info.alpha_bits ? 4 : 3);
            size_t n;
            if (JxlDecoderImageOutBufferSize(d, &format, &n) != JXL_DEC_SUCCESS) break;
            if (n != (size_t)info.xsize * info.ysize * format.num_channels) __builtin_trap();  // Swift checks this
            out = malloc(n);
            if (!out || JxlDecoderSetImageOutBuffer(d, &format, out, n) != JXL_DEC_SUCCESS) break;
        } else {
            break;  // the first frame, an error, or the end of the input
        }
    }
done:
    free(out);
    JxlDecoderDestroy(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    decode(data, size, 0);
    decode(data, size, 1);
    return 0;
}
