"""A small Channel Access server: ``Server`` serves ``PV`` objects over UDP and TCP.

    from catools.server import PV, Server
    server = Server([PV("demo:x", "double", 1.5, units="mm", precision=2)])
    server.serve_forever()          # or: server.start_in_thread(); ...; server.stop()

``catools serve pvs.toml`` / ``catools serve --demo`` run one from the command line.
"""
from ._loader import PVFileError, load_pv_file, pvs_from_document
from ._pvdb import PV, PutError, epics_timestamp
from ._server import Server
from .demo import demo_pvs, install_demo

__all__ = ["PV", "Server", "PutError", "PVFileError", "load_pv_file", "pvs_from_document",
           "demo_pvs", "install_demo", "epics_timestamp"]
