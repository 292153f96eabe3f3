"""Facts about a media file, read from its headers: codec, bitrate, resolution, duration, fps,
container format, audio sample rate and channels, and GPS coordinates.

`Report.metadata` always carries the same keys; a fact the file does not state is `None`,
never a guess:

- `codec` (str): the main stream's codec, FFmpeg's canonical name (`h264`, `aac`, `mp3`);
  for still images Pillow's format (`jpeg`, `png`, `webp`).
- `bitrate` (str): bits per second of the whole file, as the API document writes it (`"5000"`).
- `resolution` (str): `"WxH"` of the stored picture (rotation flags are not applied).
- `duration` (float, seconds), `fps` (float): video and audio only; a still image has neither.
- `format` (str): the container (`mp4`, `mov`, `matroska`, `wav`, `jpeg`, `heic`...).
- `sampleRate` (int, Hz), `channels` (int): the main audio stream, in audio and video files.
- `audioCodec` (str): the audio stream's codec in a video file.
- `gpsCoordinates`: `{"latitude", "longitude"}` in decimal degrees, from EXIF (images) or the
  MP4/QuickTime ISO 6709 location tags (`©xyz`, `com.apple.quicktime.location.ISO6709`).

Video is only probed, never decoded: the container's headers plus, where a file can be
truncated without its headers noticing, the last second of packets (demuxed, not decoded).
A file that cannot be parsed, or whose data stops short of what its headers declare, raises
`AnalyzerFailed`. There are no findings: these are facts, not judgements.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import av
from PIL import Image, UnidentifiedImageError

from veriscan.analyzers import animation
from veriscan.analyzers.base import (
    AV_OPTIONS,
    MAX_FRAME_PIXELS,
    MAX_SAMPLE_RATE,
    Analyzer,
    AnalyzerFailed,
    MediaKind,
    MediaSample,
    Report,
)
from veriscan.analyzers.pictures import open_bounded

METADATA_KEYS = (
    "codec",
    "bitrate",
    "resolution",
    "duration",
    "fps",
    "format",
    "sampleRate",
    "channels",
    "audioCodec",
    "gpsCoordinates",
    # A picture's camera, from EXIF: make, model, lens, captured (its own clock, as
    # written), software; None when the file says none of them.
    "camera",
)

_GPS_IFD = 0x8825
# Containers whose duration comes from an index or header rather than from the data, so a cut
# file still declares its full length; for these the end of the data is checked.
_INDEXED_FORMATS = ("mov", "mp4", "m4a", "3gp", "matroska", "webm", "avi")
_TAIL_PACKET_LIMIT = 20_000
# How far short of the declared duration the media data may end: max(0.1 s, 1 %). In all 22
# audio and video files of media-eval (the check runs on its 8 MP4s) the data ends at or past
# the declared duration; a 2 s clip cut at 90 % ends 0.2 s early.
_END_SLACK_SECONDS = 0.1
_END_SLACK_FRACTION = 0.01
_ISO6709 = re.compile(r"^\s*([+-]\d+(?:\.\d*)?)([+-]\d+(?:\.\d*)?)")
_LOCATION_KEYS = ("location", "com.apple.quicktime.location.iso6709", "©xyz", "xyz")
# FFmpeg's codecs for the picture formats Pillow reads itself, with the names users know.
_PILLOW_CODECS = {
    "mjpeg": "JPEG",
    "png": "PNG",
    "apng": "PNG",
    "gif": "GIF",
    "tiff": "TIFF",
    "bmp": "BMP",
    "webp": "WebP",
}


class MetadataAnalyzer(Analyzer):
    name: ClassVar[str] = "metadata"
    kinds: ClassVar[frozenset[MediaKind]] = frozenset(
        {MediaKind.IMAGE, MediaKind.VIDEO, MediaKind.AUDIO}
    )
    timeout: float = 30.0

    def analyze(self, sample: MediaSample) -> Report:
        if sample.kind is MediaKind.IMAGE:
            facts = _probe_image(sample.path)
        elif sample.kind is MediaKind.VIDEO and animation.is_animated(sample.path):
            facts = _probe_animation(sample.path)
        else:
            facts = _probe_av(sample.path, sample.kind)
        return Report(self.name, metadata=facts)


def _empty_facts() -> dict[str, Any]:
    return dict.fromkeys(METADATA_KEYS)


def _probe_image(path: Path) -> dict[str, Any]:
    facts = _empty_facts()
    try:
        # Reading the pixels is the only way to learn that an image is cut short. A JPEG is
        # decoded at 1/8 scale (draft), which still reads every byte of scan data.
        with open_bounded(path, "analyse", least_reduction=8) as opened:
            image = opened.image
            # MPO (phones, some cameras) is a JPEG with further pictures appended.
            fmt = "jpeg" if image.format == "MPO" else (image.format or "").lower()
            if fmt == "heif":  # libheif says HEIF for every brand; HEVC-coded is HEIC
                fmt = _heif_name(path)
            width, height = opened.size
            gps = _exif_gps(image)
            camera = _exif_camera(image)
            image.load()
    except UnidentifiedImageError:
        # HEIC and other formats Pillow cannot read: FFmpeg knows their headers.
        facts = _probe_av(path, MediaKind.IMAGE)
        if facts["codec"] in _PILLOW_CODECS:
            # A format Pillow reads, yet Pillow could not even identify it: the file is
            # damaged. FFmpeg's image demuxers only look at the first bytes.
            name = _PILLOW_CODECS[facts["codec"]]
            raise AnalyzerFailed(
                f"image is corrupt or truncated: not a readable {name} file"
            ) from None
        return facts
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
        raise AnalyzerFailed(f"image is corrupt or truncated: {exc}") from exc
    facts.update(
        codec=fmt,
        format=fmt,
        resolution=f"{width}x{height}",
        gpsCoordinates=gps,
        camera=camera,
    )
    return facts


# EXIF tags: in the main IFD, and in the Exif sub-IFD (0x8769).
_MAIN_TAGS = {"make": 0x010F, "model": 0x0110, "software": 0x0131, "captured": 0x0132}
_EXIF_TAGS = {"captured": 0x9003, "lens": 0xA434}
_EXIF_IFD = 0x8769


def _exif_camera(image: Image.Image) -> dict[str, str] | None:
    """Make, model, lens, capture time and software, as the picture's EXIF states them."""
    try:
        exif = image.getexif()
        sub = exif.get_ifd(_EXIF_IFD)
    except Exception:  # a broken EXIF block says nothing; the picture is still analysed
        return None
    found: dict[str, str] = {}
    for name, tag in _MAIN_TAGS.items():
        found[name] = _exif_text(exif.get(tag))
    for name, tag in _EXIF_TAGS.items():  # the original capture time wins over DateTime
        found[name] = _exif_text(sub.get(tag)) or found.get(name, "")
    camera = {name: value for name, value in found.items() if value}
    return camera or None


