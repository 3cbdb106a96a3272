"""MediaPipe's single-person pose pipeline with our networks: :class:`PosePipeline`.

Per image (:meth:`PosePipeline.process_image`):

1. the person detector on the whole image letterboxed to 224x224 (RGB in [-1, 1]); decoding,
   weighted non-max suppression, the best detection, letterbox removed;
2. the crop (:class:`~blazepose.inference.geometry.Roi`) from its keypoints 0 and 1: centre
   mid-hip, side ``2.5 * |kp1 - kp0|``, rotated so that the body is upright;
3. the rotated crop resampled to 256x256 (RGB in [0, 1]) and the landmark network;
4. the pose flag: below 0.5 there is no person (``None``);
5. landmarks decoded (sigmoid of visibility and presence), x, y refined with the heatmap, and
   projected back to image pixels; world landmarks rotated by the crop rotation; optionally the
   segmentation mask warped back onto the image.

In video mode (:meth:`PosePipeline.process_frame`), MediaPipe's tracking: the crop of the next
frame comes from this frame's auxiliary landmarks 33 (centre) and 34 (scale and rotation), by the
same rule as from the detector keypoints; the detector runs again only after a frame whose pose
flag fell below the threshold (that frame returns ``None``). Landmarks are smoothed with one-euro
filters (speed relative to the person's size), world landmarks with a metric one-euro filter and
visibility with a low-pass filter, all with MediaPipe's parameters. Two MediaPipe graphs differ
here (:data:`VIDEO_GRAPHS`): the Tasks ``PoseLandmarker`` (default) places the next crop from the
raw auxiliary landmarks and measures the person's size for the landmark filter on that crop;
the legacy ``mp.solutions.pose`` one-euro filters the auxiliary landmarks first and measures the
size on the square they span (1/1.25 of the crop).

A person not found is a normal result, ``None``, not an error. A pipeline keeps per-video state
and is not thread-safe: use one per video stream.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time

import numpy as np

from blazepose.inference import filters, geometry, postprocess
from blazepose.inference.backends import KerasBackend, TFLiteBackend, make_backend
from blazepose.pretrained import files

NUM_LANDMARKS = 33
AUX_CENTER_INDEX = 33  # blazepose.topology.AUX_ROI_CENTER_INDEX
AUX_SCALE_INDEX = 34  # blazepose.topology.AUX_ROI_SCALE_INDEX
MIN_ROI_SIZE = 1.0  # pixels; a smaller tracked crop counts as a lost track
# Video-mode behaviour of MediaPipe's two pose graphs: "tasks" (mediapipe.tasks PoseLandmarker,
# mediapipe >= 0.10) and "legacy" (mediapipe.solutions.pose, removed in 0.10.30).
VIDEO_GRAPHS = ("tasks", "legacy")


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """Thresholds and filter parameters; the defaults are MediaPipe's.

    Attributes:
      min_detection_score: detector score threshold (probability).
      min_suppression_iou: IoU above which detections are merged.
      roi_scale: crop side / (2 * |kp1 - kp0|).
      min_pose_flag: below this pose-flag probability there is no person (and tracking stops).
      refine_with_heatmap: MediaPipe's 7x7 heatmap refinement of x, y.
      sampling: how the detector's letterbox and the landmark crop sample the image
        (:data:`blazepose.inference.geometry.SAMPLINGS`): ``"mediapipe"``, MediaPipe's own
        warp (its tensors, hence its landmarks), or ``"pixel_centers"``.
      video_graph: whose video mode to reproduce (:data:`VIDEO_GRAPHS`): ``"tasks"`` or
        ``"legacy"`` (``mp.solutions.pose``: auxiliary landmarks filtered, smaller object scale).
      landmarks_filter, world_landmarks_filter, auxiliary_filter: one-euro parameters.
      visibility_alpha: low-pass coefficient of the visibility in video mode.
    """

    min_detection_score: float = 0.5
    min_suppression_iou: float = 0.3
    roi_scale: float = geometry.ROI_SCALE
    min_pose_flag: float = 0.5
    refine_with_heatmap: bool = True
    sampling: str = "mediapipe"
    video_graph: str = "tasks"
    landmarks_filter: filters.OneEuroConfig = filters.LANDMARKS_FILTER
    world_landmarks_filter: filters.OneEuroConfig = filters.WORLD_LANDMARKS_FILTER
    auxiliary_filter: filters.OneEuroConfig = filters.AUXILIARY_LANDMARKS_FILTER
    visibility_alpha: float = filters.VISIBILITY_ALPHA

    def __post_init__(self):
        for name in ("min_detection_score", "min_suppression_iou", "min_pose_flag",
                     "visibility_alpha"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        geometry.check_sampling(self.sampling)
        if self.video_graph not in VIDEO_GRAPHS:
            raise ValueError(f"video_graph must be one of {VIDEO_GRAPHS}, got "
                             f"{self.video_graph!r}")
        if self.roi_scale <= 0:
            raise ValueError(f"roi_scale must be positive, got {self.roi_scale}")


@dataclasses.dataclass
class PoseResult:
    """One person's pose in one image.

    Attributes:
      landmarks: float32 ``[33, 5]``: x, y in image pixels (continuous: pixel ``(r, c)`` spans
        ``[c, c + 1) x [r, r + 1)``), z in the same pixel scale (relative depth, smaller is
        nearer the camera, origin about the hips), visibility and presence probabilities in
        [0, 1]. BlazePose's 33-landmark order (``blazepose.topology.BLAZEPOSE_33``).
      world_landmarks: float32 ``[33, 3]``: metres, origin between the hips; x, y turned into
        the image's orientation (x right, y down), z depth (smaller is nearer the camera).
      roi: the crop the landmarks were predicted in (image pixels).
      pose_flag: the landmark network's probability that a person is in the crop.
      segmentation: optional float32 ``[H, W]`` person probability per image pixel (0 outside
        the crop).
      auxiliary_landmarks: float32 ``[2, 3]`` x, y, z pixels of the two landmarks that place the
        next crop (filtered in video mode).
      detected: the detector placed this frame's crop (False: tracked from the previous frame).
      detection_score: the detector's probability when ``detected``.
    """

    landmarks: np.ndarray
    world_landmarks: np.ndarray
    roi: geometry.Roi
    pose_flag: float
    segmentation: np.ndarray | None = None
    auxiliary_landmarks: np.ndarray | None = None
    detected: bool = True
    detection_score: float | None = None


def detection_roi(found: postprocess.Detection, letterbox: geometry.Letterbox, width: int,
                  height: int, roi_scale: float = geometry.ROI_SCALE) -> geometry.Roi | None:
    """The landmark crop of a detection, in pixels of the ``width x height`` image.

    MediaPipe's ROI (:func:`geometry.roi_from_keypoints`) from the detection's keypoints 0
    (mid-hip, the centre) and 1 (the full-body scale and rotation point) after removing the
    ``letterbox`` of the detector input; None for a crop of zero (or NaN) size.

    Args:
      found: a detection normalised to the square detector input
        (:func:`postprocess.best_detection` / :func:`postprocess.all_detections`).
    """
    keypoints = letterbox.remove(found.keypoints) * np.array([width, height])
    roi = geometry.roi_from_keypoints(keypoints[0], keypoints[1], roi_scale)
    return roi if roi.size > 0 else None


def _check_image(image: np.ndarray, what: str) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{what} must be a uint8 RGB array [H, W, 3], got {image.dtype} "
                         f"{list(image.shape)}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"{what} is empty: {list(image.shape)}")
    return np.ascontiguousarray(image)


def _sigmoid(x):
    """Overflow-free logistic function (segmentation logits reach +-1500)."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


