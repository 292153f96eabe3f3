"""Scans in cases: who adds which, what the case shows, and the timeline."""

from __future__ import annotations

import uuid

import httpx

from tests.cases.helpers import (
    MakeAccount,
    add_scan,
    audit_events,
    create_case,
    iso,
    malware_row,
    malware_scan,
    media_row,
    media_scan,
)
from tests.conftest import assert_envelope
from tests.live import LiveServer


def test_who_adds_which_scan(api: httpx.Client, make_account: MakeAccount) -> None:
    operative, other, analyst = make_account(), make_account(), make_account("analyst")
    admin = make_account("admin")
    case = create_case(api, analyst, memberIds=[operative.id, admin.id])
    case_id = case["id"]
    others_media = media_scan(api, other, seed=5)
    others_malware = malware_scan(api, other)

    # An operative sees neither of another user's scans: 404, the scans' own answer.
    for kind, scan_id in (("media", others_media), ("malware", others_malware)):
        refused = add_scan(api, operative, case_id, kind, scan_id)
        assert assert_envelope(refused, 404, "NOT_FOUND")["message"] == "Scan not found"
    # An analyst manages every media scan, but sees no one else's malware scan.
    assert add_scan(api, analyst, case_id, "media", others_media).status_code == 201
    assert_envelope(add_scan(api, analyst, case_id, "malware", others_malware), 404)
    assert_envelope(add_scan(api, admin, case_id, "malware", others_malware), 404)
    missing = add_scan(api, analyst, case_id, "media", str(uuid.uuid4()))
    assert_envelope(missing, 404, "NOT_FOUND")
    # Twice is a conflict.
    assert_envelope(add_scan(api, admin, case_id, "media", others_media), 409, "CONFLICT")
    # The operative adds its own scans; the owner of a scan adds it to a case it reads.
    own_malware = malware_scan(api, operative, name="dropper.sh")
    added = add_scan(api, operative, case_id, "malware", own_malware)
    assert added.status_code == 201, added.text
    item = added.json()["data"]
    assert {k: item[k] for k in ("scanKind", "scanId", "fileName", "status", "verdict")} == {
        "scanKind": "malware",
        "scanId": own_malware,
        "fileName": "dropper.sh",
        "status": "completed",
        "verdict": None,
    }
    assert item["addedBy"] == {"id": operative.id, "username": operative.username}
    assert item["detectionRatio"] is not None

    detail = api.get(f"/api/cases/{case_id}", headers=operative.headers).json()["data"]
    assert [(s["scanKind"], s["scanId"]) for s in detail["scans"]] == [
        ("media", others_media),
        ("malware", own_malware),
    ]
    media_item = detail["scans"][0]
    assert media_item["fileName"] == "p.jpg"
    assert media_item["status"] == "COMPLETED"
    assert media_item["verdict"] in ("AUTHENTIC", "SUSPICIOUS", "DEEPFAKE")
    assert media_item["detectionRatio"] is None
    assert detail["scans"][1] == item
    assert detail["scanCount"] == 2


def test_a_scan_added_by_its_owner_is_refused_to_a_non_manager(
    api: httpx.Client, make_account: MakeAccount
) -> None:
    """A member who can read a scan through the case may not add it to another case: a
    grant gives reading, never managing."""
    owner, member = make_account(), make_account()
    case = create_case(api, owner, memberIds=[member.id])
    scan_id = malware_scan(api, owner)
    assert add_scan(api, owner, case["id"], "malware", scan_id).status_code == 201
    elsewhere = create_case(api, member)
    refused = add_scan(api, member, elsewhere["id"], "malware", scan_id)
    # The member reads the scan through the first case (404 otherwise), but may not manage it.
    assert_envelope(refused, 403, "FORBIDDEN")


