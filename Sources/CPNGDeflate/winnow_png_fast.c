// See include/winnow_png_fast.h.
#include "winnow_png_fast.h"

#include <libdeflate.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static int is_type(const uint8_t *chunk, const char *name) { return memcmp(chunk + 4, name, 4) == 0; }

/// What the chunks before the image data say.
struct winnow_png_header {
    uint32_t width, height;
    int depth, colour, channels;
    const uint8_t *palette;  // PLTE data
    size_t palette_entries;
    const uint8_t *trns;  // tRNS data
    size_t trns_length;
    size_t idat_total;  // bytes of image data over all IDAT chunks
    const uint8_t *idat_first;
};

/// Walks the chunks, checking the CRCs of the critical ones. 1 when the fast path takes the file.
static int winnow_png_read_header(const uint8_t *data, size_t len, struct winnow_png_header *h) {
    static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
    memset(h, 0, sizeof *h);
    if (len < 8 + 25 || memcmp(data, signature, 8) != 0) return 0;
    size_t at = 8;
    int seen_ihdr = 0, seen_iend = 0, idat_ended = 0;
    while (at + 12 <= len) {
        const uint8_t *chunk = data + at;
        uint32_t n = be32(chunk);
        if (n > len - at - 12) return 0;
        const uint8_t *body = chunk + 8;
        // Critical chunks (upper-case first letter) must have a good CRC; libpng only warns on ancillary ones.
        if ((chunk[4] & 0x20) == 0 && libdeflate_crc32(0, chunk + 4, (size_t)n + 4) != be32(body + n)) return 0;
        if (!seen_ihdr) {
            if (!is_type(chunk, "IHDR") || n != 13) return 0;
            h->width = be32(body);
            h->height = be32(body + 4);
            h->depth = body[8];
            h->colour = body[9];
            if (body[10] != 0 || body[11] != 0 || body[12] != 0) return 0;  // method, filter, interlace
            // libpng's own limits (PNG_USER_WIDTH_MAX and PNG_USER_HEIGHT_MAX): larger files are libpng's to refuse.
            if (h->width == 0 || h->height == 0 || h->width > 1000000 || h->height > 1000000) return 0;
            switch (h->colour) {
            case 0: h->channels = 1; break;
            case 2: h->channels = 3; break;
            case 3: h->channels = 1; break;
            case 4: h->channels = 2; break;
            case 6: h->channels = 4; break;
            default: return 0;
            }
            int depth_ok = h->depth == 8 || (h->colour == 3 && (h->depth == 1 || h->depth == 2 || h->depth == 4));
            if (!depth_ok) return 0;
            seen_ihdr = 1;
        } else if (is_type(chunk, "gAMA") || is_type(chunk, "cHRM") || is_type(chunk, "iCCP")) {
            return 0;  // libpng converts to sRGB: leave it to libpng
        } else if (is_type(chunk, "PLTE")) {
            if (n % 3 != 0 || n == 0 || n > 768 || h->idat_total > 0) return 0;
            h->palette = body;
            h->palette_entries = n / 3;
        } else if (is_type(chunk, "tRNS")) {
            if (h->idat_total > 0) return 0;
            if (h->colour == 3 && (h->palette == NULL || n > h->palette_entries)) return 0;
            // Colour keys beyond what 8-bit samples can hold are left to libpng.
            if (h->colour == 0 && (n != 2 || body[0] != 0)) return 0;
            if (h->colour == 2 && (n != 6 || (body[0] | body[2] | body[4]) != 0)) return 0;
            if (h->colour == 4 || h->colour == 6) return 0;
            h->trns = body;
            h->trns_length = n;
        } else if (is_type(chunk, "IDAT")) {
            // The image data must be one run of IDAT chunks (libpng refuses an IDAT after another chunk).
            if (idat_ended) return 0;
            if (h->idat_first == NULL) h->idat_first = chunk;
            h->idat_total += n;
        } else if (is_type(chunk, "IEND")) {
            seen_iend = 1;
            break;
        } else if ((chunk[4] & 0x20) == 0) {
            return 0;  // an unknown critical chunk
        }
        if (h->idat_first != NULL && !is_type(chunk, "IDAT")) idat_ended = 1;
        at += 12 + (size_t)n;
    }
    if (!seen_ihdr || !seen_iend || h->idat_total == 0) return 0;
    if (h->colour == 3 && h->palette == NULL) return 0;
    // The output's size must fit comfortably; the image stage has already refused decompression bombs.
    if ((uint64_t)h->width * h->height > ((uint64_t)1 << 32)) return 0;
    return 1;
}

/// Where the filtered image data starts in the caller's buffer: as late as it can while every output row still ends
/// before its own row of data begins, so that rows turn into RGB in place, front to back. One more row than the
/// larger of the two in all.
static size_t winnow_png_raw_offset(const struct winnow_png_header *h, size_t rowbytes) {
    size_t out_row = (size_t)h->width * 3, raw_row = rowbytes + 1;
    if (out_row <= raw_row) return out_row;
    return (size_t)h->height * out_row - ((size_t)h->height - 1) * raw_row;
}

