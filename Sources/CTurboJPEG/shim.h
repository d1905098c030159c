// libjpeg-turbo's TurboJPEG API, for winnow-bench only: its baseline "raw tjDecompress2 at full size".
#ifndef WINNOW_CTURBOJPEG_SHIM_H
#define WINNOW_CTURBOJPEG_SHIM_H
#include <turbojpeg.h>
#endif