def test_remove_a_scan(api: httpx.Client, make_account: MakeAccount, server: LiveServer) -> None:
    owner, member, outsider = make_account(), make_account(), make_account()
    case = create_case(api, owner, memberIds=[member.id])
    scan_id = malware_scan(api, owner)
    assert add_scan(api, owner, case["id"], "malware", scan_id).status_code == 201
    path = f"/api/cases/{case['id']}/scans/malware/{scan_id}"
    assert_envelope(api.delete(path.replace("/malware/", "/media/"), headers=owner.headers), 404)
    assert_envelope(api.delete(path.replace("/malware/", "/pdf/"), headers=owner.headers), 400)
    assert_envelope(api.delete(path, headers=outsider.headers), 404)
    removed = api.delete(path, headers=member.headers)
    assert removed.status_code == 200, removed.text
    assert removed.json()["success"] is True
    assert_envelope(api.delete(path, headers=member.headers), 404, "NOT_FOUND")
    detail = api.get(f"/api/cases/{case['id']}", headers=owner.headers).json()["data"]
    assert (detail["scans"], detail["scanCount"]) == ([], 0)
    # The scan itself is untouched.
    assert api.get(f"/api/scan/{scan_id}/results", headers=owner.headers).status_code == 200
    actions = [(e.action, e.details) for e in audit_events(server, case["id"])]
    assert actions[1:] == [
        ("case.scan_add", {"scan_kind": "malware", "scan_id": scan_id}),
        ("case.scan_remove", {"scan_kind": "malware", "scan_id": scan_id}),
    ]


def test_the_timeline_of_a_scripted_case(
    api: httpx.Client, make_account: MakeAccount, server: LiveServer
) -> None:
    lead, helper = make_account("analyst"), make_account()
    photo = media_scan(api, helper, name="photo.jpg", seed=11)
    sample = malware_scan(api, helper, name="sample.txt")
    case = create_case(api, lead, title="Leak")
    base = f"/api/cases/{case['id']}"
    steps = [
        api.post(f"{base}/members", headers=lead.headers, json={"userId": helper.id}),
        add_scan(api, lead, case["id"], "media", photo),
        add_scan(api, helper, case["id"], "malware", sample),
        api.post(f"{base}/notes", headers=helper.headers, json={"body": "uploaded both"}),
        api.patch(f"{base}", headers=helper.headers, json={"status": "in_progress"}),
        api.patch(f"{base}", headers=lead.headers, json={"description": "Source found"}),
        api.delete(f"{base}/members/{helper.id}", headers=helper.headers),
    ]
    for step in steps:
        assert step.status_code in (200, 201), step.text
    note_id = steps[3].json()["data"]["id"]

    media, malware = media_row(server, photo), malware_row(server, sample)
    assert media.completed_at is not None and malware.completed_at is not None
    photo_about = {"scanKind": "media", "scanId": photo, "fileName": "photo.jpg"}
    sample_about = {"scanKind": "malware", "scanId": sample, "fileName": "sample.txt"}
    lead_ref = {"id": lead.id, "username": lead.username}
    helper_ref = {"id": helper.id, "username": helper.username}
    timeline = api.get(f"{base}/timeline", headers=lead.headers).json()
    entries = timeline["data"]
    expected = [
        (iso(media.created_at), "scan.uploaded", None, photo_about),
        (
            iso(media.completed_at),
            "scan.completed",
            None,
            {**photo_about, "verdict": media.result},
        ),
        (iso(malware.created_at), "scan.uploaded", None, sample_about),
        (
            iso(malware.completed_at),
            "scan.completed",
            None,
            {**sample_about, "detectionRatio": malware.detection_ratio},
        ),
        (
            case["createdAt"],
            "case.created",
            lead_ref,
            {"title": "Leak", "priority": "medium", "owner": lead_ref, "members": []},
        ),
        (None, "case.member_added", lead_ref, {"user": helper_ref}),
        (None, "case.scan_added", lead_ref, photo_about),
        (None, "case.scan_added", helper_ref, sample_about),
        (None, "case.note_added", helper_ref, {"noteId": note_id}),
        (None, "case.status_changed", helper_ref, {"from": "open", "to": "in_progress"}),
        (
            None,
            "case.updated",
            lead_ref,
            {"changes": {"description": ["", "Source found"]}},
        ),
        (None, "case.member_removed", helper_ref, {"user": helper_ref}),
    ]
    assert [(e["action"], e["actor"], e["details"]) for e in entries] == [
        (action, actor, details) for _, action, actor, details in expected
    ]
    for entry, (at, *_) in zip(entries, expected, strict=True):
        if at is not None:
            assert entry["at"] == at
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)
    assert timeline["pagination"] == {"total": 12, "page": 1, "limit": 100, "pages": 1}
    paged = api.get(f"{base}/timeline", headers=lead.headers, params={"page": 3, "limit": 5}).json()
    assert paged["data"] == entries[10:]
    assert paged["pagination"] == {"total": 12, "page": 3, "limit": 5, "pages": 3}
    for limit in (0, 201):
        assert_envelope(
            api.get(f"{base}/timeline", headers=lead.headers, params={"limit": limit}), 400
        )
    # The helper left: the case is no longer theirs to read.
    assert_envelope(api.get(f"{base}/timeline", headers=helper.headers), 404)


