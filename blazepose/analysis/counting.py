"""Repetition counting on pose tracks: rule-based counters and MediaPipe's learned k-NN counter.

Input is a :class:`PoseTrack`, read from the JSON that ``run_video`` writes (schema, writer and
reader in :mod:`blazepose.track_file`): per frame, 33 landmarks x, y in pixels (y down), z in
the unit of x, visibility and presence in BlazePose's order (``blazepose.topology.BLAZEPOSE_33``),
and world landmarks in metres around the hips; NaN (``null`` in the file) marks a frame without
a detected person.

Rule-based counters (:class:`RuleCounter`, one :class:`ExerciseRule` per exercise in
:data:`EXERCISE_RULES`) follow one joint angle per exercise (elbow for push-ups, knee for squats
and lunges, hip for sit-ups, shoulder for jumping jacks):

1. 3-D points: world landmarks when the track has them, else the image landmarks with their z
   (plain 2-D when z is absent). Angles are measured on both sides and averaged with weights
   that follow each side's visibility, so a hidden far side counts little but still counts.
   Without any depth, a second measure of the same angle (from the end-to-end distance and
   the segments' lengths, :func:`_span_angle`) competes with the projected angle, and the one
   that stands out more from its jitter is used (a squat seen from the front hardly changes the
   projected knee angle).
2. Frames without a pose (``null``, or NaN in the file) are bridged by linear interpolation in
   time, but only across gaps up to :data:`MAX_BRIDGED_GAP_S`: a longer stretch without a pose
   splits the track, no repetition is counted across it, and it is reported in
   :attr:`RepCount.gaps`. A running median (about 0.15 s) removes outliers, a running mean
   (about 0.1 s) removes jitter. A track without a pose in any frame is an error
   (:class:`NoPoseError`), not a count of 0.
3. The thresholds adapt to the person: the rest level and the turning-point level are robust
   percentiles of the whole signal, and a repetition is a hysteresis cycle: the signal must go
   past ``rest - enter_fraction * range`` and come back past ``rest - exit_fraction * range``
   (or turn back by ``reversal_fraction * range``, so that repetitions done back to back, whose
   brief return to rest the filters blunt, still separate). Jitter smaller than the hysteresis
   band (0.3 range) cannot count; holds and pauses stay on one side of it, so they never count
   twice. A range below the rule's minimum (degrees) counts nothing.
4. A repetition runs from the last frame at rest before it (``start_s``) to the first frame back
   at rest after it (``end_s``); "at rest" means within 12% of the range of the rest level.

Mirrored views (a person facing left or right, or the other side towards the camera) give the
same angles, because each side's angle is measured on that side's own joints.

The learned counter (:class:`KnnRepCounter`) is MediaPipe's example: per frame, a k-NN vote over
labelled samples (:class:`blazepose.analysis.classification.KnnPoseClassifier`), smoothed with an
EMA (:class:`blazepose.analysis.classification.EmaSmoothing`); a repetition counts when the
confidence of the counted class (e.g. ``down``) has risen above ``enter_threshold`` and then
falls below ``exit_threshold``. Its samples come from a folder (:func:`load_samples`, format in
its docstring).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
from typing import Any

import numpy as np

from blazepose.analysis.classification import (
    EmaSmoothing,
    KnnConfig,
    KnnPoseClassifier,
    landmark_index,
)
from blazepose.track_file import (
    NUM_LANDMARKS,
    PoseTrack,
    load_track,
    track_from_json,
    track_to_json,
)

__all__ = [
    "EXERCISES",
    "EXERCISE_RULES",
    "ExerciseRule",
    "KnnRepCounter",
    "LabelledSamples",
    "MAX_BRIDGED_GAP_S",
    "NoPoseError",
    "PoseTrack",
    "RepCount",
    "RuleCounter",
    "angle_signal",
    "count_reps",
    "load_samples",
    "long_gaps",
    "load_track",
    "track_from_json",
    "track_to_json",
]


# ---------------------------------------------------------------------------------------------
# Tracks
# ---------------------------------------------------------------------------------------------


# PoseTrack and its JSON file live in blazepose.track_file (re-exported here).


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------


MAX_BRIDGED_GAP_S = 0.5
"""Longest stretch without a pose (seconds, from the last frame with one to the next) that the
counters bridge; a longer one splits the track and is reported. Half a second hides no
repetition of the exercises counted here (a fast jumping jack takes about 0.7 s)."""


class NoPoseError(ValueError):
    """A track in which no frame has a (usable) pose: nothing can be counted."""


def _spans(intervals) -> list[dict]:
    return [{"start_s": round(float(a), 3), "end_s": round(float(b), 3)} for a, b in intervals]


@dataclasses.dataclass(frozen=True)
class RepCount:
    """A counting result: ``count`` repetitions, each an interval (seconds).

    ``gaps`` are the stretches without a pose longer than the bridged limit (seconds, from the
    last frame with a pose to the next): no repetition is counted across them. ``warnings``
    repeat what the track itself reports (e.g. frames lost in the video).
    """

    exercise: str
    intervals: tuple[tuple[float, float], ...]
    gaps: tuple[tuple[float, float], ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def count(self) -> int:
        return len(self.intervals)

    def to_json(self) -> dict:
        """``{"exercise": E, "count": N, "reps": [{"start_s": a, "end_s": b}, ...]}``, plus
        ``"gaps"`` (same form) and ``"warnings"`` when there are any."""
        result = {"exercise": self.exercise, "count": self.count,
                  "reps": _spans(self.intervals)}
        if self.gaps:
            result["gaps"] = _spans(self.gaps)
        if self.warnings:
            result["warnings"] = list(self.warnings)
        return result

    def to_text(self) -> str:
        """One readable line, e.g. ``squat: 3 reps (1.20-3.10 s, ...)``, then one line per gap
        and warning."""
        spans = ", ".join(f"{a:.2f}-{b:.2f} s" for a, b in self.intervals)
        noun = "rep" if self.count == 1 else "reps"
        lines = [f"{self.exercise}: {self.count} {noun}" + (f" ({spans})" if spans else "")]
        lines += [f"warning: no pose from {a:.2f} to {b:.2f} s ({b - a:.2f} s, more than "
                  f"{MAX_BRIDGED_GAP_S} s): repetitions there are not counted"
                  for a, b in self.gaps]
        lines += [f"warning: {warning}" for warning in self.warnings]
        return "\n".join(lines)


def long_gaps(times: np.ndarray, valid: np.ndarray, max_gap_s: float = MAX_BRIDGED_GAP_S
              ) -> list[tuple[int, int]]:
    """``(last valid frame, next valid frame)`` around each stretch of invalid frames (or jump
    of the frame times) longer than ``max_gap_s`` seconds; ``times`` float ``[T]``, ``valid``
    bool ``[T]``."""
    kept = np.flatnonzero(valid)
    steps = np.diff(times[kept])
    return [(int(kept[i]), int(kept[i + 1])) for i in np.flatnonzero(steps > max_gap_s)]


def _segments(num_frames: int, gaps: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``[first, end)`` frame ranges between the gaps."""
    bounds = [0] + [after for _, after in gaps]
    ends = [before + 1 for before, _ in gaps] + [num_frames]
    return list(zip(bounds, ends))


