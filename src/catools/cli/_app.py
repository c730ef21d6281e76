"""What every command runs in: the C tools' parsing and exits, stdout, signals, a Context."""
from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, NoReturn

import click

from .._version import __version__
from ..config import ConfigError

if TYPE_CHECKING:  # pragma: no cover
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


def make_context(**options: Any) -> Context:
    """A client Context from the environment (a bad EPICS_* value is reported as one
    line naming the variable by CaCommand.main) that reports on stderr as libca does."""
    from ..client import Context
    from ._options import tool_config
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


class CaCommand(click.Command):
    """A click command that parses like the C tools' getopt and reports like them.

    Unknown options and missing arguments give the C tools' one-line messages and exit
    status 1; ``-h`` prints the usage on stderr; no traceback ever reaches the user.
    """

    def __init__(self, *args: Any, usage_text: str = "", permute: bool = True,
                 **kwargs: Any) -> None:
        settings = kwargs.setdefault("context_settings", {})
        settings.setdefault("help_option_names", [])
        settings["allow_interspersed_args"] = permute
        super().__init__(*args, **kwargs)
        self.usage_text = usage_text
        #: Split plain trailing words off before click parses (see parse_args).
        self.split_names = permute and any(p.name == "names" for p in self.params)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """click's parsing, with the trailing run of plain words (PV names) added to
        ``names`` directly: click's argv loop costs ~1 us per word (10 ms for 10,000
        names) and would only append them in the same order."""
        tail: list[str] = []
        if self.split_names:
            from ._options import split_plain_tail
            args, tail = split_plain_tail(args)
        rest = super().parse_args(ctx, args)
        if tail:
            ctx.params["names"] = (*(ctx.params.get("names") or ()), *tail)
        return rest

    def get_help(self, ctx: click.Context) -> str:
        return self.usage_text

    def make_parser(self, ctx: click.Context) -> Any:
        """click's parser, minus the cost of its misses: click tries every ``-x`` as a
        long option first, and each miss builds "did you mean" suggestions with difflib
        and a message through gettext (imports and a catalog search: ~3 ms per run).
        The C-style messages here use neither."""
        parser = super().make_parser(ctx)
        long_opts = getattr(parser, "_long_opt", None)
        match_long = getattr(parser, "_match_long_opt", None)
        if isinstance(long_opts, dict) and match_long is not None:
            def match_long_opt(opt: str, explicit_value: Any, state: Any) -> Any:
                if opt not in long_opts:
                    raise click.NoSuchOption(opt, f"No such option: {opt}", ctx=ctx)
                return match_long(opt, explicit_value, state)
            parser._match_long_opt = match_long_opt  # type: ignore[method-assign]
        return parser

    def main(  # type: ignore[override]  # (always exits; fast_exit for console scripts)
            self, args: Any = None, prog_name: str | None = None, fast_exit: bool = False,
            **extra: Any) -> NoReturn:
        """Run the command and exit; ``fast_exit`` (console scripts) skips interpreter
        teardown once everything is flushed."""
        name = self.name or "catools"
        if args is None:
            args = sys.argv[1:]
            if f"_{name.upper()}_COMPLETE" in os.environ:   # (shell completion: click's)
                self._main_shell_completion({}, name)
        try:
            code = self._invoke(name, list(args))
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

    def _invoke(self, name: str, args: list[str]) -> int:
        """Parse and run; click's errors as the C tools' one-line messages."""
        try:
            with self.make_context(name, args) as ctx:
                return self.invoke(ctx)
        except click.exceptions.NoSuchOption as exc:
            fail(f"Unrecognized option: '{exc.option_name}'. ('{name} -h' for help.)")
        except click.exceptions.BadOptionUsage as exc:
            message = exc.message
            if message.endswith("requires an argument."):
                fail(f"Option '{exc.option_name}' requires an argument. "
                     f"('{name} -h' for help.)")
            fail(f"{message} ('{name} -h' for help.)")
        except click.exceptions.UsageError as exc:
            fail(f"{exc.format_message()} ('{name} -h' for help.)")
        except click.exceptions.Exit as exc:
            return exc.exit_code
        except click.exceptions.Abort:
            return ExitStatus.SIGINT
        except click.ClickException as exc:
            fail(f"{name}: {exc.format_message()}")


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
