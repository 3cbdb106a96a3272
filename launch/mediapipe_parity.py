r"""Prints how closely we reproduce Google's MediaPipe: the networks, or the whole pipeline.

  python -m launch.mediapipe_parity                       # both models, tables + JSON last line
  python -m launch.mediapipe_parity --models=full --picture=/tmp/astronaut.png
  python -m launch.mediapipe_parity --pipeline            # PosePipeline vs MediaPipe's runtime
  python -m launch.mediapipe_parity --solutions           # blazepose.solutions.pose vs 0.10.21

``--pipeline``: our ``PosePipeline`` against MediaPipe's own ``PoseLandmarker`` (mediapipe 1.2.2,
installed once into a cached side environment) with a ``.task`` of the same Google files, on
real photos and video frames fetched from PyPI wheels (``blazepose.mediapipe_runtime.parity``):
IMAGE mode per image (found by each, our detection score, our crop minus MediaPipe's: centre
distance, side and rotation; median and max landmark distance in pixels and the median as % of
the crop side; median world-landmark distance in cm), then VIDEO mode per clip. Last line: one
JSON object.

``--solutions``: :mod:`blazepose.solutions.pose` against the legacy ``mp.solutions.pose``
(mediapipe 0.10.21, its own side environment) with the same ``Pose`` arguments: static images,
video with and without smoothing, segmentation masks (IoU at 0.5).

Network mode:
Inputs: random images and a real photograph (scikit-image's astronaut, fetched from PyPI). For
each output: max / mean absolute difference between our model (TF, float32) and the TFLite
interpreter (XNNPACK) running Google's file, the largest reference magnitude, and the goal. A
second table measures float32 rounding itself: each runtime against our network evaluated in
float64 with the same weights.
"""

from __future__ import annotations

import json
import os

from absl import app, flags

_MODELS = flags.DEFINE_multi_enum("models", ["full", "detector"], ["full", "detector"],
                                  "Models to compare.")
_NUM_RANDOM = flags.DEFINE_integer("num_random", 3, "Random input images.", lower_bound=0)
_CACHE_DIR = flags.DEFINE_string("cache_dir", None, "Cache for Google's files and samples.")
_PICTURE = flags.DEFINE_string("picture", None,
                               "Write the photo with the converted model's landmarks (PNG).")
_PIPELINE = flags.DEFINE_boolean("pipeline", False,
                                 "Compare the whole pipeline with MediaPipe's PoseLandmarker.")
_BACKEND = flags.DEFINE_enum("backend", "tflite", ["tflite", "keras"],
                             "--pipeline: our pipeline's networks (Google's files in the TFLite "
                             "interpreter, or our Keras networks with Google's weights).")
_SAMPLING = flags.DEFINE_enum("sampling", "mediapipe", ["mediapipe", "pixel_centers"],
                              "--pipeline: PipelineConfig.sampling of our pipeline.")
_VIDEO_GRAPH = flags.DEFINE_enum("video_graph", "tasks", ["tasks", "legacy"],
                                 "--pipeline: PipelineConfig.video_graph of our pipeline.")
_VIDEO = flags.DEFINE_boolean("video", True, "--pipeline: also compare VIDEO mode on clips.")
_TASK = flags.DEFINE_string("task", None,
                            "--pipeline: a pose_landmarker.task (e.g. from launch.export "
                            "--format=mediapipe_task): MediaPipe runs it and our pipeline runs "
                            "its two networks. Default: Google's files.")


@flags.validator("task", message="--task must name an existing .task file")
def _task_exists(value):
    return value is None or os.path.isfile(value)


_SOLUTIONS = flags.DEFINE_boolean("solutions", False,
                                  "Compare blazepose.solutions.pose with the legacy "
                                  "mp.solutions.pose of mediapipe 0.10.21.")


def _photo(cache_dir):
    import tensorflow as tf

    from blazepose import samples

    path = samples.fetch_sample("astronaut", cache_dir)
    return tf.io.decode_png(tf.io.read_file(str(path)), channels=3).numpy()


def _print_table(title, rows):
    print(f"\n{title}")
    header = f"{'output':26} {'max abs':>10} {'mean abs':>10} {'max |ref|':>10} {'goal':>8}  ok"
    print(header)
    print("-" * len(header))
    for name, figures, goal in rows:
        ok = "-" if goal is None else ("yes" if figures["max_abs"] <= goal else "NO")
        goal_text = "-" if goal is None else f"{goal:.0e}"
        print(f"{name:26} {figures['max_abs']:10.2e} {figures['mean_abs']:10.2e} "
              f"{figures['max_ref']:10.1f} {goal_text:>8}  {ok}")


