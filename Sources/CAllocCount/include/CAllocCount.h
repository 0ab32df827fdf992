#ifndef CALLOCCOUNT_H
#define CALLOCCOUNT_H
// The server's allocation counter (alloc_count.c): malloc and friends, replaced for the kvserver
// executable only, count the usable bytes of every block they hand out.

/// Bytes in malloc blocks the process holds, as counted since it started (accurate to 16 KiB per thread).
long kv_alloc_counted_bytes(void);
#endif
