"""What every command runs in: the C tools' exits, stdout, signals, a Context (no click)."""
from __future__ import annotations

import os
import sys

from .._version import __version__
from ..config import ClientConfig, ConfigError
from ..hints import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable, NoReturn
    from ..client import Context


class ExitStatus:
    """Exit statuses: the C tools use 0 and 1; a signal as a shell reports it (plain
    ints: an enum class would cost every tool ~0.1 ms of start-up)."""

    OK = 0
    ERROR = 1
    SIGINT = 130
    SIGPIPE = 141
    SIGTERM = 143


VERSION_TEXT = f"\nEPICS Version catools {__version__} (Python), CA Protocol version 4.13\n"


def warn(message: str) -> None:
    """One line on stderr."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def fail(message: str, code: int = ExitStatus.ERROR) -> NoReturn:
    """One line on stderr, then exit."""
    warn(message)
    raise SystemExit(int(code))


class OutputError(Exception):
    """Standard output could not be written (closed, full disk, I/O error): the tools
    report it in one line and exit 1 (the C tools ignore it and exit 0)."""

    def __init__(self, error: BaseException | None = None) -> None:
        if isinstance(error, OSError) and error.strerror:
            reason = error.strerror
        elif error is None or isinstance(error, (OSError, ValueError)):
            reason = "Bad file descriptor"      # closed (by the shell or before exit)
        else:
            reason = str(error)
        super().__init__(reason)
        self.reason = reason


class Stdout:
    """The binary standard output: a failed write or flush raises OutputError (a closed
    pipe still raises BrokenPipeError: the tools then end as killed by SIGPIPE)."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        stream = sys.stdout
        if stream is None:                      # started with descriptor 1 closed
            raise OutputError()
        self._buffer = stream.buffer

    def write(self, data: bytes) -> int:
        try:
            return self._buffer.write(data)
        except BrokenPipeError:
            raise
        except (OSError, ValueError) as exc:
            raise OutputError(exc) from None

    def flush(self) -> None:
        try:
            self._buffer.flush()
        except BrokenPipeError:
            raise
        except (OSError, ValueError) as exc:
            raise OutputError(exc) from None


#: The environment of each command running (innermost last), read once by tool_config.
_run_configs: list[ClientConfig | None] = []


def tool_config() -> ClientConfig:
    """The environment as the tools read it, once per command run (made again outside
    a command): ``ClientConfig.from_env``."""
    config = _run_configs[-1] if _run_configs else None
    if config is None:
        config = ClientConfig.from_env(os.environ)
        if _run_configs:
            _run_configs[-1] = config
    return config


def make_context(**options: Any) -> Context:
    """A client Context from the environment (a bad EPICS_* value is reported as one
    line naming the variable by run_guarded) that reports on stderr as libca does."""
    from ..client import Context
    return Context(tool_config(), on_warning=print_ca_exception, on_log=errlog, **options)


def errlog(line: str) -> None:
    """One line on stderr, as libca's errlogPrintf."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def print_ca_exception(message: str, context: str) -> None:
    """libca's CA.Client.Exception block on stderr (ANSI-free)."""
    import time
    stamp = time.strftime("%a %b %d %Y %H:%M:%S", time.localtime())
    frac = f"{time.time() % 1:.9f}"[1:]
    sys.stderr.write(
        "CA.Client.Exception...............................................\n"
        f'    Warning: "{message}"\n'
        f'    Context: "{context}"\n'
        f"    Current Time: {stamp}{frac}\n"
        "..................................................................\n")
    sys.stderr.flush()


def run_guarded(name: str, invoke: Callable[[], int], fast_exit: bool = False) -> NoReturn:
    """Run a command's ``invoke`` (its exit status) and exit as the C tools do: a signal
    ends it as that signal would, a failed write or a bad ``EPICS_*`` value is one line
    on stderr, and no traceback ever reaches the user. ``fast_exit`` (console scripts)
    skips interpreter teardown once everything is flushed."""
    _run_configs.append(None)
    try:
        code = invoke()
    except KeyboardInterrupt:
        die_by_signal(2)              # SIGINT
    except BrokenPipeError:
        _silence_stdout()
        die_by_signal(13)             # SIGPIPE
    except OutputError as exc:
        _silence_stdout()
        warn(f"{name}: error writing standard output: {exc.reason}")
        code = ExitStatus.ERROR
    except ConfigError as exc:
        warn(f"{name}: {exc}")
        code = ExitStatus.ERROR
    except SystemExit as exc:
        if exc.code == ExitStatus.SIGTERM:
            die_by_signal(15)         # SIGTERM
        raise
    except Exception as exc:  # no traceback ever reaches the user
        if os.environ.get("CATOOLS_DEBUG"):
            raise
        warn(f"{name}: internal error: {type(exc).__name__}: {exc} "
             "(set CATOOLS_DEBUG=1 for a traceback)")
        code = ExitStatus.ERROR
    finally:
        _run_configs.pop()
    if not _flush_stdout(name):
        code = ExitStatus.ERROR
    try:
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        pass
    if fast_exit:
        # Everything is flushed and every socket closed: skip the interpreter's
        # teardown of ~200 modules (several ms of a one-shot tool's run time).
        os._exit(int(code or 0))
    sys.exit(int(code or 0))


def die_by_signal(signum: int) -> NoReturn:
    """End as the C tools do on SIGINT/SIGTERM/SIGPIPE: killed by that signal (a shell
    reports 128 + signal number), quietly, after flushing what was printed."""
    import _signal as signal  # type: ignore[import-not-found]  # (C: no enums made)

    _flush_quietly()
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
    os._exit(128 + signum)


def _silence_stdout() -> None:
    """After a closed pipe or a failed write, point stdout at /dev/null so that later
    flushes (and exit) do not complain."""
    if sys.stdout is None:
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _flush_quietly() -> None:
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
    except (OSError, ValueError, AttributeError, RuntimeError):
        pass        # (RuntimeError: a signal handler's flush within a write)


def _flush_stdout(name: str) -> bool:
    """Flush stdout at the end of a command; a failure other than a closed pipe is
    reported in one line. False when it failed."""
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
    except (OSError, ValueError) as exc:
        _silence_stdout()
        warn(f"{name}: error writing standard output: {OutputError(exc).reason}")
        return False
    return True
