"""ProvenanceAnalyzer on files the tests sign with their own CA, generator-metadata fixtures
written with Pillow, and the shared evaluation set."""

from __future__ import annotations

import csv
import io
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import c2pa
import pytest
from PIL import Image, PngImagePlugin

from tests.analyzers.fixtures import (
    IPTC,
    KINDS,
    TestCA,
    created_manifest,
    edited_manifest,
    image_bytes,
    make_test_ca,
    media_eval,
    media_sample,
    sign,
    write_mp4,
    write_wav,
)
from veriscan.analyzers.base import Decision, Finding, MediaKind, Report
from veriscan.analyzers.provenance import ProvenanceAnalyzer

ANALYZER = ProvenanceAnalyzer()
# How c2patool's words in the set's manifest map onto the analyzer's states.
DATASET_STATES = {
    "valid": {"trusted", "untrusted", "valid"},
    "invalid": {"invalid"},
    "none": {"none", "unsupported"},
}


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return make_test_ca()


def analyze(path: Path, data: bytes, kind: MediaKind = MediaKind.IMAGE, **kw: Any) -> Report:
    path.write_bytes(data)
    analyzer = ProvenanceAnalyzer(**kw) if kw else ANALYZER
    report = analyzer.analyze(media_sample(path, kind))
    json.dumps(report.metadata)  # stored as JSON: must serialise as it is
    return report


def finding(report: Report, signal: str) -> Finding:
    (match,) = [f for f in report.findings if f.signal == signal]
    return match


def decisions(report: Report) -> set[Decision]:
    return {f.decision for f in report.findings if f.decision is not None}


def test_signed_ai_declaration_from_an_untrusted_signer(tmp_path: Path, ca: TestCA) -> None:
    manifest = created_manifest("trainedAlgorithmicMedia", agent="TestDiffusion 2")
    signed = sign(image_bytes("JPEG"), "image/jpeg", manifest, ca)

    report = analyze(tmp_path / "ai.jpg", signed)

    c2pa_meta = report.metadata["c2pa"]
    # c2pa-python says "Valid"; the untrusted signer must not come out as trusted.
    assert c2pa_meta["validationState"] == "Valid"
    assert c2pa_meta["state"] == "untrusted"
    assert c2pa_meta["trusted"] is False
    assert c2pa_meta["failures"] == ["signingCredential.untrusted"]
    assert c2pa_meta["signer"] == "Veriscan Test Signer"
    assert c2pa_meta["issuer"] == "Veriscan tests"
    assert c2pa_meta["claimGenerator"] == "veriscan-tests 1.0"
    assert c2pa_meta["manifests"] == 1
    assert c2pa_meta["actions"] == ["c2pa.created"]
    assert c2pa_meta["ingredients"] == []
    assert report.metadata["aiDeclared"] is True
    assert report.metadata["generator"] == "TestDiffusion 2"
    assert report.metadata["digitalSourceTypes"] == [IPTC + "trainedAlgorithmicMedia"]
    declared = finding(report, "ai_declaration")
    assert declared.decision is Decision.GENERATED
    assert declared.score is not None and declared.score >= 0.95
    assert declared.details["declarations"][0]["active"] is True
    assert finding(report, "c2pa").decision is None
    assert "trust" in finding(report, "c2pa").summary


def test_composite_with_ai_in_a_png(tmp_path: Path, ca: TestCA) -> None:
    manifest = created_manifest("compositeWithTrainedAlgorithmicMedia")
    signed = sign(image_bytes("PNG"), "image/png", manifest, ca)

    report = analyze(tmp_path / "composite.png", signed)

    assert report.metadata["aiDeclared"] is True
    assert decisions(report) == {Decision.GENERATED}


