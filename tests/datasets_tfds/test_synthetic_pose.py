"""Tests of the synthetic_pose builder: TFDS conformance, determinism, and label geometry.

The geometric tests check the labels against the rendered image's own buffers (which body part
was drawn at each pixel and how near it is), so a wrong landmark placement, a left/right swap or
a wrong visibility rule shows up as a disagreement between labels and pixels.
"""

from __future__ import annotations

import pathlib

import numpy as np
import pytest
import tensorflow_datasets as tfds

from blazepose.synthesis import render
from blazepose.synthesis.body_model import (
    BODY_PARTS,
    LANDMARK_INDEX,
    BodyShape,
    neutral_angles,
    pose_body,
)
from blazepose.synthesis.exercise import EXERCISES
from blazepose.synthesis.inverse_kinematics import (
    arm_angles_from_directions,
    mirror_for_side,
    to_frame,
    two_bone_middle_joint,
)
from blazepose.synthesis.scene import Scene, render_posed_body, render_scene
from blazepose.synthesis.sequences import generate_sequence
from blazepose.topology import BLAZEPOSE_33
from datasets_tfds.common import pose_features
from datasets_tfds.synthetic_pose.synthetic_pose_dataset_builder import (
    Builder,
    SyntheticPoseConfig,
    image_example,
    sequence_example,
)

_BUILDER_DIR = pathlib.Path(Builder.code_path).parent
_JOINTS = [f"{side}_{joint}" for side in ("LEFT", "RIGHT")
           for joint in ("SHOULDER", "ELBOW", "WRIST", "HIP", "KNEE", "ANKLE")]


# ---------------------------------------------------------------------------------------------
# TFDS conformance
# ---------------------------------------------------------------------------------------------


class SyntheticPoseImagesTest(tfds.testing.DatasetBuilderTestCase):
    """Builds the ``tiny`` image config through TFDS and reads it back."""

    DATASET_CLASS = Builder
    BUILDER_CONFIG_NAMES_TO_TEST = ["tiny"]
    SPLITS = {"train": 16, "validation": 8}
    SKIP_CHECKSUMS = True  # nothing is downloaded
    EXAMPLE_DIR = str(_BUILDER_DIR)  # no dummy data is needed; any existing folder will do


class SyntheticPoseSequencesTest(tfds.testing.DatasetBuilderTestCase):
    """Builds a five-sequence variant of the sequence config through TFDS."""

    DATASET_CLASS = Builder
    BUILDER_CONFIG_NAMES_TO_TEST = [SyntheticPoseConfig(
        name="exercise_sequences_test", kind="sequences", num_train=3, num_validation=2, seed=9,
        description="Five sequences for the test.")]
    SPLITS = {"train": 3, "validation": 2}
    SKIP_CHECKSUMS = True
    EXAMPLE_DIR = str(_BUILDER_DIR)


def test_image_configs_use_the_shared_layout_and_topology():
    for config in Builder.BUILDER_CONFIGS:
        builder = Builder(config=config.name, data_dir="/nonexistent-synthetic-pose")
        assert builder.info.metadata["topology"] == "blazepose_33"
        assert builder.info.metadata["keypoint_names"] == list(BLAZEPOSE_33.keypoint_names)
        if config.kind == "images":
            assert repr(builder.info.features) == repr(pose_features(33))
    example = image_example(Builder.builder_configs["tiny"], "train", 0)
    pose_features(33).encode_example(example)  # the example fits the shared features


# ---------------------------------------------------------------------------------------------
# Determinism
# ---------------------------------------------------------------------------------------------


def _assert_same(first: dict, second: dict) -> None:
    assert first.keys() == second.keys()
    for key in first:
        np.testing.assert_array_equal(np.asarray(first[key]), np.asarray(second[key]), err_msg=key)


def test_examples_are_a_function_of_config_split_and_index():
    config = Builder.builder_configs["tiny"]
    _assert_same(image_example(config, "train", 3), image_example(config, "train", 3))
    other = image_example(config, "validation", 3)
    assert not np.array_equal(other["keypoints"], image_example(config, "train", 3)["keypoints"])
    sequences = Builder.builder_configs["exercise_sequences"]
    _assert_same(sequence_example(sequences, "validation", 1),
                 sequence_example(sequences, "validation", 1))


