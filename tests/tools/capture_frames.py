#!/usr/bin/env python3
"""Capture golden CA frames: real C tools <-> loopback relay <-> real softIoc.

Usage: python tests/tools/capture_frames.py [--out tests/data/frames] [scenario ...]

A fresh softIoc serves tests/data/records.db (+ access.acf). A relay listens on its own
port (UDP and TCP, both on 127.0.0.1); the C tools are pointed at it with
EPICS_CA_ADDR_LIST=127.0.0.1 and EPICS_CA_SERVER_PORT=<relay port>. The relay forwards
every byte, except that it rewrites the TCP port carried in the ``dtype`` field of UDP
SEARCH replies (RSRV puts its own TCP port there) to the relay's port, so that the
client's circuit also goes through the relay. Each stream is split into CA messages
(16-byte header, or 24 bytes when psize == 0xFFFF, then the payload) and every scenario
is written to ``<out>/<scenario>.hex``: ``#`` comment lines, then one message per line,
``C>S <hex>`` / ``S>C <hex>`` for TCP and ``UC>S <hex>`` / ``US>C <hex>`` for UDP
(the messages of one datagram are on consecutive lines; UDP replies are logged as the
client received them, i.e. with the relay's port).
"""

from __future__ import annotations

import argparse
import shlex
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import epics_env  # noqa: E402

SEARCH = 6


def split_messages(buf: bytes) -> tuple[list[bytes], bytes]:
    """Split ``buf`` into complete CA messages; return (messages, unconsumed rest)."""
    out = []
    off = 0
    while len(buf) - off >= 16:
        psize = struct.unpack_from(">H", buf, off + 2)[0]
        hlen = 16
        if psize == 0xFFFF:
            if len(buf) - off < 24:
                break
            psize = struct.unpack_from(">I", buf, off + 16)[0]
            hlen = 24
        end = off + hlen + psize
        if end > len(buf):
            break
        out.append(buf[off:end])
        off = end
    return out, buf[off:]


def rewrite_search_port(datagram: bytes, old: int, new: int) -> bytes:
    """Replace the server TCP port in SEARCH replies of a UDP datagram."""
    data = bytearray(datagram)
    off = 0
    while len(data) - off >= 16:
        cmd, psize, dtype = struct.unpack_from(">HHH", data, off)
        if cmd == SEARCH and dtype == old:
            struct.pack_into(">H", data, off + 4, new)
        off += 16 + psize
    return bytes(data)


@dataclass
class Relay:
    """TCP + UDP relay from 127.0.0.1:<port> to the IOC at 127.0.0.1:<ioc_port>."""

    ioc_port: int
    port: int = 0
    events: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.port:
            self.port = epics_env.free_port(tcp=True, udp=True)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._open = 0
        self._circuits = 0
        self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._udp.bind(("127.0.0.1", self.port))
        self._udp.settimeout(0.1)
        self._tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._tcp.bind(("127.0.0.1", self.port))
        self._tcp.listen(8)
        self._tcp.settimeout(0.1)
        self._upstream_udp: dict[tuple[str, int], socket.socket] = {}
        self._threads = [threading.Thread(target=self._udp_loop, daemon=True),
                         threading.Thread(target=self._accept_loop, daemon=True)]
        for t in self._threads:
            t.start()

    # -- log
    def _log(self, direction: str, messages: list[bytes]) -> None:
        with self._lock:
            self.events.extend(f"{direction} {m.hex()}" for m in messages)

    def _note(self, text: str) -> None:
        with self._lock:
            self.events.append(f"# {text}")

    def take(self) -> list[str]:
        """Return and clear the lines logged so far."""
        with self._lock:
            out, self.events = self.events, []
            self._circuits = 0
            return out

    @property
    def open_circuits(self) -> int:
        with self._lock:
            return self._open

    # -- UDP
    def _udp_loop(self) -> None:
        while not self._stop.is_set():
            try:
                data, addr = self._udp.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            msgs, _ = split_messages(data)
            self._log("UC>S", msgs)
            up = self._upstream_udp.get(addr)
            if up is None:
                up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                up.bind(("127.0.0.1", 0))
                up.settimeout(0.1)
                self._upstream_udp[addr] = up
                threading.Thread(target=self._udp_reply_loop, args=(up, addr),
                                 daemon=True).start()
            up.sendto(data, ("127.0.0.1", self.ioc_port))

    def _udp_reply_loop(self, up: socket.socket, client: tuple[str, int]) -> None:
        while not self._stop.is_set():
            try:
                data, _ = up.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            data = rewrite_search_port(data, self.ioc_port, self.port)
            msgs, _ = split_messages(data)
            self._log("US>C", msgs)
            self._udp.sendto(data, client)

    # -- TCP
    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._tcp.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.ioc_port))
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._open += 1
                self._circuits += 1
                n = self._circuits
            self._note(f"TCP circuit {n} opened")
            done = threading.Barrier(2, action=lambda: self._closed(n, client, server))
            threading.Thread(target=self._pump, args=(client, server, "C>S", done),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, "S>C", done),
                             daemon=True).start()

    def _closed(self, n: int, a: socket.socket, b: socket.socket) -> None:
        a.close()
        b.close()
        self._note(f"TCP circuit {n} closed")
        with self._lock:
            self._open -= 1

    def _pump(self, src: socket.socket, dst: socket.socket, direction: str,
              done: threading.Barrier) -> None:
        buf = b""
        try:
            while True:
                try:
                    data = src.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    break
                buf += data
                msgs, buf = split_messages(buf)
                if msgs:
                    self._log(direction, msgs)
                try:
                    dst.sendall(data)
                except OSError:
                    break
            if buf:
                self._note(f"{direction} incomplete trailing bytes: {buf.hex()}")
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        finally:
            done.wait()

    def close(self) -> None:
        self._stop.set()
        self._udp.close()
        self._tcp.close()
        for s in self._upstream_udp.values():
            s.close()
        for t in self._threads:
            t.join(1)
        epics_env.release_port(self.port)


