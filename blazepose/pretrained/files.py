"""Obtaining Google's BlazePose model files reproducibly, without installing MediaPipe.

The files ship inside the PyPI wheel ``mediapipe==0.10.21`` (newer wheels no longer contain them).
:func:`fetch_model_file` downloads that wheel with ``pip download --no-deps`` for a pinned
platform (so it works from any host), reads the one member it needs from the zip, checks its
sha256 and keeps it in a cache folder. Nothing is installed and nothing is written outside the
cache. Files are never part of this repository.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import zipfile

MEDIAPIPE_VERSION = "0.10.21"
_WHEEL_PLATFORM = ("--only-binary=:all:", "--python-version", "3.11", "--platform",
                   "manylinux_2_28_x86_64")


@dataclasses.dataclass(frozen=True)
class ModelFile:
    """One of Google's files: its name here, its path inside the wheel, its sha256."""

    name: str
    wheel_member: str
    sha256: str

    @property
    def filename(self) -> str:
        return pathlib.PurePosixPath(self.wheel_member).name


MODEL_FILES: dict[str, ModelFile] = {
    "full": ModelFile(
        "full", "mediapipe/modules/pose_landmark/pose_landmark_full.tflite",
        "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f"),
    "detector": ModelFile(
        "detector", "mediapipe/modules/pose_detection/pose_detection.tflite",
        "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c"),
}


class ModelFileError(RuntimeError):
    """A model file could not be obtained or is not the file it should be."""


def default_cache_dir() -> pathlib.Path:
    """``$BLAZEPOSE_CACHE_DIR``, else ``$XDG_CACHE_HOME/blazepose``, else ``~/.cache/blazepose``."""
    if os.environ.get("BLAZEPOSE_CACHE_DIR"):
        return pathlib.Path(os.environ["BLAZEPOSE_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(base) / "blazepose"


def get_model_file(name: str) -> ModelFile:
    try:
        return MODEL_FILES[name]
    except KeyError:
        raise ValueError(
            f"unknown MediaPipe model {name!r}; known: {sorted(MODEL_FILES)}") from None


def sha256_of(path: os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_model_file(path: os.PathLike, model: ModelFile) -> None:
    """Raises :class:`ModelFileError` unless ``path`` holds exactly Google's file."""
    actual = sha256_of(path)
    if actual != model.sha256:
        raise ModelFileError(
            f"{path}: sha256 {actual} is not that of MediaPipe {MEDIAPIPE_VERSION}'s "
            f"{model.filename} ({model.sha256}); the file is corrupt, truncated or another model")


def pip_download(requirement: str, wheel_glob: str, destination: os.PathLike,
                 pip_options=_WHEEL_PLATFORM, error=ModelFileError) -> pathlib.Path:
    """``pip download --no-deps REQUIREMENT`` into ``destination``; returns the wheel's path.

    Raises ``error`` with pip's message when pip fails or no file matches ``wheel_glob``.
    """
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
               *pip_options, "--dest", str(destination), requirement]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    wheels = sorted(pathlib.Path(destination).glob(wheel_glob))
    if result.returncode != 0 or not wheels:
        raise error(f"could not download {requirement} with `{' '.join(command)}` "
                    f"(exit {result.returncode}):\n{result.stderr.strip()[-2000:]}")
    return wheels[0]


def write_atomically(path: os.PathLike, data: bytes) -> None:
    """Writes ``data`` to ``path`` through a temporary file, so readers never see a partial file."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as stream:
        stream.write(data)
    os.chmod(stream.name, 0o644)
    os.replace(stream.name, path)


def build_folder_atomically(target: os.PathLike, fill, ready_file: str,
                            ready_text: str) -> pathlib.Path:
    """Makes the cache folder ``target`` once: ``fill(scratch)`` writes it into a temporary
    sibling, which gets ``ready_file`` (holding ``ready_text``) and is renamed into place, so a
    reader never sees a half-built folder. A folder already marked ready is kept; when another
    process finishes first its folder wins. A failing ``fill`` leaves nothing behind."""
    target = pathlib.Path(target)
    if (target / ready_file).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = pathlib.Path(tempfile.mkdtemp(prefix=".partial-", dir=target.parent))
    try:
        fill(scratch)
        (scratch / ready_file).write_text(ready_text)
        try:
            os.replace(scratch, target)
        except OSError:  # another process finished first
            if not (target / ready_file).is_file():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def download_wheel(destination: os.PathLike) -> pathlib.Path:
    """``pip download --no-deps mediapipe==0.10.21`` for manylinux x86_64 / CPython 3.11."""
    return pip_download(f"mediapipe=={MEDIAPIPE_VERSION}",
                        f"mediapipe-{MEDIAPIPE_VERSION}-*.whl", destination)


def extract_member(wheel: os.PathLike, model: ModelFile, destination: os.PathLike) -> None:
    """Copies one member of the wheel to ``destination`` atomically, after checking its hash."""
    destination = pathlib.Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        try:
            data = archive.read(model.wheel_member)
        except KeyError:
            raise ModelFileError(f"{wheel} has no member {model.wheel_member}") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != model.sha256:
        raise ModelFileError(f"{wheel}!{model.wheel_member}: sha256 {actual}, expected "
                             f"{model.sha256}")
    write_atomically(destination, data)


def fetch_model_file(name: str, cache_dir: os.PathLike | None = None) -> pathlib.Path:
    """Returns the path of Google's file ``name`` (``full`` or ``detector``), fetching it once.

    A cached file is re-hashed on every call: a corrupted cache is replaced, never used.
    """
    model = get_model_file(name)
    cache_dir = pathlib.Path(cache_dir) if cache_dir else default_cache_dir()
    target = cache_dir / f"mediapipe-{MEDIAPIPE_VERSION}" / model.filename
    if target.exists():
        if sha256_of(target) == model.sha256:
            return target
        target.unlink()
    with tempfile.TemporaryDirectory() as scratch:
        wheel = download_wheel(scratch)
        # Keep both files from the one download.
        for other in MODEL_FILES.values():
            other_target = target.parent / other.filename
            if not other_target.exists():
                extract_member(wheel, other, other_target)
    return target
