"""Writing data in the custom format (tf-blazepose's layout) that ``custom_pose`` reads.

``FOLDER/images/*.jpg`` plus ``FOLDER/{train,val,test}.json``, each a list of
``{"image": name, "points": [[x, y], ...], "visibility": [0/1, ...], "bbox": [[x1, y1], [x2, y2]]}``
with ``[-1, -1]`` for a point that is not labelled; x, y in image pixels.

:func:`write_random_people` makes such a folder of plausible-looking images (a textured
background, a stick figure with thick limbs) for benchmarks and tests, so no data set has to be
downloaded or committed.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

SPLIT_FILES = {"train": "train.json", "validation": "val.json", "test": "test.json"}


def write_split(folder: pathlib.Path, split: str, records: Sequence[dict]) -> pathlib.Path:
    """Writes ``records`` (already in the JSON layout) as the split's file; returns its path."""
    path = pathlib.Path(folder) / SPLIT_FILES[split]
    path.write_text(json.dumps(list(records)))
    return path


def _background(rng, height, width, photo):
    if photo is not None:
        scale = rng.uniform(1.0, 2.0)
        size = (int(height * scale), int(width * scale))
        big = tf.image.resize(photo, size).numpy()
        top = rng.integers(0, size[0] - height + 1)
        left = rng.integers(0, size[1] - width + 1)
        image = big[top:top + height, left:left + width]
        if rng.random() < 0.5:
            image = image[:, ::-1]
        return image.astype(np.float32)
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.stack([np.sin(cols / rng.uniform(5, 40) + c) * 60 + 120 for c in range(3)], -1)
    return image + rows[..., None] * rng.uniform(-0.2, 0.2)


def _draw_limb(image, a, b, thickness, colour):
    height, width = image.shape[:2]
    low = np.maximum(np.floor(np.minimum(a, b) - thickness), 0).astype(int)
    high = np.minimum(np.ceil(np.maximum(a, b) + thickness), [width, height]).astype(int)
    if np.any(high <= low):
        return
    rows, cols = np.mgrid[low[1]:high[1], low[0]:high[0]] + 0.5
    direction = b - a
    t = np.clip(((cols - a[0]) * direction[0] + (rows - a[1]) * direction[1])
                / max(float(direction @ direction), 1e-6), 0, 1)
    distance = np.hypot(cols - (a[0] + t * direction[0]), rows - (a[1] + t * direction[1]))
    image[low[1]:high[1], low[0]:high[0]][distance <= thickness] = colour


def write_random_people(folder: pathlib.Path, counts: dict[str, int], image_size=(480, 640),
                        num_keypoints: int = 16, seed: int = 0, photo: np.ndarray | None = None,
                        unlabelled_fraction: float = 0.05, quality: int = 90,
                        box_height_range: tuple[float, float] = (0.3, 0.8),
                        noise_std: float = 0.0, side_range: tuple[int, int] | None = None,
                        image_format: str = "jpg") -> pathlib.Path:
    """Writes a custom-format folder with ``counts[split]`` images per split.

    Each image (``image_size`` = height, width; or, with ``side_range`` = (low, high), a height
    and a width drawn independently in [low, high] pixels per image) shows one figure:
    ``num_keypoints`` points along a random stick skeleton (consecutive points joined by thick
    limbs), inside a square person box whose side is ``box_height_range`` (fractions) of the
    image height. ``photo`` (uint8 RGB) gives realistic backgrounds (JPEG statistics of real
    photos); otherwise a procedural texture is used. ``noise_std`` > 0 adds that much Gaussian
    pixel noise (0-255 units) to the background: busy, high-entropy images whose JPEGs are
    large and slow to decode. ``image_format``: ``"jpg"`` (``quality``) or ``"png"``.
    """
    if image_format not in ("jpg", "png"):
        raise ValueError(f"image_format must be 'jpg' or 'png', got {image_format!r}")
    folder = pathlib.Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for split, count in counts.items():
        records = []
        for index in range(count):
            if side_range is None:
                height, width = image_size
            else:
                height, width = (int(side) for side in rng.integers(
                    side_range[0], side_range[1] + 1, 2))
            image = _background(rng, height, width, photo)
            if noise_std > 0:
                image += rng.normal(0.0, noise_std, image.shape).astype(np.float32)
            box_height = min(rng.uniform(*box_height_range) * height, width)
            centre = rng.uniform([box_height / 2, box_height / 2],
                                 [width - box_height / 2, height - box_height / 2])
            # A random walk of points inside the box, so limbs look like limbs.
            points = [centre + rng.normal(0, box_height / 8, 2)]
            for _ in range(num_keypoints - 1):
                step = rng.normal(0, box_height / 6, 2)
                points.append(np.clip(points[-1] + step, centre - box_height / 2,
                                      centre + box_height / 2))
            points = np.clip(np.array(points), 0, [width - 1, height - 1])
            colour = rng.uniform(0, 255, 3)
            for a, b in zip(points[:-1], points[1:]):
                _draw_limb(image, a, b, box_height / 30, colour)
            name = f"{split}_{index:05d}.{image_format}"
            pixels = np.clip(image, 0, 255).astype(np.uint8)
            encoded = (tf.io.encode_jpeg(pixels, quality=quality) if image_format == "jpg"
                       else tf.io.encode_png(pixels))
            (folder / "images" / name).write_bytes(encoded.numpy())
            labelled = rng.random(num_keypoints) >= unlabelled_fraction
            records.append({
                "image": name,
                "points": [[float(x), float(y)] if ok else [-1, -1]
                           for (x, y), ok in zip(points, labelled)],
                "visibility": [int(v) for v in (rng.random(num_keypoints) > 0.1) & labelled],
                "bbox": [[float(centre[0] - box_height / 2), float(centre[1] - box_height / 2)],
                         [float(centre[0] + box_height / 2), float(centre[1] + box_height / 2)]],
            })
        write_split(folder, split, records)
    return folder
