r"""Counts exercise repetitions in a pose track (run_video's JSON) or a video.

  python -m launch.count_reps --input=track.json --exercise=squat
  python -m launch.count_reps --input=track.json --exercise=pushup --format=json
  python -m launch.count_reps --input=set.mp4 --exercise=lunge          # runs the pose pipeline
  python -m launch.count_reps --input=set.mp4 --exercise=squat --model_dir=runs/ft  # a fine-tune
  python -m launch.count_reps --input=track.json --exercise=burpee --counter=knn \
      --samples=burpee_samples/
  python -m launch.count_reps --input=people.json --exercise=squat --track_id=2   # one person
  python -m launch.count_reps --input=people.json --exercise=squat --track_id=all  # everyone

``--format=json`` prints ``{"exercise": E, "count": N, "reps": [{"start_s": a, "end_s": b}, ...]}``;
``--format=text`` one readable line. The rule counter knows pushup, squat, situp, jumping_jack and
lunge; the k-NN counter learns any exercise from a folder of labelled frames (``--samples``,
layout in ``blazepose.analysis.counting.load_samples``: ``FOLDER/<class>/*.json`` or
``FOLDER/<class>.csv``)
and counts entering and leaving ``--knn_class`` (default ``down``).

``--track_id`` picks one person of a track written with ``run_video --max_people`` above 1
(``all``: every person, one line or one JSON object ``{"track_id": K, ...}`` per person);
without it the file's single (or first) person is counted.
"""

from __future__ import annotations

import json
import os

import numpy as np
from absl import app, flags

from blazepose import track_file
from blazepose.analysis import counting
from blazepose.inference.pipeline import load_pipeline

RULE_EXERCISES = ("pushup", "squat", "situp", "jumping_jack", "lunge")
"""Exercises the rule counter knows (``blazepose.analysis.counting.EXERCISES``; repeated here so
that flags are checked before the library, and TensorFlow, is imported)."""

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")

_INPUT = flags.DEFINE_string("input", None, "run_video JSON track, or a video file.",
                             required=True)
_EXERCISE = flags.DEFINE_string("exercise", None, "Exercise name: pushup, squat, situp, "
                                "jumping_jack, lunge (rule), or any name with --counter=knn.",
                                required=True)
_FORMAT = flags.DEFINE_enum("format", "text", ["text", "json"], "Output format.")
_COUNTER = flags.DEFINE_enum("counter", "rule", ["rule", "knn"], "Rule-based or learned k-NN.")
_SAMPLES = flags.DEFINE_string("samples", None, "Folder of labelled frames for --counter=knn.")
_KNN_CLASS = flags.DEFINE_string("knn_class", "down", "Sample class whose entering and leaving "
                                 "is one repetition (--counter=knn).")
_BACKEND = flags.DEFINE_string("backend", "tflite", "Pose pipeline backend for video input.")
_MODEL_DIR = flags.DEFINE_string("model_dir", None, "Video input: a training run (python -m "
                                 "launch.train --model_dir) whose network replaces Google's "
                                 "landmark model.")
_TRACK_ID = flags.DEFINE_string("track_id", None, "JSON input from run_video --max_people: the "
                                "person to count (a track_id), or 'all'.")
_CHECKPOINT = flags.DEFINE_string("checkpoint", "best", "With --model_dir: best (else the "
                                  "latest), latest or a checkpoint prefix.")


def validate_flags() -> str:
    """Checks the flags before any work; returns the input kind (``json`` or ``video``).

    Raises:
      app.UsageError: naming the flag.
    """
    path = _INPUT.value
    if not os.path.isfile(path):
        raise app.UsageError(f"--input {path}: no such file")
    suffix = os.path.splitext(path)[1].lower()
    if suffix == ".json":
        kind = "json"
    elif suffix in VIDEO_SUFFIXES:
        kind = "video"
    else:
        raise app.UsageError(f"--input {path}: expected a .json track or a video "
                             f"({', '.join(VIDEO_SUFFIXES)})")
    exercise = _EXERCISE.value.strip()
    if not exercise:
        raise app.UsageError("--exercise must not be empty")
    if _COUNTER.value == "rule":
        if exercise not in RULE_EXERCISES:
            raise app.UsageError(f"--exercise {exercise!r}: the rule counter knows "
                                 f"{', '.join(RULE_EXERCISES)}; use --counter=knn with "
                                 "--samples for others")
        if _SAMPLES.value:
            raise app.UsageError("--samples is only used with --counter=knn")
    else:
        if not _SAMPLES.value:
            raise app.UsageError("--counter=knn needs --samples (a folder of labelled frames)")
        if not os.path.isdir(_SAMPLES.value):
            raise app.UsageError(f"--samples {_SAMPLES.value}: not a directory")
    if _MODEL_DIR.value is not None and kind != "video":
        raise app.UsageError("--model_dir applies to video input (a track holds its poses)")
    if _TRACK_ID.value is not None:
        if kind != "json":
            raise app.UsageError("--track_id applies to a JSON track (run_video --max_people)")
        if _TRACK_ID.value != "all" and not _TRACK_ID.value.isdigit():
            raise app.UsageError(f"--track_id {_TRACK_ID.value!r}: expected a track id "
                                 "(0, 1, ...) or 'all'")
    return kind


