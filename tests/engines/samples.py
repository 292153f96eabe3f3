"""Known-answer content for the engine tests, and the signatures clamd gets for them."""

from __future__ import annotations

from collections.abc import Callable

from veriscan.engines.base import Sample

# Split so that this source file is not itself the EICAR test file to a scanner.
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"

HDB_SAMPLE = b"Veriscan sample matched by its md5 and size only\n" * 8
HDB_NAME = "Veriscan.Test.HashSignature"
NDB_MARKER = b"VERISCAN-TEST-MALWARE"
NDB_NAME = "Veriscan.Test.BodySignature"
HEURISTIC_MARKER = b"VERISCAN-TEST-HEURISTIC"
HEURISTIC_NAME = "Heuristics.Veriscan.Test"
# clamd refuses streams longer than this: the size-limit tests send more.
STREAM_MAX_LENGTH = 1024 * 1024

# A YARA rule quadratic in the file size, and never true: on 200 KB it runs until the
# scanner gives up.
SLOW_RULE = (
    "rule Slow { condition: for any i in (0..filesize) : "
    "(for any j in (0..filesize) : (uint8(i) + uint8(j) == 1000)) }"
)

# make_sample(content, name="sample.bin") -> Sample, from the make_sample fixture.
MakeSample = Callable[..., Sample]
