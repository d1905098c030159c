// libjpeg reports fatal errors by calling error_exit, which must not return: we longjmp back here, inside C,
// so that no Swift frame is ever skipped by a longjmp.
#include "winnow_jpeg.h"
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>

struct winnow_error_mgr {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char *err;
    size_t errlen;
    long damaged;  // warnings that mean missing or corrupt image data
};

static void winnow_error_exit(j_common_ptr cinfo) {
    struct winnow_error_mgr *mgr = (struct winnow_error_mgr *)cinfo->err;
    if (mgr->err && mgr->errlen) {
        char buffer[JMSG_LENGTH_MAX];
        (*cinfo->err->format_message)(cinfo, buffer);
        snprintf(mgr->err, mgr->errlen, "%s", buffer);
    }
    longjmp(mgr->jump, 1);
}

static void winnow_output_message(j_common_ptr cinfo) { (void)cinfo; }

// Warnings are counted, not printed. "Extraneous bytes before marker" leaves the pixels intact, so it does not
// count as damage; a premature end of data or a corrupt entropy-coded segment does.
static void winnow_emit_message(j_common_ptr cinfo, int level) {
    struct winnow_error_mgr *mgr = (struct winnow_error_mgr *)cinfo->err;
    if (level < 0) {
        cinfo->err->num_warnings++;
        if (cinfo->err->msg_code != JWRN_EXTRANEOUS_DATA) mgr->damaged++;
    }
}

static void winnow_error_init(struct winnow_error_mgr *mgr, char *err, size_t errlen) {
    jpeg_std_error(&mgr->pub);
    mgr->pub.error_exit = winnow_error_exit;
    mgr->pub.output_message = winnow_output_message;
    mgr->pub.emit_message = winnow_emit_message;
    mgr->damaged = 0;
    mgr->err = err;
    mgr->errlen = errlen;
    if (err && errlen) err[0] = 0;
}

int winnow_jpeg_read_header(const unsigned char *data, size_t len, int *width, int *height, int *components,
                            char *err, size_t errlen) {
    struct jpeg_decompress_struct cinfo;
    struct winnow_error_mgr jerr;
    winnow_error_init(&jerr, err, errlen);
    cinfo.err = &jerr.pub;
    if (setjmp(jerr.jump)) {
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);
    *width = (int)cinfo.image_width;
    *height = (int)cinfo.image_height;
    *components = cinfo.num_components;
    jpeg_destroy_decompress(&cinfo);
    return 0;
}

size_t winnow_jpeg_whole_image_bytes(const unsigned char *data, size_t len) {
    struct jpeg_decompress_struct cinfo;
    struct winnow_error_mgr jerr;
    winnow_error_init(&jerr, NULL, 0);
    cinfo.err = &jerr.pub;
    if (setjmp(jerr.jump)) {
        jpeg_destroy_decompress(&cinfo);
        return 0;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);
    size_t bytes = 0;
    if (jpeg_has_multiple_scans(&cinfo)) {
        // The coefficient arrays of jdcoefct.c: every block of every component, rounded up to whole MCUs.
        for (int c = 0; c < cinfo.num_components; c++) {
            const jpeg_component_info *ci = &cinfo.comp_info[c];
            size_t across = ((size_t)ci->width_in_blocks + ci->h_samp_factor - 1) / ci->h_samp_factor * ci->h_samp_factor;
            size_t down = ((size_t)ci->height_in_blocks + ci->v_samp_factor - 1) / ci->v_samp_factor * ci->v_samp_factor;
            bytes += across * down * sizeof(JBLOCK);
        }
    }
    jpeg_destroy_decompress(&cinfo);
    return bytes;
}

int winnow_jpeg_decode(const unsigned char *data, size_t len, int scale_denom, unsigned char *dst, size_t capacity,
                       int *width, int *height, int *warnings, char *err, size_t errlen) {
    struct jpeg_decompress_struct cinfo;
    struct winnow_error_mgr jerr;
    // volatile: it changes between setjmp and a possible longjmp.
    unsigned char *volatile row = NULL;
    unsigned char *rgb = dst;
    winnow_error_init(&jerr, err, errlen);
    cinfo.err = &jerr.pub;
    if (setjmp(jerr.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(row);
        return -1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);
    cinfo.scale_num = 1;
    cinfo.scale_denom = (unsigned int)(scale_denom > 0 ? scale_denom : 1);
    int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    int w = (int)cinfo.output_width, h = (int)cinfo.output_height, n = cinfo.output_components;
    if ((size_t)w * (size_t)h * 3 > capacity) {
        snprintf(err, errlen, "output %dx%d is larger than the %zu-byte buffer", w, h, capacity);
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    if (cmyk) {
        row = malloc((size_t)w * (size_t)n);
        if (!row) {
            snprintf(err, errlen, "out of memory for a row of %d", w);
            jpeg_destroy_decompress(&cinfo);
            return -1;
        }
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        unsigned char *dst = rgb + (size_t)cinfo.output_scanline * (size_t)w * 3;
        JSAMPROW rows[1] = {cmyk ? row : dst};
        jpeg_read_scanlines(&cinfo, rows, 1);
        if (cmyk) {
            // Adobe writes CMYK inverted (the common case on the web): R = C * K / 255.
            int inverted = cinfo.saw_Adobe_marker;
            for (int x = 0; x < w; x++) {
                int c = row[4 * x], m = row[4 * x + 1], y = row[4 * x + 2], k = row[4 * x + 3];
                if (!inverted) { c = 255 - c; m = 255 - m; y = 255 - y; k = 255 - k; }
                dst[3 * x] = (unsigned char)((c * k + 127) / 255);
                dst[3 * x + 1] = (unsigned char)((m * k + 127) / 255);
                dst[3 * x + 2] = (unsigned char)((y * k + 127) / 255);
            }
        }
    }
    *warnings = (int)jerr.damaged;
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(row);
    *width = w;
    *height = h;
    return 0;
}

int winnow_jpeg_encode(const unsigned char *rgb, int width, int height, int quality, unsigned char **out,
                       size_t *outlen, char *err, size_t errlen) {
    struct jpeg_compress_struct cinfo;
    struct winnow_error_mgr jerr;
    unsigned char *volatile buffer = NULL;
    unsigned long size = 0;
    winnow_error_init(&jerr, err, errlen);
    cinfo.err = &jerr.pub;
    *out = NULL;
    if (setjmp(jerr.jump)) {
        jpeg_destroy_compress(&cinfo);
        free(buffer);
        return -1;
    }
    jpeg_create_compress(&cinfo);
    unsigned char *b = NULL;
    jpeg_mem_dest(&cinfo, &b, &size);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)cinfo.next_scanline * (size_t)width * 3);
        jpeg_write_scanlines(&cinfo, &row, 1);
        buffer = b;
    }
    jpeg_finish_compress(&cinfo);
    buffer = b;
    jpeg_destroy_compress(&cinfo);
    *out = buffer;
    *outlen = (size_t)size;
    return 0;
}

void winnow_jpeg_free(void *p) { free(p); }
