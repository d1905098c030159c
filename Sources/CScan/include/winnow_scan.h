// Byte scans for the crawl readers: the JSON scanner's string ends and container skips, and an ASCII test, 16
// bytes at a time with SSE2 (part of every x86-64 CPU; other CPUs take the byte loops). Static inline, so that the
// Swift code that calls them inlines them: most of the strings and objects they scan are short.
#ifndef WINNOW_SCAN_H
#define WINNOW_SCAN_H

#include <stddef.h>
#include <stdint.h>
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

/// Skips the rest of a JSON object or array: `i` is inside it, after its opening bracket. Strings are stepped
/// over whole (brackets in them do not count) and nesting is followed. Returns the index just after the bracket
/// that closes it, or -1 when the input ends first. Like any skip it checks only that brackets balance and strings
/// close, not the grammar in between.
static inline ptrdiff_t winnow_json_skip_container(const uint8_t *p, size_t i, size_t n) {
    size_t depth = 1;
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i open = _mm_set1_epi8('{');   // '{' or, with bit 5 cleared, '['
    const __m128i close = _mm_set1_epi8('}');  // '}' or ']'
    const __m128i bit5 = _mm_set1_epi8(0x20);
    while (i + 16 <= n) {
        __m128i x = _mm_loadu_si128((const __m128i *)(p + i));
        __m128i folded = _mm_or_si128(x, bit5);
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(
            _mm_cmpeq_epi8(x, quote), _mm_or_si128(_mm_cmpeq_epi8(folded, open), _mm_cmpeq_epi8(folded, close))));
        size_t next = i + 16;
        while (m) {
            size_t k = i + (size_t)__builtin_ctz(m);
            uint8_t c = p[k];
            if (c == '"') {
                int escapes = 0;
                size_t end = winnow_json_string_end(p, k + 1, n, &escapes);
                if (end >= n) return -1;
                next = end + 1;
                break;
            }
            if ((c | 0x20) == '{') {
                depth++;
            } else if (--depth == 0) {
                return (ptrdiff_t)(k + 1);
            }
            m &= m - 1;
        }
        i = next;
    }
#endif
    while (i < n) {
        uint8_t c = p[i];
        if (c == '"') {
            int escapes = 0;
            size_t end = winnow_json_string_end(p, i + 1, n, &escapes);
            if (end >= n) return -1;
            i = end + 1;
            continue;
        }
        if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (--depth == 0) return (ptrdiff_t)(i + 1);
        }
        i++;
    }
    return -1;
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
