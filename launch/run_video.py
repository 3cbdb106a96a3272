r"""Runs BlazePose on a video, an image, a folder of images or a webcam; writes video and JSON.

  python -m launch.run_video --input=clip.mp4 --output=annotated.mp4 --output_json=poses.json
  python -m launch.run_video --input=sample:sports2d_demo --output=demo.mp4   # real footage
  python -m launch.run_video --input=photo.jpg --output=annotated.png
  python -m launch.run_video --input=frames/ --fps=25 --output_json=poses.json
  python -m launch.run_video --input=webcam --show                 # camera 0; webcam:1 for another
  python -m launch.run_video --input=clip.mp4 --backend=keras --notracking --mask_overlay ...
  python -m launch.run_video --input=clip.mp4 --landmark_model=mine.tflite --output=out.mp4
  python -m launch.run_video --input=clip.mp4 --model_dir=runs/ft --output=out.mp4  # a fine-tune
  python -m launch.run_video --input=class.mp4 --max_people=4 --output_json=people.json

Google's BlazePose Full and person detector are fetched once from the mediapipe==0.10.21 wheel
on PyPI, unless --landmark_model / --detector_model name our own exported files (.tflite, .keras
or a SavedModel directory), or --model_dir names a training run (python -m launch.train): its
best checkpoint (else its latest, or --checkpoint) in the network its config.json describes,
run by TensorFlow beside the --backend detector. The JSON holds one record per frame:
{"fps": F, "width": W, "height": H, "frames": [{"index": i, "time_s": t, "landmarks":
[[x, y, z, visibility, presence] x 33] or null, "world_landmarks": [[x, y, z] x 33] or null}]},
x, y (and z) in pixels, world landmarks in metres. With --max_people above 1 every frame also
holds "people": [{"track_id": k, "landmarks": ..., "world_landmarks": ...}] (schema
blazepose-track/2, blazepose.track_file), the frame's own landmarks being its lowest track id,
and the video labels each person with its id. A progress line (frames, FPS, ETA) goes to
stderr; a window opens only with --show and a display.
"""

from __future__ import annotations

import os
import pathlib
import sys

from absl import app, flags

from blazepose import samples
from blazepose.inference import video
from blazepose.inference.pipeline import load_pipeline
from blazepose.pretrained.files import ModelFileError

_INPUT = flags.DEFINE_string("input", None, "A video file, an image, a folder of images, "
                             "'webcam' / 'webcam:N' (camera index N), or 'sample:NAME', a sample "
                             "fetched from PyPI (sample:sports2d_demo, sample:astronaut).",
                             required=True)
_OUTPUT = flags.DEFINE_string("output", None, "Annotated .mp4 to write (for a single image "
                              "input also .png/.jpg).")
_OUTPUT_JSON = flags.DEFINE_string("output_json", None, "Per-frame landmarks JSON to write.")
_BACKEND = flags.DEFINE_enum("backend", "tflite", ["tflite", "keras"],
                             "TFLite interpreter on .tflite files, or TensorFlow on our Keras "
                             "networks.")
_NUM_THREADS = flags.DEFINE_integer("num_threads", 2, "Inference threads.", lower_bound=1)
_TRACKING = flags.DEFINE_bool("tracking", True, "Place the next crop from the previous frame's "
                              "landmarks; the detector runs only when the pose is lost.")
_SMOOTHING = flags.DEFINE_bool("smoothing", True, "One-euro / low-pass filters on landmarks.")
_SHOW = flags.DEFINE_bool("show", False, "Show a window (needs a display and OpenCV with GUI).")
_MASK_OVERLAY = flags.DEFINE_bool("mask_overlay", False, "Tint the person's segmentation mask.")
_STATIC_IMAGES = flags.DEFINE_bool("static_images", False, "Treat every frame as an independent "
                                   "image (detector each time, no tracking or smoothing).")
_FPS = flags.DEFINE_float("fps", 30.0, "Frame rate of a folder of images.", lower_bound=1e-3)
_MAX_FRAMES = flags.DEFINE_integer("max_frames", 0, "Stop after this many frames (0: all).",
                                   lower_bound=0)
_PROGRESS = flags.DEFINE_bool("progress", True, "Progress line on stderr.")
_LANDMARK_MODEL = flags.DEFINE_string("landmark_model", None, "Our own landmark network: "
                                      ".tflite, .keras or SavedModel directory (default: "
                                      "Google's BlazePose Full for --backend).")
_MODEL_DIR = flags.DEFINE_string("model_dir", None, "A training run (python -m launch.train "
                                 "--model_dir) whose network replaces Google's landmark model.")
_CHECKPOINT = flags.DEFINE_string("checkpoint", "best", "With --model_dir: best (else the "
                                  "latest), latest or a checkpoint prefix.")
_DETECTOR_MODEL = flags.DEFINE_string("detector_model", None, "Our own person detector, likewise "
                                      "(default: Google's for --backend).")
_MAX_PEOPLE = flags.DEFINE_integer("max_people", 1, "People to find and track (1: MediaPipe's "
                                   "single-person pipeline); above 1 each gets a track_id.",
                                   lower_bound=1)
_CACHE_DIR = flags.DEFINE_string("cache_dir", None, "Cache of Google's files (default "
                                 "$BLAZEPOSE_CACHE_DIR or ~/.cache/blazepose).")

_IMAGE_OUTPUTS = (".png", ".jpg", ".jpeg", ".bmp")
SAMPLE_PREFIX = "sample:"


