#ifndef WINNOW_CAVIF_SHIM_H
#define WINNOW_CAVIF_SHIM_H
// libavif (Debian 12: 0.11.1, AV1 decoded by dav1d). It reports errors by result codes, so no C target is needed.
#include <avif/avif.h>
#endif