def _require_pose(track: PoseTrack) -> None:
    if not track.has_pose.any():
        raise NoPoseError(f"{track.source}: no pose in any of its {track.num_frames} frames; "
                          "nothing to count (is the person in view? run_video --show shows "
                          "what the detector sees)")


# ---------------------------------------------------------------------------------------------
# Signals
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ExerciseRule:
    """How a rule counter reads one exercise.

    Attributes:
      name: exercise name.
      angle: (first, vertex, last) joint names without side, e.g. ("SHOULDER", "ELBOW", "WRIST"):
        the angle at the vertex, measured on both sides.
      rest_is_high: True when the angle is large at rest and small at the turning point
        (elbows straight in a plank); False when it grows away from rest (arms rising in a
        jumping jack).
      min_range: degrees; a smaller range of motion counts no repetition.
      enter_fraction, exit_fraction: hysteresis thresholds as fractions of the range, measured
        from the rest level (enter > exit).
      reversal_fraction: a turn of the signal by this fraction of the range also closes or
        opens a cycle (see :func:`hysteresis_cycles`); None for plain hysteresis.
      rest_fraction: within this fraction of the range from the rest level a frame is at rest
        (used for the repetition intervals).
    """

    name: str
    angle: tuple[str, str, str]
    rest_is_high: bool = True
    min_range: float = 25.0
    enter_fraction: float = 0.55
    exit_fraction: float = 0.25
    reversal_fraction: float | None = 0.45
    rest_fraction: float = 0.12

    def __post_init__(self):
        if not 0.0 < self.exit_fraction < self.enter_fraction < 1.0:
            raise ValueError(f"rule {self.name!r}: need 0 < exit_fraction < enter_fraction < 1")