int winnow_png_fast_probe(const uint8_t *data, size_t len, uint32_t *width, uint32_t *height, size_t *capacity) {
    struct winnow_png_header h;
    if (!winnow_png_read_header(data, len, &h)) return 0;
    *width = h.width;
    *height = h.height;
    size_t rowbytes = ((size_t)h.width * (size_t)h.channels * (size_t)h.depth + 7) / 8;
    *capacity = winnow_png_raw_offset(&h, rowbytes) + (size_t)h.height * (rowbytes + 1) + 4;
    return 1;
}

static inline uint8_t paeth(uint8_t a, uint8_t b, uint8_t c) {
    int p = (int)a + b - c;
    int pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    if (pa <= pb && pa <= pc) return a;
    return pb <= pc ? b : c;
}

#if defined(__SSE2__)
/// The Paeth filter undone a pixel at a time for 3 and 4 bytes a pixel, each byte in a 16-bit lane. Reads 4 bytes
/// a pixel whatever `bpp` (the buffers have 4 bytes of padding) and writes `bpp`; inlined with a constant `bpp`.
static inline __attribute__((always_inline)) void paeth_row_sse2(
    uint8_t *x, const uint8_t *prior, size_t rowbytes, size_t bpp) {
    const __m128i zero = _mm_setzero_si128();
    __m128i a = zero, c = zero;
    for (size_t i = 0; i < rowbytes; i += bpp) {
        uint32_t up, raw;
        memcpy(&up, prior + i, 4);
        memcpy(&raw, x + i, 4);
        __m128i b = _mm_unpacklo_epi8(_mm_cvtsi32_si128((int)up), zero);
        __m128i d = _mm_unpacklo_epi8(_mm_cvtsi32_si128((int)raw), zero);
        // With p = a + b - c: |p - a| = |b - c|, |p - b| = |a - c|, |p - c| = |a + b - 2c|.
        __m128i pa = _mm_sub_epi16(b, c), pb = _mm_sub_epi16(a, c);
        __m128i pc = _mm_add_epi16(pa, pb);
        pa = _mm_max_epi16(pa, _mm_sub_epi16(zero, pa));
        pb = _mm_max_epi16(pb, _mm_sub_epi16(zero, pb));
        pc = _mm_max_epi16(pc, _mm_sub_epi16(zero, pc));
        __m128i smallest = _mm_min_epi16(pc, _mm_min_epi16(pa, pb));
        __m128i take_a = _mm_cmpeq_epi16(pa, smallest);
        __m128i take_b = _mm_andnot_si128(take_a, _mm_cmpeq_epi16(pb, smallest));
        __m128i take_c = _mm_andnot_si128(_mm_or_si128(take_a, take_b), _mm_set1_epi16(-1));
        __m128i predictor = _mm_or_si128(
            _mm_or_si128(_mm_and_si128(take_a, a), _mm_and_si128(take_b, b)), _mm_and_si128(take_c, c));
        __m128i result = _mm_and_si128(_mm_add_epi16(d, predictor), _mm_set1_epi16(0xff));
        uint32_t out = (uint32_t)_mm_cvtsi128_si32(_mm_packus_epi16(result, zero));
        memcpy(x + i, &out, bpp);
        a = result;
        c = b;
    }
}
#endif

/// Undoes the row filters in place; 0 on an unknown filter type. The first row's prior row is all zeros.
static int unfilter(uint8_t *raw, size_t rows, size_t rowbytes, size_t bpp, const uint8_t *zeros) {
    const uint8_t *prior = zeros;
    for (size_t y = 0; y < rows; y++) {
        uint8_t *line = raw + y * (rowbytes + 1);
        uint8_t type = line[0];
        uint8_t *x = line + 1;
        size_t head = bpp < rowbytes ? bpp : rowbytes;  // the bytes with no left neighbour
        switch (type) {
        case 0: break;
        case 1:
            for (size_t i = bpp; i < rowbytes; i++) x[i] = (uint8_t)(x[i] + x[i - bpp]);
            break;
        case 2:
            for (size_t i = 0; i < rowbytes; i++) x[i] = (uint8_t)(x[i] + prior[i]);
            break;
        case 3:
            for (size_t i = 0; i < head; i++) x[i] = (uint8_t)(x[i] + (prior[i] >> 1));
            for (size_t i = bpp; i < rowbytes; i++) x[i] = (uint8_t)(x[i] + ((x[i - bpp] + prior[i]) >> 1));
            break;
        case 4:
#if defined(__SSE2__)
            if (bpp == 3) {
                paeth_row_sse2(x, prior, rowbytes, 3);
                break;
            }
            if (bpp == 4) {
                paeth_row_sse2(x, prior, rowbytes, 4);
                break;
            }
#endif
            // With no left neighbour the predictor is the byte above.
            for (size_t i = 0; i < head; i++) x[i] = (uint8_t)(x[i] + prior[i]);
            for (size_t i = bpp; i < rowbytes; i++) x[i] = (uint8_t)(x[i] + paeth(x[i - bpp], prior[i], prior[i - bpp]));
            break;
        default: return 0;
        }
        prior = x;
    }
    return 1;
}

