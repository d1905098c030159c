// Byte scans for the crawl readers: the JSON scanner's string ends and an ASCII test, 16 bytes at a time with SSE2
// (part of every x86-64 CPU; other CPUs take the byte loops), static inline because most strings are short; and the
// container scan that skips objects and lists a page's image links, 64 bytes at a time (winnow_scan.c).
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

/// The scan behind `winnow_json_skip_container` and `winnow_wat_image_links`: steps over the rest of the object or
/// array `i` is inside, and with `found` set, lists the elements that may be image links (see the latter). Returns
/// the index just after the closing bracket, -1 when the input ends first, -2 when `found` is full.
///
/// 64 bytes at a time, with AVX-512 or AVX2 where the CPU has it (chosen once) and SSE2 otherwise: the block's
/// brackets outside strings come as bit sets, and without `found` a block in which the depth cannot reach zero is
/// passed in one step; otherwise its brackets are walked in order. Backslashes are followed as bit sets too; only a block with a
/// backslash outside a string (malformed JSON) is walked byte by byte.
ptrdiff_t winnow_json_scan(const uint8_t *p, size_t i, size_t n, size_t *found, size_t capacity, size_t *count);

/// `winnow_json_scan` with a chosen instruction set, for tests: 0 the byte loop, 1 SSE2, 2 AVX2, 3 AVX-512 (on
/// x86-64; the best the CPU has at or below it).
ptrdiff_t winnow_json_scan_using(
    int isa, const uint8_t *p, size_t i, size_t n, size_t *found, size_t capacity, size_t *count);

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