def _pipeline_table(title, rows):
    print(f"\n{title}")
    header = (f"{'frame':20} {'size':>9} {'ours':>4} {'mp':>3} {'score':>6} {'dROI px':>8} "
              f"{'dside':>7} {'drot':>6} {'median':>7} {'max':>7} {'%crop':>6} {'world':>6} "
              f"{'mask':>5} ok")
    print(header)
    print("-" * len(header))

    def number(value, form):
        return format(value, form) if value is not None else "-"

    for row in rows:
        relative = (100 * row.median_px / row.crop_size_px
                    if row.median_px is not None and row.crop_size_px else None)
        ours, theirs = ("yes" if found else "no" for found in (row.found_ours,
                                                                row.found_mediapipe))
        print(f"{row.name:20} {row.width:4d}x{row.height:<4d} {ours:>4} {theirs:>3} "
              f"{number(row.score, '6.3f'):>6} "
              f"{number(row.roi_center_px, '8.2f'):>8} {number(row.roi_size_px, '+7.2f'):>7} "
              f"{number(row.roi_rotation_deg, '6.2f'):>6} {number(row.median_px, '7.2f'):>7} "
              f"{number(row.max_px, '7.2f'):>7} {number(relative, '6.2f'):>6} "
              f"{number(row.world_median_cm, '6.2f'):>6} {number(row.mask_iou, '5.3f'):>5} "
              f"{'yes' if row.agrees else 'NO'}")


def _run_solutions_parity():
    from blazepose.mediapipe_runtime import client, environment, parity

    cache_dir = _CACHE_DIR.value
    python = environment.ensure_python("legacy", cache_dir)
    stills, video = parity.legacy_images(cache_dir), parity.legacy_clip(cache_dir)
    runs = [
        ("IMAGE mode (static_image_mode=True)", stills, {"static_image_mode": True}),
        ("VIDEO mode (defaults: smoothing on)", video, {}),
        ("VIDEO mode, smooth_landmarks=False", video, {"smooth_landmarks": False}),
        ("IMAGE mode, segmentation", stills[:3],
         {"static_image_mode": True, "enable_segmentation": True}),
        ("VIDEO mode, segmentation (smoothed), first 10 frames", video[:10],
         {"enable_segmentation": True}),
    ]
    legacy = client.run_legacy_pose(
        [client.LegacyRun([frame for _, frame in named], options,
                          masks=options.get("enable_segmentation", False))
         for _, named, options in runs], python=python)
    report = {"mediapipe": environment.RUNTIMES["legacy"].requirements[0]}
    for (title, named, options), theirs in zip(runs, legacy):
        ours = parity.run_solutions([frame for _, frame in named], options)
        rows = parity.compare_solutions(named, ours, theirs)
        _pipeline_table(f"{title}: blazepose.solutions.pose minus mp.solutions.pose", rows)
        report[title] = parity.summary(rows)
    print(json.dumps(report))


