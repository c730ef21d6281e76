"""The twins' suite: the same behaviour tests, run through ``catools.sync`` (an I/O
thread) and ``catools.aio`` (the asyncio loop), over the same client."""
import os
import sys

HERE = os.path.dirname(__file__)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "cli"))       # fakeserver
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "hostile"))   # the mutations
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "client"))    # fakeioc
