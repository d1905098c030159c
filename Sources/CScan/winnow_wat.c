// The WAT record walk and the common-case link clean-up (see include/winnow_wat.h). The walk follows the grammar
// only along the path to the fields it wants; everything else is stepped over with the bracket-counting skips of
// winnow_scan.h, which check that strings close and brackets balance.
#include "winnow_wat.h"

#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "winnow_scan.h"

static const char *const lazy_names[6] = {
    "data-src", "data-lazy-src", "data-original", "data-srcset", "srcset", "data-lazy-srcset",
};

static const size_t lazy_lengths[6] = {8, 13, 13, 11, 6, 16};

const char *winnow_wat_lazy_name(int kind) { return kind >= 1 && kind <= 6 ? lazy_names[kind - 1] : ""; }

typedef struct {
    const uint8_t *p;
    size_t n;
    size_t i;
    winnow_wat_page *page;
} scanner;

#define TRY(x)                   \
    do {                         \
        int rc_ = (x);           \
        if (rc_ != 0) return rc_; \
    } while (0)

static int fail(scanner *s, const char *message) {
    s->page->error_position = s->i;
    s->page->error_message = message;
    return WINNOW_WAT_MALFORMED;
}

static inline void skip_space(scanner *s) {
    // Common Crawl writes its JSON without white space: one test for the usual case (every byte that is not white
    // space, and may come next, is above 0x20).
    if (__builtin_expect(s->i < s->n && s->p[s->i] > ' ', 1)) return;
    while (s->i < s->n) {
        uint8_t c = s->p[s->i];
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
            s->i++;
        } else {
            return;
        }
    }
}

/// The next byte after white space, 0 at the end.
static inline uint8_t peek(scanner *s) {
    if (__builtin_expect(s->i < s->n && s->p[s->i] > ' ', 1)) return s->p[s->i];
    skip_space(s);
    return s->i < s->n ? s->p[s->i] : 0;
}

static inline int expect(scanner *s, uint8_t c, const char *message) {
    if (__builtin_expect(s->i < s->n && s->p[s->i] == c, 1)) {
        s->i++;
        return 0;
    }
    skip_space(s);
    if (s->i >= s->n || s->p[s->i] != c) return fail(s, message);
    s->i++;
    return 0;
}

static inline int string(scanner *s, winnow_slice *out) {
    TRY(expect(s, '"', "expected '\"'"));
    size_t start = s->i;
    int escapes = 0;
    size_t end = winnow_json_string_end(s->p, start, s->n, &escapes);
    if (end >= s->n) {
        s->i = s->n;
        return fail(s, "unterminated string");
    }
    s->i = end + 1;
    out->start = start;
    out->end = end;
    out->escapes = escapes;
    return 0;
}

/// Steps to just after the bracket that closes the container the scanner is inside.
static int skip_rest(scanner *s) {
    ptrdiff_t end = winnow_json_skip_container(s->p, s->i, s->n);
    if (end < 0) {
        s->i = s->n;
        return fail(s, "unterminated object or array");
    }
    s->i = (size_t)end;
    return 0;
}

static int skip_value(scanner *s) {
    uint8_t c = peek(s);
    if (c == '"') {
        winnow_slice ignored;
        return string(s, &ignored);
    }
    if (c == '{' || c == '[') {
        s->i++;
        return skip_rest(s);
    }
    // Numbers, true, false, null.
    size_t start = s->i;
    while (s->i < s->n) {
        uint8_t b = s->p[s->i];
        if (b == ',' || b == '}' || b == ']' || b == ' ' || b == '\n' || b == '\r' || b == '\t') break;
        s->i++;
    }
    if (s->i == start) return fail(s, "expected a value");
    return 0;
}

/// A member's value: read into *v when it is a string (and *is_string set), else stepped over.
__attribute__((always_inline)) static inline int string_or_skip(scanner *s, winnow_slice *v, int *is_string) {
    if (peek(s) == '"') {
        *is_string = 1;
        return string(s, v);
    }
    *is_string = 0;
    return skip_value(s);
}

/// Whether a slice's raw bytes are the literal `key` (a key with escapes never matches).
static inline int is(const scanner *s, winnow_slice k, const char *key, size_t length) {
    return !k.escapes && k.end - k.start == length && memcmp(s->p + k.start, key, length) == 0;
}
#define IS(s, k, literal) is((s), (k), (literal), sizeof(literal) - 1)

/// Opens an object: 1 when it is empty (and consumed), 0 when members follow.
static inline int object_open(scanner *s, int *empty) {
    TRY(expect(s, '{', "expected '{'"));
    *empty = 0;
    if (peek(s) == '}') {
        s->i++;
        *empty = 1;
    }
    return 0;
}

