#ifndef WINNOW_CSNAPPY_SHIM_H
#define WINNOW_CSNAPPY_SHIM_H
// Snappy's C API (snappy-c.h): Parquet's default codec.
#include <snappy-c.h>
#endif
