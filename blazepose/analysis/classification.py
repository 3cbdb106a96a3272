"""Pose classification over normalised landmark embeddings: k-NN and a small Keras MLP.

The embedding follows MediaPipe's public pose-classification example (the facts are in
``/work/shared/reference/MEDIAPIPE_BLAZEPOSE.md``, "Rep counting"); code and names are this
project's own:

1. Centre: the landmarks are moved so that the midpoint of the hips is the origin.
2. Scale: they are divided by the pose size, ``max(2.5 * torso, largest distance of any landmark
   to the hip centre)``, where torso is the distance between the hip and the shoulder midpoints;
   both measured on x and y only (z is the least reliable axis). A multiplier (100) keeps the
   numbers near the unit of MediaPipe's example.
3. Embed: the 3-D difference vectors of :data:`EMBEDDING_PAIRS` (joint to joint over 1 to 5
   bones, and left to right across the body), float32 ``[..., 23, 3]``.

So the embedding is invariant to translation and to uniform scale (camera distance, image size,
pixels or metres) by construction. It is **not** invariant to in-plane rotation unless
``align_rotation=True`` turns the body upright first (hip centre -> shoulder centre pointing
up); that is off by default because it makes a headstand look like standing. Mirror images
(the same pose done with the other side, or facing the other way) are handled by the
classifiers, which compare a query and its mirror (x negated, left and right swapped) with every
sample and keep the nearer.

Landmark arrays are ``[..., 33, D]`` in BlazePose order (``blazepose.topology.BLAZEPOSE_33``)
with x, y (any unit, y down) and, when ``D >= 3``, z in the unit of x; extra columns
(visibility, presence) are ignored. Missing z is taken as 0.

:class:`KnnPoseClassifier` is MediaPipe's two-stage nearest-neighbour search (top 30 samples by
their largest per-coordinate difference, then the top 10 of those by mean difference, with axis
weights x 1, y 1, z 0.2); its output per class is the number of those 10 neighbours with that
label, i.e. a confidence in ``[0, top_n_by_mean]``. :class:`EmaSmoothing` is the exponential
moving average over a window that the example uses on that output in videos.
:class:`MlpPoseClassifier` is a small Keras MLP on the flattened embedding, trained with mirror
augmentation.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence

import numpy as np

from blazepose.keypoints import flip_keypoints
from blazepose.topology import BLAZEPOSE_33, PoseLandmark

__all__ = [
    "EMBEDDING_PAIRS",
    "EmaSmoothing",
    "evaluate_landmark_cache",
    "format_classification_report",
    "KnnConfig",
    "KnnPoseClassifier",
    "MlpConfig",
    "MlpPoseClassifier",
    "landmark_index",
    "mirror_landmarks",
    "normalize_landmarks",
    "pose_embedding",
    "read_landmark_cache",
    "write_landmark_cache",
]

def landmark_index(name: str) -> int:
    """Index of a BlazePose landmark by name (``"LEFT_SHOULDER"``): ``PoseLandmark[name]``.

    Raises:
      ValueError: no landmark has that name.
    """
    try:
        return int(PoseLandmark[name])
    except KeyError:
        raise ValueError(f"unknown BlazePose landmark {name!r}") from None


_LEFT_HIP, _RIGHT_HIP = PoseLandmark.LEFT_HIP, PoseLandmark.RIGHT_HIP
_LEFT_SHOULDER, _RIGHT_SHOULDER = PoseLandmark.LEFT_SHOULDER, PoseLandmark.RIGHT_SHOULDER

TORSO_MULTIPLIER = 2.5
"""Pose size is at least this many torso lengths (MediaPipe's example)."""

EMBEDDING_SCALE = 100.0
"""Normalised landmarks are multiplied by this, as in MediaPipe's example."""

_HIPS = "HIPS"  # midpoint of the hips
_SHOULDERS = "SHOULDERS"  # midpoint of the shoulders


def _pairs() -> tuple[tuple[str, str], ...]:
    one_bone = [(_HIPS, _SHOULDERS)]
    for side in ("LEFT", "RIGHT"):
        one_bone += [(f"{side}_SHOULDER", f"{side}_ELBOW"), (f"{side}_ELBOW", f"{side}_WRIST"),
                     (f"{side}_HIP", f"{side}_KNEE"), (f"{side}_KNEE", f"{side}_ANKLE")]
    longer = []
    for side in ("LEFT", "RIGHT"):
        longer += [(f"{side}_SHOULDER", f"{side}_WRIST"), (f"{side}_HIP", f"{side}_ANKLE")]
    for side in ("LEFT", "RIGHT"):
        longer += [(f"{side}_HIP", f"{side}_WRIST")]
    for side in ("LEFT", "RIGHT"):
        longer += [(f"{side}_SHOULDER", f"{side}_ANKLE"), (f"{side}_HIP", f"{side}_WRIST")]
    across = [(f"LEFT_{joint}", f"RIGHT_{joint}") for joint in ("ELBOW", "KNEE", "WRIST", "ANKLE")]
    return tuple(one_bone + longer + across)


EMBEDDING_PAIRS: tuple[tuple[str, str], ...] = _pairs()
"""(from, to) landmark names of the embedding's 23 difference vectors (``to - from``).

``HIPS`` and ``SHOULDERS`` are the midpoints of the two hips and the two shoulders. The list
repeats hip -> wrist once per side, as MediaPipe's example does (it weighs that pair double).
"""


def _pair_indices() -> tuple[np.ndarray, np.ndarray]:
    virtual = {_HIPS: 33, _SHOULDERS: 34}  # appended after the 33 landmarks

    def index(name: str) -> int:
        return virtual[name] if name in virtual else landmark_index(name)
    starts = np.array([index(a) for a, _ in EMBEDDING_PAIRS], np.int64)
    ends = np.array([index(b) for _, b in EMBEDDING_PAIRS], np.int64)
    return starts, ends


_PAIR_STARTS, _PAIR_ENDS = _pair_indices()


def _xyz(landmarks: np.ndarray) -> np.ndarray:
    """float64 ``[..., 33, 3]`` from ``[..., 33, D]`` (z = 0 when D == 2)."""
    points = np.asarray(landmarks, np.float64)
    if points.ndim < 2 or points.shape[-2] != 33 or points.shape[-1] < 2:
        raise ValueError(f"landmarks must be [..., 33, D>=2] in BlazePose order, got shape "
                         f"{points.shape}")
    if points.shape[-1] == 2:
        points = np.concatenate([points, np.zeros(points.shape[:-1] + (1,))], axis=-1)
    return points[..., :3]


def mirror_landmarks(landmarks: np.ndarray) -> np.ndarray:
    """The mirror image: x negated and left/right landmarks swapped, float64 ``[..., 33, D]``.

    :func:`blazepose.keypoints.flip_keypoints` about x = 0: only column 0 (x) changes sign;
    every other column (y, z, visibility, ...) moves with its landmark. The result is a
    different person's plausible pose (the same pose done with the other side); its embedding
    is what the classifiers compare when ``mirror=True``.
    """
    return flip_keypoints(np.asarray(landmarks, np.float64), 0.0, BLAZEPOSE_33)


def _upright_rotation(points: np.ndarray) -> np.ndarray:
    """Rotates ``[..., 33, 3]`` about z so that hips -> shoulders points up (-y)."""
    hips = 0.5 * (points[..., _LEFT_HIP, :2] + points[..., _RIGHT_HIP, :2])
    shoulders = 0.5 * (points[..., _LEFT_SHOULDER, :2] + points[..., _RIGHT_SHOULDER, :2])
    up = shoulders - hips
    angle = np.arctan2(up[..., 0], -up[..., 1])  # 0 when the torso points up the image
    cos, sin = np.cos(-angle)[..., None], np.sin(-angle)[..., None]  # rotate by -angle
    x, y = points[..., 0], points[..., 1]
    rotated = points.copy()
    rotated[..., 0] = cos * x - sin * y
    rotated[..., 1] = sin * x + cos * y
    return rotated


def normalize_landmarks(landmarks: np.ndarray, align_rotation: bool = False) -> np.ndarray:
    """Landmarks centred on the hips and divided by the pose size, float64 ``[..., 33, 3]``.

    Args:
      landmarks: ``[..., 33, D]`` (see the module docstring).
      align_rotation: first rotate in the image plane so that the torso points up.

    Returns:
      ``EMBEDDING_SCALE * (points - hip_centre) / pose_size``; a degenerate pose (all points
      equal) keeps size 1 rather than dividing by zero.
    """
    points = _xyz(landmarks)
    if align_rotation:
        points = _upright_rotation(points)
    hips = 0.5 * (points[..., _LEFT_HIP, :] + points[..., _RIGHT_HIP, :])
    points = points - hips[..., None, :]
    shoulders = 0.5 * (points[..., _LEFT_SHOULDER, :] + points[..., _RIGHT_SHOULDER, :])
    torso = np.linalg.norm(shoulders[..., :2], axis=-1)
    spread = np.max(np.linalg.norm(points[..., :2], axis=-1), axis=-1)
    size = np.maximum(TORSO_MULTIPLIER * torso, spread)
    size = np.where(size > 0, size, 1.0)
    return EMBEDDING_SCALE * points / size[..., None, None]


def pose_embedding(landmarks: np.ndarray, align_rotation: bool = False) -> np.ndarray:
    """The pose embedding, float32 ``[..., 23, 3]`` (see the module docstring)."""
    points = normalize_landmarks(landmarks, align_rotation)
    hips = 0.5 * (points[..., _LEFT_HIP, :] + points[..., _RIGHT_HIP, :])
    shoulders = 0.5 * (points[..., _LEFT_SHOULDER, :] + points[..., _RIGHT_SHOULDER, :])
    extended = np.concatenate([points, hips[..., None, :], shoulders[..., None, :]], axis=-2)
    return (extended[..., _PAIR_ENDS, :] - extended[..., _PAIR_STARTS, :]).astype(np.float32)


def _check_labels(labels: Sequence[int] | np.ndarray, count: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (count,):
        raise ValueError(f"labels must be [{count}] (one per sample), got shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer) or (labels < 0).any():
        raise ValueError("labels must be non-negative integers (class indices)")
    return labels.astype(np.int64)


@dataclasses.dataclass(frozen=True)
class KnnConfig:
    """Options of :class:`KnnPoseClassifier` (defaults: MediaPipe's example).

    Attributes:
      top_n_by_max_distance: samples kept after the first stage (largest coordinate difference).
      top_n_by_mean_distance: neighbours that vote, chosen from those by mean difference.
      axes_weights: weights of the x, y, z differences.
      mirror: also compare the query's mirror image and keep the nearer of the two.
      align_rotation: embeddings of upright-rotated landmarks (see :func:`pose_embedding`).
      batch_size: queries compared at once (memory: batch x samples x 69 floats).
    """

    top_n_by_max_distance: int = 30
    top_n_by_mean_distance: int = 10
    axes_weights: tuple[float, float, float] = (1.0, 1.0, 0.2)
    mirror: bool = True
    align_rotation: bool = False
    batch_size: int = 64

    def __post_init__(self):
        if self.top_n_by_max_distance < 1 or self.top_n_by_mean_distance < 1:
            raise ValueError("top_n_by_max_distance and top_n_by_mean_distance must be >= 1")
        if self.top_n_by_mean_distance > self.top_n_by_max_distance:
            raise ValueError("top_n_by_mean_distance must not exceed top_n_by_max_distance")
        if len(self.axes_weights) != 3:
            raise ValueError("axes_weights needs three values (x, y, z)")


class KnnPoseClassifier:
    """MediaPipe-style two-stage k-NN over pose embeddings (see the module docstring)."""

    def __init__(self, config: KnnConfig | None = None, class_names: Sequence[str] | None = None):
        self.config = config or KnnConfig()
        self.class_names = tuple(class_names) if class_names is not None else None
        self._embeddings: np.ndarray | None = None
        self._labels: np.ndarray | None = None
        self.num_classes = 0

    def fit(self, landmarks: np.ndarray, labels: Sequence[int] | np.ndarray,
            num_classes: int | None = None) -> KnnPoseClassifier:
        """Stores the samples' embeddings.

        Args:
          landmarks: ``[N, 33, D]`` sample landmarks.
          labels: int ``[N]`` class indices.
          num_classes: C (default: ``len(class_names)`` if given, else ``max(labels) + 1``).
        """
        embeddings = pose_embedding(landmarks, self.config.align_rotation)
        if embeddings.ndim != 3 or len(embeddings) == 0:
            raise ValueError(f"need at least one sample of shape [33, D], got "
                             f"{np.shape(landmarks)}")
        labels = _check_labels(labels, len(embeddings))
        known = num_classes or (
            len(self.class_names) if self.class_names else int(labels.max()) + 1)
        if labels.max() >= known:
            raise ValueError(f"label {int(labels.max())} out of range for {known} classes")
        self._embeddings, self._labels, self.num_classes = embeddings, labels, known
        return self

    def _distances(self, queries: np.ndarray, reduce: str) -> np.ndarray:
        """[Q, N] weighted max or mean absolute coordinate difference (nearer of query/mirror)."""
        weights = np.asarray(self.config.axes_weights, np.float32)
        result = None
        for query in queries:  # query: [Q, 23, 3]
            difference = np.abs(query[:, None] - self._embeddings[None]) * weights
            value = difference.max(axis=(2, 3)) if reduce == "max" else difference.mean(axis=(2, 3))
            result = value if result is None else np.minimum(result, value)
        return result

    def predict_counts(self, landmarks: np.ndarray) -> np.ndarray:
        """Votes per class, int32 ``[..., C]`` in ``[0, top_n_by_mean_distance]``.

        Args:
          landmarks: ``[..., 33, D]`` query landmarks (any leading shape).
        """
        if self._embeddings is None:
            raise RuntimeError("KnnPoseClassifier.fit must be called first")
        points = _xyz(landmarks)
        lead = points.shape[:-2]
        points = points.reshape((-1, 33, 3))
        config = self.config
        variants = [pose_embedding(points, config.align_rotation)]
        if config.mirror:
            variants.append(pose_embedding(mirror_landmarks(points), config.align_rotation))
        samples = len(self._embeddings)
        first = min(config.top_n_by_max_distance, samples)
        second = min(config.top_n_by_mean_distance, first)
        counts = np.zeros((len(points), self.num_classes), np.int32)
        for start in range(0, len(points), config.batch_size):
            batch = [variant[start:start + config.batch_size] for variant in variants]
            by_max = self._distances(batch, "max")
            candidates = np.argpartition(by_max, first - 1, axis=1)[:, :first]
            for row, chosen in enumerate(candidates):
                query = [variant[row:row + 1] for variant in batch]
                weights = np.asarray(config.axes_weights, np.float32)
                means = None
                for variant in query:
                    value = (np.abs(variant - self._embeddings[chosen]) * weights).mean(axis=(1, 2))
                    means = value if means is None else np.minimum(means, value)
                nearest = chosen[np.argsort(means, kind="stable")[:second]]
                counts[start + row] = np.bincount(self._labels[nearest],
                                                  minlength=self.num_classes)
        return counts.reshape(lead + (self.num_classes,))

    def predict(self, landmarks: np.ndarray) -> np.ndarray:
        """Most voted class, int64 ``[...]`` (ties: the lower class index)."""
        return np.argmax(self.predict_counts(landmarks), axis=-1)


class EmaSmoothing:
    """Exponential moving average of per-class scores over a window (MediaPipe's example).

    With the window's scores ``s_0`` (newest) ... ``s_{n-1}``, the smoothed score is
    ``sum(s_i * (1 - alpha)^i) / sum((1 - alpha)^i)``, per class.
    """

    def __init__(self, window_size: int = 10, alpha: float = 0.2):
        if window_size < 1 or not 0.0 < alpha <= 1.0:
            raise ValueError("window_size must be >= 1 and alpha in (0, 1]")
        self.window_size, self.alpha = window_size, alpha
        self._history: list[np.ndarray] = []

    def reset(self) -> None:
        self._history = []

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        """Adds float ``[C]`` scores of the newest frame and returns the smoothed ``[C]``."""
        self._history.insert(0, np.asarray(scores, np.float64))
        del self._history[self.window_size:]
        weights = (1.0 - self.alpha) ** np.arange(len(self._history))
        return np.tensordot(weights, np.stack(self._history), axes=1) / weights.sum()


@dataclasses.dataclass(frozen=True)
class MlpConfig:
    """Options of :class:`MlpPoseClassifier`.

    Attributes:
      hidden_units: widths of the hidden Dense layers (ReLU).
      dropout: dropout rate after each hidden layer.
      epochs, batch_size, learning_rate: Adam training.
      mirror_augmentation: train on each sample and its mirror image (same label).
      align_rotation: see :func:`pose_embedding`.
      seed: weight initialisation and shuffling seed.
    """

    hidden_units: tuple[int, ...] = (128, 64)
    dropout: float = 0.2
    epochs: int = 60
    batch_size: int = 64
    learning_rate: float = 2e-3
    mirror_augmentation: bool = True
    align_rotation: bool = False
    seed: int = 0


class MlpPoseClassifier:
    """A small Keras MLP over flattened embeddings ``[69]`` -> class probabilities ``[C]``."""

    def __init__(self, config: MlpConfig | None = None, class_names: Sequence[str] | None = None):
        self.config = config or MlpConfig()
        self.class_names = tuple(class_names) if class_names is not None else None
        self.model = None
        self.num_classes = 0

    def _features(self, landmarks: np.ndarray) -> np.ndarray:
        embedding = pose_embedding(landmarks, self.config.align_rotation)
        return embedding.reshape(embedding.shape[:-2] + (-1,)) / EMBEDDING_SCALE

    def fit(self, landmarks: np.ndarray, labels: Sequence[int] | np.ndarray,
            num_classes: int | None = None, verbose: int = 0) -> MlpPoseClassifier:
        """Trains a new model on ``[N, 33, D]`` landmarks and int ``[N]`` labels."""
        import keras

        points = _xyz(landmarks)
        if points.ndim != 3 or len(points) == 0:
            raise ValueError(f"need at least one sample of shape [33, D], got "
                             f"{np.shape(landmarks)}")
        labels = _check_labels(labels, len(points))
        self.num_classes = num_classes or (
            len(self.class_names) if self.class_names else int(labels.max()) + 1)
        if labels.max() >= self.num_classes:
            raise ValueError(f"label {int(labels.max())} out of range for {self.num_classes} "
                             "classes")
        features = self._features(points)
        targets = labels
        if self.config.mirror_augmentation:
            features = np.concatenate([features, self._features(mirror_landmarks(points))])
            targets = np.concatenate([labels, labels])
        config = self.config
        keras.utils.set_random_seed(config.seed)
        inputs = keras.Input(shape=(features.shape[-1],), name="embedding")
        hidden = inputs
        for index, units in enumerate(config.hidden_units):
            hidden = keras.layers.Dense(units, activation="relu", name=f"dense_{index}")(hidden)
            if config.dropout:
                hidden = keras.layers.Dropout(config.dropout, name=f"dropout_{index}")(hidden)
        outputs = keras.layers.Dense(self.num_classes, activation="softmax", name="classes")(
            hidden)
        model = keras.Model(inputs, outputs, name="pose_mlp")
        model.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(features.astype(np.float32), targets, epochs=config.epochs,
                  batch_size=config.batch_size, shuffle=True, verbose=verbose)
        self.model = model
        return self

    def predict_proba(self, landmarks: np.ndarray) -> np.ndarray:
        """Class probabilities, float32 ``[..., C]``."""
        if self.model is None:
            raise RuntimeError("MlpPoseClassifier.fit must be called first")
        points = _xyz(landmarks)
        lead = points.shape[:-2]
        features = self._features(points.reshape((-1, 33, 3))).astype(np.float32)
        probabilities = self.model.predict(features, verbose=0, batch_size=1024)
        return np.asarray(probabilities, np.float32).reshape(lead + (self.num_classes,))

    def predict(self, landmarks: np.ndarray) -> np.ndarray:
        """Most probable class, int64 ``[...]``."""
        return np.argmax(self.predict_proba(landmarks), axis=-1)


# ---------------------------------------------------------------------------------------------
# Landmark caches of labelled images, and classification accuracy
# ---------------------------------------------------------------------------------------------
# A cache (.npz) holds, for each split S, ``S_landmarks`` float32 ``[N, 33, 5]`` (x, y pixels,
# z, visibility, presence; NaN where no person was found), ``S_image_ids`` (str ``[N]``),
# ``S_label_<level>`` int64 ``[N]``, and ``meta`` (a JSON string: data set, class names).


_LABEL_LEVELS = ("6", "20", "82")


def extract_split_landmarks(dataset: str, split: str, data_dir: str | None, backend: str,
                            max_images: int | None, log) -> tuple[dict, dict]:
    """Runs the pretrained pose pipeline over one TFDS split (an image data set with
    ``label_<level>`` class features, e.g. yoga82): returns the arrays of the landmark cache
    (``<split>_landmarks`` float32 [N, 33, 5], NaN where no person was found, ``<split>_image_ids``,
    ``<split>_label_<level>``) and the class names per level. ``log`` receives progress lines."""
    # TF, TFDS and the pipeline only here: the rest of this module is numpy.
    import tensorflow_datasets as tfds

    from blazepose.inference import PosePipeline

    builder = tfds.builder(dataset, data_dir=data_dir)
    names = {level: list(builder.info.features[f"label_{level}"].names) for level in _LABEL_LEVELS
             if f"label_{level}" in builder.info.features}
    pipeline = PosePipeline.from_pretrained(backend=backend, tracking=False, smoothing=False)
    landmarks, image_ids, labels = [], [], {level: [] for level in names}
    found = 0
    for index, example in enumerate(tfds.as_numpy(builder.as_dataset(split=split))):
        if max_images is not None and index >= max_images:
            break
        result = pipeline.process_image(example["image"])
        if result is None:
            landmarks.append(np.full((33, 5), np.nan, np.float32))
        else:
            landmarks.append(np.asarray(result.landmarks, np.float32)[:33, :5])
            found += 1
        image_ids.append(example["image_id"].decode("utf-8"))
        for level in names:
            labels[level].append(int(example[f"label_{level}"]))
        if (index + 1) % 500 == 0:
            log(f"{split}: {index + 1} images, {found} with a person")
    count = len(image_ids)
    log(f"{split}: {count} images, {found} with a person, {count - found} without")
    arrays = {f"{split}_landmarks": np.stack(landmarks) if landmarks else np.zeros((0, 33, 5)),
              f"{split}_image_ids": np.array(image_ids, dtype=str)}
    for level, values in labels.items():
        arrays[f"{split}_label_{level}"] = np.array(values, np.int64)
    return arrays, names


def read_landmark_cache(path: str) -> tuple[dict, dict]:
    """(arrays by key, meta) of a cache file; empty when the file does not exist."""
    if not os.path.exists(path):
        return {}, {}
    with np.load(path, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    meta = json.loads(str(arrays.pop("meta"))) if "meta" in arrays else {}
    return arrays, meta


def write_landmark_cache(path: str, arrays: dict, meta: dict) -> None:
    """Writes the cache atomically (a temporary file renamed over the old one)."""
    temporary = path + ".tmp.npz"
    np.savez_compressed(temporary, meta=np.array(json.dumps(meta)), **arrays)
    os.replace(temporary, path)


def evaluate_landmark_cache(arrays: dict, meta: dict, train: str, test: str,
                            levels: Sequence[str], classifiers: Sequence[str],
                            mlp_epochs: int = 60, seed: int = 0) -> dict:
    """Trains on ``train`` and measures on ``test`` from cached landmarks.

    Returns:
      ``{"splits": {split: {"images", "with_person", "without_person"}},
      "accuracy": {f"label_{level}": {classifier: {"detected", "all"}}}}``.

    Raises:
      ValueError: a split or level is missing from the cache, or no image has a person.
    """
    report: dict = {"splits": {}, "accuracy": {}}
    detected = {}
    for split in (train, test):
        key = f"{split}_landmarks"
        if key not in arrays:
            raise ValueError(f"the cache has no split {split!r} (keys: {sorted(arrays)})")
        found = np.isfinite(arrays[key][:, 0, 0])
        detected[split] = found
        report["splits"][split] = {"images": int(len(found)), "with_person": int(found.sum()),
                                   "without_person": int((~found).sum())}
        if not found.any():
            raise ValueError(f"no image of split {split!r} has a detected person")
    train_points = arrays[f"{train}_landmarks"][detected[train]][..., :3]
    test_points = arrays[f"{test}_landmarks"][detected[test]][..., :3]
    total = len(detected[test])
    for level in levels:
        key = f"label_{level}"
        if f"{train}_{key}" not in arrays or f"{test}_{key}" not in arrays:
            raise ValueError(f"the cache has no {key} labels")
        train_labels = arrays[f"{train}_{key}"][detected[train]]
        test_labels = arrays[f"{test}_{key}"][detected[test]]
        num_classes = len(meta.get("class_names", {}).get(level, [])) or int(
            max(train_labels.max(), test_labels.max()) + 1)
        report["accuracy"][key] = {}
        for name in classifiers:
            if name == "knn":
                model = KnnPoseClassifier().fit(train_points, train_labels, num_classes)
            else:
                model = MlpPoseClassifier(MlpConfig(epochs=mlp_epochs, seed=seed)).fit(
                    train_points, train_labels, num_classes)
            correct = int(np.sum(model.predict(test_points) == test_labels))
            report["accuracy"][key][name] = {"detected": correct / len(test_labels),
                                             "all": correct / total}
    return report


def format_classification_report(report: dict) -> str:
    lines = [f"{'split':<10} {'images':>7} {'with person':>12} {'without':>8}"]
    for split, counts in report["splits"].items():
        lines.append(f"{split:<10} {counts['images']:>7d} {counts['with_person']:>12d} "
                     f"{counts['without_person']:>8d}")
    lines.append("")
    lines.append(f"{'level':<9} {'classifier':<10} {'acc (person found)':>18} "
                 f"{'acc (all images)':>16}")
    for level, per_classifier in report["accuracy"].items():
        for name, figures in per_classifier.items():
            lines.append(f"{level:<9} {name:<10} {100 * figures['detected']:>17.1f}% "
                         f"{100 * figures['all']:>15.1f}%")
    return "\n".join(lines)
