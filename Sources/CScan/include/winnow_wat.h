// The per-record work of the WAT reader in C: the walk over a record's JSON that finds what WinnowCrawl needs, and
// the common case of turning an image link into a candidate's URL and caption. Swift does the rest (pages whose
// links need the full URL parser, entities, lazy loading, UTF-8 repair) and builds the strings handed out.
#ifndef WINNOW_WAT_H
#define WINNOW_WAT_H

#include <stddef.h>
#include <stdint.h>

/// A JSON string's raw bytes in the record: between the quotes, escapes not decoded.
typedef struct {
    size_t start;
    size_t end;
    int escapes;  // 1 when the string holds a backslash
} winnow_slice;

/// An `IMG@/src` link: its `url`, `alt` and `title`, and the first lazy-loading attribute it has.
typedef struct {
    winnow_slice url;
    winnow_slice alt;
    winnow_slice title;
    winnow_slice lazy;
    int has_url;
    /// 0 without a lazy-loading attribute, else 1 + its index among the names winnow_wat_lazy_name gives.
    int lazy_kind;
} winnow_wat_link;

/// A `Head.Metas` element.
typedef struct {
    winnow_slice name;
    winnow_slice content;
    winnow_slice http_equiv;
} winnow_wat_meta;

/// An HTTP response header of the page.
typedef struct {
    winnow_slice name;
    winnow_slice value;
} winnow_wat_header;

/// What one WAT record says about a page. The caller provides the arrays (and their capacities); the scan fills
/// them and the counts.
typedef struct {
    winnow_wat_meta *metas;
    size_t metas_capacity, metas_count;
    winnow_wat_header *headers;
    size_t headers_capacity, headers_count;
    winnow_wat_link *links;
    size_t links_capacity, links_count;
    /// Scratch: offsets of the `Links` elements to read.
    size_t *starts;
    size_t starts_capacity;

    int is_response;  // WARC-Header-Metadata.WARC-Type is "response"
    int has_html;     // the payload has HTML-Metadata
    winnow_slice target, date, record_id, base;
    /// When the JSON is malformed: where, and what was expected.
    size_t error_position;
    const char *error_message;
} winnow_wat_page;

/// A page on the caller's arrays, with their capacities; everything else zero.
static inline winnow_wat_page winnow_wat_page_on(
    winnow_wat_meta *metas, size_t metas_capacity, winnow_wat_header *headers, size_t headers_capacity,
    winnow_wat_link *links, size_t links_capacity, size_t *starts, size_t starts_capacity) {
    winnow_wat_page page = {0};
    page.metas = metas;
    page.metas_capacity = metas_capacity;
    page.headers = headers;
    page.headers_capacity = headers_capacity;
    page.links = links;
    page.links_capacity = links_capacity;
    page.starts = starts;
    page.starts_capacity = starts_capacity;
    return page;
}

enum {
    WINNOW_WAT_OK = 0,
    WINNOW_WAT_MALFORMED = -1,
    /// An array of the page (metas, headers, links or starts) is full: grow it and scan again.
    WINNOW_WAT_FULL = -2,
    /// (Inside the walk: the record is not a response, and the rest need not be read.)
    WINNOW_WAT_DONE = -3,
};

/// The name of the lazy-loading attribute a link's `lazy_kind` (1...6) counts: data-src, data-lazy-src,
/// data-original, data-srcset, srcset or data-lazy-srcset.
const char *winnow_wat_lazy_name(int kind);

/// Walks the `n` bytes of WAT JSON at `p`: `Envelope.WARC-Header-Metadata` (type, target, date, record id),
/// `Payload-Metadata.HTTP-Response-Metadata.Headers`, and its `HTML-Metadata` `Head.Base`, `Head.Metas` and the
/// `IMG@/src` elements of `Links`. Everything else is stepped over without being read, and a record whose WARC-Type
/// is not `response` is read no further than that. Returns WINNOW_WAT_OK, or
/// WINNOW_WAT_MALFORMED (error_position and error_message set), or WINNOW_WAT_FULL.
int winnow_wat_scan(const uint8_t *p, size_t n, winnow_wat_page *page);