@pytest.mark.parametrize(
    ("mime", "kind", "make"),
    [
        ("audio/wav", MediaKind.AUDIO, lambda p: write_wav(p, seconds=0.5, rate=8000)),
        ("video/mp4", MediaKind.VIDEO, lambda p: write_mp4(p, seconds=1, audio=False)),
    ],
    ids=["wav", "mp4"],
)
def test_ai_declaration_in_audio_and_video(
    tmp_path: Path, ca: TestCA, mime: str, kind: MediaKind, make: Any
) -> None:
    source = make(tmp_path / f"source.{mime.split('/')[1]}").read_bytes()
    signed = sign(source, mime, created_manifest("trainedAlgorithmicMedia"), ca)

    report = analyze(tmp_path / "signed", signed, kind)

    assert report.metadata["c2pa"]["state"] == "untrusted"
    assert decisions(report) == {Decision.GENERATED}


def test_capture_declaration_is_not_ai(tmp_path: Path, ca: TestCA) -> None:
    signed = sign(image_bytes("JPEG"), "image/jpeg", created_manifest("digitalCapture"), ca)

    report = analyze(tmp_path / "photo.jpg", signed)

    assert report.metadata["aiDeclared"] is False
    assert report.metadata["generator"] is None
    assert report.metadata["digitalSourceTypes"] == [IPTC + "digitalCapture"]
    assert decisions(report) == set()
    absent = finding(report, "ai_declaration")
    assert absent.score is None and absent.weight == 0.0
    assert "proves nothing" in absent.summary


def test_declaration_in_an_ingredient_manifest_counts(tmp_path: Path, ca: TestCA) -> None:
    parent = sign(
        image_bytes("JPEG"), "image/jpeg", created_manifest("trainedAlgorithmicMedia"), ca
    )
    child = sign(parent, "image/jpeg", edited_manifest(), ca, parent=parent)

    report = analyze(tmp_path / "edited.jpg", child)

    assert report.metadata["c2pa"]["manifests"] == 2
    # The active manifest: what was done, and from what.
    assert report.metadata["c2pa"]["actions"] == ["c2pa.opened", "c2pa.color_adjustments"]
    assert report.metadata["c2pa"]["ingredients"] == [
        {"title": "parent", "relationship": "parentOf"}
    ]
    declared = finding(report, "ai_declaration")
    assert declared.decision is Decision.GENERATED
    assert [d["active"] for d in declared.details["declarations"]] == [False]


def test_trusted_only_with_the_operators_anchor(tmp_path: Path, ca: TestCA) -> None:
    signed = sign(image_bytes("JPEG"), "image/jpeg", created_manifest("digitalCapture"), ca)

    report = analyze(tmp_path / "photo.jpg", signed, trust_anchors_pem=ca.ca_pem.decode())

    assert report.metadata["c2pa"]["state"] == "trusted"
    assert report.metadata["c2pa"]["trusted"] is True
    assert report.metadata["c2pa"]["failures"] == []
    # A trusted signer declaring a capture: the one positive attestation of authenticity.
    captured = finding(report, "c2pa")
    assert (captured.decision, captured.odds) == (Decision.CAPTURED, 0.05)
    assert captured.details["outcome"] == "captured"
    assert "positive evidence of authenticity" in captured.summary
    other_ca = make_test_ca()
    elsewhere = analyze(tmp_path / "b.jpg", signed, trust_anchors_pem=other_ca.ca_pem.decode())
    assert elsewhere.metadata["c2pa"]["state"] == "untrusted"
    weak = finding(elsewhere, "c2pa")
    assert (weak.decision, weak.odds, weak.weight) == (None, 0.7, 0.0)
    assert "weak evidence of authenticity" in weak.summary


