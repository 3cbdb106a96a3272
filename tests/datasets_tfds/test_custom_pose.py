"""Tests for datasets_tfds/custom_pose: user keypoint data in the tf-blazepose layout or COCO.

The dummy data (``datasets_tfds/custom_pose/dummy_data``) is a tf-blazepose folder (7 points
per record, so topology pushup_7 by count) with a COCO folder in ``coco/``. Bad inputs are made
by copying it into a temporary folder and breaking one thing.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from blazepose.topology import BLAZEPOSE_33, COCO_17, LSP_14, MPII_16, PUSHUP_7, Topology
from datasets_tfds.common import read_topology
from datasets_tfds.custom_pose.annotation_files import InvalidRecordError, examples_by_image
from datasets_tfds.custom_pose.build_plan import (
    InvalidAnnotationsError,
    SourceOptions,
    plan_build,
)
from datasets_tfds.custom_pose.custom_pose_dataset_builder import Builder, CustomPoseConfig
from datasets_tfds.custom_pose.user_topology import TopologySpecError

ROOT = Path(__file__).parents[2]
BUILDER_DIR = ROOT / "datasets_tfds" / "custom_pose"
DUMMY = BUILDER_DIR / "dummy_data"
COCO_CONFIG = CustomPoseConfig(
    name="dummy_coco",
    split_files={"train": "coco/person_keypoints.json"},
    image_dir="coco/images",
)


# --- TFDS's own builder checks on the dummy data ---------------------------------------------

# tfds.testing imports `dill`, which tensorflow-datasets does not install by itself.
if importlib.util.find_spec("dill") is None:

    def test_tfds_dataset_builder_test_case():
        pytest.skip("tfds.testing needs the 'dill' package (pip install dill)")

else:

    class CustomPoseTfBlazeposeTest(tfds.testing.DatasetBuilderTestCase):
        """The default config on the tf-blazepose dummy folder."""

        DATASET_CLASS = Builder
        SPLITS = {"train": 3, "validation": 1, "test": 2}
        SKIP_CHECKSUMS = True

    class CustomPoseCocoTest(tfds.testing.DatasetBuilderTestCase):
        """A COCO file named per split through a config."""

        DATASET_CLASS = Builder
        BUILDER_CONFIG_NAMES_TO_TEST = [COCO_CONFIG]
        SPLITS = {"train": 2}
        SKIP_CHECKSUMS = True


# --- helpers -----------------------------------------------------------------------------------


def build(data: Path, out: Path, **options: Any) -> tfds.core.DatasetBuilder:
    """Prepares the data folder ``data`` into ``out`` with a config holding ``options``."""
    return Builder.prepared(data, out, CustomPoseConfig(name="under_test", **options))


def examples(builder: tfds.core.DatasetBuilder, split: str) -> list[dict[str, Any]]:
    """The split's examples as numpy, ordered by image_id (TFDS shuffles on write)."""
    found = list(tfds.as_numpy(builder.as_dataset(split=split)))
    return sorted(found, key=lambda example: example["image_id"])


def copy_tf_blazepose_dummy(destination: Path) -> Path:
    """The dummy tf-blazepose folder (without the COCO part) copied to ``destination``."""
    shutil.copytree(DUMMY / "images", destination / "images")
    for name in ("train.json", "val.json", "test.json"):
        shutil.copy(DUMMY / name, destination / name)
    return destination


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def write_json(path: Path, document: Any) -> None:
    path.write_text(json.dumps(document))


def write_records(folder: Path, count: int, split_file: str = "train.json") -> None:
    """A tf-blazepose folder whose records have ``count`` points (images are not needed to plan).
    """
    (folder / "images").mkdir(parents=True, exist_ok=True)
    record = {"image": "a.jpg", "points": [[1.0 + i, 2.0] for i in range(count)],
              "visibility": [1] * count}
    write_json(folder / split_file, [record, record])


def expected_box(points: np.ndarray, labelled: np.ndarray, width: int, height: int) -> list[float]:
    """The test's own labelled-keypoint extent clipped to the image."""
    kept = points[labelled]
    low = np.clip(kept.min(axis=0), 0, [width, height])
    high = np.clip(kept.max(axis=0), 0, [width, height])
    return [low[0], low[1], high[0], high[1]]


