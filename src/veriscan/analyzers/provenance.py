"""Provenance: C2PA Content Credentials, declared AI generation, and generator traces.

C2PA manifests are read offline with c2pa-python: remote manifests and OCSP are not fetched
(`verify.remote_manifest_fetch`, `verify.ocsp_fetch`) and the SDK's own HTTP layer is given
an empty allow-list (`core.allowed_network_hosts`), so reading a file never touches the
network. Trust is judged only against the anchors the operator configures.

`metadata["c2pa"]["state"]`, and how it maps to c2patool's words (valid / invalid / none):

- `trusted`: intact, and the signer chains to a configured trust anchor (c2pa "Trusted").
- `untrusted`: intact, but the signer is unknown (c2pa "Valid" with
  `signingCredential.untrusted`). Anyone can make such a certificate: it is never "trusted".
- `valid`: intact, with no trust verdict from the SDK (c2pa "Valid" without that code).
- `invalid`: the manifest fails validation (c2pa "Invalid"); `failures` lists the codes.
- `remote`: the file points to a manifest on a server; it was not fetched, so not checked.
- `none`: no manifest. `unsupported`: a format the SDK cannot look into.
  `unreadable`: the SDK could not parse the file (`error` says why).

trusted / untrusted / valid are c2patool's "valid"; invalid is "invalid"; none and
unsupported are "none". Findings (signal, decision):

- `c2pa`: evidence of a stated strength (`Finding.odds`, `C2PA_ODDS`): intact Content
  Credentials are evidence of authenticity, weak when the signer is on no trust list (anyone
  can make a certificate), stronger when it is; CAPTURED when a trusted signer's active
  manifest declares a capture (IPTC `digitalCapture` and kin). MANIPULATED when the active
  manifest's hashes or signature no longer match (`*.mismatch` codes: the file or its
  manifest changed after signing), which fusion reads as "changed after signing", never as
  a deepfake by itself. An intact manifest that declares a non-captured source (digital art,
  `algorithmicMedia`, a screen capture...) is no evidence of authenticity: it says so.
- `ai_declaration`: GENERATED when any manifest of the store (active or ingredient), or the
  file's XMP, declares the IPTC digital source type `trainedAlgorithmicMedia` or
  `compositeWithTrainedAlgorithmicMedia`.
- `generator_metadata`: GENERATED when the file carries the settings a known generator writes
  (AUTOMATIC1111, ComfyUI, NovelAI, InvokeAI, Fooocus, SwarmUI in PNG text or EXIF), or EXIF/XMP
  software naming one. Without either, `ai_declaration` has score None: absence proves nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import c2pa
from PIL import Image

from veriscan.analyzers.base import (
    Analyzer,
    AnalyzerFailed,
    Decision,
    Finding,
    MediaKind,
    MediaSample,
    Report,
)
from veriscan.analyzers.pictures import open_bounded

AI_SOURCE_TYPES = frozenset({"trainedalgorithmicmedia", "compositewithtrainedalgorithmicmedia"})
UNTRUSTED_CODE = "signingCredential.untrusted"
XMP_HEAD_BYTES = 4 * 1024 * 1024  # XMP sits in the first segments of images and most media
XMP_TAIL_BYTES = 512 * 1024  # ...or near the end (MP4 `moov`/`uuid` boxes written last)

# Known generators, matched in EXIF Software / XMP CreatorTool / PNG Software. Editors such
# as Photoshop or Lightroom are deliberately absent: editing is not generating.
KNOWN_GENERATORS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        ("Midjourney", r"midjourney"),
        ("DALL·E", r"\bdall[^a-z0-9]{0,3}e\b"),  # the dot is often mangled in EXIF ASCII
        ("Adobe Firefly", r"\bfirefly\b"),
        ("Stable Diffusion", r"stable[\s_-]?diffusion|\bsdxl\b"),
        ("AUTOMATIC1111", r"automatic1111"),
        ("ComfyUI", r"comfy\s?ui"),
        ("NovelAI", r"novel\s?ai"),
        ("InvokeAI", r"invoke\s?ai"),
        ("Fooocus", r"fooocus"),
        ("DreamStudio", r"dreamstudio"),
        ("Leonardo.Ai", r"leonardo\.ai"),
        ("Ideogram", r"\bideogram\b"),
        ("Google Imagen", r"\bimagen\s?\d?\b"),
        ("Bing Image Creator", r"bing image creator"),
        ("Craiyon", r"craiyon"),
        ("DiffusionBee", r"diffusionbee"),
        ("Draw Things", r"draw things"),
    )
)
_A1111_PARAMETERS = re.compile(r"(?:^|\n)Steps: \d+, Sampler: ")
_XMP_PACKET = re.compile(rb"<x:xmpmeta[\s>].{0,2000000}?</x:xmpmeta>", re.DOTALL)
_XMP_SOURCE_TYPE = re.compile(
    r"DigitalSourceType(?:\s*=\s*[\"']([^\"']+)[\"']|>\s*([^<\s]+)\s*<"
    r"|[^>]*?rdf:resource\s*=\s*[\"']([^\"']+)[\"'])",
    re.IGNORECASE,
)
_XMP_CREATOR_TOOL = re.compile(
    r"CreatorTool(?:\s*=\s*[\"']([^\"']+)[\"']|>\s*([^<]+?)\s*<)", re.IGNORECASE
)
# How much each outcome multiplies the odds that the file is synthetic or manipulated. These
# are stated assumptions, not measurements (no labelled set of signed media exists to fit them
# on): an intact manifest from an unknown signer says little, since anyone can make a
# certificate; a trusted signer's says more, and its declared capture most; hashes that no
# longer match say the bytes changed after signing, which re-saving does as well as forging.
# States not listed (none, remote, unreadable, unsupported) are no evidence either way.
C2PA_ODDS: dict[str, float] = {
    "tampered": 3.0,
    "ingredient_tampered": 1.5,
    "invalid": 1.5,
    "credential": 0.7,
    "untrusted": 0.7,
    "valid": 0.7,
    "trusted": 0.25,
    "captured": 0.05,
}
# IPTC digital source types that describe a capture of the real world.
CAPTURE_SOURCE_TYPES = frozenset(
    {"digitalcapture", "computationalcapture", "negativefilm", "positivefilm", "print"}
)
# ...and those that say the content was made, not captured (AI types are handled apart).
MADE_SOURCE_TYPES = frozenset(
    {
        "digitalart",
        "digitalcreation",
        "algorithmicmedia",
        "virtualrecording",
        "compositesynthetic",
        "datadrivenmedia",
        "screencapture",
    }
)
_REMOTE_URL = re.compile(r"https?://\S+")
# Failures about the certificate alone (expired, untrusted) say nothing about the content;
# a revoked certificate does (its key may be in other hands), so it is not in this list.
_CREDENTIAL_ONLY = ("signingCredential.untrusted", "signingCredential.expired", "timeStamp.")
_EXIF_IFD, _DESCRIPTION, _MAKE, _MODEL, _SOFTWARE, _USER_COMMENT = (
    0x8769, 0x010E, 0x010F, 0x0110, 0x0131, 0x9286,
)  # fmt: skip


@dataclass
class C2paFacts:
    state: str = "none"
    failures: list[str] = field(default_factory=list)
    tampered: list[str] = field(default_factory=list)  # *.mismatch codes of the active manifest
    ingredient_tampered: list[str] = field(default_factory=list)
    validation_state: str | None = None
    signer: str | None = None
    issuer: str | None = None
    claim_generator: str | None = None
    manifests: int = 0
    remote_url: str | None = None
    error: str | None = None
    store: dict[str, Any] = field(default_factory=dict)
    # The active manifest's actions (c2pa.created, c2pa.opened...) and its ingredients.
    actions: list[str] = field(default_factory=list)
    ingredients: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Declaration:
    source: str  # "c2pa" or "xmp"
    digital_source_type: str
    manifest: str | None = None
    active: bool = False
    software_agent: str | None = None


@dataclass(frozen=True)
class Trace:
    generator: str
    where: str  # "PNG text chunk 'parameters'", "EXIF Software", ...
    excerpt: str


class ProvenanceAnalyzer(Analyzer):
    name: ClassVar[str] = "provenance"
    kinds: ClassVar[frozenset[MediaKind]] = frozenset(
        {MediaKind.IMAGE, MediaKind.VIDEO, MediaKind.AUDIO}
    )

    def __init__(self, trust_anchors_pem: str | None = None) -> None:
        """`trust_anchors_pem`: root certificates (PEM bundle) whose signers count as trusted."""
        settings: dict[str, Any] = {
            "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
            "core": {"allowed_network_hosts": []},
        }
        if trust_anchors_pem:
            settings["trust"] = {"trust_anchors": trust_anchors_pem}
        self._settings_json = json.dumps(settings)

    def analyze(self, sample: MediaSample) -> Report:
        facts = read_c2pa(sample.path, self._settings_json)
        declarations = list(c2pa_declarations(facts.store))
        try:
            head, tail = _read_ends(sample.path)
        except OSError as exc:
            raise AnalyzerFailed(f"cannot read the file: {exc}") from exc
        xmp = _xmp_packets(head) + _xmp_packets(tail)
        traces: list[Trace] = []
        if sample.kind is MediaKind.IMAGE:
            xmp += _image_traces(sample.path, traces)
        declarations += _xmp_declarations(xmp)
        traces += _xmp_creator_tools(xmp)
        ai = [d for d in declarations if _is_ai(d.digital_source_type)]
        generator = next((t.generator for t in traces), None) or next(
            (d.software_agent for d in ai if d.software_agent), None
        )
        active_types = {_local(d.digital_source_type) for d in declarations if d.active}
        findings = [_c2pa_finding(facts, active_types), *_ai_findings(ai, traces)]
        metadata = {
            "c2pa": {
                "state": facts.state,
                "trusted": facts.state == "trusted",
                "validationState": facts.validation_state,
                "failures": facts.failures,
                "signer": facts.signer,
                "issuer": facts.issuer,
                "claimGenerator": facts.claim_generator,
                "manifests": facts.manifests,
                "actions": facts.actions,
                "ingredients": facts.ingredients,
                "remoteUrl": facts.remote_url,
                "error": facts.error,
            },
            "generator": generator,
            "aiDeclared": bool(ai or traces),
            "digitalSourceTypes": sorted({d.digital_source_type for d in declarations}),
        }
        return Report(self.name, findings, metadata)


def read_c2pa(path: Path, settings_json: str) -> C2paFacts:
    try:
        with c2pa.Context.from_json(settings_json) as context, path.open("rb") as stream:
            reader = c2pa.Reader.try_create(stream=stream, context=context)
            if reader is None:
                return C2paFacts(state="none")
            with reader:
                store = json.loads(reader.json())
    except OSError as exc:
        raise AnalyzerFailed(f"cannot read the file: {exc}") from exc
    except c2pa.C2paError as exc:
        message = str(exc)
        if isinstance(exc, c2pa.C2paError.NotSupported):
            return C2paFacts(state="unsupported", error=message)
        if message.startswith("Remote"):
            url = _REMOTE_URL.search(message)
            return C2paFacts(state="remote", remote_url=url and url.group(0), error=message)
        return C2paFacts(state="unreadable", error=message)
    return _facts_from_store(store)


def _facts_from_store(store: dict[str, Any]) -> C2paFacts:
    results = store.get("validation_results") or {}
    active = _codes((results.get("activeManifest") or {}).get("failure"))
    if not results:  # older stores: one flat list
        active = _codes(store.get("validation_status"))
    ingredient: list[str] = []
    for delta in results.get("ingredientDeltas") or []:
        ingredient += _codes((delta.get("validationDeltas") or {}).get("failure"))
    raw_state = store.get("validation_state")
    if raw_state == "Trusted":
        state = "trusted"
    elif raw_state == "Invalid" or (raw_state is None and set(active) - {UNTRUSTED_CODE}):
        state = "invalid"  # (stores without a state: judged by their failure codes)
    else:
        state = "untrusted" if UNTRUSTED_CODE in active else "valid"
    manifest = (store.get("manifests") or {}).get(store.get("active_manifest"), {})
    signature = manifest.get("signature_info") or {}
    return C2paFacts(
        state=state,
        failures=list(dict.fromkeys(active + ingredient)),
        tampered=[c for c in dict.fromkeys(active) if _is_tamper(c)],
        ingredient_tampered=[c for c in dict.fromkeys(ingredient) if _is_tamper(c)],
        validation_state=raw_state,
        signer=signature.get("common_name") or signature.get("issuer"),
        issuer=signature.get("issuer"),
        claim_generator=_claim_generator(manifest),
        manifests=len(store.get("manifests") or {}),
        store=store,
        actions=_actions(manifest),
        ingredients=_ingredients(manifest),
    )


def _actions(manifest: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    for assertion in manifest.get("assertions") or []:
        if not isinstance(assertion, dict):
            continue
        if not str(assertion.get("label", "")).startswith("c2pa.actions"):
            continue
        for action in (assertion.get("data") or {}).get("actions") or []:
            if isinstance(action, dict) and action.get("action"):
                found.append(str(action["action"])[:100])
    return found[:50]


def _ingredients(manifest: Mapping[str, Any]) -> list[dict[str, str]]:
    return [
        {
            "title": str(item.get("title") or "untitled")[:200],
            "relationship": str(item.get("relationship") or "componentOf")[:50],
        }
        for item in (manifest.get("ingredients") or [])[:50]
        if isinstance(item, dict)
    ]


def _codes(statuses: Any) -> list[str]:
    return [str(s["code"]) for s in statuses or [] if isinstance(s, dict) and s.get("code")]


def _is_tamper(code: str) -> bool:
    # Hash and signature mismatches: content or manifest bytes changed after signing.
    # A timestamp mismatch only says the time-stamp token does not cover this signature.
    return code.endswith(".mismatch") and not code.startswith("timeStamp.")


def _claim_generator(manifest: Mapping[str, Any]) -> str | None:
    if manifest.get("claim_generator"):
        return str(manifest["claim_generator"])
    for info in manifest.get("claim_generator_info") or []:
        if isinstance(info, dict) and info.get("name"):
            return " ".join(str(info[k]) for k in ("name", "version") if info.get(k))
    return None


def c2pa_declarations(store: Mapping[str, Any]) -> Iterator[Declaration]:
    """Every digitalSourceType in every manifest of the store, wherever the spec puts it
    (action entries, IPTC/metadata assertions, ingredients)."""
    active_label = store.get("active_manifest")
    for label, manifest in (store.get("manifests") or {}).items():
        for value, agent in _source_types(manifest, None):
            yield Declaration("c2pa", value, label, label == active_label, agent)


def _source_types(node: Any, agent: str | None) -> Iterator[tuple[str, str | None]]:
    if isinstance(node, dict):
        agent = _agent_name(node.get("softwareAgent")) or agent
        for key, value in node.items():
            local = str(key).rsplit(":", 1)[-1].replace("_", "").lower()
            if local == "digitalsourcetype":
                if isinstance(value, dict):
                    value = value.get("@id") or value.get("url") or value.get("uri")
                if isinstance(value, str) and value.strip():
                    yield value.strip(), agent
            else:
                yield from _source_types(value, agent)
    elif isinstance(node, list):
        for item in node:
            yield from _source_types(item, agent)


def _agent_name(agent: Any) -> str | None:
    if isinstance(agent, dict):
        agent = agent.get("name")
    return str(agent) if isinstance(agent, str) and agent else None


def _local(source_type: str) -> str:
    """The IPTC term without its namespace, lower case ("digitalcapture")."""
    return source_type.rstrip("/").rsplit("/", 1)[-1].lower()


def _is_ai(source_type: str) -> bool:
    return _local(source_type) in AI_SOURCE_TYPES


def _read_ends(path: Path) -> tuple[bytes, bytes]:
    with path.open("rb") as stream:
        head = stream.read(XMP_HEAD_BYTES)
        size = stream.seek(0, 2)
        if size <= XMP_HEAD_BYTES:
            return head, b""
        stream.seek(max(XMP_HEAD_BYTES, size - XMP_TAIL_BYTES))
        return head, stream.read()


def _xmp_packets(data: bytes) -> list[str]:
    return [m.group(0).decode("utf-8", "replace") for m in _XMP_PACKET.finditer(data)]


def _xmp_declarations(packets: list[str]) -> list[Declaration]:
    found: dict[str, Declaration] = {}
    for packet in packets:
        for match in _XMP_SOURCE_TYPE.finditer(packet):
            value = next(g for g in match.groups() if g).strip()
            found.setdefault(value, Declaration("xmp", value))
    return list(found.values())


def _xmp_creator_tools(packets: list[str]) -> list[Trace]:
    tools = {
        next(g for g in m.groups() if g) for p in packets for m in _XMP_CREATOR_TOOL.finditer(p)
    }
    return [Trace(name, "XMP CreatorTool", tool) for tool in tools if (name := _known(tool))]


def _known(text: str) -> str | None:
    return next((name for name, pattern in KNOWN_GENERATORS if pattern.search(text)), None)


def _image_traces(path: Path, traces: list[Trace]) -> list[str]:
    """Generator traces from Pillow's view of the image (text chunks, EXIF), appended to
    `traces`; returns XMP packets Pillow found that a raw byte scan misses (compressed iTXt)."""
    try:
        # Headers only: nothing is decoded here, so the pixel bound's reduction is moot.
        with open_bounded(path, "analyse") as opened:
            image = opened.image
            info = dict(image.info)
            # A PNG's EXIF may sit after the pixels, and Pillow would decode them to reach it;
            # generators write PNG text chunks instead, so only an early eXIf chunk is read.
            late_exif = image.format == "PNG" and "exif" not in info
            exif = Image.Exif() if late_exif else image.getexif()
            exif_ifd = dict(exif.get_ifd(_EXIF_IFD))
            base = dict(exif)
    except Exception:  # unreadable or damaged metadata: the other checks still run
        return []
    text = {str(k): v for k, v in info.items() if isinstance(v, str)}
    if trace := _png_text_trace(text):
        traces.append(trace)
    fields = {
        "EXIF Software": base.get(_SOFTWARE),
        "EXIF Make": base.get(_MAKE),
        "EXIF Model": base.get(_MODEL),
        "EXIF ImageDescription": base.get(_DESCRIPTION),
        "EXIF UserComment": exif_ifd.get(_USER_COMMENT),
    }
    for label, raw in fields.items():
        value = _exif_text(raw)
        name = _settings_generator(value) or (_known(value) if label == "EXIF Software" else None)
        if name:
            traces.append(Trace(name, label, value[:120]))
    packets = [info.get("XML:com.adobe.xmp"), info.get("xmp")]
    return [p.decode("utf-8", "replace") if isinstance(p, bytes) else p for p in packets if p]


def _png_text_trace(text: dict[str, str]) -> Trace | None:
    def found(generator: str, key: str) -> Trace:
        return Trace(generator, f"PNG text chunk '{key}'", text[key][:120])

    if "fooocus_scheme" in text:
        return found("Fooocus", "fooocus_scheme")
    for key in ("invokeai_metadata", "invokeai_graph", "sd-metadata", "Dream"):
        if key in text:
            return found("InvokeAI", key)
    for key in ("Software", "Source"):
        if text.get(key, "").lower().startswith("novelai"):
            return found("NovelAI", key)
    if "sui_image_params" in text:
        return found("SwarmUI", "sui_image_params")
    for key in ("prompt", "workflow"):
        if _is_comfy_graph(text.get(key)):
            return found("ComfyUI", key)
    if name := _settings_generator(text.get("parameters", "")):
        return found(name, "parameters")
    if name := _known(text.get("Software", "")):
        return found(name, "Software")
    return None


def _settings_generator(text: str) -> str | None:
    """The generator whose settings text this is, as written into PNG text or EXIF fields."""
    if text.startswith(("workflow:", "prompt:")):  # ComfyUI's WebP saver, in EXIF Make/Model
        return "ComfyUI"
    if "Fooocus" in text:  # Fooocus writes A1111-style or JSON parameters naming itself
        return "Fooocus"
    return "AUTOMATIC1111" if _A1111_PARAMETERS.search(text) else None


def _is_comfy_graph(value: str | None) -> bool:
    if not value or not value.lstrip().startswith("{"):
        return False
    try:
        graph = json.loads(value)
    except ValueError:
        return False
    if not isinstance(graph, dict):
        return False
    # A workflow lists its nodes; an API prompt maps node ids to nodes.
    nodes = graph["nodes"] if isinstance(graph.get("nodes"), list) else list(graph.values())
    return any(isinstance(n, dict) and ("class_type" in n or "type" in n) for n in nodes)


def _exif_text(value: Any) -> str:
    """EXIF strings; UserComment is bytes with an 8-byte charset prefix (UNICODE = UTF-16)."""
    if isinstance(value, str):
        return value.strip("\x00 ")
    if not isinstance(value, bytes):
        return ""
    prefix, body = value[:8], value[8:]
    if prefix == b"UNICODE\x00":
        # Writers disagree on the byte order; ASCII text has its zero bytes first in UTF-16BE.
        big_endian = body[:1] == b"\x00" and body[1:2] != b"\x00"
        return body.decode("utf-16-be" if big_endian else "utf-16-le", "replace").strip("\x00 ")
    if prefix in (b"ASCII\x00\x00\x00", b"\x00" * 8):
        return body.decode("latin-1").strip("\x00 ")
    return value.decode("utf-8", "replace").strip("\x00 ")


def _c2pa_finding(facts: C2paFacts, active_types: set[str] | None = None) -> Finding:
    active_types = active_types or set()
    outcome, codes, signer = facts.state, ", ".join(facts.failures), facts.signer
    if facts.state == "invalid" and facts.tampered:
        outcome = "tampered"
    elif facts.state == "invalid" and facts.ingredient_tampered:
        outcome = "ingredient_tampered"
    elif facts.state == "invalid" and all(c.startswith(_CREDENTIAL_ONLY) for c in facts.failures):
        outcome = "credential"  # e.g. an old camera certificate since expired: content intact
    elif facts.state == "trusted" and active_types & CAPTURE_SOURCE_TYPES:
        outcome = "captured"
    unchecked, tampered = "so they were not checked", ", ".join(facts.tampered)
    summary = {
        "tampered": f"The Content Credentials no longer match the file ({tampered}): "
        "the file or its manifest was changed after signing.",
        "ingredient_tampered": f"An earlier version's Content Credentials were altered ({codes}).",
        "credential": f"Intact Content Credentials; the signing certificate fails ({codes}): "
        "weak evidence of authenticity.",
        "invalid": f"The Content Credentials fail validation ({codes}).",
        "captured": f"Intact Content Credentials from a trusted signer ({signer}) declare a "
        "capture by a device: positive evidence of authenticity.",
        "trusted": f"Intact Content Credentials signed by a trusted signer ({signer}).",
        "untrusted": f"Intact Content Credentials, but the signer ({signer}) is on no trust list: "
        "they say who signed, not that the signer is who it claims to be, so they are weak "
        "evidence of authenticity.",
        "valid": f"Intact Content Credentials signed by {signer}; trust was not assessed, so "
        "they are weak evidence of authenticity.",
        "remote": f"The file points to Content Credentials on a server; {unchecked} (offline).",
        "unreadable": f"The file could not be parsed for Content Credentials; {unchecked}.",
        "unsupported": "Content Credentials cannot be read from this file format.",
        "none": "No Content Credentials (C2PA). Most media carries none: this proves nothing.",
    }[outcome]
    odds = C2PA_ODDS.get(outcome)
    made = sorted(active_types & MADE_SOURCE_TYPES)
    if odds is not None and odds < 1 and made and not active_types & CAPTURE_SOURCE_TYPES:
        # Intact, but the manifest itself says the content was made, not captured.
        odds = 1.0
        summary = (
            f"Intact Content Credentials ({signer}) declare the content as {', '.join(made)}: "
            "made with software, not captured, so they are no evidence of authenticity."
        )
    # Shown in the scan's signals as a suspicion; fusion reads the odds, not this.
    score = None if odds is None else round(odds / (1 + odds), 3)
    decision = {"tampered": Decision.MANIPULATED, "captured": Decision.CAPTURED}.get(outcome)
    details: dict[str, Any] = {
        "state": facts.state,
        "outcome": outcome,
        "failures": facts.failures,
    }
    details |= {"signer": signer, "error": facts.error, "odds": odds}
    return Finding("c2pa", score, 0.0, summary, details, decision, odds=odds)


def _ai_findings(ai: list[Declaration], traces: list[Trace]) -> list[Finding]:
    findings = []
    if ai:
        where = "its C2PA manifest" if any(d.source == "c2pa" for d in ai) else "its XMP metadata"
        summary = f"The file declares itself AI-generated in {where} ({_short(ai[0])})."
        declared = {"declarations": [asdict(d) for d in ai]}
        findings.append(Finding("ai_declaration", 0.99, 1.0, summary, declared, Decision.GENERATED))
    if traces:
        first = traces[0]
        summary = f"The file carries {first.generator} generator metadata ({first.where})."
        details = {"generator": first.generator, "traces": [asdict(t) for t in traces]}
        findings.append(
            Finding("generator_metadata", 0.95, 0.9, summary, details, Decision.GENERATED)
        )
    if not findings:
        summary = (
            "No AI-generation declaration or generator metadata found. Absence proves nothing: "
            "such metadata is easily stripped and many tools never write it."
        )
        findings.append(Finding("ai_declaration", None, 0.0, summary))
    return findings


def _short(declaration: Declaration) -> str:
    return declaration.digital_source_type.rstrip("/").rsplit("/", 1)[-1]
