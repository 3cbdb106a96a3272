"""Kinematic models of five exercises, and repetition timelines with varying speed and pauses.

Each exercise is driven by one scalar per frame, the *depth* ``d`` in [0, 1]: 0 is the rest
position a repetition starts and ends in, 1 the turning point of a full-range repetition. The
motion is a real kinematic one: feet (and a push-up's hands) stay on the floor and the joint
angles follow from the trunk's motion by inverse kinematics, so elbow, knee, hip and shoulder
angles measured on the landmarks trace one cycle per repetition:

=============  ===============================  ==================================
exercise       rest (d = 0)                     turning point (d = 1)
=============  ===============================  ==================================
pushup         plank on straight arms           chest near the floor, elbows ~70-90
squat          standing                         thighs about horizontal, knees ~60-80
situp          lying on the back, knees bent    trunk raised 65-85 degrees
jumping_jack   standing, arms down, feet close  arms overhead, feet apart (with hops)
lunge          split stance, legs straight      back knee near the floor, front ~90
=============  ===============================  ==================================

All positions are in the body frame of :mod:`.body_model` (units of height, y up, the floor at
y = 0, the exercise's "forward" along +z); the camera decides the view.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from blazepose.synthesis.body_model import (
    LANDMARK_INDEX,
    BodyShape,
    PosedBody,
    neutral_angles,
    pose_body,
)
from blazepose.synthesis.inverse_kinematics import (
    arm_angles_from_directions,
    foot_angle_from_direction,
    forearm_frame,
    hand_angles_from_finger_direction,
    leg_angles_from_directions,
    mirror_for_side,
    shin_frame,
    to_frame,
    two_bone_middle_joint,
)

__all__ = [
    "EXERCISES",
    "ExerciseStyle",
    "RepTimeline",
    "exercise_angles",
    "pose_exercise",
    "sample_exercise_style",
    "sample_rep_timeline",
]

EXERCISES: tuple[str, ...] = ("pushup", "squat", "situp", "jumping_jack", "lunge")
"""Exercise names, in the order of the ``exercise`` ClassLabel."""

_ARM_STYLES = {
    "pushup": ("floor",),
    "squat": ("forward", "hips", "chest", "behind_head", "hanging"),
    "situp": ("behind_head", "crossed", "reaching"),
    "jumping_jack": ("jack",),
    "lunge": ("hips", "hanging", "chest"),
}


@dataclass(frozen=True)
class ExerciseStyle:
    """How one person performs one exercise in one sequence (fixed over the sequence).

    Attributes:
      exercise: one of :data:`EXERCISES`.
      arms: arm style (see ``_ARM_STYLES``).
      lead_side: "left" or "right": the front leg of a lunge.
      params: exercise-specific numbers (stance width, range of motion, lean, ...).
    """

    exercise: str
    arms: str
    lead_side: str
    params: dict[str, float] = field(default_factory=dict)


def sample_exercise_style(rng: np.random.Generator, exercise: str) -> ExerciseStyle:
    """Random but plausible execution parameters for ``exercise``."""
    if exercise not in EXERCISES:
        raise ValueError(f"unknown exercise {exercise!r}; known: {EXERCISES}")
    arms = str(rng.choice(_ARM_STYLES[exercise]))
    params = {
        "stance": rng.uniform(0.03, 0.09),  # ankle half-width beyond the hip's
        "toe_out": rng.uniform(5.0, 25.0),
        "thigh_range": rng.uniform(70.0, 95.0),
        "shin_range": rng.uniform(20.0, 35.0),
        "lean_range": rng.uniform(15.0, 40.0),
        "stride": rng.uniform(0.34, 0.46),
        "lunge_drop": rng.uniform(0.13, 0.2),
        "hand_width": rng.uniform(0.03, 0.12),  # push-up hands beyond the shoulders
        "hand_forward": rng.uniform(-0.02, 0.06),
        "elbow_flare": rng.uniform(0.2, 1.2),
        "hip_sag": rng.uniform(-6.0, 12.0),
        "top_height": rng.uniform(0.97, 1.02),  # push-up shoulders, fraction of the arm
        "bottom_height": rng.uniform(0.16, 0.22),  # push-up shoulders above the floor
        "trunk_range": rng.uniform(65.0, 85.0),
        "feet_distance": rng.uniform(0.32, 0.40),
        "jack_arms": rng.uniform(150.0, 172.0),
        "jack_legs": rng.uniform(12.0, 20.0),
        "hop": rng.uniform(0.015, 0.05),
        "head_turn": rng.uniform(-15.0, 15.0),
    }
    return ExerciseStyle(exercise=exercise, arms=arms, lead_side=str(rng.choice(["left", "right"])),
                         params=params)


def _landmark(body: PosedBody, name: str) -> np.ndarray:
    return body.landmarks[..., LANDMARK_INDEX[name], :]


def _broadcast_column(value: np.ndarray | float, like: np.ndarray) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, np.float64), like.shape)


def _set_limb(angles: dict, side: str, values: dict[str, np.ndarray]) -> None:
    for name, value in values.items():
        angles[f"{side}_{name}"] = value


def _ik_arm(angles: dict, trunk: PosedBody, side: str, wrist_target: np.ndarray,
            pole: np.ndarray, shape: BodyShape) -> None:
    """Sets one arm's angles so that its wrist reaches ``wrist_target`` (world)."""
    upper = "LEFT" if side == "left" else "RIGHT"
    shoulder = _landmark(trunk, f"{upper}_SHOULDER")
    elbow, wrist = two_bone_middle_joint(shoulder, wrist_target, shape.upper_arm_length,
                                         shape.forearm_length, pole)
    in_chest = [mirror_for_side(to_frame(trunk.chest_frame, v), side)
                for v in (elbow - shoulder, wrist - elbow)]
    _set_limb(angles, side, arm_angles_from_directions(*in_chest))


