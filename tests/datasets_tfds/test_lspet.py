"""Tests for datasets_tfds/lspet (Leeds Sports Pose Extended).

The dummy release (``datasets_tfds/lspet/dummy_data``) is ``joints.mat`` (14 x 3 x 6) and 6
images at the manual dir's top level. Expected values are read from the committed .mat file
with scipy in the orientation the data set's documentation gives (joint, coordinate, image).
The message for a missing joints.mat is checked for both releases in test_lsp.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import tensorflow_datasets as tfds

from datasets_tfds import lsp_common
from datasets_tfds.lspet.lspet_dataset_builder import Builder

ROOT = Path(__file__).parents[2]
BUILDER_DIR = ROOT / "datasets_tfds" / "lspet"
DUMMY = BUILDER_DIR / "dummy_data"
WIDTH, HEIGHT = 60, 80  # of the dummy images


class LspetTest(tfds.testing.DatasetBuilderTestCase):
    """Every LSPET image is in train."""

    DATASET_CLASS = Builder
    EXAMPLE_DIR = DUMMY
    SPLITS = {"train": 6}
    SKIP_CHECKSUMS = True


@pytest.fixture(scope="module")
def train(tmp_path_factory) -> dict[str, dict]:
    builder = Builder.prepared(DUMMY, tmp_path_factory.mktemp("lspet"))
    return {e["image_id"].decode(): e for e in tfds.as_numpy(builder.as_dataset(split="train"))}


@pytest.fixture(scope="module")
def joints() -> np.ndarray:
    """``joints`` read with scipy: 14 x 3 x 6, joints[j, :, i] = x, y, flag."""
    return scipy.io.loadmat(DUMMY / "joints.mat")["joints"]


def test_known_point_decodes_to_continuous_pixels(train, joints):
    assert joints.shape == (14, 3, 6)
    # make_dummy_data.py: im00001's neck (joint 12) is visible (flag 1) at (30.5, 17.25).
    np.testing.assert_array_equal(joints[12, :, 0], [30.5, 17.25, 1.0])
    example = train["im00001.jpg"]
    np.testing.assert_array_equal(example["keypoints"][12], [30.0, 16.75])
    assert example["labelled"][12] and example["visibility"][12] == 1.0


def test_flag_zero_joints_are_not_labelled_even_with_a_position(train, joints):
    # make_dummy_data.py: im00003's right elbow (joint 7) has flag 0 at (29.0, 31.0).
    np.testing.assert_array_equal(joints[7, :, 2], [29.0, 31.0, 0.0])
    example = train["im00003.jpg"]
    assert not example["labelled"][7]
    assert example["keypoints"][7].tolist() == [0.0, 0.0] and example["visibility"][7] == 0.0


def test_every_joint_follows_the_flag_in_documented_orientation(train, joints):
    assert sorted(train) == [f"im{i:05d}.jpg" for i in range(1, 7)]
    for index in range(6):
        x, y, flag = joints[:, 0, index], joints[:, 1, index], joints[:, 2, index]
        marker = (x <= 0) & (y <= 0)
        labelled = (flag == 1) & ~marker
        example = train[f"im{index + 1:05d}.jpg"]
        np.testing.assert_array_equal(example["labelled"], labelled)
        np.testing.assert_array_equal(example["visibility"], labelled.astype(np.float32))
        expected = np.where(labelled[:, None], np.stack([x, y], 1) - 0.5, 0.0)
        np.testing.assert_allclose(example["keypoints"], expected)


def test_missing_joint_markers_and_empty_images(train):
    # im00002: left knee and ankle (4, 5) at (0, 0); im00004: head top (13) at (-1, 0).
    assert train["im00002.jpg"]["labelled"].tolist() == [True] * 4 + [False] * 2 + [True] * 8
    assert not train["im00004.jpg"]["labelled"][13]
    empty = train["im00005.jpg"]  # no joint annotated: kept, fully masked, whole-image box
    assert not empty["labelled"].any()
    assert empty["person_box"].tolist() == [0.0, 0.0, WIDTH, HEIGHT]


def test_missing_images_are_counted_and_named(tmp_path):
    manual = tmp_path / "manual"
    shutil.copytree(DUMMY, manual / "lspet_dataset")
    (manual / "lspet_dataset" / "images" / "im00006.jpg").unlink()
    with pytest.raises(lsp_common.MissingSourceFilesError,
                       match=r"1 of the 6 images named by .*lspet_dataset/joints.mat are missing "
                             r"from .*lspet_dataset/images: im00006.jpg"):
        Builder.prepared(manual, tmp_path / "out")


def test_lsp_joints_file_in_lspet_place_is_named(tmp_path):
    manual = tmp_path / "manual"
    shutil.copytree(ROOT / "datasets_tfds" / "lsp" / "dummy_data" / "lsp_dataset", manual)
    with pytest.raises(ValueError, match=r"'joints' is 3x14x6, expected 14x3xN for LSPET; that is "
                                         r"the orientation of LSP's"):
        Builder.prepared(manual, tmp_path / "out")
