"""A console script given a very long command line runs again on it read from a file.

CPython keeps its command line several times over for the life of the process (wide
strings in its configuration, ``sys.argv``, ``sys.orig_argv``): about 50 MiB for 100,000
PV names, as much as all of EPICS base's camonitor takes. With more than :data:`LONG`
arguments, :func:`restart_if_long` writes them to an unlinked file (a memfd on Linux) and
execs the same script again without them (POSIX only: the same process, with its PID,
file descriptors and environment, and :data:`MMAP_THRESHOLD` set); there it reads them
back into ``sys.argv``, and the tool runs as it would have.
"""
from __future__ import annotations

import os
import sys

#: Arguments from which a console script runs again (each costs CPython ~500 bytes).
LONG = 4096
#: The environment variable that names the descriptor of the arguments' file.
ARGS_FD = "_CATOOLS_ARGS_FD"
#: glibc's setting, given to the process that runs again (unless set already): blocks
#: of 256 KiB and more (the tables of 100,000 channels, and each table they outgrow)
#: are mapped on their own and given back when freed, not left as holes in the heap.
MMAP_THRESHOLD = "MALLOC_MMAP_THRESHOLD_"


def restart_if_long() -> None:
    """In the process that runs again: ``sys.argv[1:]`` read back from the file. Else,
    with more than LONG arguments (POSIX, ``sys.argv[0]`` a file: a console script),
    exec it again with them in a file; otherwise (or if that fails) return."""
    fd = os.environ.pop(ARGS_FD, None)
    if fd is not None:
        fd, _, threshold = fd.partition(":")
        if threshold:
            os.environ.pop(MMAP_THRESHOLD, None)
        with open(int(fd), "rb") as f:
            sys.argv[1:] = os.fsdecode(f.read()).split("\0")
        return
    argv = sys.argv
    if len(argv) <= LONG or os.name != "posix" or not os.path.isfile(argv[0]):
        return
    orig = getattr(sys, "orig_argv", None) or [sys.executable, argv[0]]
    first = len(orig) - len(argv)        # (the interpreter's own options come first)
    options = orig[1:first] if first >= 1 and orig[first] == argv[0] else []
    fd_out = -1
    try:
        fd_out = _unlinked_file()
        rest = memoryview(b"\0".join(map(os.fsencode, argv[1:])))
        while rest:
            rest = rest[os.write(fd_out, rest):]
        os.lseek(fd_out, 0, os.SEEK_SET)
        os.set_inheritable(fd_out, True)
        env = dict(os.environ)
        env[ARGS_FD] = str(fd_out)
        if MMAP_THRESHOLD not in env:
            env[MMAP_THRESHOLD] = "262144"
            env[ARGS_FD] += ":set"
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(sys.executable, [sys.executable, *options, argv[0]], env)
    except OSError:
        if fd_out >= 0:
            os.close(fd_out)
        return      # (the tool runs on the command line as it is)


def _unlinked_file() -> int:
    """A descriptor of a file with no name (memfd, else an unlinked temporary file)."""
    memfd_create = getattr(os, "memfd_create", None)
    if memfd_create is not None:
        try:
            return memfd_create("catools-args", 0)
        except OSError:
            pass
    import tempfile
    return os.dup(tempfile.TemporaryFile().fileno())
