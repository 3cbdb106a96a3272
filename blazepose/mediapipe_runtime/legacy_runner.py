"""Runs the legacy ``mediapipe.solutions.pose`` (mediapipe 0.10.21); executed as a script by the
``legacy`` side environment of :mod:`blazepose.mediapipe_runtime.environment` (it imports only
numpy, mediapipe and json, never this package or TensorFlow).

  python legacy_runner.py REQUEST.json RESULT.json

REQUEST: ``{"runs": [{"frames": [NPY, ...], "options": {...}, "mask_dir": DIR (optional)},
...]}``. Each run makes one ``Pose(**options)`` (the legacy keyword arguments:
``static_image_mode``, ``model_complexity``, ``smooth_landmarks``, ``enable_segmentation``,
``smooth_segmentation``, ``min_detection_confidence``, ``min_tracking_confidence``) and calls
``process`` on its frames in order, so a run with ``static_image_mode=False`` is one video
(tracking and smoothing on MediaPipe's simulated 30 FPS clock). Each NPY holds one uint8 RGB
``[H, W, 3]`` frame, so both sides of a comparison see the same pixels. With ``mask_dir``, each
segmentation mask is saved there as ``run<R>_frame<F>.npy`` (float32 ``[H, W]``).

RESULT: ``{"mediapipe_version": ..., "runs": [{"frames": [FRAME, ...]}, ...]}``; FRAME is
``null`` when no person was found, else ``{"landmarks": [[x, y, z, visibility, presence] x 33],
"world_landmarks": [[x, y, z, visibility] x 33], "presence_set": bool, "mask": NPY or null,
"mask_mean": float or null}``, values exactly as the legacy API returns them: x, y normalised
to the image, z in units of the image width, world landmarks in metres. ``presence_set`` tells
whether the API left the presence field set (0.10.21 clears it: presence then reads 0.0).
A Pose that cannot be built exits with status 3 and MediaPipe's message on stderr.
"""

from __future__ import annotations

import json
import os
import sys


def _frame_entry(results, np, mask_path: str | None) -> dict | None:
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


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    import mediapipe as mp
    import numpy as np

    with open(argv[1]) as handle:
        request = json.load(handle)
    runs = []
    for run_index, run in enumerate(request["runs"]):
        try:
            pose = mp.solutions.pose.Pose(**run.get("options", {}))
        except Exception as error:  # MediaPipe raises ValueError/RuntimeError with its text
            print(f"MediaPipe refused Pose({run.get('options')}): {error}", file=sys.stderr)
            return 3
        mask_dir = run.get("mask_dir")
        frames = []
        with pose:
            for frame_index, path in enumerate(run["frames"]):
                pixels = np.ascontiguousarray(np.load(path))
                mask_path = (os.path.join(mask_dir, f"run{run_index}_frame{frame_index}.npy")
                             if mask_dir else None)
                frames.append(_frame_entry(pose.process(pixels), np, mask_path))
        runs.append({"frames": frames})
    with open(argv[2], "w") as handle:
        json.dump({"mediapipe_version": getattr(mp, "__version__", "unknown"), "runs": runs},
                  handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
