"""The legacy ``mediapipe.solutions.pose`` API (as of mediapipe 0.10.21) on our pipeline.

``mp.solutions.pose`` left mediapipe in 0.10.30. Code written against it keeps working with one
changed import::

    from blazepose.solutions import pose as mp_pose

    with mp_pose.Pose(min_detection_confidence=0.5, min_tracking_confidence=0.5) as pose:
        results = pose.process(frame_rgb)              # uint8 RGB [H, W, 3]
        if results.pose_landmarks:
            wrist = results.pose_landmarks.landmark[mp_pose.PoseLandmark.LEFT_WRIST]
            print(wrist.x * width, wrist.y * height, wrist.visibility)

Underneath is :class:`blazepose.inference.pipeline.PosePipeline` with Google's BlazePose Full
and person detector (the same ``.tflite`` files as mediapipe 0.10.21), configured as the legacy
graph: ``min_detection_confidence`` is the detector's score threshold;
``min_tracking_confidence`` is the threshold on the landmark network's pose-presence flag, which
the legacy graph applies on every frame (detected or tracked) and below which the frame has no
person and the next frame runs the detector again; video mode (``static_image_mode=False``)
tracks the person from frame to frame and smooths with the legacy filters
(``PipelineConfig(video_graph="legacy")``), on the legacy clock: the n-th ``process`` call
(n = 1, 2, ...) is at ``n * 33333`` microseconds, i.e. 30 FPS whatever the real frame rate.

Differences from mediapipe 0.10.21 (the rest is meant to be identical):

* ``model_complexity`` must be 1 (BlazePose Full): the Lite (0) and Heavy (2) weights are not
  part of this project, so those values raise ``ValueError`` instead of downloading them;
* landmarks are plain dataclasses (:mod:`blazepose.solutions.landmarks`), not protobufs: field
  access, iteration, ``len`` and indexing work, protobuf methods do not;
* ``presence`` holds the network's presence probability (0.10.21 cleared the field, so it read
  0.0);
* out-of-range confidences, non-uint8 or non-RGB images raise ``ValueError``; ``close()`` twice
  is allowed.
"""

from __future__ import annotations

import math
import numbers
import os
from typing import NamedTuple

import numpy as np

from blazepose.inference.pipeline import NUM_LANDMARKS, PipelineConfig, PoseResult, load_pipeline
from blazepose.solutions.landmarks import LandmarkList, NormalizedLandmarkList
from blazepose.topology import BLAZEPOSE_33, PoseLandmark  # noqa: F401 (mp_pose.PoseLandmark)

# The legacy solution's clock: each process() call advances a simulated timestamp by this many
# microseconds (30 frames per second), whatever the real frame rate.
FRAME_STEP_US = 33333
# Share of the previous segmentation mask blended into uncertain pixels of the new one.
SEGMENTATION_SMOOTHING_RATIO = 0.7
# Coefficients of x, x^2, ..., x^5 (x = (p - 0.5)^2) in the polynomial MediaPipe's segmentation
# smoothing uses for the certainty of a mask value p (1 - uncertainty).
_CERTAINTY_POLYNOMIAL = (5.68842, -0.748699, -57.8051, 291.309, -624.717)


# MediaPipe's 33 landmark names (PoseLandmark, imported above) and skeleton, from the project's
# one topology definition.
# The skeleton's 35 edges as (start, end) landmark indices, oriented as in MediaPipe.
POSE_CONNECTIONS = frozenset(tuple(edge) for edge in BLAZEPOSE_33.edges)


class PoseOutputs(NamedTuple):
    """What :meth:`Pose.process` returns; every field is None when no person is found.

    Attributes:
      pose_landmarks: :class:`NormalizedLandmarkList` of 33 landmarks: x, y normalised to the
        image, z in image-width units, visibility, presence.
      pose_world_landmarks: :class:`LandmarkList` of 33 landmarks in metres, origin between the
        hips, with the same visibility and presence.
      segmentation_mask: float32 ``[H, W]`` person probability per pixel (0 outside the crop the
        landmarks came from); None unless ``enable_segmentation``.
    """

    pose_landmarks: NormalizedLandmarkList | None
    pose_world_landmarks: LandmarkList | None
    segmentation_mask: np.ndarray | None


