"""caget: read PVs and print them exactly as EPICS base's caget does."""
from __future__ import annotations

from typing import Any

import click

from ._common import (NUMBER_OPTIONS, CaCommand, Output, PVNames, ca_options, collect_names,
                      fail, help_option, json_options, make_context, number_format_option,
                      number_format_options, option, read_error_kind, record_order,
                      report_missing, resolve_count, resolve_priority, resolve_timeout,
                      usage_error_option, version_option, warn)

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

Example: caget -a -f8 my_channel another_channel
  (uses wide output format, doubles are printed as %f with precision of 8)

"""


@click.command("caget", cls=CaCommand, usage_text=USAGE, permute=True)
@help_option
@version_option
@ca_options
@option("-c", "callback", is_flag=True, help="Asynchronous get (dynamic array length).")
@option("-t", "terse", is_flag=True, callback=record_order, help="Terse: value only.")
@option("-a", "wide", is_flag=True, callback=record_order,
        help='Wide: "name timestamp value stat sevr".')
@option("-d", "dbr", metavar="<type>", callback=record_order,
        help="Request a specific DBR type (name or number).")
@option("-n", "enum_number", is_flag=True, help="Print DBF_ENUM values as numbers.")
@option("-s", "float_string", is_flag=True, help="Get floats as strings (server PREC).")
@option("-S", "char_string", is_flag=True, help="Print char arrays as strings.")
@option("-#", "count", metavar="<count>", help="Print the first <count> elements.")
@number_format_options("<nr>")
@usage_error_option("i")
@json_options
@click.argument("names", nargs=-1, cls=PVNames)
@click.pass_context
def command(ctx: click.Context, names: tuple[str, ...], timeout: str | None,
            priority: str | None, callback: bool, terse: bool, wide: bool, dbr: str | None,
            enum_number: bool, float_string: bool, char_string: bool, count: str | None,
            fmt_e: str | None, fmt_f: str | None, fmt_g: str | None, long_base: str | None,
            int_base: str | None, separator: str | None, as_json: bool,
            name_file: str | None) -> int:
    """Read PVs and print their values as EPICS base's caget does."""
    from ..format import FormatOptions, parse_dbr_type

    tool = "caget"
    wait = resolve_timeout(tool, timeout)
    prio = resolve_priority(tool, priority)
    req_elems = resolve_count(tool, count)
    mode, dbr_type = "plain", -1
    formats: dict[str, Any] = {"float_format": "%g", "float_base": None, "int_base": None}
    for name, value in ctx.meta.get("order", []):
        if name in ("terse", "wide", "dbr"):
            if mode != "plain":
                warn("Options t,d,a are mutually exclusive. ('caget -h' for help.)")
            mode = {"terse": "terse", "wide": "wide", "dbr": "dbr"}[name]
            if name == "dbr":
                dbr_type = parse_dbr_type(value)
                if dbr_type < 0 or dbr_type > 38 or dbr_type in (35, 36):
                    warn("Requested dbr type out of range or invalid - ignored. "
                         "('caget -h' for help.)")
                    mode = "plain"
        elif name in NUMBER_OPTIONS:
            if number_format_option(name, value, formats) and name == "int_base":
                dbr_type = 5      # caget's -0 also selects DBR_LONG for -d (a C quirk)
    sep = separator[0] if separator else " "
    opts = FormatOptions(mode=mode, separator=sep, count=req_elems,
                         enum_as_number=enum_number, char_as_string=char_string,
                         float_as_string=float_string, **formats)
    pv_names = collect_names(tool, names, name_file)
    if not pv_names:
        fail("No pv name specified. ('caget -h' for help.)")
    return run(pv_names, opts, dbr_type if mode == "dbr" else -1, wait, prio, callback,
               as_json)


def request_type(native: int, opts: Any, dbr_type: int) -> int:
    """The DBR type caget asks for: -d's, else what the tools ask for by default."""
    if dbr_type >= 0:
        return dbr_type
    from ..format import default_request_type
    return default_request_type(native, enum_as_number=opts.enum_as_number,
                                float_as_string=opts.float_as_string)


