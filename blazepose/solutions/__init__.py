"""Drop-in replacements for removed ``mediapipe.solutions`` modules, on our pipeline.

``mediapipe.solutions.pose`` was removed in mediapipe 0.10.30. Change only the import::

    # import mediapipe as mp; mp_pose = mp.solutions.pose
    from blazepose.solutions import pose as mp_pose
    from blazepose.solutions import drawing_utils as mp_drawing   # optional, numpy drawing

See :mod:`blazepose.solutions.pose` for what is identical and what differs.
"""

from blazepose.solutions import drawing_utils, pose

__all__ = ["drawing_utils", "pose"]
