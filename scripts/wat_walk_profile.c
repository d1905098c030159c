// The C half of the WAT read (CScan: the record walk, the page URL, the link path and the caption clean-up) over
// every record of a gzip WAT, each member inflated with libdeflate as the reader does, with the room the Swift caller
// gives. Built by `make profile-wat` for callgrind, whose instruction counts do not drift as wall time does on a
// shared machine: a change to CScan is measured by the counts before and after.
#define _GNU_SOURCE
#include <libdeflate.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "winnow_scan.h"
#include "winnow_wat.h"

enum { METAS = 256, HEADERS = 256, LINKS = 4096, STARTS = 8192 };

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE.warc.wat.gz\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    size_t size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *in = malloc(size ? size : 1);
    size_t capacity = 64 << 20;
    uint8_t *out = malloc(capacity);
    uint8_t *scratch = malloc(1 << 20);
    uint8_t *page_url = malloc(1 << 16);
    static winnow_wat_meta metas[METAS];
    static winnow_wat_header headers[HEADERS];
    static winnow_wat_link links[LINKS];
    static size_t starts[STARTS];
    struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
    if (!in || !out || !scratch || !page_url || !d || fread(in, 1, size, f) != size) {
        fprintf(stderr, "%s: cannot read\n", argv[1]);
        return 1;
    }
    fclose(f);
    size_t position = 0, records = 0, pages = 0, candidates = 0, declined = 0, malformed = 0;
    while (position < size) {
        size_t used, length;
        if (libdeflate_gzip_decompress_ex(d, in + position, size - position, out, capacity, &used, &length) !=
            LIBDEFLATE_SUCCESS) {
            // A prefix of a file (what the make target reads) ends inside a member.
            fprintf(stderr, "%s: stopped at offset %zu: not a whole gzip member\n", argv[1], position);
            if (records == 0) return 1;
            break;
        }
        position += used;
        records++;
        uint8_t *body = memmem(out, length, "\r\n\r\n", 4);
        if (!body || body + 4 >= out + length || body[4] != '{') continue;
        body += 4;
        size_t n = length - (size_t)(body - out);
        winnow_wat_page page = winnow_wat_page_on(metas, METAS, headers, HEADERS, links, LINKS, starts, STARTS);
        int rc = winnow_wat_scan(body, n, &page);
        if (rc != WINNOW_WAT_OK) {
            malformed++;
            continue;
        }
        if (!page.is_response || !page.has_html) continue;
        pages++;
        winnow_url_base base;
        if (page.target.end - page.target.start > (1 << 16) - 9 ||
            winnow_wat_page_url(body, page.target, page_url, &base) < 0)
            continue;
        for (size_t k = 0; k < page.links_count; k++) {
            size_t url_length, caption_length;
            if (winnow_wat_link_room(&links[k], &base) > (1 << 20)) continue;
            if (winnow_wat_link_fast(body, &links[k], &base, 0, scratch, &url_length, &caption_length) ==
                WINNOW_WAT_LINK_OK) {
                candidates++;
            } else {
                declined++;
            }
        }
    }
    printf("%zu records, %zu HTML pages, %zu links in C, %zu left to Swift, %zu malformed or too large\n", records,
           pages, candidates, declined, malformed);
    return 0;
}
