"""Tests for datasets_tfds/mpii: MPII Human Pose from its original RELEASE .mat file.

The dummy data (``datasets_tfds/mpii/dummy_data``, written by its ``make_dummy_data.py``) is a
six-image MPII folder whose .mat has the real file's nesting and quirks; see that script's
docstring for what each image exercises. Expected values below are the script's annotation
values (1-based MATLAB pixels) minus 0.5.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import shutil
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
import scipy.io
import tensorflow_datasets as tfds

from blazepose.metrics import mpii_head_size
from blazepose.topology import MPII_16
from datasets_tfds.mpii.mpii_dataset_builder import Builder, MpiiConfig, locate_files
from datasets_tfds.mpii.release_file import parse_release, read_release
from datasets_tfds.mpii.splits import SplitFileError

ROOT = Path(__file__).parents[2]
BUILDER_DIR = ROOT / "datasets_tfds" / "mpii"
DUMMY = BUILDER_DIR / "dummy_data"
MAT = "mpii_human_pose_v1_u12_1.mat"

ALL_PEOPLE = {"015601864.jpg#0", "015599452.jpg#0", "015599452.jpg#1", "005808361.jpg#0",
              "005808361.jpg#1", "099946068.jpg#0", "099946068.jpg#1"}
SINGLE_PEOPLE = {"015601864.jpg#0", "005808361.jpg#0", "099946068.jpg#0"}
VIDEO_OF_IMAGE = {"015601864.jpg": "dummyVidA01", "015599452.jpg": "dummyVidA01",
                  "005808361.jpg": "dummyVidB01", "099946068.jpg": "dummyVidC09"}


class MpiiSinglePersonTest(tfds.testing.DatasetBuilderTestCase):
    """single_person: the people single_person lists (images 1, 3 train; image 6 validation)."""

    DATASET_CLASS = Builder
    BUILDER_CONFIG_NAMES_TO_TEST = ["single_person"]
    SPLITS = {"train": 2, "validation": 1}
    SKIP_CHECKSUMS = True


class MpiiMultiPersonTest(tfds.testing.DatasetBuilderTestCase):
    """multi_person: every person with joints (5 on videos A and B, 2 on video C)."""

    DATASET_CLASS = Builder
    BUILDER_CONFIG_NAMES_TO_TEST = ["multi_person"]
    SPLITS = {"train": 5, "validation": 2}
    SKIP_CHECKSUMS = True


# --- helpers -----------------------------------------------------------------------------------


def build(manual_dir: Path, out: Path, config: str | MpiiConfig = "multi_person"
          ) -> tfds.core.DatasetBuilder:
    return Builder.prepared(manual_dir, out, config)


def by_id(builder: tfds.core.DatasetBuilder) -> dict[str, tuple[str, dict[str, Any]]]:
    """image_id -> (split, example) over every split."""
    found = {}
    for split in builder.info.splits:
        for example in tfds.as_numpy(builder.as_dataset(split=split)):
            found[example["image_id"].decode()] = (split, example)
    return found


def copy_dummy(destination: Path) -> Path:
    shutil.copytree(DUMMY, destination, ignore=shutil.ignore_patterns("*.py"))
    return destination


def write_valid_h5(path: Path, index: list[int], person: list[int], names: list[str]) -> None:
    """pose-hg-train's annot/valid.h5 layout: index, person (0-based float64), imgname (|S13)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as file:
        file["index"] = np.asarray(index, np.float64)
        file["person"] = np.asarray(person, np.float64)
        file["imgname"] = np.asarray([name.encode() for name in names])


def write_detections_mat(path: Path, index: list[int], person: list[int]) -> None:
    """Tompson et al.'s detections.mat: 1xN RELEASE_img_index (uint16) and
    RELEASE_person_index (uint8), 1-based."""
    scipy.io.savemat(path, {"RELEASE_img_index": np.asarray([index], np.uint16),
                            "RELEASE_person_index": np.asarray([person], np.uint8)})


def classic_release() -> Any:
    """The dummy file loaded as pose-hg-train's mpii.py loads the real one (no squeezing)."""
    return scipy.io.loadmat(DUMMY / MAT)["RELEASE"]