@pytest.fixture(scope="module")
def dummy_builder(tmp_path_factory) -> tfds.core.DatasetBuilder:
    """The default config prepared once from the committed dummy folder."""
    return build(DUMMY, tmp_path_factory.mktemp("tfds"))


@pytest.fixture(scope="module")
def coco_builder(tmp_path_factory) -> tfds.core.DatasetBuilder:
    out = tmp_path_factory.mktemp("tfds_coco")
    builder = Builder(data_dir=out, config=COCO_CONFIG)
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=os.fspath(DUMMY))
    )
    return builder


# --- values round-trip -------------------------------------------------------------------------


@pytest.mark.parametrize("split, file_name", [("train", "train.json"), ("validation", "val.json")])
def test_tf_blazepose_values_round_trip(dummy_builder, split, file_name):
    records = {record["image"]: record for record in read_json(DUMMY / file_name)}
    found = examples(dummy_builder, split)
    assert sorted(example["image_id"].decode() for example in found) == sorted(records)
    for example in found:
        record = records[example["image_id"].decode()]
        points = np.asarray(record["points"], np.float32)
        labelled = ~np.all(points == -1, axis=1)
        height, width = example["image"].shape[:2]
        assert (width, height) == (64, 48)
        np.testing.assert_array_equal(example["labelled"], labelled)
        np.testing.assert_array_equal(example["keypoints"], np.where(labelled[:, None], points, 0))
        np.testing.assert_array_equal(
            example["visibility"], np.where(labelled, np.asarray(record["visibility"]), 0))
        if "bbox" in record:
            (x1, y1), (x2, y2) = record["bbox"]
            np.testing.assert_array_equal(example["person_box"], [x1, y1, x2, y2])
        else:
            np.testing.assert_allclose(example["person_box"],
                                       expected_box(points, labelled, width, height))
        assert example["topology"] == b"pushup_7"


def test_not_labelled_point_becomes_unlabelled(dummy_builder):
    (person_b,) = [e for e in examples(dummy_builder, "train") if e["image_id"] == b"person_b.jpg"]
    assert person_b["labelled"].tolist() == [True, True, True, False, True, True, True]
    assert person_b["keypoints"][3].tolist() == [0.0, 0.0]
    assert person_b["visibility"][3] == 0.0


def test_png_image_is_decoded_and_two_people_get_distinct_ids(dummy_builder):
    (png,) = [e for e in examples(dummy_builder, "train") if e["image_id"] == b"person_e.png"]
    assert png["image"].shape == (48, 64, 3)
    assert png["image"][0, 0].tolist() == [255, 255, 255]  # white background survived JPEG
    ids = [e["image_id"].decode() for e in examples(dummy_builder, "test")]
    assert ids == ["two_people.jpg#test:0", "two_people.jpg#test:1"]


def test_dataset_info_describes_the_topology(dummy_builder):
    info = dummy_builder.info
    assert info.features["keypoints"].shape == (7, 2)
    assert info.metadata["topology"] == "pushup_7"
    assert info.metadata["keypoint_names"] == list(PUSHUP_7.keypoint_names)
    assert info.metadata["flip_permutation"] == list(PUSHUP_7.flip_permutation)
    assert info.metadata["skipped"]["train"]["invalid"] == 0
    reloaded = tfds.builder_from_directory(os.fspath(dummy_builder.data_dir))
    assert reloaded.info.features["keypoints"].shape == (7, 2)
    assert reloaded.info.metadata["topology"] == "pushup_7"
    assert read_topology(reloaded.info) is PUSHUP_7


