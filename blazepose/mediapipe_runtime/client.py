"""Calls Google's MediaPipe in its side environments, from numpy frames: the Tasks
``PoseLandmarker`` (mediapipe 1.2.2, :func:`run_pose_landmarker`) and the legacy
``mp.solutions.pose`` (mediapipe 0.10.21, :func:`run_legacy_pose`).

Frames cross as ``.npy`` files (uint8 RGB), so MediaPipe sees exactly the pixels our pipeline
sees; results come back as numpy arrays in the conventions of :mod:`blazepose.inference`
(x, y in image pixels, continuous: pixel ``(r, c)`` spans ``[c, c + 1) x [r, r + 1)``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import subprocess
import tempfile
from collections.abc import Mapping, Sequence

import numpy as np

from blazepose.mediapipe_runtime import environment

RUNNER = pathlib.Path(__file__).with_name("runner.py")  # both request kinds: Tasks and legacy


class MediaPipeError(RuntimeError):
    """MediaPipe refused a bundle or failed on a frame (its message included)."""


@dataclasses.dataclass(frozen=True)
class MediaPipePose:
    """One person found by MediaPipe in one frame.

    Attributes:
      landmarks: float64 ``[33, 5]``: x, y image pixels, z (MediaPipe's normalised z times the
        image width, i.e. pixels), visibility, presence.
      world_landmarks: float64 ``[33, 3]`` metres.
    """

    landmarks: np.ndarray
    world_landmarks: np.ndarray


@dataclasses.dataclass(frozen=True)
class RunnerOptions:
    """``PoseLandmarkerOptions`` of one run (MediaPipe's defaults)."""

    num_poses: int = 1
    min_pose_detection_confidence: float = 0.5
    min_pose_presence_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    segmentation: bool = False


def run_pose_landmarker(task: os.PathLike, frames, *, video: bool = False,
                        timestamps_ms=None, options: RunnerOptions | None = None,
                        cache_dir: os.PathLike | None = None, python: os.PathLike | None = None
                        ) -> list[list[MediaPipePose]]:
    """MediaPipe's ``PoseLandmarker`` on ``frames`` (uint8 RGB ``[H, W, 3]`` arrays).

    Args:
      task: a ``pose_landmarker.task`` bundle.
      video: VIDEO running mode (one landmarker over all frames, in order: tracking and
        smoothing); else IMAGE mode, each frame alone.
      timestamps_ms: increasing integer milliseconds, one per frame (video only).
      python: the side environment's interpreter; default: made by
        :func:`environment.ensure_python` (``tasks``).
    Returns:
      per frame, the people found (empty list: none).
    Raises:
      MediaPipeError: MediaPipe refused the bundle or failed.
    """
    frames = [_check_frame(frame, f"frame {index}") for index, frame in enumerate(frames)]
    if video:
        if timestamps_ms is None or len(timestamps_ms) != len(frames):
            raise ValueError("video mode needs one timestamp (ms) per frame")
        timestamps_ms = [int(t) for t in timestamps_ms]
        if any(b <= a for a, b in zip(timestamps_ms, timestamps_ms[1:])):
            raise ValueError("timestamps_ms must increase strictly")
    options = options or RunnerOptions()
    python = python or environment.ensure_python("tasks", cache_dir)
    with tempfile.TemporaryDirectory(prefix="mediapipe-run-") as scratch:
        scratch = pathlib.Path(scratch)
        saved = {}
        request = {"task": os.fspath(task), "mode": "video" if video else "image",
                   "frames": [_save_frame(frame, scratch, saved) for frame in frames],
                   **dataclasses.asdict(options)}
        if video:
            request["timestamps_ms"] = timestamps_ms
        payload = _run_script(python, RUNNER, request, scratch)
    poses = []
    for frame, entry in zip(frames, payload["frames"]):
        found = []
        for pose in entry["poses"]:
            found.append(MediaPipePose(_to_pixels(pose["landmarks"], frame),
                                       np.asarray(pose["world_landmarks"], np.float64)))
        poses.append(found)
    return poses


# ----------------------------------------------------------------------------------------------
# The legacy mp.solutions.pose.

@dataclasses.dataclass(frozen=True)
class LegacyRun:
    """One ``mp.solutions.pose.Pose(**options)`` over ``frames`` in order.

    Attributes:
      frames: uint8 RGB ``[H, W, 3]`` arrays.
      options: the legacy ``Pose`` keyword arguments, e.g. ``{"static_image_mode": True}``.
      masks: return the segmentation masks (with ``enable_segmentation`` in ``options``).
    """

    frames: Sequence[np.ndarray]
    options: Mapping = dataclasses.field(default_factory=dict)
    masks: bool = False


@dataclasses.dataclass(frozen=True)
class LegacyPose:
    """The legacy solution's answer on one frame where it found a person.

    Attributes:
      landmarks: float64 ``[33, 5]``: x, y image pixels, z (MediaPipe's z times the image
        width, i.e. pixels), visibility, presence as read from the result (0.10.21 clears
        presence: 0.0).
      world_landmarks: float64 ``[33, 4]``: x, y, z metres, visibility.
      presence_set: whether the legacy API left the presence field set.
      segmentation_mask: float32 ``[H, W]`` when requested and produced, else None.
    """

    landmarks: np.ndarray
    world_landmarks: np.ndarray
    presence_set: bool
    segmentation_mask: np.ndarray | None = None


def run_legacy_pose(runs: Sequence[LegacyRun], *, python: os.PathLike | None = None,
                    cache_dir: os.PathLike | None = None) -> list[list[LegacyPose | None]]:
    """The legacy ``mp.solutions.pose`` on each run, all in one interpreter.

    Args:
      runs: the runs; each gets a fresh ``Pose``.
      python: the legacy environment's interpreter; default: made by
        :func:`environment.ensure_python` (``legacy``), once, in ``cache_dir``.
    Returns:
      per run, per frame: the pose, or None where no person was found.
    Raises:
      MediaPipeError: MediaPipe refused the options or failed.
      environment.RuntimeUnavailable: the legacy environment could not be made.
    """
    checked = [[_check_frame(frame, f"run {run_index} frame {index}")
                for index, frame in enumerate(run.frames)] for run_index, run in enumerate(runs)]
    python = python or environment.ensure_python("legacy", cache_dir)
    with tempfile.TemporaryDirectory(prefix="mediapipe-legacy-") as scratch:
        scratch = pathlib.Path(scratch)
        saved = {}  # a frame shared by runs is written once
        request_runs = []
        for run, frames in zip(runs, checked):
            entry = {"frames": [_save_frame(frame, scratch, saved) for frame in frames],
                     "options": dict(run.options)}
            if run.masks:
                entry["mask_dir"] = os.fspath(scratch)
            request_runs.append(entry)
        payload = _run_script(python, RUNNER, {"runs": request_runs}, scratch)
        return [[_legacy_pose(entry, frame) for frame, entry in zip(frames, run["frames"])]
                for frames, run in zip(checked, payload["runs"])]


def _legacy_pose(entry: dict | None, frame: np.ndarray) -> LegacyPose | None:
    if entry is None:
        return None
    mask = np.load(entry["mask"]) if entry.get("mask") else None
    return LegacyPose(_to_pixels(entry["landmarks"], frame),
                      np.asarray(entry["world_landmarks"], np.float64),
                      bool(entry["presence_set"]), mask)


# ----------------------------------------------------------------------------------------------
# Shared plumbing.

def _check_frame(frame, where: str) -> np.ndarray:
    frame = np.ascontiguousarray(frame)
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"{where} must be uint8 [H, W, 3], got {frame.dtype} "
                         f"{list(frame.shape)}")
    return frame


