r"""Measures repetition counting on generated exercise recordings with known counts.

  python -m launch.evaluate_counting                                  # 100 per exercise, rule
  python -m launch.evaluate_counting --sequences=200 --counter=rule,knn --seed=7
  python -m launch.evaluate_counting --depth=2d                       # no world landmarks, no z

The recordings and their degradations are described in ``blazepose.synthesis.tracks``
(motion model of ``datasets_tfds/synthetic_pose``; extra noise, dropped frames, low visibility,
legs out of the frame, speed changes, mirrored videos); recording ``i`` of exercise ``e`` is a
pure function of ``(seed, e, i)``.

Prints a table (exercise, sequences, exact-count rate, mean absolute error, mean IoU of the
repetition intervals of exactly counted sequences) per counter, and as its last line one JSON
object with the figures. The k-NN counter is trained on frames of other generated recordings
(seed + 1000): ``down`` frames are those at 75% or more of the way to the turning point and
``up`` frames those within 10% of rest, measured on the noise-free 3-D landmarks.
"""

from __future__ import annotations

import json
import math
import sys
import time

from absl import app, flags

from blazepose.analysis.counting import EXERCISES
from blazepose.synthesis.tracks import NO_DEGRADATIONS, Degradations, evaluate, format_table

_SEQUENCES = flags.DEFINE_integer("sequences", 100, "Recordings per exercise.", lower_bound=1)
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the recordings.")
_EXERCISES = flags.DEFINE_list("exercises", None, "Exercises (default: all five).")
_COUNTER = flags.DEFINE_list("counter", ["rule"], "Counters to measure: rule, knn.")
_DEPTH = flags.DEFINE_enum("depth", "world", ["world", "image", "2d"],
                           "What the tracks carry: world landmarks (and image z), image "
                           "landmarks with z only, or image x, y only.")
_DEGRADE = flags.DEFINE_bool("degrade", True, "Apply the extra degradations (else only the "
                             "tracker faults of the motion model).")
_KNN_TRAIN = flags.DEFINE_integer("knn_train_sequences", 24,
                                  "Recordings per exercise the k-NN samples come from.",
                                  lower_bound=1)

KNOWN_COUNTERS = ("rule", "knn")


def _validated_flags() -> tuple[tuple[str, ...], tuple[str, ...]]:
    exercises = tuple(_EXERCISES.value or EXERCISES)
    unknown = [e for e in exercises if e not in EXERCISES]
    if unknown:
        raise app.UsageError(f"--exercises: unknown {unknown}; known: {', '.join(EXERCISES)}")
    counters = tuple(_COUNTER.value)
    bad = [c for c in counters if c not in KNOWN_COUNTERS]
    if bad or not counters:
        raise app.UsageError(f"--counter: unknown {bad}; use {', '.join(KNOWN_COUNTERS)}")
    return exercises, counters


def _json_number(value):
    """Rounded floats; NaN (no interval to compare) as null so the line stays valid JSON."""
    if isinstance(value, float):
        return round(value, 4) if math.isfinite(value) else None
    return value


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    exercises, counters = _validated_flags()
    started = time.perf_counter()
    results = evaluate(exercises, _SEQUENCES.value, _SEED.value, counters, _DEPTH.value,
                       Degradations() if _DEGRADE.value else NO_DEGRADATIONS, _KNN_TRAIN.value,
                       log=lambda message: print(message, file=sys.stderr, flush=True))
    print(format_table(results))
    summary = {
        "seed": _SEED.value, "depth": _DEPTH.value, "degrade": _DEGRADE.value,
        "seconds": round(time.perf_counter() - started, 1),
        "results": {counter: {exercise: {k: _json_number(v)
                                         for k, v in figures.items() if k != "failures"}
                              for exercise, figures in per_exercise.items()}
                    for counter, per_exercise in results.items()},
    }
    failures = {f"{c}/{e}": figures["failures"] for c, per in results.items()
                for e, figures in per.items() if figures["failures"]}
    if failures:
        print("first failures: " + json.dumps(failures), file=sys.stderr)
    print(json.dumps(summary))


def run():
    app.run(main)


if __name__ == "__main__":
    run()
