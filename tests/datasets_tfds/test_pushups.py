"""Tests for datasets_tfds/pushups (tf-blazepose's per-frame push-up labels).

The dummy folder (``datasets_tfds/pushups/dummy_data``) holds ``labels/<frame>.jpg.json`` and
``images/<frame>.jpg`` for 9 frames of 6 videos, and one 6-point label file that is skipped.
Expected values come from the committed JSON files and from the split rules restated here.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow_datasets as tfds
from etils import epath

from datasets_tfds.pushups import label_files
from datasets_tfds.pushups.pushups_dataset_builder import TF_BLAZEPOSE, Builder

ROOT = Path(__file__).parents[2]
DUMMY = ROOT / "datasets_tfds" / "pushups" / "dummy_data"
WIDTH, HEIGHT = 80, 60  # of the dummy frames


class PushupsVideoHashTest(tfds.testing.DatasetBuilderTestCase):
    """Videos 3 and 554 train, 492 and 551 validation, 18 and 481 test (sha256 % 10)."""

    DATASET_CLASS = Builder
    EXAMPLE_DIR = DUMMY
    BUILDER_CONFIG_NAMES_TO_TEST = ["video_hash"]
    SPLITS = {"train": 2 + 2, "validation": 2 + 1, "test": 1 + 1}
    SKIP_CHECKSUMS = True


class PushupsTfBlazeposeTest(tfds.testing.DatasetBuilderTestCase):
    """Videos 3 and 18 train (< 480), 481 and 492 validation, 551 and 554 test (>= 550)."""

    DATASET_CLASS = Builder
    EXAMPLE_DIR = DUMMY
    BUILDER_CONFIG_NAMES_TO_TEST = [TF_BLAZEPOSE]  # not listed, found by name
    SPLITS = {"train": 2 + 1, "validation": 1 + 2, "test": 1 + 2}
    SKIP_CHECKSUMS = True


def split_ids(builder: tfds.core.DatasetBuilder) -> dict[str, list[str]]:
    return {split: sorted(e["image_id"].decode() for e in tfds.as_numpy(builder.as_dataset(split)))
            for split in builder.info.splits}


@pytest.fixture(scope="module", params=["video_hash", "tf_blazepose"])
def built(request, tmp_path_factory) -> tuple[str, tfds.core.DatasetBuilder]:
    config = request.param
    return config, Builder.prepared(DUMMY, tmp_path_factory.mktemp(config), config)


def expected_split(config: str, video: str) -> str:
    """The two rules as the README states them."""
    if config == "video_hash":
        bucket = int(hashlib.sha256(video.encode("utf-8")).hexdigest(), 16) % 10
        return "test" if bucket == 0 else "validation" if bucket == 1 else "train"
    number = int(video)
    return "train" if number < 480 else "validation" if number < 550 else "test"


def test_frames_of_one_video_never_cross_splits(built):
    config, builder = built
    videos = {split: {name.split("_")[0] for name in names}
              for split, names in split_ids(builder).items()}
    assert set(videos) == {"train", "validation", "test"}
    for first, second in itertools.combinations(videos, 2):
        assert not videos[first] & videos[second], (first, second)
    for split, members in videos.items():
        assert all(expected_split(config, video) == split for video in members), split
    all_frames = sorted(itertools.chain(*split_ids(builder).values()))
    labelled = sorted(p.name[:-len(".json")] for p in (DUMMY / "labels").iterdir())
    assert all_frames == [name for name in labelled if name != "3_0099.jpg"]


def test_points_round_trip_with_whole_frame_box(built):
    _, builder = built
    for split in builder.info.splits:
        for example in tfds.as_numpy(builder.as_dataset(split=split)):
            name = example["image_id"].decode()
            points = json.loads((DUMMY / "labels" / f"{name}.json").read_text())
            np.testing.assert_array_equal(example["keypoints"], np.asarray(points, np.float32))
            assert example["labelled"].all() and (example["visibility"] == 1.0).all()
            assert example["person_box"].tolist() == [0.0, 0.0, WIDTH, HEIGHT]
            assert example["image"].shape == (HEIGHT, WIDTH, 3)
            assert example["topology"] == b"pushup_7"


def test_known_frame_points(built):
    _, builder = built
    (frame,) = [e for split in builder.info.splits
                for e in tfds.as_numpy(builder.as_dataset(split=split))
                if e["image_id"] == b"3_0007.jpg"]
    assert frame["keypoints"][0].tolist() == [10.0, 45.0]  # right wrist
    assert frame["keypoints"][3].tolist() == [40.5, 12.0]  # head top


def test_skipped_label_file_is_reported(built):
    _, builder = built
    source = tfds.builder_from_directory(os.fspath(builder.data_dir)).info.metadata["source"]
    assert source["label_files_skipped"] == 1
    assert source["skipped"] == [{"file": "3_0099.jpg.json", "reason": "6 points, expected 7"}]
    assert sum(source["videos"].values()) == 6


def test_missing_labels_folder_is_named(tmp_path):
    manual = tmp_path / "manual"
    shutil.copytree(DUMMY / "images", manual / "images")
    with pytest.raises(label_files.MissingSourceFilesError,
                       match=f"label folder not found: {manual / 'labels'}"):
        Builder.prepared(manual, tmp_path / "out")


def test_missing_image_is_named_with_the_places_looked(tmp_path):
    manual = tmp_path / "manual"
    shutil.copytree(DUMMY, manual)
    (manual / "images" / "492_0003.jpg").unlink()
    with pytest.raises(label_files.MissingSourceFilesError) as error:
        Builder.prepared(manual, tmp_path / "out")
    message = str(error.value)
    assert "the images of 1 of 10 label files are missing" in message
    assert (f"492_0003.jpg.json: looked for 492_0003.jpg in {manual / 'images'} and "
            f"{manual / 'labels'}") in message


def test_invalid_label_file_is_named(tmp_path):
    manual = tmp_path / "manual"
    shutil.copytree(DUMMY, manual)
    (manual / "labels" / "18_0001.jpg.json").write_text("[[1, 2], [3]]")
    with pytest.raises(label_files.InvalidLabelFileError,
                       match=r"18_0001.jpg.json: point 1 is \[3\], expected \[x, y\]"):
        Builder.prepared(manual, tmp_path / "out")


def test_label_without_image_extension_and_frames_beside_labels(tmp_path):
    labels = tmp_path / "labels"
    labels.mkdir()
    (labels / "7_0001.json").write_text(json.dumps([[1, 2]] * 7))
    (labels / "7_0001.jpg").write_bytes(b"frame")  # the frame beside its label, no images/
    scan = label_files.scan_frames(epath.Path(tmp_path), "pushups")
    (frame,) = scan.frames
    assert frame.image_name == "7_0001.jpg" and frame.video == "7"
    assert frame.image_path == epath.Path(labels / "7_0001.jpg")


def test_tf_blazepose_rule_rejects_a_non_integer_video(tmp_path):
    frame = label_files.Frame(epath.Path(tmp_path / "clipA_0001.jpg.json"), "clipA_0001.jpg",
                              epath.Path(tmp_path / "clipA_0001.jpg"), "clipA",
                              np.zeros((7, 2), np.float32))
    with pytest.raises(ValueError, match=r"clipA_0001.jpg.json: video id 'clipA' is not an "
                                         r"integer"):
        label_files.assign_splits([frame], label_files.tf_blazepose_split)
