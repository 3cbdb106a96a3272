"""run_video's per-frame pose track as JSON: the schema, its one writer and its one reader.

A track file holds one person's landmarks per frame of a video (``python -m launch.run_video
--output_json``, ``launch.count_reps``, :mod:`blazepose.analysis.counting`)::

    {"schema": "blazepose-track/2", "fps": F, "width": W, "height": H,
     "frames": [{"index": i, "time_s": t,
                 "landmarks": [[x, y, z, visibility, presence] x 33] or null,
                 "world_landmarks": [[x, y, z] x 33] or null,
                 "people": [{"track_id": k, "landmarks": ..., "world_landmarks": ...}, ...]},
                ...],
     "warnings": ["decoded 9 frames but the container declares 30: ...", ...]}

Version 2 adds the optional ``people`` list (``run_video --max_people`` above 1): every person
of the frame by increasing ``track_id`` (a stable identity over the video), each with the same
two fields; the frame's own ``landmarks`` / ``world_landmarks`` repeat its first person (the
lowest track id), so a reader of one person reads a version-2 file as before. Version 1 files
(no ``people``) are read unchanged.

x, y of ``landmarks`` are image pixels (continuous: pixel column i spans ``[i, i + 1)``, y
down), z in the unit of x, visibility and presence probabilities in [0, 1]; BlazePose's order
(``blazepose.topology.BLAZEPOSE_33``). ``world_landmarks`` are metres around the hips. ``null``
marks a frame without a detected person. ``warnings`` (optional; run_video always writes
it) lists what decoding the video lost or doubts; empty when the frames and times are sound.
Numbers are rounded once, here: pixels to
:data:`PIXEL_DECIMALS`, scores and metres to :data:`SCORE_DECIMALS` / :data:`WORLD_DECIMALS`,
times to :data:`TIME_DECIMALS` decimals. Files written before the ``schema`` field existed (the
same layout without it) are read as version 1. :func:`load_track` reads one person
(``track_id``: that person from ``people``), :func:`load_tracks` every person.

This module imports only the standard library and numpy.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import pathlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from blazepose.topology import NUM_BLAZEPOSE_LANDMARKS

__all__ = [
    "NUM_LANDMARKS",
    "PIXEL_DECIMALS",
    "SCHEMA",
    "SCORE_DECIMALS",
    "TIME_DECIMALS",
    "WORLD_DECIMALS",
    "PoseTrack",
    "READABLE_SCHEMAS",
    "frame_record",
    "load_track",
    "load_tracks",
    "people_record",
    "track_ids",
    "result_record",
    "track_document",
    "track_from_json",
    "track_to_json",
    "write_track",
]

SCHEMA = "blazepose-track/2"
"""Value of the ``schema`` field written."""

READABLE_SCHEMAS = ("blazepose-track/1", SCHEMA)
"""Schemas the reader accepts; it refuses any other."""

NUM_LANDMARKS = NUM_BLAZEPOSE_LANDMARKS

# Decimals kept in the file: pixels (a thousandth of a pixel), visibility and presence, world
# metres (a hundredth of a millimetre), seconds (a microsecond).
PIXEL_DECIMALS, SCORE_DECIMALS, WORLD_DECIMALS, TIME_DECIMALS = 3, 5, 5, 6


@dataclasses.dataclass(frozen=True)
class PoseTrack:
    """Per-frame landmarks of one person in one video.

    Attributes:
      fps: frames per second (> 0).
      times: float64 ``[T]`` frame times in seconds, non-decreasing.
      landmarks: float64 ``[T, 33, 5]`` x, y (pixels), z, visibility, presence; NaN on frames
        without a pose.
      world_landmarks: float64 ``[T, 33, 3]`` metres, NaN on frames without them; None when the
        track has none at all.
      width, height: frame size in pixels (0 when unknown).
      source: where the track came from (a path), for messages.
      warnings: what run_video reported about the video (frames lost, doubtful times).
    """

    fps: float
    times: np.ndarray
    landmarks: np.ndarray
    world_landmarks: np.ndarray | None = None
    width: int = 0
    height: int = 0
    source: str = "<track>"
    warnings: tuple[str, ...] = ()

    @property
    def num_frames(self) -> int:
        return len(self.times)

    @property
    def has_pose(self) -> np.ndarray:
        """bool ``[T]``: the frame has image landmarks."""
        return np.isfinite(self.landmarks[:, 0, 0])


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------


def _rounded_rows(points: Any, columns: int, decimals: Sequence[int], what: str) -> list | None:
    """``[33, columns]`` numbers as JSON rows, column j rounded to ``decimals[j]``; None for
    None or any non-finite value (a frame without that pose)."""
    if points is None:
        return None
    array = np.asarray(points, np.float64)
    if array.shape != (NUM_LANDMARKS, columns):
        raise ValueError(f"{what} must have shape ({NUM_LANDMARKS}, {columns}), got {array.shape}")
    if not np.isfinite(array).all():
        return None
    rounded = np.stack([np.round(array[:, j], d) for j, d in enumerate(decimals)], axis=-1)
    return rounded.tolist()


def frame_record(index: int, time_s: float, landmarks: Any, world_landmarks: Any = None
                 ) -> dict:
    """One entry of the ``frames`` list.

    Args:
      index: the frame's index in the video.
      time_s: its time in seconds.
      landmarks: ``[33, 5]`` x, y, z (pixels), visibility, presence, or None (no pose).
      world_landmarks: ``[33, 3]`` metres, or None.
    Raises:
      ValueError: an array of another shape.
    """
    score, pixel = SCORE_DECIMALS, PIXEL_DECIMALS
    return {
        "index": int(index),
        "time_s": round(float(time_s), TIME_DECIMALS),
        "landmarks": _rounded_rows(landmarks, 5, (pixel, pixel, pixel, score, score),
                                   "landmarks"),
        "world_landmarks": _rounded_rows(world_landmarks, 3, (WORLD_DECIMALS,) * 3,
                                         "world_landmarks"),
    }


def result_record(index: int, time_s: float, result: Any) -> dict:
    """:func:`frame_record` of a pipeline's result for the frame (anything with ``landmarks``
    ``[33, 5]`` and ``world_landmarks`` ``[33, 3]`` or None, e.g. a
    ``blazepose.inference.PoseResult``), or of None when no pose was found."""
    if result is None:
        return frame_record(index, time_s, None, None)
    return frame_record(index, time_s, result.landmarks, result.world_landmarks)


def people_record(index: int, time_s: float, results: Sequence[Any]) -> dict:
    """A frame entry with every person: :func:`result_record` of the lowest ``track_id`` at the
    frame level and ``people``, one ``{"track_id", "landmarks", "world_landmarks"}`` per result
    by increasing ``track_id`` (results: e.g. ``PosePipeline.process_frame_people``'s, each
    with an integer ``track_id``)."""
    ordered = sorted(results, key=lambda result: int(result.track_id))
    record = result_record(index, time_s, ordered[0] if ordered else None)
    record["people"] = []
    for result in ordered:
        person = result_record(index, time_s, result)
        record["people"].append({"track_id": int(result.track_id),
                                 "landmarks": person["landmarks"],
                                 "world_landmarks": person["world_landmarks"]})
    return record


def track_document(fps: float, width: int, height: int, frames: list[dict],
                   warnings: Sequence[str] | None = None) -> dict:
    """The whole JSON object from :func:`frame_record` entries; ``warnings`` (what the video
    lost or doubts, one line each; run_video always gives the list, empty when all is well)
    become the ``warnings`` field."""
    document = {"schema": SCHEMA, "fps": float(fps), "width": int(width),
                "height": int(height), "frames": frames}
    if warnings is not None:
        document["warnings"] = [str(warning) for warning in warnings]
    return document


def track_to_json(track: PoseTrack) -> dict:
    """The JSON object of a :class:`PoseTrack` (frames without a pose get ``null``)."""
    frames = []
    for index in range(track.num_frames):
        world = None if track.world_landmarks is None else track.world_landmarks[index]
        frames.append(frame_record(index, track.times[index], track.landmarks[index], world))
    return track_document(track.fps, track.width, track.height, frames)


def write_track(path: str | os.PathLike, document: dict) -> None:
    """Writes the JSON object compactly; the file appears complete or not at all."""
    target = pathlib.Path(path)
    staged = target.with_name(f".{target.name}.partial")
    with open(staged, "w", encoding="utf-8") as stream:
        json.dump(document, stream, separators=(",", ":"))
    os.replace(staged, target)


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


def _matrix(value: Any, columns: int, where: str) -> np.ndarray | None:
    """``[33, columns]`` float64, possibly holding NaN or infinity (the caller decides), or
    None for ``null``; raises ValueError naming ``where`` for any other shape."""
    if value is None:
        return None
    try:
        array = np.asarray(value, np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{where} must be a list of {NUM_LANDMARKS} lists of {columns} numbers"
                         ) from None
    if array.shape != (NUM_LANDMARKS, columns):
        raise ValueError(f"{where} must be {NUM_LANDMARKS} x {columns} numbers, got shape "
                         f"{array.shape}")
    return array


def _checked_document(document: Any, source: str) -> dict:
    if not isinstance(document, dict):
        raise ValueError(f"{source}: expected a JSON object with 'fps' and 'frames'")
    schema = document.get("schema", READABLE_SCHEMAS[0])
    if schema not in READABLE_SCHEMAS:
        raise ValueError(f"{source}: unknown track schema {schema!r}; this version reads "
                         f"{', '.join(map(repr, READABLE_SCHEMAS))}")
    return document


def _people(frame: dict, where: str) -> list:
    people = frame.get("people", [])
    if not isinstance(people, list) or not all(
            isinstance(p, dict) and isinstance(p.get("track_id"), int) for p in people):
        raise ValueError(f"{where}: 'people' must be a list of objects with an integer "
                         "'track_id'")
    return people


def track_ids(document: Any, source: str = "<json>") -> list[int]:
    """The ``track_id`` values of a track's JSON object, ascending (empty for a file without
    ``people``: one person, read without a track id)."""
    document = _checked_document(document, source)
    frames = document.get("frames")
    if not isinstance(frames, list):
        raise ValueError(f"{source}: 'frames' must be a non-empty list")
    ids: set[int] = set()
    for position, frame in enumerate(frames):
        if isinstance(frame, dict):
            ids.update(p["track_id"] for p in _people(frame, f"{source}: frame {position}"))
    return sorted(ids)


def _frame_points(frame: dict, where: str) -> tuple[np.ndarray | None, np.ndarray | None, bool]:
    """(landmarks ``[33, 5]`` or None, world landmarks ``[33, 3]`` or None, whether every
    given value was finite); landmarks holding NaN or infinity count as no pose."""
    points = _matrix(frame.get("landmarks"), 5, f"{where}: 'landmarks'")
    world_points = _matrix(frame.get("world_landmarks"), 3, f"{where}: 'world_landmarks'")
    if points is not None and not np.isfinite(points).all():
        return None, None, False
    if world_points is not None and not np.isfinite(world_points).all():
        return points, None, False
    return points, world_points, True


def _frame_time(frame: dict, position: int, fps: float, where: str) -> float:
    """A frame's ``time_s``, else ``index / fps`` (its position without an index)."""
    time_s = frame.get("time_s")
    if time_s is None:
        time_s = float(frame.get("index", position)) / fps
    if not isinstance(time_s, (int, float)) or not math.isfinite(time_s):
        raise ValueError(f"{where}: 'time_s' must be a number, got {time_s!r}")
    return float(time_s)


