#ifndef CKVSUPPORT_H
#define CKVSUPPORT_H
// Declarations Swift's Glibc module leaves out. Header only: nothing here is compiled.
#include <malloc.h>
#endif
