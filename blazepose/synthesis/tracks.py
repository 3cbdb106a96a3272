"""Generated exercise recordings as pose tracks, degraded like real ones, to measure counters.

Each recording is one exercise sequence of the synthetic data set's motion model
(``blazepose.synthesis.sequences.generate_sequence``: known repetition count, varying
speed and amplitude, holds and pauses, camera from either side, tracker jitter, outliers, missed
points, dropped frames, 15% partial views), turned into run_video's track
(:class:`blazepose.track_file.PoseTrack`: visibility and presence as scores, world
landmarks in metres, dropped frames as NaN / ``null``) and degraded further
(:class:`Degradations`): extra pixel noise, extra dropped frames, low visibility on random
points, legs out of the frame, a time warp (the set played faster, slower, and at a drifting
speed), and a mirror image.
Recording ``i`` of exercise ``e`` is a pure function of ``(seed, e, i)``
(:func:`recording_rng`).

:func:`evaluate` counts such recordings with the rule and k-NN counters and returns the
exact-count rate, the mean absolute count error and the mean IoU of the repetition intervals;
``python -m launch.evaluate_counting`` prints them. The k-NN counter's samples
(:func:`knn_samples`) are frames of other recordings: ``down`` frames are those at 75% or more
of the way to the turning point and ``up`` frames those within 10% of rest, measured on the
noise-free 3-D landmarks.

The motion model is :mod:`blazepose.synthesis.sequences`.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from blazepose.analysis.counting import (
    EXERCISE_RULES,
    EXERCISES,
    KnnRepCounter,
    LabelledSamples,
    RuleCounter,
    angle_signal,
)
from blazepose.keypoints import flip_keypoints
from blazepose.synthesis.sequences import generate_sequence
from blazepose.topology import BLAZEPOSE_33, PoseLandmark
from blazepose.track_file import PoseTrack

__all__ = [
    "Degradations",
    "NO_DEGRADATIONS",
    "SyntheticRecording",
    "evaluate",
    "format_table",
    "interval_iou",
    "knn_samples",
    "recording_rng",
    "synthetic_recording",
]

KNOWN_COUNTERS = ("rule", "knn")

_HIPS = [PoseLandmark.LEFT_HIP, PoseLandmark.RIGHT_HIP]


@dataclasses.dataclass(frozen=True)
class Degradations:
    """Probabilities and sizes of the degradations added on top of the motion model's faults.

    Attributes:
      extra_noise: fraction of body height (standard deviation upper bound) of white pixel noise.
      drop_probability: chance that a recording loses extra frames; ``drop_rate`` is the chance
        per frame that a lost run (up to ``drop_max_s`` seconds) starts.
      low_visibility_fraction: fraction of (frame, landmark) scores replaced by low values.
      legs_out_probability: chance that the frame's lower border cuts the legs (points below get
        visibility < 0.2 and coordinates off by up to 4% of body height, as a tracker guesses).
      warp_probability, speed_range: chance and range of the playback speed change (a constant
        factor times a slow drift of +-25%).
      mirror_probability: chance that the video is mirrored.
    """

    extra_noise: float = 0.01
    drop_probability: float = 0.5
    drop_rate: float = 0.03
    drop_max_s: float = 0.2
    low_visibility_fraction: float = 0.05
    legs_out_probability: float = 0.15
    warp_probability: float = 0.4
    speed_range: tuple[float, float] = (0.6, 1.6)
    mirror_probability: float = 0.5


NO_DEGRADATIONS = Degradations(extra_noise=0.0, drop_probability=0.0, low_visibility_fraction=0.0,
                               legs_out_probability=0.0, warp_probability=0.0,
                               mirror_probability=0.0)


@dataclasses.dataclass(frozen=True)
class SyntheticRecording:
    """A generated track with its truth.

    Attributes:
      track: the degraded :class:`blazepose.track_file.PoseTrack`.
      num_reps: the true count.
      intervals: float64 ``[R, 2]`` true repetition intervals (seconds of the track's clock).
      clean_depth: float64 ``[T]`` progress to the turning point in [0, 1] per frame of the
        track, from the noise-free landmarks (for labelling k-NN samples).
      clean_landmarks: float64 ``[T, 33, 3]`` noise-free image landmarks of the track's frames.
      facts: what was applied, for messages.
    """

    track: object
    num_reps: int
    intervals: np.ndarray
    clean_depth: np.ndarray
    clean_landmarks: np.ndarray
    facts: dict


def _resample(values: np.ndarray, source_times: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Linear interpolation of ``[T, ...]`` frames at ``source_times`` onto ``times``; a result
    frame is NaN when either neighbour is."""
    position = np.interp(times, source_times, np.arange(len(source_times)))
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, len(source_times) - 1)
    weight = (position - low).reshape((-1,) + (1,) * (values.ndim - 1))
    return values[low] * (1.0 - weight) + values[high] * weight