/// A base URL prepared once per page: `scheme://host[:port]`, and that followed by the base's path up to its last
/// slash (what path-relative references are appended to).
typedef struct {
    const uint8_t *origin;
    size_t origin_length;
    const uint8_t *directory;
    size_t directory_length;
    int secure;  // the base's scheme is https
} winnow_url_base;

/// The WHATWG serialisation of the URL reference in `b` for the common clean cases, without a parser: an absolute
/// http(s) URL or a scheme-relative one whose host is a plain name without port or userinfo (and without what the
/// host parser would change beyond case: an `xn--` label, a last label that may be a number), or a path-absolute or
/// path-relative reference, whose path and query need no encoding and hold no dot segments or backslashes. Writes it
/// to `out` (room for directory_length + n + 9 bytes) and returns its length; sets `*same` when it is `b` unchanged.
/// Returns -1 when the full parser must decide. `base` may be NULL.
ptrdiff_t winnow_url_fast_href(
    const uint8_t *b, size_t n, const winnow_url_base *base, uint8_t *out, int *same);

/// The page URL of a WAT record in the common case, from the bytes of its `WARC-Target-URI` (`target`, in the JSON
/// at `p`; WARC/1.0's `<uri>` form too): no escape, no '&', and a URL `winnow_url_fast_href` serialises. Writes it
/// to `out` (room for the target's length + 9) and sets `base` to it (pointing into `out`); returns its length, or
/// -1 when the full path must decide.
ptrdiff_t winnow_wat_page_url(const uint8_t *p, winnow_slice target, uint8_t *out, winnow_url_base *base);

/// Copies `b` to `out` with every run of Unicode white space (what `Character.isWhitespace` tests) made one space and
/// none at either end; returns the length written (at most n).
size_t winnow_text_collapse(const uint8_t *b, size_t n, uint8_t *out);

/// Whether `winnow_text_collapse` (and entity decoding) would leave the n bytes at b as they are: no control
/// character, DEL or '&', no space at either end or next to another, and no byte that may begin a non-ASCII white
/// space character (0xC2: U+0085, U+00A0; 0xE1: U+1680; 0xE2: U+2000-U+205F; 0xE3: U+3000). Sixteen bytes at a
/// time with SSE2.
int winnow_text_is_clean(const uint8_t *b, size_t n);

enum {
    /// `winnow_wat_link_fast`: the link must take the full path.
    WINNOW_WAT_LINK_FULL = 0,
    /// The URL and caption are in `out`.
    WINNOW_WAT_LINK_OK = 1,
    /// The URL is a `data:` URL, which is dropped (the full path would count it as `url_data`).
    WINNOW_WAT_LINK_DATA = 2,
};

/// The URL and caption of an image link in the common case: no lazy-loading attribute, JSON escapes that decode to
/// valid UTF-8 without lone surrogates, no HTML entity but `&amp;` in the URL and none in the caption, and a URL
/// that `winnow_url_fast_href` serialises. `p` is the record's JSON. `out` needs room for
/// winnow_wat_link_room(link, base) bytes. Returns WINNOW_WAT_LINK_OK with the URL at out[0..<*url_length] and the
/// caption right after it (*caption_length bytes), WINNOW_WAT_LINK_DATA for a `data:` URL, or WINNOW_WAT_LINK_FULL.
int winnow_wat_link_fast(
    const uint8_t *p, const winnow_wat_link *link, const winnow_url_base *base, int title_fallback, uint8_t *out,
    size_t *url_length, size_t *caption_length);

/// The room `winnow_wat_link_fast` needs for `link`.
size_t winnow_wat_link_room(const winnow_wat_link *link, const winnow_url_base *base);

#endif