def track_from_json(document: Any, source: str = "<json>", track_id: int | None = None
                    ) -> PoseTrack:
    """A :class:`PoseTrack` from a track's JSON object (see the module docstring).

    A frame without ``time_s`` is at ``index / fps``. Landmarks holding NaN or infinity (a
    writer's missing values) make a frame without a pose, and a warning of the track.

    Args:
      track_id: None: the frames' own landmarks (the single person, or the first person of a
        several-people file); an id: that person's entries of ``people`` (frames where they are
        absent have no pose).
    Raises:
      ValueError: naming ``source`` and the frame, for an unknown ``schema`` or any field that
        is missing or malformed, or a ``track_id`` the file does not hold.
    """
    document = _checked_document(document, source)
    if track_id is not None:
        known = track_ids(document, source)
        if int(track_id) not in known:
            raise ValueError(f"{source}: no person with track_id {track_id}; the file holds "
                             + (f"track ids {known}" if known else
                                "one person without ids (written without --max_people)"))
    fps = document.get("fps")
    if not isinstance(fps, (int, float)) or isinstance(fps, bool) or not fps > 0:
        raise ValueError(f"{source}: 'fps' must be a positive number, got {fps!r}")
    frames = document.get("frames")
    if not isinstance(frames, list) or not frames:
        raise ValueError(f"{source}: 'frames' must be a non-empty list")
    count = len(frames)
    times = np.empty(count)
    landmarks = np.full((count, NUM_LANDMARKS, 5), np.nan)
    world = np.full((count, NUM_LANDMARKS, 3), np.nan)
    any_world = False
    not_finite: list[int] = []
    for position, frame in enumerate(frames):
        where = f"{source}: frame {position}"
        if not isinstance(frame, dict):
            raise ValueError(f"{where}: expected an object")
        times[position] = _frame_time(frame, position, fps, where)
        if track_id is not None:
            frame = next((p for p in _people(frame, where) if p["track_id"] == track_id), {})
            where = f"{where}, track_id {track_id}"
        points, world_points, finite = _frame_points(frame, where)
        if not finite:
            not_finite.append(position)
        if points is not None:
            landmarks[position] = points
        if world_points is not None:
            world[position] = world_points
            any_world = True
    if (np.diff(times) < 0).any():
        bad = int(np.nonzero(np.diff(times) < 0)[0][0]) + 1
        raise ValueError(f"{source}: frame {bad}: 'time_s' goes backwards")
    warnings = document.get("warnings") or []
    if not isinstance(warnings, list):
        raise ValueError(f"{source}: 'warnings' must be a list of strings")
    if not_finite:
        warnings = [*warnings, f"{len(not_finite)} frame(s) hold NaN or infinite landmarks and "
                               f"are read as frames without a pose (first: frame "
                               f"{not_finite[0]})"]
    return PoseTrack(fps=float(fps), times=times, landmarks=landmarks,
                     world_landmarks=world if any_world else None,
                     width=int(document.get("width") or 0), height=int(document.get("height") or 0),
                     source=source, warnings=tuple(str(w) for w in warnings))


def _read_json(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None


def load_track(path: str | os.PathLike, track_id: int | None = None) -> PoseTrack:
    """Reads a track file (see :func:`track_from_json`; ``track_id``: one person of a
    several-people file).

    Raises:
      FileNotFoundError: no such file; ValueError: not JSON, or not a track (naming the file).
    """
    path = os.fspath(path)
    return track_from_json(_read_json(path), source=path, track_id=track_id)


def load_tracks(path: str | os.PathLike) -> dict[int | None, PoseTrack]:
    """Every person of a track file: ``{track_id: PoseTrack}`` by increasing id, or
    ``{None: PoseTrack}`` for a file without ``people``."""
    path = os.fspath(path)
    document = _read_json(path)
    ids = track_ids(document, path)
    if not ids:
        return {None: track_from_json(document, source=path)}
    return {k: track_from_json(document, source=path, track_id=k) for k in ids}