def _save_frame(frame: np.ndarray, scratch: pathlib.Path, saved: dict) -> str:
    """The ``.npy`` path of ``frame`` in ``scratch``, written once per array object."""
    key = id(frame)
    if key not in saved:
        saved[key] = (os.fspath(scratch / f"frame{len(saved):05d}.npy"), frame)
        np.save(saved[key][0], frame)
    return saved[key][0]


def _run_script(python: os.PathLike, script: pathlib.Path, request: dict,
                scratch: pathlib.Path) -> dict:
    """Runs a runner ``script`` on ``request`` (JSON) in the side interpreter; its result."""
    (scratch / "request.json").write_text(json.dumps(request))
    command = [os.fspath(python), os.fspath(script), os.fspath(scratch / "request.json"),
               os.fspath(scratch / "result.json")]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines()
                 if "refused" in line or "Error" in line or "error" in line]
        raise MediaPipeError("\n".join(lines[-5:]) or result.stderr[-2000:])
    return json.loads((scratch / "result.json").read_text())


def _to_pixels(normalized, frame: np.ndarray) -> np.ndarray:
    """MediaPipe's normalised ``[33, 5]`` landmarks -> x, y, z in pixels of ``frame``."""
    landmarks = np.asarray(normalized, np.float64)
    height, width = frame.shape[:2]
    landmarks[:, 0] *= width
    landmarks[:, 1] *= height
    landmarks[:, 2] *= width
    return landmarks
