"""Runs MediaPipe's own pose code; executed as a script in a side environment of
:mod:`blazepose.mediapipe_runtime.environment` (it imports only numpy, mediapipe and the
standard library, never this package or TensorFlow).

  python runner.py REQUEST.json RESULT.json

Two kinds of request, told apart by their keys; the RESULT holds ``"mediapipe_version"`` and the
kind's own fields. A model or options MediaPipe refuses exit with status 3 and MediaPipe's
message on stderr.

**Tasks API** (``PoseLandmarker``, the ``tasks`` environment). REQUEST: ``{"task": PATH, "mode":
"image" | "video", "frames": [NPY, ...], "timestamps_ms": [int, ...] (video), "num_poses": 1,
"min_pose_detection_confidence": 0.5, "min_pose_presence_confidence": 0.5,
"min_tracking_confidence": 0.5, "segmentation": false}``. A video request runs its frames in
order in one landmarker (VIDEO mode: tracking and smoothing); an image request runs each frame
alone. RESULT: ``{"frames": [{"poses": [{"landmarks": [[x, y, z, visibility, presence] x 33],
"world_landmarks": [[x, y, z] x 33]}], "mask_mean": ...}]}``.

**Legacy** ``mediapipe.solutions.pose`` (mediapipe 0.10.21, the ``legacy`` environment).
REQUEST: ``{"runs": [{"frames": [NPY, ...], "options": {...}, "mask_dir": DIR (optional)},
...]}``. Each run makes one ``Pose(**options)`` (the legacy keyword arguments:
``static_image_mode``, ``model_complexity``, ``smooth_landmarks``, ``enable_segmentation``,
``smooth_segmentation``, ``min_detection_confidence``, ``min_tracking_confidence``) and calls
``process`` on its frames in order, so a run with ``static_image_mode=False`` is one video
(tracking and smoothing on MediaPipe's simulated 30 FPS clock). With ``mask_dir``, each
segmentation mask is saved there as ``run<R>_frame<F>.npy`` (float32 ``[H, W]``). RESULT:
``{"runs": [{"frames": [FRAME, ...]}, ...]}``; FRAME is ``null`` when no person was found, else
``{"landmarks": [[x, y, z, visibility, presence] x 33], "world_landmarks": [[x, y, z,
visibility] x 33], "presence_set": bool, "mask": NPY or null, "mask_mean": float or null}``,
values exactly as the legacy API returns them (z in units of the image width).
``presence_set`` tells whether the API left the presence field set (0.10.21 clears it: presence
then reads 0.0).

Each NPY holds one uint8 RGB ``[H, W, 3]`` frame, so both sides of a comparison see the same
pixels (no second JPEG decoder). x, y are normalised to the image (MediaPipe's convention),
world landmarks are metres.
"""

from __future__ import annotations

import json
import os
import sys


class _Refused(Exception):
    """MediaPipe would not build the model or options; the message says why."""


def _task_pose(landmarks, world) -> dict:
    return {
        "landmarks": [[p.x, p.y, p.z, p.visibility if p.visibility is not None else float("nan"),
                       p.presence if p.presence is not None else float("nan")]
                      for p in landmarks],
        "world_landmarks": [[p.x, p.y, p.z] for p in world],
    }


def _run_task(request: dict, mp, np) -> dict:
    """A Tasks API request (see the module docstring)."""
    from mediapipe.tasks.python import vision
    from mediapipe.tasks.python.core.base_options import BaseOptions

    video = request["mode"] == "video"
    options = vision.PoseLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=request["task"]),
        running_mode=vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE,
        num_poses=int(request.get("num_poses", 1)),
        min_pose_detection_confidence=float(request.get("min_pose_detection_confidence", 0.5)),
        min_pose_presence_confidence=float(request.get("min_pose_presence_confidence", 0.5)),
        min_tracking_confidence=float(request.get("min_tracking_confidence", 0.5)),
        output_segmentation_masks=bool(request.get("segmentation", False)))
    try:
        landmarker = vision.PoseLandmarker.create_from_options(options)
    except Exception as error:  # MediaPipe raises RuntimeError/ValueError with its status text
        raise _Refused(f"MediaPipe refused {request['task']}: {error}") from None
    frames = []
    with landmarker:
        for index, path in enumerate(request["frames"]):
            pixels = np.ascontiguousarray(np.load(path))
            image = mp.Image(image_format=mp.ImageFormat.SRGB, data=pixels)
            if video:
                result = landmarker.detect_for_video(image, int(request["timestamps_ms"][index]))
            else:
                result = landmarker.detect(image)
            entry = {"poses": [_task_pose(lm, world) for lm, world in
                               zip(result.pose_landmarks, result.pose_world_landmarks)]}
            if result.segmentation_masks:
                entry["mask_mean"] = [float(np.mean(mask.numpy_view()))
                                      for mask in result.segmentation_masks]
            frames.append(entry)
    return {"frames": frames}


def _legacy_frame(results, np, mask_path: str | None) -> dict | None:
    if results.pose_landmarks is None:
        return None
    points = results.pose_landmarks.landmark
    world = results.pose_world_landmarks.landmark
    entry = {
        "landmarks": [[p.x, p.y, p.z, p.visibility, p.presence] for p in points],
        "world_landmarks": [[p.x, p.y, p.z, p.visibility] for p in world],
        "presence_set": any(p.HasField("presence") for p in points),
        "mask": None,
        "mask_mean": None,
    }
    mask = results.segmentation_mask
    if mask is not None:
        mask = np.array(mask, dtype=np.float32)
        entry["mask_mean"] = float(mask.mean())
        if mask_path is not None:
            np.save(mask_path, mask)
            entry["mask"] = mask_path
    return entry


def _run_legacy(request: dict, mp, np) -> dict:
    """A legacy ``mp.solutions.pose`` request (see the module docstring)."""
    runs = []
    for run_index, run in enumerate(request["runs"]):
        try:
            pose = mp.solutions.pose.Pose(**run.get("options", {}))
        except Exception as error:  # MediaPipe raises ValueError/RuntimeError with its text
            raise _Refused(f"MediaPipe refused Pose({run.get('options')}): {error}") from None
        mask_dir = run.get("mask_dir")
        frames = []
        with pose:
            for frame_index, path in enumerate(run["frames"]):
                pixels = np.ascontiguousarray(np.load(path))
                mask_path = (os.path.join(mask_dir, f"run{run_index}_frame{frame_index}.npy")
                             if mask_dir else None)
                frames.append(_legacy_frame(pose.process(pixels), np, mask_path))
        runs.append({"frames": frames})
    return {"runs": runs}


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    import mediapipe as mp
    import numpy as np

    with open(argv[1]) as handle:
        request = json.load(handle)
    run = _run_legacy if "runs" in request else _run_task
    try:
        result = run(request, mp, np)
    except _Refused as error:
        print(error, file=sys.stderr)
        return 3
    with open(argv[2], "w") as handle:
        json.dump({"mediapipe_version": getattr(mp, "__version__", "unknown"), **result}, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
