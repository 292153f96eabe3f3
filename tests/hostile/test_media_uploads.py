"""Every hostile media input through the deepfake document's POST /api/scans/upload on
the live server: a 4xx envelope, a FAILED scan that says why, or a completed analysis,
always reaching a terminal state before a deadline and in bounded memory."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Account, assert_envelope
from tests.hostile.corpus import (
    FAILED_PREFIX,
    MEDIA_CASES,
    Analysed,
    Failed,
    MediaCase,
    Refused,
)
from tests.hostile.helpers import operative, peak_rss
from tests.live import LiveServer
from tests.media.helpers import upload_media, wait_media

# A scan must be over this long after its upload is answered: every input of the corpus
# finishes in a few seconds on a loaded two-core machine; a hang would not.
DEADLINE_SECONDS = 30.0


@pytest.fixture(scope="module")
def account(server: LiveServer) -> Account:
    return operative(server)


@pytest.mark.parametrize("case", MEDIA_CASES)
def test_hostile_media_upload(
    api: httpx.Client, account: Account, server: LiveServer, case: MediaCase
) -> None:
    content = case.make()  # made first: the generator's buffers are not the server's
    expected = case.expected
    with peak_rss() as memory:
        response = upload_media(api, account, content, case.filename)
        if isinstance(expected, Refused):
            error = assert_envelope(response, expected.status, expected.code)
            assert error["message"] == expected.message
            assert list(server.context.blobs.tmp_dir.iterdir()) == []
            scan = None
        else:
            # 200: the analysis ended while the upload waited for it (media_wait_seconds).
            assert response.status_code == 200, response.text
            scan_id = response.json()["data"]["id"]
            scan = wait_media(api, account, scan_id, timeout=DEADLINE_SECONDS)
    assert memory.growth_mb < case.rss_bound_mb, f"peak growth {memory.growth_mb:.0f} MB"
    if scan is None:
        return
    assert scan["fileName"] == case.filename
    if isinstance(expected, Failed):
        assert scan["status"] == "FAILED", scan
        assert scan["error"].startswith(FAILED_PREFIX), scan["error"]
        assert expected.matches(scan["error"].removeprefix(FAILED_PREFIX)), scan["error"]
        assert (scan["result"], scan["riskScore"], scan["stage"]) == (None, None, "failed")
        return
    assert isinstance(expected, Analysed)
    assert scan["status"] == "COMPLETED", scan
    assert (scan["mediaType"], scan["error"]) == (expected.kind, None)
    assert expected.verdict_matches(scan["result"]), scan["result"]
    for key, value in expected.facts.items():
        assert scan["metadata"][key] == value, (key, scan["metadata"])