def run(names: list[str], opts: Any, dbr_type: int, timeout: float | None, priority: int,
        callback: bool, as_json: bool) -> int:
    """Connect, read, print; return the exit status."""
    from ..client import CONNECTED, AccessDeniedError

    out = Output(colour=None if not as_json else False)
    ctx = make_context("caget")
    try:
        pvs = ctx.pvs_for(names, priority)
        ctx.wait_connected(pvs, timeout)
        missing = [pv for pv in pvs if pv.state != CONNECTED]
        req = opts.count
        plan = []
        # a name given twice is read once (the context has one PV per name)
        seen: set[Any] | None = None if len(ctx.pvs) == len(pvs) else set()
        types: dict[int, int] = {}          # native type -> request type
        most = 0                            # the largest count asked for
        for pv in pvs:
            if pv.state != CONNECTED:
                continue
            if seen is not None:
                if pv in seen:
                    continue
                seen.add(pv)
            native_count = pv.native_count
            if callback:
                n = native_count if req > native_count else req
            else:
                n = req if 0 < req < native_count else native_count
            req_type = types.get(pv.native_type)
            if req_type is None:
                req_type = types[pv.native_type] = request_type(pv.native_type, opts,
                                                                dbr_type)
            plan.append((pv, req_type, n))
            if n > most:
                most = n
        ops = read_bounded(ctx, plan) if most > SMALL_COUNT else ctx.read_many(plan)
        ctx.wait(ops, timeout)
        plain = not as_json and out.colorize is None
        wanted = None if callback or most == 1 else [n for _, _, n in plan]
        lines = scalar_lines(ops, opts, wanted) if plain else [None] * len(ops)
        if plain and len(ops) == len(pvs) and None not in lines:
            # the usual case: every PV (each named once) answered with one value
            text = "".join(lines)  # type: ignore[arg-type]  # (no None in it: checked)
            out.stream.write(text.encode("utf-8", "surrogateescape"))
            out.flush()
            return report_missing(missing)
        if any(not op.done or isinstance(op.error, AccessDeniedError) or too_large(op)
               for op in ops):
            warn("Read operation timed out: some PV data was not read.")
        reads = {pv: (op, n, req_type, line)
                 for op, (pv, req_type, n), line in zip(ops, plan, lines)}
        if as_json:
            from ..format import caget_json, caget_json_error
        else:
            from ..format import format_caget_error, write_caget
        for pv in pvs:
            if not pv.connected and pv not in reads:
                if as_json:
                    out.text(caget_json_error(pv.name, "not_found",
                                              f"Channel connect timed out: '{pv.name}' "
                                              "not found."))
                continue
            op, n, req_type, line = reads[pv]
            if line is not None:
                out.raw(line.encode("utf-8", "surrogateescape"))
                continue
            pad_count = 0 if callback else n
            if callback or as_json:
                result = op.result if op.done and op.error is None else None
            else:
                result = c_array_get(op, req_type, n)
            if result is not None:
                reading = _reading(pv, result)
                if as_json:
                    out.text(caget_json(pv.name, reading, char_as_string=opts.char_as_string))
                elif out.colorize is None:
                    write_caget(out.stream, pv.name, reading, opts)  # type: ignore[arg-type]
                else:
                    from ..format import format_caget as format_line
                    out.text(format_line(pv.name, reading, opts),
                             getattr(reading.metadata, "severity", None))
                continue
            kind, message = read_error_kind(op.error)
            if as_json:
                out.text(caget_json_error(pv.name, kind, message or None))
            else:
                out.text(format_caget_error(pv.name, kind, opts, count=pad_count,
                                            message=message), event="error")
        out.flush()
        return report_missing(missing)
    finally:
        ctx.close(clear_channels=False)   # as the C tools: the circuit's end frees them


def scalar_lines(ops: list[Any], opts: Any, wanted: list[int] | None = None
                 ) -> list[str | None]:
    """caget's line for each read answered with one value (None for the others), the
    common numeric ones straight from the reply's bytes; with ``wanted`` (the counts
    asked for), only for reads that asked for one."""
    from ..format import format_caget, scalar_formats
    from ..protocol import FIRST_VALUE
    forms = scalar_formats(opts)
    lines: list[str | None] = []
    append = lines.append
    for index, op in enumerate(ops):
        result = op.result
        if (op.error is not None or result is None or result.data_count != 1
                or (wanted is not None and wanted[index] != 1)):
            append(None)
            continue
        form = forms[result.data_type]
        if form is not None:
            unpack_from, offset = FIRST_VALUE[result.data_type]
            value = unpack_from(result[-1], offset)[0]
            if value == value:
                append(form % (op.pv.name, value))
                continue
        append(format_caget(op.pv.name, _reading(op.pv, result), opts))
    return lines