# ---------------------------------------------------------------------------------------------
# Label geometry on random scenes
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scenes() -> list[Scene]:
    """Forty varied scenes (all archetypes, views, occluders) at small sizes."""
    return [render_scene(np.random.default_rng([2024, i]), 160, 144) for i in range(40)]


def _pixel(scene: Scene, index: int) -> tuple[int, int]:
    x, y = scene.keypoints[index]
    return int(np.floor(y)), int(np.floor(x))


def _in_frame(scene: Scene, index: int) -> bool:
    x, y = scene.keypoints[index]
    height, width = scene.part_ids.shape
    return 0 <= x < width and 0 <= y < height


def test_visible_joints_lie_on_the_drawn_body(scenes):
    checked = 0
    for scene in scenes:
        for name in _JOINTS:
            index = LANDMARK_INDEX[name]
            if not scene.visibility[index]:
                continue
            row, col = _pixel(scene, index)
            part = scene.part_ids[row, col]
            assert part >= 0, f"{name} visible over background/occluder ({scene.archetype})"
            # Nothing drawn at that pixel is nearer than the joint's own limb surface.
            surface = scene.depth[index] - scene.landmark_radius[index]
            assert scene.person_depth[row, col] >= surface - scene.tolerance - 1e-3, name
            checked += 1
    assert checked > 200


def test_visible_face_and_extremity_points_touch_the_body(scenes):
    others = [name for name in LANDMARK_INDEX if name not in _JOINTS]
    for scene in scenes:
        padded = np.pad(scene.part_ids, 1, constant_values=render.BACKGROUND_PART)
        for name in others:
            index = LANDMARK_INDEX[name]
            if scene.visibility[index]:
                row, col = _pixel(scene, index)
                assert (padded[row:row + 3, col:col + 3] >= 0).any(), name


def test_hidden_points_are_covered_by_a_nearer_part_or_outside(scenes):
    covered_by_body = 0
    outside = 0
    for scene in scenes:
        for index in np.nonzero(scene.visibility == 0)[0]:
            if not _in_frame(scene, index):
                outside += 1
                continue
            row, col = _pixel(scene, index)
            if scene.part_ids[row, col] == render.OCCLUDER_PART:
                continue
            # The rendered buffers show a body part clearly in front of the point.
            surface = scene.depth[index] - scene.landmark_radius[index]
            assert scene.person_depth[row, col] < surface - scene.tolerance, (
                BLAZEPOSE_33.keypoint_names[index])
            assert scene.part_ids[row, col] >= 0
            covered_by_body += 1
    assert covered_by_body > 50
    assert outside > 0  # some scenes do cut people off


def test_out_of_frame_points_keep_coordinates_and_are_invisible(scenes):
    found = 0
    for scene in scenes:
        height, width = scene.part_ids.shape
        x, y = scene.keypoints[:, 0], scene.keypoints[:, 1]
        outside = (x < 0) | (x >= width) | (y < 0) | (y >= height)
        assert not scene.visibility[outside].any()
        found += int(outside.sum())
        # Through the builder's example layout: labelled, coordinates kept.
        if outside.any() and found < 50:
            assert scene.keypoints[outside].any()
    assert found > 0
    config = Builder.builder_configs["tiny"]
    example = image_example(config, "train", 0)
    assert example["labelled"].all()


# ---------------------------------------------------------------------------------------------
# Left and right, and a constructed occlusion
# ---------------------------------------------------------------------------------------------


def _standing_scene(seed: int, azimuth: float) -> Scene:
    return render_scene(np.random.default_rng([77, seed]), 192, 192, archetype="standing",
                        view_angles=(azimuth, 5.0, 0.0), occluder_probability=0.0,
                        distractor_probability=0.0)


@pytest.mark.parametrize("seed", range(4))
def test_left_is_on_the_image_right_when_facing_the_camera(seed):
    scene = _standing_scene(seed, azimuth=0.0)
    x = {name: scene.keypoints[i, 0] for name, i in LANDMARK_INDEX.items()}
    for part in ("SHOULDER", "HIP", "EYE", "EAR"):
        assert x[f"LEFT_{part}"] > x[f"RIGHT_{part}"], part
    assert x["MOUTH_LEFT"] > x["MOUTH_RIGHT"]
    # The drawn geometry agrees: the pixels at the shoulders belong to that side's arm.
    for side in ("LEFT", "RIGHT"):
        row, col = _pixel(scene, LANDMARK_INDEX[f"{side}_SHOULDER"])
        assert BODY_PARTS[scene.part_ids[row, col]].startswith(side.lower()), side


