"""Whole exercise sequences as a pose tracker would report them: per-frame landmarks, no pixels.

:func:`generate_sequence` samples a person, an exercise with a known number of repetitions
(:mod:`.exercise`), a camera, and then degrades the clean landmarks the way a tracker does:
white and slowly drifting jitter, rare outliers, hidden points, missed points and dropped frames.
The features it returns are documented in ``README.md`` ("Sequence features").
"""

from __future__ import annotations

import numpy as np

from blazepose.synthesis import exercise as exercise_model
from blazepose.synthesis import render
from blazepose.synthesis.body_model import LANDMARK_INDEX, pose_body, sample_body_shape
from blazepose.synthesis.camera import View, solids_to_camera, view_rotation
from blazepose.synthesis.scene import DEPTH_TOLERANCE
from blazepose.topology import BLAZEPOSE_33

__all__ = ["FACINGS", "FRAME_SIZES", "facing_of", "generate_sequence"]

FACINGS: tuple[str, ...] = ("camera", "image_left", "image_right", "away")
"""Which way the person faces in the picture, in the order of the ``facing`` ClassLabel."""

FRAME_SIZES: tuple[tuple[int, int], ...] = ((640, 480), (480, 640), (1280, 720), (720, 1280),
                                            (960, 540))
"""(width, height) of the virtual camera's frames."""

_FPS_CHOICES = (15.0, 24.0, 25.0, 30.0)


def facing_of(azimuth: float) -> str:
    """The :data:`FACINGS` name of a view azimuth (degrees; see :mod:`.camera`)."""
    azimuth = (azimuth + 180.0) % 360.0 - 180.0
    if abs(azimuth) <= 45.0:
        return "camera"
    if abs(azimuth) >= 135.0:
        return "away"
    return "image_right" if azimuth > 0 else "image_left"


def _sample_azimuth(rng: np.random.Generator, exercise: str) -> float:
    """Side views for floor exercises; mostly frontal or side views for standing ones."""
    choice = rng.random()
    side = rng.choice([-1.0, 1.0])
    if exercise in ("pushup", "situp"):
        if choice < 0.6:
            return float(side * rng.normal(90.0, 12.0))
        if choice < 0.85:
            return float(side * rng.normal(45.0, 10.0))
        if choice < 0.95:
            return float(rng.choice([0.0, 180.0]) + rng.normal(0.0, 12.0))
        return float(rng.uniform(-180.0, 180.0))
    if choice < 0.4:
        return float(rng.normal(0.0, 15.0))
    if choice < 0.7:
        return float(side * rng.normal(90.0, 12.0))
    if choice < 0.9:
        return float(side * rng.normal(45.0, 10.0))
    return float(180.0 + rng.normal(0.0, 15.0))


def _smooth_noise(rng: np.random.Generator, times: np.ndarray, amplitude: float,
                  shape: tuple[int, ...] = ()) -> np.ndarray:
    """Slow random wobble ``[T, *shape]``: a sum of three random sinusoids (0.1 to 0.8 Hz)."""
    total = np.zeros(times.shape + shape)
    for _ in range(3):
        frequency = rng.uniform(0.1, 0.8, shape)
        phase = rng.uniform(0.0, 2 * np.pi, shape)
        total += np.sin(2 * np.pi * frequency * times.reshape(times.shape + (1,) * len(shape))
                        + phase)
    return amplitude * total / np.sqrt(1.5)


def _dropped_frames(rng: np.random.Generator, num_frames: int, rate: float, longest: int
                    ) -> np.ndarray:
    """bool ``[T]``: runs of 1 to ``longest`` frames the tracker lost.

    Runs are kept short (the caller allows about 0.2 s) so that no repetition's turning point
    or return to rest is entirely unobserved, which would make the rep count ambiguous.
    """
    dropped = np.zeros(num_frames, bool)
    for start in np.nonzero(rng.random(num_frames) < rate)[0]:
        dropped[start:start + min(int(rng.geometric(0.4)), longest)] = True
    return dropped


