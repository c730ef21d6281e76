"""The tools' option values, read as the C tools read them (no click): the lenient
``-w``/``-p``/``-#`` scanners, the number formats, C's ``strtod`` and escapes, PV names."""
from __future__ import annotations

import os
import re
import sys

from ..config import ConfigError, read_timeout, scan_double
from ..hints import TYPE_CHECKING
from ._app import ExitStatus, fail, tool_config, warn
from ._getopt import Opt

if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Iterable

DEFAULT_TIMEOUT = 1.0
CA_PRIORITY_MAX = 99
#: The option names of -e/-f/-g/-l/-0, applied in command-line order.
NUMBER_OPTIONS = ("fmt_e", "fmt_f", "fmt_g", "long_base", "int_base")


#: ``-w``, ``-p``: timeout and priority, parsed leniently like the C tools.
CA_OPTIONS = (
    Opt("-w", "timeout", "<sec>",
        help="Wait time (CA timeout), default 1.0 s; 0 waits forever."),
    Opt("-p", "priority", "<prio>", help="CA priority (0-99, default 0=lowest)."),
)


def json_opt(help: str) -> Opt:
    """``--json``: our addition; the command gets ``output`` ("json" or "text"), which
    only :func:`catools.cli._output.open_sink` interprets."""
    return Opt("--json", "output", value="json", default="text", help=help)


#: ``--json`` and ``--file``: our additions (long options only).
JSON_OPTIONS = (
    json_opt("One JSON object per PV (or update) per line."),
    Opt("--file", "name_file", "FILE",
        help="Also read PV names from FILE, one per line ('-' = stdin)."),
)


def number_format_opts(digits: str) -> tuple[Opt, ...]:
    """``-e``/``-f``/``-g <digits>``, ``-l``/``-0 <x|o|b>`` and ``-F <ofs>``, as caget
    and camonitor both take them (``digits``: the name their usage gives the precision,
    ``<nr>`` or ``<num>``); see :func:`number_format_option` for their effect."""
    return (*(Opt(f"-{kind}", f"fmt_{kind}", digits, ordered=True,
                  help=f"Use %{kind} with {digits} digits.") for kind in "efg"),
            Opt("-l", "long_base", "<x|o|b>", ordered=True,
                help="Round to long and print as hex, octal or binary."),
            Opt("-0", "int_base", "<x|o|b>", ordered=True,
                help="Print integers as hex, octal or binary."),
            Opt("-F", "separator", "<ofs>", help="Alternate output field separator."))


def environment_help(*readers: str) -> str:
    """The environment block of a tool's help: the rows of the table of variables
    (:data:`catools.config.VARIABLES`) that ``readers`` read, one line each."""
    from ..config import variables
    rows = [f"  {v.name:<27} {v.summary}" for v in variables(*readers)]
    return "\n".join(["Environment (see the man page):", *rows]) + "\n"


def resolve_timeout(tool: str, value: str | None) -> float | None:
    """The -w timeout: -w, else EPICS_CLI_TIMEOUT (:func:`tool_config`'s), else 1.0;
    0 means forever (None)."""
    timeout = DEFAULT_TIMEOUT
    try:
        config = tool_config()
        cli_timeout, ignored = config.cli_timeout, config.ignored
    except ConfigError:     # (another variable is bad, reported when the context is made)
        cli_timeout, ignored = read_timeout(os.environ)
    for name, text in ignored:
        warn(f"'{text}' is not a valid timeout value (from '{name}' in the environment) "
             "- ignored. (use '-h' for help.)")
    if cli_timeout is not None:
        timeout = cli_timeout
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


#: The precision -e/-f/-g accept (the C tools' range).
_DIGITS = range(0, 19)


def float_format_option(kind: str, value: str, current: str) -> str:
    """-e/-f/-g <digits>: a printf format, or the current one with a warning."""
    digits = scan_int(value)
    if digits is None:
        warn(f"Invalid precision argument '{value}' for option '-{kind}' - ignored.")
        return current
    if digits not in _DIGITS:
        warn(f"Precision {digits} for option '-{kind}' out of range - ignored.")
        return current
    return f"%-.{digits}{kind}"


def number_format_option(name: str, value: str, formats: dict[str, Any]) -> bool:
    """Apply one of -e/-f/-g/-l/-0 (in command-line order) to ``formats`` (keys
    float_format, float_base, int_base); warn as the C tools do about a bad value.
    Returns True when the option took effect."""
    if name in ("fmt_e", "fmt_f", "fmt_g"):
        before = formats["float_format"]
        formats["float_format"] = float_format_option(name[-1], value, before)
        digits = scan_int(value)
        return digits is not None and digits in _DIGITS
    base = base_option("l" if name == "long_base" else "0", value)
    if base is not None:
        formats["float_base" if name == "long_base" else "int_base"] = base
    return base is not None


