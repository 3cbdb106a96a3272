r"""End-to-end frames/s of launch.run_video on a 1080p clip, per backend, tracking on and off.

  python benchmarks/run_video_fps.py [--frames=230] [--num_threads=2,1] [--backends=tflite,keras]

The clip is the Sports2D demo (fetched once from the sports2d wheel on PyPI: real footage of
people, 1768x994) upscaled to 1920x1080 and re-encoded as MPEG-4 with OpenCV at run time. Each
configuration runs the same code as `python -m launch.run_video --input=CLIP --output=OUT.mp4
--output_json=OUT.json` (decode in a reader thread, pipeline, drawing and mp4 encoding in a writer
thread) and reports frames/s. Beside it: the bare model invoke() times, and where the time of a
frame goes (decode alone, annotate + encode alone, pipeline stages inside the run). Prints a
table and, as the last line, one JSON object with the figures.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time

from absl import app, flags
from timing import call_times_ms

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

_FRAMES = flags.DEFINE_integer("frames", 230, "Frames per run (the clip has 230).",
                               lower_bound=10)
_NUM_THREADS = flags.DEFINE_list("num_threads", ["2", "1"], "Interpreter threads to compare "
                                  "(TFLite); the Keras backend uses the first (TF intra-op).")
_BACKENDS = flags.DEFINE_list("backends", ["tflite", "keras"], "Backends to run.")
_REPEATS = flags.DEFINE_integer("repeats", 50, "Timed calls for the bare model times.",
                                lower_bound=5)
_TARGET_FPS = 40.0


def make_1080p_clip(path: str, frames: int) -> None:
    import cv2

    from blazepose import samples

    capture = cv2.VideoCapture(str(samples.fetch_sample("sports2d_demo")))
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (1920, 1080))
    written = 0
    while written < frames:
        ok, frame = capture.read()
        if not ok:
            break
        writer.write(cv2.resize(frame, (1920, 1080), interpolation=cv2.INTER_LINEAR))
        written += 1
    writer.release()
    capture.release()


def _median_ms(function, repeats: int) -> float:
    return statistics.median(call_times_ms(function, repeats))


def bare_model_ms(pipeline, repeats: int) -> dict:
    import numpy as np

    rng = np.random.default_rng(0)
    landmark_input = rng.random((256, 256, 3), dtype=np.float32)
    detector_input = rng.uniform(-1, 1, (224, 224, 3)).astype(np.float32)
    keys = ["landmarks", "world_landmarks", "pose_flag", "heatmap"]
    return {"landmark_ms": _median_ms(lambda: pipeline.landmark_model(landmark_input, keys),
                                      repeats),
            "detector_ms": _median_ms(lambda: pipeline.detector(detector_input), repeats)}


def io_alone(clip: str, frames: int, scratch: str) -> dict:
    """Decode alone, and annotate + encode alone (a fixed pose drawn on every frame)."""
    import cv2
    import numpy as np

    from blazepose.inference import annotate, geometry
    from blazepose.inference.pipeline import PoseResult

    capture = cv2.VideoCapture(clip)
    decoded = []
    start = time.perf_counter()
    for _ in range(frames):
        ok, frame = capture.read()
        if not ok:
            break
        if len(decoded) < 30:
            decoded.append(frame)
    decode_ms = (time.perf_counter() - start) * 1e3 / frames
    capture.release()
    rng = np.random.default_rng(0)
    landmarks = np.concatenate([rng.uniform(600, 1200, (33, 2)), rng.uniform(0, 1, (33, 3))],
                               axis=1).astype(np.float32)
    result = PoseResult(landmarks, np.zeros((33, 3), np.float32),
                        geometry.Roi(900.0, 540.0, 800.0, 0.1), 0.99)
    writer = cv2.VideoWriter(os.path.join(scratch, "encode.mp4"),
                             cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (1920, 1080))
    annotate_ms = encode_ms = 0.0
    for index in range(frames):
        frame = decoded[index % len(decoded)].copy()
        start = time.perf_counter()
        annotate.annotate(frame, result, fps=40.0)
        middle = time.perf_counter()
        writer.write(frame)
        encode_ms += time.perf_counter() - middle
        annotate_ms += middle - start
    writer.release()
    return {"decode_ms": decode_ms, "annotate_ms": annotate_ms * 1e3 / frames,
            "encode_ms": encode_ms * 1e3 / frames}


class _StageClock:
    """Wraps a pipeline and sums its stage timings over a run."""

    def __init__(self, pipeline):
        self.pipeline = pipeline
        self.totals: dict[str, float] = {}
        self.calls = 0
        self.total_ms = 0.0

    def __getattr__(self, name):
        return getattr(self.pipeline, name)

    def process_frame(self, frame, timestamp_s):
        start = time.perf_counter()
        result = self.pipeline.process_frame(frame, timestamp_s)
        self.total_ms += (time.perf_counter() - start) * 1e3
        self.calls += 1
        for key, value in self.pipeline.last_timings.items():
            self.totals[key] = self.totals.get(key, 0.0) + value
        return result

    def per_frame(self) -> dict:
        split = {key: value / self.calls for key, value in self.totals.items()}
        split["pipeline_ms"] = self.total_ms / self.calls
        return split


def configurations(backends, threads):
    """(backend, threads, tracking): every backend with tracking on and off at the first thread
    count; TFLite also with tracking at the other thread counts."""
    configs = []
    for backend in backends:
        configs += [(backend, threads[0], True), (backend, threads[0], False)]
        if backend == "tflite":
            configs += [(backend, count, True) for count in threads[1:]]
    return configs


def main(argv):
    del argv
    import tensorflow as tf

    threads = [int(t) for t in _NUM_THREADS.value]
    tf.config.threading.set_intra_op_parallelism_threads(threads[0])
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from blazepose.inference import video
    from blazepose.inference.pipeline import load_pipeline

    results, rows = {}, []
    with tempfile.TemporaryDirectory() as scratch:
        clip = os.path.join(scratch, "demo_1080p.mp4")
        make_1080p_clip(clip, _FRAMES.value)
        io = io_alone(clip, _FRAMES.value, scratch)
        for backend, count, tracking in configurations(_BACKENDS.value, threads):
            pipeline = load_pipeline(backend, num_threads=count, tracking=tracking)
            bare = bare_model_ms(pipeline, _REPEATS.value)
            clock = _StageClock(pipeline)
            source = video.open_source(clip)
            cpu_start = time.process_time()
            summary = video.process_video(
                source, clock, output=os.path.join(scratch, "out.mp4"),
                output_json=os.path.join(scratch, "out.json"), progress=False)
            cpu_ms = (time.process_time() - cpu_start) * 1e3 / summary.frames
            name = f"{backend}_t{count}_{'tracking' if tracking else 'notracking'}"
            model_fps = 1e3 / (bare["landmark_ms"] + (0 if tracking else bare["detector_ms"]))
            results[name] = {
                "end_to_end_fps": round(summary.fps, 2), "frames": summary.frames,
                "frames_with_pose": summary.frames_with_pose,
                "detector_runs": summary.detector_runs, "cpu_ms_per_frame": round(cpu_ms, 2),
                "bare_landmark_ms": round(bare["landmark_ms"], 2),
                "bare_detector_ms": round(bare["detector_ms"], 2),
                "bare_model_fps": round(model_fps, 1),
                "per_frame_ms": {k: round(v, 2) for k, v in clock.per_frame().items()}}
            rows.append((name, summary.fps, model_fps, bare, summary, clock.per_frame(), cpu_ms))

    print(f"1920x1080 MPEG-4 clip, {_FRAMES.value} frames, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.2f} after the runs, TF {tf.__version__}")
    header = (f"{'configuration':24} {'end-to-end FPS':>14} {'bare model FPS':>14} "
              f"{'landmark ms':>11} {'detector ms':>11} {'pipeline ms':>11} {'CPU ms/frame':>12} "
              f"{'detector runs':>13}")
    print(header)
    print("-" * len(header))
    for name, fps, model_fps, bare, summary, split, cpu_ms in rows:
        print(f"{name:24} {fps:14.1f} {model_fps:14.1f} {bare['landmark_ms']:11.2f} "
              f"{bare['detector_ms']:11.2f} {split['pipeline_ms']:11.2f} {cpu_ms:12.1f} "
              f"{summary.detector_runs:>6}/{summary.frames:<6}")
    print(f"I/O alone per frame: decode {io['decode_ms']:.2f} ms, annotate "
          f"{io['annotate_ms']:.2f} ms, encode {io['encode_ms']:.2f} ms")
    for name, *_, split, _ in rows:
        parts = ", ".join(f"{k[:-3]} {v:.2f}" for k, v in split.items() if k != "pipeline_ms")
        print(f"{name}: pipeline {split['pipeline_ms']:.2f} ms/frame = {parts} (ms, averaged "
              "over all frames)")
    target = results.get(f"tflite_t{threads[0]}_tracking", {}).get("end_to_end_fps")
    if target is not None:
        print(f"target >= {_TARGET_FPS:.0f} FPS with tracking on TFLite, {threads[0]} threads: "
              f"{'met' if target >= _TARGET_FPS else 'MISSED'} ({target:.1f})")
    print(json.dumps({"clip": "sports2d demo upscaled to 1920x1080 mp4v",
                      "frames": _FRAMES.value,
                      "load_average": round(os.getloadavg()[0], 2),
                      "io_alone_ms": {k: round(v, 2) for k, v in io.items()},
                      "target_fps": _TARGET_FPS, "results": results}))


if __name__ == "__main__":
    app.run(main)