def _run_pipeline_parity():
    import tempfile

    from blazepose.export import task_export
    from blazepose.inference.pipeline import PipelineConfig, load_pipeline
    from blazepose.mediapipe_runtime import environment, parity

    cache_dir = _CACHE_DIR.value
    python = environment.ensure_python("tasks", cache_dir)
    config = PipelineConfig(sampling=_SAMPLING.value, video_graph=_VIDEO_GRAPH.value)
    report = {"mediapipe": environment.RUNTIMES["tasks"].requirements[0],
              "backend": _BACKEND.value,
              "config": {"sampling": config.sampling, "video_graph": config.video_graph}}
    with tempfile.TemporaryDirectory(prefix="parity-") as scratch:
        if _TASK.value:
            task = _TASK.value
            report["task"] = os.path.abspath(task)

            def make_pipeline(**kwargs):
                return parity.pipeline_from_task(task, scratch, config=config, **kwargs)
        else:
            task = task_export.google_bundle(os.path.join(scratch, "google.task"), cache_dir)

            def make_pipeline(**kwargs):
                return load_pipeline(_BACKEND.value, cache_dir=cache_dir, config=config,
                                     **kwargs)
        probe_task = parity.write_probe_task(task, os.path.join(scratch, "probe.task"))
        still = make_pipeline(tracking=False, smoothing=False)
        rows = parity.compare_images(still, parity.still_images(cache_dir), task, probe_task,
                                     python=python)
        _pipeline_table("IMAGE mode: our PosePipeline minus MediaPipe's PoseLandmarker "
                        "(pixels of the image)", rows)
        report["image"] = parity.summary(rows)
        if _VIDEO.value:
            report["video"] = {}
            video = make_pipeline()
            for name in parity.CLIPS:
                frames, stamps = parity.clip(name, cache_dir)
                rows = parity.compare_video(video, name, frames, stamps, task, python=python)
                summary = parity.summary(rows)
                report["video"][name] = summary
                worst = max((row for row in rows if row.median_px is not None),
                            key=lambda row: row.median_px, default=None)
                print(f"\nVIDEO mode, {name}: {summary['frames']} frames, decisions differ on "
                      f"{summary['decisions_differ']}, agree on {summary['agree']}; median "
                      f"landmark distance per frame: median {summary['median_px_median']:.2f} px, "
                      f"p90 {summary['median_px_p90']:.2f}, max {summary['median_px_max']:.2f}"
                      + (f" ({worst.name})" if worst else ""))
    print(json.dumps(report))


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if _PIPELINE.value:
        _run_pipeline_parity()
        return
    if _SOLUTIONS.value:
        _run_solutions_parity()
        return
    import numpy as np

    from blazepose.pretrained import files, importer, parity

    photo = _photo(_CACHE_DIR.value)
    report = {}
    for name in dict.fromkeys(_MODELS.value):
        model = importer.load_mediapipe_model(name, cache_dir=_CACHE_DIR.value)
        interpreter = parity.make_interpreter(files.fetch_model_file(name, _CACHE_DIR.value))
        make_inputs = parity.landmark_inputs if name == "full" else parity.detector_inputs
        random_images = make_inputs(None, count=_NUM_RANDOM.value)
        photo_images = make_inputs(photo, count=0)
        ours = parity.keras_runner(model)
        theirs = parity.tflite_runner(interpreter, parity.OUTPUT_MAPS[name])
        truth = parity.keras_runner(parity.float64_twin(model, parity.BUILDERS[name]))
        goals = parity.PARITY_GOALS[name]
        on_photo = parity.compare(ours, theirs, photo_images)
        on_random = parity.compare(ours, theirs, random_images) if len(random_images) else {}
        _print_table(f"{name}: ours vs Google's file, real photo (goals apply here)",
                     [(k, v, goals.get(k)) for k, v in on_photo.items()])
        if on_random:
            _print_table(f"{name}: ours vs Google's file, {len(random_images)} random images",
                         [(k, v, None) for k, v in on_random.items()])
        all_images = np.concatenate([random_images, photo_images])
        ours_error = parity.compare(ours, truth, all_images)
        theirs_error = parity.compare(theirs, truth, all_images)
        print(f"\n{name}: float32 rounding, max abs error against float64 evaluation")
        print(f"{'output':26} {'ours (TF)':>10} {'TFLite':>10}")
        for key in ours_error:
            print(f"{key:26} {ours_error[key]['max_abs']:10.2e} "
                  f"{theirs_error[key]['max_abs']:10.2e}")
        report[name] = {
            "photo": {k: v["max_abs"] for k, v in on_photo.items()},
            "random": {k: v["max_abs"] for k, v in on_random.items()},
            "goals_met_on_photo": all(on_photo[k]["max_abs"] <= g for k, g in goals.items()),
            "float32_error_ours": {k: v["max_abs"] for k, v in ours_error.items()},
            "float32_error_tflite": {k: v["max_abs"] for k, v in theirs_error.items()},
        }
        if name == "full" and _PICTURE.value:
            _draw(model, photo, _PICTURE.value)
            print(f"\nwrote {_PICTURE.value}")
    print(json.dumps(report))


def _draw(model, photo, path):
    import numpy as np
    import tensorflow as tf

    from blazepose import drawing, topology
    from blazepose.model import decoding

    crop = tf.image.resize(photo.astype(np.float32) / 255.0, (256, 256))[tf.newaxis]
    decoded = decoding.decode_outputs(model(crop, training=False))
    landmarks = decoded["landmarks"].numpy()[0, :topology.NUM_BLAZEPOSE_LANDMARKS]
    scale = np.array([photo.shape[1], photo.shape[0]])
    picture = drawing.draw_skeleton(photo, landmarks[:, :2] * scale, topology.BLAZEPOSE_33,
                                    visibility=landmarks[:, 3])
    tf.io.write_file(path, tf.io.encode_png(picture))


if __name__ == "__main__":
    app.run(main)
