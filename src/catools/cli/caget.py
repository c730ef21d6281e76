"""caget: read PVs and print them exactly as EPICS base's caget does."""
from __future__ import annotations

from ..hints import TYPE_CHECKING, cast
from . import command_attribute
from ._app import fail, make_context, warn
from ._args import (CA_OPTIONS, JSON_OPTIONS, NUMBER_OPTIONS, collect_names,
                    number_format_option, number_format_opts, resolve_count, resolve_priority,
                    resolve_timeout)
from ._getopt import Opt, Tool

if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Sequence

USAGE = """
Usage: caget [options] <PV name> ...

  -h: Help: Print this message
  -V: Version: Show EPICS and CA versions
Channel Access options:
  -w <sec>: Wait time, specifies CA timeout, default is 1.000000 second(s)
  -c: Asynchronous get (use ca_get_callback and wait for completion)
  -p <prio>: CA priority (0-99, default 0=lowest)
Format options:
      Default output format is "name value"
  -t: Terse mode - print only value, without name
  -a: Wide mode "name timestamp value stat sevr" (read PVs as DBR_TIME_xxx)
  -d <type>: Request specific dbr type; use string (DBR_ prefix may be omitted)
      or number of one of the following types:
 DBR_STRING     0  DBR_STS_FLOAT    9  DBR_TIME_LONG   19  DBR_CTRL_SHORT    29
 DBR_INT        1  DBR_STS_ENUM    10  DBR_TIME_DOUBLE 20  DBR_CTRL_INT      29
 DBR_SHORT      1  DBR_STS_CHAR    11  DBR_GR_STRING   21  DBR_CTRL_FLOAT    30
 DBR_FLOAT      2  DBR_STS_LONG    12  DBR_GR_SHORT    22  DBR_CTRL_ENUM     31
 DBR_ENUM       3  DBR_STS_DOUBLE  13  DBR_GR_INT      22  DBR_CTRL_CHAR     32
 DBR_CHAR       4  DBR_TIME_STRING 14  DBR_GR_FLOAT    23  DBR_CTRL_LONG     33
 DBR_LONG       5  DBR_TIME_INT    15  DBR_GR_ENUM     24  DBR_CTRL_DOUBLE   34
 DBR_DOUBLE     6  DBR_TIME_SHORT  15  DBR_GR_CHAR     25  DBR_STSACK_STRING 37
 DBR_STS_STRING 7  DBR_TIME_FLOAT  16  DBR_GR_LONG     26  DBR_CLASS_NAME    38
 DBR_STS_SHORT  8  DBR_TIME_ENUM   17  DBR_GR_DOUBLE   27
 DBR_STS_INT    8  DBR_TIME_CHAR   18  DBR_CTRL_STRING 28
Enum format:
  -n: Print DBF_ENUM value as number (default is enum string)
Arrays: Value format: print number of requested values, then list of values
  Default:    Print all values
  -# <count>: Print first <count> elements of an array
  -S:         Print array of char as a string (long string)
Floating point type format:
  Default: Use %g format
  -e <nr>: Use %e format, with a precision of <nr> digits
  -f <nr>: Use %f format, with a precision of <nr> digits
  -g <nr>: Use %g format, with a precision of <nr> digits
  -s:      Get value as string (honors server-side precision)
  -lx:     Round to long integer and print as hex number
  -lo:     Round to long integer and print as octal number
  -lb:     Round to long integer and print as binary number
Integer number format:
  Default: Print as decimal number
  -0x: Print as hex number
  -0o: Print as octal number
  -0b: Print as binary number
Alternate output field separator:
  -F <ofs>: Use <ofs> as an alternate output field separator
catools additions:
  --json:      One JSON object per PV per line (see caget(1) for the schema)
  --file FILE: Also read PV names from FILE, one per line ('-' reads stdin)
  --full:      With --json: value, alarm, time, units, precision, limits, states
  --fail-on SEVR: Exit 3 if a PV's alarm is SEVR (MINOR, MAJOR, INVALID) or worse

Example: caget -a -f8 my_channel another_channel
  (uses wide output format, doubles are printed as %f with precision of 8)

"""


#: --fail-on's severities (1, 2, 3 in order).
SEVERITIES = ("MINOR", "MAJOR", "INVALID")


