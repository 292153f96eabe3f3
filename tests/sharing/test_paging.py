"""Every page of both listings, with scope=all (own scans merged with those shared with
the caller, core.paging) and scope=own, in every sort and order, is the same sequence as
the bulk export's single ORDER BY over the same rows: nothing missing, doubled or out of
place. Pages in the later half are read from the other end of the order (core.paging),
so these walks cover both directions of every index."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import Account
from tests.malware.helpers import unique_content, upload, wait_for
from tests.media.helpers import photo_jpeg, upload_media, wait_media


def _pages(api: httpx.Client, account: Account, path: str, params: dict[str, Any]) -> list[str]:
    size_key, items_key = (
        ("per_page", "scans") if path == "/api/scan/results" else ("limit", "data")
    )
    ids: list[str] = []
    page = 1
    while True:
        body = api.get(
            path, headers=account.headers, params={**params, size_key: 3, "page": page}
        ).json()
        ids += [item["id"] for item in body[items_key]]
        pagination = body["pagination"]
        total = pagination.get("total_items", pagination.get("total"))
        if page >= pagination.get("total_pages", pagination.get("pages")):
            assert len(ids) == total
            return ids
        page += 1


def _export(api: httpx.Client, account: Account, path: str, params: dict[str, Any]) -> list[str]:
    response = api.get(path, headers=account.headers, params={**params, "format": "json"})
    assert response.status_code == 200, response.text
    return [item.get("scan_id") or item["id"] for item in response.json()]


def test_every_page_in_every_order_follows_the_export(
    api: httpx.Client, make_account: Callable[..., Account]
) -> None:
    """An operative with 8 malware and 6 media scans of their own (one media scan failed:
    no score), and 5 + 3 of another user's shared with them."""
    owner, reader = make_account(), make_account()
    for account, malware, media in ((reader, 8, 5), (owner, 5, 3)):
        scans = [upload(api, account, unique_content())["scan"]["scan_id"] for _ in range(malware)]
        for scan_id in scans:
            wait_for(api, account, scan_id)
        pictures = [
            upload_media(api, account, photo_jpeg(seed=300 + n)).json()["data"]["id"]
            for n in range(media)
        ]
        for scan_id in pictures:
            wait_media(api, account, scan_id)
        if account is owner:
            for kind, ids in (("scan", scans), ("scans", pictures)):
                for scan_id in ids:
                    shared = api.post(
                        f"/api/{kind}/{scan_id}/shares",
                        headers=owner.headers,
                        json={"userId": reader.id},
                    )
                    assert shared.status_code in (200, 201), shared.text
    broken = upload_media(api, reader, photo_jpeg(seed=399)[:400], name="cut.jpg")
    assert wait_media(api, reader, broken.json()["data"]["id"])["status"] == "FAILED"

    for scope, malware_count, media_count in (("all", 13, 9), ("own", 8, 6)):
        for order in ("desc", "asc"):
            for sort in ("scan_date", "detection_ratio"):
                params = {"scope": scope, "sort_by": sort, "sort_order": order}
                paged = _pages(api, reader, "/api/scan/results", params)
                assert len(paged) == malware_count
                assert paged == _export(api, reader, "/api/scan/export", params), params
            for sort in ("date", "confidence", "riskScore", "fileName"):
                params = {"scope": scope, "sortBy": sort, "sortOrder": order}
                paged = _pages(api, reader, "/api/scans/history", params)
                assert len(paged) == media_count
                assert paged == _export(api, reader, "/api/scans/export", params), params
