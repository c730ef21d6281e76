"""The rig itself: confined to its namespaces, and gone without a trace afterwards."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from epics_env import pid_alive, running_pids

import netns_rig
from netns_rig import SUBNET, Rig

HERE = Path(__file__).resolve().parent


def _ip(*args: str) -> str:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=True,
                          timeout=20).stdout


def _namespaces() -> set[str]:
    return {line.split()[0] for line in _ip("netns", "list").splitlines() if line.strip()}


def _ns_inode(ns: str) -> int:
    return os.stat(f"/run/netns/{ns}").st_ino


@pytest.fixture
def needs_netns() -> None:
    reason = netns_rig.netns_available()
    if reason is not None:
        pytest.skip(reason)


def test_nothing_in_the_root_namespace(rig):
    assert f"{SUBNET}." not in _ip("-4", "-o", "addr")
    assert rig.rig.prefix not in _ip("-o", "link")
    assert f"{SUBNET}." not in _ip("route")


def test_hosts_only_reach_the_rig(rig):
    for host in rig.rig.hosts.values():
        links = [line.split(":")[1].strip().split("@")[0]
                 for line in _ip("-n", host.ns, "-o", "link").splitlines()]
        assert links == ["lo", "eth0"]
        addrs = sorted(line.split()[3] for line in _ip("-n", host.ns, "-4", "-o",
                                                       "addr").splitlines())
        assert addrs == sorted(["127.0.0.1/8", f"{host.addr}/24"])
        # one connected route, no default route: nothing leaves the bridge
        assert [line.split()[0] for line in _ip("-n", host.ns, "route").splitlines()] \
            == [f"{SUBNET}.0/24"]


def test_processes_run_in_their_namespace_under_the_popen_pid(rig):
    """``ip netns exec`` execs the command: killing the Popen PID kills the IOC."""
    for ioc in rig.iocs.values():
        pid = ioc.proc.pid
        assert Path(f"/proc/{pid}/comm").read_text().strip() == "softIoc"
        assert os.stat(f"/proc/{pid}/ns/net").st_ino == _ns_inode(ioc.host.ns)


def test_teardown_kills_everything_and_deletes_the_namespaces(needs_netns, tmp_path):
    rig = Rig(tmp_path)
    try:
        host = rig.add_host("h1", 1)
        rig.start_repeater(host)
        ioc = rig.add_ioc(host, "T", [HERE / "rig.db"], {"P": "T:", "V": "1", "N": "1"})
        rig.start_ioc(ioc, host, "T:ai")
        # a grandchild nobody holds a Popen for: found through `ip netns pids`
        shell = rig.popen(host, ["/bin/sh", "-c", "sleep 300 & echo $!; wait"],
                          {"PATH": "/usr/bin:/bin"}, stdout=subprocess.PIPE)
        orphan = int(shell.stdout.readline())
        pids = rig.pids() + [orphan]
        names = list(rig.namespaces)
        assert len(running_pids(pids)) == len(pids) == 4     # repeater, IOC, sh, sleep
        assert set(names) <= _namespaces()
    finally:
        rig.teardown()
    assert not running_pids(pids)
    assert not set(names) & _namespaces()
    rig.teardown()      # idempotent


def test_a_rig_left_behind_is_torn_down_at_exit(needs_netns, tmp_path):
    """The atexit safety net: a process that builds a rig and exits without tearing it
    down leaves no namespace and no process behind."""
    prefix = f"catools-{os.getpid()}-atexit"
    code = (
        "import sys; sys.path[:0] = [sys.argv[1], sys.argv[2]]\n"
        "import netns_rig\n"
        "rig = netns_rig.Rig(sys.argv[3], prefix=sys.argv[4])\n"
        "host = rig.add_host('h1', 1)\n"
        "proc = rig.popen(host, ['sleep', '300'], {'PATH': '/usr/bin:/bin'})\n"
        "print(proc.pid, flush=True)\n"
        "raise SystemExit(3)\n")
    out = subprocess.run([sys.executable, "-c", code, str(HERE), str(HERE.parent),
                          str(tmp_path), prefix], capture_output=True, text=True, timeout=60)
    assert out.returncode == 3, out.stderr
    pid = int(out.stdout)
    assert not pid_alive(pid)
    assert not {ns for ns in _namespaces() if ns.startswith(prefix)}
