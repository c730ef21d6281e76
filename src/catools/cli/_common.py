"""What every command shares: C-style option errors, common options, output, exits."""
from __future__ import annotations

import os
import re
import sys
from typing import Any, Callable, Iterable, NoReturn

import click

from .._version import __version__
from ..config import ConfigError as _ConfigError
from ..config import scan_double

#: Exit statuses (the C tools use 0 and 1; signals as a shell reports them).
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_SIGINT = 130
EXIT_SIGPIPE = 141
EXIT_SIGTERM = 143

DEFAULT_TIMEOUT = 1.0
CA_PRIORITY_MAX = 99
VERSION_TEXT = f"\nEPICS Version catools {__version__} (Python), CA Protocol version 4.13\n"


def stderr_is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def error_word() -> str:
    """ "ERROR", in bold red only when stderr is a terminal (the C tools always colour)."""
    if stderr_is_tty() and not os.environ.get("NO_COLOR"):
        return "\033[31;1mERROR\033[0m"
    return "ERROR"


def warn(message: str) -> None:
    """One line on stderr."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    """One line on stderr, then exit."""
    warn(message)
    raise SystemExit(code)


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


def stdout_buffer() -> Any:
    """``sys.stdout.buffer``; OutputError when standard output is closed."""
    stream = sys.stdout
    if stream is None:                          # started with descriptor 1 closed
        raise OutputError()
    return stream.buffer


class _Stdout:
    """The binary standard output: a failed write or flush raises OutputError (a closed
    pipe still raises BrokenPipeError: the tools then end as killed by SIGPIPE)."""

    __slots__ = ("_buffer",)

    def __init__(self, buffer: Any) -> None:
        self._buffer = buffer

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
        try:
            try:
                with self.make_context(name, list(args)) as ctx:
                    code = self.invoke(ctx)
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
                code = exc.exit_code
            except click.exceptions.Abort:
                code = EXIT_SIGINT
            except click.ClickException as exc:
                fail(f"{name}: {exc.format_message()}")
        except KeyboardInterrupt:
            _die_by_signal(2)             # SIGINT
        except BrokenPipeError:
            _silence_stdout()
            _die_by_signal(13)            # SIGPIPE
        except OutputError as exc:
            _silence_stdout()
            warn(f"{name}: error writing standard output: {exc.reason}")
            code = EXIT_ERROR
        except _ConfigError as exc:
            warn(f"{name}: {exc}")
            code = EXIT_ERROR
        except SystemExit as exc:
            if exc.code == EXIT_SIGTERM:
                _die_by_signal(15)        # SIGTERM
            raise
        except Exception as exc:  # no traceback ever reaches the user
            if os.environ.get("CATOOLS_DEBUG"):
                raise
            warn(f"{name}: internal error: {type(exc).__name__}: {exc} "
                 "(set CATOOLS_DEBUG=1 for a traceback)")
            code = EXIT_ERROR
        if not _flush_stdout(name):
            code = EXIT_ERROR
        try:
            sys.stderr.flush()
        except (OSError, ValueError, AttributeError):
            pass
        if fast_exit:
            # Everything is flushed and every socket closed: skip the interpreter's
            # teardown of ~200 modules (several ms of a one-shot tool's run time).
            os._exit(code or 0)
        sys.exit(code or 0)


def _die_by_signal(signum: int) -> NoReturn:
    """End as the C tools do on SIGINT/SIGTERM/SIGPIPE: killed by that signal (a shell
    reports 128 + signal number), quietly, after flushing what was printed."""
    import signal

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




# ---------------------------------------------------------------------------
# Options shared by the tools
# ---------------------------------------------------------------------------

class CaOption(click.Option):
    """A click option whose help text is kept as written (one clean line; a test checks
    them all): click would pass it through ``inspect.cleandoc``, and importing inspect
    costs ~4 ms of a caget's start-up (:data:`catools.cli.DEFERRED`)."""

    def __init__(self, *param_decls: Any, help: str | None = None, **attrs: Any) -> None:
        super().__init__(*param_decls, **attrs)
        self.help = help