def test_coco_values_crowd_and_visibility_flags(coco_builder):
    document = read_json(DUMMY / "coco" / "person_keypoints.json")
    annotations = {a["id"]: a for a in document["annotations"]}
    found = examples(coco_builder, "train")
    assert [e["image_id"] for e in found] == [b"park.jpg", b"street.jpg"]
    for example, annotation_id in zip(found, (103, 100), strict=True):
        triples = np.asarray(annotations[annotation_id]["keypoints"], np.float32).reshape(17, 3)
        flags = triples[:, 2]
        np.testing.assert_array_equal(example["labelled"], flags > 0)
        np.testing.assert_array_equal(example["visibility"], (flags == 2).astype(np.float32))
        # COCO's pixel indices + 0.5, as coco_keypoints stores them; 0, 0 where v == 0.
        np.testing.assert_array_equal(example["keypoints"],
                                      np.where(flags[:, None] > 0, triples[:, :2] + 0.5, 0.0))
        assert example["topology"] == b"coco_17"
    street = found[1]
    assert street["labelled"][2] and street["visibility"][2] == 0.0  # v == 1: labelled, hidden
    np.testing.assert_array_equal(street["person_box"], [8.0, 2.0, 32.5, 47.0])  # x, y, w, h
    park = found[0]
    triples = np.asarray(annotations[103]["keypoints"], np.float32).reshape(17, 3)
    np.testing.assert_allclose(park["person_box"],
                               expected_box(triples[:, :2] + 0.5, triples[:, 2] > 0, 64, 48))
    skipped = coco_builder.info.metadata["skipped"]["train"]
    assert (skipped["crowd"], skipped["no_labelled_points"], skipped["other_category"]) == (1, 1, 1)
    assert skipped["invalid"] == 0
    assert coco_builder.info.metadata["edges"] == [list(edge) for edge in COCO_17.edges]


# --- topology ------------------------------------------------------------------------------


@pytest.mark.parametrize("topology", [PUSHUP_7, LSP_14, MPII_16, COCO_17, BLAZEPOSE_33],
                         ids=lambda t: t.name)
def test_topology_defaults_by_keypoint_count(tmp_path, topology: Topology):
    write_records(tmp_path, topology.num_keypoints)
    assert plan_build(tmp_path, SourceOptions()).topology is topology


def test_unknown_keypoint_count_asks_for_a_topology(tmp_path):
    write_records(tmp_path, 5)
    with pytest.raises(TopologySpecError, match="topology.json"):
        plan_build(tmp_path, SourceOptions())


def test_user_topology_file_names_and_flip_permutation(tmp_path):
    write_records(tmp_path, 5)
    write_json(tmp_path / "topology.json", {
        "name": "paw_5",
        "keypoints": ["nose", "left_paw", "right_paw", "tail_l", "tail_r"],
        "edges": [["nose", "left_paw"], [0, 2], [3, 4]],
        "flip_pairs": [[1, 2], [3, 4]],
    })
    topology = plan_build(tmp_path, SourceOptions()).topology
    assert topology.name == "paw_5"
    assert topology.flip_permutation == (0, 2, 1, 4, 3)
    assert topology.edges == ((0, 1), (0, 2), (3, 4))
    assert topology.to_blazepose == (0, None, None, None, None)  # "nose" is BlazePose's 0


def test_user_topology_reaches_dataset_info(tmp_path):
    data = copy_tf_blazepose_dummy(tmp_path / "data")
    names = ["right_hand", "right_elbow", "right_shoulder", "crown", "left_shoulder",
             "left_elbow", "left_hand"]
    write_json(data / "topology.json", {"name": "arms_7", "keypoints": names})
    builder = build(data, tmp_path / "out")
    assert builder.info.metadata["topology"] == "arms_7"
    assert builder.info.metadata["keypoint_names"] == names
    assert builder.info.metadata["flip_permutation"] == [6, 5, 4, 3, 2, 1, 0]
    assert read_topology(builder.info).keypoint_names == tuple(names)
    assert {e["topology"] for e in examples(builder, "train")} == {b"arms_7"}


def test_flip_pairs_that_the_names_contradict_raise(tmp_path):
    write_records(tmp_path, 3)
    topology_file = tmp_path / "topology.json"
    write_json(topology_file, {"keypoints": ["head", "hand_a", "hand_b"], "flip_pairs": [[1, 2]]})
    with pytest.raises(TopologySpecError, match="flip_pairs") as raised:
        plan_build(tmp_path, SourceOptions())
    assert str(topology_file) in str(raised.value)


def test_config_topology_overrides_the_count_and_names_the_mismatch(tmp_path):
    write_records(tmp_path, 7)
    assert plan_build(tmp_path, SourceOptions(topology="pushup_7")).topology is PUSHUP_7
    with pytest.raises(InvalidAnnotationsError, match=r"expected 17 \(topology coco_17\)"):
        plan_build(tmp_path, SourceOptions(topology="coco_17"))


def test_named_topology_config_is_found_without_being_listed():
    builder_config = Builder.get_builder_config("lsp_14")
    assert builder_config is Builder.get_builder_config("lsp_14")
    assert builder_config.topology == "lsp_14"
    assert [c.name for c in Builder.BUILDER_CONFIGS] == ["auto"]


