#ifndef WINNOW_CZSTD_SHIM_H
#define WINNOW_CZSTD_SHIM_H
// Zstandard's one-shot API: Parquet's ZSTD codec.
#include <zstd.h>
#endif
