"""Tests for blazepose.topology: keypoint sets, mirror rule, BlazePose mapping, serialisation."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from blazepose.topology import (
    AUX_ROI_CENTER_INDEX,
    AUX_ROI_SCALE_INDEX,
    BLAZEPOSE_33,
    BLAZEPOSE_39,
    COCO_17,
    LSP_14,
    MODEL_OUTPUT_NAMES,
    MPII_16,
    NUM_BLAZEPOSE_LANDMARKS,
    NUM_MODEL_OUTPUT_LANDMARKS,
    PUSHUP_7,
    TOPOLOGIES,
    UPPER_BODY_25,
    PoseLandmark,
    Topology,
    get_topology,
    unmapped_indices,
)

ALL_TOPOLOGIES = list(TOPOLOGIES.values())
by_topology = pytest.mark.parametrize("topology", ALL_TOPOLOGIES, ids=lambda t: t.name)

_SIDE_WORDS = {"l": "left", "r": "right", "left": "left", "right": "right"}
_SWAP = {"left": "right", "right": "left"}


def _words(name: str) -> list[str]:
    """The test's own reading of a name: lower-case words split at underscores, l/r spelled out."""
    return [_SIDE_WORDS.get(word, word) for word in name.lower().split("_")]


def _mirrored_words(name: str) -> list[str]:
    return [_SWAP.get(word, word) for word in _words(name)]


# --- registry ---------------------------------------------------------------------------------


def test_registry_holds_every_module_constant():
    constants = {BLAZEPOSE_33, BLAZEPOSE_39, UPPER_BODY_25, LSP_14, MPII_16, COCO_17, PUSHUP_7}
    assert set(TOPOLOGIES.values()) == constants


@by_topology
def test_get_topology_returns_registered_topology(topology):
    assert get_topology(topology.name) is topology
    assert get_topology(topology.name.upper()) is topology
    assert TOPOLOGIES[topology.name] is topology


def test_get_topology_unknown_name_lists_known_names():
    with pytest.raises(ValueError, match="unknown topology") as error:
        get_topology("h36m_17")
    for name in TOPOLOGIES:
        assert name in str(error.value)


# --- definitions ------------------------------------------------------------------------------


# Published orders, written out independently of the module (MediaPipe PoseLandmark, LSP
# readme, MPII joint ids, COCO person keypoints, tf-blazepose push-up conversions).
PUBLISHED_ORDERS = {
    "blazepose_33": (
        "NOSE LEFT_EYE_INNER LEFT_EYE LEFT_EYE_OUTER RIGHT_EYE_INNER RIGHT_EYE RIGHT_EYE_OUTER "
        "LEFT_EAR RIGHT_EAR MOUTH_LEFT MOUTH_RIGHT LEFT_SHOULDER RIGHT_SHOULDER LEFT_ELBOW "
        "RIGHT_ELBOW LEFT_WRIST RIGHT_WRIST LEFT_PINKY RIGHT_PINKY LEFT_INDEX RIGHT_INDEX "
        "LEFT_THUMB RIGHT_THUMB LEFT_HIP RIGHT_HIP LEFT_KNEE RIGHT_KNEE LEFT_ANKLE RIGHT_ANKLE "
        "LEFT_HEEL RIGHT_HEEL LEFT_FOOT_INDEX RIGHT_FOOT_INDEX"
    ),
    "lsp_14": (
        "right_ankle right_knee right_hip left_hip left_knee left_ankle right_wrist right_elbow "
        "right_shoulder left_shoulder left_elbow left_wrist neck head_top"
    ),
    "mpii_16": (
        "r_ankle r_knee r_hip l_hip l_knee l_ankle pelvis thorax upper_neck head_top r_wrist "
        "r_elbow r_shoulder l_shoulder l_elbow l_wrist"
    ),
    "coco_17": (
        "nose left_eye right_eye left_ear right_ear left_shoulder right_shoulder left_elbow "
        "right_elbow left_wrist right_wrist left_hip right_hip left_knee right_knee left_ankle "
        "right_ankle"
    ),
    "pushup_7": "r_wrist r_elbow r_shoulder head_top l_shoulder l_elbow l_wrist",
}


@pytest.mark.parametrize("name", PUBLISHED_ORDERS)
def test_keypoint_orders_match_published_orders(name):
    assert get_topology(name).keypoint_names == tuple(PUBLISHED_ORDERS[name].split())


def test_blazepose_33_follows_mediapipe():
    assert BLAZEPOSE_33.num_keypoints == NUM_BLAZEPOSE_LANDMARKS
    assert BLAZEPOSE_33.to_blazepose == tuple(range(NUM_BLAZEPOSE_LANDMARKS))
    assert len(set(BLAZEPOSE_33.edges)) == 35


