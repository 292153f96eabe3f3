"""Media the analyzer tests make for themselves (nothing is copied from a dataset), a test CA
that signs C2PA manifests, and the way to the shared evaluation set."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import c2pa
import numpy as np
import pytest
import soundfile
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from PIL import Image

from veriscan.analyzers.base import MediaKind, MediaSample

REPO_ROOT = Path(__file__).resolve().parents[2]
MEDIA_EVAL = REPO_ROOT.parent / "shared" / "datasets" / "media-eval"
IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
KINDS = {
    "image": MediaKind.IMAGE,
    "metadata": MediaKind.IMAGE,
    "video": MediaKind.VIDEO,
    "audio": MediaKind.AUDIO,
}


def media_eval() -> Path:
    """The shared labelled set; its absence is a broken checkout, not a reason to skip."""
    if not (MEDIA_EVAL / "manifest.csv").is_file():
        pytest.fail(
            f"the media evaluation set is missing: expected {MEDIA_EVAL}/manifest.csv "
            "(the shared datasets folder beside the repository)"
        )
    return MEDIA_EVAL


def media_sample(path: Path, kind: MediaKind) -> MediaSample:
    data = path.read_bytes()
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return MediaSample(path, kind, mime, len(data), hashlib.sha256(data).hexdigest())


def write_mp4(
    path: Path,
    *,
    seconds: int = 2,
    fps: int = 25,
    size: tuple[int, int] = (320, 240),
    audio: bool = True,
    location: str | None = None,
    location_key: str = "location",
    faststart: bool = False,
) -> Path:
    """H.264 (+ mono AAC at 44.1 kHz); `location` is an ISO 6709 string, written as `©xyz`
    (key "location") or as an mdta key such as com.apple.quicktime.location.ISO6709."""
    flags = ("+faststart" if faststart else "") + (
        "+use_metadata_tags" if location_key != "location" else ""
    )
    width, height = size
    with av.open(str(path), "w", format="mp4", options={"movflags": flags} if flags else {}) as out:
        if location:
            out.metadata[location_key] = location
        video = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast"})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        sound = out.add_stream("aac", rate=44100, layout="mono") if audio else None
        for i in range(seconds * fps):
            pixels = np.zeros((height, width, 3), np.uint8)
            pixels[:, :, 0] = i * 5 % 255
            x = i * 4 % (width - 40)
            pixels[height // 2 - 20 : height // 2 + 20, x : x + 40] = 255  # a moving square
            out.mux(video.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        out.mux(video.encode(None))
        if sound is not None:
            t = np.arange(44100 * seconds) / 44100
            tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            for start in range(0, len(tone), 1024):
                frame = av.AudioFrame.from_ndarray(
                    tone[start : start + 1024].reshape(1, -1), format="fltp", layout="mono"
                )
                frame.sample_rate, frame.pts = 44100, start
                out.mux(sound.encode(frame))
            out.mux(sound.encode(None))
    return path


def write_wav(path: Path, *, seconds: float, rate: int, channels: int = 1) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    tone = 0.2 * np.sin(2 * np.pi * 330 * t)
    soundfile.write(path, np.stack([tone] * channels, axis=1), rate, subtype="PCM_16")
    return path


def image_bytes(fmt: str = "JPEG", size: tuple[int, int] = (64, 48), **save: Any) -> bytes:
    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, fmt, **save)
    return buffer.getvalue()


def gps_exif(latitude: float, longitude: float) -> Image.Exif:
    """EXIF with a GPS IFD in degrees/minutes/seconds rationals and N/S, E/W references."""

    def dms(value: float) -> tuple[float, float, float]:
        value = abs(value)
        degrees, minutes = int(value), int(value * 60 % 60)
        return float(degrees), float(minutes), round((value * 3600) % 60, 4)

    exif = Image.Exif()
    exif[0x0110] = "Test Camera"
    exif.get_ifd(0x8825).update(
        {
            1: "N" if latitude >= 0 else "S",
            2: dms(latitude),
            3: "E" if longitude >= 0 else "W",
            4: dms(longitude),
        }
    )
    return exif


@dataclass(frozen=True)
class TestCA:
    __test__ = False  # not a pytest class

    chain_pem: bytes  # signer certificate, then the CA
    key_pem: bytes
    ca_pem: bytes

    def signer(self) -> Any:
        info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, self.chain_pem, self.key_pem, None)
        return c2pa.Signer.from_info(info)


def make_test_ca() -> TestCA:
    """An ES256 CA and a signing certificate C2PA accepts: not a CA, digitalSignature key
    usage, and an extended key usage from C2PA's list (emailProtection here)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Veriscan Test CA")])
    ca = (
        _certificate(ca_name, ca_name, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "Veriscan Test Signer"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Veriscan tests"),
        ]
    )
    leaf = (
        _certificate(name, ca_name, key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return TestCA(leaf.public_bytes(pem) + ca.public_bytes(pem), key_pem, ca.public_bytes(pem))


def _certificate(
    subject: x509.Name, issuer: x509.Name, key: Any, now: dt.datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def created_manifest(source_type: str, agent: str | None = None) -> dict[str, Any]:
    action: dict[str, Any] = {"action": "c2pa.created", "digitalSourceType": IPTC + source_type}
    if agent:
        action["softwareAgent"] = {"name": agent}
    return {
        "claim_generator_info": [{"name": "veriscan-tests", "version": "1.0"}],
        "title": "fixture",
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [action]}}],
    }


def sign(
    data: bytes,
    mime: str,
    manifest: dict[str, Any],
    ca: TestCA,
    *,
    parent: bytes | None = None,
    remote_url: str | None = None,
) -> bytes:
    """Sign `data`; with `parent`, the manifest records that signed file as the ingredient
    the new one was opened from, and the store carries the parent's manifest too."""
    with c2pa.Builder(manifest) as builder:
        if parent is not None:
            ingredient = {"title": "parent", "relationship": "parentOf", "label": "parent"}
            builder.add_ingredient(ingredient, mime, io.BytesIO(parent))
        if remote_url is not None:
            builder.set_no_embed()
            builder.set_remote_url(remote_url)
        out = io.BytesIO()
        builder.sign(ca.signer(), mime, io.BytesIO(data), out)
    return out.getvalue()


def edited_manifest() -> dict[str, Any]:
    actions = [
        {"action": "c2pa.opened", "parameters": {"ingredientIds": ["parent"]}},
        {"action": "c2pa.color_adjustments"},
    ]
    return {
        "claim_generator_info": [{"name": "veriscan-tests", "version": "1.0"}],
        "assertions": [{"label": "c2pa.actions", "data": {"actions": actions}}],
    }
