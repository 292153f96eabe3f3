"""The process's heap, once it has started."""

from __future__ import annotations

import gc

from sqlalchemy.orm import configure_mappers


def settle_heap() -> None:
    """Put what start-up built out of the cyclic garbage collector's sight (`gc.freeze`).

    Imported modules, the app's routes and schemas, the database's mappers: about 220,000
    objects, alive as long as the process and all of them walked again by every full
    collection. Each full collection took 70-120 ms here, holding the interpreter, and
    the request that was in flight (a listing) took that much longer: the single slow
    request of bench/listing.py. Frozen, they are no longer walked, and full collections
    of what the process makes later are short. What is frozen is never collected, so only
    a process's entry point calls this, once, after start-up (not a test suite that
    builds many apps in one process): `veriscan serve` once its lifespan has started
    (uvicorn's own modules imported, workers started), `veriscan worker` before it takes
    its first job. The database's mappers, configured at their first query otherwise,
    are configured first.
    """
    configure_mappers()
    gc.collect()
    gc.freeze()
