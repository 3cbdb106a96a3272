"""Evaluation the way users run the model: the person detector's crops of full images.

``python -m launch.evaluate --crops=gt`` (the default) scores the landmark network on the crops
the training input pipeline cuts around the *labelled* keypoints: the network's accuracy given a
perfect crop. ``--crops=detector`` (:func:`evaluate_with_detector`) scores what a user of
:class:`blazepose.inference.PosePipeline` gets on a single image: per record of the evaluation
split,

1. the whole image is decoded and Google's person detector runs on it as the pipeline runs it
   (letterbox to 224x224, decoding, weighted non-max suppression), keeping *every* detection
   above the score threshold (:class:`PersonDetector`);
2. each detection's crop is MediaPipe's ROI from its keypoints 0 and 1
   (:func:`blazepose.inference.pipeline.detection_roi`);
3. the record's person is associated with one detection (an oracle, see below); no detection
   associated is a MISS;
4. the evaluated landmark network runs on that rotated crop, with MediaPipe's heatmap
   refinement, and its landmarks are projected to image pixels (:class:`LandmarkPredictor`);
   models of any keypoint count work (no auxiliary landmarks are needed: nothing is tracked).

Association (an oracle: it uses the labels to pick the detection, as top-down pose benchmarks
use ground-truth boxes to pick the person): the detection whose ROI centre (the detector's
mid-hip keypoint) is nearest to the labelled person's hip centre (both hips labelled), else to
the centre of the person box. If that nearest centre is farther than ``max_distance_factor``
(default 0.5) times the person box's diagonal, i.e. outside the circle through the box corners,
the record is a MISS. Several records of one image may pick the same detection. A detection
whose landmark network pose flag is below ``min_pose_flag`` is a MISS too (off by default: the
2-D training losses never train the pose-flag head).

Units: predictions (image pixels) and ground truth are both moved into the pixel frame of the
crop the ``gt`` evaluation uses for the same record (``crop_matrix`` of
:func:`blazepose.data.ops.sample_crop` without augmentation, inverted), so PCK, pixel errors and
the per-keypoint table compare with ``--crops=gt`` figures. Ground-truth visibility is cleared
for points outside that crop, as the ``gt`` pipeline does.

Scoring a MISS (:class:`DetectorCropEvaluator`): every labelled keypoint of the record counts
as a PCK (and PCKh) failure. The mean pixel error and the visibility accuracy are over the
detected records only (a MISS has no position to measure); ``detected`` and ``num_examples``
say how many records that is.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import math
import sys
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds
import tqdm

from blazepose import detector_anchors as detection_lib
from blazepose import metrics
from blazepose import topology as topology_lib
from blazepose.data import ops
from blazepose.data import pipeline as data_pipeline
from blazepose.data.config import CropConfig
from blazepose.inference import geometry, postprocess
from blazepose.inference.backends import make_backend
from blazepose.inference.pipeline import detection_roi

CROP_MODES = ("gt", "detector")
"""``--crops`` of ``launch.evaluate``: ``gt`` crops from the labels, ``detector`` from the
person detector on the full image."""

DEFAULT_MAX_DISTANCE_FACTOR = 0.5
"""A detection farther than this times the person box diagonal from the person is no match."""

_LANDMARK_OUTPUTS = ("landmarks", "world_landmarks", "pose_flag", "heatmap")

# ---------------------------------------------------------------------------------------------
# Records


def record_transform(source: topology_lib.Topology, target: topology_lib.Topology,
                     crop: CropConfig) -> Callable[[dict], dict]:
    """TFDS record (image left encoded) -> the features :func:`evaluate_with_detector` reads.

    The record's keypoints are mapped to ``target`` (:func:`blazepose.data.ops.map_topology`)
    and the crop the ``gt`` evaluation would use is chosen (``sample_crop`` without
    augmentation, for keypoints of ``target``), with the pipeline's test of whether the record
    is usable at all (``ops.record_problem``): the ``gt`` evaluation drops records with a
    problem, and :func:`evaluate_with_detector` skips them likewise.

    Returns a function of TF ops (for ``Dataset.map``) giving:
      ``image`` uint8 ``[H, W, 3]`` RGB, the decoded full image;
      ``encoded`` string, the encoded image (records of one image share it);
      ``keypoints`` float32 ``[K, 2]`` x, y in image pixels (continuous, pixel ``i`` spans
      ``[i, i + 1)``); ``visibility`` float32 ``[K]``; ``labelled`` bool ``[K]``;
      ``person_box`` float32 ``[4]`` x_min, y_min, x_max, y_max image pixels;
      ``crop_matrix`` float32 ``[3, 3]``: crop pixels (u, v, 1) -> image pixels (x, y, 1);
      ``image_id`` string (empty when the record has none);
      ``problem`` int32, index into ``ops.RECORD_PROBLEMS`` (0: usable).
    """

    def transform(record: dict) -> dict:
        features = data_pipeline.record_to_features(record, tf.zeros([2], tf.int64))
        features = ops.map_topology(features, source, target)
        features = data_pipeline.frame_example(features, crop, target, None)
        return {
            "image": tf.io.decode_image(features["jpeg"], channels=3, expand_animations=False),
            "encoded": features["jpeg"],
            "keypoints": features["keypoints"],
            "visibility": features["visibility"],
            "labelled": features["labelled"],
            "person_box": features["person_box"],
            "crop_matrix": features["crop_matrix"],
            "image_id": record.get("image_id", tf.constant("")),
            "problem": features["problem"],
        }

    return transform


def read_records(source: data_pipeline.DataSource, target: topology_lib.Topology,
                 crop: CropConfig) -> tf.data.Dataset:
    """The records of one prepared TFDS split, in order, through :func:`record_transform`.

    Read as the training pipeline reads them (``tfds.builder(name, data_dir).as_dataset`` with
    the image left encoded); the data set's own topology comes from its metadata
    (:func:`blazepose.data.pipeline.topology_of`). The builder must be registered (the launch
    program imports ``datasets_tfds``) and prepared.
    """
    builder = tfds.builder(source.name, data_dir=source.data_dir)
    dataset = builder.as_dataset(split=source.split, shuffle_files=False,
                                 read_config=tfds.ReadConfig(try_autocache=False),
                                 decoders={"image": tfds.decode.SkipDecoding()})
    transform = record_transform(data_pipeline.topology_of(builder.info), target, crop)
    return dataset.map(transform, num_parallel_calls=tf.data.AUTOTUNE,
                       deterministic=True).prefetch(2)


# ---------------------------------------------------------------------------------------------
# Detector and landmark network


@dataclasses.dataclass(frozen=True)
class DetectedPerson:
    """One detection of :class:`PersonDetector`.

    Attributes:
      roi: MediaPipe's landmark crop from the detection's keypoints 0 and 1, image pixels.
      score: the detector's probability.
    """

    roi: geometry.Roi
    score: float


class PersonDetector:
    """Every person the detector finds in an image, as :class:`DetectedPerson` crops.

    The steps of :meth:`blazepose.inference.PosePipeline.detect` (letterbox, the network,
    decoding and weighted NMS, ROI from keypoints 0 and 1), keeping all detections
    (:func:`blazepose.inference.postprocess.all_detections`) instead of the best one.

    Args:
      detector: the person detector: ``.tflite`` path, ``keras.Model``, ``.keras`` path,
        SavedModel directory or backend (:func:`blazepose.inference.backends.make_backend`).
      min_score, iou_threshold, roi_scale: MediaPipe's values by default.
      num_threads: TFLite interpreter threads for a ``.tflite`` path.
    """

    def __init__(self, detector, min_score: float = detection_lib.MIN_SCORE,
                 iou_threshold: float = detection_lib.MIN_SUPPRESSION_IOU,
                 roi_scale: float = geometry.ROI_SCALE, num_threads: int = 2):
        self.backend = make_backend(detector, num_threads)
        if self.backend.kind != "detector":
            raise ValueError(f"{self.backend.source} is a {self.backend.kind} network, not the "
                             "person detector")
        self.min_score = min_score
        self.iou_threshold = iou_threshold
        self.roi_scale = roi_scale

    def __call__(self, image: np.ndarray) -> list[DetectedPerson]:
        """Detections in a uint8 RGB ``[H, W, 3]`` image, best first (may be empty)."""
        height, width = image.shape[:2]
        square, letterbox = geometry.letterbox_image(image, self.backend.input_size)
        outputs = self.backend(square)
        people = []
        for found in postprocess.all_detections(
                outputs["boxes"], outputs["scores"], input_size=self.backend.input_size,
                min_score=self.min_score, iou_threshold=self.iou_threshold):
            roi = detection_roi(found, letterbox, width, height, self.roi_scale)
            if roi is not None:
                people.append(DetectedPerson(roi, found.score))
        return people


def landmark_view(model: keras.Model) -> keras.Model:
    """``model`` with only the outputs :class:`LandmarkPredictor` reads (no segmentation or
    offset maps computed); the layers are shared."""
    missing = [key for key in _LANDMARK_OUTPUTS if key not in model.output]
    if missing:
        raise ValueError(f"{model.name} is not a landmark network: outputs {missing} missing")
    return keras.Model(model.inputs, {key: model.output[key] for key in _LANDMARK_OUTPUTS},
                       name=f"{model.name}_landmarks")


class LandmarkPredictor:
    """The landmark network on a rotated crop of a full image, as the pipeline runs it.

    :meth:`blazepose.inference.PosePipeline.estimate` without its demand for BlazePose's
    auxiliary landmarks: crop resampled to S x S RGB in [0, 1], the network, landmarks decoded,
    x and y refined with the heatmap (MediaPipe's 7x7 rule), projected to image pixels.

    Args:
      model: the landmark network (``keras.Model``, whose unneeded outputs are dropped, or
        anything :func:`blazepose.inference.backends.make_backend` takes).
      num_keypoints: K, the first K landmark outputs are returned (33 of BlazePose's 39).
      refine_with_heatmap: MediaPipe's heatmap refinement of x, y.
    """

    def __init__(self, model, num_keypoints: int, refine_with_heatmap: bool = True,
                 num_threads: int = 2):
        if isinstance(model, keras.Model):
            model = landmark_view(model)
        self.backend = make_backend(model, num_threads)
        if self.backend.kind != "landmark":
            raise ValueError(f"{self.backend.source} is a {self.backend.kind} network, not the "
                             "landmark network")
        self.num_keypoints = int(num_keypoints)
        self.refine_with_heatmap = refine_with_heatmap
        self._keys = ["landmarks", "pose_flag"] + (["heatmap"] if refine_with_heatmap else [])

    def __call__(self, image: np.ndarray, roi: geometry.Roi) -> tuple[np.ndarray, float]:
        """Landmarks of the person in crop ``roi`` of a uint8 RGB ``[H, W, 3]`` image.

        Returns:
          ``(landmarks, pose_flag)``: float32 ``[K, 5]`` x, y (image pixels, continuous), z
          (image pixel scale), visibility and presence probabilities; and the pose-flag
          probability.
        Raises:
          ValueError: the network has fewer than K landmark outputs.
        """
        size = self.backend.input_size
        crop = geometry.crop_image(image, roi, size).astype(np.float32) * np.float32(1 / 255)
        outputs = self.backend(crop, self._keys)
        decoded = postprocess.decode_landmarks(outputs["landmarks"], size)
        if len(decoded) < self.num_keypoints:
            raise ValueError(f"{self.backend.source} predicts {len(decoded)} landmarks, fewer "
                             f"than the {self.num_keypoints} keypoints evaluated")
        if self.refine_with_heatmap:
            decoded = postprocess.refine_with_heatmap(decoded, outputs["heatmap"])
        landmarks = geometry.project_landmarks(decoded[:self.num_keypoints], roi)
        return landmarks, float(np.asarray(outputs["pose_flag"], np.float64).reshape(-1)[0])


# ---------------------------------------------------------------------------------------------
# Exported models (``launch.evaluate --tflite``)


def check_exported_model(exported, model: keras.Model, keys: Iterable[str]) -> None:
    """Refuses an exported network that is not ``model``'s: another input shape, or one of the
    outputs ``keys`` that ``model`` has missing or of another shape.

    Args:
      exported: a runner with ``source``, ``input_shape`` (batch first) and ``output_shapes``
        (our key -> shape of one example), e.g. :class:`blazepose.export.runtimes.TFLiteRunner`.
      model: the Keras network (dict outputs) the evaluation would otherwise score.
      keys: the outputs the evaluation reads (``landmarks``, ``heatmap``, ...).
    Raises:
      ValueError: one line naming ``exported.source`` and every difference.
    """
    problems = []
    expected_input = tuple(int(d) for d in model.inputs[0].shape[1:])
    if tuple(exported.input_shape[1:]) != expected_input:
        problems.append(f"input {list(exported.input_shape)}, the network takes "
                        f"{[1, *expected_input]}")
    missing = []
    for key in keys:
        if key not in model.output:
            continue
        expected = tuple(int(d) for d in model.output[key].shape[1:])
        found = exported.output_shapes.get(key)
        if found is None:
            missing.append(key)
        elif tuple(found) != expected:
            problems.append(f"{key} {list(found)} per example, the network gives "
                            f"{list(expected)}")
    if missing:
        problems.append(f"no {', '.join(missing)} output (it has "
                        f"{', '.join(sorted(exported.output_shapes)) or 'none of ours'})")
    if problems:
        raise ValueError(f"{exported.source} is not the evaluated network {model.name}: "
                         + "; ".join(problems))


def _given(outputs: dict, images, training: bool = False) -> dict:
    """A stand-in network whose outputs were computed already."""
    del images, training
    return outputs


class ExportedEvaluationStep:
    """Stands in for the trainer's runner (``blazepose.train.runner.Runner``) in
    ``Trainer.run_evaluation``, so that an exported network is scored on the very crops, with
    the same decoding and metrics, as the Keras network: each local part of an evaluation batch
    (float32 crops ``[B, S, S, 3]`` in [0, 1]) runs through ``exported`` on the host, and the
    task's own ``validation_step`` turns its outputs into keypoints.

    Args:
      exported: ``crops -> {our output key: [B, ...] numpy}`` (raw outputs as the Keras network
        gives them: landmarks ``[B, L, 5]`` in crop pixels and logits, heatmap logits, ...), e.g.
        :class:`blazepose.export.runtimes.TFLiteRunner`.
      task: the ``PoseTask`` whose ``validation_step`` decodes the outputs.
      local_parts: the replaced runner's ``local_parts`` (a distributed batch -> per local
        replica a dict of tensors).
    """

    def __init__(self, exported, task, local_parts: Callable[[dict], list]):
        self.exported, self.task, self.local_parts = exported, task, local_parts

    def evaluate_step(self, batch: dict) -> list[tuple[dict, dict]]:
        """As ``Runner.evaluate_step``: per local replica its part of ``batch`` and the
        validation outputs (numpy arrays)."""
        results = []
        for part in self.local_parts(batch):
            crops = tf.cast(part["image"], tf.float32).numpy()
            outputs = {key: tf.constant(value) for key, value in self.exported(crops).items()}
            step = self.task.validation_step(part, model=functools.partial(_given, outputs))
            results.append((part, {name: np.asarray(value) for name, value in step.items()}))
        return results


# ---------------------------------------------------------------------------------------------
# Association and units


def person_centre(keypoints: np.ndarray, labelled: np.ndarray, person_box: np.ndarray,
                  topology: topology_lib.Topology) -> np.ndarray:
    """float64 ``[2]`` image (x, y) the detection is matched to: the mean of the two labelled
    hips (found by name, :func:`blazepose.metrics.torso_keypoint_indices`), else the centre of
    ``person_box`` (x_min, y_min, x_max, y_max)."""
    try:
        hips = list(metrics.torso_keypoint_indices(topology)[2:])
    except ValueError:  # a topology without hips
        hips = []
    labelled = np.asarray(labelled, bool)
    if hips and labelled[hips].all():
        return np.asarray(keypoints, np.float64)[hips, :2].mean(axis=0)
    box = np.asarray(person_box, np.float64)
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])


def associate(people: Sequence[DetectedPerson], centre: np.ndarray, max_distance: float
              ) -> int | None:
    """Index of the detection whose ROI centre is nearest to ``centre`` (image pixels), or None
    when there is none or the nearest is farther than ``max_distance`` pixels. Ties go to the
    earlier (higher-scoring) detection."""
    if not people:
        return None
    centres = np.array([[p.roi.center_x, p.roi.center_y] for p in people], np.float64)
    distances = np.linalg.norm(centres - np.asarray(centre, np.float64)[:2], axis=1)
    index = int(np.argmin(distances))
    return index if distances[index] <= max_distance else None


def image_to_crop_pixels(points: np.ndarray, crop_matrix: np.ndarray) -> np.ndarray:
    """Image pixels ``[..., 2]`` (x, y) -> float64 crop pixels ``[..., 2]`` (u, v).

    ``crop_matrix`` float ``[3, 3]`` maps crop (u, v, 1) to image (x, y, 1) (``sample_crop``'s
    ``crop_matrix``); its inverse is applied. NaN points stay NaN.
    """
    inverse = np.linalg.inv(np.asarray(crop_matrix, np.float64))
    points = np.asarray(points, np.float64)[..., :2]
    return points @ inverse[:2, :2].T + inverse[:2, 2]


# ---------------------------------------------------------------------------------------------
# Metrics with misses


class DetectorCropEvaluator(metrics.PoseEvaluator):
    """:class:`blazepose.metrics.PoseEvaluator` for records of which some were missed.

    ``update(..., detected=[N] bool)``: records with ``detected`` False are MISSES. PCK / PCKh
    are over all records, a miss's labelled keypoints all counting as failures (its predictions
    are set to NaN, which the metrics count as wrong, not as excluded). ``mean_pixel_error``
    and ``visibility_accuracy`` (overall and per keypoint) are over the detected records only;
    :attr:`detected_only` holds every metric over just those. :meth:`result` adds
    ``detected`` (records detected), ``pck@T_detected`` (PCK over them) and
    ``detected_num_labelled_keypoints``; ``num_examples`` counts all records.
    """

    def __init__(self, topology: topology_lib.Topology, **thresholds: float) -> None:
        self.detected_only = metrics.PoseEvaluator(topology, **thresholds)
        super().__init__(topology, **thresholds)

    def reset(self) -> None:
        super().reset()
        self.detected_only.reset()

    def update(self, pred_keypoints, gt_keypoints, labelled, pred_visibility=None,
               gt_visibility=None, head_sizes=None, detected=None) -> None:
        """As :meth:`PoseEvaluator.update`, plus ``detected``: bool ``[N]`` (None: all).

        The predictions and predicted visibility of missed records are ignored (they may hold
        anything, NaN included).
        """
        pred = np.asarray(pred_keypoints, np.float64)
        num_examples = np.shape(gt_keypoints)[0]
        found = (np.ones(num_examples, bool) if detected is None
                 else np.asarray(detected, bool).reshape(-1))
        if found.shape != (num_examples,):
            raise ValueError(f"detected must have shape ({num_examples},), got {found.shape}")
        pred_all = np.where(found[:, None, None], pred, np.nan)
        visibility_all = None
        if pred_visibility is not None:
            # Any valid probability: result() reports visibility over detected records only.
            visibility_all = np.where(found[:, None], np.asarray(pred_visibility, np.float64),
                                      0.0)

        def rows(values):
            return None if values is None else np.asarray(values)[found]

        # All records first: the detected-only update checks a subset of the same values, so
        # once this one has accepted the input, that one cannot refuse it.
        super().update(pred_all, gt_keypoints, labelled, pred_visibility=visibility_all,
                       gt_visibility=gt_visibility, head_sizes=head_sizes)
        self.detected_only.update(pred[found], rows(gt_keypoints), rows(labelled),
                                  pred_visibility=rows(pred_visibility),
                                  gt_visibility=rows(gt_visibility), head_sizes=rows(head_sizes))

    @property
    def detected_key(self) -> str:
        """Result key of the PCK over detected records, e.g. ``"pck@0.2_detected"``."""
        return f"{self.pck_key}_detected"

    def result(self) -> dict[str, Any]:
        summary = super().result()
        found = self.detected_only.result()
        summary["detected"] = found["num_examples"]
        summary[self.detected_key] = found[self.pck_key]
        summary["detected_num_labelled_keypoints"] = found["num_labelled_keypoints"]
        replaced = ["mean_pixel_error"]
        if "visibility_accuracy" in summary:
            replaced.append("visibility_accuracy")
            summary["visibility_num_counted_keypoints"] = found.get(
                "visibility_num_counted_keypoints", 0)
        for key in replaced:
            summary[key] = found.get(key, math.nan)
            for name, values in summary["per_keypoint"].items():
                values[key] = found["per_keypoint"][name].get(key, math.nan)
        return summary

    def table(self) -> str:
        summary = self.result()
        return "\n".join([
            super().table(),
            f"detected {summary['detected']} of {summary['num_examples']} examples; misses "
            f"count as {self.pck_key} failures; error and visibility over the "
            f"{summary['detected']} detected examples only",
        ])


# ---------------------------------------------------------------------------------------------
# The evaluation loop


@dataclasses.dataclass
class DetectorEvaluationRun:
    """What :func:`evaluate_with_detector` gathered.

    Attributes:
      evaluator: the metrics (in ``gt``-crop pixels; misses as PCK failures).
      num_examples: records evaluated.
      detected: records with an associated detection (and pose flag >= ``min_pose_flag``).
      images: distinct images the detector ran on.
      skipped: records not evaluated because the ``gt`` pipeline drops them (``problem``).
    """

    evaluator: DetectorCropEvaluator
    num_examples: int = 0
    detected: int = 0
    images: int = 0
    skipped: int = 0


def _image_key(record: dict) -> bytes | None:
    encoded = record.get("encoded")
    return None if encoded is None else hashlib.sha1(bytes(encoded)).digest()


def evaluate_with_detector(
    records: Iterable[dict],
    predictor: Callable[[np.ndarray, geometry.Roi], tuple[np.ndarray, float]],
    detector: Callable[[np.ndarray], Sequence[DetectedPerson]],
    topology: topology_lib.Topology,
    *,
    crop_size: int = 256,
    max_examples: int | None = None,
    max_distance_factor: float = DEFAULT_MAX_DISTANCE_FACTOR,
    min_pose_flag: float = 0.0,
    evaluator: DetectorCropEvaluator | None = None,
    progress: bool = False,
    total: int | None = None,
    cache_images: int = 64,
) -> DetectorEvaluationRun:
    """Scores ``predictor`` on the detector's crops of full images (module docstring).

    Args:
      records: dicts of numpy values as :func:`record_transform` makes them (``image``,
        ``keypoints``, ``visibility``, ``labelled``, ``person_box``, ``crop_matrix``, optional
        ``encoded`` and ``problem``), e.g. ``read_records(...).as_numpy_iterator()``; records
        with a nonzero ``problem`` are skipped and counted.
      predictor: ``(image, roi) -> (landmarks [K, >=4] image pixels, pose_flag)``, e.g. a
        :class:`LandmarkPredictor`; column 3 is the visibility probability.
      detector: ``image -> detections``, e.g. a :class:`PersonDetector`. It runs once per
        distinct image (records with equal ``encoded`` bytes, among the last ``cache_images``).
      topology: the keypoints of ``records`` and of the predictions (K of them).
      crop_size: S of the ``gt`` crop (``CropConfig.size``), for clearing the visibility of
        points outside it.
      max_examples: stop after this many records (None: all).
      max_distance_factor: association radius over the person box diagonal.
      min_pose_flag: a detection whose pose flag is below this is a MISS.
      evaluator: accumulate into this one (default: a new :class:`DetectorCropEvaluator`).
      progress: a tqdm progress line on stderr (redrawn every 10 s when stderr is not a
        terminal); ``total`` its expected number of records.
    """
    if max_distance_factor <= 0:
        raise ValueError(f"max_distance_factor must be positive, got {max_distance_factor}")
    evaluator = evaluator or DetectorCropEvaluator(topology)
    run = DetectorEvaluationRun(evaluator=evaluator)
    cache: OrderedDict[bytes, list[DetectedPerson]] = OrderedDict()
    pending: dict[str, list] = {key: [] for key in ("pred", "pred_visibility", "gt",
                                                    "labelled", "gt_visibility", "detected")}
    bar = tqdm.tqdm(total=total, desc="evaluating (detector crops)", unit="example",
                    disable=not progress, mininterval=0.25 if sys.stderr.isatty() else 10.0)

    def flush() -> None:
        if pending["gt"]:
            evaluator.update(np.stack(pending["pred"]), np.stack(pending["gt"]),
                             np.stack(pending["labelled"]),
                             pred_visibility=np.stack(pending["pred_visibility"]),
                             gt_visibility=np.stack(pending["gt_visibility"]),
                             detected=np.array(pending["detected"]))
            for values in pending.values():
                values.clear()

    num_keypoints = topology.num_keypoints
    for record in records:
        if max_examples is not None and run.num_examples >= max_examples:
            break
        if int(record.get("problem", 0)):
            run.skipped += 1
            continue
        image = np.asarray(record["image"])
        keypoints = np.asarray(record["keypoints"], np.float64)
        labelled = np.asarray(record["labelled"], bool)
        if keypoints.shape != (num_keypoints, 2):
            raise ValueError(f"record {record.get('image_id', run.num_examples)!r}: keypoints "
                             f"{keypoints.shape}, expected ({num_keypoints}, 2) of "
                             f"{topology.name}")
        key = _image_key(record)
        if key is not None and key in cache:
            people = cache[key]
            cache.move_to_end(key)
        else:
            people = list(detector(image))
            run.images += 1
            if key is not None:
                cache[key] = people
                if len(cache) > cache_images:
                    cache.popitem(last=False)
        box = np.asarray(record["person_box"], np.float64)
        radius = max_distance_factor * math.hypot(box[2] - box[0], box[3] - box[1])
        index = associate(people, person_centre(keypoints, labelled, box, topology), radius)
        predicted = np.full((num_keypoints, 2), np.nan)
        visibility = np.zeros(num_keypoints)
        found = False
        if index is not None:
            landmarks, pose_flag = predictor(image, people[index].roi)
            if pose_flag >= min_pose_flag:
                found = True
                predicted = np.asarray(landmarks, np.float64)[:num_keypoints, :2]
                visibility = np.asarray(landmarks, np.float64)[:num_keypoints, 3]
        matrix = np.asarray(record["crop_matrix"], np.float64)
        truth = image_to_crop_pixels(keypoints, matrix)
        inside = np.all((truth >= 0) & (truth < crop_size), axis=-1)
        pending["pred"].append(image_to_crop_pixels(predicted, matrix))
        pending["pred_visibility"].append(visibility)
        pending["gt"].append(truth)
        pending["labelled"].append(labelled)
        pending["gt_visibility"].append(
            np.where(inside, np.asarray(record["visibility"], np.float64), 0.0))
        pending["detected"].append(found)
        run.num_examples += 1
        run.detected += int(found)
        if len(pending["gt"]) >= 64:
            flush()
        bar.update(1)
    flush()
    bar.close()
    return run


__all__ = ["CROP_MODES", "DEFAULT_MAX_DISTANCE_FACTOR", "DetectedPerson",
           "DetectorCropEvaluator", "DetectorEvaluationRun", "ExportedEvaluationStep",
           "LandmarkPredictor", "PersonDetector", "associate", "check_exported_model",
           "evaluate_with_detector", "image_to_crop_pixels", "landmark_view",
           "person_centre", "read_records", "record_transform"]
