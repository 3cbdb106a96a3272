"""Calls Google's MediaPipe ``PoseLandmarker`` in its side environment, from numpy frames.

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

import numpy as np

from blazepose.mediapipe_runtime import environment

RUNNER = pathlib.Path(__file__).with_name("runner.py")


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
    frames = [np.ascontiguousarray(frame) for frame in frames]
    for index, frame in enumerate(frames):
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"frame {index} must be uint8 [H, W, 3], got {frame.dtype} "
                             f"{list(frame.shape)}")
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
        paths = []
        for index, frame in enumerate(frames):
            path = scratch / f"frame{index:05d}.npy"
            np.save(path, frame)
            paths.append(os.fspath(path))
        request = {"task": os.fspath(task), "mode": "video" if video else "image",
                   "frames": paths, **dataclasses.asdict(options)}
        if video:
            request["timestamps_ms"] = timestamps_ms
        (scratch / "request.json").write_text(json.dumps(request))
        command = [os.fspath(python), os.fspath(RUNNER), os.fspath(scratch / "request.json"),
                   os.fspath(scratch / "result.json")]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            lines = [line for line in result.stderr.splitlines()
                     if "refused" in line or "Error" in line or "error" in line]
            raise MediaPipeError("\n".join(lines[-5:]) or result.stderr[-2000:])
        payload = json.loads((scratch / "result.json").read_text())
    poses = []
    for frame, entry in zip(frames, payload["frames"]):
        height, width = frame.shape[:2]
        found = []
        for pose in entry["poses"]:
            landmarks = np.asarray(pose["landmarks"], np.float64)
            landmarks[:, 0] *= width
            landmarks[:, 1] *= height
            landmarks[:, 2] *= width
            found.append(MediaPipePose(landmarks,
                                       np.asarray(pose["world_landmarks"], np.float64)))
        poses.append(found)
    return poses