def landmark_model():
    """--model_dir's network (:func:`blazepose.train.runs.load_run`), or None for Google's."""
    if _MODEL_DIR.value is None:
        return None
    from blazepose.train import runs  # TF and Keras: only for --model_dir

    try:
        return runs.load_run(_MODEL_DIR.value, _CHECKPOINT.value).pipeline_model()
    except runs.RunError as error:
        raise app.UsageError(f"--model_dir {error}") from None


def track_from_video(path: str, backend: str = "tflite", model=None):
    """Runs the tracking pose pipeline over a video (``model``: the landmark network, default
    Google's); a :class:`blazepose.track_file.PoseTrack` (as run_video's track file would
    hold it), whose ``warnings`` say what decoding lost (frames the container declares but
    that did not decode, failed reads, a frame rate the timestamps contradict)."""
    from blazepose.inference import video  # the `video` extra: opencv-python-headless

    try:
        source = video.open_source(path)
    except video.InputError as error:
        raise ValueError(str(error)) from None
    pipeline = load_pipeline(backend, tracking=True, smoothing=True, landmark_model=model)
    frames = []
    try:
        for frame in source.frames:
            rgb = np.ascontiguousarray(frame.bgr[..., ::-1])
            result = pipeline.process_frame(rgb, frame.time_s)
            frames.append(track_file.result_record(len(frames), frame.time_s, result))
    finally:
        source.close()
    warnings = video.decode_warnings(source.decode) if source.decode is not None else []
    document = track_file.track_document(source.fps, source.width, source.height, frames,
                                         warnings=warnings)
    return track_file.track_from_json(document, source=path)


def count(path: str, kind: str, exercise: str, counter: str, samples_folder: str | None,
          knn_class: str, backend: str = "tflite", model=None, track_id: int | None = None):
    """The :class:`blazepose.analysis.counting.RepCount` of one input (``model``: the landmark
    network for video input, default Google's; ``track_id``: one person of a JSON track)."""
    track = (track_file.load_track(path, track_id) if kind == "json"
             else track_from_video(path, backend, model))
    return count_track(track, exercise, counter, samples_folder, knn_class)


def count_track(track, exercise: str, counter: str, samples_folder: str | None, knn_class: str):
    """The :class:`blazepose.analysis.counting.RepCount` of one
    :class:`blazepose.track_file.PoseTrack`."""
    if counter == "rule":
        return counting.RuleCounter(exercise).count(track)
    samples = counting.load_samples(samples_folder)
    return counting.KnnRepCounter(samples, knn_class).count(track, exercise)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    kind = validate_flags()
    model = landmark_model()
    # A ValueError or OSError (a malformed track, no pose in any frame) ends the program with
    # one line naming the file (launch/__init__.py).
    if _TRACK_ID.value == "all":
        tracks = track_file.load_tracks(_INPUT.value)
        results = {track_id: count_track(track, _EXERCISE.value.strip(), _COUNTER.value,
                                         _SAMPLES.value, _KNN_CLASS.value)
                   for track_id, track in tracks.items()}
        for track_id, result in results.items():
            if _FORMAT.value == "json":
                print(json.dumps({"track_id": track_id, **result.to_json()}))
            else:
                print(f"track {track_id}: {result.to_text()}")
        return
    track_id = None if _TRACK_ID.value is None else int(_TRACK_ID.value)
    result = count(_INPUT.value, kind, _EXERCISE.value.strip(), _COUNTER.value,
                   _SAMPLES.value, _KNN_CLASS.value, _BACKEND.value, model, track_id)
    if _FORMAT.value == "json":
        print(json.dumps(result.to_json()))
    else:
        print(result.to_text())


def run():
    app.run(main)


if __name__ == "__main__":
    run()