/// A member's key and its colon.
__attribute__((always_inline)) static inline int member(scanner *s, winnow_slice *key) {
    TRY(string(s, key));
    return expect(s, ':', "expected ':'");
}

/// After a member's value: *done = 1 at the closing brace, 0 after a comma.
static inline int object_next(scanner *s, int *done, const char *message) {
    uint8_t c = peek(s);
    s->i++;
    if (c == ',') {
        *done = 0;
        return 0;
    }
    if (c == '}') {
        *done = 1;
        return 0;
    }
    s->i--;
    return fail(s, message);
}

// Loops over the members of the object that comes next, `key` naming each one; the body must consume the value.
#define FOR_MEMBERS(s, key, ...)                                                      \
    do {                                                                              \
        int done_;                                                                    \
        TRY(object_open((s), &done_));                                                \
        while (!done_) {                                                              \
            winnow_slice key;                                                         \
            TRY(member((s), &key));                                                   \
            __VA_ARGS__;                                                              \
            TRY(object_next((s), &done_, "expected ',' or '}' in an object"));       \
        }                                                                             \
    } while (0)

static int scan_head(scanner *s) {
    winnow_wat_page *page = s->page;
    FOR_MEMBERS(s, key, {
        if (IS(s, key, "Base") && peek(s) == '"') {
            TRY(string(s, &page->base));
        } else if (IS(s, key, "Metas")) {
            TRY(expect(s, '[', "expected '['"));
            if (peek(s) == ']') {
                s->i++;
            } else {
                for (;;) {
                    if (peek(s) != '{') {
                        TRY(skip_value(s));
                    } else {
                        winnow_wat_meta m = {{0, 0, 0}, {0, 0, 0}, {0, 0, 0}};
                        FOR_MEMBERS(s, k, {
                            winnow_slice v;
                            int text;
                            TRY(string_or_skip(s, &v, &text));
                            if (!text) {
                                // A number, object... is no name or content.
                            } else if (IS(s, k, "name")) {
                                m.name = v;
                            } else if (IS(s, k, "content")) {
                                m.content = v;
                            } else if (IS(s, k, "http-equiv")) {
                                m.http_equiv = v;
                            }
                        });
                        if (page->metas_count == page->metas_capacity) return WINNOW_WAT_FULL;
                        page->metas[page->metas_count++] = m;
                    }
                    uint8_t c = peek(s);
                    s->i++;
                    if (c == ',') continue;
                    if (c == ']') break;
                    s->i--;
                    return fail(s, "expected ',' or ']' in an array");
                }
            }
        } else {
            TRY(skip_value(s));
        }
    });
    return 0;
}

/// One element the `Links` scan listed: an image link is kept, anything else stepped over. The generator writes
/// `path` first, so once it says the link is not an image the rest of the object is skipped unread.
static int scan_link(scanner *s) {
    if (peek(s) != '{') return skip_value(s);
    s->i++;
    if (peek(s) == '}') {
        s->i++;
        return 0;
    }
    int image = -1;  // unknown until `path` is seen
    winnow_wat_link link;
    memset(&link, 0, sizeof link);
    for (;;) {
        winnow_slice k;
        TRY(string(s, &k));
        TRY(expect(s, ':', "expected ':'"));
        winnow_slice v;
        int text;
        TRY(string_or_skip(s, &v, &text));
        if (!text) {
            // Not a string: nothing the reader takes.
        } else if (IS(s, k, "path")) {
            image = IS(s, v, "IMG@/src");
            if (!image) return skip_rest(s);
        } else if (IS(s, k, "url")) {
            link.url = v;
            link.has_url = 1;
        } else if (IS(s, k, "alt")) {
            link.alt = v;
        } else if (IS(s, k, "title")) {
            link.title = v;
        } else if (link.lazy_kind == 0 && !k.escapes) {
            for (int j = 0; j < 6; j++) {
                if (is(s, k, lazy_names[j], lazy_lengths[j])) {
                    link.lazy_kind = j + 1;
                    link.lazy = v;
                    break;
                }
            }
        }
        uint8_t c = peek(s);
        s->i++;
        if (c == ',') continue;
        if (c == '}') break;
        s->i--;
        return fail(s, "expected ',' or '}' in a link");
    }
    if (image == 1) {
        winnow_wat_page *page = s->page;
        if (page->links_count == page->links_capacity) return WINNOW_WAT_FULL;
        page->links[page->links_count++] = link;
    }
    return 0;
}

