"""Python's garbage collector in a long-running daemon.

The collector's full collections walk every object alive. Once the daemon has started, what start-up
made (modules, the config, the automations) lives as long as the daemon: frozen, a full collection no
longer walks it. Under a burst, what is alive is mostly readings waiting for their commit, tens of
thousands of them, and none of it is garbage: the append paths make no reference cycles
(tests/core/test_heap.py), so a collection finds nothing to reclaim there. Python's default runs a full
collection after every ten collections of the middle generation; during a 300,000-reading burst through
`submit_state` that was 38 full collections of about 35 ms each (an ad-hoc count with `gc.callbacks`),
with the younger generations' a quarter of the run (`python -m bench.core_ingest --collector python`
prints the collector's share; 11% with these settings). One in a hundred keeps the cyclic garbage there
is (an exception's traceback, say) bounded, reclaimed ten times later.
"""

from __future__ import annotations

import gc

FULL_EVERY = 100  # collections of the middle generation between two full collections (Python's default: 10)


def settle() -> None:
    """Freeze what has been made so far out of the collector's sight, and make full collections rarer."""
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_EVERY)
