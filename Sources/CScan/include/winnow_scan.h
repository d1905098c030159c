// Byte scans for the crawl readers: the JSON scanner's string ends and container skips, and an ASCII test, 16 or
// 64 bytes at a time with SSE2 (part of every x86-64 CPU; other CPUs take the byte loops). Static inline, so that the
// Swift code that calls them inlines them: most of the strings and objects they scan are short.
#ifndef WINNOW_SCAN_H
#define WINNOW_SCAN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/// Index of the first closing quote at or after `i` that no backslash escapes (`i` is just after the opening
/// quote), or `n` when the string is not closed. Sets `*escapes` to 1 when the string holds a backslash.
static inline size_t winnow_json_string_end(const uint8_t *p, size_t i, size_t n, int *escapes) {
    for (;;) {
#if defined(__SSE2__)
        const __m128i quote = _mm_set1_epi8('"');
        const __m128i backslash = _mm_set1_epi8('\\');
        unsigned m = 0;
        while (i + 16 <= n) {
            __m128i x = _mm_loadu_si128((const __m128i *)(p + i));
            m = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, backslash)));
            if (m) break;
            i += 16;
        }
        if (m) {
            i += (size_t)__builtin_ctz(m);
        } else {
            while (i < n && p[i] != '"' && p[i] != '\\') i++;
        }
#else
        while (i < n && p[i] != '"' && p[i] != '\\') i++;
#endif
        if (i >= n) return n;
        if (p[i] == '"') return i;
        *escapes = 1;
        // The backslash and the byte it escapes.
        i += 2;
        if (i >= n) return n;
    }
}

/// One byte of the skip's state machine; returns 1 when the container closes at this byte.
static inline int winnow_json_skip_step(uint8_t c, int *in_string, int *escaped, size_t *depth) {
    if (*in_string) {
        if (*escaped) {
            *escaped = 0;
        } else if (c == '\\') {
            *escaped = 1;
        } else if (c == '"') {
            *in_string = 0;
        }
        return 0;
    }
    if (c == '"') {
        *in_string = 1;
    } else if (c == '{' || c == '[') {
        (*depth)++;
    } else if (c == '}' || c == ']') {
        if (--*depth == 0) return 1;
    }
    return 0;
}

#if defined(__SSE2__)
/// Bit k set where byte k of the 64 at `p` equals `c` (or, with `fold`, equals `c` once bit 5 is set).
static inline uint64_t winnow_mask64(const __m128i x[4], uint8_t c, int fold) {
    const __m128i v = _mm_set1_epi8((char)c);
    const __m128i bit5 = _mm_set1_epi8(0x20);
    uint64_t m = 0;
    for (int k = 0; k < 4; k++) {
        __m128i y = fold ? _mm_or_si128(x[k], bit5) : x[k];
        m |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(y, v)) << (16 * k);
    }
    return m;
}

/// The brackets outside strings among the 64 bytes at `p`, as bit sets: the quotes' prefix XOR marks the bytes
/// inside strings, and `*in_string` carries that across blocks. Returns 0, setting nothing, when the block holds a
/// backslash or starts escaped: the caller then walks it byte by byte.
static inline int winnow_json_block(
    const uint8_t *p, int *in_string, int escaped, uint64_t *opens, uint64_t *closes) {
    __m128i x[4];
    for (int k = 0; k < 4; k++) x[k] = _mm_loadu_si128((const __m128i *)(p + 16 * k));
    if (escaped || winnow_mask64(x, '\\', 0) != 0) return 0;
    // Bit k of `inside` is the parity of the quotes up to k: set from an opening quote to just before its closing one.
    uint64_t inside = winnow_mask64(x, '"', 0);
    inside ^= inside << 1;
    inside ^= inside << 2;
    inside ^= inside << 4;
    inside ^= inside << 8;
    inside ^= inside << 16;
    inside ^= inside << 32;
    if (*in_string) inside = ~inside;
    *in_string = (int)(inside >> 63);
    *opens = winnow_mask64(x, '{', 1) & ~inside;
    *closes = winnow_mask64(x, '}', 1) & ~inside;
    return 1;
}
#endif