/// The `Links` array: most of a page's JSON, and mostly anchors, scripts and styles. The bracket scan steps over
/// the elements whose first member says they are not images and lists the rest.
static int scan_links(scanner *s) {
    TRY(expect(s, '[', "expected '['"));
    winnow_wat_page *page = s->page;
    size_t found = 0;
    ptrdiff_t end = winnow_wat_image_links(s->p, s->i, s->n, page->starts, page->starts_capacity, &found);
    if (end == -2) return WINNOW_WAT_FULL;
    if (end < 0) {
        s->i = s->n;
        return fail(s, "unterminated Links array");
    }
    for (size_t k = 0; k < found; k++) {
        scanner element = *s;
        element.i = page->starts[k];
        TRY(scan_link(&element));
    }
    s->i = (size_t)end;
    return 0;
}

static int scan_http(scanner *s) {
    winnow_wat_page *page = s->page;
    FOR_MEMBERS(s, key, {
        if (IS(s, key, "Headers")) {
            FOR_MEMBERS(s, k, {
                winnow_slice v;
                int text;
                TRY(string_or_skip(s, &v, &text));
                if (text) {
                    if (page->headers_count == page->headers_capacity) return WINNOW_WAT_FULL;
                    page->headers[page->headers_count].name = k;
                    page->headers[page->headers_count].value = v;
                    page->headers_count++;
                }
            });
        } else if (IS(s, key, "HTML-Metadata")) {
            page->has_html = 1;
            FOR_MEMBERS(s, k, {
                if (IS(s, k, "Head")) {
                    TRY(scan_head(s));
                } else if (IS(s, k, "Links")) {
                    TRY(scan_links(s));
                } else {
                    TRY(skip_value(s));
                }
            });
        } else {
            TRY(skip_value(s));
        }
    });
    return 0;
}

/// Whether a payload's `Actual-Content-Type` says it is no HTTP response: a request, or a metadata record's fields.
static int not_a_response(const scanner *s, winnow_slice v) {
    if (v.escapes) return 0;
    const uint8_t *p = s->p + v.start;
    size_t n = v.end - v.start;
    static const char fields[] = "application/warc-fields";
    static const char request[] = "msgtype=request";
    if (n >= sizeof fields - 1 && memcmp(p, fields, sizeof fields - 1) == 0) return 1;
    return n >= sizeof request - 1 && memcmp(p + n - (sizeof request - 1), request, sizeof request - 1) == 0;
}

static int scan_envelope(scanner *s) {
    winnow_wat_page *page = s->page;
    FOR_MEMBERS(s, key, {
        if (IS(s, key, "WARC-Header-Metadata")) {
            FOR_MEMBERS(s, k, {
                winnow_slice v;
                int text;
                TRY(string_or_skip(s, &v, &text));
                if (!text) {
                    // Not a string: nothing the reader takes.
                } else if (IS(s, k, "WARC-Type")) {
                    page->is_response = IS(s, v, "response");
                    // A request's or a metadata record's JSON holds nothing the reader takes: the rest is not read
                    // (nor checked).
                    if (!page->is_response) return WINNOW_WAT_DONE;
                } else if (IS(s, k, "WARC-Target-URI")) {
                    page->target = v;
                } else if (IS(s, k, "WARC-Date")) {
                    page->date = v;
                } else if (IS(s, k, "WARC-Record-ID")) {
                    page->record_id = v;
                }
            });
        } else if (IS(s, key, "Payload-Metadata")) {
            FOR_MEMBERS(s, k, {
                if (IS(s, k, "HTTP-Response-Metadata")) {
                    TRY(scan_http(s));
                } else if (IS(s, k, "Actual-Content-Type") && peek(s) == '"') {
                    winnow_slice v;
                    TRY(string(s, &v));
                    if (not_a_response(s, v)) return WINNOW_WAT_DONE;
                } else {
                    TRY(skip_value(s));
                }
            });
        } else {
            TRY(skip_value(s));
        }
    });
    return 0;
}

int winnow_wat_scan(const uint8_t *p, size_t n, winnow_wat_page *page) {
    static const winnow_slice empty = {0, 0, 0};
    page->metas_count = 0;
    page->headers_count = 0;
    page->links_count = 0;
    page->is_response = 0;
    page->has_html = 0;
    page->target = page->date = page->record_id = page->base = empty;
    page->error_position = 0;
    page->error_message = NULL;
    scanner s = {p, n, 0, page};
    int rc = 0;
    FOR_MEMBERS(&s, key, {
        if (IS(&s, key, "Envelope")) {
            rc = scan_envelope(&s);
            if (rc == WINNOW_WAT_DONE) return WINNOW_WAT_OK;
            TRY(rc);
        } else {
            TRY(skip_value(&s));
        }
    });
    return WINNOW_WAT_OK;
}

// MARK: - URLs and captions

/// Path and query bytes that WHATWG leaves as they are (and that cannot start a dot segment problem): printable
/// ASCII but space " # % ' < > \ ^ ` { } ('^' is left as it is in a query but not in a path: simpler to decline).
static inline int plain(uint8_t c) {
    uint64_t set = c < 64 ? 0xafffff5200000000ull : 0x57fffffeafffffffull;
    return c < 128 && ((set >> (c & 63)) & 1);
}