def test_coco_category_with_own_names_makes_a_topology(tmp_path):
    (tmp_path / "images").mkdir()
    write_json(tmp_path / "train.json", {
        "images": [{"id": 1, "file_name": "a.jpg"}],
        "categories": [{"id": 7, "name": "hand", "keypoints": ["wrist", "tip_l", "tip_r"],
                        "skeleton": [[1, 2], [1, 3]]}],
        "annotations": [{"id": 5, "image_id": 1, "category_id": 7,
                         "keypoints": [1, 2, 2, 3, 4, 1, 0, 0, 0]}],
    })
    plan = plan_build(tmp_path, SourceOptions())
    assert plan.topology.name == "hand_3"
    assert plan.topology.edges == ((0, 1), (0, 2))
    assert plan.topology.flip_permutation == (0, 2, 1)
    (record,) = plan.splits["train"].records
    assert record.labelled.tolist() == [True, True, False]
    assert record.visibility.tolist() == [1.0, 0.0, 0.0]


# --- bad input -------------------------------------------------------------------------------


def break_train_record(data: Path, index: int, change) -> dict[str, Any]:
    """Applies ``change`` to train.json's record ``index``; returns the changed record."""
    records = read_json(data / "train.json")
    change(records[index])
    write_json(data / "train.json", records)
    return records[index]


def drop_a_point(record: dict[str, Any]) -> None:
    record["points"].pop()


def drop_a_visibility(record: dict[str, Any]) -> None:
    record["visibility"].pop()


def nan_coordinate(record: dict[str, Any]) -> None:
    record["points"][2][0] = float("nan")  # json.dumps writes NaN, which json.load reads


def infinite_coordinate(record: dict[str, Any]) -> None:
    record["points"][4][1] = float("inf")


@pytest.mark.parametrize("change, reason", [
    (drop_a_point, "'points' has 6 entries, expected 7"),
    (drop_a_visibility, "'visibility' has 6 entries, expected 7"),
    (nan_coordinate, "non-finite"),
    (infinite_coordinate, "non-finite"),
], ids=["points", "visibility", "nan", "inf"])
def test_bad_record_raises_naming_file_and_record(tmp_path, change, reason):
    data = copy_tf_blazepose_dummy(tmp_path)
    record = break_train_record(data, 1, change)
    with pytest.raises(InvalidAnnotationsError) as raised:
        plan_build(data, SourceOptions())
    message = str(raised.value)
    assert f"{data / 'train.json'}, record 1 (image {record['image']!r}): " in message
    assert reason in message
    (error,) = raised.value.errors
    assert (error.record_index, error.image) == (1, record["image"])


def delete(image: Path) -> None:
    image.unlink()


def truncate(image: Path) -> None:
    image.write_bytes(image.read_bytes()[:200])  # a valid start, no picture data


@pytest.mark.parametrize("image_name, change, split_file, record, reason", [
    ("person_b.jpg", delete, "train.json", 1, "image file not found: {image}"),
    ("person_c.jpg", truncate, "val.json", 0, "cannot decode image file {image}"),
])
def test_bad_image_raises_naming_file_and_record(tmp_path, image_name, change, split_file,
                                                 record, reason):
    data = copy_tf_blazepose_dummy(tmp_path / "data")
    image = data / "images" / image_name
    change(image)
    with pytest.raises(InvalidRecordError) as raised:
        build(data, tmp_path / "out")
    message = str(raised.value)
    assert f"{data / split_file}, record {record} (image '{image_name}')" in message
    assert reason.format(image=image) in message


def test_missing_files_are_listed_with_where_they_were_looked_for(tmp_path):
    with pytest.raises(FileNotFoundError) as raised:
        plan_build(tmp_path, SourceOptions())
    message = str(raised.value)
    for name in ("train.json", "val.json", "test.json", "images"):
        assert str(tmp_path / name) in message
    (tmp_path / "images").mkdir()
    write_json(tmp_path / "train.json", [])
    with pytest.raises(FileNotFoundError, match="annotations/val.json"):
        plan_build(tmp_path, SourceOptions(split_files={"train": "train.json",
                                                        "validation": "annotations/val.json"}))


