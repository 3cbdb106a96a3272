"""End-to-end parity of :class:`blazepose.inference.PosePipeline` with Google's MediaPipe.

Both run Google's networks on the same uint8 frames: ours through
:class:`~blazepose.inference.PosePipeline` (TFLite interpreter), MediaPipe's ``PoseLandmarker``
(mediapipe 1.2.2, its side environment) on a ``.task`` bundle of the same two files with the
metadata MediaPipe needs (Google's, :func:`blazepose.export.task_export.google_bundle`, or an
export of ours, whose members our pipeline then runs: :func:`pipeline_from_task`). Per frame:
whether each found a person, our detection score, the crop (ROI) each landmark network saw
(MediaPipe's, from the probe bundle of :mod:`blazepose.mediapipe_runtime.probe`), and the
distance between the 33 landmarks (x, y, image pixels). A frame agrees when both decide alike
and the median distance is at most :data:`MAX_MEDIAN_PX` or :data:`MAX_MEDIAN_CROP_FRACTION` of
the crop side.

The test media are real photos and clips fetched from PyPI wheels (:mod:`blazepose.samples`):
:data:`PHOTOS` and frames of :data:`CLIPS`, several sizes and aspect ratios.

The same comparison for :mod:`blazepose.solutions.pose` against the legacy
``mp.solutions.pose`` (mediapipe 0.10.21) on the same ``Pose`` arguments:
:func:`legacy_images`, :func:`legacy_clip`, :func:`compare_solutions`.
"""

from __future__ import annotations

import dataclasses
import math
import os
import pathlib

import cv2
import numpy as np

from blazepose import samples
from blazepose.export import mediapipe_task
from blazepose.inference.pipeline import PosePipeline, load_pipeline
from blazepose.mediapipe_runtime import client, probe
from blazepose.solutions.pose import Pose, PoseOutputs

MAX_MEDIAN_PX = 1.0
MAX_MEDIAN_CROP_FRACTION = 0.005

PHOTOS = ("astronaut", "grace_hopper", "bus", "zidane")
# Still frames: sample -> frame indices.
CLIP_STILLS = {
    "pose2sim_cam1": (0, 20, 40, 60, 80), "pose2sim_cam2": (0, 20, 40, 60, 80),
    "pose2sim_cam3": (0, 40, 80), "pose2sim_cam4": (0, 40, 80),
    "sports2d_demo": tuple(range(0, 230, 20)),
}
# Video-mode runs: sample -> (first frame, number of frames).
CLIPS = {"sports2d_demo": (90, 60), "pose2sim_cam1": (0, 60)}
# The legacy solution's media: photos, still frames of the sports2d clip (two people, backlit;
# some have nobody the detector finds), and a video run of it: frames 44..93, a man raising his
# arms on a box, then a woman walking past; the detector finds the man on the first frame.
LEGACY_PHOTOS = ("astronaut", "zidane")
LEGACY_STILL_FRAMES = (45, 90, 135, 180, 195, 210)
LEGACY_CLIP = ("sports2d_demo", 44, 50)


@dataclasses.dataclass(frozen=True)
class FrameComparison:
    """One frame. Distances in image pixels; None where a side found nobody.

    Attributes:
      found_ours, found_mediapipe: each found a person.
      score: our detector's probability (frames where our detector ran).
      roi_center_px, roi_size_px, roi_rotation_deg: our crop minus MediaPipe's (centre
        distance, side difference, rotation difference), when the probe ran.
      median_px, max_px: over the 33 landmarks' (x, y).
      world_median_cm: median distance of the 33 world landmarks (x, y, z), centimetres.
      visibility_max: largest visibility difference.
      crop_size_px: the side of our crop.
      mask_iou: IoU of the two segmentation masks thresholded at 0.5 (when both have one).
    """

    name: str
    width: int
    height: int
    found_ours: bool
    found_mediapipe: bool
    score: float | None = None
    roi_center_px: float | None = None
    roi_size_px: float | None = None
    roi_rotation_deg: float | None = None
    median_px: float | None = None
    max_px: float | None = None
    world_median_cm: float | None = None
    visibility_max: float | None = None
    crop_size_px: float | None = None
    mask_iou: float | None = None

    @property
    def agrees(self) -> bool:
        if self.found_ours != self.found_mediapipe:
            return False
        if not self.found_ours:
            return True
        return (self.median_px <= MAX_MEDIAN_PX or (
            self.crop_size_px is not None
            and self.median_px <= MAX_MEDIAN_CROP_FRACTION * self.crop_size_px))