def _ik_leg(angles: dict, trunk: PosedBody, side: str, ankle_target: np.ndarray,
            pole: np.ndarray, foot_direction: np.ndarray, shape: BodyShape) -> None:
    """Sets one leg's angles so that its ankle reaches ``ankle_target`` and the foot points
    along ``foot_direction`` (world, heel to toe)."""
    upper = "LEFT" if side == "left" else "RIGHT"
    hip = _landmark(trunk, f"{upper}_HIP")
    knee, ankle = two_bone_middle_joint(hip, ankle_target, shape.thigh_length, shape.shin_length,
                                        pole)
    in_pelvis = [mirror_for_side(to_frame(trunk.pelvis_frame, v), side)
                 for v in (knee - hip, ankle - knee)]
    leg = leg_angles_from_directions(*in_pelvis)
    foot = mirror_for_side(to_frame(trunk.pelvis_frame, foot_direction), side)
    leg["ankle_flex"] = foot_angle_from_direction(to_frame(shin_frame(leg), foot))
    _set_limb(angles, side, leg)


def _side_sign(side: str) -> float:
    return 1.0 if side == "left" else -1.0


def _standing_root_height(shape: BodyShape, lateral: float) -> float:
    """Pelvis height when standing on straight legs whose ankles are ``lateral`` off the hips."""
    leg = 0.998 * (shape.thigh_length + shape.shin_length)
    return 0.85 * shape.ankle_height + float(np.sqrt(leg**2 - lateral**2))


def _arm_style_angles(style: str, depth: np.ndarray) -> dict[str, np.ndarray]:
    """Explicit arm angles ``[T]`` (same for both arms) of the styles not solved by IK."""
    d = depth
    if style == "forward":
        values = {"shoulder_elevation": 15.0 + 75.0 * d, "shoulder_plane": 88.0,
                  "elbow_flex": 8.0, "forearm_pronation": 90.0}
    elif style == "chest":
        values = {"shoulder_elevation": 38.0, "shoulder_plane": 105.0,
                  "shoulder_twist": 35.0, "elbow_flex": 125.0, "forearm_pronation": 70.0,
                  "hand_closure": 0.9}
    elif style == "crossed":
        values = {"shoulder_elevation": 30.0, "shoulder_plane": 115.0,
                  "shoulder_twist": 55.0, "elbow_flex": 120.0, "forearm_pronation": 110.0}
    elif style == "behind_head":
        values = {"shoulder_elevation": 135.0, "shoulder_plane": 25.0,
                  "shoulder_twist": -50.0, "elbow_flex": 140.0, "forearm_pronation": 100.0}
    elif style == "reaching":
        values = {"shoulder_elevation": 45.0 + 35.0 * d, "shoulder_plane": 88.0,
                  "elbow_flex": 10.0, "forearm_pronation": 90.0}
    else:  # hanging, a little swing with the motion
        values = {"shoulder_elevation": 8.0 + 25.0 * d, "shoulder_plane": 80.0,
                  "elbow_flex": 12.0 + 20.0 * d, "forearm_pronation": 85.0}
    return {name: np.broadcast_to(np.asarray(v, np.float64), d.shape)
            for name, v in values.items()}