@pytest.mark.parametrize(
    ("source_type", "anchored", "odds", "outcome"),
    [
        ("digitalArt", True, 1.0, "trusted"),  # trusted, but made, not captured
        ("algorithmicMedia", False, 1.0, "untrusted"),
        ("compositeCapture", True, 0.25, "trusted"),  # trusted, no capture declared
        ("computationalCapture", True, 0.05, "captured"),
    ],
)
def test_what_intact_credentials_are_worth_follows_the_declared_source(
    tmp_path: Path, ca: TestCA, source_type: str, anchored: bool, odds: float, outcome: str
) -> None:
    signed = sign(image_bytes("JPEG"), "image/jpeg", created_manifest(source_type), ca)
    anchors = ca.ca_pem.decode() if anchored else None

    report = analyze(tmp_path / "picture.jpg", signed, trust_anchors_pem=anchors)

    c2pa_finding = finding(report, "c2pa")
    assert (c2pa_finding.odds, c2pa_finding.details["outcome"]) == (odds, outcome)
    if odds == 1.0:
        assert c2pa_finding.summary.endswith(
            "made with software, not captured, so they are no evidence of authenticity."
        )
        assert source_type.lower() in c2pa_finding.summary


def test_pixels_changed_after_signing_is_manipulated(tmp_path: Path, ca: TestCA) -> None:
    signed = bytearray(
        sign(image_bytes("JPEG", (128, 128)), "image/jpeg", created_manifest("digitalCapture"), ca)
    )
    # The entropy-coded pixels are the last part of the file, after the manifest segments.
    for offset in range(len(signed) - 300, len(signed) - 280):
        signed[offset] ^= 0x5A

    report = analyze(tmp_path / "tampered.jpg", bytes(signed))

    c2pa_meta = report.metadata["c2pa"]
    assert c2pa_meta["state"] == "invalid"
    assert "assertion.dataHash.mismatch" in c2pa_meta["failures"]
    assert "signingCredential.untrusted" in c2pa_meta["failures"]
    tampered = finding(report, "c2pa")
    # Changed after signing: evidence of a change (odds x3), never a deepfake by itself.
    assert (tampered.decision, tampered.odds, tampered.score) == (Decision.MANIPULATED, 3.0, 0.75)
    assert tampered.weight == 0.0
    assert "changed after signing" in tampered.summary


