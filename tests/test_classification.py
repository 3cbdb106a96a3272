"""Tests of blazepose.analysis.classification: the pose embedding's invariances and the classifiers.

Poses come from the synthetic body model (``datasets_tfds.synthetic_pose``): five pose
archetypes, random body proportions and joint noise, seen by a camera from the front with a
random turn, size and position, so the classes are separable but no two samples are equal.
"""

from __future__ import annotations

import numpy as np
import pytest

from blazepose.analysis.classification import (
    EMBEDDING_PAIRS,
    EmaSmoothing,
    KnnConfig,
    KnnPoseClassifier,
    MlpConfig,
    MlpPoseClassifier,
    mirror_landmarks,
    pose_embedding,
)
from blazepose.synthesis.body_model import sample_body_shape
from blazepose.synthesis.poses import sample_posed_body

CLASSES = ("standing", "arms_up", "sitting", "squatting", "lying")


def _image_landmarks(rng: np.random.Generator, body_points: np.ndarray) -> np.ndarray:
    """Body-frame points (x left, y up, z forward) -> image pixels (x right, y down, z away)."""
    turn = np.radians(rng.uniform(-30.0, 30.0))
    rotation = np.array([[np.cos(turn), 0.0, np.sin(turn)], [0.0, 1.0, 0.0],
                         [-np.sin(turn), 0.0, np.cos(turn)]])
    points = body_points @ rotation.T
    scale = rng.uniform(150.0, 600.0)
    image = np.stack([points[:, 0], -points[:, 1], -points[:, 2]], axis=-1) * scale
    image[:, :2] += rng.uniform(0.0, 800.0, 2)
    return image


def make_poses(seed: int, per_class: int) -> tuple[np.ndarray, np.ndarray]:
    """float64 [N, 33, 3] image landmarks and int [N] labels (classes in CLASSES order)."""
    rng = np.random.default_rng(seed)
    landmarks, labels = [], []
    for label, archetype in enumerate(CLASSES):
        for _ in range(per_class):
            body, _ = sample_posed_body(rng, sample_body_shape(rng), archetype)
            landmarks.append(_image_landmarks(rng, body.landmarks))
            labels.append(label)
    return np.stack(landmarks), np.asarray(labels)


@pytest.fixture(scope="module")
def poses():
    train = make_poses(1, 40)
    test = make_poses(2, 16)
    return train, test


def test_embedding_shape_and_pairs(poses):
    (train, _), _ = poses
    embedding = pose_embedding(train[:3])
    assert embedding.shape == (3, len(EMBEDDING_PAIRS), 3) == (3, 23, 3)
    assert embedding.dtype == np.float32
    # Extra columns (visibility, presence) are ignored; 2-D input has z = 0.
    with_scores = np.concatenate([train[:3], np.ones((3, 33, 2))], axis=-1)
    np.testing.assert_allclose(pose_embedding(with_scores), embedding)
    assert not pose_embedding(train[:3, :, :2])[..., 2].any()


def test_embedding_is_invariant_to_translation_and_scale(poses):
    (train, _), _ = poses
    moved = train * 3.7 + np.array([120.0, -45.0, 9.0])
    np.testing.assert_allclose(pose_embedding(moved), pose_embedding(train), atol=1e-3)
    # ...but not to the pose itself.
    assert np.abs(pose_embedding(train[0]) - pose_embedding(train[-1])).max() > 5.0


def test_rotation_alignment_makes_in_plane_rotation_irrelevant(poses):
    (train, _), _ = poses
    angle = np.radians(70.0)
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0.0], [np.sin(angle), np.cos(angle), 0.0],
                         [0.0, 0.0, 1.0]])
    rotated = train[:5] @ rotation.T
    np.testing.assert_allclose(pose_embedding(rotated, align_rotation=True),
                               pose_embedding(train[:5], align_rotation=True), atol=1e-3)
    # Without alignment the embedding sees the rotation (a headstand is not a stand).
    assert np.abs(pose_embedding(rotated) - pose_embedding(train[:5])).max() > 10.0


def test_mirror_swaps_sides_and_negates_x(poses):
    (train, _), _ = poses
    mirrored = mirror_landmarks(train[:1])
    np.testing.assert_allclose(mirrored[0, 11, 0], -train[0, 12, 0])  # left <- right shoulder
    np.testing.assert_allclose(mirrored[0, 11, 1:], train[0, 12, 1:])
    np.testing.assert_allclose(mirror_landmarks(mirrored), train[:1])


def test_knn_classifies_held_out_poses_and_their_mirrors(poses):
    (train, labels), (test, test_labels) = poses
    classifier = KnnPoseClassifier(class_names=CLASSES).fit(train, labels)
    counts = classifier.predict_counts(test)
    assert counts.shape == (len(test), len(CLASSES))
    assert (counts.sum(axis=-1) == 10).all()  # top 10 by mean distance vote
    accuracy = np.mean(classifier.predict(test) == test_labels)
    assert accuracy >= 0.9, accuracy
    mirrored = mirror_landmarks(test)
    np.testing.assert_array_equal(classifier.predict_counts(mirrored), counts)
    # Without the mirror comparison a mirrored query is a different pose.
    plain = KnnPoseClassifier(KnnConfig(mirror=False)).fit(train, labels)
    assert not np.array_equal(plain.predict_counts(mirrored), plain.predict_counts(test))


def test_knn_rejects_bad_samples():
    with pytest.raises(ValueError, match="33"):
        KnnPoseClassifier().fit(np.zeros((4, 17, 3)), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="labels"):
        KnnPoseClassifier().fit(np.zeros((4, 33, 3)), [0, 1, 0])
    with pytest.raises(RuntimeError, match="fit"):
        KnnPoseClassifier().predict(np.zeros((33, 3)))
    with pytest.raises(ValueError, match="top_n_by_mean_distance"):
        KnnConfig(top_n_by_max_distance=5, top_n_by_mean_distance=10)


def test_mlp_learns_the_poses(poses):
    (train, labels), (test, test_labels) = poses
    classifier = MlpPoseClassifier(MlpConfig(epochs=40, seed=3), CLASSES).fit(train, labels)
    probabilities = classifier.predict_proba(test)
    assert probabilities.shape == (len(test), len(CLASSES))
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, atol=1e-5)
    accuracy = np.mean(classifier.predict(test) == test_labels)
    assert accuracy >= 0.9, accuracy


def test_ema_smoothing_weights_recent_scores_more():
    smoothing = EmaSmoothing(window_size=3, alpha=0.5)
    np.testing.assert_allclose(smoothing([10.0, 0.0]), [10.0, 0.0])
    # Window [new=0, old=10]: weights 1 and 0.5.
    np.testing.assert_allclose(smoothing([0.0, 10.0]), [10 * 0.5 / 1.5, 10 / 1.5])
    for _ in range(3):
        smoothed = smoothing([0.0, 10.0])
    np.testing.assert_allclose(smoothed, [0.0, 10.0])  # the old value left the window