#: caget's options (its click command is built from them, with ``-h``, ``-V`` and ``-i``).
OPTIONS = (
    *CA_OPTIONS,
    Opt("-c", "callback", help="Asynchronous get (dynamic array length)."),
    Opt("-t", "terse", ordered=True, help="Terse: value only."),
    Opt("-a", "wide", ordered=True, help='Wide: "name timestamp value stat sevr".'),
    Opt("-d", "dbr", "<type>", ordered=True,
        help="Request a specific DBR type (name or number)."),
    Opt("-n", "enum_number", help="Print DBF_ENUM values as numbers."),
    Opt("-s", "float_string", help="Get floats as strings (server PREC)."),
    Opt("-S", "char_string", help="Print char arrays as strings."),
    Opt("-#", "count", "<count>", help="Print the first <count> elements."),
    *number_format_opts("<nr>"),
    *JSON_OPTIONS,
    Opt("--full", "full", help="With --json: merge the TIME and CTRL reads."),
    Opt("--fail-on", "fail_on", "SEVR", choices=SEVERITIES,
        help="Exit 3 when a PV's alarm severity is this or worse."),
)


def main(names: Sequence[str], order: Sequence[tuple[str, Any]], timeout: str | None,
         priority: str | None, callback: bool, terse: bool, wide: bool, dbr: str | None,
         enum_number: bool, float_string: bool, char_string: bool, count: str | None,
         fmt_e: str | None, fmt_f: str | None, fmt_g: str | None, long_base: str | None,
         int_base: str | None, separator: str | None, output: str,
         name_file: str | None, full: bool, fail_on: str | None) -> int:
    """caget on ``names`` with the values of :data:`OPTIONS` (``order``: the
    order-sensitive ones given, in command-line order); the exit status."""
    from ..format import DBR_LONG, FormatOptions, parse_dbr_type, readable_dbr_type

    tool = "caget"
    wait = resolve_timeout(tool, timeout)
    prio = resolve_priority(tool, priority)
    req_elems = resolve_count(tool, count)
    mode, dbr_type = "plain", -1
    formats: dict[str, Any] = {"float_format": "%g", "float_base": None, "int_base": None}
    for name, value in order:
        if name in ("terse", "wide", "dbr"):
            if mode != "plain":
                warn("Options t,d,a are mutually exclusive. ('caget -h' for help.)")
            mode = name
            if name == "dbr":
                dbr_type = parse_dbr_type(value)
                if not readable_dbr_type(dbr_type):
                    warn("Requested dbr type out of range or invalid - ignored. "
                         "('caget -h' for help.)")
                    mode = "plain"
        elif name in NUMBER_OPTIONS:
            if number_format_option(name, value, formats) and name == "int_base":
                dbr_type = DBR_LONG   # caget's -0 also selects DBR_LONG for -d (a C quirk)
    opts = FormatOptions(mode=mode, separator=(separator or " ")[0], count=req_elems,
                         enum_as_number=enum_number, char_as_string=char_string,
                         float_as_string=float_string, **formats)
    pv_names = collect_names(tool, names, name_file)
    worst = None if fail_on is None else SEVERITIES.index(fail_on.upper()) + 1
    return run(pv_names, opts, dbr_type if mode == "dbr" else -1, wait, prio, callback,
               output, full, worst)


def run(names: list[str], opts: Any, dbr_type: int, timeout: float | None, priority: int,
        dynamic: bool, output: str, full: bool = False, worst: int | None = None) -> int:
    """Connect, read (one GetMany), print; return the exit status."""
    from ..client import GetMany, request_type
    from ..client import run as run_op
    from ._output import open_sink, report_missing

    def rule(native: int) -> int:
        """-d's type, else what the tools ask for by default."""
        return dbr_type if dbr_type >= 0 else request_type(
            native, enum_as_number=opts.enum_as_number,
            float_as_string=opts.float_as_string)

    sink = open_sink(output)
    if full and not sink.json:
        fail("caget: --full needs --json")
    # the text is what libca leaves (zero-filled); --json says what the server sent
    op = GetMany(names, data_type=rule, count=opts.count, dynamic=dynamic,
                 priority=priority, timeout=timeout, zero_fill=not sink.json, full=full)
    ctx = make_context()
    try:
        run_op(ctx, op)
        columns = op.scalar_values() if worst is None else None
        if columns is not None and sink.caget_values(columns, opts):
            sink.flush()        # (the usual case: every PV one number, no Result made)
            return 0
        counts = [0] * len(op.results) if dynamic else op.counts
        sink.caget(op.results, opts, counts)
        sink.flush()
        status = report_missing(op.results)
        if status or worst is None:
            return status
        from ..results import Reading
        return 3 if any(r.ok and (r.metadata.severity or 0) >= worst    # (ok: a Reading)
                        for r in cast("list[Reading]", op.results)) else 0
    finally:
        ctx.close(clear_channels=False)   # as the C tools: the circuit's end frees them


TOOL = Tool("caget", "Read PVs and print their values as EPICS base's caget does.", USAGE,
            OPTIONS, main, unhandled="i")
__getattr__ = command_attribute(globals())      # (``command``: caget's click command)


if __name__ == "__main__":  # python -m catools.cli.caget
    from catools.cli import caget_main
    caget_main()