/// Whether the "%" at b[i] may start "%2e", a dot in a path segment.
static inline int percent_dot(const uint8_t *b, size_t i, size_t n) {
    return i + 2 < n && b[i + 1] == '2' && (b[i + 2] | 0x20) == 'e';
}

/// Whether b[from..<n] is a path then a query that WHATWG leaves as they are: plain bytes, and '%', which the parser
/// keeps as it is; in the path, no "/." and no "%2e" (either may start a dot segment).
#if defined(__SSE2__)
/// clean_tail's test of the 16 bytes at b[i]: 0 when one is not plain or '%', or when the path (while *in_path)
/// holds "/." or "%2e"; clears *in_path at a '?'. Testing a byte twice gives the same answer, so blocks may overlap.
static inline int clean_block(const uint8_t *b, size_t i, size_t n, int *in_path) {
    __m128i x = _mm_loadu_si128((const __m128i *)(b + i));
    // Signed: bytes >= 0x80 are negative, so one comparison finds them and the controls and space.
    __m128i bad = _mm_or_si128(_mm_cmplt_epi8(x, _mm_set1_epi8(0x21)), _mm_cmpeq_epi8(x, _mm_set1_epi8(0x7f)));
    static const char excluded[10] = {'"', '#', '\'', '<', '>', '\\', '^', '`', '{', '}'};
    for (int k = 0; k < 10; k++) bad = _mm_or_si128(bad, _mm_cmpeq_epi8(x, _mm_set1_epi8(excluded[k])));
    if (_mm_movemask_epi8(bad)) return 0;
    if (!*in_path) return 1;
    unsigned query = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8('?')));
    unsigned path = query ? (query & -query) - 1 : 0xffffu;
    unsigned slash = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8('/'))) & path;
    unsigned dot = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8('.')));
    unsigned percent = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8('%'))) & path;
    if ((slash << 1) & dot) return 0;
    // A slash that ends the block: the byte after it is the next block's first.
    if ((slash >> 15) && i + 16 < n && b[i + 16] == '.') return 0;
    while (percent) {
        if (percent_dot(b, i + (size_t)__builtin_ctz(percent), n)) return 0;
        percent &= percent - 1;
    }
    if (query) *in_path = 0;
    return 1;
}
#endif

/// Whether b[from..<n] is a path then a query that WHATWG leaves as they are: plain bytes, and '%', which the parser
/// keeps as it is; in the path, no "/." and no "%2e" (either may start a dot segment).
static int clean_tail(const uint8_t *b, size_t from, size_t n) {
    size_t i = from;
#if defined(__SSE2__)
    // 16 bytes at a time, the last block overlapping the one before.
    if (n - from >= 16) {
        int in_path = 1;
        for (; i + 16 <= n; i += 16) {
            if (!clean_block(b, i, n, &in_path)) return 0;
        }
        return i == n || clean_block(b, n - 16, n, &in_path);
    }
#endif
    for (; i < n; i++) {
        uint8_t c = b[i];
        if (c == '%') {
            if (percent_dot(b, i, n)) return 0;
            continue;
        }
        if (!plain(c)) return 0;
        if (c == '/' && i + 1 < n && b[i + 1] == '.') return 0;
        if (c == '?') break;
    }
    for (; i < n; i++) {
        if (!plain(b[i]) && b[i] != '%') return 0;
    }
    return 1;
}

static inline uint8_t lower(uint8_t c) { return c >= 'A' && c <= 'Z' ? c + 0x20 : c; }

/// Whether a host of plain bytes, not ending in a digit or dot, still means more than its lower-case form: a label
/// that starts with "xn--" (IDNA decodes and validates it) or a last label that starts with "0x" (an IPv4 number
/// when the rest is hex). The parser decides those.
static int host_needs_parser(const uint8_t *b, size_t start, size_t end) {
    size_t label = start;
    for (size_t k = start; k <= end; k++) {
        if (k < end && b[k] != '.') continue;
        if (k - label >= 4 && lower(b[label]) == 'x' && lower(b[label + 1]) == 'n' && b[label + 2] == '-' &&
            b[label + 3] == '-')
            return 1;
        if (k == end && k - label >= 2 && b[label] == '0' && lower(b[label + 1]) == 'x') return 1;
        label = k + 1;
    }
    return 0;
}

static size_t joined(uint8_t *out, const uint8_t *head, size_t head_length, const uint8_t *tail, size_t n) {
    memcpy(out, head, head_length);
    memcpy(out + head_length, tail, n);
    return head_length + n;
}

