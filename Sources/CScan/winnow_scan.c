// The scans are static inline in include/winnow_scan.h; this file gives the target its one translation unit.
#include "winnow_scan.h"
