"""Runs MediaPipe's own ``PoseLandmarker``; executed as a script in the side environment of
:mod:`blazepose.mediapipe_runtime.environment` (it imports only numpy and mediapipe, never this
package or TensorFlow).

  python runner.py REQUEST.json RESULT.json

REQUEST: ``{"task": PATH, "mode": "image" | "video", "frames": [NPY, ...],
"timestamps_ms": [int, ...] (video), "num_poses": 1, "min_pose_detection_confidence": 0.5,
"min_pose_presence_confidence": 0.5, "min_tracking_confidence": 0.5,
"segmentation": false}``. Each NPY holds one uint8 RGB ``[H, W, 3]`` frame, so both sides see
the same pixels (no second JPEG decoder). A video request runs its frames in order in one
landmarker (VIDEO mode: tracking and smoothing); an image request runs each frame alone.

RESULT: ``{"mediapipe_version": ..., "frames": [{"poses": [{"landmarks": [[x, y, z,
visibility, presence] x 33], "world_landmarks": [[x, y, z] x 33]}], "mask_mean": ...}]}`` with
x, y normalised to the image (MediaPipe's convention) and world landmarks in metres.
A failure to load the bundle exits with status 3 and MediaPipe's message on stderr.
"""

from __future__ import annotations

import json
import sys


def _pose(landmarks, world) -> dict:
    return {
        "landmarks": [[p.x, p.y, p.z, p.visibility if p.visibility is not None else float("nan"),
                       p.presence if p.presence is not None else float("nan")]
                      for p in landmarks],
        "world_landmarks": [[p.x, p.y, p.z] for p in world],
    }


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    import mediapipe as mp
    import numpy as np
    from mediapipe.tasks.python import vision
    from mediapipe.tasks.python.core.base_options import BaseOptions

    with open(argv[1]) as handle:
        request = json.load(handle)
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
        print(f"MediaPipe refused {request['task']}: {error}", file=sys.stderr)
        return 3
    frames = []
    with landmarker:
        for index, path in enumerate(request["frames"]):
            pixels = np.ascontiguousarray(np.load(path))
            image = mp.Image(image_format=mp.ImageFormat.SRGB, data=pixels)
            if video:
                result = landmarker.detect_for_video(image, int(request["timestamps_ms"][index]))
            else:
                result = landmarker.detect(image)
            entry = {"poses": [_pose(lm, world) for lm, world in
                               zip(result.pose_landmarks, result.pose_world_landmarks)]}
            if result.segmentation_masks:
                entry["mask_mean"] = [float(np.mean(mask.numpy_view()))
                                      for mask in result.segmentation_masks]
            frames.append(entry)
    with open(argv[2], "w") as handle:
        json.dump({"mediapipe_version": getattr(mp, "__version__", "unknown"),
                   "frames": frames}, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