def generate_sequence(rng: np.random.Generator, exercise: str | None = None,
                      num_reps: int | None = None, clean: bool = False) -> dict:
    """One exercise sequence (see the README's "Sequence features" for every field).

    Args:
      rng: the only source of randomness.
      exercise: force one of ``exercise.EXERCISES``.
      num_reps: force the number of repetitions.
      clean: skip all tracker degradations (no jitter, outliers, misses or dropped frames);
        visibility still marks hidden and out-of-frame points.

    Returns:
      A dict of numpy arrays and scalars, keyed as the ``exercise_sequences`` features, plus
      ``"clean_keypoints"`` (float32 ``[T, 33, 3]`` noise-free camera-space landmarks), which
      the builder drops.
    """
    exercise = exercise or str(rng.choice(exercise_model.EXERCISES))
    if num_reps is None:
        num_reps = int(rng.choice(np.arange(1, 13), p=np.r_[[0.04, 0.06], [0.09] * 10]))
    fps = float(rng.choice(_FPS_CHOICES))
    style = exercise_model.sample_exercise_style(rng, exercise)
    shape = sample_body_shape(rng)
    timeline = exercise_model.sample_rep_timeline(rng, exercise, num_reps, fps)
    times = timeline.times
    sway = {
        "spine_flex": _smooth_noise(rng, times, 1.5),
        "spine_side_bend": _smooth_noise(rng, times, 1.0),
        "spine_twist": _smooth_noise(rng, times, 1.5),
        "neck_twist": _smooth_noise(rng, times, 5.0),
        "neck_flex": _smooth_noise(rng, times, 3.0),
    }
    angles, root = exercise_model.exercise_angles(style, shape, timeline.depth, timeline.hop,
                                                  sway)
    body = pose_body(shape, angles, root)

    # Camera: fit the whole motion into the frame (or deliberately not, for partial views).
    width, height = FRAME_SIZES[int(rng.integers(len(FRAME_SIZES)))]
    azimuth = _sample_azimuth(rng, exercise)
    elevation = float(rng.uniform(-5.0, 30.0))
    roll = float(rng.normal(0.0, 3.0))
    rotation = view_rotation(azimuth, elevation, roll)
    unit = View(rotation=rotation, scale=np.ones(times.shape), offset=np.zeros(times.shape + (3,)))
    unit_solids = solids_to_camera(body.solids, unit)
    bounds = np.array([[np.min(b) if i < 2 else np.max(b) for i, b in
                        enumerate(solid.image_bounds())] for solid in unit_solids])
    x0, y0 = bounds[:, 0].min(), bounds[:, 1].min()
    x1, y1 = bounds[:, 2].max(), bounds[:, 3].max()
    partial = rng.random() < 0.15
    fill = rng.uniform(1.15, 1.7) if partial else rng.uniform(0.5, 0.9)
    scale = fill * min(width / (x1 - x0), height / (y1 - y0))
    slack_x, slack_y = width - scale * (x1 - x0), height - scale * (y1 - y0)
    left = rng.uniform(min(slack_x, 0.0), max(slack_x, 0.0))
    top = rng.uniform(min(slack_y, 0.0), max(slack_y, 0.0))
    shake = _smooth_noise(rng, times, rng.uniform(0.0, 0.006) * min(width, height), (2,))
    offset = np.zeros(times.shape + (3,))
    offset[:, 0] = left - scale * x0 + shake[:, 0]
    offset[:, 1] = top - scale * y0 + shake[:, 1]
    view = View(rotation=rotation, scale=np.full(times.shape, scale), offset=offset)
    landmarks = view.points(body.landmarks)  # [T, 33, 3]
    solids = tuple(solid.with_point_axis() for solid in solids_to_camera(body.solids, view))
    visibility = render.landmark_visibility(
        landmarks, body.landmark_radius * scale, solids, width, height, DEPTH_TOLERANCE * scale)

    hips = 0.5 * (landmarks[:, LANDMARK_INDEX["LEFT_HIP"], 2]
                  + landmarks[:, LANDMARK_INDEX["RIGHT_HIP"], 2])
    observed = landmarks.copy()
    observed[..., 2] -= hips[:, None]
    num_frames = len(times)
    labelled = np.ones((num_frames, 33), bool)
    white = 0.0
    if not clean:
        white = rng.uniform(0.002, 0.012) * scale
        drift = rng.uniform(0.0, 0.006) * scale
        hidden_boost = np.where(visibility > 0, 1.0, 2.5)[..., None]
        noise = rng.normal(0.0, white, observed.shape) + _smooth_noise(rng, times, drift, (33, 3))
        observed += noise * hidden_boost
        outliers = rng.random((num_frames, 33)) < rng.uniform(0.0, 0.003)
        observed[outliers] += rng.normal(0.0, 0.08 * scale, (int(outliers.sum()), 3))
        missed = rng.random((num_frames, 33)) < rng.uniform(0.0, 0.02)
        visibility = np.where(missed, 0.0, visibility).astype(np.float32)
        dropped = _dropped_frames(rng, num_frames, rng.uniform(0.0, 0.03),
                                  longest=max(1, int(round(0.2 * fps))))
        labelled[dropped] = False
    keypoints = np.where(labelled[..., None], observed[..., :2], 0.0)
    depth = np.where(labelled, observed[..., 2], 0.0)
    visibility = np.where(labelled, visibility, 0.0)

    return {
        "exercise": exercise,
        "fps": np.float32(fps),
        "num_frames": np.int32(num_frames),
        "num_reps": np.int32(num_reps),
        "rep_intervals": timeline.rep_intervals.astype(np.float32),
        "rep_index": timeline.rep_index.astype(np.int32),
        "rep_phase": timeline.rep_phase.astype(np.float32),
        "keypoints": keypoints.astype(np.float32),
        "depth": depth.astype(np.float32),
        "visibility": visibility.astype(np.float32),
        "labelled": labelled,
        "frame_size": np.array([width, height], np.int32),
        "facing": facing_of(azimuth),
        "azimuth": np.float32((azimuth + 180.0) % 360.0 - 180.0),
        "elevation": np.float32(elevation),
        "arm_style": style.arms,
        "lead_side": style.lead_side,
        "person_height": np.float32(scale),
        "noise_px": np.float32(white),
        "topology": BLAZEPOSE_33.name,
        "clean_keypoints": landmarks.astype(np.float32),
    }