def test_model_outputs_extend_blazepose_33():
    assert len(MODEL_OUTPUT_NAMES) == NUM_MODEL_OUTPUT_LANDMARKS
    assert BLAZEPOSE_39.keypoint_names == MODEL_OUTPUT_NAMES
    assert MODEL_OUTPUT_NAMES[:NUM_BLAZEPOSE_LANDMARKS] == BLAZEPOSE_33.keypoint_names
    assert MODEL_OUTPUT_NAMES[AUX_ROI_CENTER_INDEX] == "AUX_ROI_CENTER"
    assert MODEL_OUTPUT_NAMES[AUX_ROI_SCALE_INDEX] == "AUX_ROI_SCALE"
    assert BLAZEPOSE_39.edges == BLAZEPOSE_33.edges
    assert unmapped_indices(BLAZEPOSE_39) == tuple(
        range(NUM_BLAZEPOSE_LANDMARKS, NUM_MODEL_OUTPUT_LANDMARKS)
    )


def test_upper_body_is_blazepose_prefix():
    count = UPPER_BODY_25.num_keypoints
    assert count == 25
    assert UPPER_BODY_25.keypoint_names == BLAZEPOSE_33.keypoint_names[:count]
    assert set(UPPER_BODY_25.edges) == {e for e in BLAZEPOSE_33.edges if max(e) < count}
    assert UPPER_BODY_25.keypoint_names[-1] == "RIGHT_HIP"


# --- mirror rule ------------------------------------------------------------------------------


@by_topology
def test_flip_permutation_is_an_involution(topology):
    permutation = topology.flip_permutation
    assert sorted(permutation) == list(range(topology.num_keypoints))
    assert all(permutation[j] == i for i, j in enumerate(permutation))


@by_topology
def test_flip_permutation_maps_names_to_mirrored_names(topology):
    names = topology.keypoint_names
    for i, j in enumerate(topology.flip_permutation):
        assert _words(names[j]) == _mirrored_words(names[i]), (names[i], names[j])


@by_topology
def test_every_sided_name_has_a_partner(topology):
    for i, name in enumerate(topology.keypoint_names):
        has_side = any(word in _SWAP for word in _words(name))
        assert (topology.flip_permutation[i] != i) == has_side, name


@by_topology
def test_flip_pairs_are_the_permutation_cycles(topology):
    pairs = topology.flip_pairs
    assert all(i < j for i, j in pairs)
    permutation = topology.flip_permutation
    assert {(i, j) for i, j in pairs} == {
        (min(i, j), max(i, j)) for i, j in enumerate(permutation) if i != j
    }


@pytest.mark.parametrize(
    ("topology", "name", "mirror"),
    [
        (BLAZEPOSE_33, "MOUTH_LEFT", "MOUTH_RIGHT"),
        (BLAZEPOSE_33, "LEFT_EYE_INNER", "RIGHT_EYE_INNER"),
        (BLAZEPOSE_33, "NOSE", "NOSE"),
        (BLAZEPOSE_39, "AUX_ROI_CENTER", "AUX_ROI_CENTER"),
        (LSP_14, "right_ankle", "left_ankle"),
        (LSP_14, "head_top", "head_top"),
        (MPII_16, "r_ankle", "l_ankle"),
        (MPII_16, "pelvis", "pelvis"),
        (COCO_17, "left_ear", "right_ear"),
        (PUSHUP_7, "r_wrist", "l_wrist"),
        (PUSHUP_7, "head_top", "head_top"),
    ],
)
def test_named_mirror_examples(topology, name, mirror):
    assert topology.flip_permutation[topology.index(name)] == topology.index(mirror)


def test_mirror_rule_naming_styles():
    names = (
        "lhip", "rhip", "l_ankle", "r_ankle", "LeftWrist", "RightWrist", "MOUTH_LEFT",
        "MOUTH_RIGHT", "Left Ear", "Right Ear", "lip", "neck",
    )  # fmt: skip
    topology = Topology("styles", names, (), (None,) * len(names))
    expected_partners = {
        "lhip": "rhip", "l_ankle": "r_ankle", "LeftWrist": "RightWrist",
        "MOUTH_LEFT": "MOUTH_RIGHT", "Left Ear": "Right Ear",
    }  # fmt: skip
    expected_partners |= {b: a for a, b in expected_partners.items()}
    for i, name in enumerate(names):
        partner = names[topology.flip_permutation[i]]
        assert partner == expected_partners.get(name, name), name


# --- edges ------------------------------------------------------------------------------------


