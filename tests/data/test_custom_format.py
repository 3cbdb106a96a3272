"""The generated custom-format folders the input-pipeline benchmark's suite uses."""

import json

import numpy as np
import pytest
import tensorflow as tf

from blazepose.data import custom_format


def _sizes(folder, split="train"):
    records = json.loads((folder / custom_format.SPLIT_FILES[split]).read_text())
    shapes = [tf.image.decode_image((folder / "images" / r["image"]).read_bytes()).shape
              for r in records]
    return records, shapes


def test_png_images_of_sizes_in_a_range_with_people_of_the_asked_height(tmp_path):
    folder = custom_format.write_random_people(
        tmp_path / "small", {"train": 6}, side_range=(40, 90), box_height_range=(0.5, 0.9),
        image_format="png", seed=1)
    records, shapes = _sizes(folder)
    assert all(r["image"].endswith(".png") for r in records)
    assert all((folder / "images" / r["image"]).read_bytes().startswith(b"\x89PNG")
               for r in records)
    heights, widths = np.array([s[0] for s in shapes]), np.array([s[1] for s in shapes])
    assert heights.min() >= 40 and heights.max() <= 90 and widths.min() >= 40
    assert widths.max() <= 90 and len({(h, w) for h, w in zip(heights, widths)}) > 1
    for record, height, width in zip(records, heights, widths):
        (x0, y0), (x1, y1) = record["bbox"]
        side = x1 - x0
        assert side == pytest.approx(y1 - y0)
        assert min(0.5 * height, width) - 1e-3 <= side <= min(0.9 * height, width) + 1e-3
        assert -1e-3 <= x0 and x1 <= width + 1e-3 and -1e-3 <= y0 and y1 <= height + 1e-3


def _bytes(folder):
    return sum(path.stat().st_size for path in (folder / "images").iterdir())


def test_noise_makes_busy_high_entropy_jpegs(tmp_path):
    """Noise over the background: the same scene takes far more bytes to encode."""
    plain = custom_format.write_random_people(tmp_path / "plain", {"train": 2},
                                              image_size=(96, 128), seed=3)
    busy = custom_format.write_random_people(tmp_path / "busy", {"train": 2},
                                             image_size=(96, 128), seed=3, noise_std=40.0)
    assert _bytes(busy) > 2 * _bytes(plain)


def test_unknown_image_format_is_refused(tmp_path):
    with pytest.raises(ValueError, match="image_format"):
        custom_format.write_random_people(tmp_path, {"train": 1}, image_format="gif")
