r"""Pose classification on a TFDS image data set (Yoga-82): landmarks, k-NN and MLP, accuracy.

  python -m launch.classify_poses --data_dir=~/tensorflow_datasets --cache=yoga82_landmarks.npz
  python -m launch.classify_poses --cache=yoga82_landmarks.npz --levels=82   # cache only

1. Landmarks: every image of the train and test splits goes through our pretrained pipeline
   (``blazepose.inference.PosePipeline.from_pretrained(backend=..., tracking=False,
   smoothing=False).process_image``); images without a detected person are counted and
   reported. The landmarks are cached in ``--cache`` (.npz), and splits already in the cache
   are not extracted again (``--refresh`` forces it).
2. Training: a k-NN classifier (MediaPipe's two-stage search) and a small Keras MLP over the
   normalised pose embedding (``blazepose.analysis.classification``), per label level.
3. Report: accuracy on the test split per level (``label_6``, ``label_20``, ``label_82``) and
   classifier, over the test images with a detected person, and over all listed test images
   (images without a person count as wrong), as a table and a final JSON line.

Cache layout (.npz): for each split S, ``S_landmarks`` float32 ``[N, 33, 5]`` (x, y pixels, z,
visibility, presence; NaN where no person was found), ``S_image_ids`` (str ``[N]``),
``S_label_6`` / ``S_label_20`` / ``S_label_82`` int64 ``[N]``; and ``meta`` (a JSON string:
data set name, class names per level).
"""

from __future__ import annotations

import json
import os
import sys
import time

from absl import app, flags

from blazepose.analysis.classification import (
    evaluate_landmark_cache,
    extract_split_landmarks,
    format_classification_report,
    read_landmark_cache,
    write_landmark_cache,
)
from datasets_tfds.prepare import prepare

LEVELS = ("6", "20", "82")

_DATASET = flags.DEFINE_string("dataset", "yoga82", "TFDS data set (name or name/config).")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "TFDS data directory.")
_TRAIN_SPLIT = flags.DEFINE_string("train_split", "train", "Split the classifiers learn from.")
_TEST_SPLIT = flags.DEFINE_string("test_split", "test", "Split the accuracy is measured on.")
_CACHE = flags.DEFINE_string("cache", None, "Landmark cache (.npz), read and written.",
                             required=True)
_REFRESH = flags.DEFINE_bool("refresh", False, "Extract again even if the cache has a split.")
_MAX_IMAGES = flags.DEFINE_integer("max_images", None, "At most this many images per split "
                                   "(a quick trial).", lower_bound=1)
_BACKEND = flags.DEFINE_string("backend", "tflite", "Pose pipeline backend.")
_LEVELS = flags.DEFINE_list("levels", list(LEVELS), "Label levels to report: 6, 20, 82.")
_CLASSIFIERS = flags.DEFINE_list("classifiers", ["knn", "mlp"], "knn, mlp.")
_MLP_EPOCHS = flags.DEFINE_integer("mlp_epochs", 60, "MLP training epochs.", lower_bound=1)
_SEED = flags.DEFINE_integer("seed", 0, "MLP seed.")


def validate_flags() -> None:
    """Raises app.UsageError for bad flag values, before any work."""
    bad_levels = [level for level in _LEVELS.value if level not in LEVELS]
    if bad_levels or not _LEVELS.value:
        raise app.UsageError(f"--levels: unknown {bad_levels}; use {', '.join(LEVELS)}")
    bad = [name for name in _CLASSIFIERS.value if name not in ("knn", "mlp")]
    if bad or not _CLASSIFIERS.value:
        raise app.UsageError(f"--classifiers: unknown {bad}; use knn, mlp")
    if not _CACHE.value.endswith(".npz"):
        raise app.UsageError(f"--cache {_CACHE.value}: must end in .npz")
    parent = os.path.dirname(os.path.abspath(_CACHE.value))
    if not os.path.isdir(parent):
        raise app.UsageError(f"--cache {_CACHE.value}: folder {parent} does not exist")
    if _TRAIN_SPLIT.value == _TEST_SPLIT.value:
        raise app.UsageError("--train_split and --test_split must differ")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    validate_flags()

    def log(message):
        print(message, file=sys.stderr, flush=True)

    started = time.perf_counter()
    arrays, meta = read_landmark_cache(_CACHE.value)
    if meta and meta.get("dataset") != _DATASET.value:
        raise app.UsageError(f"--cache {_CACHE.value} holds {meta.get('dataset')!r}, not "
                             f"{_DATASET.value!r}; use another file or --refresh")
    meta.setdefault("dataset", _DATASET.value)
    for split in (_TRAIN_SPLIT.value, _TEST_SPLIT.value):
        if _REFRESH.value or f"{split}_landmarks" not in arrays:
            prepare(_DATASET.value, _DATA_DIR.value, split, flag="--dataset")
            new, names = extract_split_landmarks(_DATASET.value, split, _DATA_DIR.value,
                                                 _BACKEND.value, _MAX_IMAGES.value, log)
            arrays = {k: v for k, v in arrays.items() if not k.startswith(f"{split}_")}
            arrays.update(new)
            meta["class_names"] = names
            write_landmark_cache(_CACHE.value, arrays, meta)
    try:
        report = evaluate_landmark_cache(arrays, meta, _TRAIN_SPLIT.value, _TEST_SPLIT.value,
                                _LEVELS.value, _CLASSIFIERS.value, _MLP_EPOCHS.value, _SEED.value)
    except ValueError as error:
        raise app.UsageError(f"--cache {_CACHE.value}: {error}") from None
    print(format_classification_report(report))
    report.update(dataset=_DATASET.value, cache=_CACHE.value,
                  seconds=round(time.perf_counter() - started, 1))
    print(json.dumps(report))


def run():
    app.run(main)


if __name__ == "__main__":
    run()