@by_topology
def test_edges_join_distinct_keypoints_in_range(topology):
    assert topology.edges
    for a, b in topology.edges:
        assert 0 <= a < topology.num_keypoints
        assert 0 <= b < topology.num_keypoints
        assert a != b
    undirected = [frozenset(edge) for edge in topology.edges]
    assert len(set(undirected)) == len(undirected)


@by_topology
def test_edges_are_symmetric_under_flip(topology):
    permutation = topology.flip_permutation
    edges = {frozenset(edge) for edge in topology.edges}
    assert {frozenset((permutation[a], permutation[b])) for a, b in edges} == edges


@by_topology
def test_every_body_point_is_drawn(topology):
    drawn = {i for edge in topology.edges for i in edge}
    body = set(range(min(topology.num_keypoints, NUM_BLAZEPOSE_LANDMARKS)))
    assert body <= drawn
    assert drawn <= body  # the model's extra outputs are not drawn


@pytest.mark.parametrize("topology", [LSP_14, MPII_16, COCO_17, PUSHUP_7], ids=lambda t: t.name)
def test_dataset_skeleton_is_connected(topology):
    neighbours = {i: set() for i in range(topology.num_keypoints)}
    for a, b in topology.edges:
        neighbours[a].add(b)
        neighbours[b].add(a)
    reached, frontier = set(), [0]
    while frontier:
        node = frontier.pop()
        if node not in reached:
            reached.add(node)
            frontier.extend(neighbours[node])
    assert reached == set(neighbours)


# --- BlazePose mapping ------------------------------------------------------------------------


@by_topology
def test_mapped_points_name_the_same_body_part(topology):
    for name, target in zip(topology.keypoint_names, topology.to_blazepose):
        if target is not None:
            assert _words(name) == _words(BLAZEPOSE_33.keypoint_names[target]), name


@by_topology
def test_mapping_commutes_with_flip(topology):
    own, blazepose = topology.flip_permutation, BLAZEPOSE_33.flip_permutation
    for i, target in enumerate(topology.to_blazepose):
        if target is not None:
            assert topology.to_blazepose[own[i]] == blazepose[target]
        else:
            assert topology.to_blazepose[own[i]] is None


@pytest.mark.parametrize(
    ("topology", "name", "blazepose_name"),
    [
        (COCO_17, "left_shoulder", "LEFT_SHOULDER"),
        (COCO_17, "left_eye", "LEFT_EYE"),
        (COCO_17, "nose", "NOSE"),
        (LSP_14, "right_ankle", "RIGHT_ANKLE"),
        (MPII_16, "l_wrist", "LEFT_WRIST"),
        (MPII_16, "r_hip", "RIGHT_HIP"),
        (PUSHUP_7, "r_elbow", "RIGHT_ELBOW"),
    ],
)
def test_named_mapping_examples(topology, name, blazepose_name):
    assert topology.to_blazepose[topology.index(name)] == BLAZEPOSE_33.index(blazepose_name)


@pytest.mark.parametrize(
    ("topology", "unmapped_names"),
    [
        (BLAZEPOSE_33, set()),
        (UPPER_BODY_25, set()),
        (COCO_17, set()),
        (LSP_14, {"neck", "head_top"}),
        (MPII_16, {"pelvis", "thorax", "upper_neck", "head_top"}),
        (PUSHUP_7, {"head_top"}),
    ],
    ids=lambda value: value.name if isinstance(value, Topology) else None,
)
def test_unmapped_points_are_reported(topology, unmapped_names):
    indices = unmapped_indices(topology)
    assert list(indices) == sorted(indices)
    assert {topology.keypoint_names[i] for i in indices} == unmapped_names
    assert all(topology.to_blazepose[i] is None for i in indices)


# --- validation -------------------------------------------------------------------------------


def _define(**changes):
    definition = {
        "name": "toy",
        "keypoint_names": ("nose", "left_eye", "right_eye"),
        "edges": ((0, 1), (0, 2)),
        "to_blazepose": (0, 2, 5),
    }
    return Topology(**(definition | changes))