EXERCISE_RULES: dict[str, ExerciseRule] = {
    "pushup": ExerciseRule("pushup", ("SHOULDER", "ELBOW", "WRIST")),
    "squat": ExerciseRule("squat", ("HIP", "KNEE", "ANKLE")),
    "situp": ExerciseRule("situp", ("SHOULDER", "HIP", "KNEE"), min_range=20.0),
    "jumping_jack": ExerciseRule("jumping_jack", ("HIP", "SHOULDER", "ELBOW"), rest_is_high=False),
    "lunge": ExerciseRule("lunge", ("HIP", "KNEE", "ANKLE"), min_range=20.0),
}
"""The rule of each exercise the rule counter knows."""

EXERCISES: tuple[str, ...] = tuple(EXERCISE_RULES)

_SIDE_WEIGHT_FLOOR = 0.05  # a fully hidden side still counts a little (its points are guesses)


def _points(track: PoseTrack) -> np.ndarray:
    """float64 ``[T, 33, 3]`` the angles are measured on (NaN where there is no pose)."""
    if track.world_landmarks is not None and np.isfinite(track.world_landmarks).any():
        return track.world_landmarks
    return track.landmarks[..., :3]


def has_depth(track: PoseTrack) -> bool:
    """Whether the track has world landmarks or any non-zero image z."""
    if track.world_landmarks is not None and np.isfinite(track.world_landmarks).any():
        return True
    z = track.landmarks[..., 2]
    return bool(np.any(np.abs(z[np.isfinite(z)]) > 0))


def _joint_angle(points: np.ndarray, first: int, vertex: int, last: int) -> np.ndarray:
    """Degrees at ``vertex`` per frame from ``[T, 33, 3]`` points."""
    u = points[:, first] - points[:, vertex]
    v = points[:, last] - points[:, vertex]
    norms = np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1)
    cosine = np.sum(u * v, axis=-1) / np.where(norms > 0, norms, np.nan)
    return np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))


def _span_angle(points: np.ndarray, first: int, vertex: int, last: int) -> np.ndarray:
    """Degrees at ``vertex`` from the first-to-last distance and the two segment lengths.

    For 2-D points: a limb bending towards or away from the camera hardly changes the projected
    angle at the joint, but it does shorten the projected first-to-last distance. With the
    segments' lengths taken as the 90th percentile of their projected lengths over the track
    (a segment is seen at full length whenever it lies across the view), the law of cosines
    turns that distance into an angle that follows the bend from any side.
    """
    upper = np.linalg.norm(points[:, first] - points[:, vertex], axis=-1)
    lower = np.linalg.norm(points[:, last] - points[:, vertex], axis=-1)
    span = np.linalg.norm(points[:, first] - points[:, last], axis=-1)
    if not np.isfinite(upper).any():
        return np.full(len(points), np.nan)
    a, b = np.nanpercentile(upper, 90), np.nanpercentile(lower, 90)
    if not (a > 0 and b > 0):
        return np.full(len(points), np.nan)
    cosine = (a * a + b * b - span * span) / (2 * a * b)
    return np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))