@dataclass
class Scenario:
    name: str
    description: str
    tool: str
    args: tuple[str, ...]
    sigint_after: float | None = None


def S(name: str, description: str, tool: str, *args: str,
      sigint_after: float | None = None) -> Scenario:
    return Scenario(name, description, tool, args, sigint_after)


# Order matters: puts change the IOC's state for later scenarios.
SCENARIOS: list[Scenario] = [
    S("caget_default", "plain get of an ai (READ_NOTIFY DBR_TIME_DOUBLE)", "caget", "TST:ai"),
    S("caget_multi", "several PVs in one search datagram", "caget",
      "TST:ai", "TST:long", "TST:str", "TST:mbbo"),
    S("caget_a", "wide mode, one record in HIHI/MAJOR alarm", "caget", "-a", "TST:ai", "TST:alarm"),
    S("caget_udf", "never-processed record (UDF INVALID, zero timestamp)", "caget", "-a", "TST:udf"),
    S("caget_ctrl_double", "DBR_CTRL_DOUBLE on an ai", "caget", "-d", "CTRL_DOUBLE", "TST:ai"),
    S("caget_gr_enum", "DBR_GR_ENUM on a 4-state mbbo", "caget", "-d", "GR_ENUM", "TST:mbbo"),
    S("caget_ctrl_enum", "DBR_CTRL_ENUM on a bo", "caget", "-d", "CTRL_ENUM", "TST:bo"),
    S("caget_enum", "enum native read as DBR_TIME_STRING", "caget", "TST:mbbo"),
    S("caget_enum_n", "enum native read as a number (-n)", "caget", "-n", "TST:mbbo"),
    S("caget_ctrl_long", "DBR_CTRL_LONG on a longout", "caget", "-d", "CTRL_LONG", "TST:long"),
    S("caget_gr_long", "DBR_GR_LONG on a longin", "caget", "-d", "GR_LONG", "TST:longin"),
    S("caget_ctrl_short", "DBR_CTRL_SHORT on a SHORT waveform", "caget",
      "-d", "CTRL_SHORT", "TST:wf:short"),
    S("caget_ctrl_float", "DBR_CTRL_FLOAT on a FLOAT waveform", "caget",
      "-d", "CTRL_FLOAT", "TST:wf:float"),
    S("caget_ctrl_char", "DBR_CTRL_CHAR on a UCHAR waveform", "caget",
      "-d", "CTRL_CHAR", "TST:wf:uchar"),
    S("caget_ctrl_string", "DBR_CTRL_STRING on a stringout", "caget", "-d", "CTRL_STRING", "TST:str"),
    S("caget_sts_double", "DBR_STS_DOUBLE on the alarm record", "caget",
      "-d", "STS_DOUBLE", "TST:alarm"),
    S("caget_stsack_string", "DBR_STSACK_STRING on the alarm record", "caget",
      "-d", "STSACK_STRING", "TST:alarm"),
    S("caget_class_name", "DBR_CLASS_NAME", "caget", "-d", "CLASS_NAME", "TST:ai"),
    S("caget_waveform", "DOUBLE waveform, count = NELM", "caget", "TST:wf:double"),
    S("caget_c_waveform", "get with callback, count 0 (dynamic size)", "caget", "-c", "TST:wfl"),
    S("caget_waveform_types", "one TIME get per waveform FTVL", "caget", "-a",
      "TST:wf:string", "TST:wf:char", "TST:wf:uchar", "TST:wf:short", "TST:wf:ushort",
      "TST:wf:long", "TST:wf:ulong", "TST:wf:int64", "TST:wf:float", "TST:wf:double"),
    S("caget_string", "stringout with a space", "caget", "TST:str"),
    S("caget_char_S", "CHAR waveform printed as a long string", "caget", "-S", "TST:wf:char"),
    S("caget_lsi_S", "lsi VAL$ as a long string (DBF_CHAR array)", "caget", "-S", "TST:lsival.VAL$"),
    S("caget_int64", "int64in (served as DBF_DOUBLE)", "caget", "-a", "TST:i64"),
    S("caget_no_read_access", "ACF group NONE: READ_NOTIFY fails with ECA_NORDACCESS",
      "caget", "-w", "0.5", "TST:noaccess"),
    S("caget_not_found", "unknown PV: searches get no reply", "caget", "-w", "0.5",
      "TST:nonexistent"),
    S("caput_plain", "put without callback (WRITE DBR_STRING)", "caput", "TST:ao", "2.5"),
    S("caput_c", "put with callback (WRITE_NOTIFY)", "caput", "-c", "TST:ao", "3.5"),
    S("caput_enum_string", "enum put by state string", "caput", "TST:mbbo", "Fault State"),
    S("caput_enum_number", "enum put by number", "caput", "TST:mbbo", "2"),
    S("caput_array", "array put of 5 values into a 10-element waveform", "caput",
      "-a", "TST:wfd", "5", "1.5", "2.25", "3", "4e3", "-5e-7"),
    S("caput_S", "long string put into a CHAR waveform", "caput", "-S", "TST:wfc",
      "Hello long string world"),
    S("caput_long", "longout put", "caput", "TST:long", "77"),
    S("caput_no_write_access", "ACF group RO: no write right (refused in the client)",
      "caput", "-w", "0.5", "TST:ro", "1"),
    S("caput_error", "put refused by the record (DISP=1): server sends ERROR ECA_PUTFAIL",
      "caput", "TST:disp", "2"),
    S("caput_c_error", "put with callback refused (DISP=1): WRITE_NOTIFY status ECA_PUTFAIL",
      "caput", "-c", "TST:disp", "3"),
    S("camonitor_calc", "subscription to a calc scanning at 0.1 s, then SIGINT", "camonitor",
      "TST:calc", sigint_after=0.55),
    S("camonitor_waveform", "subscription to a waveform (count 0), then SIGINT", "camonitor",
      "TST:wfl", sigint_after=0.3),
    S("cainfo", "channel info (CREATE_CHAN only)", "cainfo", "TST:ai"),
    S("cainfo_waveform", "channel info on a waveform", "cainfo", "TST:wf:double"),
]


