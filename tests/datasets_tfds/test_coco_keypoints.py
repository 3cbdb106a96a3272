"""Tests for datasets_tfds/coco_keypoints: COCO 2017 person keypoints from the original JSON.

The dummy data (``datasets_tfds/coco_keypoints/dummy_data``, written by its
``make_dummy_data.py``) is a COCO 2017 folder with 2 train and 3 validation people plus a crowd
region and annotations without keypoints; see that script's docstring.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from blazepose.topology import COCO_17
from datasets_tfds.coco_keypoints.coco_keypoints_dataset_builder import Builder
from datasets_tfds.coco_keypoints.person_keypoints import InvalidCocoFileError, keypoint_result
from datasets_tfds.custom_pose.annotation_files import InvalidRecordError

ROOT = Path(__file__).parents[2]
DUMMY = ROOT / "datasets_tfds" / "coco_keypoints" / "dummy_data"
VAL_JSON = DUMMY / "annotations" / "person_keypoints_val2017.json"
TRAIN_JSON = DUMMY / "annotations" / "person_keypoints_train2017.json"


class CocoKeypointsTest(tfds.testing.DatasetBuilderTestCase):
    """Both splits of the dummy folder: crowd and keypoint-less annotations are not examples."""

    DATASET_CLASS = Builder
    SPLITS = {"train": 2, "validation": 3}
    SKIP_CHECKSUMS = True


# --- helpers -----------------------------------------------------------------------------------


def by_annotation(builder: tfds.core.DatasetBuilder, split: str) -> dict[int, dict[str, Any]]:
    return {int(example["annotation_id"]): example
            for example in tfds.as_numpy(builder.as_dataset(split=split))}


def annotations_of(path: Path) -> dict[int, dict[str, Any]]:
    document = json.loads(path.read_text())
    return {annotation["id"]: annotation for annotation in document["annotations"]}


def copy_dummy(destination: Path) -> Path:
    shutil.copytree(DUMMY, destination, ignore=shutil.ignore_patterns("*.py"))
    return destination


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tfds.core.DatasetBuilder:
    return Builder.prepared(DUMMY, tmp_path_factory.mktemp("coco"))


# --- values ------------------------------------------------------------------------------------


def test_known_point_is_the_pixel_centre_with_its_flags(built):
    example = by_annotation(built, "validation")[1001]
    # Written: nose (30, 12, v=2), left eye v=0, left wrist (41, 36, v=1).
    np.testing.assert_allclose(example["keypoints"][0], [30.5, 12.5])
    assert example["labelled"][0] and example["visibility"][0] == 1
    assert not example["labelled"][1] and example["keypoints"][1].tolist() == [0, 0]
    np.testing.assert_allclose(example["keypoints"][9], [41.5, 36.5])
    assert example["labelled"][9] and example["visibility"][9] == 0
    assert example["topology"] == b"coco_17"
    assert example["image_id"] == b"val2017/000000000139.jpg#1001"


def test_every_example_matches_its_annotation(built):
    for split, path in (("train", TRAIN_JSON), ("validation", VAL_JSON)):
        annotations = annotations_of(path)
        images = {image["id"]: image for image in json.loads(path.read_text())["images"]}
        for annotation_id, example in by_annotation(built, split).items():
            annotation = annotations[annotation_id]
            triples = np.asarray(annotation["keypoints"], float).reshape(17, 3)
            labelled = triples[:, 2] > 0
            assert example["labelled"].tolist() == labelled.tolist()
            np.testing.assert_allclose(example["keypoints"][labelled], triples[labelled, :2] + 0.5)
            assert example["visibility"].tolist() == (triples[:, 2] == 2).tolist()
            x, y, w, h = annotation["bbox"]
            np.testing.assert_allclose(example["person_box"], [x, y, x + w, y + h], rtol=1e-6)
            assert example["coco_image_id"] == annotation["image_id"]
            assert example["area"] == pytest.approx(annotation["area"])
            assert example["num_keypoints"] == annotation["num_keypoints"]
            assert example["iscrowd"] == 0
            image = images[annotation["image_id"]]
            assert (example["image_width"], example["image_height"]) == (image["width"],
                                                                         image["height"])
            assert example["image"].shape == (image["height"], image["width"], 3)


def test_crowd_and_keypointless_annotations_are_not_examples(built):
    assert set(by_annotation(built, "validation")) == {1001, 1002, 1004}  # not 1003, 1005
    assert set(by_annotation(built, "train")) == {2001, 2003}  # not 2002
    counts = built.info.metadata["annotations"]
    assert (counts["validation"]["crowd"], counts["validation"]["no_labelled_points"]) == (1, 1)
    assert (counts["train"]["crowd"], counts["train"]["no_labelled_points"]) == (0, 1)
    assert built.info.metadata["keypoint_names"] == list(COCO_17.keypoint_names)
    assert built.info.metadata["keypoint_offset_from_file"] == 0.5


def test_ground_truth_as_detections_scores_ap_one_with_pycocotools(built):
    """The stored ids, keypoints and offset let COCOeval match every person exactly."""
    results = [keypoint_result(example["coco_image_id"], example["keypoints"], 1.0)
               for example in by_annotation(built, "validation").values()]
    with contextlib.redirect_stdout(io.StringIO()):
        ground_truth = COCO(os.fspath(VAL_JSON))
        evaluation = COCOeval(ground_truth, ground_truth.loadRes(results), "keypoints")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    assert evaluation.stats[0] == pytest.approx(1.0)  # AP at OKS .50:.05:.95
    assert evaluation.stats[5] == pytest.approx(1.0)  # AR
    # The control: a one-pixel error on every point is no longer a perfect match.
    shifted = [dict(r, keypoints=[v + (1.0 if i % 3 < 2 else 0.0)
                                  for i, v in enumerate(r["keypoints"])]) for r in results]
    with contextlib.redirect_stdout(io.StringIO()):
        evaluation = COCOeval(ground_truth, ground_truth.loadRes(shifted), "keypoints")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    assert evaluation.stats[0] < 0.95


def test_keypoint_result_restores_the_files_integers(built):
    example = by_annotation(built, "validation")[1004]
    result = keypoint_result(example["coco_image_id"], example["keypoints"], 0.7)
    written = annotations_of(VAL_JSON)[1004]["keypoints"]
    np.testing.assert_allclose(np.reshape(result["keypoints"], (17, 3))[:, :2],
                               np.reshape(written, (17, 3))[:, :2])
    assert (result["image_id"], result["category_id"], result["score"]) == (785, 1, 0.7)


# --- splits and bad input ------------------------------------------------------------------------


def test_validation_alone_is_built_without_the_train_file(tmp_path):
    data = copy_dummy(tmp_path / "data")
    (data / "annotations" / "person_keypoints_train2017.json").unlink()
    builder = Builder.prepared(data, tmp_path / "out")
    assert {name: s.num_examples for name, s in builder.info.splits.items()} == {"validation": 3}
    assert str(data / "annotations" / "person_keypoints_train2017.json") in (
        builder.info.metadata["splits_not_built"]["train"])


def test_missing_files_are_listed_with_where_they_were_looked_for(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "README.md").write_text("not the data")
    with pytest.raises(FileNotFoundError) as raised:
        Builder.prepared(tmp_path / "data", tmp_path / "out")
    for name in ("person_keypoints_train2017.json", "person_keypoints_val2017.json"):
        assert str(tmp_path / "data" / "annotations" / name) in str(raised.value)


def test_missing_image_folder_and_image_are_named(tmp_path):
    data = copy_dummy(tmp_path / "data")
    shutil.rmtree(data / "train2017")
    with pytest.raises(FileNotFoundError, match=str(data / "train2017")):
        Builder.prepared(data, tmp_path / "out")
    data = copy_dummy(tmp_path / "data2")
    (data / "val2017" / "000000000785.jpg").unlink()
    with pytest.raises(FileNotFoundError) as raised:
        Builder.prepared(data, tmp_path / "out2")
    assert str(data / "val2017" / "000000000785.jpg") in str(raised.value)


def test_image_of_another_size_than_the_file_says_raises(tmp_path):
    data = copy_dummy(tmp_path / "data")
    # 64x48: its points stay within the range check's tolerance (one image side outside), so
    # the size check is the one that speaks (a 20x10 image fails the range check first).
    small = tf.io.encode_jpeg(tf.zeros([48, 64, 3], tf.uint8)).numpy()
    (data / "val2017" / "000000000139.jpg").write_bytes(small)
    with pytest.raises(InvalidRecordError, match="is 64x48 pixels, the annotation file says 96x72"):
        Builder.prepared(data, tmp_path / "out")


def test_bad_keypoints_are_listed_with_file_and_annotation(tmp_path):
    data = copy_dummy(tmp_path / "data")
    path = data / "annotations" / "person_keypoints_val2017.json"
    document = json.loads(path.read_text())
    document["annotations"][1]["keypoints"][2] = 3  # a visibility flag COCO does not have
    path.write_text(json.dumps(document))
    with pytest.raises(InvalidCocoFileError) as raised:
        Builder.prepared(data, tmp_path / "out")
    assert f"{path}, record 1 (annotation id 1002" in str(raised.value)
    assert "flags must be 0, 1 or 2" in str(raised.value)


def test_person_category_with_other_keypoint_names_raises(tmp_path):
    data = copy_dummy(tmp_path / "data")
    path = data / "annotations" / "person_keypoints_val2017.json"
    document = json.loads(path.read_text())
    names = document["categories"][0]["keypoints"]
    names[1], names[2] = names[2], names[1]  # right eye before left eye
    path.write_text(json.dumps(document))
    with pytest.raises(InvalidCocoFileError, match="COCO's 17 keypoint names in order"):
        Builder.prepared(data, tmp_path / "out")
