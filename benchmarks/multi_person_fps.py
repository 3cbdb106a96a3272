r"""Frames/s of the multi-person pipeline at 1080p with 1, 2 and 4 people (TFLite, 2 threads).

  python benchmarks/multi_person_fps.py [--frames=60] [--rounds=3] [--num_threads=2]

Clips: generated people (blazepose.synthesis.crowd, standing apart, exercising) rendered at
1920x1080 and encoded as MPEG-4 once. Each configuration runs
``blazepose.inference.video.process_video`` with an annotated .mp4 and the JSON written, exactly
as ``python -m launch.run_video --input=CLIP --max_people=N --output=OUT.mp4
--output_json=OUT.json`` (decode and encode in their own threads): that is the end-to-end FPS.
Beside it, the pipeline alone (``process_frame_people`` on decoded frames, tracking on) and
its stages per frame, and the landmark network's bare ``invoke()`` time. Configurations run in
alternating rounds: medians over rounds, and the best round (highest FPS, lowest pipeline
time; on a shared machine the least disturbed by other work). The cost per extra person is the
least-squares slope of pipeline milliseconds over 1, 2 and 4 people (max_people=4), from the
medians and from the best rounds; its target is the landmark network's own time (median and
fastest call) plus 20 %. Prints a table and, as the last line, one JSON object.
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

_FRAMES = flags.DEFINE_integer("frames", 60, "Frames per clip.", lower_bound=10)
_ROUNDS = flags.DEFINE_integer("rounds", 3, "Alternating rounds over the configurations.",
                               lower_bound=1)
_NUM_THREADS = flags.DEFINE_integer("num_threads", 2, "TFLite interpreter threads.",
                                    lower_bound=1)
_TARGET_FPS = 25.0
_EXTRA_PERSON_BUDGET = 1.2  # x the landmark network's own time
_CONFIGS = (("1 person, max_people=1", 1, 1), ("1 person", 1, 4), ("2 people", 2, 4),
            ("4 people", 4, 4))


def make_clip(path: str, people: int, frames: int) -> list:
    """Renders ``people`` at 1080p into an mp4 at ``path``; returns the RGB frames too."""
    import cv2
    import numpy as np

    from blazepose.synthesis import crowd

    clip = crowd.generate_clip(np.random.default_rng([7, people]), people, crossing=False,
                               num_frames=frames, width=1920, height=1080, seed=people)
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), clip.fps, (1920, 1080))
    rgb_frames = []
    for index in range(frames):
        rgb = crowd.render_frame(clip, index)
        rgb_frames.append(rgb)
        writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    writer.release()
    return rgb_frames


def pipeline_alone(pipeline, frames: list) -> dict:
    """Per-frame milliseconds of process_frame_people and of its stages; people found."""
    pipeline.reset()
    totals: dict[str, float] = {}
    found = []
    start = time.perf_counter()
    for index, frame in enumerate(frames):
        people = pipeline.process_frame_people(frame, index / 30.0)
        found.append(len(people))
        for key, value in pipeline.last_timings.items():
            totals[key] = totals.get(key, 0.0) + value
    elapsed = (time.perf_counter() - start) * 1e3 / len(frames)
    stages = {key: value / len(frames) for key, value in totals.items()}
    return {"pipeline_ms": elapsed, "people_mean": sum(found) / len(found), **stages}


def end_to_end_fps(pipeline, clip: str, scratch: str) -> float:
    from blazepose.inference import video

    source = video.open_source(clip)
    summary = video.process_video(source, pipeline, output=os.path.join(scratch, "out.mp4"),
                                  output_json=os.path.join(scratch, "out.json"),
                                  progress=False)
    return summary.fps


def main(argv):
    del argv
    import numpy as np

    from blazepose.inference.pipeline import load_pipeline

    pipelines = {max_people: load_pipeline("tflite", num_threads=_NUM_THREADS.value,
                                           max_people=max_people) for max_people in (1, 4)}
    landmark_input = np.random.default_rng(0).random((256, 256, 3), dtype=np.float32)
    keys = ["landmarks", "world_landmarks", "pose_flag", "heatmap"]
    invoke_times = call_times_ms(lambda: pipelines[1].landmark_model(landmark_input, keys), 50)
    landmark_ms, landmark_best_ms = statistics.median(invoke_times), invoke_times[0]
    with tempfile.TemporaryDirectory() as scratch:
        clips, frames = {}, {}
        for people in sorted({people for _, people, _ in _CONFIGS}):
            clips[people] = os.path.join(scratch, f"people{people}.mp4")
            print(f"rendering {people} people at 1920x1080 ...", file=sys.stderr, flush=True)
            frames[people] = make_clip(clips[people], people, _FRAMES.value)
        runs: dict[str, list] = {name: [] for name, _, _ in _CONFIGS}
        for round_index in range(_ROUNDS.value):
            for name, people, max_people in _CONFIGS:
                pipeline = pipelines[max_people]
                alone = pipeline_alone(pipeline, frames[people])
                alone["fps"] = end_to_end_fps(pipeline, clips[people], scratch)
                runs[name].append(alone)
            print(f"round {round_index + 1}/{_ROUNDS.value} done", file=sys.stderr, flush=True)
    figures = {}
    for name, people, max_people in _CONFIGS:
        keys_seen = set().union(*runs[name])
        figures[name] = {key: statistics.median(r.get(key, 0.0) for r in runs[name])
                         for key in sorted(keys_seen)}
        figures[name].update(people=people, max_people=max_people,
                             best_fps=max(r["fps"] for r in runs[name]),
                             best_pipeline_ms=min(r["pipeline_ms"] for r in runs[name]))
    multi = [(people, figures[name]["pipeline_ms"]) for name, people, max_people in _CONFIGS
             if max_people == 4]
    counts, times = np.array(multi, np.float64).T
    slope = float(np.polyfit(counts, times, 1)[0])
    best_times = [figures[name]["best_pipeline_ms"] for name, _, max_people in _CONFIGS
                  if max_people == 4]
    best_slope = float(np.polyfit(counts, best_times, 1)[0])
    print(f"{'configuration':<24} {'people found':>12} {'end-to-end FPS':>14} {'best':>5} "
          f"{'pipeline ms':>11} {'best':>5} {'landmark ms':>11} {'crop ms':>7} "
          f"{'detector ms':>11} {'filters ms':>10}")
    for name, _, _ in _CONFIGS:
        f = figures[name]
        print(f"{name:<24} {f['people_mean']:>12.2f} {f['fps']:>14.1f} {f['best_fps']:>5.1f} "
              f"{f['pipeline_ms']:>11.1f} {f['best_pipeline_ms']:>5.1f} "
              f"{f.get('landmark_ms', 0.0):>11.1f} {f.get('crop_ms', 0.0):>7.1f} "
              f"{f.get('detector_ms', 0.0):>11.1f} {f.get('filters_ms', 0.0):>10.2f}")
    budget = _EXTRA_PERSON_BUDGET * landmark_ms
    best_budget = _EXTRA_PERSON_BUDGET * landmark_best_ms
    print(f"landmark network invoke(): {landmark_ms:.1f} ms median, {landmark_best_ms:.1f} ms "
          f"fastest; cost per extra person (slope over 1, 2, 4 people): {slope:.1f} ms from "
          f"medians (budget {budget:.1f}), {best_slope:.1f} ms from best rounds (budget "
          f"{best_budget:.1f})")
    two, two_best = figures["2 people"]["fps"], figures["2 people"]["best_fps"]
    print(f"2 people at 1080p: {two:.1f} FPS end to end (best round {two_best:.1f}; target "
          f"{_TARGET_FPS:.0f})")
    print(json.dumps({"num_threads": _NUM_THREADS.value, "frames": _FRAMES.value,
                      "rounds": _ROUNDS.value, "landmark_invoke_ms": round(landmark_ms, 2),
                      "landmark_invoke_best_ms": round(landmark_best_ms, 2),
                      "extra_person_ms": round(slope, 2),
                      "extra_person_budget_ms": round(budget, 2),
                      "extra_person_best_ms": round(best_slope, 2),
                      "extra_person_best_budget_ms": round(best_budget, 2),
                      "two_people_fps": round(two, 1), "two_people_best_fps": round(two_best, 1),
                      "target_fps": _TARGET_FPS,
                      "configurations": {name: {k: round(v, 3) if isinstance(v, float) else v
                                                for k, v in f.items()}
                                         for name, f in figures.items()}}))


if __name__ == "__main__":
    app.run(main)