def _neutral_scene(seed: int, azimuth: float) -> Scene:
    """A person standing in the neutral pose (head straight) seen from ``azimuth``."""
    body = pose_body(BodyShape(), neutral_angles())
    return render_posed_body(np.random.default_rng([78, seed]), body, "neutral",
                             (azimuth, 5.0, 0.0), 192, 192, occluder_probability=0.0,
                             distractor_probability=0.0, allow_partial=False)


@pytest.mark.parametrize("seed", range(2))
def test_back_and_side_views_swap_and_hide_sides(seed):
    back = _neutral_scene(seed, azimuth=180.0)
    left, right = (back.keypoints[LANDMARK_INDEX[f"{s}_SHOULDER"], 0] for s in ("LEFT", "RIGHT"))
    assert left < right
    for name in ("NOSE", "LEFT_EYE", "RIGHT_EYE", "MOUTH_LEFT"):
        assert back.visibility[LANDMARK_INDEX[name]] == 0, name
    # Facing the image's right, the person's right side is towards the camera.
    side = _neutral_scene(seed, azimuth=90.0)
    assert side.visibility[LANDMARK_INDEX["RIGHT_EAR"]] == 1
    assert side.visibility[LANDMARK_INDEX["LEFT_EAR"]] == 0
    assert side.visibility[LANDMARK_INDEX["LEFT_EYE_OUTER"]] == 0
    right, left = (side.depth[LANDMARK_INDEX[f"{s}_SHOULDER"]] for s in ("RIGHT", "LEFT"))
    assert right < left


def _hand_over_nose(shape: BodyShape) -> dict[str, float]:
    """Neutral angles with the left arm raised so that the hand's centre is 9 cm in front of the
    nose (solved by inverse kinematics, then corrected for the hand's offset from the wrist)."""
    trunk = pose_body(shape, neutral_angles())
    nose = trunk.landmarks[LANDMARK_INDEX["NOSE"]]
    shoulder = trunk.landmarks[LANDMARK_INDEX["LEFT_SHOULDER"]]
    wrist_target = nose + np.array([0.0, -0.08, 0.05])
    angles = neutral_angles()
    angles.update(left_wrist_flex=0.0, left_wrist_deviation=0.0, left_hand_closure=0.0)
    for _ in range(6):
        elbow, wrist = two_bone_middle_joint(shoulder, wrist_target, shape.upper_arm_length,
                                             shape.forearm_length, np.array([0.3, -1.0, 0.0]))
        directions = [mirror_for_side(to_frame(trunk.chest_frame, v), "left")
                      for v in (elbow - shoulder, wrist - elbow)]
        angles.update({f"left_{k}": float(v)
                       for k, v in arm_angles_from_directions(*directions).items()})
        hand = pose_body(shape, angles).solids[BODY_PARTS.index("left_hand")].center
        wrist_target = wrist_target + (nose + np.array([0.0, 0.0, 0.09]) - hand)
    return angles


def test_a_hand_in_front_of_the_face_hides_the_nose():
    shape = BodyShape()
    body = pose_body(shape, _hand_over_nose(shape))
    scene = render_posed_body(np.random.default_rng(5), body, "test", (0.0, 0.0, 0.0), 200, 200,
                              size_range=(0.9, 0.9), occluder_probability=0.0,
                              distractor_probability=0.0, allow_partial=False)
    nose_index = LANDMARK_INDEX["NOSE"]
    assert scene.visibility[nose_index] == 0
    row, col = _pixel(scene, nose_index)
    assert BODY_PARTS[scene.part_ids[row, col]] in ("left_hand", "left_thumb", "left_forearm")
    assert scene.visibility[LANDMARK_INDEX["RIGHT_EAR"]] == 1
    assert scene.visibility[LANDMARK_INDEX["LEFT_WRIST"]] == 1


# ---------------------------------------------------------------------------------------------
# Exercise sequences
# ---------------------------------------------------------------------------------------------