# ----------------------------------------------------------------------------------------------
# Media and bundles.

def read_frames(path: os.PathLike, indices) -> list[np.ndarray]:
    """uint8 RGB frames ``indices`` (ascending) of a video file."""
    wanted = sorted(set(int(i) for i in indices))
    capture = cv2.VideoCapture(os.fspath(path))
    frames, index = [], 0
    try:
        while wanted and index <= wanted[-1]:
            ok, frame = capture.read()
            if not ok:
                break
            if index in wanted:
                frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            index += 1
    finally:
        capture.release()
    if len(frames) != len(wanted):
        raise ValueError(f"{path}: read {len(frames)} of the frames {wanted[0]}..{wanted[-1]}")
    return frames


def read_photo(name: str, cache_dir: os.PathLike | None = None) -> np.ndarray:
    """Sample photo ``name`` (:mod:`blazepose.samples`) as uint8 RGB ``[H, W, 3]``."""
    bgr = cv2.imread(os.fspath(samples.fetch_sample(name, cache_dir)), cv2.IMREAD_COLOR)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def still_images(cache_dir: os.PathLike | None = None) -> list[tuple[str, np.ndarray]]:
    """``(name, uint8 RGB image)`` of the photos and the clips' still frames."""
    images = [(name, read_photo(name, cache_dir)) for name in PHOTOS]
    for name, indices in CLIP_STILLS.items():
        frames = read_frames(samples.fetch_sample(name, cache_dir), indices)
        images += [(f"{name}#{index}", frame) for index, frame in zip(indices, frames)]
    return images


def clip(name: str, cache_dir: os.PathLike | None = None) -> tuple[list[np.ndarray], list[int]]:
    """The frames of video run ``name`` (:data:`CLIPS`) and their timestamps (ms, from the
    file's frame rate)."""
    first, count = CLIPS[name]
    path = samples.fetch_sample(name, cache_dir)
    capture = cv2.VideoCapture(os.fspath(path))
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    capture.release()
    frames = read_frames(path, range(first, first + count))
    return frames, [int(round(i * 1000.0 / fps)) for i in range(count)]


def write_probe_task(task: os.PathLike, path: os.PathLike) -> pathlib.Path:
    """``task``'s detector bundled with the ROI probe (:mod:`blazepose.mediapipe_runtime.probe`)
    in place of its landmark network."""
    members = mediapipe_task.read_bundle(pathlib.Path(task).read_bytes())
    path = pathlib.Path(path)
    path.write_bytes(mediapipe_task.bundle(members[mediapipe_task.DETECTOR_FILE],
                                           probe.probe_landmark_model()))
    return path


def pipeline_from_task(task: os.PathLike, folder: os.PathLike, **pipeline_kwargs
                       ) -> PosePipeline:
    """Our :class:`PosePipeline` on the two networks inside ``task`` (written into ``folder``
    for the TFLite interpreter), so both sides run the very same files."""
    members = mediapipe_task.read_bundle(pathlib.Path(task).read_bytes())
    paths = {}
    for name, content in members.items():
        paths[name] = pathlib.Path(folder) / name
        paths[name].write_bytes(content)
    return load_pipeline("tflite", detector=paths[mediapipe_task.DETECTOR_FILE],
                         landmark_model=paths[mediapipe_task.LANDMARK_FILE], **pipeline_kwargs)


# ----------------------------------------------------------------------------------------------
# Comparisons.

