#ifndef WINNOW_CPSL_SHIM_H
#define WINNOW_CPSL_SHIM_H
// libpsl: the Public Suffix List, for registrable domains (the report's domain lists).
#include <libpsl.h>
#endif