def blend_segmentation_masks(mask: np.ndarray, previous: np.ndarray,
                             ratio: float = SEGMENTATION_SMOOTHING_RATIO) -> np.ndarray:
    """MediaPipe's temporal smoothing of a segmentation mask, per pixel.

    Confident pixels (near 0 or 1) keep the new value; uncertain ones (near 0.5) move towards
    the previous mask by up to ``ratio``: ``new + (previous - new) * ratio * u(new)``. The
    uncertainty ``u(p)``, about the square of the binary entropy of ``p`` in bits, is one minus
    MediaPipe's polynomial in ``(p - 0.5)^2``, clipped to [0, 1].

    Args:
      mask, previous: float32 ``[H, W]`` probabilities (the new mask, the previous output).
    Returns:
      float32 ``[H, W]``.
    """
    mask = np.asarray(mask, np.float32)
    squared = np.square(mask - np.float32(0.5))
    certainty = np.zeros_like(mask)
    for coefficient in reversed(_CERTAINTY_POLYNOMIAL):
        certainty = squared * (np.float32(coefficient) + certainty)
    uncertainty = np.float32(1.0) - np.minimum(np.float32(1.0), certainty)
    weight = uncertainty * np.float32(ratio)
    return (mask + (np.asarray(previous, np.float32) - mask) * weight).astype(np.float32)


def _flag(name: str, value) -> bool:
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, numbers.Integral)
                                               and value in (0, 1)):
        return bool(value)
    raise ValueError(f"{name} must be True or False, got {value!r}")


def _confidence(name: str, value) -> float:
    if (isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real)
            or not math.isfinite(float(value)) or not 0.0 <= float(value) <= 1.0):
        raise ValueError(f"{name} must be a number in [0.0, 1.0], got {value!r}")
    return float(value)


def _check_model_complexity(value) -> None:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"model_complexity must be 0, 1 or 2, got {value!r}")
    if value == 1:
        return
    if value in (0, 2):
        name = "Lite" if value == 0 else "Heavy"
        raise ValueError(
            f"model_complexity={value} (BlazePose {name}) is not available: "
            "blazepose.solutions.pose ships only Google's BlazePose Full weights. Pass "
            "model_complexity=1 (Full, MediaPipe's default), or leave it out.")
    raise ValueError(f"model_complexity must be 0, 1 or 2 (only 1 is available here), got "
                     f"{value!r}")


