"""Tests for datasets_tfds/lsp (Leeds Sports Pose) and the shared datasets_tfds/lsp_common.

The dummy release (``datasets_tfds/lsp/dummy_data``) holds ``lsp_dataset/`` (6 images,
``joints`` 3 x 14 x 6) and ``lspet_dataset/`` (6 images, ``joints`` 14 x 3 x 6). Expected values
are read from the committed .mat files with scipy in the orientation the data sets' READMEs
describe, independently of the builder's reader.
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import tensorflow_datasets as tfds

from blazepose.topology import LSP_14
from datasets_tfds import lsp_common
from datasets_tfds.lsp.lsp_dataset_builder import TF_BLAZEPOSE_MERGED, Builder
from datasets_tfds.lspet.lspet_dataset_builder import Builder as LspetBuilder

ROOT = Path(__file__).parents[2]
BUILDER_DIR = ROOT / "datasets_tfds" / "lsp"
DUMMY = BUILDER_DIR / "dummy_data"

# The joint order of LSP's README.txt, as written there.
README_JOINT_ORDER = [
    "Right ankle", "Right knee", "Right hip", "Left hip", "Left knee", "Left ankle",
    "Right wrist", "Right elbow", "Right shoulder", "Left shoulder", "Left elbow", "Left wrist",
    "Neck", "Head top",
]  # fmt: skip


class LspOriginalTest(tfds.testing.DatasetBuilderTestCase):
    """LSP's own split on the dummy release: halves of 6 images."""

    DATASET_CLASS = Builder
    EXAMPLE_DIR = DUMMY
    BUILDER_CONFIG_NAMES_TO_TEST = ["original"]
    SPLITS = {"train": 3, "test": 3}
    SKIP_CHECKSUMS = True


class LspTfBlazeposeMergedTest(tfds.testing.DatasetBuilderTestCase):
    """tf-blazepose's merged split: 5 LSP and 3 LSPET images pass its filter, each source gives
    min(100, max(1, n // 20)) = 1 validation and 1 test image."""

    DATASET_CLASS = Builder
    EXAMPLE_DIR = DUMMY
    BUILDER_CONFIG_NAMES_TO_TEST = [TF_BLAZEPOSE_MERGED]  # not listed, found by name
    SPLITS = {"train": 3 + 1, "validation": 1 + 1, "test": 1 + 1}
    SKIP_CHECKSUMS = True


# --- helpers -------------------------------------------------------------------------------------


def examples_by_id(builder: tfds.core.DatasetBuilder, split: str) -> dict[str, dict]:
    return {e["image_id"].decode(): e for e in tfds.as_numpy(builder.as_dataset(split=split))}


def raw_lsp(folder: Path) -> np.ndarray:
    """``joints`` of an LSP joints.mat read with scipy: 3 x 14 x N (x, y, flag)."""
    return scipy.io.loadmat(folder / "joints.mat")["joints"]


@pytest.fixture(scope="module")
def original(tmp_path_factory) -> tfds.core.DatasetBuilder:
    return Builder.prepared(DUMMY, tmp_path_factory.mktemp("lsp_original"))


@pytest.fixture(scope="module")
def merged(tmp_path_factory) -> tfds.core.DatasetBuilder:
    return Builder.prepared(DUMMY, tmp_path_factory.mktemp("lsp_merged"), "tf_blazepose_merged")


# --- format facts --------------------------------------------------------------------------------


def test_lsp_14_is_the_readme_joint_order():
    expected = [name.lower().replace(" ", "_") for name in README_JOINT_ORDER]
    assert list(LSP_14.keypoint_names) == expected


