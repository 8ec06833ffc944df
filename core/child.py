"""A Python module run as a child process, talked to over a socketpair.

A plain ``python -m`` process rather than `multiprocessing`: a spawned child would import
the caller's main module again, which a script without a main guard can't bear. The child
gets its end of the socket as a file descriptor number, its first argument.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from multiprocessing.connection import Connection


def spawn(module: str, *args: str) -> tuple[subprocess.Popen[bytes], Connection]:
    """Run ``python -m module FD *args``; the returned connection is the parent's end."""
    ours, theirs = socket.socketpair()
    with theirs:
        process = subprocess.Popen(
            [sys.executable, "-m", module, str(theirs.fileno()), *args],
            pass_fds=(theirs.fileno(),),
        )
    return process, Connection(ours.detach())