def _clean_depth(exercise: str, clean: np.ndarray) -> np.ndarray:
    """Progress to the turning point, [0, 1], from the rule's angle on noise-free landmarks."""
    rule = EXERCISE_RULES[exercise]
    landmarks = np.concatenate([clean, np.ones(clean.shape[:-1] + (2,))], axis=-1)
    track = PoseTrack(fps=1.0, times=np.arange(len(clean), dtype=np.float64),
                      landmarks=landmarks)
    angle = angle_signal(track, rule.angle)
    oriented = angle if rule.rest_is_high else -angle
    rest, turn = np.percentile(oriented, 99.5), np.percentile(oriented, 0.5)
    return np.clip((rest - oriented) / max(rest - turn, 1e-6), 0.0, 1.0)


def synthetic_recording(rng: np.random.Generator, exercise: str, num_reps: int | None = None,
                        degradations: Degradations = Degradations(), depth: str = "world",
                        clean: bool = False) -> SyntheticRecording:
    """One generated recording of ``exercise`` as run_video would report it (see module doc).

    Args:
      rng: the only source of randomness.
      exercise: one of the synthetic motion model's exercises.
      num_reps: force the count (default: drawn, 1 to 12).
      degradations: the extra faults (``NO_DEGRADATIONS`` for none).
      depth: ``world`` (world landmarks and image z), ``image`` (image z only) or ``2d``.
      clean: no tracker faults in the motion model either (jitter, outliers, misses, drops).
    """
    sequence = generate_sequence(rng, exercise=exercise, num_reps=num_reps, clean=clean)
    fps = float(sequence["fps"])
    width, height = (int(v) for v in sequence["frame_size"])
    scale = float(sequence["person_height"])
    count = int(sequence["num_frames"])
    tracked = sequence["labelled"].all(axis=-1)
    visible = sequence["visibility"] > 0
    points = np.concatenate([sequence["keypoints"], sequence["depth"][..., None]], -1).astype(
        np.float64)
    clean_points = sequence["clean_keypoints"].astype(np.float64)
    clean_points[..., 2] -= clean_points[:, _HIPS, 2].mean(axis=1, keepdims=True)
    facts = {"exercise": exercise, "fps": fps, "facing": sequence["facing"],
             "azimuth": round(float(sequence["azimuth"]), 1), "arms": sequence["arm_style"],
             "frames": count}

    # Scores as a tracker gives them: high for visible points, low for hidden ones.
    visibility = np.where(visible, rng.uniform(0.65, 1.0, visible.shape),
                          rng.uniform(0.0, 0.35, visible.shape))
    presence = np.where(visible, rng.uniform(0.8, 1.0, visible.shape),
                        rng.uniform(0.3, 0.9, visible.shape))
    d = degradations
    if d.extra_noise:
        points[..., :2] += rng.normal(0.0, rng.uniform(0.0, d.extra_noise) * scale,
                                      points[..., :2].shape)
    if d.low_visibility_fraction:
        low = rng.random(visibility.shape) < d.low_visibility_fraction
        visibility = np.where(low, rng.uniform(0.0, 0.3, visibility.shape), visibility)
    if rng.random() < d.legs_out_probability:
        hips_y = points[:, _HIPS, 1].mean()
        ankles_y = points[:, [27, 28], 1].mean()
        cut = hips_y + rng.uniform(0.3, 0.8) * (ankles_y - hips_y)
        below = points[..., 1] > cut
        visibility = np.where(below, rng.uniform(0.0, 0.2, visibility.shape), visibility)
        guess = rng.normal(0.0, rng.uniform(0.0, 0.04) * scale, points.shape)
        points = np.where(below[..., None], points + guess, points)
        facts["legs_out"] = True
    if rng.random() < d.drop_probability:
        longest = max(1, int(round(d.drop_max_s * fps)))
        for start in np.nonzero(rng.random(count) < d.drop_rate)[0]:
            tracked[start:start + min(int(rng.geometric(0.4)), longest)] = False
        facts["extra_drops"] = True

    world = (points - points[:, _HIPS].mean(axis=1, keepdims=True)) / scale * rng.uniform(
        1.55, 1.9)
    world[..., 2] += rng.normal(0.0, 0.02, world[..., 2].shape)
    landmarks = np.concatenate([points, visibility[..., None], presence[..., None]], axis=-1)
    landmarks[~tracked] = np.nan
    world[~tracked] = np.nan
    times = np.arange(count) / fps
    intervals = sequence["rep_intervals"].astype(np.float64)
    clean_depth = _clean_depth(exercise, clean_points)

    if rng.random() < d.warp_probability:
        speed = rng.uniform(*d.speed_range)
        drift = rng.uniform(-0.25, 0.25)
        duration = times[-1]
        # New clock u, source clock s(u) with ds/du = speed * (1 + drift * sin(...)) > 0.
        fine = np.linspace(0.0, duration / speed * 1.5 + 1.0, 20000)
        rate = speed * (1.0 + drift * np.sin(2 * np.pi * fine / max(duration / speed, 1.0)))
        source = np.concatenate([[0.0], np.cumsum(0.5 * (rate[1:] + rate[:-1]) * np.diff(fine))])
        end = np.interp(duration, source, fine)
        new_times = np.arange(int(np.floor(end * fps)) + 1) / fps
        source_times = np.interp(new_times, fine, source)
        landmarks = _resample(landmarks, times, source_times)
        world = _resample(world, times, source_times)
        clean_points = _resample(clean_points, times, source_times)
        clean_depth = _resample(clean_depth, times, source_times)
        intervals = np.interp(intervals, source, fine)
        times = new_times
        facts["speed"] = round(float(speed), 2)
    if rng.random() < d.mirror_probability:
        landmarks = flip_keypoints(landmarks, width, BLAZEPOSE_33)
        world = flip_keypoints(world, 0.0, BLAZEPOSE_33)  # metres about the hips: x -> -x
        clean_points = flip_keypoints(clean_points, width, BLAZEPOSE_33)
        facts["mirrored"] = True

    if depth != "world":
        world = None
    if depth == "2d":
        landmarks[..., 2] = np.where(np.isfinite(landmarks[..., 2]), 0.0, np.nan)
    track = PoseTrack(fps=fps, times=times, landmarks=landmarks, world_landmarks=world,
                      width=width, height=height, source=f"synthetic {exercise}")
    return SyntheticRecording(track, int(sequence["num_reps"]), intervals, clean_depth,
                              clean_points, facts)


