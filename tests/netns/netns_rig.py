"""A multi-host Channel Access test rig made of Linux network namespaces.

One *switch* namespace holds a bridge; every *host* namespace gets a veth pair to it
(created directly inside the namespaces, so nothing ever appears in the root namespace)
and an address in 198.18.0.0/24 (RFC 2544 benchmarking space, broadcast 198.18.0.255).
The namespaces have no route out: broadcasts and searches stay on the bridge.

Processes run through ``ip netns exec NS argv...``, which execs ``argv`` in place, so the
PID of the Popen is the PID of the command: teardown kills by that PID, then kills any
PID still inside one of *our* namespaces (``ip netns pids``), then deletes the
namespaces. A module-level ``atexit`` hook tears down every rig still alive.
"""
from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TESTS_DIR))

from epics_env import c_tool_path, epics_dbd_dir, make_env, running_pids  # noqa: E402

SUBNET = "198.18.0"
BROADCAST = f"{SUBNET}.255"
#: The standard CA ports: every namespace has its own port space.
SERVER_PORT = 5064
REPEATER_PORT = 5065
PROBE = Path(__file__).resolve().parent / "probe.py"
#: The ways a host can vanish without a reset (see :meth:`Rig.vanished`).
VANISH_WAYS = ("link_down", "packet_drop")
#: The nftables table :meth:`Rig.vanished` adds to drop a host's packets.
DROP_TABLE = "catools_vanish"


def our_tool(name: str) -> str:
    """Our console script ``name`` (next to this interpreter, as in CI's venv)."""
    return str(Path(sys.executable).parent / name)


