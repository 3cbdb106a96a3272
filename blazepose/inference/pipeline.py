"""MediaPipe's pose pipeline with our networks, for one person or several: :class:`PosePipeline`.

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

Several people (``max_people > 1``, :meth:`PosePipeline.process_image_people` and
:meth:`PosePipeline.process_frame_people`, which return lists): the detector runs on the
letterboxed image, then again with the faces of the people found so far blanked out of its
input (Google's detector keys on faces and reports about one person per pass), until
``max_people`` are found or a pass finds nobody new; every candidate gets its own landmark pass
and counts when its pose flag passes. In video mode every person is tracked from its own
auxiliary landmarks with its own one-euro filters (:class:`blazepose.inference.tracking.Track`);
the detector runs again every ``redetect_interval`` frames while fewer than ``max_people`` are
tracked and on every frame while a lost person may come back (``max_lost_s``); new people are
matched to recently lost ones by the IoU of their landmark boxes with the lost ones' predicted
boxes (Hungarian assignment), else get a new ``track_id`` (held back, unreported, while lost
people may come back, until their appearance is seen). Each track remembers its person's
appearance (clothes' colours by body part, :func:`blazepose.inference.tracking.appearance`)
from frames where nobody overlaps them, and people seen alone are given back to the track whose
appearance fits clearly better (the landmark network in a crop that two people share may follow
either of them, so crops can swap people where paths cross); two tracks on the same person
(:func:`blazepose.inference.tracking.pose_distance` below ``duplicate_distance``) are merged,
keeping the one whose previous box fits better. ``max_people=1`` is exactly the single-person
pipeline above.

A person not found is a normal result, ``None``, not an error. A pipeline keeps per-video state
and is not thread-safe: use one per video stream.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time

import numpy as np

from blazepose.inference import filters, geometry, postprocess, tracking
from blazepose.inference.backends import KerasBackend, TFLiteBackend, make_backend
from blazepose.pretrained import files

NUM_LANDMARKS = 33
AUX_CENTER_INDEX = 33  # blazepose.topology.AUX_ROI_CENTER_INDEX
AUX_SCALE_INDEX = 34  # blazepose.topology.AUX_ROI_SCALE_INDEX
MIN_ROI_SIZE = 1.0  # pixels; a smaller tracked crop counts as a lost track
# Several people: detector candidates looked at beyond the free places (some fail the pose flag
# or repeat a person already found).
EXTRA_CANDIDATES = 2
CHIMERA_COVER = 0.3  # see PosePipeline._is_duplicate
INSIDE_COVER = 0.7
YOUNG_FRAMES = 15  # frames during which a track must not lie inside or between older ones
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
      people_detection_score: with ``max_people > 1``, the detector score a candidate person
        needs (its pose flag then confirms it); lower than ``min_detection_score`` because the
        detector's second-best people, on an input with the first ones blanked out, score
        lower (zidane.jpg: 0.61 and 0.47).
      redetect_interval: with ``max_people > 1`` in video mode, frames between detector runs
        that look for new people while fewer than ``max_people`` are tracked.
      max_lost_s: seconds a lost person's identity waits to be matched again.
      match_min_iou: least IoU of a new person's landmark box with a lost person's predicted
        box for them to be the same person.
      duplicate_distance: below this :func:`~blazepose.inference.tracking.pose_distance` two
        people are the same person (tracks merged, candidates dropped).
      candidate_max_iou: a detector candidate whose landmark box overlaps a person already
        found by more than this is that person again (dropped).
      merge_fit_margin: of two tracks on the same person the one whose previous box overlaps
        the shared landmarks' box more by this much IoU is kept; otherwise the older one.
      appearance_max_cover: a person's appearance (:func:`~blazepose.inference.tracking.
        appearance`) is read only while at most this fraction of their core box (head, torso,
        legs) lies inside another person's.
      appearance_match: largest :func:`~blazepose.inference.tracking.appearance_distance`
        (mean RGB distance, 0 to 1.73) at which a person seen is a track's person.
      appearance_margin: a crop's person is given another track's identity when the appearance
        is nearer that track's by at least this much than its own track's.
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
    people_detection_score: float = 0.4
    redetect_interval: int = 10
    max_lost_s: float = 1.0
    match_min_iou: float = 0.1
    duplicate_distance: float = 0.1
    candidate_max_iou: float = 0.5
    merge_fit_margin: float = 0.15
    appearance_max_cover: float = 0.1
    appearance_match: float = 0.2
    appearance_margin: float = 0.08

    def __post_init__(self):
        if self.redetect_interval < 1:
            raise ValueError(f"redetect_interval must be >= 1, got {self.redetect_interval}")
        if not self.max_lost_s >= 0 or not self.duplicate_distance >= 0:
            raise ValueError("max_lost_s and duplicate_distance must be >= 0, got "
                             f"{self.max_lost_s}, {self.duplicate_distance}")
        for name in ("min_detection_score", "min_suppression_iou", "min_pose_flag",
                     "visibility_alpha", "people_detection_score", "match_min_iou",
                     "candidate_max_iou", "merge_fit_margin", "appearance_max_cover",
                     "appearance_match", "appearance_margin"):
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
      track_id: the person's identity in :meth:`PosePipeline.process_frame_people` (from 0, in
        order of appearance; its index in :meth:`PosePipeline.process_image_people`); None
        from the single-person methods.
    """

    landmarks: np.ndarray
    world_landmarks: np.ndarray
    roi: geometry.Roi
    pose_flag: float
    segmentation: np.ndarray | None = None
    auxiliary_landmarks: np.ndarray | None = None
    detected: bool = True
    detection_score: float | None = None
    track_id: int | None = None


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
      max_people: how many people :meth:`process_image_people` and
        :meth:`process_frame_people` report at most (1: the single-person pipeline).
    """

    def __init__(self, detector, landmark_model, *, tracking: bool = True,
                 smoothing: bool = True, segmentation: bool = False, num_threads: int = 2,
                 config: PipelineConfig | None = None, max_people: int = 1):
        if int(max_people) < 1:
            raise ValueError(f"max_people must be >= 1, got {max_people}")
        self.max_people = int(max_people)
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
        self._reset_people()

    @classmethod
    def from_pretrained(cls, backend: str = "tflite", num_threads: int = 2, tracking: bool = True,
                        smoothing: bool = True, segmentation: bool = False,
                        cache_dir: os.PathLike | None = None,
                        config: PipelineConfig | None = None, max_people: int = 1
                        ) -> PosePipeline:
        """Google's BlazePose Full and person detector.

        Args:
          backend: ``"tflite"``: Google's ``.tflite`` files in the TFLite interpreter with
            ``num_threads``; ``"keras"``: our Keras networks with Google's weights imported
            (TensorFlow runs them with its own thread pool). Files are fetched once from the
            ``mediapipe==0.10.21`` wheel on PyPI into ``cache_dir``.
        """
        return load_pipeline(backend, num_threads=num_threads, tracking=tracking,
                             smoothing=smoothing, segmentation=segmentation, cache_dir=cache_dir,
                             config=config, max_people=max_people)

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
        timestamp_s = self._advance_clock(timestamp_s)
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
        result, next_roi = self._smoothed_result(
            estimate, roi, timestamp_s, (self._landmarks_filter, self._world_filter,
                                         self._aux_filter, self._visibility_filter))
        if self.tracking:
            self._next_roi = next_roi
        self.last_timings["filters_ms"] = (time.perf_counter() - start) * 1e3
        result.detected, result.detection_score = detected, score
        return result

    def _smoothed_result(self, estimate: dict, roi: geometry.Roi, timestamp_s: float,
                         states: tuple) -> tuple[PoseResult, geometry.Roi | None]:
        """Video mode's smoothing of one person's landmarks and the next frame's crop.

        Args:
          estimate: :meth:`estimate`'s result on ``roi``.
          states: that person's landmark, world, auxiliary one-euro filters and visibility
            low-pass filter.
        Returns:
          the result (``detected`` True, no score) and the next crop (None when too small).
        """
        landmarks_filter, world_filter, aux_filter, visibility_filter = states
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
            body[:, 3] = visibility_filter.apply(body[:, 3])
            body[:, :3] = landmarks_filter.apply(body[:, :3], timestamp_s, object_scale)
            world = world_filter.apply(world, timestamp_s)
        if self.tracking and legacy:  # the legacy graph places the crop from filtered aux points
            aux = aux_filter.apply(aux, timestamp_s, object_scale)
            next_roi = geometry.roi_from_keypoints(aux[0], aux[1], self.config.roi_scale)
        result = PoseResult(
            landmarks=body.astype(np.float32), world_landmarks=world.astype(np.float32),
            roi=roi, pose_flag=estimate["pose_flag"], segmentation=estimate.get("segmentation"),
            auxiliary_landmarks=aux.astype(np.float32))
        return result, (next_roi if next_roi.size >= MIN_ROI_SIZE else None)

    def reset(self) -> None:
        """Forgets the video: the next :meth:`process_frame` runs the detector, filters restart
        and timestamps may start again from any value."""
        self._lose_track()
        self._last_timestamp = None
        self._reset_people()

    def _advance_clock(self, timestamp_s) -> float:
        timestamp_s = float(timestamp_s)
        if not math.isfinite(timestamp_s):
            raise ValueError(f"timestamp_s must be finite, got {timestamp_s}")
        if self._last_timestamp is not None and timestamp_s <= self._last_timestamp:
            raise ValueError(f"timestamp_s {timestamp_s} is not after the previous frame's "
                             f"{self._last_timestamp}; call reset() to start a new video")
        self._last_timestamp = timestamp_s
        return timestamp_s

    @property
    def tracked_roi(self) -> geometry.Roi | None:
        """The crop the next :meth:`process_frame` will use without the detector, if any."""
        return self._next_roi

    def _lose_track(self) -> None:
        self._next_roi = None
        for state in (self._landmarks_filter, self._world_filter, self._aux_filter,
                      self._visibility_filter):
            state.reset()

    # ----------------------------------------------------------------------------------------
    # Several people.

    def _reset_people(self) -> None:
        self._tracks: list[tracking.Track] = []  # the people seen on the last frame
        self._lost: list[tracking.Track] = []  # lost people who may come back (max_lost_s)
        self._next_track_id = 0
        self._frame_index = -1
        self._last_detection_frame: int | None = None
        self._single_track_id: int | None = None  # max_people == 1: the current track's id

    def detect_people(self, image: np.ndarray, exclude: list[np.ndarray] | tuple = (),
                      limit: int | None = None) -> list[tuple[geometry.Roi, float]]:
        """Candidate people: the detector on the letterboxed uint8 RGB ``[H, W, 3]`` image,
        repeated with the faces found so far blanked out of its input.

        Each pass keeps every weighted-NMS detection scoring at least
        ``config.people_detection_score``; the next pass sees the detector input with a square
        1.5 times each kept detection's box set to black (and the letterbox computed once). It
        stops at ``limit`` candidates or when a pass finds nobody.

        Args:
          exclude: landmarks ``[>=33, >=2]`` (image pixels) of people already known, whose
            faces (:func:`blazepose.inference.tracking.face_box`) are blanked before the
            first pass.
          limit: at most this many candidates (default ``max_people + EXTRA_CANDIDATES``).
        Returns:
          ``(crop, detector score)`` per candidate, in the order found (best first per pass).
        """
        image = _check_image(image, "image")
        height, width = image.shape[:2]
        limit = self.max_people + EXTRA_CANDIDATES if limit is None else int(limit)
        size = self.detector.input_size
        square, letterbox = geometry.letterbox_image(image, size, self.config.sampling)
        left, top, right, bottom = letterbox.padding
        span = np.array([1.0 - left - right, 1.0 - top - bottom])

        def blank(box: np.ndarray) -> None:  # box normalised to the square input
            low = np.clip(np.floor(box[:2] * size), 0, size).astype(int)
            high = np.clip(np.ceil(box[2:] * size), 0, size).astype(int)
            square[low[1]:high[1], low[0]:high[0]] = -1.0  # black in [-1, 1]

        for landmarks in exclude:
            face = tracking.face_box(landmarks) / np.array([width, height, width, height])
            blank(np.concatenate([face[:2] * span + (left, top), face[2:] * span + (left, top)]))
        found: list[tuple[geometry.Roi, float]] = []
        while len(found) < limit:
            outputs = self.detector(square)
            detections = postprocess.all_detections(
                outputs["boxes"], outputs["scores"], input_size=size,
                min_score=self.config.people_detection_score,
                iou_threshold=self.config.min_suppression_iou)
            if not detections:
                break
            for detection in detections[:limit - len(found)]:
                centre = 0.5 * (detection.box[:2] + detection.box[2:])
                half = 0.75 * (detection.box[2:] - detection.box[:2])
                blank(np.concatenate([centre - half, centre + half]))
                roi = detection_roi(detection, letterbox, width, height, self.config.roi_scale)
                if roi is not None:
                    found.append((roi, detection.score))
        return found

    def _estimate_counted(self, image: np.ndarray, roi: geometry.Roi) -> dict:
        """:meth:`estimate`, adding its times to ``last_timings`` (one call per person)."""
        before = {key: self.last_timings.get(key, 0.0)
                  for key in ("crop_ms", "landmark_ms", "decode_ms")}
        estimate = self.estimate(image, roi)
        for key, value in before.items():
            self.last_timings[key] += value
        self.last_timings["landmark_runs"] = self.last_timings.get("landmark_runs", 0) + 1
        return estimate

    def _is_duplicate(self, estimate: dict, others: list[dict]) -> bool:
        """A candidate is someone already found: nearly the same landmarks, or a landmark box
        overlapping theirs by more than ``config.candidate_max_iou`` (a detection off that
        person's blanked face, e.g. on the torso, gives a shifted crop and shifted landmarks),
        or a box lying mostly (``INSIDE_COVER``) inside one person's box (a part of that
        person; also drops a small person standing in front of a tall one), or a chimera: a
        box of which two or more people found each cover at least ``CHIMERA_COVER`` (a crop
        between two people close together)."""
        if not others:
            return False
        body = estimate["landmarks"][:NUM_LANDMARKS]
        if any(tracking.pose_distance(body, other["landmarks"][:NUM_LANDMARKS])
               < self.config.duplicate_distance for other in others):
            return True
        box = tracking.landmark_box(body)
        known = np.stack([tracking.landmark_box(other["landmarks"][:NUM_LANDMARKS])
                          for other in others])
        if tracking.box_iou(box, known).max() > self.config.candidate_max_iou:
            return True
        cover = tracking.box_cover(box, known)
        return bool(cover.max() >= INSIDE_COVER or np.sum(cover >= CHIMERA_COVER) >= 2)

    def process_image_people(self, image_rgb: np.ndarray) -> list[PoseResult]:
        """Every person (up to ``max_people``) in one independent image; no tracking, no
        smoothing.

        Candidates from :meth:`detect_people`, one landmark pass each; a candidate counts when
        its pose flag passes and it is not the same person as one already counted. With
        ``max_people=1``: :meth:`process_image`'s result as a list.

        Returns:
          :class:`PoseResult` objects (``track_id`` = position in the list), best detection
          first; empty when nobody is found.
        """
        if self.max_people == 1:
            result = self.process_image(image_rgb)
            return [] if result is None else [dataclasses.replace(result, track_id=0)]
        image = _check_image(image_rgb, "image_rgb")
        self.last_timings = {}
        start = time.perf_counter()
        candidates = self.detect_people(image)
        self.last_timings["detector_ms"] = (time.perf_counter() - start) * 1e3
        kept: list[tuple[dict, geometry.Roi, float]] = []
        for roi, score in candidates:
            if len(kept) == self.max_people:
                break
            estimate = self._estimate_counted(image, roi)
            if (estimate["pose_flag"] >= self.config.min_pose_flag
                    and not self._is_duplicate(estimate, [e for e, _, _ in kept])):
                kept.append((estimate, roi, score))
        people = []
        for index, (estimate, roi, score) in enumerate(kept):
            landmarks = estimate["landmarks"]
            people.append(PoseResult(
                landmarks=landmarks[:NUM_LANDMARKS].astype(np.float32),
                world_landmarks=estimate["world_landmarks"][:NUM_LANDMARKS].astype(np.float32),
                roi=roi, pose_flag=estimate["pose_flag"],
                segmentation=estimate.get("segmentation"),
                auxiliary_landmarks=landmarks[AUX_CENTER_INDEX:AUX_SCALE_INDEX + 1, :3].copy(),
                detected=True, detection_score=score, track_id=index))
        return people

    def process_frame_people(self, frame_rgb: np.ndarray, timestamp_s: float
                             ) -> list[PoseResult]:
        """The next frame of a video with up to ``max_people`` people, each tracked and smoothed
        on its own and identified by a stable ``track_id`` (see the module docstring).

        With ``max_people=1`` this is :meth:`process_frame` (same numbers), its track id
        starting anew whenever the person was lost. Arguments and errors as
        :meth:`process_frame`.

        Returns:
          :class:`PoseResult` objects by increasing ``track_id``; empty when nobody is found.
          ``detected`` marks people whose crop the detector placed on this frame.
        """
        if self.max_people == 1:
            result = self.process_frame(frame_rgb, timestamp_s)
            if result is None:
                self._single_track_id = None
                return []
            if self._single_track_id is None:
                self._single_track_id = self._next_track_id
                self._next_track_id += 1
            return [dataclasses.replace(result, track_id=self._single_track_id)]
        frame = _check_image(frame_rgb, "frame_rgb")
        time_s = self._advance_clock(timestamp_s)
        self.last_timings = {}
        self._frame_index += 1
        config = self.config
        # (track, estimate, crop, detected, detector score) of everyone found on this frame.
        people: list[tuple[tracking.Track | None, dict, geometry.Roi, bool, float | None]] = []
        lost_now = False
        for track in self._tracks:
            if self.tracking and track.next_roi is not None:
                estimate = self._estimate_counted(frame, track.next_roi)
                if estimate["pose_flag"] >= config.min_pose_flag:
                    people.append((track, estimate, track.next_roi, False, None))
                    continue
            lost_now |= self.tracking
            self._lost.append(track)  # without tracking everyone is found again by the detector
        people = self._drop_lookalikes(frame, self._merge_duplicates(people))
        self._lost = [t for t in self._lost if time_s - t.last_time <= config.max_lost_s]
        due = (not self.tracking or lost_now or bool(self._lost) or not people
               or self._last_detection_frame is None
               or self._frame_index - self._last_detection_frame >= config.redetect_interval)
        if len(people) < self.max_people and due:
            start = time.perf_counter()
            candidates = self.detect_people(
                frame, exclude=[estimate["landmarks"] for _, estimate, _, _, _ in people],
                limit=self.max_people - len(people) + EXTRA_CANDIDATES)
            self.last_timings["detector_ms"] = (time.perf_counter() - start) * 1e3
            self._last_detection_frame = self._frame_index
            people.extend(self._identify(frame, candidates, people, time_s))
        self._reidentify(frame, people)
        results = []
        start = time.perf_counter()
        self._tracks = []
        for track, estimate, roi, detected, score in people:
            if track.last_frame != self._frame_index - 1:  # back after a gap: filters restart
                track.reset_filters()
            result, next_roi = self._smoothed_result(
                estimate, roi, time_s, (track.landmarks_filter, track.world_filter,
                                        track.aux_filter, track.visibility_filter))
            track.next_roi = next_roi if self.tracking else None
            track.observe(tracking.landmark_box(estimate["landmarks"][:NUM_LANDMARKS]), time_s,
                          self._frame_index)
            result.detected, result.detection_score = detected, score
            result.track_id = track.track_id
            if track.confirmed:
                results.append(result)
            self._tracks.append(track)
        self.last_timings["filters_ms"] = (time.perf_counter() - start) * 1e3
        return sorted(results, key=lambda r: r.track_id)

    def _merge_duplicates(self, people: list) -> list:
        """Drops tracks that follow the same person as another; the one kept is the track whose
        previous box overlaps the shared landmarks' box more by ``config.merge_fit_margin``,
        else the one first seen earlier. Dropped tracks join the lost ones (they may belong to
        a person hidden behind the other). Then a track younger than ``YOUNG_FRAMES`` that
        lies inside or between older ones (:meth:`_is_duplicate`) is dropped too."""
        kept: list = []
        for item in sorted(people, key=lambda item: item[0].track_id):
            track, estimate = item[0], item[1]
            twin = next((k for k, other in enumerate(kept) if tracking.pose_distance(
                estimate["landmarks"][:NUM_LANDMARKS], other[1]["landmarks"][:NUM_LANDMARKS])
                < self.config.duplicate_distance), None)
            if twin is None:
                kept.append(item)
                continue
            box = tracking.landmark_box(estimate["landmarks"][:NUM_LANDMARKS])
            fits = [float(tracking.box_iou(candidate[0].box, box)[0, 0])
                    for candidate in (kept[twin], item)]
            older = kept[twin][0].first_frame <= track.first_frame
            if fits[1] > fits[0] + self.config.merge_fit_margin or (
                    not older and fits[1] >= fits[0] - self.config.merge_fit_margin):
                self._lost.append(kept[twin][0])
                kept[twin] = item
            else:
                self._lost.append(track)
        # A young track inside or between older people is a phantom born of a crowded crop
        # (the candidates' rule of _is_duplicate, applied while the track is young).
        settled = []
        for item in sorted(kept, key=lambda item: item[0].first_frame):
            young = self._frame_index - item[0].since_frame < YOUNG_FRAMES
            if young and self._is_duplicate(item[1], [other[1] for other in settled]):
                self._lost.append(item[0])
            else:
                settled.append(item)
        return sorted(settled, key=lambda item: item[0].track_id)

    def _lost_remembered(self) -> bool:
        """Whether a lost person may come back whose appearance is known."""
        return any(t.appearance is not None for t in self._lost)

    def _drop_lookalikes(self, frame: np.ndarray, people: list) -> list:
        """Drops tracked people whose crop has slid onto someone they overlap: their appearance
        is that person's (within ``config.appearance_match``, nearer than their own by
        ``config.appearance_margin``) while that person still looks like themselves. The
        dropped track joins the lost ones (its person is likely hidden behind the other)."""
        config = self.config
        known = [i for i, item in enumerate(people)
                 if item[0].confirmed and item[0].appearance is not None]
        if len(known) < 2:
            return people
        cover = tracking.cover_matrix(np.stack([
            _core_box(item[1]) for item in people]))
        overlap = np.maximum(cover, cover.T)
        seen: dict[int, tracking.Appearance] = {}
        dropped: set[int] = set()

        def looks(i: int, j: int) -> float:  # how far person i looks from track j's person
            if i not in seen:
                seen[i] = _appearance(frame, people[i][1])
            return tracking.appearance_distance(seen[i], people[j][0].appearance)

        for i in known:
            for j in known:
                if (i == j or i in dropped or j in dropped
                        or overlap[i, j] <= config.appearance_max_cover):
                    continue
                other = looks(i, j)
                if (other <= config.appearance_match and not looks(i, i) < other
                        + config.appearance_margin and looks(j, j) <= config.appearance_match):
                    dropped.add(i)
        for i in dropped:
            self._lost.append(people[i][0])
        return [item for i, item in enumerate(people) if i not in dropped]

    def _looks_like_tracked(self, frame: np.ndarray, estimate: dict, people: list) -> bool:
        """A detector candidate overlapping a tracked person (core boxes, either way more than
        ``config.appearance_max_cover``) who looks like it (appearance within
        ``config.appearance_match``, and nearer by ``config.appearance_margin`` than every lost
        person) is that person again: a second crop on someone whose neighbour is hidden
        behind them."""
        box = _core_box(estimate)
        overlapping = [track for track, other, *_ in people if track.appearance is not None
                       and tracking.mutual_cover(box, _core_box(other))
                       > self.config.appearance_max_cover]
        if not overlapping:
            return False
        seen = _appearance(frame, estimate)
        nearest = min(tracking.appearance_distance(seen, t.appearance) for t in overlapping)
        lost = [tracking.appearance_distance(seen, t.appearance)
                for t in self._lost if t.appearance is not None]
        return bool(nearest <= self.config.appearance_match and not any(
            d < nearest + self.config.appearance_margin for d in lost))

    def _reidentify(self, frame: np.ndarray, people: list) -> None:
        """Corrects identities by appearance, then remembers each person's appearance.

        Only people whose core box overlaps nobody else's (``config.appearance_max_cover``) are
        looked at. Their appearances are assigned (Hungarian, smallest total distance) to their
        own tracks and the lost tracks; a person takes another track's identity when that
        track's appearance is within ``config.appearance_match`` and nearer than its own
        track's by ``config.appearance_margin`` (or its own track has no appearance yet). The
        identities the people leave go to the lost tracks whose identities were taken, except
        an identity first seen after that lost person went missing (the same person given a new
        id meanwhile), which ends. Tracks keep their crops, filters and motion: only who they
        are changes.
        """
        config = self.config
        if not people:
            return
        cover = tracking.cover_matrix(np.stack([
            _core_box(item[1]) for item in people]))
        rows = [i for i in range(len(people)) if cover[i].max() <= config.appearance_max_cover]
        seen = [_appearance(frame, people[i][1]) for i in rows]
        columns = [people[i][0] for i in rows] + [
            t for t in self._lost if t.appearance is not None]
        distance = np.array([[
            tracking.appearance_distance(appearance, track.appearance)
            if track.appearance is not None and track.confirmed else math.nan
            for track in columns] for appearance in seen]).reshape(len(rows), len(columns))
        if distance.size and np.isfinite(distance).any():
            cost = np.where(np.isfinite(distance), distance, config.appearance_match)
            target = dict(tracking.assign(-cost, -math.inf))
            accepted = {r for r, c in target.items() if c != r
                        and distance[r, c] <= config.appearance_match
                        and not distance[r, r] < distance[r, c] + config.appearance_margin}
            changed = True
            while changed:  # a row's own identity may be taken only if that row moves too
                kept = {r for r in accepted if target[r] >= len(rows) or target[r] in accepted}
                changed, accepted = kept != accepted, kept
            identities = [track.identity() for track in columns]
            taken = {target[r] for r in accepted}
            freed = sorted(r for r in accepted if r not in taken)
            lost_taken = sorted(c for c in taken if c >= len(rows))
            for r in accepted:
                columns[r].take_identity(identities[target[r]])
            for r, c in zip(freed, lost_taken, strict=True):
                track_id, first_frame = identities[r][:2]
                if track_id < 0 or first_frame > columns[c].last_frame:
                    self._lost.remove(columns[c])  # a new id for a person while missing: dropped
                else:
                    columns[c].take_identity(identities[r])
        remembered = self._lost_remembered()
        for i, (track, *_) in enumerate(people):
            if track.confirmed:
                continue
            if track.track_id >= 0:  # took a lost person's identity
                track.confirmed = True
                continue
            track.tentative_frames += i in rows
            if track.tentative_frames >= tracking.CONFIRM_FRAMES or not remembered:
                track.confirmed = True
                track.track_id = self._next_track_id
                self._next_track_id += 1
        for r, appearance in enumerate(seen):
            own = people[rows[r]][0]
            current = (math.nan if own.appearance is None
                       else tracking.appearance_distance(appearance, own.appearance))
            if not current > config.appearance_match:
                own.remember(appearance)

    def _identify(self, frame: np.ndarray, candidates: list, people: list, time_s: float
                  ) -> list:
        """Landmarks for the detector's candidates; confirmed people not already tracked are
        matched to lost tracks (Hungarian on box IoU), the rest start new tracks while there is
        room."""
        fresh: list = []
        known = [estimate for _, estimate, _, _, _ in people]
        room = self.max_people - len(people)
        for roi, score in candidates:
            if len(fresh) == room:
                break
            estimate = self._estimate_counted(frame, roi)
            if (estimate["pose_flag"] < self.config.min_pose_flag
                    or self._is_duplicate(estimate, known + [f[1] for f in fresh])
                    or self._looks_like_tracked(frame, estimate, people)):
                continue
            fresh.append([None, estimate, roi, True, score])
        if fresh and self._lost:
            boxes = np.stack([tracking.landmark_box(f[1]["landmarks"][:NUM_LANDMARKS])
                              for f in fresh])
            predicted = np.stack([t.predicted_box(time_s, self.config.max_lost_s)
                                  for t in self._lost])
            pairs = tracking.assign(tracking.box_iou(boxes, predicted),
                                    self.config.match_min_iou)
            for row, column in pairs:
                fresh[row][0] = self._lost[column]
                fresh[row][0].since_frame = self._frame_index
            taken = {column for _, column in pairs}
            self._lost = [t for j, t in enumerate(self._lost) if j not in taken]
        identified = []
        remembered = self._lost_remembered()
        for item in fresh[:room]:
            if item[0] is None and remembered:  # maybe a lost person: tentative (_reidentify)
                item[0] = tracking.Track(-1, self.config, confirmed=False)
            elif item[0] is None:
                item[0] = tracking.Track(self._next_track_id, self.config)
                self._next_track_id += 1
            identified.append(tuple(item))
        for item in fresh[room:]:  # no room: a revived track goes back to the lost ones
            if item[0] is not None:
                self._lost.append(item[0])
        return identified


def _core_box(estimate: dict) -> np.ndarray:
    """:func:`tracking.core_box` of an estimate's body landmarks, computed once per estimate."""
    if "core_box" not in estimate:
        estimate["core_box"] = tracking.core_box(estimate["landmarks"][:NUM_LANDMARKS])
    return estimate["core_box"]


def _appearance(frame: np.ndarray, estimate: dict) -> tracking.Appearance:
    """:func:`tracking.appearance` of an estimate on its frame, read once per estimate (the
    overlap checks and the re-identification of one frame may each need it)."""
    if "appearance" not in estimate:
        estimate["appearance"] = tracking.appearance(frame, estimate["landmarks"][:NUM_LANDMARKS])
    return estimate["appearance"]


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
                  config: PipelineConfig | None = None, max_people: int = 1) -> PosePipeline:
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
                        segmentation=segmentation, num_threads=num_threads, config=config,
                        max_people=max_people)
