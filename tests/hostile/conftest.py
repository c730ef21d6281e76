"""Make ``corefuzz`` and ``client_report`` (this directory), the protocol test helpers
(``helpers``, ``fuzzing`` in tests/protocol) and the CLI ones (``fakeserver``,
``clihelpers`` in tests/cli) and the raw hostile clients (``hostile`` in tests/server)
importable from the hostile-input tests."""
import os
import sys

HERE = os.path.dirname(__file__)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "protocol"))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "cli"))   # fakeserver, clihelpers
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "server"))  # hostile (raw clients)
sys.path.insert(0, HERE)