# The joint whose angle a rule-based counter watches, as (end, vertex, end) landmark suffixes.
_COUNTED_ANGLE = {
    "pushup": ("SHOULDER", "ELBOW", "WRIST"),
    "squat": ("HIP", "KNEE", "ANKLE"),
    "lunge": ("HIP", "KNEE", "ANKLE"),
    "situp": ("SHOULDER", "HIP", "KNEE"),
    "jumping_jack": ("HIP", "SHOULDER", "ELBOW"),
}


def _joint_angle(points: np.ndarray, first: str, vertex: str, last: str) -> np.ndarray:
    """Angle (degrees) at ``vertex`` per frame, from ``[T, 33, 3]`` points."""
    u = points[:, LANDMARK_INDEX[first]] - points[:, LANDMARK_INDEX[vertex]]
    v = points[:, LANDMARK_INDEX[last]] - points[:, LANDMARK_INDEX[vertex]]
    norms = np.maximum(np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1), 1e-9)
    return np.degrees(np.arccos(np.clip(np.sum(u * v, axis=-1) / norms, -1.0, 1.0)))


def _count_cycles(sequence: dict) -> int:
    """Repetitions seen by a simple counter: joint angle (x, y and depth), hysteresis."""
    points = np.concatenate([sequence["keypoints"], sequence["depth"][..., None]], axis=-1)
    first, vertex, last = _COUNTED_ANGLE[sequence["exercise"]]
    angle = np.mean([_joint_angle(points, f"{side}_{first}", f"{side}_{vertex}", f"{side}_{last}")
                     for side in ("LEFT", "RIGHT")], axis=0)
    if sequence["exercise"] == "jumping_jack":  # the arms rise: count the opening as "down"
        angle = 180.0 - angle
    frames = np.arange(len(angle))
    tracked = sequence["labelled"].all(axis=-1)
    angle = np.interp(frames, frames[tracked], angle[tracked])  # bridge dropped frames
    padded = np.pad(angle, 1, mode="edge")
    angle = np.median(np.stack([padded[:-2], padded[1:-1], padded[2:]]), axis=0)  # outliers
    width = max(int(round(0.1 * float(sequence["fps"]))), 1)
    angle = np.convolve(np.pad(angle, (width // 2, width - 1 - width // 2), mode="edge"),
                        np.ones(width) / width, mode="valid")
    rest, turn = np.percentile(angle, 95), np.percentile(angle, 2)
    low, high = rest - 0.6 * (rest - turn), rest - 0.25 * (rest - turn)
    count, going_down = 0, False
    for value in angle:
        if not going_down and value < low:
            going_down = True
        elif going_down and value > high:
            going_down, count = False, count + 1
    return count


@pytest.mark.parametrize("exercise", EXERCISES)
def test_known_rep_count_equals_the_joint_angle_cycles(exercise):
    for i in range(2):
        sequence = generate_sequence(np.random.default_rng([31, i]), exercise=exercise)
        assert _count_cycles(sequence) == sequence["num_reps"], (exercise, i)


def test_sequence_layout_and_degradations():
    sequence = generate_sequence(np.random.default_rng(3), exercise="squat", num_reps=4)
    frames = int(sequence["num_frames"])
    assert sequence["keypoints"].shape == (frames, 33, 2)
    assert sequence["depth"].shape == sequence["visibility"].shape == (frames, 33)
    assert sequence["rep_intervals"].shape == (4, 2)
    intervals = sequence["rep_intervals"]
    assert (np.diff(intervals.ravel()) >= 0).all()
    assert intervals[-1, 1] <= frames / sequence["fps"]
    times = np.arange(frames) / sequence["fps"]
    for rep, (start, end) in enumerate(intervals):
        inside = (times >= start + 1e-3) & (times < end - 1e-3)
        assert (sequence["rep_index"][inside] == rep).all()
    unlabelled = ~sequence["labelled"]
    assert not sequence["keypoints"][unlabelled].any()
    assert not sequence["visibility"][unlabelled].any()
    width, height = sequence["frame_size"]
    clean = sequence["clean_keypoints"]
    outside = (clean[..., 0] < 0) | (clean[..., 0] >= width) | (clean[..., 1] < 0) | (
        clean[..., 1] >= height)
    assert not sequence["visibility"][outside].any()
    assert set(np.unique(sequence["visibility"])) <= {0.0, 1.0}