def _fetch_sample(name: str) -> str:
    """The cached path of a sample from :mod:`blazepose.samples` (downloaded once)."""
    try:
        return str(samples.fetch_sample(name))
    except (ValueError, samples.SampleError) as error:
        raise app.UsageError(f"--input {SAMPLE_PREFIX}{name}: {error}") from None


def _check_output(flag: str, path: str | None, extensions: tuple[str, ...]) -> None:
    if path is None:
        return
    target = pathlib.Path(path)
    if target.suffix.lower() not in extensions:
        raise app.UsageError(f"--{flag} {path}: must end in {' or '.join(extensions)}")
    if target.is_dir():
        raise app.UsageError(f"--{flag} {path}: is a folder")
    parent = target.parent if str(target.parent) else pathlib.Path(".")
    if not parent.is_dir():
        raise app.UsageError(f"--{flag} {path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise app.UsageError(f"--{flag} {path}: folder {parent} is not writable")


def _check_model(flag: str, path: str | None) -> None:
    if path is None:
        return
    target = pathlib.Path(path)
    if not target.exists():
        raise app.UsageError(f"--{flag} {path}: no such file or folder")
    if not (target.suffix in (".tflite", ".keras") or (target / "saved_model.pb").exists()):
        raise app.UsageError(f"--{flag} {path}: expected a .tflite or .keras file or a "
                             "SavedModel directory")


@flags.multi_flags_validator(["model_dir", "landmark_model"],
                             message="give at most one of --model_dir and --landmark_model")
def _one_landmark_model(values):
    return values["model_dir"] is None or values["landmark_model"] is None


def load_run_model(model_dir: str, checkpoint: str):
    """The landmark network of a training run (:func:`blazepose.train.runs.load_run`), with the
    outputs the pipeline reads; raises app.UsageError naming the flag."""
    from blazepose.train import runs  # TF and Keras: only for --model_dir

    try:
        run = runs.load_run(model_dir, checkpoint)
        model = run.pipeline_model()
    except runs.RunError as error:
        raise app.UsageError(f"--model_dir {error}") from None
    print(f"landmark model: {model_dir}'s {run.describe()}", file=sys.stderr)
    return model


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    # Everything the flags name is checked before any model is loaded.

    input_path = _INPUT.value
    if input_path.startswith(SAMPLE_PREFIX):
        input_path = _fetch_sample(input_path[len(SAMPLE_PREFIX):])
    try:
        source = video.open_source(input_path, images_fps=_FPS.value)
    except video.InputError as error:
        raise app.UsageError(f"--input {error}") from None
    output_kinds = video.VIDEO_OUTPUT_EXTENSIONS + (
        _IMAGE_OUTPUTS if source.kind == "image" else ())
    _check_output("output", _OUTPUT.value, output_kinds)
    _check_output("output_json", _OUTPUT_JSON.value, (".json",))
    _check_model("landmark_model", _LANDMARK_MODEL.value)
    _check_model("detector_model", _DETECTOR_MODEL.value)
    show = _SHOW.value
    if show:
        ok, reason = video.display_available()
        if not ok:
            print(f"run_video: --show ignored: {reason}; running headless", file=sys.stderr)
            show = False
    if _BACKEND.value == "keras" or _MODEL_DIR.value is not None:  # TensorFlow runs a model
        import tensorflow as tf  # the TFLite path runs without it

        tf.config.threading.set_intra_op_parallelism_threads(_NUM_THREADS.value)
        tf.config.threading.set_inter_op_parallelism_threads(1)

    landmark_model = _LANDMARK_MODEL.value
    if _MODEL_DIR.value is not None:
        try:
            landmark_model = load_run_model(_MODEL_DIR.value, _CHECKPOINT.value)
        except app.UsageError:
            source.close()
            raise
    try:
        pipeline = load_pipeline(
            _BACKEND.value, num_threads=_NUM_THREADS.value, tracking=_TRACKING.value,
            smoothing=_SMOOTHING.value, segmentation=_MASK_OVERLAY.value,
            landmark_model=landmark_model, detector=_DETECTOR_MODEL.value,
            cache_dir=_CACHE_DIR.value, max_people=_MAX_PEOPLE.value)
    except (ValueError, ModelFileError, FileNotFoundError) as error:  # incl. BackendError
        source.close()
        raise SystemExit(f"run_video: cannot load the models: {error}") from None
    try:
        summary = video.process_video(
            source, pipeline, output=_OUTPUT.value, output_json=_OUTPUT_JSON.value, show=show,
            mask_overlay=_MASK_OVERLAY.value, max_frames=_MAX_FRAMES.value or None,
            progress=_PROGRESS.value, static_images=_STATIC_IMAGES.value)
    except video.InputError as error:  # e.g. an unreadable image in the middle of a folder
        raise SystemExit(f"run_video: stopped: {error}") from None
    for warning in summary.warnings:
        print(f"run_video: WARNING: {input_path}: {warning}", file=sys.stderr)
    written = [p for p in (_OUTPUT.value, _OUTPUT_JSON.value) if p]
    print(f"run_video: {summary.frames} frames, pose in {summary.frames_with_pose}, detector "
          f"ran {summary.detector_runs} times, {summary.fps:.1f} FPS"
          + (f"; wrote {', '.join(written)}" if written else ""))


def run():
    app.run(main)


if __name__ == "__main__":
    run()