@pytest.fixture(scope="module")
def multi(tmp_path_factory) -> dict[str, tuple[str, dict[str, Any]]]:
    return by_id(build(DUMMY, tmp_path_factory.mktemp("mpii")))


# --- values ------------------------------------------------------------------------------------


def test_known_points_have_the_expected_pixels_and_flags(multi):
    split, first = multi["015601864.jpg#0"]
    assert split == "train"
    # Head top (id 9) is written at (48, 11): centre of 1-based pixel 48 is continuous 47.5.
    np.testing.assert_allclose(first["keypoints"][9], [47.5, 10.5])
    # Right wrist (id 10) at (37, 38), is_visible 0: labelled, not visible.
    np.testing.assert_allclose(first["keypoints"][10], [36.5, 37.5])
    assert first["labelled"][10] and first["visibility"][10] == 0
    assert first["labelled"].all() and first["visibility"].sum() == 14
    assert first["topology"] == b"mpii_16"

    _, strings = multi["015599452.jpg#0"]  # is_visible as '1', '0' and empty values
    assert strings["visibility"].tolist() == [1] * 12 + [0, 1, 0, 1]
    _, one_point = multi["015599452.jpg#1"]  # a person with only the head top
    assert one_point["labelled"].tolist() == [i == 9 for i in range(16)]
    np.testing.assert_allclose(one_point["keypoints"][9], [69.5, 18.5])
    assert not one_point["keypoints"][~one_point["labelled"]].any()
    _, no_legs = multi["005808361.jpg#0"]  # knees and ankles not annotated
    assert np.flatnonzero(~no_legs["labelled"]).tolist() == [0, 1, 4, 5]
    assert no_legs["visibility"][[0, 1, 4, 5]].tolist() == [0, 0, 0, 0]
    _, no_field = multi["005808361.jpg#1"]  # points without an is_visible field
    assert no_field["labelled"].all() and no_field["visibility"].all()


def test_every_example_matches_the_file_read_the_classic_way(multi):
    """Index the .mat as pose-hg-train does; keypoints and head boxes are the file's - 0.5."""
    annolist = classic_release()["annolist"][0][0][0]
    for image_id, (_, example) in multi.items():
        name, person = image_id.split("#")
        index = int(example["annolist_index"])
        assert str(annolist["image"][index][0]["name"][0][0]) == name
        rect = annolist["annorect"][index][0][int(person)]
        assert int(example["annorect_index"]) == int(person)
        points = rect["annopoints"][0][0]["point"][0]
        expected = np.zeros((16, 2))
        for point in points:
            expected[int(point["id"][0][0])] = [point["x"][0][0], point["y"][0][0]]
        labelled = np.zeros(16, bool)
        labelled[[int(point["id"][0][0]) for point in points]] = True
        assert example["labelled"].tolist() == labelled.tolist(), image_id
        np.testing.assert_allclose(example["keypoints"][labelled], expected[labelled] - 0.5)
        corners = [float(rect[key][0][0]) for key in ("x1", "y1", "x2", "y2")]
        np.testing.assert_allclose(example["head_box"], np.asarray(corners) - 0.5)


def test_head_box_scale_and_objpos_are_kept(multi):
    _, example = multi["015601864.jpg#0"]
    # Written: x1, y1, x2, y2 = 44, 11, 52, 20; scale 56 / 200; objpos (48, 38).
    np.testing.assert_allclose(example["head_box"], [43.5, 10.5, 51.5, 19.5])
    np.testing.assert_allclose(mpii_head_size(example["head_box"][None]), [0.6 * np.hypot(8, 9)])
    assert example["scale"] == pytest.approx(0.28)
    np.testing.assert_allclose(example["objpos"], [47.5, 37.5])
    # person_box: the 200 * scale square around objpos.
    np.testing.assert_allclose(example["person_box"], [47.5 - 28, 37.5 - 28, 47.5 + 28, 37.5 + 28])
    _, unplaced = multi["005808361.jpg#1"]  # no scale or objpos: the joints' extent
    assert unplaced["scale"] == 0 and not unplaced["objpos"].any()
    points = unplaced["keypoints"]
    np.testing.assert_allclose(unplaced["person_box"], [*points.min(axis=0), *points.max(axis=0)])


