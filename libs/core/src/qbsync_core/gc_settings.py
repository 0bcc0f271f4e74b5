"""Cyclic garbage collector settings for a service process.

A consumed batch keeps thousands of parsed commands, bodies and answers alive at once.
With CPython's default threshold (a young collection every 700 net allocations of
container objects) each batch set off hundreds of young collections whose survivors
were promoted and later walked by full collections over the whole heap: about 0.14 s
each, a quarter of the poster's CPU in the 200-realm bench (docs/performance.md).

The batch's objects are freed by reference counting when it ends, so a young generation
that holds a batch lets them go without ever being traversed, and the objects made at
start-up (modules, schemas, the app) are frozen out of every later collection. Cycles
are still collected, just in larger, rarer sweeps.

The three thresholds are those of CPython's generational collector (3.11, the version
the project runs); re-measure on a CPython whose collector works differently.
"""

import gc

YOUNG_THRESHOLD = 200_000
"""Net container allocations between young collections (CPython's default: 700)."""
MIDDLE_THRESHOLD = 20
"""Young collections between collections of the middle generation (default: 10)."""
OLD_THRESHOLD = 50
"""Middle collections before a full one is considered (default: 10)."""


def tune_gc() -> None:
    """Freeze what exists now and set the thresholds; call once the app is built."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)
