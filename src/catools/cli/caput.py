"""caput: write a PV and print its old and new values as EPICS base's caput does."""
from __future__ import annotations

import re
from typing import Any

import click

from ._common import (CaCommand, Output, ca_options, check_names, error_word, fail,
                      help_option, make_context, option, read_error_kind, record_order,
                      resolve_count, resolve_priority, resolve_timeout, version_option,
                      warn)

USAGE = """
Usage: caput [options] <PV name> <PV value> ...
       caput -a [options] <PV name> <no of values> <PV value> ...

  -h: Help: Print this message
  -V: Version: Show EPICS and CA versions
Channel Access options:
  -w <sec>:  Wait time, specifies CA timeout, default is 1.000000 second(s)
  -c: Asynchronous put (use ca_put_callback and wait for completion)
  -p <prio>: CA priority (0-99, default 0=lowest)
Format options:
  -t: Terse mode - print only sucessfully written value, without name
  -l: Long mode "name timestamp value stat sevr" (read PVs as DBR_TIME_xxx)
Enum format:
  Default: Auto - try value as ENUM string, then as index number
  -n: Force interpretation of values as numbers
  -s: Force interpretation of values as strings
Arrays:
  Default: Put scalar
      Value format: all value arguments concatenated with spaces
  -S: Put string as an array of chars (long string)
  -a: Put array
      Value format: number of values, then list of values
Alternate output field separator:
  -F <ofs>: Use <ofs> as an alternate output field separator
catools additions:
  --json: Print the old and new values as JSON objects (one per line)

Example: caput my_channel 1.2
  (puts 1.2 to my_channel)

"""

MAX_STRING = 40


@click.command("caput", cls=CaCommand, usage_text=USAGE, permute=False)
@help_option
@version_option
@ca_options
@option("-c", "callback", is_flag=True, help="Put with completion callback and wait.")
@option("-t", "terse", is_flag=True, callback=record_order, help="Terse: new value only.")
@option("-l", "long_mode", is_flag=True, callback=record_order,
        help='Long: "name timestamp value stat sevr".')
@option("-n", "as_number", is_flag=True, callback=record_order,
        help="Interpret enum values as numbers.")
@option("-s", "as_string", is_flag=True, callback=record_order,
        help="Interpret enum values as strings.")
@option("-S", "long_string", is_flag=True, callback=record_order,
        help="Put the string as an array of chars.")
@option("-a", "array", is_flag=True, callback=record_order, help="Put an array.")
@option("-#", "count", metavar="<count>", help="Accepted and ignored (as in caput).")
@option("-F", "separator", metavar="<ofs>", help="Alternate output field separator.")
@option("--json", "as_json", is_flag=True, help="Old/new values as JSON lines.")
@click.argument("args", nargs=-1)
@click.pass_context
def command(ctx: click.Context, args: tuple[str, ...], timeout: str | None,
            priority: str | None, callback: bool, terse: bool, long_mode: bool,
            as_number: bool, as_string: bool, long_string: bool, array: bool,
            count: str | None, separator: str | None, as_json: bool) -> int:
    """Write a value to a PV as EPICS base's caput does."""
    tool = "caput"
    wait = resolve_timeout(tool, timeout)
    prio = resolve_priority(tool, priority)
    resolve_count(tool, count)            # parsed (and warned about) but unused, as in C
    enum_nr = enum_str = is_array = char_str = False
    for name, _ in ctx.meta.get("order", []):
        if name == "as_number":
            enum_nr, enum_str = True, False
        elif name == "as_string":
            enum_nr, enum_str = False, True
        elif name == "long_string":
            char_str, is_array = True, False
        elif name == "array":
            char_str, is_array = False, True
    mode = "plain"
    for name, _ in ctx.meta.get("order", []):
        if name == "terse":
            mode = "terse"
        elif name == "long_mode":
            mode = "wide"
    if not args:
        fail("No pv name specified. ('caput -h' for help.)")
    if len(args) == 1:
        fail("No value specified. ('caput -h' for help.)")
    check_names(args[:1])
    from ..format import FormatOptions
    opts = FormatOptions(mode=mode, separator=(separator or " ")[0],
                         enum_as_number=enum_nr, char_as_string=char_str)
    return run(args[0], list(args[1:]), opts, wait, prio, callback, enum_nr, enum_str,
               is_array, char_str, as_json)


_STRTOD = re.compile(r"\s*([+-]?(?:0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)"
                     r"(?:[pP][+-]?\d+)?|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|"
                     r"inf(?:inity)?|nan))", re.IGNORECASE)


def strtod(text: str) -> float | None:
    """epicsStrtod: the longest numeric prefix, or None when there is none."""
    m = _STRTOD.match(text)
    if not m:
        return None
    token = m.group(1)
    if token.lower().lstrip("+-").startswith("0x"):
        sign = -1.0 if token.startswith("-") else 1.0
        body = token.lstrip("+-")
        try:
            return sign * float.fromhex(body)
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


