"""Configuration from EPICS_* environment variables: a pure function of a mapping.

:data:`VARIABLES` is the one table of the variables catools reads: each one's name,
kind, default, who reads it and what it does. :func:`read` parses a variable by its
row; ``ClientConfig.from_env(os.environ)`` / ``ServerConfig.from_env(os.environ)`` read
theirs through it, and so do the tools that read a few (casw, the repeater). The man
pages' ENVIRONMENT sections and the tools' ``-h`` list the same rows (a test checks).
Only the entry points pass ``os.environ``. A bad value raises ``ConfigError`` naming
the variable.
"""
from __future__ import annotations

from .hints import TYPE_CHECKING
from .protocol import CaError

if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable, Mapping

SERVER_PORT = 5064
REPEATER_PORT = 5065
#: Message size bound of a client or server when EPICS_CA_AUTO_ARRAY_BYTES is on.
AUTO_ARRAY_CEILING = 256 * 1024 * 1024


class ConfigError(CaError, ValueError):
    """An EPICS_* variable has a value that cannot be used."""


Address = tuple[str, int]


def parse_port(name: str, text: str) -> int:
    try:
        port = int(text.strip(), 10)
    except ValueError:
        raise ConfigError(f"{name}: {text!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise ConfigError(f"{name}: port {port} is outside 1..65535")
    return port


def parse_float(name: str, text: str, minimum: float = 0.0) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{name}: {text!r} is not a number") from None
    if not value >= minimum or value != value or value == float("inf"):
        raise ConfigError(f"{name}: {text!r} must be a finite number >= {minimum:g}")
    return value


def scan_double(text: str) -> float | None:
    """epicsScanDouble, as the tools parse -w and EPICS_CLI_TIMEOUT: the whole string
    (white space around allowed) must be a decimal number or inf/infinity; None for
    anything else. Unlike C, nan is refused, and so is a value that overflows
    (1e400, which C also refuses) or underflows to zero."""
    if "_" in text:             # float() would take "1_000"; C does not
        return None
    try:
        value = float(text)
    except ValueError:
        if "x" not in text.lower():
            return None
        try:                    # strtod also reads C99 hex floats: 0x2, 0x1.8p3
            value = float.fromhex(text)
        except (ValueError, OverflowError):
            return None
    if value != value:
        return None
    if value in (float("inf"), float("-inf")):
        if text.strip().lstrip("+-").lower() not in ("inf", "infinity"):
            return None                         # overflow (ERANGE in C)
    elif value == 0.0 and any(c in "123456789" for c in text.lower().partition("e")[0]):
        return None                             # underflow (ERANGE in C)
    return value


def parse_int(name: str, text: str, minimum: int = 0) -> int:
    try:
        value = int(text.strip(), 10)
    except ValueError:
        raise ConfigError(f"{name}: {text!r} is not an integer") from None
    if value < minimum:
        raise ConfigError(f"{name}: {value} must be >= {minimum}")
    return value


def parse_address_list(name: str, text: str, default_port: int) -> list[Address]:
    """``host[:port]`` entries separated by white space; ``[v6addr]:port`` accepted."""
    out: list[Address] = []
    for entry in text.split():
        host, port = entry, default_port
        if entry.startswith("["):
            close = entry.find("]")
            if close < 0:
                raise ConfigError(f"{name}: {entry!r} has no closing ']'")
            host = entry[1:close]
            rest = entry[close + 1:]
            if rest:
                if not rest.startswith(":"):
                    raise ConfigError(f"{name}: cannot parse {entry!r}")
                port = parse_port(name, rest[1:])
        elif entry.count(":") == 1:
            host, _, port_text = entry.partition(":")
            port = parse_port(name, port_text)
        if not host:
            raise ConfigError(f"{name}: {entry!r} has no host")
        if (host, port) not in out:
            out.append((host, port))
    return out


def libca_auto_list(value: str | None) -> bool:
    """libca: EPICS_CA_AUTO_ADDR_LIST is off when the value contains 'no' or 'NO'."""
    if value is None:
        return True
    return not ("no" in value or "NO" in value)


def rsrv_yes(value: str | None) -> bool:
    """RSRV/libca style boolean: unset or empty means YES, else only 'yes' (any case)."""
    if value is None or value.strip() == "":
        return True
    return value.strip().lower() == "yes"


class Variable:
    """One row of :data:`VARIABLES`.

    ``kind`` says how :func:`read` parses it: ``port``, ``seconds`` (a number >=
    ``minimum``), ``bytes`` (an integer >= 0), ``addresses`` (``host[:port]`` entries),
    ``auto`` (libca's: off when the value contains "no" or "NO"), ``yes`` (RSRV's:
    unset, empty or "yes" in any case), ``timeout`` (the tools' epicsScanDouble; a bad
    value is ignored, not an error) or ``text`` (not parsed). ``default`` is the value
    in effect when it is unset, as text ("" for none, or when ``fallback``, the
    variable read in its place, decides). ``readers`` are the programs that read it:
    ``client`` (libca's variables: every client, library and tools), ``tool`` (the
    command-line clients only), ``server`` (catools serve), ``casw``, ``repeater``,
    ``doctor`` (shown by catools doctor only)."""

    __slots__ = ("name", "kind", "default", "readers", "summary", "minimum", "fallback")

    def __init__(self, name: str, kind: str, default: str, readers: tuple[str, ...],
                 summary: str, minimum: float = 0.0, fallback: str | None = None) -> None:
        self.name, self.kind, self.default, self.readers = name, kind, default, readers
        self.summary, self.minimum, self.fallback = summary, minimum, fallback

    def __repr__(self) -> str:
        return f"Variable({self.name!r}, {self.kind!r}, {self.default!r}, {self.readers!r})"


_V = Variable
#: Every EPICS_* variable catools reads (libca's and RSRV's order, then the tools').
VARIABLES: tuple[Variable, ...] = (
    _V("EPICS_CA_ADDR_LIST", "addresses", "", ("client", "repeater"),
       "where searches go: host[:port] entries (none)"),
    _V("EPICS_CA_AUTO_ADDR_LIST", "auto", "YES", ("client",),
       "NO: no search to the interfaces' broadcasts (YES)"),
    _V("EPICS_CA_NAME_SERVERS", "addresses", "", ("client",),
       "name servers searched over TCP: host[:port] entries"),
    _V("EPICS_CA_SERVER_PORT", "port", str(SERVER_PORT), ("client", "server", "casw"),
       f"the servers' port ({SERVER_PORT})"),
    _V("EPICS_CA_REPEATER_PORT", "port", str(REPEATER_PORT),
       ("client", "server", "casw", "repeater"), f"the repeater's port ({REPEATER_PORT})"),
    _V("EPICS_CA_CONN_TMO", "seconds", "30.0", ("client",),
       "seconds of silence before an echo (30, >= 0.1)", minimum=0.1),
    _V("EPICS_CA_BEACON_PERIOD", "seconds", "15.0", ("server",),
       "longest interval between beacons, s (15)", minimum=0.001),
    _V("EPICS_CA_MAX_ARRAY_BYTES", "bytes", "16384", ("client", "server"),
       "largest array payload (16384 or more)"),
    _V("EPICS_CA_AUTO_ARRAY_BYTES", "yes", "YES", ("client", "server"),
       "YES: arrays up to 256 MiB or MAX_ARRAY_BYTES (YES)"),
    _V("EPICS_CA_MAX_SEARCH_PERIOD", "seconds", "300", ("client",),
       "longest interval between searches, s (300, >= 60)"),
    _V("EPICS_CA_MCAST_TTL", "text", "1", ("doctor",),
       "multicast TTL of libca's searches (not used)"),
    _V("EPICS_CAS_SERVER_PORT", "port", "", ("server",),
       "the port to listen on", fallback="EPICS_CA_SERVER_PORT"),
    _V("EPICS_CAS_INTF_ADDR_LIST", "addresses", "", ("server",),
       "the interface addresses to listen on (all)"),
    _V("EPICS_CAS_BEACON_ADDR_LIST", "addresses", "", ("server", "repeater"),
       "where beacons go: host[:port] entries"),
    _V("EPICS_CAS_AUTO_BEACON_ADDR_LIST", "yes", "YES", ("server",),
       "YES: beacons to the interfaces' broadcasts (YES)"),
    _V("EPICS_CAS_BEACON_PERIOD", "seconds", "", ("server",),
       "longest interval between beacons, s", minimum=0.001,
       fallback="EPICS_CA_BEACON_PERIOD"),
    _V("EPICS_CAS_BEACON_PORT", "port", "", ("server",),
       "the port beacons go to", fallback="EPICS_CA_REPEATER_PORT"),
    _V("EPICS_CAS_IGNORE_ADDR_LIST", "addresses", "", ("server",),
       "checked, not used: no client is ignored"),
    _V("EPICS_CLI_TIMEOUT", "timeout", "", ("tool",),
       "the default of -w, in seconds (1.0)"),
)
del _V
#: :data:`VARIABLES` by name.
BY_NAME: dict[str, Variable] = {v.name: v for v in VARIABLES}


def variables(*readers: str) -> list[Variable]:
    """The rows read by any of ``readers`` (see :class:`Variable`), in table order."""
    return [v for v in VARIABLES if any(r in v.readers for r in readers)]


def read(env: Mapping[str, str], name: str, default_port: int = SERVER_PORT) -> Any:
    """The value of the table's variable ``name`` in ``env``, parsed by its kind; the
    default (None where the row has none) when it is unset or blank. ``default_port``
    is the port of ``addresses`` entries that give none. ``timeout``: None when unset,
    or when the value is not a number (the tools warn; an empty value counts as set,
    as in C); ``text``: the value as set ("" when unset)."""
    row = BY_NAME[name]
    text = env.get(name)
    kind = row.kind
    if kind == "timeout":
        return None if text is None else scan_double(text)
    if kind == "text":
        return text or ""
    if kind == "auto":
        return libca_auto_list(text)
    if kind == "yes":
        return rsrv_yes(text)
    if kind == "addresses":
        return parse_address_list(name, text or "", default_port)
    if text is None or text.strip() == "":
        if not row.default:
            return None
        return float(row.default) if kind == "seconds" else int(row.default)
    if kind == "port":
        return parse_port(name, text)
    if kind == "bytes":
        return parse_int(name, text, 0)
    return parse_float(name, text, row.minimum)


def raw(env: Mapping[str, str], name: str) -> str:
    """The text of the table's variable ``name`` as set in ``env`` ("" when unset), for
    a reader with its own lenient rule (the repeater's multicast groups)."""
    return env.get(BY_NAME[name].name, "")


def read_timeout(env: Mapping[str, str]) -> tuple[float | None, tuple[tuple[str, str], ...]]:
    """EPICS_CLI_TIMEOUT: ``(seconds, ignored)``; seconds is None when it is unset or not
    a number, and then ``ignored`` holds ``(name, value)`` if it is set (the tools warn
    and ignore it, as the C tools do, even when it is empty)."""
    seconds = read(env, "EPICS_CLI_TIMEOUT")
    if seconds is None and "EPICS_CLI_TIMEOUT" in env:
        return None, (("EPICS_CLI_TIMEOUT", env["EPICS_CLI_TIMEOUT"]),)
    return seconds, ()


def read_first(env: Mapping[str, str], *names: str) -> Any:
    """:func:`read` of the first of ``names`` set (not blank) in ``env`` (RSRV reads
    an EPICS_CAS_* variable, else the EPICS_CA_* one); the last one's default when
    none is."""
    for name in names:
        text = env.get(name)
        if text is not None and text.strip():
            return read(env, name)
    return read(env, names[-1])


class _Frozen:
    """Keyword-constructed, immutable settings with defaults (no dataclass machinery,
    which costs start-up time)."""

    __slots__: tuple[str, ...] = ()
    _DEFAULTS: dict[str, Any] = {}

    def __init__(self, **values: Any) -> None:
        unknown = set(values) - set(self._DEFAULTS)
        if unknown:
            raise TypeError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        for name, default in self._DEFAULTS.items():
            value = values.get(name, default)
            object.__setattr__(self, name, list(value) if isinstance(value, list) else value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def replace(self, **changes: Any) -> Any:
        """A copy with some settings changed."""
        values = {name: getattr(self, name) for name in self._DEFAULTS}
        values.update(changes)
        return type(self)(**values)

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and all(
            getattr(self, n) == getattr(other, n) for n in self._DEFAULTS)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        args = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._DEFAULTS)
        return f"{type(self).__name__}({args})"


class ClientConfig(_Frozen):
    """What a CA client reads from its environment (libca's variables)."""

    _DEFAULTS = {"addr_list": [], "auto_addr_list": True, "name_servers": [],
                 "server_port": SERVER_PORT, "repeater_port": REPEATER_PORT,
                 "conn_tmo": 30.0, "max_array_bytes": 16384, "auto_array_bytes": True,
                 "max_search_period": 300.0, "cli_timeout": None, "ignored": (),
                 "reconnect_delay": 0.25, "reconnect_ceiling": 5.0}
    __slots__ = tuple(_DEFAULTS)
    addr_list: list[Address]
    auto_addr_list: bool
    name_servers: list[Address]
    server_port: int
    repeater_port: int
    conn_tmo: float
    max_array_bytes: int
    auto_array_bytes: bool
    max_search_period: float
    #: EPICS_CLI_TIMEOUT (the tools' default -w), None when unset or not a number.
    cli_timeout: float | None
    #: ``(name, value)`` of each variable set to a value that was ignored (the tools
    #: warn): EPICS_CLI_TIMEOUT when it is not a number.
    ignored: tuple[tuple[str, str], ...]
    #: Back-off of connects to one server address (no EPICS variable sets these): the
    #: wait after a first failure (refused, dropped before it was healthy, silent), which
    #: doubles with each further failure up to ``reconnect_ceiling`` seconds.
    reconnect_delay: float
    reconnect_ceiling: float

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "ClientConfig":
        """Read the client's and the tools' rows of :data:`VARIABLES` from ``env``."""
        server_port = read(env, "EPICS_CA_SERVER_PORT")
        repeater_port = read(env, "EPICS_CA_REPEATER_PORT")
        conn_tmo = read(env, "EPICS_CA_CONN_TMO")
        max_array = max(read(env, "EPICS_CA_MAX_ARRAY_BYTES"), 16384)
        period = max(60.0, read(env, "EPICS_CA_MAX_SEARCH_PERIOD"))
        cli_timeout, ignored = read_timeout(env)
        return cls(
            addr_list=read(env, "EPICS_CA_ADDR_LIST", server_port),
            auto_addr_list=read(env, "EPICS_CA_AUTO_ADDR_LIST"),
            name_servers=read(env, "EPICS_CA_NAME_SERVERS", server_port),
            server_port=server_port, repeater_port=repeater_port, conn_tmo=conn_tmo,
            max_array_bytes=max_array, auto_array_bytes=read(env, "EPICS_CA_AUTO_ARRAY_BYTES"),
            max_search_period=period, cli_timeout=cli_timeout, ignored=ignored)

    def search_addresses(self, broadcast_addresses: Callable[[], list[str]]) -> list[Address]:
        """Where UDP searches go: interface broadcasts (if auto) plus the address list.

        ``broadcast_addresses`` is called only when the auto list is on (it does I/O).
        An empty list with auto off means no UDP search targets, never 255.255.255.255.
        """
        out: list[Address] = []
        if self.auto_addr_list:
            for host in broadcast_addresses():
                if (host, self.server_port) not in out:
                    out.append((host, self.server_port))
        for entry in self.addr_list:
            if entry not in out:
                out.append(entry)
        return out

    @property
    def max_payload_size(self) -> int:
        """Largest message body the client accepts (the core's bound). With
        EPICS_CA_AUTO_ARRAY_BYTES (the default) buffers grow on demand as in libca, but
        never past 256 MiB or EPICS_CA_MAX_ARRAY_BYTES, whichever is larger, so a broken
        server cannot make the client allocate without bound."""
        if self.auto_array_bytes:
            return max(AUTO_ARRAY_CEILING, self.max_array_bytes + 24)
        return self.max_array_bytes + 24


class ServerConfig(_Frozen):
    """What a CA server reads from its environment (RSRV's variables)."""

    _DEFAULTS = {"port": SERVER_PORT, "intf_addr_list": [], "beacon_addr_list": [],
                 "auto_beacon_addr_list": True, "beacon_period": 15.0,
                 "beacon_port": REPEATER_PORT, "ignore_addr_list": [],
                 "max_array_bytes": 16384, "auto_array_bytes": True}
    __slots__ = tuple(_DEFAULTS)
    port: int
    intf_addr_list: list[str]
    beacon_addr_list: list[Address]
    auto_beacon_addr_list: bool
    beacon_period: float
    beacon_port: int
    ignore_addr_list: list[str]
    max_array_bytes: int
    auto_array_bytes: bool

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "ServerConfig":
        """Read the server's rows of :data:`VARIABLES` from ``env`` (an EPICS_CAS_*
        variable, else the EPICS_CA_* one, as RSRV does)."""
        port = read_first(env, "EPICS_CAS_SERVER_PORT", "EPICS_CA_SERVER_PORT")
        beacon_port = read_first(env, "EPICS_CAS_BEACON_PORT", "EPICS_CA_REPEATER_PORT")
        period = read_first(env, "EPICS_CAS_BEACON_PERIOD", "EPICS_CA_BEACON_PERIOD")
        max_array = max(16384, read(env, "EPICS_CA_MAX_ARRAY_BYTES"))
        intf = [h for h, _ in read(env, "EPICS_CAS_INTF_ADDR_LIST", port)]
        ignore = [h for h, _ in read(env, "EPICS_CAS_IGNORE_ADDR_LIST", port)]
        return cls(
            port=port, intf_addr_list=intf,
            beacon_addr_list=read(env, "EPICS_CAS_BEACON_ADDR_LIST", beacon_port),
            auto_beacon_addr_list=read(env, "EPICS_CAS_AUTO_BEACON_ADDR_LIST"),
            beacon_period=period, beacon_port=beacon_port, ignore_addr_list=ignore,
            max_array_bytes=max_array, auto_array_bytes=read(env, "EPICS_CA_AUTO_ARRAY_BYTES"))

    @property
    def max_payload_size(self) -> int:
        """Largest request body the server accepts (see ClientConfig.max_payload_size)."""
        if self.auto_array_bytes:
            return max(AUTO_ARRAY_CEILING, self.max_array_bytes + 24)
        return self.max_array_bytes + 24