ptrdiff_t winnow_url_fast_href(const uint8_t *b, size_t n, const winnow_url_base *base, uint8_t *out, int *same) {
    *same = 0;
    if (n <= 1 || n >= 4096) return -1;
    if (b[0] == '/' && b[1] != '/') {
        if (!base || !clean_tail(b, 0, n)) return -1;
        return (ptrdiff_t)joined(out, base->origin, base->origin_length, b, n);
    }
    size_t i = 0;
    int secure = 0;
    int scheme_given = 1;
    if (b[0] == '/') {
        // "//host/...": the base's scheme.
        if (!base) return -1;
        secure = base->secure;
        scheme_given = 0;
        i = 2;
    } else if (n > 8 && lower(b[0]) == 'h' && lower(b[1]) == 't' && lower(b[2]) == 't' && lower(b[3]) == 'p') {
        // "http://" or "https://", any case.
        i = 4;
        if (lower(b[i]) == 's') {
            secure = 1;
            i++;
        }
        if (!(i + 3 <= n && b[i] == ':' && b[i + 1] == '/' && b[i + 2] == '/')) return -1;
        i += 3;
    } else {
        // A path-relative reference: the base's directory, then the input. A colon before the first slash may end
        // a scheme, and a leading dot a dot segment: those go the long way.
        if (!base || !plain(b[0]) || b[0] == '.' || b[0] == '?') return -1;
        for (size_t k = 0; k < n && b[k] != '/' && b[k] != '?'; k++) {
            if (b[k] == ':') return -1;
        }
        if (!clean_tail(b, 0, n)) return -1;
        return (ptrdiff_t)joined(out, base->directory, base->directory_length, b, n);
    }
    size_t host_start = i;
    int upper = 0;
#if defined(__SSE2__)
    // 16 bytes at a time while every byte is a lower-case letter, a digit, '-', '.' or '_' (as signed bytes: the
    // ranges below hold no byte >= 0x80); the byte loop takes over at anything else.
    while (i + 16 <= n) {
        __m128i x = _mm_loadu_si128((const __m128i *)(b + i));
        __m128i ok = _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8('a' - 1)), _mm_cmplt_epi8(x, _mm_set1_epi8('z' + 1)));
        ok = _mm_or_si128(
            ok, _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8('0' - 1)), _mm_cmplt_epi8(x, _mm_set1_epi8('9' + 1))));
        ok = _mm_or_si128(ok, _mm_cmpeq_epi8(x, _mm_set1_epi8('-')));
        ok = _mm_or_si128(ok, _mm_cmpeq_epi8(x, _mm_set1_epi8('.')));
        ok = _mm_or_si128(ok, _mm_cmpeq_epi8(x, _mm_set1_epi8('_')));
        unsigned m = (unsigned)_mm_movemask_epi8(ok);
        if (m != 0xffffu) {
            i += (size_t)__builtin_ctz(~m);
            break;
        }
        i += 16;
    }
#endif
    for (; i < n; i++) {
        uint8_t c = b[i];
        if (c == '/' || c == '?') break;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
              (c >= 'A' && c <= 'Z')))
            return -1;
        if (c >= 'A' && c <= 'Z') upper = 1;
    }
    size_t host_end = i;
    if (host_end <= host_start) return -1;
    uint8_t last = b[host_end - 1];
    if ((last >= '0' && last <= '9') || last == '.' || b[host_start] == '.' || !clean_tail(b, host_end, n)) return -1;
    if (host_needs_parser(b, host_start, host_end)) return -1;
    // Already in normal form (lower-case scheme and host, a path): the input is the answer.
    int scheme_lower = scheme_given && b[0] == 'h' && b[1] == 't' && b[2] == 't' && b[3] == 'p' && (!secure || b[4] == 's');
    if (scheme_lower && !upper && host_end < n && b[host_end] == '/') {
        memcpy(out, b, n);
        *same = 1;
        return (ptrdiff_t)n;
    }
    size_t o = 0;
    const char *scheme = secure ? "https://" : "http://";
    size_t scheme_length = secure ? 8 : 7;
    memcpy(out, scheme, scheme_length);
    o = scheme_length;
    for (size_t k = host_start; k < host_end; k++) out[o++] = lower(b[k]);
    if (host_end == n) {
        out[o++] = '/';
        return (ptrdiff_t)o;
    }
    if (b[host_end] == '?') out[o++] = '/';
    memcpy(out + o, b + host_end, n - host_end);
    return (ptrdiff_t)(o + n - host_end);
}

