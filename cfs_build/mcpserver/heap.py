"""The long-running server's C heap: large freed buffers go back to the system.

glibc serves a large allocation with its own mapping, returned when freed, but after
each such free it raises that size limit to the freed block's size (up to 32 MiB). A
server that loads a snapshot of megabytes, decodes it and lets the bytes go would
from then on take buffers of that size from its heaps, where freed memory mostly stays
with the process: at 10,000 leaves some 25 MiB of peak memory. Fixing the limit at glibc's own default keeps the first
behaviour for the server's whole life.
"""
from __future__ import annotations

import sys

M_MMAP_THRESHOLD = -3  # mallopt's parameter number (glibc's malloc.h)
MMAP_THRESHOLD = 128 * 1024  # glibc's default; setting it stops the raising


def return_large_buffers() -> bool:
    """Fix glibc's threshold for mapped allocations; False where that is not possible
    (another C library, another system): nothing changes there."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes
        mallopt = ctypes.CDLL(None).mallopt
    except (ImportError, OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