def run(name: str, values: list[str], opts: Any, timeout: float | None, priority: int,
        callback: bool, enum_nr: bool, enum_str: bool, is_array: bool, char_str: bool,
        as_json: bool) -> int:
    """Connect, read old value, put, read new value; return the exit status."""
    from ..client import AccessDeniedError, CaStatusError, DisconnectedError
    from ..protocol import ca_message

    out = Output(colour=None if not as_json else False)
    ctx = make_context("caput")
    try:
        pv = ctx.pv(name, priority)
        if not ctx.wait_connected([pv], timeout):
            fail(f"Channel connect timed out: '{name}' not found.")
        if is_array:
            items = values[1:]
        else:
            items = [" ".join(values)]
        count = len(items)
        data_type: int = 0
        data: Any
        if pv.native_type == 3:                               # DBF_ENUM
            op = ctx.read(pv, 24, 1)                          # DBR_GR_ENUM
            ctx.wait([op], timeout)
            if not op.done or op.error is not None:
                fail("Read operation timed out: ENUM data was not read.")
            states = op.result.metadata.enum_strings or []
            numbers = [0.0] * count
            if enum_nr:
                for i, text in enumerate(items):
                    number = strtod(text)
                    if number is None:
                        fail(f"Enum index value '{text}' is not a number.")
                    if number >= len(states):
                        warn(f"Warning: enum index value '{text}' may be too large.")
                    numbers[i] = number
                data_type, data = 6, numbers
            else:
                strings = []
                for i, text in enumerate(items):
                    raw = unescape(text)[:MAX_STRING - 1]
                    strings.append(raw)
                    data_type = 0
                    if raw in states:
                        continue
                    shown = raw.decode("utf-8", "surrogateescape")
                    number = strtod(shown)
                    if number is None or enum_str:
                        fail(f"Enum string value '{shown}' invalid.")
                    if number >= len(states):
                        warn(f"Warning: enum index value '{shown}' may be too large.")
                    numbers[i] = number
                    data_type = 6
                data = strings if data_type == 0 else numbers
        elif char_str:
            raw = unescape(" ".join(values))
            data_type, data = 4, raw + b"\0"
            count = len(data)
        else:
            data_type = 0
            data = [unescape(text)[:MAX_STRING - 1] for text in items]

        if opts.mode != "terse":
            _print(out, ctx, pv, opts, "old", timeout, as_json)

        if count > pv.native_count:
            fail(f"{error_word()} from put operation: {ca_message(0xB0)}")
        if not pv.write_access:
            fail(f"{error_word()} from put operation: {ca_message(0x178)}")
        pv.write_errors.clear()
        op = ctx.write(pv, data, data_type=data_type, count=count, notify=callback)
        if callback:
            if not ctx.wait([op], timeout):
                warn("Write callback operation timed out")
            elif op.error is not None:
                error = op.error
                text = ca_message(error.status) if isinstance(error, CaStatusError) \
                    else error.message
                fail(f"{error_word()} occured writing data: {text}")
        elif op.error is not None:
            fail(f"{error_word()} from put operation: {op.error.message}")
        if isinstance(op.error, (AccessDeniedError, DisconnectedError)):
            fail(f"{error_word()} from put operation: {op.error.message}")
        _print(out, ctx, pv, opts, "new", timeout, as_json)
        if not callback:
            ctx.sync(pv, timeout)
            if pv.write_errors:
                error = pv.write_errors[0]
                out.flush()
                fail(f"{error_word()} occured writing data to '{name}': "
                     f"{ca_message(error.status)}")
        return 0
    finally:
        out.flush()
        ctx.close(clear_channels=False)   # as the C tools: the circuit's end frees them


def _print(out: Output, ctx: Any, pv: Any, opts: Any, which: str, timeout: float | None,
           as_json: bool) -> None:
    """caput's Old/New line: TIME_<native> read (enums as string, -n number)."""
    from ..client import AccessDeniedError
    from ..format import default_request_type
    from .caget import _reading, c_array_get, read_bounded, too_large

    dtype = default_request_type(pv.native_type, enum_as_number=opts.enum_as_number)
    count = pv.native_count
    op = read_bounded(ctx, [(pv, dtype, count)])[0]
    ctx.wait([op], timeout)
    if as_json:
        from ..format import caget_json, caget_json_error
        if op.done and op.error is None:
            line = caget_json(pv.name, _reading(pv, op.result),
                              char_as_string=opts.char_as_string)
        else:
            line = caget_json_error(pv.name, "no_data")
        body = line.rstrip("\n")
        out.text(body[:-1] + f',"which":"{which}"}}\n')
        return
    from ..format import format_caget_error, format_caput
    result = c_array_get(op, dtype, count)     # (C caput prints what it asked for)
    if result is not None:
        reading = _reading(pv, result)
        out.text(format_caput(which, pv.name, reading, opts),
                 getattr(reading.metadata, "severity", None))
        return
    error = op.error
    if isinstance(error, AccessDeniedError) or not op.done or too_large(op):
        warn("Read operation timed out: PV data was not read.")
    prefix = "" if opts.mode == "terse" else ("Old : " if which == "old" else "New : ")
    kind, message = read_error_kind(error)
    out.text(prefix + format_caget_error(pv.name, kind, opts, count=pv.native_count,
                                         message=message), event="error")


if __name__ == "__main__":  # python -m catools.cli.caput
    from catools.cli import run_command
    run_command(command)