class PosePipeline:
    """Detector + landmark network + tracking + smoothing, on numpy images.

    Args:
      detector: the person detector: a ``.tflite`` path, a ``keras.Model``, a ``.keras`` path,
        a SavedModel directory, or a backend (:mod:`blazepose.inference.backends`).
      landmark_model: the landmark network, likewise (39 landmarks: 33 body + auxiliary).
      tracking: in :meth:`process_frame`, place the next crop from this frame's landmarks
        instead of running the detector on every frame.
      smoothing: in :meth:`process_frame`, filter landmarks, world landmarks and visibility.
      segmentation: compute ``PoseResult.segmentation`` (costs a full-image warp per frame).
      num_threads: TFLite interpreter threads, for backends made from paths here.
      config: thresholds and filter parameters.
    """

    def __init__(self, detector, landmark_model, *, tracking: bool = True,
                 smoothing: bool = True, segmentation: bool = False, num_threads: int = 2,
                 config: PipelineConfig | None = None):
        self.detector = make_backend(detector, num_threads)
        self.landmark_model = make_backend(landmark_model, num_threads)
        if self.detector.kind != "detector":
            raise ValueError(f"{self.detector.source} is a {self.detector.kind} network, not the "
                             "person detector")
        if self.landmark_model.kind != "landmark":
            raise ValueError(f"{self.landmark_model.source} is a {self.landmark_model.kind} "
                             "network, not the landmark network")
        if segmentation and "segmentation" not in self.landmark_model.output_keys:
            raise ValueError(f"{self.landmark_model.source} has no segmentation output")
        self.tracking = tracking
        self.smoothing = smoothing
        self.segmentation = segmentation
        self.config = config or PipelineConfig()
        self.last_timings: dict[str, float] = {}
        self._landmark_keys = ["landmarks", "world_landmarks", "pose_flag"]
        if self.config.refine_with_heatmap:
            self._landmark_keys.append("heatmap")
        if segmentation:
            self._landmark_keys.append("segmentation")
        self._landmarks_filter = filters.OneEuroFilter(self.config.landmarks_filter)
        self._world_filter = filters.OneEuroFilter(self.config.world_landmarks_filter)
        self._aux_filter = filters.OneEuroFilter(self.config.auxiliary_filter)
        self._visibility_filter = filters.LowPassFilter(self.config.visibility_alpha)
        self._next_roi: geometry.Roi | None = None
        self._last_timestamp: float | None = None

    @classmethod
    def from_pretrained(cls, backend: str = "tflite", num_threads: int = 2, tracking: bool = True,
                        smoothing: bool = True, segmentation: bool = False,
                        cache_dir: os.PathLike | None = None,
                        config: PipelineConfig | None = None) -> PosePipeline:
        """Google's BlazePose Full and person detector.

        Args:
          backend: ``"tflite"``: Google's ``.tflite`` files in the TFLite interpreter with
            ``num_threads``; ``"keras"``: our Keras networks with Google's weights imported
            (TensorFlow runs them with its own thread pool). Files are fetched once from the
            ``mediapipe==0.10.21`` wheel on PyPI into ``cache_dir``.
        """
        return load_pipeline(backend, num_threads=num_threads, tracking=tracking,
                             smoothing=smoothing, segmentation=segmentation, cache_dir=cache_dir,
                             config=config)

    # ----------------------------------------------------------------------------------------
    # Building blocks.

    def detect(self, image: np.ndarray) -> tuple[geometry.Roi, float] | None:
        """The detector on the whole uint8 RGB ``[H, W, 3]`` image: ``(crop, score)`` of the best
        detection, or None."""
        image = _check_image(image, "image")
        height, width = image.shape[:2]
        square, letterbox = geometry.letterbox_image(image, self.detector.input_size,
                                                     self.config.sampling)
        outputs = self.detector(square)
        found = postprocess.best_detection(
            outputs["boxes"], outputs["scores"], input_size=self.detector.input_size,
            min_score=self.config.min_detection_score,
            iou_threshold=self.config.min_suppression_iou)
        if found is None:
            return None
        roi = detection_roi(found, letterbox, width, height, self.config.roi_scale)
        if roi is None:
            return None
        return roi, found.score

    def estimate(self, image: np.ndarray, roi: geometry.Roi) -> dict:
        """The landmark network on the crop ``roi`` of a uint8 RGB image.

        Returns a dict: ``pose_flag`` (float); ``landmarks`` float32 ``[L, 5]`` in image pixels
        (all L outputs, auxiliary ones included; x, y, z pixels, visibility, presence);
        ``world_landmarks`` float32 ``[L, 3]`` rotated; ``segmentation`` float32 ``[H, W]``
        when enabled.
        """
        size = self.landmark_model.input_size
        start = time.perf_counter()
        crop = geometry.crop_image(image, roi, size, sampling=self.config.sampling)
        tensor = crop.astype(np.float32)
        tensor *= np.float32(1 / 255)
        crop_done = time.perf_counter()
        outputs = self.landmark_model(tensor, self._landmark_keys)
        model_done = time.perf_counter()
        decoded = postprocess.decode_landmarks(outputs["landmarks"], size)
        if len(decoded) <= AUX_SCALE_INDEX:
            raise ValueError(f"{self.landmark_model.source} predicts {len(decoded)} landmarks; "
                             "the pipeline needs BlazePose's layout: 33 body landmarks, then the "
                             "2 auxiliary ones that place the next crop")
        if self.config.refine_with_heatmap:
            decoded = postprocess.refine_with_heatmap(decoded, outputs["heatmap"])
        result = {
            "pose_flag": float(np.asarray(outputs["pose_flag"]).reshape(-1)[0]),
            "landmarks": geometry.project_landmarks(decoded, roi),
            "world_landmarks": geometry.rotate_world_landmarks(
                np.asarray(outputs["world_landmarks"]).reshape(-1, 3), roi.rotation),
        }
        if self.segmentation:
            mask = _sigmoid(np.asarray(outputs["segmentation"], np.float32).reshape(size, size))
            height, width = image.shape[:2]
            result["segmentation"] = geometry.crop_mask_to_image(mask, roi, width, height)
        self.last_timings.update(crop_ms=(crop_done - start) * 1e3,
                                 landmark_ms=(model_done - crop_done) * 1e3,
                                 decode_ms=(time.perf_counter() - model_done) * 1e3)
        return result

    # ----------------------------------------------------------------------------------------
    # Public API.

    def process_image(self, image_rgb: np.ndarray) -> PoseResult | None:
        """One independent image: detector, landmarks, no tracking, no smoothing.

        Args:
          image_rgb: uint8 ``[H, W, 3]`` RGB.
        Returns:
          the pose, or None when no person is found (no detection, or a pose flag below the
          threshold). The video state of :meth:`process_frame` is not touched.
        """
        image = _check_image(image_rgb, "image_rgb")
        self.last_timings = {}
        start = time.perf_counter()
        found = self.detect(image)
        self.last_timings["detector_ms"] = (time.perf_counter() - start) * 1e3
        if found is None:
            return None
        roi, score = found
        estimate = self.estimate(image, roi)
        if estimate["pose_flag"] < self.config.min_pose_flag:
            return None
        landmarks = estimate["landmarks"]
        return PoseResult(
            landmarks=landmarks[:NUM_LANDMARKS].astype(np.float32),
            world_landmarks=estimate["world_landmarks"][:NUM_LANDMARKS].astype(np.float32),
            roi=roi, pose_flag=estimate["pose_flag"], segmentation=estimate.get("segmentation"),
            auxiliary_landmarks=landmarks[AUX_CENTER_INDEX:AUX_SCALE_INDEX + 1, :3].copy(),
            detected=True, detection_score=score)

    def process_frame(self, frame_rgb: np.ndarray, timestamp_s: float) -> PoseResult | None:
        """The next frame of a video: tracking and smoothing as MediaPipe's video mode.

        Args:
          frame_rgb: uint8 ``[H, W, 3]`` RGB; all frames of a video have the same size.
          timestamp_s: the frame's time in seconds, strictly increasing (the filters' clock).
        Returns:
          the pose, or None when no person is found on this frame.
        Raises:
          ValueError: a timestamp not after the previous frame's, or a bad image.
        """
        frame = _check_image(frame_rgb, "frame_rgb")
        timestamp_s = float(timestamp_s)
        if not math.isfinite(timestamp_s):
            raise ValueError(f"timestamp_s must be finite, got {timestamp_s}")
        if self._last_timestamp is not None and timestamp_s <= self._last_timestamp:
            raise ValueError(f"timestamp_s {timestamp_s} is not after the previous frame's "
                             f"{self._last_timestamp}; call reset() to start a new video")
        self._last_timestamp = timestamp_s
        self.last_timings = {}
        roi = self._next_roi if self.tracking else None
        score = None
        detected = roi is None
        if detected:
            start = time.perf_counter()
            found = self.detect(frame)
            self.last_timings["detector_ms"] = (time.perf_counter() - start) * 1e3
            if found is None:
                self._lose_track()
                return None
            roi, score = found
        estimate = self.estimate(frame, roi)
        if estimate["pose_flag"] < self.config.min_pose_flag:
            self._lose_track()
            return None
        start = time.perf_counter()
        landmarks = estimate["landmarks"]
        body = landmarks[:NUM_LANDMARKS].astype(np.float64)
        world = estimate["world_landmarks"][:NUM_LANDMARKS].astype(np.float64)
        aux = landmarks[AUX_CENTER_INDEX:AUX_SCALE_INDEX + 1, :3].astype(np.float64)
        legacy = self.config.video_graph == "legacy"
        # The next frame's crop from the raw auxiliary landmarks. MediaPipe's object scale for
        # the landmark filter is (width + height) / 2 in pixels of a square from them: that crop
        # itself (Tasks) or the unscaled square they span (legacy).
        next_roi = geometry.roi_from_keypoints(aux[0], aux[1], self.config.roi_scale)
        object_scale = next_roi.size / self.config.roi_scale if legacy else next_roi.size
        if self.smoothing:
            body[:, 3] = self._visibility_filter.apply(body[:, 3])
            body[:, :3] = self._landmarks_filter.apply(body[:, :3], timestamp_s, object_scale)
            world = self._world_filter.apply(world, timestamp_s)
        if self.tracking:
            if legacy:  # the legacy graph places the crop from filtered auxiliary landmarks
                aux = self._aux_filter.apply(aux, timestamp_s, object_scale)
                next_roi = geometry.roi_from_keypoints(aux[0], aux[1], self.config.roi_scale)
            self._next_roi = next_roi if next_roi.size >= MIN_ROI_SIZE else None
        self.last_timings["filters_ms"] = (time.perf_counter() - start) * 1e3
        return PoseResult(
            landmarks=body.astype(np.float32), world_landmarks=world.astype(np.float32),
            roi=roi, pose_flag=estimate["pose_flag"], segmentation=estimate.get("segmentation"),
            auxiliary_landmarks=aux.astype(np.float32), detected=detected,
            detection_score=score)

    def reset(self) -> None:
        """Forgets the video: the next :meth:`process_frame` runs the detector, filters restart
        and timestamps may start again from any value."""
        self._lose_track()
        self._last_timestamp = None

    @property
    def tracked_roi(self) -> geometry.Roi | None:
        """The crop the next :meth:`process_frame` will use without the detector, if any."""
        return self._next_roi

    def _lose_track(self) -> None:
        self._next_roi = None
        for state in (self._landmarks_filter, self._world_filter, self._aux_filter,
                      self._visibility_filter):
            state.reset()


