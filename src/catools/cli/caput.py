"""caput: write a PV and print its old and new values as EPICS base's caput does."""
from __future__ import annotations

from ..hints import TYPE_CHECKING
from . import command_attribute
from ._app import fail, make_context, warn
from ._args import (CA_OPTIONS, check_names, converter, json_opt, resolve_count,
                    resolve_priority, resolve_timeout)
from ._getopt import Opt, Tool

if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Sequence

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

#: caput's options (its click command is built from them, with ``-h`` and ``-V``).
OPTIONS = (
    *CA_OPTIONS,
    Opt("-c", "callback", help="Put with completion callback and wait."),
    Opt("-t", "terse", ordered=True, help="Terse: new value only."),
    Opt("-l", "long_mode", ordered=True, help='Long: "name timestamp value stat sevr".'),
    Opt("-n", "as_number", ordered=True, help="Interpret enum values as numbers."),
    Opt("-s", "as_string", ordered=True, help="Interpret enum values as strings."),
    Opt("-S", "long_string", ordered=True, help="Put the string as an array of chars."),
    Opt("-a", "array", ordered=True, help="Put an array."),
    Opt("-#", "count", "<count>", help="Accepted and ignored (as in caput)."),
    Opt("-F", "separator", "<ofs>", help="Alternate output field separator."),
    json_opt("Old/new values as JSON lines."),
)


def main(args: Sequence[str], order: Sequence[tuple[str, Any]], timeout: str | None,
         priority: str | None, callback: bool, terse: bool, long_mode: bool,
         as_number: bool, as_string: bool, long_string: bool, array: bool,
         count: str | None, separator: str | None, output: str) -> int:
    """caput of ``args`` (the PV name, then its value or values) with the values of
    :data:`OPTIONS` (``order``: the order-sensitive ones given, in command-line order);
    the exit status."""
    tool = "caput"
    wait = resolve_timeout(tool, timeout)
    prio = resolve_priority(tool, priority)
    resolve_count(tool, count)            # parsed (and warned about) but unused, as in C
    flags = {"enum_nr": False, "enum_str": False, "is_array": False, "char_str": False}
    mode = "plain"
    for name, _ in order:
        if name in ("as_number", "as_string"):
            flags["enum_nr"], flags["enum_str"] = name == "as_number", name == "as_string"
        elif name in ("long_string", "array"):
            flags["char_str"], flags["is_array"] = name == "long_string", name == "array"
        elif name in ("terse", "long_mode"):
            mode = "terse" if name == "terse" else "wide"
    if not args:
        fail("No pv name specified. ('caput -h' for help.)")
    if len(args) == 1:
        fail("No value specified. ('caput -h' for help.)")
    check_names(args[:1])
    from ..format import FormatOptions
    opts = FormatOptions(mode=mode, separator=(separator or " ")[0],
                         enum_as_number=flags["enum_nr"], char_as_string=flags["char_str"])
    return run(args[0], converter(list(args[1:]), **flags), opts, wait, prio, callback,
               output)


def run(name: str, convert: Any, opts: Any, timeout: float | None, priority: int,
        wait: bool, output: str) -> int:
    """Connect, read the old value, put, read the new one (one Put); print them."""
    from ..client import Put, request_type
    from ..client import run as run_op
    from ..format import error_of
    from ._output import error_word, open_sink

    def rule(native: int) -> int:
        return request_type(native, enum_as_number=opts.enum_as_number)

    sink = open_sink(output)
    op = Put([(name, convert)], wait=wait, priority=priority, timeout=timeout, labels=True,
             read_old=opts.mode != "terse", read_new=True, read_type=rule,
             zero_fill=not sink.json)
    ctx = make_context()
    try:
        run_op(ctx, op)
        result = op.results[0]
        error, stage, count = result.error, result.stage, convert.native[1]
        if stage in ("connect", "labels", "convert"):
            fail(f"Read operation timed out: {result.message}" if stage == "labels"
                 else str(result.message))
        status = getattr(getattr(error, "status", None), "name", None)
        for which, reading in (("old", result.old), ("new", result.new)):
            if which == "new" and error is not None:
                if stage == "check" or error.kind == "no_write_access" or \
                        status == "ECA_BADCOUNT" or not (wait or status):
                    sink.flush()     # refused before it was sent (ops-request 6), or lost
                    fail(f"{error_word()} from put operation: {result.message}")
                if wait and error.kind == "no_data":
                    warn("Write callback operation timed out")   # (then New, exit 0)
                    error = None
                elif wait:
                    sink.flush()
                    fail(f"{error_word()} occured writing data: "
                         f"{error_of(result)[1] or result.message}")
            if reading is not None:
                sink.put_reading(which, reading, opts, count)
        sink.flush()
        if error is not None:
            fail(f"{error_word()} occured writing data to '{name}': {error_of(result)[1]}")
        return 0
    finally:
        ctx.close(clear_channels=False)   # as the C tools: the circuit's end frees them


TOOL = Tool("caput", "Write a value to a PV as EPICS base's caput does.", USAGE, OPTIONS,
            main, positional="args", permute=False)
__getattr__ = command_attribute(globals())      # (``command``: caput's click command)


if __name__ == "__main__":  # python -m catools.cli.caput
    from catools.cli import caput_main
    caput_main()