def test_known_point_decodes_to_continuous_pixels_and_inverted_flag(original):
    joints = raw_lsp(DUMMY / "lsp_dataset")
    assert joints.shape == (3, 14, 6)
    # make_dummy_data.py: im0002's right wrist (joint 6) is occluded (flag 1) at (12.25, 41.5).
    np.testing.assert_array_equal(joints[:, 6, 1], [12.25, 41.5, 1.0])
    example = examples_by_id(original, "train")["im0002.jpg"]
    np.testing.assert_array_equal(example["keypoints"][6], [11.75, 41.0])  # 1-based -> - 0.5
    assert example["visibility"][6] == 0.0 and example["labelled"][6]
    assert example["visibility"][0] == 1.0  # flag 0 means visible in LSP


def test_every_joint_matches_the_mat_file_in_readme_orientation(original):
    joints = raw_lsp(DUMMY / "lsp_dataset")
    found = {**examples_by_id(original, "train"), **examples_by_id(original, "test")}
    assert sorted(found) == [f"im{i:04d}.jpg" for i in range(1, 7)]
    for index in range(6):
        example = found[f"im{index + 1:04d}.jpg"]
        x, y, flag = joints[:, :, index]
        np.testing.assert_allclose(example["keypoints"], np.stack([x, y], 1) - 0.5)
        np.testing.assert_array_equal(example["visibility"], 1.0 - flag)
        assert example["labelled"].all()  # LSP places occluded joints too
        assert example["topology"] == b"lsp_14"


def test_joint_outside_the_image_stays_placed_and_the_box_is_clipped(original):
    example = examples_by_id(original, "train")["im0003.jpg"]
    # make_dummy_data.py: im0003's left ankle (joint 5) is occluded at x = -2.0.
    assert example["labelled"][5] and example["visibility"][5] == 0.0
    assert example["keypoints"][5][0] == -2.5
    assert example["person_box"][0] == 0.0  # the extent is clipped to the image


def test_original_split_is_first_half_train_second_half_test(original):
    assert sorted(examples_by_id(original, "train")) == ["im0001.jpg", "im0002.jpg", "im0003.jpg"]
    assert sorted(examples_by_id(original, "test")) == ["im0004.jpg", "im0005.jpg", "im0006.jpg"]
    assert lsp_common.original_split(2000) == {"train": range(0, 1000),
                                               "test": range(1000, 2000)}


def test_metadata_describes_topology_and_source(original):
    reloaded = tfds.builder_from_directory(os.fspath(original.data_dir))
    assert reloaded.info.metadata["topology"] == "lsp_14"
    assert reloaded.info.metadata["to_blazepose"][:6] == [28, 26, 24, 23, 25, 27]
    assert reloaded.info.metadata["source"]["LSP"]["images"] == 6


# --- tf-blazepose's merged split -------------------------------------------------------------


def tf_blazepose_procedure(folder: Path, joints_per_image: np.ndarray, counts: tuple[int, ...]
                           ) -> dict[str, list[str]]:
    """tools/lsp_data_to_json.py + tools/split_lsp_lspet.py, restated: sorted jpg names, drop
    images with a point at x <= 0 or y <= 0, random.seed(42), random.shuffle, slice."""
    images = sorted(p.name for p in (folder / "images").iterdir() if p.name.endswith("jpg"))
    labels = [name for i, name in enumerate(images)
              if not any(x <= 0 or y <= 0 for x, y in joints_per_image[i, :, :2])]
    random.seed(42)
    random.shuffle(labels)
    n_train, n_val, _ = counts
    return {"train": labels[:n_train], "validation": labels[n_train:n_train + n_val],
            "test": labels[n_train + n_val:]}


def test_merged_split_is_tf_blazepose_procedure(merged):
    lsp = raw_lsp(DUMMY / "lsp_dataset").transpose(2, 1, 0)  # 3x14xN -> N x 14 x 3
    lspet = scipy.io.loadmat(DUMMY / "lspet_dataset" / "joints.mat")["joints"].transpose(2, 0, 1)
    expected_lsp = tf_blazepose_procedure(DUMMY / "lsp_dataset", lsp, (3, 1, 1))
    expected_lspet = tf_blazepose_procedure(DUMMY / "lspet_dataset", lspet, (1, 1, 1))
    for split in ("train", "validation", "test"):
        found = sorted(examples_by_id(merged, split))
        expected = sorted([f"lsp/{n}" for n in expected_lsp[split]]
                          + [f"lspet/{n}" for n in expected_lspet[split]])
        assert found == expected, split