def angle_signal(track: PoseTrack, angle: tuple[str, str, str], measure: str = "joint"
                 ) -> np.ndarray:
    """The visibility-weighted mean of the left and right joint angle, float64 ``[T]`` degrees.

    Args:
      track: the track.
      angle: (first, vertex, last) joint names without side.
      measure: ``joint`` (the angle between the two segments) or ``span`` (from the end-to-end
        distance, see :func:`_span_angle`; for tracks without depth).

    Returns:
      Degrees per frame, NaN on frames without a pose (see :func:`fill_gaps`).
    """
    if measure not in ("joint", "span"):
        raise ValueError(f"unknown angle measure {measure!r}")
    measure_angle = _joint_angle if measure == "joint" else _span_angle
    points = _points(track)
    visibility = np.nan_to_num(track.landmarks[..., 3], nan=0.0).clip(0.0, 1.0)
    total = np.zeros(track.num_frames)
    weights = np.zeros(track.num_frames)
    for side in ("LEFT", "RIGHT"):
        indices = [landmark_index(f"{side}_{joint}") for joint in angle]
        side_angle = measure_angle(points, *indices)
        weight = visibility[:, indices].min(axis=1) + _SIDE_WEIGHT_FLOOR
        valid = np.isfinite(side_angle)
        total += np.where(valid, side_angle * weight, 0.0)
        weights += np.where(valid, weight, 0.0)
    return np.where(weights > 0, total / np.where(weights > 0, weights, 1.0), np.nan)