def comment_lines(label: str, data: bytes) -> list[str]:
    text = data.decode("utf-8", "backslashreplace")
    text = "".join(c if c.isprintable() or c == "\n" else f"\\x{ord(c):02x}" for c in text)
    return [f"# {label}: {line}" for line in text.splitlines()] or [f"# {label}: (empty)"]


def capture(scenario: Scenario, relay: Relay, ioc: epics_env.SoftIoc) -> list[str]:
    env = epics_env.make_env(relay.port, ioc.repeater_port)
    relay.take()
    result = epics_env.run_c_tool(scenario.tool, *scenario.args, env=env, timeout=15,
                                  sigint_after=scenario.sigint_after)
    deadline = time.monotonic() + 5
    while relay.open_circuits and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.1)
    frames = relay.take()
    cmd = shlex.join([scenario.tool, *scenario.args])
    header = [
        f"# scenario: {scenario.name}",
        f"# {scenario.description}",
        f"# command: {cmd}" + (f"  (SIGINT after {scenario.sigint_after} s)"
                               if scenario.sigint_after else ""),
        "# EPICS base 7.0.8.1 C tools and softIoc -S -a tests/data/access.acf "
        "-d tests/data/records.db",
        f"# relay port {relay.port} (dtype of US>C SEARCH replies), IOC port {ioc.port}",
        "# format: one CA message per line, hex of header + payload;",
        "#   C>S / S>C = TCP, UC>S / US>C = UDP (messages of one datagram on consecutive lines)",
        f"# exit code: {result.returncode}",
        *comment_lines("stdout", result.stdout),
        *comment_lines("stderr", result.stderr),
    ]
    return header + frames


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=epics_env.DATA_DIR / "frames")
    parser.add_argument("scenarios", nargs="*", help="names to capture (default: all)")
    opts = parser.parse_args(argv)
    chosen = [s for s in SCENARIOS if not opts.scenarios or s.name in opts.scenarios]
    unknown = set(opts.scenarios) - {s.name for s in SCENARIOS}
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    opts.out.mkdir(parents=True, exist_ok=True)
    with epics_env.SoftIoc(epics_env.RECORDS_DB, acf_path=epics_env.ACCESS_ACF) as ioc:
        relay = Relay(ioc.port)
        try:
            for scenario in chosen:
                lines = capture(scenario, relay, ioc)
                path = opts.out / f"{scenario.name}.hex"
                path.write_text("\n".join(lines) + "\n")
                n = sum(1 for line in lines if not line.startswith("#"))
                print(f"{path}: {n} messages")
        finally:
            relay.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