@pytest.mark.parametrize("kept, sizes", [(2000, (1800, 100, 100)), (3939, (3739, 100, 100))])
def test_tf_blazepose_split_sizes_of_the_released_files(kept, sizes):
    parts = lsp_common.tf_blazepose_split(range(kept), "test")
    assert tuple(len(parts[s]) for s in ("train", "validation", "test")) == sizes
    assert sorted(parts["train"] + parts["validation"] + parts["test"]) == list(range(kept))


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize("builder, variant", [(Builder, lsp_common.LSP),
                                              (LspetBuilder, lsp_common.LSPET)])
def test_missing_joints_file_lists_every_place_looked(tmp_path, builder, variant):
    manual = tmp_path / "manual"
    (manual / "extracted_elsewhere").mkdir(parents=True)
    (manual / "extracted_elsewhere" / "joints.mat").write_bytes(b"")
    with pytest.raises(lsp_common.MissingSourceFilesError) as error:
        builder.prepared(manual, tmp_path / "out")
    message = str(error.value)
    assert f"{manual / 'joints.mat'}" in message
    assert f"{manual / variant.folder / 'joints.mat'}" in message
    assert f"{variant.folder}.zip" == variant.archive and variant.archive in message


def test_missing_images_are_counted_and_named(tmp_path):
    manual = tmp_path / "manual"
    shutil.copytree(DUMMY / "lsp_dataset", manual)
    (manual / "images" / "im0002.jpg").unlink()
    (manual / "images" / "im0005.jpg").unlink()
    with pytest.raises(lsp_common.MissingSourceFilesError) as error:
        Builder.prepared(manual, tmp_path / "out")
    message = str(error.value)
    assert f"2 of the 6 images named by {manual / 'joints.mat'}" in message
    assert f"missing from {manual / 'images'}: im0002.jpg, im0005.jpg" in message


def test_merged_config_needs_lspet_in_its_folder(tmp_path):
    manual = tmp_path / "manual"
    shutil.copytree(DUMMY / "lsp_dataset", manual / "lsp_dataset")
    with pytest.raises(lsp_common.MissingSourceFilesError, match="LSPET's joints.mat not found"):
        Builder.prepared(manual, tmp_path / "out", "tf_blazepose_merged")


def test_lspet_joints_file_in_lsp_place_is_named(tmp_path):
    manual = tmp_path / "manual"
    shutil.copytree(DUMMY / "lspet_dataset", manual)
    with pytest.raises(ValueError, match=r"'joints' is 14x3x6, expected 3x14xN for LSP; that is "
                                         r"the orientation of LSPET's"):
        Builder.prepared(manual, tmp_path / "out")


def test_flag_other_than_0_or_1_names_image_and_joint():
    joints = np.zeros((2, 14, 3))
    joints[1, 13, 2] = 2.0
    with pytest.raises(ValueError, match=r"image im0002.jpg, joint 13 \(head_top\): visibility "
                                         r"flag 2.0"):
        lsp_common.decode_joints(joints, lsp_common.LSP, "joints.mat")


def test_single_image_file_saved_as_3x14_is_read():
    joints = np.arange(42, dtype=float).reshape(3, 14)  # MATLAB drops the trailing 1
    per_image = lsp_common.parse_joints({"joints": joints}, lsp_common.LSP, "joints.mat")
    assert per_image.shape == (1, 14, 3)
    np.testing.assert_array_equal(per_image[0, 13], [13.0, 27.0, 41.0])  # x, y, flag of joint 13