def test_valid_toy_definition():
    toy = _define(keypoint_names=["nose", "left_eye", "right_eye"], edges=[[0, 1], [0, 2]])
    assert toy.keypoint_names == ("nose", "left_eye", "right_eye")
    assert toy.edges == ((0, 1), (0, 2))
    assert toy.flip_pairs == ((1, 2),)
    assert hash(toy) == hash(_define())


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": ""}, "name"),
        ({"keypoint_names": (), "to_blazepose": ()}, "no keypoints"),
        ({"keypoint_names": ("nose", "left_eye", "nose")}, "duplicate"),
        ({"keypoint_names": ("nose", "left_eye", "eye")}, "mirror partner"),
        ({"keypoint_names": ("nose", "l_eye", "eye_right")}, "mirror partner"),
        ({"keypoint_names": ("left_to_right", "left_eye", "right_eye")}, "several side"),
        ({"edges": ((0, 3),)}, "edge"),
        ({"edges": ((-1, 0),)}, "edge"),
        ({"edges": ((1, 1),)}, "edge"),
        ({"edges": ((0, 1, 2),)}, "edge"),
        ({"edges": ((0, 1.0),)}, "edge"),
        ({"to_blazepose": (0, 2)}, "entries"),
        ({"to_blazepose": (0, 2, NUM_BLAZEPOSE_LANDMARKS)}, "BlazePose index"),
        ({"to_blazepose": (0, 2, -1)}, "BlazePose index"),
        ({"to_blazepose": (0, 2, 2)}, "both map"),
    ],
)
def test_bad_definitions_raise(changes, message):
    with pytest.raises(ValueError, match=message):
        _define(**changes)


# --- PoseLandmark -----------------------------------------------------------------------------


def test_pose_landmark_enum_names_the_33_blazepose_landmarks_in_order():
    assert [member.name for member in PoseLandmark] == list(BLAZEPOSE_33.keypoint_names)
    for member in PoseLandmark:
        assert member == BLAZEPOSE_33.index(member.name) and isinstance(member, int)
    # MediaPipe's documented indices of the landmarks library code picks by name.
    shoulders = (PoseLandmark.LEFT_SHOULDER, PoseLandmark.RIGHT_SHOULDER)
    assert (PoseLandmark.NOSE, *shoulders) == (0, 11, 12)
    assert (PoseLandmark.LEFT_HIP, PoseLandmark.RIGHT_HIP, PoseLandmark.RIGHT_FOOT_INDEX) == (
        23, 24, 32)
    points = np.arange(33 * 2).reshape(33, 2)
    np.testing.assert_array_equal(points[PoseLandmark.LEFT_WRIST], points[15])


# --- serialisation ----------------------------------------------------------------------------


@by_topology
def test_registered_topology_round_trips_through_json_to_itself(topology):
    described = json.loads(json.dumps(topology.to_dict()))
    assert described == {
        "topology": topology.name,
        "keypoint_names": list(topology.keypoint_names),
        "flip_permutation": list(topology.flip_permutation),
        "edges": [list(edge) for edge in topology.edges],
        "to_blazepose": [-1 if i is None else i for i in topology.to_blazepose],
    }
    assert Topology.from_dict(described) is topology
    assert Topology.from_dict({"topology": topology.name}) is topology  # name alone suffices


def test_unregistered_topology_is_rebuilt_equal_from_its_dict():
    toy = _define()
    rebuilt = Topology.from_dict(toy.to_dict() | {"skipped": {"train": 0}})  # extras ignored
    assert rebuilt == toy and rebuilt.flip_permutation == toy.flip_permutation
    renamed = Topology.from_dict(COCO_17.to_dict() | {"keypoint_names": list(_COCO_RENAMED)})
    assert renamed is not COCO_17 and renamed.keypoint_names == _COCO_RENAMED


_COCO_RENAMED = ("snout",) + COCO_17.keypoint_names[1:]


@pytest.mark.parametrize(("metadata", "message"), [
    ({"keypoint_names": ["nose"]}, "names no keypoint topology"),
    ({"topology": "toy"}, "lists no keypoint_names"),
    ({"topology": "toy", "keypoint_names": ["nose", "left_eye"]}, "mirror partner"),
    (_define().to_dict() | {"flip_permutation": [0, 1, 2]}, "flip_permutation"),
])
def test_bad_topology_metadata_names_its_source(metadata, message):
    with pytest.raises(ValueError, match=message) as error:
        Topology.from_dict(metadata, source="data set x/1.0.0")
    assert "data set x/1.0.0" in str(error.value)


def test_index_of_unknown_name_raises():
    with pytest.raises(ValueError, match="no keypoint 'LEFT_EYE'"):
        COCO_17.index("LEFT_EYE")


def test_topologies_are_frozen():
    with pytest.raises(AttributeError):
        COCO_17.name = "other"  # type: ignore[misc]


def test_module_imports_without_tensorflow():
    # Load the module file directly so that the package's __init__ (which builds models) is not
    # imported, and check that the topology module alone pulls in no TensorFlow or Keras.
    path = Path(__file__).resolve().parents[1] / "blazepose" / "topology.py"
    script = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('topology_alone', {str(path)!r})\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "sys.modules['topology_alone'] = module\n"
        "spec.loader.exec_module(module)\n"
        "heavy = [m for m in ('tensorflow', 'keras') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)
