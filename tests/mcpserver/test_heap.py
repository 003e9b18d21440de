"""The server fixes glibc's threshold for mapped allocations where glibc is the C library."""
from __future__ import annotations

import platform
import subprocess
import sys

from cfs_build.mcpserver.heap import return_large_buffers
from mcpkit import REPO


def test_the_threshold_is_fixed_under_glibc_and_left_alone_elsewhere():
    glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    # In a process of its own: the setting lasts for the life of the process.
    done = subprocess.run([sys.executable, "-c", "from cfs_build.mcpserver.heap import "
                           "return_large_buffers as r; print(r())"], capture_output=True,
                          text=True, cwd=REPO, check=True)
    assert done.stdout.strip() == str(glibc)
    if not sys.platform.startswith("linux"):
        assert return_large_buffers() is False
