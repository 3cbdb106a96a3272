"""Tests for datasets_tfds/yoga82: Yoga-82 split files, downloaded images, skipped images.

The dummy data (``datasets_tfds/yoga82/dummy_data``, made by its ``make_dummy_data.py``) is a
manual dir in the release's format in which one train image and one test image were never
downloaded and one train "image" is an HTML error page.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from datasets_tfds.yoga82.yoga82_dataset_builder import (
    LABEL_6_NAMES,
    LABEL_20_NAMES,
    LABEL_82_NAMES,
    Builder,
    SplitFileError,
    check_hierarchy,
    parse_split_file,
)

DUMMY = Path(__file__).parents[2] / "datasets_tfds" / "yoga82" / "dummy_data"


class Yoga82Test(tfds.testing.DatasetBuilderTestCase):
    """TFDS's own checks on the dummy manual dir (3 of 5 train and 2 of 3 test images usable)."""

    DATASET_CLASS = Builder
    SPLITS = {"train": 3, "test": 2}
    SKIP_CHECKSUMS = True


def test_missing_and_corrupt_images_are_counted_not_fatal(tmp_path):
    manual = tmp_path / "manual"
    shutil.copytree(DUMMY, manual)
    (manual / "Akarna_Dhanurasana" / "0_18.jpg").unlink()  # one more dead link
    builder = Builder.prepared(manual, tmp_path / "out")
    skipped = builder.info.metadata["skipped"]
    assert skipped["train"]["listed"] == 5
    assert skipped["train"]["written"] == 2
    assert skipped["train"]["missing"] == 2
    assert skipped["train"]["corrupt"] == 1
    assert set(skipped["train"]["missing_paths"]) == {"Tree_Pose_or_Vrksasana_/7.jpg",
                                                      "Akarna_Dhanurasana/0_18.jpg"}
    assert skipped["train"]["corrupt_paths"][0].startswith("Cockerel_Pose/12.jpg")
    assert (skipped["test"]["missing"], skipped["test"]["written"]) == (1, 2)
    # The report survives in the prepared data set's metadata.
    reloaded = tfds.builder_from_directory(builder.data_dir)
    assert reloaded.info.metadata["skipped"]["train"]["missing"] == 2

    examples = {e["image_id"].decode(): e for e in tfds.as_numpy(builder.as_dataset("test"))}
    assert set(examples) == {"Akarna_Dhanurasana/2.jpg", "Cockerel_Pose/5.jpg"}
    png_saved_as_jpg = examples["Akarna_Dhanurasana/2.jpg"]
    assert png_saved_as_jpg["image"].shape == (48, 64, 3)
    original = tf.io.decode_png((manual / "Akarna_Dhanurasana" / "2.jpg").read_bytes()).numpy()
    assert np.abs(png_saved_as_jpg["image"].astype(int) - original).mean() < 8  # JPEG re-encoded
    cockerel = examples["Cockerel_Pose/5.jpg"]
    assert (cockerel["label_6"], cockerel["label_20"], cockerel["label_82"]) == (2, 9, 11)
    names = builder.info.features
    assert names["label_82"].int2str(11) == "Cockerel_Pose"
    assert names["label_6"].int2str(2) == "balancing"
    assert names["label_20"].int2str(9) == "balancing_front"


def test_missing_split_file_names_what_and_where(tmp_path):
    manual = tmp_path / "manual"
    shutil.copytree(DUMMY, manual)
    (manual / "yoga_test.txt").unlink()
    with pytest.raises(FileNotFoundError) as error:
        Builder.prepared(manual, tmp_path / "out")
    message = str(error.value)
    assert "yoga_test.txt" in message and os.fspath(manual) in message
    assert "yoga_train.txt" not in message.split("\n")[0]


def test_no_downloaded_image_at_all_is_an_error(tmp_path):
    manual = tmp_path / "manual"
    manual.mkdir()
    for name in ("yoga_train.txt", "yoga_test.txt"):
        shutil.copy(DUMMY / name, manual / name)
    with pytest.raises(FileNotFoundError, match="none of the 5 images"):
        Builder.prepared(manual, tmp_path / "out")


def test_split_file_parsing_keeps_release_folder_names(tmp_path):
    split = tmp_path / "yoga_train.txt"
    split.write_text("\ufeffSitting pose 1 (normal)/12.jpg,1,4,57\r\n\r\n"
                     "Bharadvaja's_Twist_pose_or_Bharadvajasana_I_/0_38.jpg,1,8,1\n")
    records = parse_split_file(split)
    assert [r.path for r in records] == ["Sitting pose 1 (normal)/12.jpg",
                                         "Bharadvaja's_Twist_pose_or_Bharadvajasana_I_/0_38.jpg"]
    assert [(r.label_6, r.label_20, r.label_82, r.line) for r in records] == [
        (1, 4, 57, 1), (1, 8, 1, 3)]


@pytest.mark.parametrize("line, fragment", [
    ("Akarna_Dhanurasana/16.jpg,1,8", "expected"),
    ("Akarna_Dhanurasana/16.jpg,1,x,0", "integers"),
    ("Akarna_Dhanurasana/16.jpg,6,8,0", "label_6 6"),
    ("Akarna_Dhanurasana/16.jpg,1,8,82", "label_82 82"),
    ("Tree_Pose_or_Vrksasana_/1.jpg,0,0,0", "does not match label_82"),
])
def test_malformed_split_lines_name_file_and_line(tmp_path, line, fragment):
    split = tmp_path / "yoga_test.txt"
    split.write_text("Akarna_Dhanurasana/1.jpg,1,8,0\n" + line + "\n")
    with pytest.raises(SplitFileError) as error:
        parse_split_file(split)
    assert "line 2" in str(error.value) and fragment in str(error.value)
    assert os.fspath(split) in str(error.value)


def test_a_pose_with_two_parents_is_reported():
    split = DUMMY / "yoga_train.txt"
    records = parse_split_file(split)
    assert check_hierarchy(records, "train")[0] == (8, 1)
    bad = records + [type(records[0])("Akarna_Dhanurasana/99.jpg", 1, 7, 0, 42)]
    with pytest.raises(SplitFileError, match="line 42"):
        check_hierarchy(bad, "train")


def test_class_name_tables():
    assert (len(LABEL_6_NAMES), len(LABEL_20_NAMES), len(LABEL_82_NAMES)) == (6, 20, 82)
    assert list(LABEL_82_NAMES) == sorted(LABEL_82_NAMES)  # code-point order of the folders
    assert len(set(LABEL_82_NAMES)) == 82
