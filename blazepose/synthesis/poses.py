"""Random plausible body poses for single images: everyday archetypes plus joint noise.

A pose is drawn from one of several archetypes (standing, walking, running, sitting, lying,
exercising, ...), each a distribution over joint angles; independent noise is added and every
angle is clipped to :data:`.body_model.JOINT_LIMITS`. Archetypes are written for a "lead" side
that is chosen at random, so left and right are equally likely.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from blazepose.synthesis import exercise
from blazepose.synthesis.body_model import (
    JOINT_LIMITS,
    BodyShape,
    PosedBody,
    clip_to_limits,
    neutral_angles,
    pose_body,
)

__all__ = ["ARCHETYPES", "sample_posed_body"]

Angles = dict[str, float]


def _sides(rng: np.random.Generator) -> tuple[str, str]:
    return ("left", "right") if rng.random() < 0.5 else ("right", "left")


def _set(angles: Angles, side: str, **values: float) -> None:
    for name, value in values.items():
        angles[f"{side}_{name}"] = float(value)


def _relaxed_arm(rng: np.random.Generator, angles: Angles, side: str) -> None:
    _set(angles, side, shoulder_elevation=rng.uniform(0, 30), shoulder_plane=rng.uniform(-20, 100),
         shoulder_twist=rng.uniform(-20, 40), elbow_flex=rng.uniform(0, 50),
         forearm_pronation=rng.uniform(30, 130))


def _free_arm(rng: np.random.Generator, angles: Angles, side: str) -> None:
    _set(angles, side, shoulder_elevation=rng.uniform(0, 175), shoulder_plane=rng.uniform(-40, 130),
         shoulder_twist=rng.uniform(-60, 80), elbow_flex=rng.uniform(0, 145),
         forearm_pronation=rng.uniform(-20, 180), wrist_flex=rng.uniform(-60, 60))


def _standing(rng: np.random.Generator) -> Angles:
    angles = neutral_angles()
    for side in ("left", "right"):
        _relaxed_arm(rng, angles, side)
        _set(angles, side, hip_flex=rng.uniform(-5, 12), hip_abduct=rng.uniform(0, 12),
             hip_twist=rng.uniform(-15, 10), knee_flex=rng.uniform(0, 15))
    angles["spine_side_bend"] = rng.normal(0, 5)
    return angles


def _walking(rng: np.random.Generator, running: bool = False) -> Angles:
    angles = neutral_angles()
    lead, other = _sides(rng)
    swing = rng.uniform(0.3, 1.0) * (45 if running else 25)
    _set(angles, lead, hip_flex=swing, knee_flex=rng.uniform(5, 30) + (50 if running else 0),
         ankle_flex=rng.uniform(-5, 15))
    _set(angles, other, hip_flex=-0.8 * swing,
         knee_flex=rng.uniform(5, 40) + (60 if running else 0),
         ankle_flex=rng.uniform(-30, 0))
    elbow = rng.uniform(70, 100) if running else rng.uniform(5, 30)
    _set(angles, other, shoulder_elevation=0.9 * swing, shoulder_plane=85, elbow_flex=elbow)
    _set(angles, lead, shoulder_elevation=0.6 * swing, shoulder_plane=-50, elbow_flex=elbow)
    angles["body_pitch"] = rng.uniform(5, 15) if running else rng.uniform(-3, 5)
    angles["spine_twist"] = rng.normal(0, 8)
    return angles


def _arms_up(rng: np.random.Generator) -> Angles:
    angles = _standing(rng)
    for side in ("left", "right"):
        if rng.random() < 0.8:
            _free_arm(rng, angles, side)
            angles[f"{side}_shoulder_elevation"] = rng.uniform(50, 178)
    return angles


def _sitting(rng: np.random.Generator) -> Angles:
    angles = neutral_angles()
    for side in ("left", "right"):
        _set(angles, side, hip_flex=rng.uniform(65, 105), knee_flex=rng.uniform(60, 120),
             hip_abduct=rng.uniform(0, 25), hip_twist=rng.uniform(-20, 20),
             ankle_flex=rng.uniform(-15, 20), shoulder_elevation=rng.uniform(10, 50),
             shoulder_plane=rng.uniform(40, 100), elbow_flex=rng.uniform(30, 110))
    angles["spine_flex"] = rng.uniform(-10, 25)
    if rng.random() < 0.3:  # legs crossed
        lead, _ = _sides(rng)
        _set(angles, lead, hip_flex=rng.uniform(80, 110), hip_abduct=-15,
             knee_flex=rng.uniform(60, 100))
    return angles


def _squatting(rng: np.random.Generator) -> Angles:
    angles = neutral_angles()
    for side in ("left", "right"):
        _set(angles, side, hip_flex=rng.uniform(95, 130), knee_flex=rng.uniform(110, 155),
             hip_abduct=rng.uniform(5, 35), ankle_flex=rng.uniform(10, 32),
             shoulder_elevation=rng.uniform(20, 90), shoulder_plane=rng.uniform(50, 110),
             elbow_flex=rng.uniform(10, 120))
    angles["body_pitch"] = rng.uniform(15, 45)
    angles["spine_flex"] = rng.uniform(5, 35)
    angles["neck_flex"] = rng.uniform(-35, 0)
    return angles


def _kneeling(rng: np.random.Generator) -> Angles:
    angles = _standing(rng)
    lead, other = _sides(rng)
    _set(angles, other, hip_flex=rng.uniform(-10, 20), knee_flex=rng.uniform(80, 110),
         ankle_flex=rng.uniform(-50, -20))
    if rng.random() < 0.5:  # on one knee
        _set(angles, lead, hip_flex=rng.uniform(70, 100), knee_flex=rng.uniform(70, 100))
    else:
        _set(angles, lead, hip_flex=rng.uniform(-10, 20), knee_flex=rng.uniform(80, 110),
             ankle_flex=rng.uniform(-50, -20))
    return angles


def _lunging(rng: np.random.Generator) -> Angles:
    angles = _standing(rng)
    lead, other = _sides(rng)
    _set(angles, lead, hip_flex=rng.uniform(50, 95), knee_flex=rng.uniform(50, 100))
    _set(angles, other, hip_flex=rng.uniform(-30, -10), knee_flex=rng.uniform(10, 100),
         ankle_flex=rng.uniform(-40, 0))
    if rng.random() < 0.5:
        for side in ("left", "right"):
            _free_arm(rng, angles, side)
    return angles


def _bending(rng: np.random.Generator) -> Angles:
    angles = neutral_angles()
    pitch, flex = rng.uniform(15, 60), rng.uniform(15, 60)
    angles["body_pitch"], angles["spine_flex"] = pitch, flex
    angles["neck_flex"] = rng.uniform(-40, 20)
    for side in ("left", "right"):
        # Arms hang towards the floor, or reach.
        _set(angles, side, shoulder_elevation=min(pitch + flex + rng.normal(0, 15), 170),
             shoulder_plane=rng.uniform(60, 110), elbow_flex=rng.uniform(0, 60),
             hip_flex=-rng.uniform(0, 10), knee_flex=rng.uniform(0, 35))
    return angles


def _lying(rng: np.random.Generator) -> Angles:
    angles = neutral_angles()
    choice = rng.integers(3)
    if choice == 0:
        angles["body_pitch"] = rng.normal(90, 5)  # face down
    elif choice == 1:
        angles["body_pitch"] = rng.normal(-90, 5)  # on the back
    else:
        angles["body_roll"] = rng.choice([-1, 1]) * rng.normal(90, 5)  # on a side
    for side in ("left", "right"):
        _free_arm(rng, angles, side)
        _set(angles, side, hip_flex=rng.uniform(-10, 90), knee_flex=rng.uniform(0, 110),
             hip_abduct=rng.uniform(-10, 30))
    angles["neck_twist"] = rng.uniform(-70, 70)
    return angles


def _jumping(rng: np.random.Generator) -> Angles:
    angles = neutral_angles()
    for side in ("left", "right"):
        _set(angles, side, shoulder_elevation=rng.uniform(100, 175),
             shoulder_plane=rng.uniform(-10, 60),
             elbow_flex=rng.uniform(0, 40), hip_abduct=rng.uniform(10, 40),
             knee_flex=rng.uniform(0, 50), hip_flex=rng.uniform(-5, 40),
             ankle_flex=rng.uniform(-45, 0))
    return angles


def _kicking(rng: np.random.Generator) -> Angles:
    angles = _standing(rng)
    lead, _ = _sides(rng)
    if rng.random() < 0.6:
        _set(angles, lead, hip_flex=rng.uniform(50, 125), knee_flex=rng.uniform(0, 100))
    else:
        _set(angles, lead, hip_abduct=rng.uniform(30, 62), knee_flex=rng.uniform(0, 60))
    for side in ("left", "right"):
        _set(angles, side, shoulder_elevation=rng.uniform(40, 110),
             shoulder_plane=rng.uniform(-10, 60),
             elbow_flex=rng.uniform(0, 60))
    angles["spine_side_bend"] = rng.normal(0, 10)
    return angles


def _cross_legged(rng: np.random.Generator) -> Angles:
    angles = neutral_angles()
    for side in ("left", "right"):
        _set(angles, side, hip_flex=rng.uniform(65, 95), hip_abduct=rng.uniform(35, 55),
             hip_twist=rng.uniform(-45, -25), knee_flex=rng.uniform(120, 150),
             shoulder_elevation=rng.uniform(15, 45), shoulder_plane=rng.uniform(50, 90),
             elbow_flex=rng.uniform(20, 90))
    angles["spine_flex"] = rng.uniform(0, 25)
    return angles


def _anything(rng: np.random.Generator) -> Angles:
    """Every joint uniform in the middle 80% of its range (dance, sport, odd poses)."""
    angles = {}
    for name, (low, high) in JOINT_LIMITS.items():
        margin = 0.1 * (high - low)
        angles[name] = rng.uniform(low + margin, high - margin)
    for name in ("body_pitch", "body_roll"):
        angles[name] = rng.normal(0, 15)
    for side in ("left", "right"):
        angles[f"{side}_hip_flex"] = rng.uniform(-20, 100)
        angles[f"{side}_knee_flex"] = rng.uniform(0, 120)
    return angles


ARCHETYPES: dict[str, tuple[float, Callable[[np.random.Generator], Angles] | None]] = {
    "standing": (0.13, _standing),
    "walking": (0.10, _walking),
    "running": (0.06, lambda rng: _walking(rng, running=True)),
    "arms_up": (0.10, _arms_up),
    "sitting": (0.08, _sitting),
    "squatting": (0.06, _squatting),
    "kneeling": (0.05, _kneeling),
    "lunging": (0.03, _lunging),
    "bending": (0.05, _bending),
    "lying": (0.06, _lying),
    "jumping": (0.04, _jumping),
    "kicking": (0.04, _kicking),
    "cross_legged": (0.03, _cross_legged),
    "anything": (0.07, _anything),
    "exercise": (0.10, None),  # a frame of one of the exercise motions
}
"""Pose archetypes: (probability, angle sampler); "exercise" uses :mod:`.exercise`."""

# Standard deviation (degrees) of the noise added to every joint of an archetype's pose.
_JOINT_NOISE = {"body": 3.0, "spine": 5.0, "neck": 10.0, "limb": 7.0}


def _add_noise(rng: np.random.Generator, angles: Angles) -> Angles:
    noisy = dict(angles)
    for name in JOINT_LIMITS:
        if name.endswith("hand_closure"):
            noisy[name] = rng.uniform(0.0, 1.0)
            continue
        group = ("body" if name.startswith("body") else "spine" if name.startswith("spine")
                 else "neck" if name.startswith("neck") else "limb")
        noisy[name] = noisy.get(name, 0.0) + rng.normal(0.0, _JOINT_NOISE[group])
    noisy["neck_twist"] += rng.normal(0.0, 20.0)
    noisy["neck_flex"] += rng.normal(0.0, 10.0)
    for side in ("left", "right"):
        noisy[f"{side}_wrist_flex"] += rng.normal(0.0, 15.0)
        noisy[f"{side}_forearm_pronation"] += rng.normal(0.0, 20.0)
    return noisy


def sample_posed_body(rng: np.random.Generator, shape: BodyShape,
                      archetype: str | None = None) -> tuple[PosedBody, str]:
    """A random pose of ``shape`` (body frame, batch shape ``()``) and its archetype's name.

    Args:
      rng: the random source.
      shape: the person's proportions.
      archetype: force one of :data:`ARCHETYPES` (default: drawn by probability).
    """
    names = list(ARCHETYPES)
    if archetype is None:
        weights = np.array([ARCHETYPES[name][0] for name in names])
        archetype = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    if archetype == "exercise":
        name = str(rng.choice(exercise.EXERCISES))
        style = exercise.sample_exercise_style(rng, name)
        # Frame 0 is the rest position that places a push-up's hands.
        depth = np.array([0.0, rng.uniform(0.0, 1.0)])
        angles, root = exercise.exercise_angles(style, shape, depth,
                                                hop=np.array([0.0, rng.random()]))
        single = {key: value[1] + rng.normal(0.0, 2.0) for key, value in angles.items()}
        return pose_body(shape, clip_to_limits(single), root[1]), f"exercise_{name}"
    angles = _add_noise(rng, ARCHETYPES[archetype][1](rng))
    return pose_body(shape, clip_to_limits(angles)), archetype
