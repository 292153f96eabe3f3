"""The process's heap, once it has started."""

from __future__ import annotations

import gc

from sqlalchemy.orm import configure_mappers


def settle_heap() -> None:
    """Put what start-up built out of the cyclic garbage collector's sight (`gc.freeze`).

    Imported modules, the app's routes and schemas, the database's mappers: some 220,000
    objects that live as long as the process, all of them walked again by every full
    collection while the interpreter waits. A request in flight then took that much
    longer: the single slow request of bench/listing.py (figures in docs/benchmarks.md).
    Frozen, they are no longer walked. A frozen object is still freed when nothing refers
    to it any more, but a reference cycle among frozen objects never is; so only a
    process's entry point calls this, once, when start-up is done and before its threads
    have work in hand (`veriscan serve` in its lifespan, `veriscan worker` before its
    first job), never a test suite that builds many apps in one process. The database's
    mappers, configured at their first query otherwise, are configured first.
    """
    configure_mappers()
    gc.collect()
    gc.freeze()
