"""``catools serve --demo`` on a port in use: one line saying which --port to use and
the client settings to match; exit status 1, no traceback; the advice works."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))

from epics_env import terminate  # noqa: E402

SCRIPTS = Path(sys.executable).parent


def test_port_in_use_says_what_to_do(softioc):
    ioc = softioc(records='record(ao, "SRV:x") {}\n')
    env = ioc.script_env
    proc = subprocess.run([str(SCRIPTS / "catools"), "serve", "--demo"], env=env,
                          capture_output=True, text=True, timeout=20)
    assert proc.returncode == 1 and proc.stdout == "" and "Traceback" not in proc.stderr
    assert len(proc.stderr.splitlines()) == 1
    m = re.fullmatch(rf"Error: port {ioc.port} is in use \(another server\?\): run it "
                     r"with --port (\d+) and start the clients with "
                     r"EPICS_CA_SERVER_PORT=(\d+) \(or EPICS_CA_ADDR_LIST=127\.0\.0\.1:(\d+)"
                     r"\)\n", proc.stderr)
    assert m and m[1] == m[2] == m[3] and int(m[1]) not in (ioc.port, ioc.repeater_port)
    port = m[1]
    server = subprocess.Popen([str(SCRIPTS / "catools"), "serve", "--demo", "--port", port],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        server.stderr.readline()        # "catools serve: 8 PVs on ..." once it listens
        get = subprocess.run([str(SCRIPTS / "caget"), "-t", "demo:readonly"],
                             env=dict(env, EPICS_CA_SERVER_PORT=port), capture_output=True,
                             text=True, timeout=20)
        assert get.returncode == 0 and get.stdout.strip() == "3.14159"
    finally:
        terminate(server)