def option(*param_decls: str, **attrs: Any) -> Callable:
    """``click.option`` making a :class:`CaOption`."""
    return click.option(*param_decls, cls=CaOption, **attrs)


def record_order(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Option callback: remember the order of order-sensitive options (the C tools
    apply them as getopt meets them) in ``ctx.meta["order"]`` as (name, value)."""
    if value is not None and value is not False:
        ctx.meta.setdefault("order", []).append((param.name, value))
    return value


def usage_error_option(letter: str) -> Callable:
    """A hidden option the C tool's getopt accepts but does not handle: usage on
    stderr and exit 1 (caget's -i, cainfo's -n)."""
    def show(ctx: click.Context, param: click.Parameter, value: bool) -> None:
        if value:
            sys.stderr.write(ctx.command.get_help(ctx))
            ctx.exit(1)
    return option(f"-{letter}", f"unhandled_{letter}", is_flag=True,
                  expose_value=False, callback=show, hidden=True)


def help_option(f: Callable) -> Callable:
    """``-h``/``--help``: the usage on stderr, exit 0 (as the C tools)."""
    def show(ctx: click.Context, param: click.Parameter, value: bool) -> None:
        if value and not ctx.resilient_parsing:
            sys.stderr.write(ctx.command.get_help(ctx))
            sys.stderr.flush()
            ctx.exit(0)
    return option("-h", "--help", is_flag=True, expose_value=False, is_eager=True,
                  callback=show, help="Print the usage on stderr.")(f)


def version_option(f: Callable) -> Callable:
    """``-V``: the version line on stdout."""
    def show(ctx: click.Context, param: click.Parameter, value: bool) -> None:
        if value and not ctx.resilient_parsing:
            _Stdout(stdout_buffer()).write(VERSION_TEXT.encode())
            ctx.exit(0)
    return option("-V", "version", is_flag=True, expose_value=False, is_eager=True,
                  callback=show, help="Show the version.")(f)


def split_plain_tail(args: list[str]) -> tuple[list[str], list[str]]:
    """``(head, tail)``: ``tail`` is what follows the last argument that starts with
    ``-`` and the one word after it (the value that option may take). Every word of
    ``tail`` is a positional argument wherever the options are (getopt permutation),
    so parsing ``head`` and appending ``tail`` gives what parsing all of ``args`` gives."""
    last = -1
    for index in range(len(args) - 1, -1, -1):
        if args[index][:1] == "-":
            last = index
            break
    cut = last + 2
    return args[:cut], args[cut:]


class PVNames(click.Argument):
    """The PV names on the command line (``nargs=-1``): taken as they are, strings from
    argv, without click's per-value conversion (10,000 names cost it ~4 ms)."""

    def type_cast_value(self, ctx: click.Context, value: Any) -> Any:
        return () if value is None else tuple(value)


def ca_options(f: Callable) -> Callable:
    """``-w``, ``-p``: timeout and priority, parsed leniently like the C tools."""
    f = option("-p", "priority", metavar="<prio>", default=None,
               help="CA priority (0-99, default 0=lowest).")(f)
    f = option("-w", "timeout", metavar="<sec>", default=None,
               help="Wait time (CA timeout), default 1.0 s; 0 waits forever.")(f)
    return f


def json_options(f: Callable) -> Callable:
    """``--json`` and ``--file``: our additions (long options only)."""
    f = option("--file", "name_file", metavar="FILE", default=None,
               help="Also read PV names from FILE, one per line ('-' = stdin).")(f)
    f = option("--json", "as_json", is_flag=True,
               help="One JSON object per PV (or update) per line.")(f)
    return f


def resolve_timeout(tool: str, value: str | None) -> float | None:
    """The -w timeout: -w, else EPICS_CLI_TIMEOUT, else 1.0; 0 means forever (None)."""
    timeout = DEFAULT_TIMEOUT
    env = os.environ.get("EPICS_CLI_TIMEOUT")
    if env is not None:
        parsed = scan_double(env)
        if parsed is None:
            warn(f"'{env}' is not a valid timeout value (from 'EPICS_CLI_TIMEOUT' in the "
                 "environment) - ignored. (use '-h' for help.)")
        else:
            timeout = parsed
    if value is not None:
        parsed = scan_double(value)
        if parsed is None:
            warn(f"'{value}' is not a valid timeout value - ignored, using '{timeout:.1f}'. "
                 f"('{tool} -h' for help.)")
        else:
            timeout = parsed
    # As in C, a negative timeout is accepted and gives up at once; 0 and inf wait
    # forever.
    return None if timeout == 0 or timeout == float("inf") else max(timeout, 0.0)


def scan_int(text: str) -> int | None:
    """sscanf("%d"): leading white space and sign, then digits; the rest ignored."""
    m = re.match(r"\s*([+-]?\d+)", text)
    return int(m.group(1)) if m else None


def resolve_priority(tool: str, value: str | None) -> int:
    """-p: 0..99, larger values clamped to 99, garbage ignored with a warning."""
    if value is None:
        return 0
    m = re.match(r"\s*\+?(\d+)", value)
    if not m:
        warn(f"'{value}' is not a valid CA priority - ignored. ('{tool} -h' for help.)")
        return 0
    return min(int(m.group(1)), CA_PRIORITY_MAX)


def resolve_count(tool: str, value: str | None) -> int:
    """-#: an element count (0 = not given)."""
    if value is None:
        return 0
    count = scan_int(value)
    if count is None:
        warn(f"'{value}' is not a valid array element count - ignored. "
             f"('{tool} -h' for help.)")
        return 0
    return max(count, 0)


def float_format_option(kind: str, value: str, current: str) -> str:
    """-e/-f/-g <digits>: a printf format, or the current one with a warning."""
    digits = scan_int(value)
    if digits is None:
        warn(f"Invalid precision argument '{value}' for option '-{kind}' - ignored.")
        return current
    if not 0 <= digits <= 18:
        warn(f"Precision {digits} for option '-{kind}' out of range - ignored.")
        return current
    return f"%-.{digits}{kind}"


NUMBER_OPTIONS = ("fmt_e", "fmt_f", "fmt_g", "long_base", "int_base")


def number_format_options(digits: str) -> Callable:
    """``-e``/``-f``/``-g <digits>``, ``-l``/``-0 <x|o|b>`` and ``-F <ofs>``, as caget
    and camonitor both take them (``digits``: the name their usage gives the precision,
    ``<nr>`` or ``<num>``); see :func:`number_format_option` for their effect."""
    def decorate(f: Callable) -> Callable:
        f = option("-F", "separator", metavar="<ofs>",
                   help="Alternate output field separator.")(f)
        f = option("-0", "int_base", metavar="<x|o|b>", callback=record_order,
                   help="Print integers as hex, octal or binary.")(f)
        f = option("-l", "long_base", metavar="<x|o|b>", callback=record_order,
                   help="Round to long and print as hex, octal or binary.")(f)
        for kind in "gfe":
            f = option(f"-{kind}", f"fmt_{kind}", metavar=digits, callback=record_order,
                       help=f"Use %{kind} with {digits} digits.")(f)
        return f
    return decorate


def number_format_option(name: str, value: str, formats: dict[str, Any]) -> bool:
    """Apply one of -e/-f/-g/-l/-0 (in command-line order) to ``formats`` (keys
    float_format, float_base, int_base); warn as the C tools do about a bad value.
    Returns True when the option took effect."""
    if name in ("fmt_e", "fmt_f", "fmt_g"):
        before = formats["float_format"]
        formats["float_format"] = float_format_option(name[-1], value, before)
        digits = scan_int(value)
        return digits is not None and 0 <= digits <= 18
    base = base_option("l" if name == "long_base" else "0", value)
    if base is not None:
        formats["float_base" if name == "long_base" else "int_base"] = base
    return base is not None


def read_error_kind(error: Exception | None) -> tuple[str, str]:
    """``(kind, message)`` of a failed read as the error lines print it: a kind of
    ``format.ERROR_KINDS`` and, for a failing ECA status, its message."""
    from ..client import AccessDeniedError, CaStatusError, DisconnectedError
    if isinstance(error, AccessDeniedError):
        return "no_read_access", ""
    if isinstance(error, DisconnectedError):
        return "disconnected", ""
    if isinstance(error, CaStatusError):
        from ..protocol import ca_message
        return "ca_error", ca_message(error.status)
    return "no_data", ""


def report_missing(missing: Iterable[Any]) -> int:
    """One stderr line per PV that never connected; the exit status (1 if any)."""
    status = EXIT_OK
    for pv in missing:
        warn(f"Channel connect timed out: '{pv.name}' not found.")
        status = EXIT_ERROR
    return status


def base_option(option: str, value: str) -> str | None:
    """-l / -0 with x, o or b; anything else warns and means decimal."""
    letter = value[:1]
    if letter in ("x", "o", "b"):
        return letter
    warn(f"Invalid argument '{value}' for option '-{option}' - ignored.")
    return None


def collect_names(tool: str, names: Iterable[str], name_file: str | None) -> list[str]:
    """PV names from the command line, then from --file (one per line, '-' = stdin);
    then :func:`check_names`. A NUL byte in the file is an error naming the line."""
    out = list(names)
    if name_file is not None:
        try:
            if name_file == "-":
                stdin = sys.stdin
                if stdin is None:
                    raise OSError(9, "Bad file descriptor")
                text = stdin.buffer.read().decode("utf-8", "surrogateescape")
            else:
                with open(name_file, encoding="utf-8", errors="surrogateescape") as fh:
                    text = fh.read()
        except OSError as exc:
            fail(f"{tool}: cannot read PV names from '{name_file}': {exc.strerror}")
        lines = text.splitlines()
        if "\0" in text:
            number = next(n for n, line in enumerate(lines, 1) if "\0" in line)
            fail(f"{tool}: '{name_file}' line {number}: a PV name cannot contain a "
                 "NUL byte")
        for line in lines:
            line = line.strip()
            if line and not line.startswith("#"):
                out.append(line)
    check_names(out)
    return out


def check_names(names: Iterable[str]) -> None:
    """As the C tools: a name libca refuses (empty, or longer than MAX_NAME_LENGTH
    bytes: a search must fit one datagram) gets one line each, then exit 1 before
    anything is read."""
    from ..protocol._constants import NAME_CHARS_SAFE, name_too_long
    bad = [name for name in names
           if not name or (len(name) > NAME_CHARS_SAFE and name_too_long(name))]
    if bad:
        from ..protocol import CAStatus, ca_message
        text = ca_message(int(CAStatus.ECA_BADSTR))
        for name in bad:
            warn(f"CA error {text} occurred while trying to create channel '{name}'.")
        raise SystemExit(EXIT_ERROR)


def make_context(tool: str, **options: Any) -> Any:
    """A client Context from the environment (a bad EPICS_* value is reported as one
    line naming the variable by CaCommand.main)."""
    from ..client import Context
    return Context(**options)


class Output:
    """stdout as bytes, with optional colour by severity for a terminal."""

    def __init__(self, colour: bool | None = None) -> None:
        self.stream = _Stdout(stdout_buffer())
        if colour is None:
            try:
                colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
            except ValueError:
                colour = False
        self.colorize: Callable[..., str] | None = None
        if colour:
            from ..format._rich import make_colorizer
            self.colorize = make_colorizer(True)

    def text(self, text: str, severity: int | None = None, event: str | None = None) -> None:
        if self.colorize is not None and (severity or event):
            body, newline = (text[:-1], "\n") if text.endswith("\n") else (text, "")
            text = self.colorize(body, severity, event) + newline
        self.stream.write(text.encode("utf-8", "surrogateescape"))

    def raw(self, data: bytes) -> None:
        self.stream.write(data)

    def flush(self) -> None:
        self.stream.flush()
