// libFuzzer harness for the C that reads WAT records from the web (CScan): the record walk, the container scan in
// each instruction set the CPU has (checked against the byte loop), the common-case link and page URL paths, and
// the caption clean-up, with the same buffers and room the Swift callers give them. `make fuzz-wat` builds it with
// ASan + UBSan and runs it for FUZZ_SECONDS.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "winnow_scan.h"
#include "winnow_wat.h"

enum { METAS = 4, HEADERS = 4, LINKS = 4, STARTS = 8 };

/// Every instruction set's container scan against the byte loop, skipping and listing.
static void check_scans(const uint8_t *data, size_t size) {
    size_t found0[STARTS], count0 = 0;
    ptrdiff_t skip0 = winnow_json_scan_using(0, data, 0, size, NULL, 0, NULL);
    ptrdiff_t list0 = winnow_json_scan_using(0, data, 0, size, found0, STARTS, &count0);
    if (list0 != -2 && list0 != skip0) abort();
    for (int isa = 1; isa <= 3; isa++) {
        // SSE2, AVX2, AVX-512 (each falls back to the best the CPU has below it).
        if (winnow_json_scan_using(isa, data, 0, size, NULL, 0, NULL) != skip0) abort();
        size_t found[STARTS], count = 0;
        if (winnow_json_scan_using(isa, data, 0, size, found, STARTS, &count) != list0) abort();
        if (count != count0 || memcmp(found, found0, count0 * sizeof(size_t)) != 0) abort();
    }
}

static void check_record(const uint8_t *data, size_t size) {
    winnow_wat_meta metas[METAS];
    winnow_wat_header headers[HEADERS];
    winnow_wat_link links[LINKS];
    size_t starts[STARTS];
    winnow_wat_page page = winnow_wat_page_on(metas, METAS, headers, HEADERS, links, LINKS, starts, STARTS);
    if (winnow_wat_scan(data, size, &page) != WINNOW_WAT_OK) return;
    // The page URL, as WATPage gives room for it, and the links resolved against it (or against none).
    winnow_url_base base;
    size_t target = page.target.end - page.target.start;
    uint8_t *page_url = malloc(target + 9);
    int have_base = page_url && winnow_wat_page_url(data, page.target, page_url, &base) >= 0;
    for (size_t k = 0; k < page.links_count; k++) {
        for (int fallback = 0; fallback < 2; fallback++) {
            const winnow_url_base *b = have_base ? &base : NULL;
            size_t room = winnow_wat_link_room(&links[k], b);
            uint8_t *out = malloc(room);
            if (!out) continue;
            size_t url_length, caption_length;
            if (winnow_wat_link_fast(data, &links[k], b, fallback, out, &url_length, &caption_length) ==
                WINNOW_WAT_LINK_OK) {
                if (url_length + caption_length > room) abort();
            }
            free(out);
        }
    }
    free(page_url);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    // An exact-size copy, so that ASan sees any read past the end.
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    check_scans(copy, size);
    check_record(copy, size);
    uint8_t *collapsed = malloc(size ? size : 1);
    if (collapsed && winnow_text_collapse(copy, size, collapsed) > size) abort();
    free(collapsed);
    free(copy);
    return 0;
}
