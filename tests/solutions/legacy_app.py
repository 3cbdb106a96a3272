"""A small app written against the legacy ``mediapipe.solutions.pose`` API, as fitness apps were:
an arm-raise repetition counter with elbow angles.

The drop-in test runs it twice on the same frames: unchanged with mediapipe 0.10.21, and with
only its pose import line replaced by ``from blazepose.solutions import pose as mp_pose``.

  python legacy_app.py REQUEST.json RESULT.json

REQUEST: ``{"photos": [NPY, ...], "video": [NPY, ...]}`` (uint8 RGB frames). RESULT:
``{"photos": [FRAME, ...], "video": [FRAME, ...], "reps": int, "found_video": int}``; FRAME is
null without a person, else ``{"landmarks": [[x px, y px, z, visibility] x 33],
"world_y": [33 floats], "left_elbow_deg": float, "right_elbow_deg": float,
"arms_up": bool}``.
"""

import json
import math
import sys

import numpy as np
from mediapipe.python.solutions import pose as mp_pose

# The arm-raise counter: a rep is both wrists going above the nose, then back below the
# shoulders.
UP, DOWN = "up", "down"


def angle(a, b, c):
    """The angle at b, degrees, of the 2D points a-b-c."""
    first = math.atan2(a.y - b.y, a.x - b.x)
    second = math.atan2(c.y - b.y, c.x - b.x)
    degrees = abs(math.degrees(first - second))
    return 360.0 - degrees if degrees > 180.0 else degrees


def describe(results, width, height):
    if not results.pose_landmarks:
        return None
    points = results.pose_landmarks.landmark
    joint = mp_pose.PoseLandmark
    assert len(points) == 33
    return {
        "landmarks": [[p.x * width, p.y * height, p.z, p.visibility] for p in points],
        "world_y": [p.y for p in results.pose_world_landmarks.landmark],
        "left_elbow_deg": angle(points[joint.LEFT_SHOULDER], points[joint.LEFT_ELBOW],
                                points[joint.LEFT_WRIST]),
        "right_elbow_deg": angle(points[joint.RIGHT_SHOULDER], points[joint.RIGHT_ELBOW],
                                 points[joint.RIGHT_WRIST]),
        "arms_up": (points[joint.LEFT_WRIST].y < points[joint.NOSE].y
                    and points[joint.RIGHT_WRIST].y < points[joint.NOSE].y),
        "arms_down": (points[joint.LEFT_WRIST].y > points[joint.LEFT_SHOULDER].y
                      and points[joint.RIGHT_WRIST].y > points[joint.RIGHT_SHOULDER].y),
    }


def main(argv):
    with open(argv[1]) as handle:
        request = json.load(handle)
    result = {"photos": [], "video": []}
    with mp_pose.Pose(static_image_mode=True, min_detection_confidence=0.5) as pose:
        for path in request["photos"]:
            image = np.load(path)
            result["photos"].append(describe(pose.process(image), image.shape[1],
                                             image.shape[0]))
    reps, stage, found = 0, DOWN, 0
    with mp_pose.Pose(min_detection_confidence=0.5, min_tracking_confidence=0.5) as pose:
        for path in request["video"]:
            frame = np.load(path)
            entry = describe(pose.process(frame), frame.shape[1], frame.shape[0])
            result["video"].append(entry)
            if entry is None:
                continue
            found += 1
            if stage == DOWN and entry["arms_up"]:
                stage = UP
            elif stage == UP and entry["arms_down"]:
                stage = DOWN
                reps += 1
    result["reps"] = reps
    result["found_video"] = found
    with open(argv[2], "w") as handle:
        json.dump(result, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