def netns_available() -> str | None:
    """None if this process can build a rig, else the reason why not."""
    if os.geteuid() != 0:
        return "network namespace rig needs root"
    if shutil.which("ip") is None:
        return "iproute2 'ip' not found"
    try:
        proc = subprocess.run(["ip", "netns", "list"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"'ip netns' unavailable: {exc}"
    if proc.returncode != 0:
        return f"'ip netns' unavailable: {proc.stderr.decode(errors='replace').strip()}"
    return None


def drop_tool() -> str | None:
    """The packet filter :meth:`Rig.vanished` uses for "packet_drop": ``nft``, else
    ``iptables``; None if neither is installed."""
    for tool in ("nft", "iptables"):
        if shutil.which(tool) is not None:
            return tool
    return None


def _ip(*args: str) -> None:
    proc = subprocess.run(["ip", *args], capture_output=True, timeout=20)
    if proc.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {proc.stderr.decode(errors='replace')}")


def _netns_pids(ns: str) -> list[int]:
    proc = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, timeout=10)
    return [int(p) for p in proc.stdout.split()] if proc.returncode == 0 else []


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            proc.kill()
        except ProcessLookupError:
            pass
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:  # pragma: no cover - a D-state process
        pass
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


@dataclass
class Ioc:
    """One softIoc of the rig: its host namespace, records and current process."""

    name: str
    host: "Host"
    dbs: list[Path]
    macros: dict[str, str]
    log: Path
    proc: subprocess.Popen | None = None

    def command(self) -> list[str]:
        cmd = [str(c_tool_path("softIoc")), "-D", str(epics_dbd_dir() / "softIoc.dbd"), "-S",
               "-m", ",".join(f"{k}={v}" for k, v in self.macros.items())]
        for db in self.dbs:
            cmd += ["-d", str(db)]
        return cmd


@dataclass
class Host:
    """A host namespace with its address."""

    ns: str
    addr: str
    iocs: list[Ioc] = field(default_factory=list)


class Monitor:
    """A long-running process whose stdout lines are collected with their arrival time
    (``time.monotonic()``) by a reader thread."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.lines: list[tuple[float, str]] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            now = time.monotonic()
            with self._cond:
                self.lines.append((now, raw.decode(errors="replace").rstrip("\n")))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def text(self) -> list[str]:
        with self._cond:
            return [line for _, line in self.lines]

    def wait_for(self, pred, timeout: float, start: int = 0) -> tuple[float, str] | None:
        """The first ``(time, line)`` from index ``start`` on with ``pred(line)`` true,
        waiting up to ``timeout`` seconds; None on timeout or if the process ended."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for stamp, line in self.lines[start:]:
                    if pred(line):
                        return stamp, line
                left = deadline - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    return None
                self._cond.wait(min(left, 0.2))

    def stop(self) -> tuple[list[str], str, int]:
        """SIGINT (like Ctrl-C), wait; returns (stdout lines, stderr text, exit code)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._thread.join(10)
        err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
        _kill(self.proc)
        return self.text(), err, self.proc.returncode


class Rig:
    """Namespaces, bridge, hosts and every process started in them."""

    def __init__(self, workdir: Path, prefix: str | None = None) -> None:
        self.prefix = prefix or f"catools-{os.getpid()}-{next(_serial)}"
        self.workdir = Path(workdir)
        self.namespaces: list[str] = []
        self.hosts: dict[str, Host] = {}
        self.procs: list[subprocess.Popen] = []
        self._lock = threading.Lock()
        _LIVE.append(self)
        try:
            ns = f"{self.prefix}-sw"
            _ip("netns", "add", ns)
            self.namespaces.append(ns)
            self.switch = ns
            _ip("-n", ns, "link", "add", "br0", "type", "bridge")
            _ip("-n", ns, "link", "set", "br0", "up")
        except BaseException:
            self.teardown()
            raise

    # -- topology
    def add_host(self, label: str, octet: int) -> Host:
        """A host namespace ``<prefix>-<label>`` with address 198.18.0.<octet>/24."""
        ns = f"{self.prefix}-{label}"
        _ip("netns", "add", ns)
        self.namespaces.append(ns)
        port = f"p{label}"[:15]
        # both ends are created inside their namespaces: the root namespace never sees them
        _ip("link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", port,
            "netns", self.switch)
        _ip("-n", self.switch, "link", "set", port, "master", "br0")
        _ip("-n", self.switch, "link", "set", port, "up")
        addr = f"{SUBNET}.{octet}"
        _ip("-n", ns, "addr", "add", f"{addr}/24", "broadcast", BROADCAST, "dev", "eth0")
        _ip("-n", ns, "link", "set", "eth0", "up")
        _ip("-n", ns, "link", "set", "lo", "up")
        host = self.hosts[label] = Host(ns, addr)
        return host

    # -- processes
    def popen(self, host: Host, argv: Sequence[str], env: Mapping[str, str],
              **kw) -> subprocess.Popen:
        """Start ``argv`` inside ``host``'s namespace; it is killed at teardown."""
        kw.setdefault("stdin", subprocess.DEVNULL)
        with self._lock:
            proc = subprocess.Popen(["ip", "netns", "exec", host.ns, *map(str, argv)],
                                    env=dict(env), start_new_session=True, **kw)
            self.procs.append(proc)
        return proc

    def run(self, host: Host, argv: Sequence[str], env: Mapping[str, str],
            timeout: float = 30.0) -> subprocess.CompletedProcess:
        """Run ``argv`` inside ``host``'s namespace to completion (bytes output)."""
        proc = self.popen(host, argv, env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            out, err = proc.communicate(timeout=timeout)
        finally:
            _kill(proc)
            with self._lock:
                self.procs.remove(proc)
        return subprocess.CompletedProcess(list(argv), proc.returncode, out, err)

    def monitor(self, host: Host, argv: Sequence[str], env: Mapping[str, str]) -> Monitor:
        return Monitor(self.popen(host, argv, env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE))

    def start_repeater(self, host: Host) -> subprocess.Popen:
        """The C caRepeater of ``host`` (so that softIoc/the C tools need not spawn one,
        and monitors get beacons)."""
        return self.popen(host, [str(c_tool_path("caRepeater"))], ioc_env(),
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    # -- IOCs
    def add_ioc(self, host: Host, name: str, dbs: Sequence[Path],
                macros: Mapping[str, str]) -> Ioc:
        ioc = Ioc(name, host, list(dbs), dict(macros), self.workdir / f"{name}.log")
        host.iocs.append(ioc)
        return ioc

    def start_ioc(self, ioc: Ioc, probe_from: Host, probe_pv: str,
                  timeout: float = 20.0) -> float:
        """Start ``ioc``; return the monotonic time at which it first answered a
        broadcast search for ``probe_pv`` sent from ``probe_from``."""
        assert ioc.proc is None or ioc.proc.poll() is not None
        with open(ioc.log, "ab") as log:
            ioc.proc = self.popen(ioc.host, ioc.command(), ioc_env(), stdout=log,
                                  stderr=subprocess.STDOUT, cwd=str(self.workdir))
        try:
            return self.search(probe_from, probe_pv, timeout)[0]
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n{ioc.log.read_text(errors='replace')}") from None

    def kill_ioc(self, ioc: Ioc) -> None:
        """SIGKILL the IOC by PID (no goodbye on its circuits) and reap it."""
        assert ioc.proc is not None
        _kill(ioc.proc)

    def search(self, probe_from: Host, pv: str, timeout: float = 20.0,
               target: str = BROADCAST) -> tuple[float, int]:
        """Search ``pv`` every 10 ms at ``target`` from ``probe_from`` until a reply:
        ``(monotonic time of the reply, TCP port it names)`` (CLOCK_MONOTONIC is not
        namespaced, so the probe's clock is ours)."""
        proc = self.run(probe_from, [sys.executable, str(PROBE), target, str(SERVER_PORT), pv,
                                     str(timeout)], {"PATH": "/usr/bin:/bin"},
                        timeout=timeout + 10)
        if proc.returncode != 0:
            raise RuntimeError(f"no reply to a search for {pv!r}: "
                               f"{proc.stderr.decode(errors='replace')}")
        stamp, port = proc.stdout.split()
        return float(stamp), int(port)

    # -- faults
    @contextmanager
    def vanished(self, host: Host, way: str) -> Iterator[None]:
        """``host`` is cut off the rig without a reset while the block runs: its link goes
        down (``way="link_down"``: ``ip link set eth0 down`` in its namespace) or every
        packet in or out of its eth0 is dropped (``"packet_drop"``: nftables, else
        iptables, in its namespace). Its processes keep running; on leaving the block the
        host returns (also when the block raises)."""
        if way == "link_down":
            _ip("-n", host.ns, "link", "set", "eth0", "down")
            undo = [["ip", "-n", host.ns, "link", "set", "eth0", "up"]]
        elif way == "packet_drop":
            undo = self._drop_packets(host)
        else:
            raise ValueError(way)
        try:
            yield
        finally:
            for argv in undo:
                done = subprocess.run(argv, capture_output=True, timeout=20)
                if done.returncode != 0:
                    raise RuntimeError(f"{' '.join(argv)}: "
                                       f"{done.stderr.decode(errors='replace')}")

    def _drop_packets(self, host: Host) -> list[list[str]]:
        """Drop every packet on ``host``'s eth0; the commands that undo it."""
        tool = drop_tool()
        inside = ["ip", "netns", "exec", host.ns]
        if tool == "nft":
            rules = (f"table inet {DROP_TABLE} {{\n"
                     f"  chain in {{ type filter hook input priority -300; "
                     f"iifname \"eth0\" drop; }}\n"
                     f"  chain out {{ type filter hook output priority -300; "
                     f"oifname \"eth0\" drop; }}\n}}\n")
            done = subprocess.run([*inside, "nft", "-f", "-"], input=rules.encode(),
                                  capture_output=True, timeout=20)
            if done.returncode != 0:
                raise RuntimeError(f"nft: {done.stderr.decode(errors='replace')}")
            return [[*inside, "nft", "delete", "table", "inet", DROP_TABLE]]
        if tool == "iptables":
            rules = [["INPUT", "-i", "eth0", "-j", "DROP"], ["OUTPUT", "-o", "eth0", "-j", "DROP"]]
            undo = []
            try:
                for rule in rules:
                    subprocess.run([*inside, "iptables", "-w", "-I", *rule], check=True,
                                   capture_output=True, timeout=20)
                    undo.append([*inside, "iptables", "-w", "-D", *rule])
            except BaseException:
                for argv in undo:
                    subprocess.run(argv, capture_output=True, timeout=20)
                raise
            return undo
        raise RuntimeError("packet_drop needs nft or iptables")

    # -- teardown
    def teardown(self) -> None:
        """Kill every process of the rig, then delete its namespaces. Idempotent."""
        with self._lock:
            procs, self.procs = self.procs, []
        for proc in procs:
            _kill(proc)
        swept = []
        for ns in self.namespaces:
            for pid in _netns_pids(ns):      # only processes inside our own namespaces
                try:
                    os.kill(pid, signal.SIGKILL)
                    swept.append(pid)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 10.0  # SIGKILL is delivered asynchronously
        while running_pids(swept) and time.monotonic() < deadline:
            time.sleep(0.01)
        errors = []
        for ns in reversed(self.namespaces):
            done = subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=20)
            if done.returncode != 0:
                errors.append(done.stderr.decode(errors="replace"))
        self.namespaces.clear()
        if self in _LIVE:
            _LIVE.remove(self)
        if errors:
            raise RuntimeError("; ".join(errors))

    def pids(self) -> list[int]:
        """PIDs of the rig's processes not yet reaped (those started with :meth:`popen`
        and not finished through :meth:`run`)."""
        with self._lock:
            return [p.pid for p in self.procs]


def ioc_env() -> dict[str, str]:
    """Environment of the rig's softIocs and caRepeaters: the loopback settings replaced
    by rig ones (servers listen on every interface of their namespace, i.e. lo and the
    rig's veth; beacons go to the rig's broadcast address only)."""
    env = make_env(SERVER_PORT, REPEATER_PORT, extra={
        "EPICS_CA_AUTO_ADDR_LIST": "NO",
        "EPICS_CA_ADDR_LIST": BROADCAST,
        "EPICS_CAS_AUTO_BEACON_ADDR_LIST": "NO",
        "EPICS_CAS_BEACON_ADDR_LIST": BROADCAST,
    })
    del env["EPICS_CAS_INTF_ADDR_LIST"]
    return env


def client_env(auto: bool, addr_list: str = "", name_servers: str = "") -> dict[str, str]:
    """Environment of a client in the rig (C tools: PATH cannot spawn a caRepeater)."""
    env = make_env(SERVER_PORT, REPEATER_PORT, extra={
        "EPICS_CA_AUTO_ADDR_LIST": "YES" if auto else "NO",
        "EPICS_CA_ADDR_LIST": addr_list,
    })
    for name in [k for k in env if k.startswith("EPICS_CAS_")]:
        del env[name]
    if name_servers:
        env["EPICS_CA_NAME_SERVERS"] = name_servers
    return env


_serial = iter(range(1, 1 << 30))
_LIVE: list[Rig] = []


@atexit.register
def _teardown_all() -> None:
    """Safety net: no rig outlives the Python process that built it."""
    for rig in list(_LIVE):
        try:
            rig.teardown()
        except Exception:  # pragma: no cover
            pass