def test_multi_person_has_one_example_per_annotated_person(multi):
    assert set(multi) == ALL_PEOPLE  # not the jointless annorect, not the test image
    assert {i for i, (_, e) in multi.items() if e["in_single_person_subset"]} == SINGLE_PEOPLE
    assert len({e["image"].tobytes() for _, e in multi.values()}) == 4  # 4 images, 7 people


def test_single_person_config_keeps_the_listed_people(tmp_path):
    found = by_id(build(DUMMY, tmp_path, "single_person"))
    assert set(found) == SINGLE_PEOPLE
    assert all(example["in_single_person_subset"] for _, example in found.values())


def test_video_hash_split_keeps_videos_together(multi):
    for image_id, (split, _) in multi.items():
        video = VIDEO_OF_IMAGE[image_id.split("#")[0]]
        in_validation = int(hashlib.sha256(video.encode()).hexdigest(), 16) % 10 == 0
        assert split == ("validation" if in_validation else "train"), image_id


def test_mpii_16_is_in_mpii_joint_id_order():
    # MPII README: 0 r ankle, 1 r knee, 2 r hip, 3 l hip, 4 l knee, 5 l ankle, 6 pelvis,
    # 7 thorax, 8 upper neck, 9 head top, 10 r wrist, 11 r elbow, 12 r shoulder,
    # 13 l shoulder, 14 l elbow, 15 l wrist.
    readme = ["r ankle", "r knee", "r hip", "l hip", "l knee", "l ankle", "pelvis", "thorax",
              "upper neck", "head top", "r wrist", "r elbow", "r shoulder", "l shoulder",
              "l elbow", "l wrist"]
    assert list(MPII_16.keypoint_names) == [name.replace(" ", "_") for name in readme]


def test_metadata_describes_topology_and_split(tmp_path):
    builder = build(DUMMY, tmp_path)
    metadata = builder.info.metadata
    assert metadata["keypoint_names"] == list(MPII_16.keypoint_names)
    assert metadata["keypoint_offset_from_file"] == -0.5
    assert metadata["split"]["policy"] == "video_hash"
    assert metadata["split"]["examples"] == {"train": 5, "validation": 2}
    assert metadata["annorects_without_joints"] == 1
    assert metadata["skipped_people"]["count"] == 0


# --- Tompson et al.'s validation list ------------------------------------------------------------


def test_tompson_valid_h5_chooses_validation_people(tmp_path):
    data = copy_dummy(tmp_path / "data")
    write_valid_h5(data / "annot" / "valid.h5", [1], [0], ["015599452.jpg"])
    builder = build(data, tmp_path / "out")
    found = by_id(builder)
    assert {i for i, (split, _) in found.items() if split == "validation"} == {"015599452.jpg#0"}
    # The unlisted person of a validation image is in neither split.
    assert set(found) == ALL_PEOPLE - {"015599452.jpg#1"}
    split = builder.info.metadata["split"]
    assert (split["policy"], split["left_out"]) == ("tompson", 1)
    assert split["source"] == str(data / "annot" / "valid.h5")


def test_tompson_detections_mat_gives_the_same_split(tmp_path):
    data = copy_dummy(tmp_path / "data")
    write_detections_mat(data / "detections.mat", [2], [1])  # 1-based: image 2, person 1
    found = by_id(build(data, tmp_path / "out"))
    assert {i for i, (split, _) in found.items() if split == "validation"} == {"015599452.jpg#0"}
    assert set(found) == ALL_PEOPLE - {"015599452.jpg#1"}


def test_tompson_file_that_disagrees_with_the_annotations_raises(tmp_path):
    data = copy_dummy(tmp_path / "data")
    write_valid_h5(data / "valid.h5", [1], [0], ["015601864.jpg"])
    with pytest.raises(SplitFileError, match="row 0: imgname '015601864.jpg'"):
        build(data, tmp_path / "out")


