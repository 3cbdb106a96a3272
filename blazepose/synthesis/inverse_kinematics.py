"""Joint angles that put a hand, foot or elbow where a motion needs them (vectorised).

The exercise motions fix some points in the world (feet on the floor, hands on the floor in a
push-up) and move the trunk; the limbs' angles then follow from these helpers. All functions
broadcast over leading dimensions. Conventions are those of :mod:`.body_model` (degrees; limb
directions given in the parent frame of the limb, for the left limb: the right limb's
directions are mirrored in x before conversion).
"""

from __future__ import annotations

import numpy as np

from blazepose.synthesis.geometry import rotation_x, rotation_y, rotation_z

__all__ = [
    "arm_angles_from_directions",
    "foot_angle_from_direction",
    "hand_angles_from_finger_direction",
    "leg_angles_from_directions",
    "mirror_for_side",
    "to_frame",
    "two_bone_middle_joint",
]


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.maximum(np.linalg.norm(vector, axis=-1, keepdims=True), 1e-12)


def to_frame(frame: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """World vector ``[..., 3]`` expressed in the frame ``[..., 3, 3]`` (columns = axes)."""
    return np.einsum("...ji,...j->...i", frame, vector)


def mirror_for_side(vector: np.ndarray, side: str) -> np.ndarray:
    """Negates x for the right side, so that right limbs can use the left limb's formulas."""
    if side == "left":
        return vector
    return vector * np.array([-1.0, 1.0, 1.0])


def two_bone_middle_joint(root: np.ndarray, target: np.ndarray, first_length: float,
                          second_length: float, pole: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Middle joint (elbow/knee) of a two-bone chain from ``root`` reaching for ``target``.

    Args:
      root: ``[..., 3]`` shoulder or hip.
      target: ``[..., 3]`` wrist or ankle wanted.
      first_length: upper bone length.
      second_length: lower bone length.
      pole: ``[..., 3]`` direction the middle joint should bend towards.

    Returns:
      (middle joint ``[..., 3]``, end ``[..., 3]``): the end equals ``target`` when reachable,
      else the nearest reachable point on the line towards it.
    """
    offset = target - root
    distance = np.linalg.norm(offset, axis=-1, keepdims=True)
    reach = np.clip(distance, abs(first_length - second_length) + 1e-6,
                    0.9995 * (first_length + second_length))
    direction = _unit(offset)
    along = (first_length**2 + reach**2 - second_length**2) / (2.0 * reach)
    height = np.sqrt(np.maximum(first_length**2 - along**2, 0.0))
    bend = pole - np.sum(pole * direction, axis=-1, keepdims=True) * direction
    bend = _unit(bend)
    middle = root + along * direction + height * bend
    return middle, root + reach * direction


def arm_angles_from_directions(upper_arm: np.ndarray, forearm: np.ndarray
                               ) -> dict[str, np.ndarray]:
    """Shoulder swing, twist and elbow flexion giving these directions (left arm, chest frame).

    Inverse of ``Ry(-plane) Rz(elevation) Ry(plane) Ry(-twist)`` then ``Rx(-elbow)``, applied
    to the hanging direction (0, -1, 0).
    """
    upper = _unit(upper_arm)
    elevation = np.degrees(np.arccos(np.clip(-upper[..., 1], -1.0, 1.0)))
    plane = np.degrees(np.arctan2(upper[..., 2], upper[..., 0]))
    plane = np.where(plane < -90.0, plane + 360.0, plane)  # keep "behind" swings continuous
    swing = rotation_y(-plane) @ rotation_z(elevation) @ rotation_y(plane)
    local = to_frame(swing, _unit(forearm))
    elbow = np.degrees(np.arccos(np.clip(-local[..., 1], -1.0, 1.0)))
    twist = np.degrees(np.arctan2(-local[..., 0], local[..., 2]))
    return {"shoulder_elevation": elevation, "shoulder_plane": plane, "shoulder_twist": twist,
            "elbow_flex": elbow}


def forearm_frame(angles: dict[str, np.ndarray]) -> np.ndarray:
    """``[..., 3, 3]`` forearm frame in the chest frame (left arm) for the given arm angles."""
    plane = angles["shoulder_plane"]
    return (rotation_y(-plane) @ rotation_z(angles["shoulder_elevation"]) @ rotation_y(plane)
            @ rotation_y(-angles["shoulder_twist"]) @ rotation_x(-angles["elbow_flex"]))


def hand_angles_from_finger_direction(forearm_local_fingers: np.ndarray
                                      ) -> dict[str, np.ndarray]:
    """Pronation and wrist extension pointing the fingers along a forearm-frame direction.

    Used for hands pressed flat on the floor: the wrist extends (negative flexion) and the
    forearm turns so that the palm faces away from the elbow's bending side.
    """
    fingers = _unit(forearm_local_fingers)
    wrist = -np.degrees(np.arccos(np.clip(-fingers[..., 1], -1.0, 1.0)))
    pronation = np.degrees(np.arctan2(fingers[..., 0], -fingers[..., 2]))
    pronation = np.where(pronation < -30.0, pronation + 360.0, pronation)
    return {"forearm_pronation": pronation, "wrist_flex": wrist}


def leg_angles_from_directions(thigh: np.ndarray, shin: np.ndarray) -> dict[str, np.ndarray]:
    """Hip flexion, abduction, twist and knee flexion giving these directions (left leg).

    Inverse of ``Rz(abduct) Rx(-flex) Ry(-twist)`` then ``Rx(knee)`` on (0, -1, 0), with
    directions in the pelvis frame.
    """
    upper = _unit(thigh)
    flex = np.degrees(np.arcsin(np.clip(upper[..., 2], -1.0, 1.0)))
    abduct = np.degrees(np.arctan2(upper[..., 0], -upper[..., 1]))
    swing = rotation_z(abduct) @ rotation_x(-flex)
    local = to_frame(swing, _unit(shin))
    knee = np.degrees(np.arccos(np.clip(-local[..., 1], -1.0, 1.0)))
    twist = np.degrees(np.arctan2(local[..., 0], -local[..., 2]))
    # A straight knee leaves the twist undefined: keep it neutral there.
    twist = np.where(knee < 2.0, 0.0, twist)
    return {"hip_flex": flex, "hip_abduct": abduct, "hip_twist": twist, "knee_flex": knee}


def shin_frame(angles: dict[str, np.ndarray]) -> np.ndarray:
    """``[..., 3, 3]`` shin frame in the pelvis frame (left leg) for the given leg angles."""
    return (rotation_z(angles["hip_abduct"]) @ rotation_x(-angles["hip_flex"])
            @ rotation_y(-angles["hip_twist"]) @ rotation_x(angles["knee_flex"]))


def foot_angle_from_direction(shin_local_foot: np.ndarray) -> np.ndarray:
    """Ankle dorsiflexion pointing the foot (heel to toe) along a shin-frame direction."""
    return np.degrees(np.arctan2(shin_local_foot[..., 1], shin_local_foot[..., 2]))
