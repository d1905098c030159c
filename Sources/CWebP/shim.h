#ifndef WINNOW_CWEBP_SHIM_H
#define WINNOW_CWEBP_SHIM_H
#include <webp/decode.h>
#include <webp/encode.h>
// The first frame of an animation, composed on its canvas (libwebpdemux, part of libwebp-dev).
#include <webp/demux.h>
#endif
