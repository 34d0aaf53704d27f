"""The queues module under CPython 3.13's name (test.support.interpreters
.queues): the same module object as subinterp.interpreters._queues."""
import sys

from . import _queues

sys.modules[__name__] = _queues