def _exif_text(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return ""
    return value.replace("\x00", "").strip()[:200]


def _probe_animation(path: Path) -> dict[str, Any]:
    """An animated GIF, WebP or APNG: its frames' facts, as for a video."""
    facts = _empty_facts()
    found = animation.facts(path)  # a damaged file: AnalyzerFailed with the reason
    facts.update({k: v for k, v in found.items() if k in facts})
    return facts


def _heif_name(path: Path) -> str:
    """heic or avif (by the ftyp box's major brand, as for FFmpeg-probed files), else heif."""
    with path.open("rb") as stream:
        head = stream.read(12)
    brand = head[8:12].decode("latin-1").lower() if head[4:8] == b"ftyp" else ""
    if brand in ("heic", "heix", "heim", "heis", "hevc", "hevx"):
        return "heic"
    return "avif" if brand in ("avif", "avis") else "heif"


def _probe_av(path: Path, kind: MediaKind) -> dict[str, Any]:
    facts = _empty_facts()
    try:
        container = av.open(str(path), metadata_errors="replace", options=AV_OPTIONS)
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
        reason = _reason(exc)
        raise AnalyzerFailed(f"not a readable media file (corrupt or truncated): {reason}") from exc
    with container:
        video = _main_stream(container.streams.video)
        audio = _main_stream(container.streams.audio)
        if video is None and audio is None:
            raise AnalyzerFailed("the file has no audio or video stream")
        main = audio if kind is MediaKind.AUDIO and audio is not None else video or audio
        _check_declared(kind, video, audio)
        codecs = [_codec_name(s) for s in (video, audio) if s is not None]
        facts["codec"] = _codec_name(main)
        facts["format"] = _format_name(container, codecs)
        if video is not None and video.codec_context.width and video.codec_context.height:
            facts["resolution"] = f"{video.codec_context.width}x{video.codec_context.height}"
        if audio is not None:
            facts["sampleRate"] = audio.codec_context.sample_rate or None
            facts["channels"] = audio.codec_context.layout.nb_channels or None
            if main is not audio:
                facts["audioCodec"] = _codec_name(audio)
        facts["gpsCoordinates"] = _tag_gps(
            [container.metadata, *(s.metadata for s in container.streams)]
        )
        if kind is MediaKind.IMAGE:
            # FFmpeg's image demuxers report a made-up 25 fps and 0.04 s for a still picture.
            return facts
        duration = _duration(container, [s for s in (video, audio) if s is not None])
        facts["duration"] = None if duration is None else round(duration, 3)
        if video is not None and kind is MediaKind.VIDEO:
            # Only the measured average: FFmpeg's guess is the time base when there are no frames.
            rate = video.average_rate
            facts["fps"] = round(float(rate), 3) if rate else None
        bit_rate = container.bit_rate or (main.bit_rate if main is not None else None)
        facts["bitrate"] = str(int(bit_rate)) if bit_rate else None
        if duration and any(name in facts["format"] for name in _INDEXED_FORMATS):
            _check_data_reaches_end(container, [s for s in (video, audio) if s], duration)
    if facts["format"] == "wav":
        _check_riff_complete(path)
    return facts


def _reason(exc: BaseException) -> str:
    """An error's words without the file name FFmpeg adds: the path is the blob store's."""
    return str(getattr(exc, "strerror", None) or type(exc).__name__)


def _check_declared(kind: MediaKind, video: Any, audio: Any) -> None:
    """Refuse streams whose declared shape no analyzer can honestly read."""
    if kind is MediaKind.VIDEO and video is not None:
        context = video.codec_context
        # FFmpeg forgets a size over AV_OPTIONS' max_pixels rather than decode such a frame.
        if not (context.width and context.height):
            raise AnalyzerFailed(
                "the video frames cannot be decoded: their size is unknown "
                f"or over the limit of {MAX_FRAME_PIXELS} pixels"
            )
    if audio is None:
        return
    rate = audio.codec_context.sample_rate or 0
    if rate > MAX_SAMPLE_RATE:
        raise AnalyzerFailed(
            f"the audio stream declares {rate} Hz, above the {MAX_SAMPLE_RATE} Hz of any recording"
        )
    if kind is MediaKind.AUDIO and rate <= 0:
        raise AnalyzerFailed("the audio stream does not state its sample rate")
    if kind is MediaKind.AUDIO and not audio.codec_context.layout.nb_channels:
        raise AnalyzerFailed("the audio stream declares no channels")


def _main_stream(streams: Iterable[Any]) -> Any:
    # Cover art in MP3/M4A files is a one-picture "video" stream flagged as an attached picture.
    for stream in streams:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    return None


def _codec_name(stream: Any) -> str:
    context = stream.codec_context
    # The decoder's own name can differ from the codec's (`mp3float`, `libdav1d`).
    return str(context.codec.canonical_name or context.name)


def _format_name(container: Any, codecs: list[str]) -> str:
    name = str(container.format.name)
    if name.startswith("mov,"):
        brand = str(container.metadata.get("major_brand", "")).strip().lower()
        if brand == "qt":
            return "mov"
        if brand in ("heic", "heix", "heim", "heis", "mif1", "msf1", "hevc"):
            return "heic"
        if brand in ("avif", "avis"):
            return "avif"
        if brand in ("m4a", "m4b"):
            return "m4a"
        if brand.startswith("3g"):
            return "3gp"
        return "mp4"
    if name == "matroska,webm":
        webm = {"vp8", "vp9", "av1", "opus", "vorbis"}
        return "webm" if codecs and set(codecs) <= webm else "matroska"
    if name == "image2" and codecs:  # FFmpeg's generic still-image demuxer: name the codec
        return codecs[0]
    return name.split(",")[0].removesuffix("_pipe")


def _duration(container: Any, streams: list[Any]) -> float | None:
    if container.duration:
        return float(container.duration) / av.time_base
    lengths = [float(s.duration * s.time_base) for s in streams if s.duration and s.time_base]
    return max(lengths) if lengths else None


def _check_data_reaches_end(container: Any, streams: list[Any], duration: float) -> None:
    """Demux (not decode) the last second: a file cut after its index ends early."""
    start = (container.start_time or 0) / av.time_base
    try:
        container.seek(int((start + max(0.0, duration - 1.0)) * av.time_base), backward=True)
    except av.error.FFmpegError:
        return  # not seekable: nothing to conclude
    end = 0.0
    try:
        for count, packet in enumerate(container.demux(*streams)):
            if packet.pts is not None and packet.time_base:
                stop = (packet.pts + (packet.duration or 0)) * packet.time_base
                end = max(end, float(stop) - start)
            if count >= _TAIL_PACKET_LIMIT:
                return  # a pathological index; stop rather than read the whole file
    except av.error.FFmpegError as exc:
        reason = _reason(exc)
        raise AnalyzerFailed(f"media data is corrupt near the end of the file: {reason}") from exc
    if duration - end > max(_END_SLACK_SECONDS, _END_SLACK_FRACTION * duration):
        raise AnalyzerFailed(
            f"file is truncated: its headers declare {duration:.2f} s "
            f"but the media data ends at {end:.2f} s"
        )


def _check_riff_complete(path: Path) -> None:
    """FFmpeg sizes a WAV by its bytes, so a cut file looks shorter; the header knows better."""
    with path.open("rb") as stream:
        size = path.stat().st_size
        if stream.read(12)[8:12] != b"WAVE":
            return
        for _ in range(64):  # chunks before `data` are few; bound the walk anyway
            header = stream.read(8)
            if len(header) < 8:
                return
            chunk, length = header[:4], struct.unpack("<I", header[4:])[0]
            if chunk == b"data":
                # 0 and 0xFFFFFFFF mean "unknown" (streamed writers, RF64).
                if 0 < length < 0xFFFFFFFF and stream.tell() + length > size:
                    raise AnalyzerFailed(
                        f"file is truncated: the WAV header declares {length} bytes of audio, "
                        f"{size - stream.tell()} are present"
                    )
                return
            stream.seek(length + (length & 1), 1)


def _exif_gps(image: Image.Image) -> dict[str, float] | None:
    try:
        gps = image.getexif().get_ifd(_GPS_IFD)
        latitude = _dms(gps.get(2), gps.get(1), "N", "S")
        longitude = _dms(gps.get(4), gps.get(3), "E", "W")
    except Exception:  # a damaged EXIF block costs the GPS fact, not the whole report
        return None
    return _coordinates(latitude, longitude)


def _dms(value: Any, ref: Any, positive: str, negative: str) -> float | None:
    """Degrees, minutes, seconds as EXIF rationals, signed by the N/S or E/W reference."""
    if value is None or ref is None:
        return None  # without the reference the sign is unknown: report nothing
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "replace")
    ref = str(ref).strip("\x00 ").upper()
    if ref not in (positive, negative):
        return None
    parts = value if isinstance(value, (tuple, list)) else (value,)
    degrees = 0.0
    for part, scale in zip(parts, (1.0, 60.0, 3600.0), strict=False):
        if isinstance(part, tuple) and len(part) == 2:  # (numerator, denominator)
            part = part[0] / part[1] if part[1] else math.nan
        degrees += float(part) / scale
    if not math.isfinite(degrees):
        return None
    return -degrees if ref == negative else degrees