def number_formats(order: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """``float_format``/``float_base``/``int_base`` from -e/-f/-g/-l/-0 taken in
    command-line order (``order``: the order-sensitive options given, as (name, value);
    camonitor's and cawait's rule: caget interleaves them with -t/-a/-d)."""
    formats: dict[str, Any] = {"float_format": "%g", "float_base": None, "int_base": None}
    for name, value in order:
        if name in NUMBER_OPTIONS:
            number_format_option(name, value, formats)
    return formats


def base_option(option: str, value: str) -> str | None:
    """-l / -0 with x, o or b; anything else warns and means decimal."""
    letter = value[:1]
    if letter in ("x", "o", "b"):
        return letter
    warn(f"Invalid argument '{value}' for option '-{option}' - ignored.")
    return None


def collect_names(tool: str, names: Iterable[str], name_file: str | None) -> list[str]:
    """PV names from the command line, then from --file (one per line, '-' = stdin);
    then :func:`check_names`; none at all is an error. A NUL byte in the file is an
    error naming the line."""
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
    if not out:
        fail(f"No pv name specified. ('{tool} -h' for help.)")
    return out


def check_names(names: Iterable[str]) -> None:
    """As the C tools: a name libca refuses (empty, or longer than MAX_NAME_LENGTH
    bytes) gets one line each, then exit 1 before anything is read."""
    from ..format import bad_name_line, invalid_names
    bad = invalid_names(names)
    if bad:
        for name in bad:
            warn(bad_name_line(name))
        raise SystemExit(ExitStatus.ERROR)


_STRTOD = r"""\s*([+-]?(?:0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?\d+)?
|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan))"""


def strtod(text: str) -> float | None:
    """epicsStrtod: the longest numeric prefix, or None when there is none."""
    m = re.match(_STRTOD, text, re.IGNORECASE | re.VERBOSE)
    if not m:
        return None
    token = m.group(1)
    if token.lower().lstrip("+-").startswith("0x"):
        sign = -1.0 if token.startswith("-") else 1.0
        try:
            return sign * float.fromhex(token.lstrip("+-"))
        except ValueError:
            return None
    return float(token)


_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92,
            "'": 39, '"': 34, "?": 63, "0": 0}


def unescape(text: str) -> bytes:
    """epicsStrnRawFromEscaped: C escapes (\\n, \\t, \\xHH, octal ...) to raw bytes."""
    raw = text.encode("utf-8", "surrogateescape")
    out = bytearray()
    i, n = 0, len(raw)
    while i < n:
        c = raw[i]
        i += 1
        if c != 92 or i >= n:
            out.append(c)
            continue
        e = chr(raw[i])
        i += 1
        if e == "x":
            digits = b""
            while i < n and len(digits) < 2 and chr(raw[i]) in "0123456789abcdefABCDEF":
                digits += raw[i:i + 1]
                i += 1
            out.append(int(digits, 16) if digits else ord("x"))
        elif e in "01234567":
            octal = e
            while i < n and len(octal) < 3 and chr(raw[i]) in "01234567":
                octal += chr(raw[i])
                i += 1
            out.append(int(octal, 8) & 0xFF)
        elif e in _ESCAPES:
            out.append(_ESCAPES[e])
        else:
            out.append(ord(e))
    return bytes(out)


def converter(values: list[str], enum_nr: bool, enum_str: bool, is_array: bool,
              char_str: bool) -> Any:
    """caput's conversion of its value arguments for the channel it finds (an enum by
    its labels), for ``catools.client.Put``; a value C's caput refuses raises
    ValueError with C's message. ``convert.native`` is the channel's (type, count)."""
    from ..format import DBR_CHAR, DBR_STRING, MAX_STRING_SIZE
    items = values[1:] if is_array else [" ".join(values)]

    def convert(native_type: int, native_count: int, labels: list[bytes] | None
                ) -> tuple[int, Any, int]:
        convert.native = (native_type, native_count)  # type: ignore[attr-defined]
        if labels is not None:          # an enum: by label, or by index
            return _enum_value(items, labels, enum_nr, enum_str)
        if char_str:
            data = unescape(" ".join(values)) + b"\0"
            return DBR_CHAR, data, len(data)
        return DBR_STRING, [unescape(t)[:MAX_STRING_SIZE - 1] for t in items], len(items)
    convert.native = (-1, 0)  # type: ignore[attr-defined]
    return convert


def _enum_value(items: list[str], labels: list[bytes], enum_nr: bool, enum_str: bool
                ) -> tuple[int, Any, int]:
    """caput's value for an enum: indexes with -n; else labels, and a word that is no
    label taken as an index unless -s (the last word decides the type, as in C)."""
    from ..format import DBR_DOUBLE, DBR_STRING, MAX_STRING_SIZE
    numbers = [0.0] * len(items)
    if enum_nr:
        for i, text in enumerate(items):
            number = strtod(text)
            if number is None:
                raise ValueError(f"Enum index value '{text}' is not a number.")
            if number >= len(labels):
                warn(f"Warning: enum index value '{text}' may be too large.")
            numbers[i] = number
        return DBR_DOUBLE, numbers, len(items)
    strings = []
    data_type = DBR_STRING
    for i, text in enumerate(items):
        raw = unescape(text)[:MAX_STRING_SIZE - 1]
        strings.append(raw)
        data_type = DBR_STRING
        if raw in labels:
            continue
        shown = raw.decode("utf-8", "surrogateescape")
        number = strtod(shown)
        if number is None or enum_str:
            raise ValueError(f"Enum string value '{shown}' invalid.")
        if number >= len(labels):
            warn(f"Warning: enum index value '{shown}' may be too large.")
        numbers[i] = number
        data_type = DBR_DOUBLE
    return data_type, strings if data_type == DBR_STRING else numbers, len(items)