/// The length of the UTF-8 encoding of the white space character at b[i], or 0: U+0009-U+000D, U+0020, U+0085,
/// U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000 (Unicode's White_Space).
static inline size_t white_space_length(const uint8_t *b, size_t i, size_t n) {
    uint8_t c = b[i];
    if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0d) ? 1 : 0;
    switch (c) {
    case 0xc2:
        return i + 1 < n && (b[i + 1] == 0x85 || b[i + 1] == 0xa0) ? 2 : 0;
    case 0xe1:
        return i + 2 < n && b[i + 1] == 0x9a && b[i + 2] == 0x80 ? 3 : 0;
    case 0xe2: {
        if (i + 2 >= n) return 0;
        uint8_t d = b[i + 1], e = b[i + 2];
        if (d == 0x80 && (e <= 0x8a || e == 0xa8 || e == 0xa9 || e == 0xaf)) return e >= 0x80 ? 3 : 0;
        return d == 0x81 && e == 0x9f ? 3 : 0;
    }
    case 0xe3:
        return i + 2 < n && b[i + 1] == 0x80 && b[i + 2] == 0x80 ? 3 : 0;
    default:
        return 0;
    }
}

/// One byte of `winnow_text_is_clean`'s test: 1 when the byte stops the fast path.
static inline int text_byte_stops(uint8_t c) {
    return c < 0x20 || c == 0x7f || c == '&' || c == 0xc2 || (c >= 0xe1 && c <= 0xe3);
}

int winnow_text_is_clean(const uint8_t *b, size_t n) {
    if (n == 0) return 1;
    if (b[0] == ' ' || b[n - 1] == ' ') return 0;
    size_t i = 0;
#if defined(__SSE2__)
    const __m128i c1f = _mm_set1_epi8(0x1f), del = _mm_set1_epi8(0x7f), amp = _mm_set1_epi8('&');
    const __m128i c2 = _mm_set1_epi8((char)0xc2), e1 = _mm_set1_epi8((char)0xe1), two = _mm_set1_epi8(2);
    const __m128i sp = _mm_set1_epi8(' ');
    for (; i + 16 <= n; i += 15) {
        // Blocks overlap by a byte, so that two spaces across a block boundary are seen.
        __m128i x = _mm_loadu_si128((const __m128i *)(b + i));
        __m128i control = _mm_cmpeq_epi8(_mm_min_epu8(x, c1f), x);  // x <= 0x1f, unsigned
        __m128i e = _mm_sub_epi8(x, e1);
        __m128i lead = _mm_cmpeq_epi8(_mm_min_epu8(e, two), e);  // 0xe1 <= x <= 0xe3
        __m128i bad = _mm_or_si128(_mm_or_si128(control, lead),
            _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, del), _mm_cmpeq_epi8(x, amp)), _mm_cmpeq_epi8(x, c2)));
        if (_mm_movemask_epi8(bad)) return 0;
        unsigned space = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, sp));
        if (space & (space >> 1)) return 0;
    }
#endif
    for (; i < n; i++) {
        if (text_byte_stops(b[i])) return 0;
        if (b[i] == ' ' && i + 1 < n && b[i + 1] == ' ') return 0;
    }
    return 1;
}

size_t winnow_text_collapse(const uint8_t *b, size_t n, uint8_t *out) {
    size_t o = 0;
    size_t i = 0;
    int pending = 0;
    while (i < n) {
#if defined(__SSE2__)
        // 16 bytes of printable ASCII and single spaces, with none at either end of the block, are copied as they
        // are.
        if (i + 16 <= n) {
            __m128i x = _mm_loadu_si128((const __m128i *)(b + i));
            unsigned odd = (unsigned)_mm_movemask_epi8(
                _mm_or_si128(_mm_cmplt_epi8(x, _mm_set1_epi8(0x20)), _mm_cmpeq_epi8(x, _mm_set1_epi8(0x7f))));
            unsigned space = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8(' ')));
            if (!odd && !(space & (space >> 1)) && !(space & 0x8001u)) {
                if (pending) {
                    out[o++] = ' ';
                    pending = 0;
                }
                _mm_storeu_si128((__m128i *)(out + o), x);
                o += 16;
                i += 16;
                continue;
            }
        }
#endif
        uint8_t c = b[i];
        // Printable ASCII, the common case, in a tight loop.
        if (c > 0x20 && c < 0x7f) {
            if (pending) {
                out[o++] = ' ';
                pending = 0;
            }
            out[o++] = c;
            i++;
            continue;
        }
        size_t w = white_space_length(b, i, n);
        if (w > 0) {
            pending = o > 0;
            i += w;
            continue;
        }
        if (pending) {
            out[o++] = ' ';
            pending = 0;
        }
        out[o++] = c;
        i++;
    }
    return o;
}