def recording_rng(seed: int, exercise: str, index: int) -> np.random.Generator:
    """The generator of recording ``index`` of ``exercise``."""
    return np.random.default_rng([seed, EXERCISES.index(exercise), index])


def knn_samples(exercise: str, sequences: int, seed: int, depth: str = "world",
                per_sequence: int = 12):
    """Labelled ``up``/``down`` frames of generated recordings (see the module docstring)."""
    by_class = {"down": [], "up": []}
    for index in range(sequences):
        recording = synthetic_recording(recording_rng(seed, exercise, index), exercise,
                                        depth=depth)
        track = recording.track
        has_pose = track.has_pose
        rng = np.random.default_rng([seed, 99, index])
        for name, chosen in (("down", recording.clean_depth >= 0.75),
                             ("up", recording.clean_depth <= 0.1)):
            frames = np.nonzero(chosen & has_pose)[0]
            if len(frames) > per_sequence:
                frames = rng.choice(frames, per_sequence, replace=False)
            by_class[name].extend(track.landmarks[frames][..., :3])
    names = ("down", "up")
    landmarks = np.concatenate([np.stack(by_class[name]) for name in names])
    labels = np.concatenate([np.full(len(by_class[name]), i) for i, name in enumerate(names)])
    return LabelledSamples(landmarks, labels, names)


