#ifndef WINNOW_CGIF_SHIM_H
#define WINNOW_CGIF_SHIM_H
// giflib reports errors by return codes (no longjmp). This decodes the first frame only, however many an animation
// holds, onto the logical screen: pixels the frame does not cover, and transparent ones, are white.
#include <gif_lib.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const unsigned char *data;
    size_t len;
    size_t pos;
} winnow_gif_source;

static inline int winnow_gif_read(GifFileType *gif, GifByteType *buf, int n) {
    winnow_gif_source *s = (winnow_gif_source *)gif->UserData;
    size_t left = s->len - s->pos;
    size_t k = (size_t)n < left ? (size_t)n : left;
    memcpy(buf, s->data + s->pos, k);
    s->pos += k;
    return (int)k;
}

/// Decodes the first frame of a GIF to 8-bit RGB (width*height*3, malloc'ed in *out). Returns 0, or a giflib error
/// code (D_GIF_ERR_...), or -1 when the file holds no image, -2 when out of memory or the sizes are absurd.
static inline int winnow_gif_decode_first_frame(const unsigned char *data, size_t len, long max_pixels,
                                                unsigned char **out, int *width, int *height) {
    winnow_gif_source src = {data, len, 0};
    int err = 0;
    GifFileType *gif = DGifOpen(&src, winnow_gif_read, &err);
    if (!gif) return err ? err : -1;
    int result = -1;
    int transparent = -1;
    long w = gif->SWidth, h = gif->SHeight;
    unsigned char *rgb = NULL;
    unsigned char *line = NULL;
    if (w <= 0 || h <= 0 || w * h > max_pixels) { result = -2; goto done; }
    for (;;) {
        GifRecordType type;
        if (DGifGetRecordType(gif, &type) == GIF_ERROR) { result = gif->Error; goto done; }
        if (type == TERMINATE_RECORD_TYPE) goto done;
        if (type == EXTENSION_RECORD_TYPE) {
            int code;
            GifByteType *ext;
            if (DGifGetExtension(gif, &code, &ext) == GIF_ERROR) { result = gif->Error; goto done; }
            if (code == GRAPHICS_EXT_FUNC_CODE && ext && ext[0] >= 4 && (ext[1] & 1)) transparent = ext[4];
            while (ext) {
                if (DGifGetExtensionNext(gif, &ext) == GIF_ERROR) { result = gif->Error; goto done; }
            }
            continue;
        }
        if (type != IMAGE_DESC_RECORD_TYPE) continue;
        if (DGifGetImageDesc(gif) == GIF_ERROR) { result = gif->Error; goto done; }
        GifImageDesc *d = &gif->Image;
        ColorMapObject *map = d->ColorMap ? d->ColorMap : gif->SColorMap;
        if (!map || d->Width <= 0 || d->Height <= 0) { result = D_GIF_ERR_NO_COLOR_MAP; goto done; }
        rgb = (unsigned char *)malloc((size_t)(w * h * 3));
        line = (unsigned char *)malloc((size_t)d->Width);
        if (!rgb || !line) { result = -2; goto done; }
        memset(rgb, 255, (size_t)(w * h * 3));
        static const int start[4] = {0, 4, 2, 1}, step[4] = {8, 8, 4, 2};
        int passes = d->Interlace ? 4 : 1;
        for (int p = 0; p < passes; p++) {
            for (int y = d->Interlace ? start[p] : 0; y < d->Height; y += d->Interlace ? step[p] : 1) {
                if (DGifGetLine(gif, line, d->Width) == GIF_ERROR) { result = gif->Error; goto done; }
                long sy = d->Top + y;
                if (sy < 0 || sy >= h) continue;
                for (int x = 0; x < d->Width; x++) {
                    long sx = d->Left + x;
                    if (sx < 0 || sx >= w) continue;
                    int index = line[x];
                    if (index == transparent || index >= map->ColorCount) continue;
                    unsigned char *o = rgb + (sy * w + sx) * 3;
                    o[0] = map->Colors[index].Red;
                    o[1] = map->Colors[index].Green;
                    o[2] = map->Colors[index].Blue;
                }
            }
        }
        *out = rgb;
        rgb = NULL;
        *width = (int)w;
        *height = (int)h;
        result = 0;
        goto done;
    }
done:
    free(rgb);
    free(line);
    DGifCloseFile(gif, &err);
    return result;
}

/// giflib's message for an error code.
static inline const char *winnow_gif_error(int code) {
    if (code == -1) return "no image in the file";
    if (code == -2) return "out of memory or absurd dimensions";
    const char *m = GifErrorString(code);
    return m ? m : "unknown giflib error";
}
#endif