#: No DBR of this many elements or fewer can exceed the smallest message bound (16 KiB).
SMALL_COUNT = 400


def read_bounded(ctx: Any, plan: list[tuple[Any, int, int]]) -> list[Any]:
    """``ctx.read_many(plan)``, except that a read whose reply could not fit in the
    client's message bound (EPICS_CA_MAX_ARRAY_BYTES; ``ClientConfig.max_payload_size``)
    is not sent: its Operation fails at once with ECA_TOLARGE, as libca's
    ``ca_array_get`` does for a count too large to transfer."""
    limit = ctx.config.max_payload_size
    big: set[int] = set()
    for index, (_pv, data_type, count) in enumerate(plan):
        if count > SMALL_COUNT:
            from ..protocol import data_size
            if data_size(data_type, count) > limit:
                big.add(index)
    if not big:
        return ctx.read_many(plan)
    from ..client import CaStatusError, Operation
    from ..protocol import CAStatus
    sent = iter(ctx.read_many([p for i, p in enumerate(plan) if i not in big]))
    ops = []
    for index, (pv, _type, _count) in enumerate(plan):
        if index in big:
            op = Operation(pv, "read")
            op.error, op.done = CaStatusError(pv.name, int(CAStatus.ECA_TOLARGE)), True
            ops.append(op)
        else:
            ops.append(next(sent))
    return ops


def too_large(op: Any) -> bool:
    """True for a read :func:`read_bounded` refused (ECA_TOLARGE)."""
    error = op.error
    if error is None or not hasattr(error, "status"):
        return False
    from ..protocol import CAStatus
    return error.status == int(CAStatus.ECA_TOLARGE)


def padded(response: Any, count: int) -> Any:
    """``response``, or when it holds fewer than ``count`` elements a response-like
    object with its data zero-filled (empty strings) up to ``count``."""
    have = response.data_count
    if have >= count:
        return response
    from types import SimpleNamespace
    data = response.data
    if isinstance(data, list):
        data = data + [b""] * (count - have)
    else:
        from array import array
        data = array(data.typecode, data)
        data.extend(array(data.typecode, bytes(data.itemsize * (count - have))))
    return SimpleNamespace(data_type=response.data_type, data=data, data_count=count,
                           metadata=response.metadata, status=response.status)


def c_array_get(op: Any, data_type: int, count: int) -> Any:
    """What C's ``ca_array_get`` of ``count`` elements leaves for the tools to print: the
    reply, zero-filled beyond a short one; the zeroed buffer when the server failed
    the read (libca reports that on stderr: one line here); None when nothing was read
    (not answered, no access, or too large to transfer)."""
    if not op.done:
        return None
    if op.error is None:
        return padded(op.result, count)
    from ..client import CaStatusError
    if not isinstance(op.error, CaStatusError) or too_large(op):
        return None
    from ..protocol import ca_message
    warn(f"Read of '{op.pv.name}' failed: {ca_message(op.error.status)}")
    return _zero_response(data_type, count)


def _zero_response(data_type: int, count: int) -> Any:
    """A response-like object holding an all-zero DBR of ``count`` elements."""
    from types import SimpleNamespace

    from ..protocol import data_size, decode_dbr

    metadata, data = decode_dbr(data_type, bytes(data_size(data_type, count)), count)
    return SimpleNamespace(data_type=data_type, data=data, data_count=count,
                           metadata=metadata, status=1)


def _reading(pv: Any, response: Any) -> Any:
    """The reply as a client Reading (the attributes the formatters read)."""
    from ..client import Reading
    return Reading(pv.name, response, pv.native_type, pv.native_count)


if __name__ == "__main__":  # python -m catools.cli.caget
    from catools.cli import run_command
    run_command(command)