def interval_iou(truth: np.ndarray, found: tuple[tuple[float, float], ...]) -> float:
    """Mean IoU of paired intervals (same count assumed), NaN when there are none."""
    if not len(truth):
        return float("nan")
    scores = []
    for (a, b), (c, d) in zip(truth, found):
        overlap = max(0.0, min(b, d) - max(a, c))
        union = max(b, d) - min(a, c)
        scores.append(overlap / union if union > 0 else 0.0)
    return float(np.mean(scores))


def evaluate(exercises: tuple[str, ...], sequences: int, seed: int, counters: tuple[str, ...],
             depth: str = "world", degradations: Degradations = Degradations(),
             knn_train_sequences: int = 24, log=None) -> dict:
    """Counts every recording with every counter; returns the figures per counter and exercise.

    Returns:
      ``{counter: {exercise: {"sequences", "exact_rate", "mae", "interval_iou",
      "failures": [...first few...]}}}``.
    """
    results: dict = {}
    for counter_name in counters:
        results[counter_name] = {}
        for exercise in exercises:
            if counter_name == "rule":
                counter = RuleCounter(exercise)
            else:
                samples = knn_samples(exercise, knn_train_sequences, seed + 1000, depth)
                counter = KnnRepCounter(samples, "down")
            errors, ious, failures = [], [], []
            for index in range(sequences):
                recording = synthetic_recording(recording_rng(seed, exercise, index), exercise,
                                                degradations=degradations, depth=depth)
                if counter_name == "rule":
                    result = counter.count(recording.track)
                else:
                    result = counter.count(recording.track, exercise)
                error = result.count - recording.num_reps
                errors.append(error)
                if error == 0:
                    iou = interval_iou(recording.intervals, result.intervals)
                    if np.isfinite(iou):
                        ious.append(iou)
                elif len(failures) < 5:
                    failures.append({"index": index, "truth": recording.num_reps,
                                     "counted": result.count, **recording.facts})
            errors = np.asarray(errors)
            results[counter_name][exercise] = {
                "sequences": sequences,
                "exact_rate": float(np.mean(errors == 0)),
                "mae": float(np.mean(np.abs(errors))),
                "interval_iou": float(np.mean(ious)) if ious else float("nan"),
                "failures": failures,
            }
            if log:
                figures = results[counter_name][exercise]
                log(f"{counter_name} {exercise}: exact {figures['exact_rate']:.3f}, "
                    f"MAE {figures['mae']:.3f}")
    return results


def format_table(results: dict) -> str:
    """The readable table of :func:`evaluate`'s figures."""
    lines = [f"{'counter':<8} {'exercise':<13} {'sequences':>9} {'exact':>7} {'MAE':>6} "
             f"{'interval IoU':>12}"]
    for counter_name, per_exercise in results.items():
        for exercise, figures in per_exercise.items():
            lines.append(f"{counter_name:<8} {exercise:<13} {figures['sequences']:>9d} "
                         f"{100 * figures['exact_rate']:>6.1f}% {figures['mae']:>6.3f} "
                         f"{figures['interval_iou']:>12.3f}")
    return "\n".join(lines)