def pretrained_backend(name: str, backend: str = "tflite", num_threads: int = 2,
                       cache_dir: os.PathLike | None = None):
    """Google's ``full`` landmark network or ``detector`` on ``backend`` (``tflite``/``keras``)."""
    if backend == "tflite":
        return TFLiteBackend(files.fetch_model_file(name, cache_dir), num_threads)
    if backend == "keras":
        from blazepose.pretrained.importer import load_mediapipe_model

        return KerasBackend(load_mediapipe_model(name, cache_dir=cache_dir))
    raise ValueError(f"backend must be 'tflite' or 'keras', got {backend!r}")


def load_pipeline(backend: str = "tflite", *, num_threads: int = 2, tracking: bool = True,
                  smoothing: bool = True, segmentation: bool = False, landmark_model=None,
                  detector=None, cache_dir: os.PathLike | None = None,
                  config: PipelineConfig | None = None) -> PosePipeline:
    """A pipeline of Google's networks on ``backend``, or of our own where given.

    Args:
      landmark_model, detector: our own models (``.tflite``, ``.keras``, SavedModel directory,
        ``keras.Model`` or backend) replacing Google's; None keeps Google's on ``backend``.
    """
    if backend not in ("tflite", "keras"):
        raise ValueError(f"backend must be 'tflite' or 'keras', got {backend!r}")
    if detector is None:
        detector = pretrained_backend("detector", backend, num_threads, cache_dir)
    if landmark_model is None:
        landmark_model = pretrained_backend("full", backend, num_threads, cache_dir)
    return PosePipeline(detector, landmark_model, tracking=tracking, smoothing=smoothing,
                        segmentation=segmentation, num_threads=num_threads, config=config)