def test_a_member_reads_the_cases_scans(api: httpx.Client, make_account: MakeAccount) -> None:
    """Adding a scan to a case shares it with the case's readers (cases/access.py)."""
    owner, member, outsider = make_account(), make_account(), make_account()
    malware = malware_scan(api, owner)
    media = media_scan(api, owner)
    case = create_case(api, owner, memberIds=[member.id])
    for kind, scan_id in (("malware", malware), ("media", media)):
        assert add_scan(api, owner, case["id"], kind, scan_id).status_code == 201
    assert_envelope(api.get(f"/api/scan/{malware}/results", headers=outsider.headers), 404)
    assert_envelope(api.get(f"/api/scans/{media}", headers=outsider.headers), 404)
    results = api.get(f"/api/scan/{malware}/results", headers=member.headers)
    assert results.status_code == 200, results.text
    assert results.json()["scan_id"] == malware
    got = api.get(f"/api/scans/{media}", headers=member.headers)
    assert got.status_code == 200, got.text
    assert got.json()["data"]["id"] == media


def test_an_admin_taking_no_part_sees_the_case_but_not_others_malware_scans_in_it(
    api: httpx.Client, make_account: MakeAccount
) -> None:
    owner, admin = make_account(), make_account("admin")
    secret_name = f"secret-{uuid.uuid4().hex[:8]}.txt"
    malware = malware_scan(api, owner, secret_name)
    media = media_scan(api, owner, seed=9)
    case = create_case(api, owner, title="Mixed")
    for kind, scan_id in (("malware", malware), ("media", media)):
        assert add_scan(api, owner, case["id"], kind, scan_id).status_code == 201

    # CONTRACT.md keeps a user's malware scans from admins too: reading every case does
    # not change that. The admin sees the media scan (theirs to read anyway) and a count.
    detail = api.get(f"/api/cases/{case['id']}", headers=admin.headers)
    assert detail.status_code == 200, detail.text
    body = detail.json()["data"]
    assert [s["scanId"] for s in body["scans"]] == [media]
    assert (body["hiddenScans"], body["scanCount"]) == (1, 2)
    timeline = api.get(f"/api/cases/{case['id']}/timeline", headers=admin.headers)
    assert timeline.status_code == 200, timeline.text
    assert secret_name not in timeline.text and malware not in timeline.text
    added = [e["details"] for e in timeline.json()["data"] if e["action"] == "case.scan_added"]
    assert added[0] == {"scanKind": "malware", "hidden": True}
    assert added[1]["scanId"] == media
    assert secret_name not in detail.text
    assert_envelope(
        api.get(f"/api/scan/{malware}/results", headers=admin.headers), 404, "NOT_FOUND"
    )
    listed = api.get("/api/scan/results", headers=admin.headers, params={"per_page": 100})
    assert malware not in {s["id"] for s in listed.json()["scans"]}

    # Made a member, the admin takes part: the case is now their grant.
    joined = api.post(
        f"/api/cases/{case['id']}/members", headers=owner.headers, json={"userId": admin.id}
    )
    assert joined.status_code == 201, joined.text
    body = api.get(f"/api/cases/{case['id']}", headers=admin.headers).json()["data"]
    assert ([s["scanId"] for s in body["scans"]], body["hiddenScans"]) == ([malware, media], 0)
    assert api.get(f"/api/scan/{malware}/results", headers=admin.headers).status_code == 200
    timeline = api.get(f"/api/cases/{case['id']}/timeline", headers=admin.headers)
    assert secret_name in timeline.text
