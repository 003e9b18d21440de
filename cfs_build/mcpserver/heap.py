"""The long-running server's C heap: large freed buffers go back to the system.

glibc serves a large allocation with its own mapping, returned when freed, but after
each such free it raises that size limit to the freed block's size (up to 32 MiB). A
server that loads a snapshot of megabytes, decodes it and lets the bytes go would
from then on take buffers of that size from its heaps, where freed memory mostly stays
with the process: at 10,000 leaves some 25 MiB of peak memory. Set once, the limit
stays: the megabytes of a snapshot, its basis or the tree's index are mapped and given
back. It is set above what one request reads (a manifest of 10,000 entries is about
1.2 MB), and the heap is trimmed only above twice that: mapping and trimming those
buffers anew on every request made load_chain a millisecond or more slower.
"""
from __future__ import annotations

import sys

# mallopt's parameter numbers (glibc's malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 2 * 1024 * 1024
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD  # what glibc itself keeps while it moves the limit


def return_large_buffers() -> bool:
    """Fix glibc's limits for mapped allocations and trimming; False where that is not
    possible (another C library, another system): nothing changes there."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes
        mallopt = ctypes.CDLL(None).mallopt
    except (ImportError, OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return (mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
            and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1)