@pytest.fixture
def listener() -> Iterator[tuple[str, list[bytes]]]:
    """A local HTTP-ish endpoint that records every connection made to it."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    hits: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(1)
                hits.append(conn.recv(4096))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/manifest.c2pa", hits
    stop.set()
    thread.join(timeout=5)
    server.close()


def test_remote_manifest_is_never_fetched(
    tmp_path: Path, ca: TestCA, listener: tuple[str, list[bytes]]
) -> None:
    url, hits = listener
    signed = sign(
        image_bytes("JPEG"), "image/jpeg", created_manifest("digitalCapture"), ca, remote_url=url
    )

    report = analyze(tmp_path / "remote.jpg", signed)

    assert report.metadata["c2pa"]["state"] == "remote"
    assert report.metadata["c2pa"]["remoteUrl"] == url
    assert finding(report, "c2pa").score is None
    assert hits == []
    # The check has teeth: the SDK's defaults would have gone to the network for it.
    with pytest.raises(c2pa.C2paError), c2pa.Context() as context:
        c2pa.Reader.try_create(stream=io.BytesIO(signed), context=context)
    assert len(hits) == 1 and b"GET /manifest.c2pa" in hits[0]


@pytest.mark.parametrize(
    ("content", "state"),
    [(b"not media at all" * 64, "unsupported"), (image_bytes("JPEG")[:500], "unreadable")],
)
def test_unreadable_files_are_reported_not_raised(
    tmp_path: Path, content: bytes, state: str
) -> None:
    report = analyze(tmp_path / "file", content)

    assert report.metadata["c2pa"]["state"] == state
    assert report.metadata["c2pa"]["error"]
    assert finding(report, "c2pa").score is None


def test_unsigned_media_has_no_credentials(tmp_path: Path) -> None:
    report = analyze(tmp_path / "clip.mp4", write_mp4(tmp_path / "src.mp4").read_bytes())

    assert report.metadata["c2pa"]["state"] == "none"
    assert report.metadata["aiDeclared"] is False
    assert all(f.score is None for f in report.findings)


def _png(text: dict[str, str], compressed: bool = False) -> bytes:
    info = PngImagePlugin.PngInfo()
    for key, value in text.items():
        info.add_text(key, value, zip=compressed)
    return image_bytes("PNG", pnginfo=info)


A1111 = "a red fox\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 42"
COMFY_PROMPT = {"3": {"class_type": "KSampler", "inputs": {"seed": 1, "steps": 20}}}
COMFY_WORKFLOW = {"last_node_id": 9, "nodes": [{"id": 3, "type": "KSampler"}]}
PNG_GENERATORS = [
    ("AUTOMATIC1111", {"parameters": A1111}),
    ("ComfyUI", {"prompt": json.dumps(COMFY_PROMPT), "workflow": json.dumps(COMFY_WORKFLOW)}),
    ("ComfyUI", {"workflow": json.dumps(COMFY_WORKFLOW)}),
    (
        "NovelAI",
        {
            "Software": "NovelAI",
            "Source": "NovelAI Diffusion V3 4BDE2A90",
            "Comment": json.dumps({"prompt": "a fox", "steps": 28, "sampler": "k_euler"}),
        },
    ),
    ("InvokeAI", {"invokeai_metadata": json.dumps({"generation_mode": "txt2img"})}),
    ("InvokeAI", {"sd-metadata": json.dumps({"model": "stable diffusion"})}),
    ("InvokeAI", {"Dream": '"a fox" -s 50 -S 42 -W 512 -H 512'}),
    (
        "Fooocus",
        {
            "parameters": json.dumps({"Prompt": "a fox", "Version": "Fooocus v2.5.0"}),
            "fooocus_scheme": "fooocus",
        },
    ),
    ("Fooocus", {"parameters": A1111 + ", Version: Fooocus v2.5.0"}),
    ("SwarmUI", {"sui_image_params": json.dumps({"prompt": "a fox", "steps": 20})}),
]


@pytest.mark.parametrize("compressed", [False, True], ids=["tEXt", "zTXt"])
@pytest.mark.parametrize(("generator", "text"), PNG_GENERATORS)
def test_png_generator_text_chunks(
    tmp_path: Path, generator: str, text: dict[str, str], compressed: bool
) -> None:
    report = analyze(tmp_path / "gen.png", _png(text, compressed))

    assert report.metadata["generator"] == generator
    assert report.metadata["aiDeclared"] is True
    traced = finding(report, "generator_metadata")
    assert traced.decision is Decision.GENERATED
    assert traced.details["generator"] == generator


@pytest.mark.parametrize(
    "text",
    [
        {"prompt": "a holiday photo caption"},  # plain text, not a ComfyUI graph
        {"Software": "Adobe Photoshop 25.0 (Windows)", "Comment": "{}"},
        {"parameters": "exposure +0.3, contrast 10"},
    ],
)
def test_png_text_that_is_not_a_generator(tmp_path: Path, text: dict[str, str]) -> None:
    report = analyze(tmp_path / "plain.png", _png(text))

    assert report.metadata["generator"] is None
    assert report.metadata["aiDeclared"] is False


@pytest.mark.parametrize(
    ("software", "generator"),
    [
        ("Midjourney v6", "Midjourney"),
        ("DALL·E 3", "DALL·E"),
        ("Adobe Firefly", "Adobe Firefly"),
        ("Stable Diffusion XL", "Stable Diffusion"),
        ("Adobe Photoshop 25.0 (Macintosh)", None),
        ("GIMP 2.10", None),
    ],
)
def test_exif_software(tmp_path: Path, software: str, generator: str | None) -> None:
    exif = Image.Exif()
    exif[0x0131] = software

    report = analyze(tmp_path / "soft.jpg", image_bytes("JPEG", exif=exif))

    assert report.metadata["generator"] == generator
    assert report.metadata["aiDeclared"] is (generator is not None)


@pytest.mark.parametrize("encoding", ["utf-16-be", "utf-16-le"])
def test_exif_user_comment_a1111(tmp_path: Path, encoding: str) -> None:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = b"UNICODE\x00" + A1111.encode(encoding)

    report = analyze(tmp_path / "a1111.jpg", image_bytes("JPEG", exif=exif))

    assert report.metadata["generator"] == "AUTOMATIC1111"
    assert finding(report, "generator_metadata").details["traces"][0]["where"] == (
        "EXIF UserComment"
    )


def test_comfyui_webp_exif(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x010F] = "workflow:" + json.dumps(COMFY_WORKFLOW)

    report = analyze(tmp_path / "comfy.webp", image_bytes("WEBP", exif=exif))

    assert report.metadata["generator"] == "ComfyUI"


def _xmp(body: str) -> bytes:
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" '
        'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
        f'xmlns:xmp="http://ns.adobe.com/xap/1.0/" {body}</rdf:Description>'
        "</rdf:RDF></x:xmpmeta>"
    ).encode()


AI_URI = IPTC + "trainedAlgorithmicMedia"
XMP_FORMS = {
    "attribute": f'Iptc4xmpExt:DigitalSourceType="{AI_URI}">',
    "element": f"><Iptc4xmpExt:DigitalSourceType>{AI_URI}</Iptc4xmpExt:DigitalSourceType>",
    "resource": f'><Iptc4xmpExt:DigitalSourceType rdf:resource="{AI_URI}"/>',
}


@pytest.mark.parametrize("form", list(XMP_FORMS))
@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
def test_xmp_digital_source_type(tmp_path: Path, form: str, fmt: str) -> None:
    data = image_bytes(fmt, xmp=_xmp(XMP_FORMS[form]))

    report = analyze(tmp_path / "xmp", data)

    assert report.metadata["aiDeclared"] is True
    assert report.metadata["digitalSourceTypes"] == [AI_URI]
    declared = finding(report, "ai_declaration")
    assert declared.decision is Decision.GENERATED
    assert declared.details["declarations"][0]["source"] == "xmp"
    assert report.metadata["c2pa"]["state"] == "none"


def test_xmp_in_a_compressed_png_chunk(tmp_path: Path) -> None:
    # A raw byte scan cannot see inside a compressed iTXt chunk; Pillow's view can.
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", _xmp(XMP_FORMS["element"]).decode(), zip=True)

    report = analyze(tmp_path / "xmp.png", image_bytes("PNG", pnginfo=info))

    assert report.metadata["aiDeclared"] is True


def test_xmp_capture_and_creator_tool(tmp_path: Path) -> None:
    body = (
        f'Iptc4xmpExt:DigitalSourceType="{IPTC}digitalCapture" '
        'xmp:CreatorTool="Adobe Photoshop Lightroom Classic 13.0">'
    )
    report = analyze(tmp_path / "photo.jpg", image_bytes("JPEG", xmp=_xmp(body)))

    assert report.metadata["aiDeclared"] is False
    assert report.metadata["digitalSourceTypes"] == [IPTC + "digitalCapture"]
    midjourney = _xmp('xmp:CreatorTool="Midjourney">')
    report = analyze(tmp_path / "mj.jpg", image_bytes("JPEG", xmp=midjourney))
    assert report.metadata["generator"] == "Midjourney"


def test_shared_set_c2pa_states_and_declarations() -> None:
    """Every file of the evaluation set, the provenance/ and metadata/ folders included:
    the C2PA state matches `expected_c2pa_state`, `aiDeclared` matches `declared_ai`."""
    root = media_eval()
    with (root / "manifest.csv").open(newline="") as manifest:
        rows = list(csv.DictReader(manifest))
    folders = {row["file"].split("/")[0] for row in rows}
    assert {"provenance", "metadata"} <= folders
    mismatches = []
    for row in rows:
        report = ANALYZER.analyze(media_sample(root / row["file"], KINDS[row["modality"]]))
        state = report.metadata["c2pa"]["state"]
        declared = report.metadata["aiDeclared"]
        if state not in DATASET_STATES[row["expected_c2pa_state"]] or declared != (
            row["declared_ai"] == "yes"
        ):
            mismatches.append((row["file"], row["expected_c2pa_state"], state, declared))
        assert state != "trusted", "nothing in the set is signed by a trusted signer"
    assert mismatches == []