def exercise_angles(style: ExerciseStyle, shape: BodyShape, depth: np.ndarray,
                    hop: np.ndarray | None = None, sway: dict[str, np.ndarray] | None = None
                    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Joint angles and pelvis positions of ``style``'s exercise at the given depths.

    Args:
      style: the exercise and how it is performed.
      shape: the person's proportions.
      depth: float ``[T]`` in [0, 1], 0 at rest, 1 at the turning point of a full repetition;
        one-dimensional and holding a rest frame for push-ups, whose hands are placed under the
        shoulders of the frame of least depth.
      hop: float ``[T]`` in [0, 1]: the feet's height above the floor as a fraction of the
        style's hop height (jumping jacks only), default 0.
      sway: optional small angle offsets ``[T]`` (degrees) added to the trunk and head angles
        before the limbs are solved, e.g. {"spine_flex": ..., "neck_twist": ...}.

    Returns:
      (angles dict of ``[T]`` arrays, root positions ``[T, 3]``) in the body frame.
    """
    depth = np.asarray(depth, np.float64)
    p = style.params
    angles: dict[str, np.ndarray] = {name: np.full(depth.shape, value)
                                     for name, value in neutral_angles().items()}
    zeros = np.zeros(depth.shape)
    hop = zeros if hop is None else np.asarray(hop, np.float64)
    root = np.zeros(depth.shape + (3,))

    def add_sway():
        for name, offset in (sway or {}).items():
            angles[name] = angles[name] + offset

    exercise = style.exercise
    if exercise == "squat":
        thigh = 3.0 + p["thigh_range"] * depth
        shin = 2.0 + p["shin_range"] * depth
        lean = 4.0 + p["lean_range"] * depth
        angles["body_pitch"] = 0.5 * lean
        angles["spine_flex"] = 0.5 * lean
        angles["neck_flex"] = -0.45 * lean
        lateral = p["stance"]
        leg = shape.thigh_length + shape.shin_length
        cosine = np.sqrt(1.0 - (lateral / leg) ** 2) * 0.998
        root[..., 1] = 0.85 * shape.ankle_height + cosine * (
            shape.shin_length * np.cos(np.radians(shin)) + shape.thigh_length * np.cos(
                np.radians(thigh)))
        root[..., 2] = (shape.shin_length * np.sin(np.radians(shin))
                        - shape.thigh_length * np.sin(np.radians(thigh)))
        add_sway()
        trunk = pose_body(shape, angles, root)
        for side in ("left", "right"):
            sign = _side_sign(side)
            toe_out = np.radians(p["toe_out"])
            ankle = np.stack(np.broadcast_arrays(sign * (shape.hip_half_width + lateral),
                                                 0.85 * shape.ankle_height, zeros), axis=-1)
            foot = np.array([sign * np.sin(toe_out), 0.0, np.cos(toe_out)])
            pole = foot + np.array([0.0, 0.3, 0.0])
            _ik_leg(angles, trunk, side, ankle, pole, np.broadcast_to(foot, ankle.shape), shape)
        if style.arms == "hips":
            for side in ("left", "right"):
                upper = side.upper()
                hip = _landmark(trunk, f"{upper}_HIP")
                outward = trunk.pelvis_frame[..., :, 0] * _side_sign(side)
                up = trunk.pelvis_frame[..., :, 1]
                target = hip + 0.045 * outward + 0.09 * up
                pole = outward - 0.6 * trunk.pelvis_frame[..., :, 2]
                _ik_arm(angles, trunk, side, target, pole, shape)
                angles[f"{side}_forearm_pronation"] = np.full(depth.shape, 150.0)
                angles[f"{side}_wrist_flex"] = np.full(depth.shape, -20.0)
        else:
            for side in ("left", "right"):
                _set_limb(angles, side, _arm_style_angles(style.arms, depth))
    elif exercise == "lunge":
        lead, back = style.lead_side, ("right" if style.lead_side == "left" else "left")
        stride = p["stride"]
        lateral = shape.hip_half_width + 0.015
        front_ankle_y = 0.85 * shape.ankle_height
        back_ankle_y = 0.85 * shape.ankle_height + 0.06
        root_z = 0.04 * stride
        leg = 0.995 * (shape.thigh_length + shape.shin_length)
        # Both legs about straight at the top: the front foot sets the height, the back foot
        # stands where its (heel-raised) leg reaches.
        top = front_ankle_y + np.sqrt(leg**2 - (0.5 * stride - root_z) ** 2 - 0.015**2)
        back_z = root_z - np.sqrt(max(leg**2 - (top - back_ankle_y) ** 2 - 0.015**2, 0.0))
        root[..., 1] = top - p["lunge_drop"] * depth
        root[..., 2] = root_z
        angles["body_pitch"] = 3.0 + 4.0 * depth
        angles["neck_flex"] = -3.0 + zeros
        add_sway()
        trunk = pose_body(shape, angles, root)
        for side, z, y in ((lead, 0.5 * stride, front_ankle_y), (back, back_z, back_ankle_y)):
            ankle = np.stack(np.broadcast_arrays(_side_sign(side) * lateral, y, z), axis=-1)
            if side == lead:
                foot = np.array([0.0, 0.0, 1.0])
                pole = np.array([0.0, 0.2, 1.0])
            else:
                drop = np.radians(38.0)
                foot = np.array([0.0, -np.sin(drop), np.cos(drop)])
                pole = np.array([0.0, -0.4, 1.0])
            _ik_leg(angles, trunk, side, ankle, np.broadcast_to(pole, ankle.shape),
                    np.broadcast_to(foot, ankle.shape), shape)
        for side in ("left", "right"):
            if style.arms == "hips":
                upper = side.upper()
                hip = _landmark(trunk, f"{upper}_HIP")
                outward = trunk.pelvis_frame[..., :, 0] * _side_sign(side)
                target = hip + 0.045 * outward + 0.09 * trunk.pelvis_frame[..., :, 1]
                _ik_arm(angles, trunk, side, target,
                        outward - 0.6 * trunk.pelvis_frame[..., :, 2], shape)
                angles[f"{side}_forearm_pronation"] = np.full(depth.shape, 150.0)
            else:
                _set_limb(angles, side, _arm_style_angles(style.arms, 0.3 * depth))
    elif exercise == "pushup":
        arm = shape.upper_arm_length + shape.forearm_length
        wrist_height = 0.03
        top = wrist_height + p["top_height"] * arm
        bottom = p["bottom_height"]
        shoulder_height = top - (top - bottom) * depth
        angles["left_hip_flex"] = angles["right_hip_flex"] = p["hip_sag"] * (1.0 - 0.5 * depth)
        angles["left_knee_flex"] = angles["right_knee_flex"] = 2.0 + zeros
        angles["neck_flex"] = -12.0 + zeros
        # Find the body pitch whose shoulders are at the wanted height with the toes on the
        # floor (a few Newton steps on the pitch, all frames at once).
        pitch = np.full(depth.shape, 70.0)
        toe_down = np.radians(25.0)
        foot_direction = np.array([0.0, -np.cos(toe_down), np.sin(toe_down)])
        for _ in range(4):
            angles["body_pitch"] = pitch
            trunk = pose_body(shape, angles, root)
            for side in ("left", "right"):
                foot = mirror_for_side(to_frame(trunk.pelvis_frame, foot_direction), side)
                leg_angles = {name: angles[f"{side}_{name}"] for name in
                              ("hip_flex", "hip_abduct", "hip_twist", "knee_flex")}
                angles[f"{side}_ankle_flex"] = foot_angle_from_direction(
                    to_frame(shin_frame(leg_angles), foot))
            trunk = pose_body(shape, angles, root)
            toes = 0.5 * (_landmark(trunk, "LEFT_FOOT_INDEX")
                          + _landmark(trunk, "RIGHT_FOOT_INDEX"))
            shoulders = 0.5 * (_landmark(trunk, "LEFT_SHOULDER")
                               + _landmark(trunk, "RIGHT_SHOULDER"))
            relative = shoulders - toes
            length = np.linalg.norm(relative[..., 1:], axis=-1)
            current = np.degrees(np.arcsin(np.clip(relative[..., 1] / length, -1.0, 1.0)))
            wanted = np.degrees(np.arcsin(np.clip((shoulder_height - 0.01) / length, -1.0, 1.0)))
            pitch = pitch - (wanted - current)
        angles["body_pitch"] = pitch
        root = root - toes[..., :] + np.array([0.0, 0.01, 0.0])
        add_sway()
        trunk = pose_body(shape, angles, root)
        # Hands stay where the top position's shoulders project onto the floor.
        top_index = int(np.argmin(depth))
        for side in ("left", "right"):
            upper = side.upper()
            shoulder = _landmark(trunk, f"{upper}_SHOULDER")
            top_shoulder = shoulder[top_index]
            sign = _side_sign(side)
            outward = trunk.pelvis_frame[..., :, 0] * sign
            target = np.array([top_shoulder[0], wrist_height, top_shoulder[2] + p["hand_forward"]])
            target = target + p["hand_width"] * np.array([sign, 0.0, 0.0])
            target = np.broadcast_to(target, shoulder.shape)
            pole = p["elbow_flare"] * outward + np.array([0.0, 0.3, -1.0])
            _ik_arm(angles, trunk, side, target, pole, shape)
            fingers = mirror_for_side(to_frame(trunk.chest_frame, np.broadcast_to(
                np.array([0.0, 0.0, 1.0]), shoulder.shape)), side)
            local = to_frame(forearm_frame({k: angles[f"{side}_{k}"] for k in (
                "shoulder_elevation", "shoulder_plane", "shoulder_twist", "elbow_flex")}), fingers)
            _set_limb(angles, side, hand_angles_from_finger_direction(local))
            angles[f"{side}_hand_closure"] = zeros + 0.05
    elif exercise == "situp":
        lift = p["trunk_range"] * depth
        angles["body_pitch"] = -88.0 + 0.6 * lift
        angles["spine_flex"] = 0.4 * lift
        angles["neck_flex"] = 15.0 + 20.0 * depth
        root[..., 1] = 0.075
        add_sway()
        trunk = pose_body(shape, angles, root)
        for side in ("left", "right"):
            ankle = np.stack(np.broadcast_arrays(
                _side_sign(side) * (shape.hip_half_width + 0.02), 0.85 * shape.ankle_height,
                p["feet_distance"] + zeros), axis=-1)
            pole = np.broadcast_to(np.array([0.0, 1.0, 0.2]), ankle.shape)
            foot = np.broadcast_to(np.array([0.0, 0.0, 1.0]), ankle.shape)
            _ik_leg(angles, trunk, side, ankle, pole, foot, shape)
            _set_limb(angles, side, _arm_style_angles(style.arms, depth))
    elif exercise == "jumping_jack":
        legs = 4.0 + p["jack_legs"] * depth
        for side in ("left", "right"):
            _set_limb(angles, side, {
                "shoulder_elevation": 12.0 + (p["jack_arms"] - 12.0) * depth,
                "shoulder_plane": 5.0 + zeros,
                "elbow_flex": 8.0 + 18.0 * depth,
                "forearm_pronation": 80.0 - 60.0 * depth,
                "hip_abduct": legs,
                "knee_flex": 4.0 + 8.0 * depth,
                "ankle_flex": 2.0 + zeros,
                "hip_twist": -6.0 + zeros,
            })
        add_sway()
        body = pose_body(shape, angles, root)
        lowest = np.min(body.landmarks[..., [LANDMARK_INDEX["LEFT_HEEL"],
                                             LANDMARK_INDEX["RIGHT_HEEL"],
                                             LANDMARK_INDEX["LEFT_FOOT_INDEX"],
                                             LANDMARK_INDEX["RIGHT_FOOT_INDEX"]], 1], axis=-1)
        root[..., 1] = 0.012 - lowest + p["hop"] * hop
    else:
        raise ValueError(f"unknown exercise {exercise!r}")
    angles["neck_twist"] = angles["neck_twist"] + p["head_turn"]
    return angles, root


def pose_exercise(style: ExerciseStyle, shape: BodyShape, depth: np.ndarray,
                  hop: np.ndarray | None = None, sway: dict[str, np.ndarray] | None = None
                  ) -> PosedBody:
    """The posed body (landmarks and solids, batch ``[T]``) of an exercise at given depths."""
    angles, root = exercise_angles(style, shape, depth, hop, sway)
    return pose_body(shape, angles, root)


@dataclass(frozen=True)
class RepTimeline:
    """A sampled repetition schedule.

    Attributes:
      times: float64 ``[T]`` frame times in seconds (``k / fps``).
      depth: float64 ``[T]`` exercise depth at each frame.
      hop: float64 ``[T]`` feet above the floor (jumping jacks; zero otherwise).
      rep_intervals: float64 ``[R, 2]`` start and end time (s) of each repetition.
      rep_index: int32 ``[T]`` the repetition a frame belongs to, -1 outside repetitions.
      rep_phase: float32 ``[T]`` progress in [0, 1) through the frame's repetition, -1 outside.
    """

    times: np.ndarray
    depth: np.ndarray
    hop: np.ndarray
    rep_intervals: np.ndarray
    rep_index: np.ndarray
    rep_phase: np.ndarray


def _ease(u: np.ndarray) -> np.ndarray:
    return 0.5 - 0.5 * np.cos(np.pi * np.clip(u, 0.0, 1.0))


def sample_rep_timeline(rng: np.random.Generator, exercise: str, num_reps: int, fps: float
                        ) -> RepTimeline:
    """Repetitions with varying speed, amplitude, holds and pauses, sampled at ``fps``.

    Each repetition goes 0 -> amplitude -> 0 in depth (amplitude 0.8 to 1.0), down and up with
    eased (cosine) profiles of different durations, sometimes holding at the turning point;
    between repetitions the person may pause at rest, and the sequence starts and ends at rest.
    A repetition's interval runs from leaving rest to being back at rest.
    """
    base_duration = rng.uniform(1.2, 3.0) if exercise != "jumping_jack" else rng.uniform(0.8, 1.5)
    drift = rng.uniform(-0.15, 0.35)  # later repetitions slower (fatigue) or faster
    segments = []  # (start_time, end_time, kind, rep, amplitude)
    time = rng.uniform(0.4, 2.5)
    segments.append((0.0, time, "rest", -1, 0.0))
    intervals = []
    for rep in range(num_reps):
        progress = rep / max(num_reps - 1, 1)
        duration = base_duration * (1.0 + drift * progress) * rng.uniform(0.8, 1.25)
        down_share = rng.uniform(0.35, 0.6)
        amplitude = rng.uniform(0.8, 1.0)
        hold = rng.uniform(0.15, 1.0) if rng.random() < 0.25 and exercise != "jumping_jack" else 0.0
        start = time
        segments.append((time, time + duration * down_share, "down", rep, amplitude))
        time += duration * down_share
        if hold:
            segments.append((time, time + hold, "hold", rep, amplitude))
            time += hold
        segments.append((time, time + duration * (1.0 - down_share), "up", rep, amplitude))
        time += duration * (1.0 - down_share)
        intervals.append((start, time))
        if rep < num_reps - 1 and rng.random() < 0.35:
            pause = rng.uniform(0.3, 2.5)
            segments.append((time, time + pause, "rest", -1, 0.0))
            time += pause
    end_rest = rng.uniform(0.4, 2.5)
    segments.append((time, time + end_rest, "rest", -1, 0.0))
    total = time + end_rest

    times = np.arange(int(np.floor(total * fps))) / fps
    depth = np.zeros_like(times)
    hop = np.zeros_like(times)
    rep_index = np.full(times.shape, -1, np.int32)
    rep_phase = np.full(times.shape, -1.0, np.float32)
    for start, end, kind, rep, amplitude in segments:
        inside = (times >= start) & (times < end)
        u = (times[inside] - start) / max(end - start, 1e-9)
        if kind == "down":
            depth[inside] = amplitude * _ease(u)
        elif kind == "hold":
            depth[inside] = amplitude
        elif kind == "up":
            depth[inside] = amplitude * _ease(1.0 - u)
        if kind in ("down", "up") and exercise == "jumping_jack":
            hop[inside] = np.sin(np.pi * u)
        if rep >= 0:
            rep_start, rep_end = intervals[rep]
            rep_index[inside] = rep
            rep_phase[inside] = ((times[inside] - rep_start) / (rep_end - rep_start)).astype(
                np.float32)
    return RepTimeline(times=times, depth=depth, hop=hop,
                       rep_intervals=np.asarray(intervals, np.float64).reshape(-1, 2),
                       rep_index=rep_index, rep_phase=rep_phase)