/// Whether the n bytes at p are valid UTF-8 (no overlong forms, surrogates or values past U+10FFFF).
static int valid_utf8(const uint8_t *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        if (i + 16 <= n && winnow_is_ascii(p + i, 16)) {
            i += 16;
            continue;
        }
        uint8_t c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint32_t min;
        uint32_t v;
        if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
            min = 0x80;
            v = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            min = 0x800;
            v = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            min = 0x10000;
            v = c & 0x07;
        } else {
            return 0;
        }
        for (size_t k = 1; k <= need; k++) {
            if (i + k >= n) return 0;
            uint8_t d = p[i + k];
            if ((d & 0xc0) != 0x80) return 0;
            v = v << 6 | (d & 0x3f);
        }
        if (v < min || v > 0x10ffff || (v >= 0xd800 && v < 0xe000)) return 0;
        i += need + 1;
    }
    return 1;
}

static int hex4(const uint8_t *p, size_t at, size_t end, uint32_t *v) {
    if (at + 4 > end) return 0;
    uint32_t x = 0;
    for (size_t k = 0; k < 4; k++) {
        uint8_t c = p[at + k];
        uint32_t d;
        if (c >= '0' && c <= '9') {
            d = c - '0';
        } else if (c >= 'A' && c <= 'F') {
            d = c - 'A' + 10;
        } else if (c >= 'a' && c <= 'f') {
            d = c - 'a' + 10;
        } else {
            return 0;
        }
        x = x << 4 | d;
    }
    *v = x;
    return 1;
}

/// A string's text with its JSON escapes decoded, into `out` (room for the slice's length); its length, or -1 when
/// an escape is one the full path must judge (a bad \u, a lone surrogate) or the text is not valid UTF-8.
static ptrdiff_t unescape(const uint8_t *p, winnow_slice s, uint8_t *out) {
    size_t o = 0;
    if (!s.escapes) {
        memcpy(out, p + s.start, s.end - s.start);
        o = s.end - s.start;
    } else {
        size_t j = s.start;
        while (j < s.end) {
            uint8_t c = p[j];
            if (c != '\\') {
                out[o++] = c;
                j++;
                continue;
            }
            if (j + 1 >= s.end) return -1;
            uint8_t e = p[j + 1];
            j += 2;
            switch (e) {
            case 'n': out[o++] = '\n'; break;
            case 't': out[o++] = '\t'; break;
            case 'r': out[o++] = '\r'; break;
            case 'b': out[o++] = '\b'; break;
            case 'f': out[o++] = '\f'; break;
            case 'u': {
                uint32_t v;
                if (!hex4(p, j, s.end, &v)) return -1;
                j += 4;
                if (v >= 0xd800 && v < 0xdc00) {
                    uint32_t low;
                    if (!(j + 6 <= s.end && p[j] == '\\' && p[j + 1] == 'u' && hex4(p, j + 2, s.end, &low) &&
                          low >= 0xdc00 && low < 0xe000))
                        return -1;
                    v = 0x10000 + ((v - 0xd800) << 10) + (low - 0xdc00);
                    j += 6;
                } else if (v >= 0xdc00 && v < 0xe000) {
                    return -1;
                }
                if (v < 0x80) {
                    out[o++] = (uint8_t)v;
                } else if (v < 0x800) {
                    out[o++] = (uint8_t)(0xc0 | v >> 6);
                    out[o++] = (uint8_t)(0x80 | (v & 0x3f));
                } else if (v < 0x10000) {
                    out[o++] = (uint8_t)(0xe0 | v >> 12);
                    out[o++] = (uint8_t)(0x80 | ((v >> 6) & 0x3f));
                    out[o++] = (uint8_t)(0x80 | (v & 0x3f));
                } else {
                    out[o++] = (uint8_t)(0xf0 | v >> 18);
                    out[o++] = (uint8_t)(0x80 | ((v >> 12) & 0x3f));
                    out[o++] = (uint8_t)(0x80 | ((v >> 6) & 0x3f));
                    out[o++] = (uint8_t)(0x80 | (v & 0x3f));
                }
                break;
            }
            default: out[o++] = e;  // \" \\ \/ and anything else taken literally
            }
        }
    }
    if (!valid_utf8(out, o)) return -1;
    return (ptrdiff_t)o;
}

/// Decodes `&amp;` in place and returns the new length; -1 when another entity may be present (an '&' with a ';'
/// within the eleven bytes after it, what TextCleaner's decoder looks at), which the full path decodes.
static ptrdiff_t decode_amp(uint8_t *b, size_t n) {
    uint8_t *amp = memchr(b, '&', n);
    if (!amp) return (ptrdiff_t)n;
    size_t o = (size_t)(amp - b);
    size_t i = o;
    while (i < n) {
        uint8_t c = b[i];
        if (c == '&') {
            size_t limit = i + 12 < n ? i + 12 : n;
            size_t semi = i + 1;
            while (semi < limit && b[semi] != ';') semi++;
            if (semi < limit) {
                if (!(semi == i + 4 && b[i + 1] == 'a' && b[i + 2] == 'm' && b[i + 3] == 'p')) return -1;
                b[o++] = '&';
                i = semi + 1;
                continue;
            }
        }
        b[o++] = c;
        i++;
    }
    return (ptrdiff_t)o;
}