def test_tompson_policy_without_valid_h5_names_where_it_looked(tmp_path):
    config = MpiiConfig(name="tompson_only", people="all", validation_split="tompson")
    with pytest.raises(FileNotFoundError) as raised:
        locate_files(DUMMY, config)
    for name in ("valid.h5", "annot/valid.h5", "detections.mat"):
        assert str(DUMMY / name) in str(raised.value)


# --- bad input ----------------------------------------------------------------------------------


def test_missing_files_are_listed_with_where_they_were_looked_for(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "README.md").write_text("not the data")
    with pytest.raises(FileNotFoundError) as raised:
        build(tmp_path / "data", tmp_path / "out")
    message = str(raised.value)
    assert str(tmp_path / "data" / MAT) in message
    assert str(tmp_path / "data" / "mpii_human_pose_v1_u12_2" / MAT) in message
    assert str(tmp_path / "data" / "images") in message


def test_missing_image_is_named_with_its_folder(tmp_path):
    data = copy_dummy(tmp_path / "data")
    (data / "images" / "099946068.jpg").unlink()
    with pytest.raises(FileNotFoundError) as raised:
        build(data, tmp_path / "out")
    assert str(data / "images" / "099946068.jpg") in str(raised.value)


def test_annotation_file_in_the_archive_folder_is_found(tmp_path):
    data = copy_dummy(tmp_path / "data")
    (data / "mpii_human_pose_v1_u12_2").mkdir()
    (data / MAT).rename(data / "mpii_human_pose_v1_u12_2" / MAT)
    builder = build(data, tmp_path / "out")
    assert builder.info.splits["train"].num_examples == 5


def load_generator():
    spec = importlib.util.spec_from_file_location("mpii_dummy", DUMMY / "make_dummy_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_unreadable_person_is_skipped_and_reported(tmp_path):
    generator = load_generator()
    release = generator.release_struct()
    point = release["annolist"][0, 0][0, 0]["annorect"][0, 0]["annopoints"][0, 0]["point"]
    point[0, 3]["id"] = 16.0  # a joint id MPII does not have
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, {"RELEASE": release})
    buffer.seek(0)
    parsed = parse_release(
        scipy.io.loadmat(buffer, struct_as_record=False, squeeze_me=True)["RELEASE"], "x.mat")
    (skipped,) = parsed.skipped
    assert (skipped.annolist_index, skipped.annorect_index, skipped.image) == (0, 0,
                                                                              "015601864.jpg")
    assert "joint id 16" in skipped.reason
    assert len(list(parsed.people())) == len(ALL_PEOPLE) - 1


def test_not_a_release_file_raises_naming_it(tmp_path):
    path = tmp_path / MAT
    scipy.io.savemat(path, {"something_else": np.ones(3)})
    with pytest.raises(ValueError, match=f"{path}: no variable 'RELEASE'"):
        read_release(path)


# --- dummy data script ---------------------------------------------------------------------------


def assert_same_matlab(ours: Any, committed: Any, where: str = "RELEASE") -> None:
    """Recursive equality of two loadmat values: struct fields, shapes, classes, values."""
    assert type(ours) is type(committed), where
    if not isinstance(ours, np.ndarray):
        assert ours == committed, where
        return
    assert (ours.shape, ours.dtype.names) == (committed.shape, committed.dtype.names), where
    if ours.dtype.names:
        for index in np.ndindex(ours.shape):
            for name in ours.dtype.names:
                assert_same_matlab(ours[index][name], committed[index][name],
                                   f"{where}{list(index)}.{name}")
    elif ours.dtype == object:
        for index in np.ndindex(ours.shape):
            assert_same_matlab(ours[index], committed[index], f"{where}{list(index)}")
    else:
        assert ours.dtype == committed.dtype, where
        np.testing.assert_array_equal(ours, committed, err_msg=where)


def test_dummy_data_script_reproduces_the_committed_release(tmp_path):
    load_generator().write_folder(tmp_path)
    # Compared as loaded (compressed bytes may differ between zlib versions); the other files
    # are compared in test_dummy_data.py.
    assert_same_matlab(scipy.io.loadmat(tmp_path / MAT)["RELEASE"], classic_release())