def test_skip_invalid_counts_and_reports(tmp_path, caplog):
    data = copy_tf_blazepose_dummy(tmp_path / "data")
    break_train_record(data, 0, drop_a_point)
    (data / "images" / "person_b.jpg").write_bytes(b"not a picture")  # train record 1
    test_records = read_json(data / "test.json")
    nan_coordinate(test_records[1])
    write_json(data / "test.json", test_records)
    with caplog.at_level(logging.WARNING):
        builder = build(data, tmp_path / "out", skip_invalid=True)
    splits = {name: split.num_examples for name, split in builder.info.splits.items()}
    assert splits == {"train": 1, "validation": 1, "test": 1}
    skipped = builder.info.metadata["skipped"]
    assert [skipped[name]["invalid"] for name in ("train", "validation", "test")] == [2, 0, 1]
    reasons = {entry["record"]: entry["reason"] for entry in skipped["train"]["invalid_records"]}
    assert sorted(reasons) == [0, 1]
    assert "'points' has 6 entries" in reasons[0]
    assert "cannot decode image file" in reasons[1]
    assert skipped["test"]["invalid_records"][0]["image"] == "two_people.jpg"
    assert "split 'train'" in caplog.text and "2 invalid record(s) skipped" in caplog.text


def test_skip_invalid_cannot_leave_a_generated_split_empty(tmp_path):
    data = copy_tf_blazepose_dummy(tmp_path / "data")
    (data / "images" / "person_c.jpg").write_bytes(b"")  # val.json's only record
    with pytest.raises(ValueError, match="every record of split 'validation'") as raised:
        build(data, tmp_path / "out", skip_invalid=True)
    assert "record 0 (image 'person_c.jpg')" in str(raised.value)


def test_skip_invalid_keeps_good_records_of_a_split(tmp_path):
    data = copy_tf_blazepose_dummy(tmp_path / "data")
    (data / "images" / "person_a.jpg").unlink()
    builder = build(data, tmp_path / "out", skip_invalid=True)
    assert builder.info.splits["train"].num_examples == 2
    (entry,) = builder.info.metadata["skipped"]["train"]["invalid_records"]
    assert (entry["record"], entry["image"]) == (0, "person_a.jpg")


def test_an_image_of_several_people_is_decoded_once(monkeypatch):
    plan = plan_build(DUMMY, SourceOptions())
    decoded = []
    decode_image = tf.io.decode_image

    def counting_decode(data, *args, **kwargs):
        decoded.append(len(data))
        return decode_image(data, *args, **kwargs)

    monkeypatch.setattr(tf.io, "decode_image", counting_decode)
    results = list(examples_by_image(plan.splits["test"].records, plan.topology))
    assert len(results) == 2 and len(decoded) == 1
    assert [record.record_index for record, _ in results] == [0, 1]


def test_a_missing_image_of_several_people_fails_each_record(tmp_path):
    data = copy_tf_blazepose_dummy(tmp_path)
    (data / "images" / "two_people.jpg").unlink()
    plan = plan_build(data, SourceOptions())
    results = list(examples_by_image(plan.splits["test"].records, plan.topology))
    assert [(r.record_index, type(e)) for r, e in results] == [(0, InvalidRecordError),
                                                                (1, InvalidRecordError)]
    assert "record 1 (image 'two_people.jpg')" in str(results[1][1])


# --- coordinates against the image (issue 21) ---------------------------------------------


def far_point(record: dict[str, Any]) -> None:
    record["points"][2] = [1e6, -5e5]


def far_box(record: dict[str, Any]) -> None:
    record["bbox"] = [[4, 2], [90000, 90000]]


@pytest.mark.parametrize("change, reason", [
    (far_point, "point 2 is at (1e+06, -500000)"),
    (far_box, "person box (4, 2, 90000, 90000) lies far outside the image"),
], ids=["point", "box"])
def test_coordinates_far_outside_the_image_are_refused(tmp_path, change, reason):
    data = copy_tf_blazepose_dummy(tmp_path / "data")
    break_train_record(data, 0, change)
    with pytest.raises(InvalidRecordError) as raised:
        build(data, tmp_path / "out")
    message = str(raised.value)
    assert f"{data / 'train.json'}, record 0 (image 'person_a.jpg')" in message
    assert reason in message