def _distances(ours: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    return np.linalg.norm(np.asarray(ours, np.float64)[:33, :2] - theirs[:33, :2], axis=1)


def _landmark_figures(ours: np.ndarray, ours_world: np.ndarray, theirs: np.ndarray,
                      theirs_world: np.ndarray) -> dict:
    """Distances of ``[33, >= 4]`` pixel landmarks (x, y, z, visibility) and ``[33, >= 3]``
    world landmarks (metres)."""
    distances = _distances(ours, theirs)
    world = np.linalg.norm(np.asarray(ours_world, np.float64)[:33, :3]
                           - np.asarray(theirs_world, np.float64)[:33, :3], axis=1)
    visibility = np.abs(np.asarray(ours, np.float64)[:33, 3] - theirs[:33, 3])
    return {"median_px": float(np.median(distances)), "max_px": float(distances.max()),
            "world_median_cm": float(np.median(world) * 100),
            "visibility_max": float(visibility.max())}


def _roi_difference(ours, theirs) -> dict:
    if ours is None or theirs is None:
        return {}
    rotation = math.degrees(abs(math.remainder(ours.rotation - theirs.rotation, 2 * math.pi)))
    return {"roi_center_px": math.hypot(ours.center_x - theirs.center_x,
                                        ours.center_y - theirs.center_y),
            "roi_size_px": ours.size - theirs.size, "roi_rotation_deg": rotation}


def compare_images(pipeline: PosePipeline, images, task: os.PathLike,
                   probe_task: os.PathLike | None = None, python=None,
                   cache_dir: os.PathLike | None = None) -> list[FrameComparison]:
    """IMAGE mode: each image alone through our pipeline and MediaPipe's.

    Args:
      images: ``(name, uint8 RGB [H, W, 3])`` pairs.
      task: the bundle MediaPipe runs (Google's networks for parity).
      probe_task: Google's detector + the ROI probe (MediaPipe's crops); None skips the ROIs.
    """
    frames = [image for _, image in images]
    theirs = client.run_pose_landmarker(task, frames, python=python, cache_dir=cache_dir)
    crops = (client.run_pose_landmarker(probe_task, frames, python=python, cache_dir=cache_dir)
             if probe_task else [[] for _ in frames])
    rows = []
    for (name, image), found, probed in zip(images, theirs, crops):
        result = pipeline.process_image(image)
        their_roi = probe.roi_of(probed[0].landmarks) if probed else None
        rows.append(_comparison(name, image, result, found, their_roi))
    return rows


def compare_video(pipeline: PosePipeline, name: str, frames, timestamps_ms, task: os.PathLike,
                  python=None, cache_dir: os.PathLike | None = None) -> list[FrameComparison]:
    """VIDEO mode: the frames in order through ``pipeline.process_frame`` (after ``reset``) and
    one MediaPipe landmarker (tracking and smoothing on both sides)."""
    theirs = client.run_pose_landmarker(task, frames, video=True, timestamps_ms=timestamps_ms,
                                        python=python, cache_dir=cache_dir)
    pipeline.reset()
    return [_comparison(f"{name}@{index}", frame, pipeline.process_frame(frame, stamp / 1000.0),
                        found)
            for index, (frame, stamp, found) in enumerate(zip(frames, timestamps_ms, theirs))]


def _comparison(name: str, frame: np.ndarray, result, found, their_roi=None
                ) -> FrameComparison:
    """One frame's row: our ``PoseResult`` (or None) against MediaPipe's poses (a list) and,
    when the probe ran, MediaPipe's crop."""
    height, width = frame.shape[:2]
    row = {"name": name, "width": width, "height": height,
           "found_ours": result is not None, "found_mediapipe": bool(found)}
    if result is not None:
        row.update(score=result.detection_score, crop_size_px=result.roi.size)
        row.update(_roi_difference(result.roi, their_roi))
    if result is not None and found:
        row.update(_landmark_figures(result.landmarks, result.world_landmarks,
                                     found[0].landmarks, found[0].world_landmarks))
    return FrameComparison(**row)


def summary(rows: list[FrameComparison]) -> dict:
    """Counts and distance percentiles of a list of comparisons (JSON-ready)."""
    both = [row.median_px for row in rows if row.median_px is not None]
    relative = [row.median_px / row.crop_size_px for row in rows
                if row.median_px is not None and row.crop_size_px]
    return {
        "frames": len(rows),
        "found_by_both": len(both),
        "world_median_cm_median": float(np.median([row.world_median_cm for row in rows
                                                   if row.world_median_cm is not None]))
        if both else None,
        "decisions_differ": sum(row.found_ours != row.found_mediapipe for row in rows),
        "agree": sum(row.agrees for row in rows),
        "median_px_median": float(np.median(both)) if both else None,
        "median_px_p90": float(np.percentile(both, 90)) if both else None,
        "median_px_max": float(np.max(both)) if both else None,
        "median_crop_fraction_max": float(np.max(relative)) if relative else None,
        "world_median_cm_max": max((row.world_median_cm for row in rows
                                    if row.world_median_cm is not None), default=None),
        "visibility_max": max((row.visibility_max for row in rows
                               if row.visibility_max is not None), default=None),
        "mask_iou_min": min((row.mask_iou for row in rows if row.mask_iou is not None),
                            default=None),
    }


# ----------------------------------------------------------------------------------------------
# blazepose.solutions.pose against the legacy mp.solutions.pose.

def legacy_images(cache_dir: os.PathLike | None = None) -> list[tuple[str, np.ndarray]]:
    """``(name, uint8 RGB)``: :data:`LEGACY_PHOTOS`, the astronaut turned a quarter clockwise
    (a lying person, a rotated crop), a blank image (nobody) and :data:`LEGACY_STILL_FRAMES`."""
    images = [(name, read_photo(name, cache_dir)) for name in LEGACY_PHOTOS]
    images.append(("astronaut_rot90", np.ascontiguousarray(np.rot90(images[0][1], k=-1))))
    images.append(("blank", np.full((240, 320, 3), 128, np.uint8)))
    frames = read_frames(samples.fetch_sample("sports2d_demo", cache_dir), LEGACY_STILL_FRAMES)
    images += [(f"sports2d#{index}", frame) for index, frame in zip(LEGACY_STILL_FRAMES, frames)]
    return images


def legacy_clip(cache_dir: os.PathLike | None = None) -> list[tuple[str, np.ndarray]]:
    """``(name, uint8 RGB)`` consecutive frames of :data:`LEGACY_CLIP`."""
    name, first, count = LEGACY_CLIP
    indices = range(first, first + count)
    frames = read_frames(samples.fetch_sample(name, cache_dir), indices)
    return [(f"{name}#{index}", frame) for index, frame in zip(indices, frames)]


def run_solutions(frames, options, **pose_kwargs) -> list[PoseOutputs]:
    """:class:`blazepose.solutions.pose.Pose` ``(**options, **pose_kwargs)`` over ``frames``
    in order."""
    with Pose(**options, **pose_kwargs) as pose:
        return [pose.process(frame) for frame in frames]


def _mask_iou(ours: np.ndarray | None, theirs: np.ndarray | None) -> float | None:
    if ours is None or theirs is None:
        return None
    a, b = ours > 0.5, theirs > 0.5
    union = np.count_nonzero(a | b)
    return 1.0 if union == 0 else np.count_nonzero(a & b) / union


def compare_solutions(named_frames, ours, legacy) -> list[FrameComparison]:
    """Per frame: our ``PoseOutputs`` against the legacy solution's
    :class:`~blazepose.mediapipe_runtime.client.LegacyPose` (or None)."""
    rows = []
    for (name, frame), mine, theirs in zip(named_frames, ours, legacy):
        height, width = frame.shape[:2]
        row = {"name": name, "width": width, "height": height,
               "found_ours": mine.pose_landmarks is not None,
               "found_mediapipe": theirs is not None}
        if mine.pose_landmarks is not None and theirs is not None:
            points = mine.pose_landmarks.to_array().astype(np.float64)
            points[:, :3] *= np.array([width, height, width])
            row.update(_landmark_figures(points, mine.pose_world_landmarks.to_array(),
                                         theirs.landmarks, theirs.world_landmarks))
            row["mask_iou"] = _mask_iou(mine.segmentation_mask, theirs.segmentation_mask)
        rows.append(FrameComparison(**row))
    return rows
