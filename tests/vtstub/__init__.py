"""A stand-in for VirusTotal's v3 REST API that tests reach over real HTTP.

    with start_stub(minute_seconds=1.0) as stub:
        stub.add_key("k", per_minute=4)
        settings = Settings(virustotal_url=stub.url, ...)  # http://127.0.0.1:PORT/api/v3

See ``stub.py`` for the protocol and the controls (keys, quotas, faults, preloaded files).
"""

from tests.vtstub.engines import EICAR, ENGINES, SUSPICIOUS_MARKER, Engine
from tests.vtstub.stub import RecordedRequest, VirusTotalStub, start_stub

__all__ = [
    "EICAR",
    "ENGINES",
    "SUSPICIOUS_MARKER",
    "Engine",
    "RecordedRequest",
    "VirusTotalStub",
    "start_stub",
]