size_t winnow_wat_link_room(const winnow_wat_link *link, const winnow_url_base *base) {
    size_t url = link->url.end - link->url.start;
    size_t alt = link->alt.end - link->alt.start;
    size_t title = link->title.end - link->title.start;
    size_t head = base ? (base->directory_length > base->origin_length ? base->directory_length : base->origin_length)
                       : 0;
    // The URL out (base + input + "https://" and a slash), the caption out, and the larger of the escaped inputs.
    size_t caption = alt > title ? alt : title;
    return head + url + 9 + caption + (url > caption ? url : caption) + 16;
}

/// A string's text with JSON escapes and `&amp;` decoded: where it is in the record when it has neither (the common
/// case, no copy), else in `scratch`. Sets *text and returns its length; -1 when the full path must judge it.
static ptrdiff_t link_text(
    const uint8_t *p, winnow_slice s, uint8_t *scratch, const uint8_t **text, int check_utf8) {
    size_t n = s.end - s.start;
    if (!s.escapes && !memchr(p + s.start, '&', n)) {
        if (check_utf8 && !valid_utf8(p + s.start, n)) return -1;
        *text = p + s.start;
        return (ptrdiff_t)n;
    }
    ptrdiff_t c = unescape(p, s, scratch);
    if (c < 0) return -1;
    *text = scratch;
    return decode_amp(scratch, (size_t)c);
}

int winnow_wat_link_fast(
    const uint8_t *p, const winnow_wat_link *link, const winnow_url_base *base, int title_fallback, uint8_t *out,
    size_t *url_length, size_t *caption_length) {
    if (!link->has_url || link->lazy_kind != 0) return 0;
    size_t url_raw = link->url.end - link->url.start;
    size_t head = base ? (base->directory_length > base->origin_length ? base->directory_length : base->origin_length)
                       : 0;
    // out: the URL, then the caption; scratch after the room the URL may take.
    const uint8_t *url;
    // Not checked for UTF-8 here: winnow_url_fast_href takes ASCII only (and data: URLs are checked below).
    ptrdiff_t n = link_text(p, link->url, out + head + url_raw + 9, &url, 0);
    if (n < 0) return 0;
    if (n >= 5 && (url[0] | 0x20) == 'd' && (url[1] | 0x20) == 'a' && (url[2] | 0x20) == 't' &&
        (url[3] | 0x20) == 'a' && url[4] == ':')
        return valid_utf8(url, (size_t)n) ? WINNOW_WAT_LINK_DATA : 0;
    int same;
    ptrdiff_t u = winnow_url_fast_href(url, (size_t)n, base, out, &same);
    if (u < 0) return 0;
    *url_length = (size_t)u;
    uint8_t *caption = out + u;
    size_t alt = link->alt.end - link->alt.start;
    size_t title = link->title.end - link->title.start;
    uint8_t *scratch = caption + (alt > title ? alt : title);
    for (int pass = 0; pass < 2; pass++) {
        const uint8_t *text;
        ptrdiff_t c = link_text(p, pass == 0 ? link->alt : link->title, scratch, &text, 1);
        if (c < 0) return 0;
        *caption_length = winnow_text_collapse(text, (size_t)c, caption);
        if (*caption_length > 0 || !title_fallback) break;
    }
    return 1;
}

ptrdiff_t winnow_wat_page_url(const uint8_t *p, winnow_slice target, uint8_t *out, winnow_url_base *base) {
    const uint8_t *b = p + target.start;
    size_t n = target.end - target.start;
    if (target.escapes) return -1;
    // WARC/1.0's "<uri>" form.
    if (n > 2 && b[0] == '<' && b[n - 1] == '>') {
        b++;
        n -= 2;
    }
    if (memchr(b, '&', n)) return -1;  // an entity the full path decodes
    int same;
    ptrdiff_t u = winnow_url_fast_href(b, n, NULL, out, &same);
    if (u < 0) return -1;
    // out is http(s)://host/path[?query]: the origin ends at the path's slash, the directory at its last slash.
    int secure = out[4] == 's';
    size_t path = secure ? 8 : 7;
    while (path < (size_t)u && out[path] != '/') path++;
    if (path == (size_t)u) return -1;
    size_t end = path;
    while (end < (size_t)u && out[end] != '?') end++;
    size_t last = end - 1;
    while (out[last] != '/') last--;
    base->origin = out;
    base->origin_length = path;
    base->directory = out;
    base->directory_length = last + 1;
    base->secure = secure;
    return u;
}
