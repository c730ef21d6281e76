"""Reading.to_json() is the record our ``caget --json`` prints for the same read (but for
``client_epoch``, which each gives as the time it produced the record)."""
from __future__ import annotations

import json
import re
import subprocess
import time

import pytest

import catools
from epics_env import scripts_dir

# PVs that never change once the IOC is up (PINI, no SCAN), so both reads see the same
# value and timestamp; an enum is compared as caget reads it (DBR_TIME_STRING).
PVS = [("TST:ai", None), ("TST:str", None), ("TST:longin", None), ("TST:alarm", None),
       ("TST:udf", None), ("TST:wfl", None), ("TST:wfs", None), ("TST:i64", None),
       ("TST:mbbi", str), ("TST:bi", str)]


@pytest.mark.parametrize("name, data_type", PVS)
def test_to_json_is_the_caget_json_record(shared_ioc, name, data_type):
    proc = subprocess.run([str(scripts_dir() / "caget"), "--json", name],
                          env=shared_ioc.script_env, capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 0, proc.stderr
    with catools.Context(server_port=shared_ioc.port, addr_list=["127.0.0.1"],
                         auto_addr_list=False) as ctx:
        reading = catools.get(name, data_type=data_type, context=ctx)
    ours, cli = reading.to_json(), proc.stdout.rstrip("\n")
    # the records end with the client's time: the rest is the same, byte for byte
    tail = re.compile(r',"client_epoch":(\d+\.\d{6})}$')
    stamps = [float(tail.search(line).group(1)) for line in (ours, cli)]
    assert tail.sub("}", ours) == tail.sub("}", cli)
    assert all(abs(stamp - time.time()) < 60 for stamp in stamps)
    assert json.loads(ours)["client_epoch"] == stamps[0]
