#ifndef WINNOW_CJXL_SHIM_H
#define WINNOW_CJXL_SHIM_H
// libjxl's decoder (Debian 12: 0.7.0), single-threaded (no parallel runner: the image stage runs a worker per core).
// It reports errors by status codes, so no C target is needed.
#include <string.h>
#include <jxl/decode.h>
#include <brotli/decode.h>

/// Decompresses a JPEG XL `brob` box's payload (brotli, after its 4-byte inner type) into at most `cap` bytes:
/// 0 done (`*length` bytes), 1 more than `cap` bytes (nothing usable), -1 not brotli.
static inline int winnow_brotli_decode(const uint8_t *in, size_t in_len, uint8_t *out, size_t cap, size_t *length) {
    BrotliDecoderState *s = BrotliDecoderCreateInstance(NULL, NULL, NULL);
    if (!s) return -1;
    size_t avail_in = in_len, avail_out = cap;
    const uint8_t *next_in = in;
    uint8_t *next_out = out;
    BrotliDecoderResult r = BrotliDecoderDecompressStream(s, &avail_in, &next_in, &avail_out, &next_out, NULL);
    BrotliDecoderDestroyInstance(s);
    *length = cap - avail_out;
    if (r == BROTLI_DECODER_RESULT_SUCCESS) return 0;
    return r == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT ? 1 : -1;
}

/// The events Winnow's decode asks for: basic info (size, alpha, orientation), the colour encoding (to ask for
/// sRGB output), and the first full frame.
static inline JxlDecoderStatus winnow_jxl_subscribe(JxlDecoder *dec, int pixels) {
    int events = JXL_DEC_BASIC_INFO;
    if (pixels) events |= JXL_DEC_COLOR_ENCODING | JXL_DEC_FULL_IMAGE;
    return JxlDecoderSubscribeEvents(dec, events);
}

/// 8-bit samples, `channels` of them (3 or 4) a pixel, rows packed.
static inline JxlPixelFormat winnow_jxl_format_u8(uint32_t channels) {
    JxlPixelFormat f = {channels, JXL_TYPE_UINT8, JXL_NATIVE_ENDIAN, 0};
    return f;
}

/// sRGB (D65, sRGB primaries and transfer, perceptual intent), as JxlColorEncodingSetToSRGB in the encoder says.
static inline JxlColorEncoding winnow_jxl_srgb(int gray) {
    JxlColorEncoding c;
    memset(&c, 0, sizeof c);
    c.color_space = gray ? JXL_COLOR_SPACE_GRAY : JXL_COLOR_SPACE_RGB;
    c.white_point = JXL_WHITE_POINT_D65;
    c.primaries = JXL_PRIMARIES_SRGB;
    c.transfer_function = JXL_TRANSFER_FUNCTION_SRGB;
    c.rendering_intent = JXL_RENDERING_INTENT_PERCEPTUAL;
    return c;
}
#endif
