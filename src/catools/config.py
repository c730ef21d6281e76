"""Configuration from EPICS_* environment variables: a pure function of a mapping.

``ClientConfig.from_env(os.environ)`` / ``ServerConfig.from_env(os.environ)``; only the
entry points pass ``os.environ``. A bad value raises ``ConfigError`` naming the variable.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from .protocol import CaError

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


def _get(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    if value is None or value.strip() == "":
        return None
    return value


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
                 "max_search_period": 300.0, "cli_timeout": None,
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
    cli_timeout: float | None
    #: Back-off of connects to one server address (no EPICS variable sets these): the
    #: wait after a first failure (refused, dropped before it was healthy, silent), which
    #: doubles with each further failure up to ``reconnect_ceiling`` seconds.
    reconnect_delay: float
    reconnect_ceiling: float

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "ClientConfig":
        """Read the EPICS_CA_* variables (and EPICS_CLI_TIMEOUT) from ``env``."""
        server_port = SERVER_PORT
        if (text := _get(env, "EPICS_CA_SERVER_PORT")) is not None:
            server_port = parse_port("EPICS_CA_SERVER_PORT", text)
        repeater_port = REPEATER_PORT
        if (text := _get(env, "EPICS_CA_REPEATER_PORT")) is not None:
            repeater_port = parse_port("EPICS_CA_REPEATER_PORT", text)
        conn_tmo = 30.0
        if (text := _get(env, "EPICS_CA_CONN_TMO")) is not None:
            conn_tmo = parse_float("EPICS_CA_CONN_TMO", text, 0.1)
        max_array = 16384
        if (text := _get(env, "EPICS_CA_MAX_ARRAY_BYTES")) is not None:
            max_array = parse_int("EPICS_CA_MAX_ARRAY_BYTES", text, 0)
        max_array = max(max_array, 16384)
        period = 300.0
        if (text := _get(env, "EPICS_CA_MAX_SEARCH_PERIOD")) is not None:
            period = max(60.0, parse_float("EPICS_CA_MAX_SEARCH_PERIOD", text, 0.0))
        cli_timeout = None
        if (text := _get(env, "EPICS_CLI_TIMEOUT")) is not None:
            # the tools warn about a bad value themselves and ignore it
            cli_timeout = scan_double(text)
        auto_array = env.get("EPICS_CA_AUTO_ARRAY_BYTES")
        return cls(
            addr_list=parse_address_list("EPICS_CA_ADDR_LIST",
                                         env.get("EPICS_CA_ADDR_LIST", ""), server_port),
            auto_addr_list=libca_auto_list(env.get("EPICS_CA_AUTO_ADDR_LIST")),
            name_servers=parse_address_list("EPICS_CA_NAME_SERVERS",
                                            env.get("EPICS_CA_NAME_SERVERS", ""),
                                            server_port),
            server_port=server_port, repeater_port=repeater_port, conn_tmo=conn_tmo,
            max_array_bytes=max_array, auto_array_bytes=rsrv_yes(auto_array),
            max_search_period=period, cli_timeout=cli_timeout)

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
        """Read EPICS_CAS_* (falling back to EPICS_CA_* as RSRV does) from ``env``."""
        port = SERVER_PORT
        for name in ("EPICS_CAS_SERVER_PORT", "EPICS_CA_SERVER_PORT"):
            if (text := _get(env, name)) is not None:
                port = parse_port(name, text)
                break
        beacon_port = REPEATER_PORT
        for name in ("EPICS_CAS_BEACON_PORT", "EPICS_CA_REPEATER_PORT"):
            if (text := _get(env, name)) is not None:
                beacon_port = parse_port(name, text)
                break
        period = 15.0
        for name in ("EPICS_CAS_BEACON_PERIOD", "EPICS_CA_BEACON_PERIOD"):
            if (text := _get(env, name)) is not None:
                period = parse_float(name, text, 0.001)
                break
        max_array = 16384
        if (text := _get(env, "EPICS_CA_MAX_ARRAY_BYTES")) is not None:
            max_array = max(16384, parse_int("EPICS_CA_MAX_ARRAY_BYTES", text, 0))
        intf = [h for h, _ in parse_address_list("EPICS_CAS_INTF_ADDR_LIST",
                                                 env.get("EPICS_CAS_INTF_ADDR_LIST", ""), port)]
        ignore = [h for h, _ in parse_address_list("EPICS_CAS_IGNORE_ADDR_LIST",
                                                   env.get("EPICS_CAS_IGNORE_ADDR_LIST", ""),
                                                   port)]
        return cls(
            port=port, intf_addr_list=intf,
            beacon_addr_list=parse_address_list("EPICS_CAS_BEACON_ADDR_LIST",
                                                env.get("EPICS_CAS_BEACON_ADDR_LIST", ""),
                                                beacon_port),
            auto_beacon_addr_list=rsrv_yes(env.get("EPICS_CAS_AUTO_BEACON_ADDR_LIST")),
            beacon_period=period, beacon_port=beacon_port, ignore_addr_list=ignore,
            max_array_bytes=max_array,
            auto_array_bytes=rsrv_yes(env.get("EPICS_CA_AUTO_ARRAY_BYTES")))

    @property
    def max_payload_size(self) -> int:
        """Largest request body the server accepts (see ClientConfig.max_payload_size)."""
        if self.auto_array_bytes:
            return max(AUTO_ARRAY_CEILING, self.max_array_bytes + 24)
        return self.max_array_bytes + 24
