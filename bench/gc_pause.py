"""The pause of a full garbage collection in a daemon's process, before and after `gc.freeze()`.

    python bench/gc_pause.py [--rounds 5]

The daemon imports what `hub run` imports with every integration configured, then calls
`gc.collect(); gc.freeze()` once it has started (hub/daemon.py). Baseline, in the same run: a
full collection of the same heap not frozen, what every full collection cost before. The
collector runs a full collection on its own whenever enough objects have survived the younger
generations, so this pause lands in the middle of whatever message is being handled.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import median  # noqa: E402
from integrations import KNOWN_TYPES  # noqa: E402


def full_collection_ms() -> float:
    started = time.perf_counter()
    gc.collect()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    importlib.import_module("hub.daemon")
    importlib.import_module("automations.engine")
    for target in KNOWN_TYPES.values():
        importlib.import_module(target.partition(":")[0])
    tracked = len(gc.get_objects())
    before = [full_collection_ms() for _ in range(args.rounds)]
    gc.freeze()
    after = [full_collection_ms() for _ in range(args.rounds)]
    print(f"a full collection with the daemon's modules loaded ({tracked:,} objects tracked), "
          f"median of {args.rounds}:")
    print(f"  not frozen (baseline)      {median(before):8.2f} ms   runs: {', '.join(f'{x:.2f}' for x in before)}")
    print(f"  after gc.freeze() (daemon) {median(after):8.2f} ms   runs: {', '.join(f'{x:.2f}' for x in after)}")


if __name__ == "__main__":
    main()
