// libFuzzer harness for AVIF decoding as WinnowImage does it (Codec+AVIF.swift), through the same libavif calls:
// the header parse (primary item, then tracks), and the decode of the first image to 8-bit RGB or RGBA with the
// pixel limit handed to libavif and dav1d. `make fuzz` builds it with ASan + UBSan and runs it for FUZZ_SECONDS.
// libavif and dav1d are Debian's (not instrumented): a crash or a leak in them still shows.
#include <stdint.h>
#include <stdlib.h>

#include "../Sources/CAVIF/shim.h"

#define MAX_PIXELS 4000000  // the pipeline refuses larger images before decoding

static avifDecoder *parsed(const uint8_t *data, size_t size, uint32_t limit) {
    avifDecoder *d = avifDecoderCreate();
    if (!d) return NULL;
    d->maxThreads = 1;
    d->ignoreExif = 1;
    d->imageSizeLimit = limit;
    d->imageDimensionLimit = limit == MAX_PIXELS ? 65536 : 0;
    if (avifDecoderSetIOMemory(d, data, size) == AVIF_RESULT_OK &&
        avifDecoderSetSource(d, AVIF_DECODER_SOURCE_PRIMARY_ITEM) == AVIF_RESULT_OK) {
        if (avifDecoderParse(d) == AVIF_RESULT_OK) return d;
        if (avifDecoderSetSource(d, AVIF_DECODER_SOURCE_TRACKS) == AVIF_RESULT_OK || avifDecoderParse(d) == AVIF_RESULT_OK)
            return d;
    }
    avifDecoderDestroy(d);
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    // The header alone, as Codec.dimensions and ImageMetadata.scan read it.
    avifDecoder *h = parsed(data, size, 16384 * 16384);
    if (!h) return 0;
    uint64_t w = h->image->width, ht = h->image->height;
    avifDecoderDestroy(h);
    if (w == 0 || ht == 0 || w * ht > MAX_PIXELS) return 0;
    avifDecoder *d = parsed(data, size, MAX_PIXELS);
    if (!d) return 0;
    if (avifDecoderNextImage(d) == AVIF_RESULT_OK && d->image->width == w && d->image->height == ht) {
        int alpha = d->image->alphaPlane != NULL;
        avifRGBImage rgb;
        avifRGBImageSetDefaults(&rgb, d->image);
        rgb.depth = 8;
        rgb.format = alpha ? AVIF_RGB_FORMAT_RGBA : AVIF_RGB_FORMAT_RGB;
        rgb.rowBytes = (uint32_t)w * (alpha ? 4 : 3);
        rgb.pixels = malloc((size_t)rgb.rowBytes * ht);
        if (rgb.pixels) avifImageYUVToRGB(d->image, &rgb);
        free(rgb.pixels);
    }
    avifDecoderDestroy(d);
    return 0;
}