def fill_gaps(times: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Linear interpolation in time over NaN values (constant beyond the ends), ``[T]``.

    Raises:
      ValueError: no finite value at all.
    """
    valid = np.isfinite(values)
    if not valid.any():
        raise ValueError("no frame has a usable pose")
    return np.interp(times, times[valid], values[valid])


def _running(values: np.ndarray, width: int, reduce) -> np.ndarray:
    if width <= 1:
        return values
    padded = np.pad(values, (width // 2, width - 1 - width // 2), mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, width)
    return reduce(windows, axis=-1)


def smooth_signal(values: np.ndarray, fps: float, median_s: float = 0.15, mean_s: float = 0.1
                  ) -> np.ndarray:
    """Running median (outliers) then running mean (jitter), windows in seconds, ``[T]``."""
    median_width = max(3, int(round(median_s * fps)) | 1)
    mean_width = max(1, int(round(mean_s * fps)))
    return _running(_running(values, median_width, np.median), mean_width, np.mean)


# ---------------------------------------------------------------------------------------------
# Hysteresis
# ---------------------------------------------------------------------------------------------


def hysteresis_cycles(depth: np.ndarray, enter: float, exit: float,
                      reversal: float | None = None) -> list[tuple[int, int]]:
    """Cycles of a depth signal (0 rest, larger away from rest): (enter frame, exit frame).

    A cycle starts at the first frame with ``depth > enter`` and ends at the first later frame
    with ``depth < exit`` (``exit < enter``); a cycle still open at the end is dropped.

    With ``reversal``, the thresholds also follow the signal's own turning points, so that
    repetitions done back to back, whose brief return to rest the filters have blunted, still
    separate: a cycle also ends once the depth has fallen ``reversal`` below its deepest value
    in the cycle, and the next one starts only after the depth has risen ``reversal`` above
    its lowest value since (and above ``enter``). Jitter smaller than ``reversal`` never opens
    or closes a cycle.
    """
    cycles = []
    inside, start = False, 0
    extreme = np.inf  # deepest value inside a cycle, shallowest value outside
    for index, value in enumerate(depth):
        if not inside:
            extreme = min(extreme, value)
            if value > enter and (reversal is None or value >= extreme + reversal):
                inside, start, extreme = True, index, value
        else:
            extreme = max(extreme, value)
            if value < exit or (reversal is not None and value <= extreme - reversal):
                inside, extreme = False, value
                cycles.append((start, index))
    return cycles


def _intervals(times: np.ndarray, depth: np.ndarray, cycles: list[tuple[int, int]],
               rest: float) -> tuple[tuple[float, float], ...]:
    """Start and end time of each cycle: last frame at rest before it, first one after it."""
    intervals = []
    at_rest = depth <= rest
    for number, (enter, exit_) in enumerate(cycles):
        previous_exit = cycles[number - 1][1] if number else 0
        before = np.nonzero(at_rest[previous_exit:enter + 1])[0]
        if len(before):
            start = previous_exit + int(before[-1])
        else:  # never back at rest since the last cycle: its shallowest point
            start = previous_exit + int(np.argmin(depth[previous_exit:enter + 1]))
        next_enter = cycles[number + 1][0] if number + 1 < len(cycles) else len(depth) - 1
        after = np.nonzero(at_rest[exit_:next_enter + 1])[0]
        if len(after):
            end = exit_ + int(after[0])
        else:
            end = exit_ + int(np.argmin(depth[exit_:next_enter + 1]))
        intervals.append((float(times[start]), float(times[end])))
    return tuple(intervals)


@dataclasses.dataclass(frozen=True)
class CountTrace:
    """Internals of a rule count, for plots and tests: the depth signal and its thresholds.

    ``depth`` is float64 ``[T]`` in units of the range (0 rest level, 1 turning-point level).
    """

    depth: np.ndarray
    range_degrees: float
    cycles: tuple[tuple[int, int], ...]


def _contrast(signal: np.ndarray) -> float:
    """Range (5th to 95th percentile) over the median absolute frame-to-frame change."""
    jitter = float(np.median(np.abs(np.diff(signal)))) if len(signal) > 1 else 0.0
    spread = float(np.percentile(signal, 95) - np.percentile(signal, 5))
    return spread / max(jitter, 1e-6)


class RuleCounter:
    """Counts one exercise with its :class:`ExerciseRule` (see the module docstring)."""

    def __init__(self, exercise: str, rule: ExerciseRule | None = None,
                 rest_percentile: float = 95.0, turn_percentile: float = 3.0,
                 max_gap_s: float = MAX_BRIDGED_GAP_S):
        if rule is None:
            if exercise not in EXERCISE_RULES:
                raise ValueError(f"no rule for exercise {exercise!r}; known: {', '.join(EXERCISES)}"
                                 " (use the k-NN counter for others)")
            rule = EXERCISE_RULES[exercise]
        self.exercise, self.rule = exercise, rule
        self.rest_percentile, self.turn_percentile = rest_percentile, turn_percentile
        self.max_gap_s = max_gap_s

    def _oriented(self, track: PoseTrack, measure: str) -> np.ndarray | None:
        """The filtered angle signal, negated when rest is its low end; None without poses."""
        raw = angle_signal(track, self.rule.angle, measure)
        if not np.isfinite(raw).any():
            return None
        signal = smooth_signal(fill_gaps(track.times, raw), track.fps)
        return signal if self.rule.rest_is_high else -signal

    def _span(self, oriented: np.ndarray) -> tuple[float, float]:
        rest = float(np.percentile(oriented, self.rest_percentile))
        return rest, rest - float(np.percentile(oriented, self.turn_percentile))

    def trace(self, track: PoseTrack) -> CountTrace:
        """The depth signal, range and hysteresis cycles of ``track``.

        Tracks without depth (no world landmarks, z all 0) also get the ``span`` measure of
        the angle, and the one whose range stands out more from its own frame-to-frame
        jitter is counted (the projected joint angle stays flat when a limb bends towards the
        camera, e.g. a squat seen from the front).
        """
        rule = self.rule
        oriented = self._oriented(track, "joint")
        if oriented is None:
            return CountTrace(np.zeros(track.num_frames), 0.0, ())
        if not has_depth(track):
            alternative = self._oriented(track, "span")
            if alternative is not None and _contrast(alternative) > _contrast(oriented):
                oriented = alternative
        # Levels from the measured frames only (not from the lines drawn across long gaps).
        gaps = self._gaps(track)
        measured = np.ones(track.num_frames, bool)
        for before, after in gaps:
            measured[before + 1:after] = False
        rest, span = self._span(oriented[measured])
        if span < rule.min_range:
            return CountTrace(np.zeros(track.num_frames), span, ())
        depth = (rest - oriented) / span
        cycles = []
        for first, end in _segments(track.num_frames, gaps):  # no cycle spans a long gap
            cycles += [(first + a, first + b) for a, b in hysteresis_cycles(
                depth[first:end], rule.enter_fraction, rule.exit_fraction,
                rule.reversal_fraction)]
        return CountTrace(depth, span, tuple(cycles))

    def _gaps(self, track: PoseTrack) -> list[tuple[int, int]]:
        """Long stretches (:func:`long_gaps`) without a measurable angle."""
        valid = np.isfinite(angle_signal(track, self.rule.angle, "joint"))
        return long_gaps(track.times, valid, self.max_gap_s)

    def count(self, track: PoseTrack) -> RepCount:
        """Raises :class:`NoPoseError` when no frame has a pose."""
        _require_pose(track)
        trace = self.trace(track)
        gaps = self._gaps(track)
        intervals: list[tuple[float, float]] = []
        for first, end in _segments(track.num_frames, gaps):
            inside = [(a - first, b - first) for a, b in trace.cycles if first <= a < end]
            intervals += _intervals(track.times[first:end], trace.depth[first:end], inside,
                                    self.rule.rest_fraction)
        return RepCount(self.exercise, tuple(intervals),
                        tuple((float(track.times[a]), float(track.times[b])) for a, b in gaps),
                        track.warnings)


# ---------------------------------------------------------------------------------------------
# Learned counter
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LabelledSamples:
    """Landmarks of labelled poses: float64 ``[N, 33, 3]`` (x, y, z), int ``[N]`` labels."""

    landmarks: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    files: tuple[str, ...] = ()


def _samples_from_json(document: Any, where: str) -> list[np.ndarray]:
    """Landmark arrays ``[33, 3]`` from a single-frame object or a whole run_video document."""
    if isinstance(document, dict) and "frames" in document:
        track = track_from_json(document, source=where)
        return [points[:, :3] for points in track.landmarks if np.isfinite(points).all()]
    if isinstance(document, dict) and "landmarks" in document:
        value = document["landmarks"]
        array = np.asarray(value, np.float64) if value is not None else None
        if array is None or array.ndim != 2 or array.shape[0] != NUM_LANDMARKS or (
                array.shape[1] < 2) or not np.isfinite(array).all():
            raise ValueError(f"{where}: 'landmarks' must be {NUM_LANDMARKS} lists of [x, y, z, "
                             "...] numbers")
        if array.shape[1] == 2:
            array = np.concatenate([array, np.zeros((NUM_LANDMARKS, 1))], axis=1)
        return [array[:, :3]]
    raise ValueError(f"{where}: expected a run_video document ('frames') or a frame object "
                     "('landmarks')")


def _samples_from_csv(path: str) -> list[np.ndarray]:
    samples = []
    with open(path, newline="", encoding="utf-8") as file:
        for number, row in enumerate(csv.reader(file), start=1):
            if not row or not "".join(row).strip():
                continue
            values = row[1:]
            if len(values) != 3 * NUM_LANDMARKS:
                raise ValueError(f"{path}: line {number}: expected a name and "
                                 f"{3 * NUM_LANDMARKS} numbers, got {len(row)} fields")
            try:
                samples.append(np.asarray(values, np.float64).reshape(NUM_LANDMARKS, 3))
            except ValueError:
                raise ValueError(f"{path}: line {number}: not all values are numbers") from None
    return samples


def load_samples(folder: str | os.PathLike) -> LabelledSamples:
    """Labelled pose samples from a folder, one class per sub-folder or CSV file.

    Layout (class names are the sub-folder or CSV names, sorted; both kinds may be mixed)::

        FOLDER/<class_name>/<any>.json   a run_video document (every frame with landmarks is a
                                         sample) or one frame: {"landmarks": [[x, y, z, ...] x 33]}
        FOLDER/<class_name>.csv          one sample per row: name, x0, y0, z0, ..., x32, y32, z32
                                         (BlazePose order; MediaPipe's example's CSV layout)

    Coordinates may be pixels or normalised: the embedding removes position and scale.

    Raises:
      FileNotFoundError: the folder does not exist.
      ValueError: fewer than two classes, a class without samples, or a malformed file (named).
    """
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"samples folder {folder}: not a directory")
    by_class: dict[str, list[np.ndarray]] = {}
    files: list[str] = []
    for entry in sorted(os.listdir(folder)):
        path = os.path.join(folder, entry)
        if os.path.isdir(path):
            samples = by_class.setdefault(entry, [])
            for name in sorted(os.listdir(path)):
                if not name.lower().endswith(".json"):
                    continue
                file_path = os.path.join(path, name)
                try:
                    with open(file_path, encoding="utf-8") as file:
                        document = json.load(file)
                except json.JSONDecodeError as error:
                    raise ValueError(f"{file_path}: not valid JSON ({error})") from None
                samples.extend(_samples_from_json(document, file_path))
                files.append(file_path)
        elif entry.lower().endswith(".csv"):
            by_class.setdefault(entry[:-4], []).extend(_samples_from_csv(path))
            files.append(path)
    empty = [name for name, samples in by_class.items() if not samples]
    if empty:
        raise ValueError(f"samples folder {folder}: no samples for class(es) {', '.join(empty)} "
                         "(expected <class>/*.json or <class>.csv)")
    if len(by_class) < 2:
        raise ValueError(f"samples folder {folder}: need at least two classes (e.g. up/ and "
                         f"down/), found {sorted(by_class) or 'none'}")
    names = tuple(sorted(by_class))
    landmarks = np.concatenate([np.stack(by_class[name]) for name in names])
    labels = np.concatenate([np.full(len(by_class[name]), index) for index, name in
                             enumerate(names)])
    return LabelledSamples(landmarks, labels, names, tuple(files))


class KnnRepCounter:
    """MediaPipe's learned repetition counter (see the module docstring).

    Args:
      samples: labelled poses; must include ``counted_class``.
      counted_class: the class whose entering and leaving makes one repetition (``down``).
      rest_class: the class that marks being back at rest, for the intervals (default: the
        other class when there are two, else the interval ends when the counted class is left).
      enter_threshold, exit_threshold: smoothed neighbour votes (of ``top_n_by_mean_distance``).
      knn: the classifier's options.
      window_size, alpha: EMA smoothing.
    """

    def __init__(self, samples: LabelledSamples, counted_class: str = "down",
                 rest_class: str | None = None, enter_threshold: float = 6.0,
                 exit_threshold: float = 4.0, knn: KnnConfig | None = None,
                 window_size: int = 10, alpha: float = 0.2):
        if counted_class not in samples.class_names:
            raise ValueError(f"counted class {counted_class!r} is not among the sample classes "
                             f"{list(samples.class_names)}")
        if rest_class is None and len(samples.class_names) == 2:
            rest_class = next(n for n in samples.class_names if n != counted_class)
        if rest_class is not None and rest_class not in samples.class_names:
            raise ValueError(f"rest class {rest_class!r} is not among the sample classes "
                             f"{list(samples.class_names)}")
        if not exit_threshold < enter_threshold:
            raise ValueError("exit_threshold must be below enter_threshold")
        self.samples = samples
        self.counted = samples.class_names.index(counted_class)
        self.rest = None if rest_class is None else samples.class_names.index(rest_class)
        self.enter_threshold, self.exit_threshold = enter_threshold, exit_threshold
        self.window_size, self.alpha = window_size, alpha
        self.classifier = KnnPoseClassifier(knn, samples.class_names).fit(
            samples.landmarks, samples.labels, len(samples.class_names))

    def confidences(self, track: PoseTrack) -> np.ndarray:
        """Smoothed votes per frame and class, float64 ``[T, C]`` (frames without a pose
        repeat the last value, 0 before the first pose)."""
        has_pose = track.has_pose
        counts = np.zeros((track.num_frames, len(self.samples.class_names)))
        if has_pose.any():
            counts[has_pose] = self.classifier.predict_counts(track.landmarks[has_pose][..., :3])
        smoothing = EmaSmoothing(self.window_size, self.alpha)
        smoothed = np.zeros_like(counts)
        last = np.zeros(counts.shape[1])
        for index in range(track.num_frames):
            if has_pose[index]:
                last = smoothing(counts[index])
            smoothed[index] = last
        return smoothed

    def count(self, track: PoseTrack, exercise: str = "exercise") -> RepCount:
        """Raises :class:`NoPoseError` when no frame has a pose; a repetition open at a long
        gap without a pose (:data:`MAX_BRIDGED_GAP_S`) is dropped, not bridged."""
        _require_pose(track)
        confidence = self.confidences(track)
        counted = confidence[:, self.counted]
        gaps = long_gaps(track.times, track.has_pose)
        resumes = {after for _, after in gaps}
        intervals = []
        inside, entered, last_rest = False, 0, 0
        for index in range(track.num_frames):
            if index in resumes:  # after a long gap: forget what was going on before it
                inside, last_rest = False, index
            if self.rest is not None and confidence[index, self.rest] > self.enter_threshold:
                last_rest = index
            if not inside and counted[index] > self.enter_threshold:
                inside, entered = True, index
                start = min(last_rest, entered)
            elif inside and counted[index] < self.exit_threshold:
                inside = False
                end = index
                if self.rest is not None:
                    ahead = np.nonzero(confidence[index:, self.rest] > self.enter_threshold)[0]
                    later = np.nonzero(counted[index:] > self.enter_threshold)[0]
                    if len(ahead) and (not len(later) or ahead[0] < later[0]):
                        end = index + int(ahead[0])
                intervals.append((float(track.times[start]), float(track.times[end])))
        return RepCount(exercise, tuple(intervals),
                        tuple((float(track.times[a]), float(track.times[b])) for a, b in gaps),
                        track.warnings)


def count_reps(track: PoseTrack, exercise: str, counter: str = "rule",
               samples: LabelledSamples | None = None, counted_class: str = "down") -> RepCount:
    """Counts ``exercise`` in ``track`` with the rule counter or the k-NN counter.

    Raises:
      ValueError: unknown counter, no rule for the exercise, or k-NN without samples.
    """
    if counter == "rule":
        return RuleCounter(exercise).count(track)
    if counter == "knn":
        if samples is None:
            raise ValueError("the k-NN counter needs labelled samples (load_samples(folder))")
        return KnnRepCounter(samples, counted_class).count(track, exercise)
    raise ValueError(f"unknown counter {counter!r}; use 'rule' or 'knn'")