/// `over` composited over white as WinnowImage's `Codec.overWhite` does.
static inline uint8_t over_white(uint8_t c, uint8_t a) {
    return (uint8_t)(((uint32_t)c * a + 255 * (255 - (uint32_t)a) + 127) / 255);
}

int winnow_png_fast_decode(const uint8_t *data, size_t len, uint8_t *dst, size_t capacity) {
    struct winnow_png_header h;
    if (!winnow_png_read_header(data, len, &h)) return 0;
    size_t w = h.width, rows = h.height;
    size_t rowbytes = (w * (size_t)h.channels * (size_t)h.depth + 7) / 8;
    size_t bpp = ((size_t)h.channels * (size_t)h.depth + 7) / 8;
    size_t raw_size = rows * (rowbytes + 1);
    size_t offset = winnow_png_raw_offset(&h, rowbytes);
    if (capacity < offset + raw_size + 4) return 0;

    // The image data: one IDAT is used in place, several are joined.
    uint8_t *joined = NULL;
    const uint8_t *zdata = h.idat_first + 8;
    if (be32(h.idat_first) != h.idat_total) {
        joined = malloc(h.idat_total);
        if (!joined) return 0;
        size_t at = (size_t)(h.idat_first - data), filled = 0;
        while (filled < h.idat_total && at + 12 <= len) {
            uint32_t n = be32(data + at);
            if (is_type(data + at, "IDAT")) {
                memcpy(joined + filled, data + at + 8, n);
                filled += n;
            }
            at += 12 + (size_t)n;
        }
        zdata = joined;
    }
    // Inflated into the end of the caller's buffer (4 bytes of padding for the Paeth filter's 4-byte reads), then
    // turned into RGB at its front: the image is never in memory twice.
    uint8_t *raw = dst + offset;
    struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
    int ok = d != NULL;
    if (ok) {
        size_t produced = 0;
        ok = libdeflate_zlib_decompress(d, zdata, h.idat_total, raw, raw_size, &produced) == LIBDEFLATE_SUCCESS &&
             produced == raw_size;
    }
    if (d) libdeflate_free_decompressor(d);
    free(joined);
    uint8_t *zeros = ok ? calloc(rowbytes + 4, 1) : NULL;
    if (ok) ok = zeros != NULL && unfilter(raw, rows, rowbytes, bpp, zeros);
    free(zeros);
    if (!ok) return 0;

    // Front to back, each output row ends before its row of data begins (winnow_png_raw_offset).
    for (size_t y = 0; y < rows; y++) {
        const uint8_t *x = raw + y * (rowbytes + 1) + 1;
        uint8_t *o = dst + y * w * 3;
        switch (h.colour) {
        case 0:
            for (size_t i = 0; i < w; i++, o += 3) {
                uint8_t v = (h.trns != NULL && x[i] == h.trns[1]) ? 255 : x[i];
                o[0] = o[1] = o[2] = v;
            }
            break;
        case 2:
            if (h.trns == NULL) {
                memmove(o, x, w * 3);
                break;
            }
            for (size_t i = 0; i < w; i++, x += 3, o += 3) {
                int clear = x[0] == h.trns[1] && x[1] == h.trns[3] && x[2] == h.trns[5];
                o[0] = clear ? 255 : x[0];
                o[1] = clear ? 255 : x[1];
                o[2] = clear ? 255 : x[2];
            }
            break;
        case 3: {
            int shift = 8 - h.depth, mask = (1 << h.depth) - 1;
            for (size_t i = 0; i < w; i++, o += 3) {
                size_t bit = i * (size_t)h.depth;
                size_t index = (size_t)((x[bit >> 3] >> (shift - (int)(bit & 7))) & mask);
                if (index >= h.palette_entries) return 0;  // libpng decides what an index past the palette means
                uint8_t a = index < h.trns_length ? h.trns[index] : 255;
                o[0] = over_white(h.palette[3 * index], a);
                o[1] = over_white(h.palette[3 * index + 1], a);
                o[2] = over_white(h.palette[3 * index + 2], a);
            }
            break;
        }
        case 4:
            for (size_t i = 0; i < w; i++, x += 2, o += 3) o[0] = o[1] = o[2] = over_white(x[0], x[1]);
            break;
        case 6:
            for (size_t i = 0; i < w; i++, x += 4, o += 3) {
                o[0] = over_white(x[0], x[3]);
                o[1] = over_white(x[1], x[3]);
                o[2] = over_white(x[2], x[3]);
            }
            break;
        }
    }
    return 1;
}