/// The scan behind `winnow_json_skip_container` and `winnow_wat_image_links`: steps over the rest of the object or
/// array `i` is inside, and with `found` set, lists the elements that may be image links (see the latter). Returns
/// the index just after the closing bracket, -1 when the input ends first, -2 when `found` is full.
///
/// 64 bytes at a time: the block's brackets outside strings come as bit sets, and without `found` a block in which
/// the depth cannot reach zero is passed in one step; otherwise its brackets are walked in order. A block with a
/// backslash (about one in twenty in Common Crawl's WAT JSON) is walked byte by byte.
static inline ptrdiff_t winnow_json_scan(
    const uint8_t *p, size_t i, size_t n, size_t *found, size_t capacity, size_t *count) {
    static const char image[] = "{\"path\":\"IMG@/src\"";  // 18 bytes
    static const char path[] = "{\"path\":\"";           // 9 bytes
    size_t depth = 1;
    int in_string = 0;
    int escaped = 0;
    if (count) *count = 0;
// A '{' at depth 1, at k, starts an element: listed if it may be an image link.
#define WINNOW_ELEMENT(k)                                                                                 \
    do {                                                                                                  \
        size_t at_ = (k);                                                                                 \
        if (found && depth == 1 && p[at_] == '{' &&                                                       \
            (at_ + 18 > n || memcmp(p + at_, image, 18) == 0 || memcmp(p + at_, path, 9) != 0)) {         \
            if (*count == capacity) return -2;                                                            \
            found[(*count)++] = at_;                                                                      \
        }                                                                                                 \
    } while (0)
#if defined(__SSE2__)
    while (i + 64 <= n) {
        uint64_t opens, closes;
        if (!winnow_json_block(p + i, &in_string, escaped, &opens, &closes)) {
            for (size_t k = 0; k < 64; k++) {
                if (!in_string) WINNOW_ELEMENT(i + k);
                if (winnow_json_skip_step(p[i + k], &in_string, &escaped, &depth)) return (ptrdiff_t)(i + k + 1);
            }
            i += 64;
            continue;
        }
        size_t nc = (size_t)__builtin_popcountll(closes);
        if (!found && nc < depth) {
            depth = depth - nc + (size_t)__builtin_popcountll(opens);
            i += 64;
            continue;
        }
        uint64_t brackets = opens | closes;
        while (brackets) {
            unsigned k = (unsigned)__builtin_ctzll(brackets);
            if ((opens >> k) & 1) {
                WINNOW_ELEMENT(i + k);
                depth++;
            } else if (--depth == 0) {
                return (ptrdiff_t)(i + k + 1);
            }
            brackets &= brackets - 1;
        }
        i += 64;
    }
#endif
    for (; i < n; i++) {
        if (!in_string) WINNOW_ELEMENT(i);
        if (winnow_json_skip_step(p[i], &in_string, &escaped, &depth)) return (ptrdiff_t)(i + 1);
    }
#undef WINNOW_ELEMENT
    return -1;
}

/// Skips the rest of a JSON object or array: `i` is inside it, after its opening bracket. Strings are stepped
/// over whole (brackets in them do not count) and nesting is followed. Returns the index just after the bracket
/// that closes it, or -1 when the input ends first. Like any skip it checks only that brackets balance and strings
/// close, not the grammar in between.
static inline ptrdiff_t winnow_json_skip_container(const uint8_t *p, size_t i, size_t n) {
    return winnow_json_scan(p, i, n, NULL, 0, NULL);
}

/// Scans the elements of a JSON array of objects, Common Crawl's WAT `Links`: `i` is just after its '['. Writes to
/// `found` (at most `capacity` of them; `*count` says how many) the offsets of the elements that need a closer look:
/// objects whose first member is `"path":"IMG@/src"`, and objects that do not start `{"path":"` at all (keys in
/// another order, spaces). Every other element (an anchor, a script, a style...) is stepped over like a skipped
/// container. Returns the index just after the closing ']', -1 when the input ends first, or -2 when `found` is
/// full (call again with more room).
static inline ptrdiff_t winnow_wat_image_links(
    const uint8_t *p, size_t i, size_t n, size_t *found, size_t capacity, size_t *count) {
    return winnow_json_scan(p, i, n, found, capacity, count);
}

/// Whether the `n` bytes at `p` are all ASCII.
static inline int winnow_is_ascii(const uint8_t *p, size_t n) {
    size_t i = 0;
#if defined(__SSE2__)
    __m128i any = _mm_setzero_si128();
    for (; i + 16 <= n; i += 16) any = _mm_or_si128(any, _mm_loadu_si128((const __m128i *)(p + i)));
    if (_mm_movemask_epi8(any)) return 0;
#endif
    uint8_t tail = 0;
    for (; i < n; i++) tail |= p[i];
    return tail < 0x80;
}

#endif