def test_coordinates_far_outside_are_counted_when_skipping(tmp_path, caplog):
    data = copy_tf_blazepose_dummy(tmp_path / "data")
    break_train_record(data, 0, far_point)
    with caplog.at_level(logging.WARNING):
        builder = build(data, tmp_path / "out", skip_invalid=True)
    assert builder.info.splits["train"].num_examples == 2
    (entry,) = builder.info.metadata["skipped"]["train"]["invalid_records"]
    assert entry["record"] == 0 and "far outside the image" in entry["reason"]
    assert "1 invalid record(s) skipped" in caplog.text


def test_points_just_outside_the_image_are_kept(tmp_path):
    data = copy_tf_blazepose_dummy(tmp_path / "data")
    # person_a.jpg is 64 pixels wide: -10 and 70 lie outside but within the tolerance.
    point_outside = break_train_record(
        data, 0, lambda record: record["points"].__setitem__(0, [-10.0, 70.0]))
    builder = build(data, tmp_path / "out")
    kept = next(e for e in examples(builder, "train") if e["image_id"] == b"person_a.jpg")
    np.testing.assert_allclose(kept["keypoints"][0], point_outside["points"][0])


# --- leakage, duplicates and stale prepared data (issue 21) ---------------------------------


def test_an_image_in_two_splits_and_repeated_records_are_counted_and_named(tmp_path, caplog):
    data = copy_tf_blazepose_dummy(tmp_path / "data")
    train = read_json(data / "train.json")
    write_json(data / "val.json", [train[0]])  # the same image and labels in validation
    write_json(data / "train.json", train + [train[1], train[1]])  # record 1 three times
    with caplog.at_level(logging.WARNING):
        plan_build(data, SourceOptions())
    assert "1 image(s) used by more than one split" in caplog.text
    assert f"{data / 'images' / 'person_a.jpg'} (train, validation)" in caplog.text
    assert "3 duplicate record(s) in 2 group(s)" in caplog.text
    assert "train record 1 = train record 3 = train record 4" in caplog.text
    assert "train record 0 = validation record 0" in caplog.text
    with pytest.raises(ValueError, match=r"Refused \(strict=True\)"):
        plan_build(data, SourceOptions(strict=True))


def test_distinct_people_of_one_image_are_no_duplicates(tmp_path, caplog):
    data = copy_tf_blazepose_dummy(tmp_path / "data")
    with caplog.at_level(logging.WARNING):
        plan_build(data, SourceOptions(strict=True))  # test.json: two people in one image
    assert "duplicate" not in caplog.text


def test_reusing_a_prepared_data_set_whose_folder_changed_says_so(tmp_path, caplog):
    data = copy_tf_blazepose_dummy(tmp_path / "data")
    build(data, tmp_path / "out")
    with caplog.at_level(logging.WARNING):
        build(data, tmp_path / "out")
    assert "reusing the data set" not in caplog.text
    break_train_record(data, 0, lambda record: record["points"][0].__setitem__(0, 9.0))
    with caplog.at_level(logging.WARNING):
        builder = build(data, tmp_path / "out")
    assert "reusing the data set prepared in" in caplog.text
    assert f"changed since: {data / 'train.json'}" in caplog.text
    assert builder.stale_source() is not None


def _build_data(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "launch.build_data", *args],
                          capture_output=True, text=True, check=False, cwd=ROOT)


def test_build_program_names_a_bad_record_in_one_line_and_builds_a_good_folder(tmp_path):
    """``launch.build_data`` is ``tfds build`` with the project's one-line errors: a point far
    outside its image names the file and record, with no traceback, and nothing is kept."""
    data = copy_tf_blazepose_dummy(tmp_path / "data")
    break_train_record(data, 0, far_point)
    failed = _build_data("--dataset=custom_pose", f"--manual_dir={data}",
                         f"--data_dir={tmp_path / 'out'}")
    assert failed.returncode != 0
    assert "Traceback" not in failed.stderr
    assert "launch.build_data: error:" in failed.stderr
    assert f"{data / 'train.json'}, record 0" in failed.stderr
    assert not list((tmp_path / "out").rglob("*.tfrecord*"))
    good = copy_tf_blazepose_dummy(tmp_path / "good")
    built = _build_data("--dataset=custom_pose", f"--manual_dir={good}",
                        f"--data_dir={tmp_path / 'out'}")
    assert built.returncode == 0, built.stderr
    summary = json.loads(built.stdout.strip().splitlines()[-1])
    assert summary["splits"]["train"] == 3 and summary["dataset"] == "custom_pose"