def _check_image(image) -> np.ndarray:
    if not isinstance(image, np.ndarray):
        raise ValueError(f"image must be a numpy array, got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be RGB [H, W, 3] (three channels), got shape "
                         f"{list(image.shape)}")
    if image.dtype != np.uint8:
        raise ValueError(f"image must be uint8, got {image.dtype}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"image is empty: {list(image.shape)}")
    return image


class Pose:
    """Single-person pose on RGB images or video frames, with the legacy MediaPipe interface.

    Args:
      static_image_mode: False (default): successive ``process`` calls are frames of one video
        (detector once, then tracking, smoothing); True: every image is independent (detector on
        each, no smoothing).
      model_complexity: must be 1 (BlazePose Full); 0 and 2 raise ``ValueError``.
      smooth_landmarks: in video mode, filter landmarks, world landmarks and visibility over
        time. (The two landmarks that place the next crop are filtered regardless, as in the
        legacy graph.)
      enable_segmentation: also return ``segmentation_mask``.
      smooth_segmentation: in video mode, blend each mask with the previous one
        (:func:`blend_segmentation_masks`).
      min_detection_confidence: person detector score threshold, in [0, 1].
      min_tracking_confidence: pose-presence threshold, in [0, 1], applied to the landmark
        network on every frame: below it the frame has no person (and, in video mode, the next
        frame runs the detector again).
      backend: ``"tflite"`` (Google's files in the TFLite interpreter) or ``"keras"`` (our Keras
        networks with Google's weights); keyword only, not in the legacy API.
      num_threads: TFLite interpreter threads; keyword only.
      num_poses: how many people :meth:`process_people` reports (MediaPipe Tasks'
        ``num_poses``; each tracked and smoothed on its own, with a stable id); keyword only,
        not in the legacy API. ``process`` reports the person of the lowest id.
      cache_dir: where Google's model files are fetched to once (default: the project cache).

    Raises:
      ValueError: an unsupported or out-of-range argument.
    """

    def __init__(self, static_image_mode=False, model_complexity=1, smooth_landmarks=True,
                 enable_segmentation=False, smooth_segmentation=True,
                 min_detection_confidence=0.5, min_tracking_confidence=0.5, *,
                 backend: str = "tflite", num_threads: int = 2,
                 cache_dir: os.PathLike | None = None, num_poses: int = 1):
        self.static_image_mode = _flag("static_image_mode", static_image_mode)
        _check_model_complexity(model_complexity)
        self.model_complexity = 1
        self.smooth_landmarks = _flag("smooth_landmarks", smooth_landmarks)
        self.enable_segmentation = _flag("enable_segmentation", enable_segmentation)
        self.smooth_segmentation = _flag("smooth_segmentation", smooth_segmentation)
        self.min_detection_confidence = _confidence("min_detection_confidence",
                                                    min_detection_confidence)
        self.min_tracking_confidence = _confidence("min_tracking_confidence",
                                                   min_tracking_confidence)
        config = PipelineConfig(min_detection_score=self.min_detection_confidence,
                                min_pose_flag=self.min_tracking_confidence,
                                video_graph="legacy")
        self.pipeline = load_pipeline(
            backend, num_threads=num_threads, tracking=not self.static_image_mode,
            smoothing=self.smooth_landmarks and not self.static_image_mode,
            segmentation=self.enable_segmentation, cache_dir=cache_dir, config=config,
            max_people=num_poses)
        self.num_poses = self.pipeline.max_people
        self._frames = 0
        self._frame_size: tuple[int, int] | None = None
        self._previous_mask: np.ndarray | None = None
        self._closed = False

    @property
    def timestamp_us(self) -> int:
        """The simulated timestamp of the latest ``process`` call (0 before the first)."""
        return self._frames * FRAME_STEP_US

    def process(self, image: np.ndarray) -> PoseOutputs:
        """The pose of the most prominent person in ``image``.

        Args:
          image: uint8 RGB ``[H, W, 3]`` (convert OpenCV's BGR frames first). In video mode all
            frames should have one size; a new size restarts tracking.
        Returns:
          :class:`PoseOutputs`; its fields are None when no person is found.
        Raises:
          ValueError: not a uint8 ``[H, W, 3]`` array, or the Pose is closed.
        """
        if self.num_poses > 1:
            people = self.process_people(image)
            return people[0][1] if people else PoseOutputs(None, None, None)
        image = self._next_image(image)
        if self.static_image_mode:
            found = self.pipeline.process_image(image)
        else:
            found = self.pipeline.process_frame(image, self.timestamp_us * 1e-6)
        if found is None:
            return PoseOutputs(None, None, None)
        return self._outputs(found, image.shape[1], image.shape[0])

    def process_people(self, image: np.ndarray) -> list[tuple[int, PoseOutputs]]:
        """Every person in ``image``, up to ``num_poses``: ``(track_id, outputs)`` by increasing
        track id (in video mode an id stays with its person; in static mode it is the position);
        empty when nobody is found. Segmentation masks are blended over time only with
        ``num_poses=1``. Arguments and errors as :meth:`process`."""
        image = self._next_image(image)
        if self.static_image_mode:
            people = self.pipeline.process_image_people(image)
        else:
            people = self.pipeline.process_frame_people(image, self.timestamp_us * 1e-6)
        width, height = image.shape[1], image.shape[0]
        return [(person.track_id, self._outputs(person, width, height)) for person in people]

    def _next_image(self, image: np.ndarray) -> np.ndarray:
        """Checks the image, advances the clock, restarts tracking on a new frame size."""
        if self._closed:
            raise ValueError("this Pose is closed; make a new one")
        image = _check_image(image)
        self._frames += 1
        if not self.static_image_mode:
            size = image.shape[:2]
            if self._frame_size is not None and size != self._frame_size:
                self.pipeline.reset()
                self._previous_mask = None
            self._frame_size = size
        return image

    def _outputs(self, found: PoseResult, width: int, height: int) -> PoseOutputs:
        points = np.asarray(found.landmarks[:NUM_LANDMARKS], np.float64)
        normalised = points.copy()
        normalised[:, 0] /= width
        normalised[:, 1] /= height
        normalised[:, 2] /= width
        world = np.concatenate([np.asarray(found.world_landmarks[:NUM_LANDMARKS], np.float64),
                                points[:, 3:5]], axis=1)
        mask = None
        if self.enable_segmentation and found.segmentation is not None:
            mask = np.asarray(found.segmentation, np.float32)
            if self.smooth_segmentation and not self.static_image_mode and self.num_poses == 1:
                # The legacy graph blends with the last mask it produced, even across frames
                # without a person.
                if self._previous_mask is not None and self._previous_mask.shape == mask.shape:
                    mask = blend_segmentation_masks(mask, self._previous_mask)
                self._previous_mask = mask
        return PoseOutputs(NormalizedLandmarkList.from_array(normalised),
                           LandmarkList.from_array(world), mask)

    def reset(self) -> None:
        """Forgets the video: the next frame runs the detector and the filters restart. Does
        nothing on a closed Pose."""
        if self._closed:
            return
        self.pipeline.reset()
        self._frame_size = None
        self._previous_mask = None

    def close(self) -> None:
        """Releases the networks; ``process`` raises afterwards. Closing again does nothing."""
        self._closed = True
        self.pipeline = None
        self._previous_mask = None

    def __enter__(self) -> Pose:
        return self

    def __exit__(self, exc_type, exc_value, traceback) -> None:
        self.close()