def _tag_gps(tag_sets: Iterable[Mapping[str, Any]]) -> dict[str, float] | None:
    for tags in tag_sets:
        for key, value in tags.items():
            key = key.lower()
            if key in _LOCATION_KEYS or key.startswith("location-"):
                point = _parse_iso6709(str(value))
                if point is not None:
                    return point
    return None


def _parse_iso6709(text: str) -> dict[str, float] | None:
    """`+37.7749-122.4194/`, `+48.8584+002.2945+035.000/`, also the DDMM and DDMMSS forms."""
    match = _ISO6709.match(text)
    if match is None:
        return None
    return _coordinates(_iso_angle(match.group(1), 2), _iso_angle(match.group(2), 3))


def _iso_angle(token: str, degree_digits: int) -> float | None:
    sign = -1.0 if token[0] == "-" else 1.0
    whole, _, fraction = token[1:].partition(".")
    digits = len(whole)
    value = float(f"{whole}.{fraction or 0}")
    if digits <= degree_digits:
        angle = value
    elif digits == degree_digits + 2:  # (D)DDMM.MMM
        angle = value // 100 + (value % 100) / 60
    elif digits == degree_digits + 4:  # (D)DDMMSS.SS
        angle = value // 10000 + (value // 100 % 100) / 60 + (value % 100) / 3600
    else:
        return None
    return sign * angle


def _coordinates(latitude: float | None, longitude: float | None) -> dict[str, float] | None:
    if latitude is None or longitude is None:
        return None
    if not (-90.0 <= latitude <= 90.0 and -180.0 <= longitude <= 180.0):
        return None
    return {"latitude": round(latitude, 6), "longitude": round(longitude, 6)}
