r"""Images/second of the training input pipeline beside a decode+resize-only pipeline.

  python benchmarks/input_pipeline.py --data_dir=FOLDER_IN_CUSTOM_FORMAT
  python benchmarks/input_pipeline.py --data_dir=/tmp/bench_folder --make_images=2000

FOLDER is in the custom format (tf-blazepose layout: images/ + train.json); --make_images first
writes that many JPEGs (--make_size, default 640x480) with 16 keypoints there (backgrounds cut
from a real photo, so the JPEGs have real-photo statistics). The folder is built into TFDS
records once (custom_pose), then each pipeline runs in its own fresh process, alternating,
--rounds times:

  train          the full training pipeline: 256x256 crops, default augmentation, heatmaps
  train_all_aug  the same with every augmentation at probability 1 (worst case)
  decode_resize  decode the JPEG and resize it to 256x256, nothing else

Prints a table (median images/s over rounds with the slowest and fastest round, CPU time per
image, peak RSS of each process) and, as the last line, one JSON object with the figures
(``images_per_s``, ``decode_resize_images_per_s``, ``cpu_ms_per_image``, ...).
"""

from __future__ import annotations

import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile

from absl import app, flags

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

_DATA_DIR = flags.DEFINE_string("data_dir", None, "Folder in the custom format.", required=True)
_MAKE_IMAGES = flags.DEFINE_integer("make_images", 0,
                                    "First write this many images into --data_dir.")
_MAKE_SIZE = flags.DEFINE_string("make_size", "640x480",
                                 "WIDTHxHEIGHT of the images --make_images writes.")
_TFDS_DIR = flags.DEFINE_string("tfds_dir", None, "Where to build the TFDS records "
                                "(default: a temporary folder).")
_IMAGES = flags.DEFINE_integer("images", 3000, "Images timed per run.", lower_bound=64)
_BATCH = flags.DEFINE_integer("batch_size", 32, "Batch size.", lower_bound=1)
_ROUNDS = flags.DEFINE_integer("rounds", 2, "Alternating rounds of the pipelines.", lower_bound=1)
_WORKER = flags.DEFINE_string("worker", None, "Internal: run one pipeline and print its figures.")
_TFDS_NAME = flags.DEFINE_string("tfds_name", "custom_pose/auto", "Internal: TFDS name.")

ORIGINAL_PROJECT_IMAGES_PER_S = {"with augmentation": 62.0, "without augmentation": 155.0}
PIPELINES = ("train", "train_all_aug", "decode_resize")


def _parse_size(text: str) -> tuple[int, int]:
    """"640x480" -> (height, width)."""
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise app.UsageError(
            f"--make_size must be WIDTHxHEIGHT, e.g. 640x480, got {text!r}") from None
    if width < 64 or height < 64:
        raise app.UsageError(f"--make_size {text} is too small (at least 64x64)")
    return height, width


def _first_image_size(folder: pathlib.Path) -> str:
    import tensorflow as tf

    first = min((folder / "images").iterdir())
    height, width = tf.image.extract_jpeg_shape(tf.io.read_file(str(first)))[:2].numpy()
    return f"{width}x{height}"


def _make_images(folder: pathlib.Path, count: int, size: tuple[int, int]) -> None:
    import tensorflow as tf

    from blazepose import samples
    from blazepose.data import custom_format

    photo = tf.io.decode_png(tf.io.read_file(str(samples.fetch_sample("astronaut"))), 3).numpy()
    custom_format.write_random_people(folder, {"train": count}, image_size=size,
                                      num_keypoints=16, seed=0, photo=photo)


def _build_tfds(folder: pathlib.Path, tfds_dir: pathlib.Path) -> None:
    import tensorflow_datasets as tfds

    import datasets_tfds.custom_pose.custom_pose_dataset_builder  # noqa: F401

    builder = tfds.builder(_TFDS_NAME.value, data_dir=str(tfds_dir))
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
        manual_dir=str(folder)))


def _run_worker(kind: str, tfds_dir: str) -> dict:
    """One pipeline, timed in this process."""
    import dataclasses
    import resource
    import time

    import tensorflow as tf
    import tensorflow_datasets as tfds

    import datasets_tfds.custom_pose.custom_pose_dataset_builder  # noqa: F401
    from blazepose.data import pipeline
    from blazepose.data.config import AugmentConfig, PipelineConfig

    source = pipeline.DataSource(_TFDS_NAME.value, data_dir=tfds_dir)
    if kind == "decode_resize":
        builder = tfds.builder(source.name, data_dir=tfds_dir)
        dataset = builder.as_dataset(split="train", shuffle_files=True,
                                     decoders={"image": tfds.decode.SkipDecoding()})
        dataset = dataset.repeat().map(
            lambda r: tf.image.resize(tf.io.decode_jpeg(r["image"], channels=3), (256, 256)),
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=False)
        dataset = dataset.batch(_BATCH.value, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
    else:
        config = PipelineConfig()
        if kind == "train_all_aug":
            probabilities = {f.name: 1.0 for f in dataclasses.fields(AugmentConfig)
                             if f.name.endswith("probability")}
            config = dataclasses.replace(config, augment=AugmentConfig(**probabilities))
        dataset = pipeline.build_dataset([source], config, _BATCH.value)
    iterator = iter(dataset)
    for _ in range(3):  # warm-up: file opening, autotuning
        next(iterator)
    batches = _IMAGES.value // _BATCH.value

    def cpu_seconds():
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    start, start_cpu = time.perf_counter(), cpu_seconds()
    for _ in range(batches):
        next(iterator)
    elapsed, cpu = time.perf_counter() - start, cpu_seconds() - start_cpu
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    images = batches * _BATCH.value
    return {"images_per_s": images / elapsed, "cpu_ms_per_image": 1000 * cpu / images,
            "peak_rss_mib": peak_mib}


def main(argv):
    del argv
    if _WORKER.value:
        print(json.dumps(_run_worker(_WORKER.value, _TFDS_DIR.value)))
        return
    folder = pathlib.Path(_DATA_DIR.value)
    size = _parse_size(_MAKE_SIZE.value)
    if _MAKE_IMAGES.value:
        _make_images(folder, _MAKE_IMAGES.value, size)
    if not (folder / "images").is_dir():
        raise app.UsageError(f"--data_dir {folder} has no images/ folder; is it in the custom "
                             "format? (--make_images=N writes one)")
    with tempfile.TemporaryDirectory() as scratch:
        tfds_dir = pathlib.Path(_TFDS_DIR.value or scratch)
        _build_tfds(folder, tfds_dir)
        results: dict[str, list[dict]] = {kind: [] for kind in PIPELINES}
        for _ in range(_ROUNDS.value):
            for kind in PIPELINES:
                command = [sys.executable, __file__, f"--data_dir={folder}",
                           f"--tfds_dir={tfds_dir}", f"--worker={kind}",
                           f"--images={_IMAGES.value}", f"--batch_size={_BATCH.value}",
                           f"--tfds_name={_TFDS_NAME.value}"]
                output = subprocess.run(command, capture_output=True, text=True, check=True)
                results[kind].append(json.loads(output.stdout.strip().splitlines()[-1]))
    rate = {k: statistics.median(r["images_per_s"] for r in v) for k, v in results.items()}
    spread = {k: (min(r["images_per_s"] for r in v), max(r["images_per_s"] for r in v))
              for k, v in results.items()}
    cpu = {k: statistics.median(r["cpu_ms_per_image"] for r in v) for k, v in results.items()}
    peak = {k: max(r["peak_rss_mib"] for r in v) for k, v in results.items()}
    print(f"{os.cpu_count()} CPUs, batch {_BATCH.value}, {_IMAGES.value} images per run, "
          f"median of {_ROUNDS.value} alternating rounds, {_first_image_size(folder)} JPEGs "
          "-> 256x256 crops")
    header = (f"{'pipeline':16} {'images/s':>9} {'(min-max)':>13} {'vs decode+resize':>17} "
              f"{'CPU ms/image':>13} {'peak RSS MiB':>13}")
    print(header)
    print("-" * len(header))
    for kind in PIPELINES:
        low, high = spread[kind]
        print(f"{kind:16} {rate[kind]:9.1f} {f'({low:.0f}-{high:.0f})':>13} "
              f"{rate[kind] / rate['decode_resize']:16.0%} {cpu[kind]:13.2f} {peak[kind]:13.0f}")
    print("CPU ms/image: process CPU time (all threads) per image, median over rounds; it varies "
          "less than images/s on a shared machine.")
    for label, value in ORIGINAL_PROJECT_IMAGES_PER_S.items():
        print(f"{'original ' + label.split()[0]:16} {value:9.1f}   (tf-blazepose's OpenCV+imgaug "
              f"pipeline {label}, measured on this machine type, not re-run)")
    print(json.dumps({
        "images_per_s": round(rate["train"], 1),
        "images_per_s_all_augmentation": round(rate["train_all_aug"], 1),
        "decode_resize_images_per_s": round(rate["decode_resize"], 1),
        "ratio_to_decode_resize": round(rate["train"] / rate["decode_resize"], 3),
        "speedup_vs_original": round(rate["train"] / 62.0, 2),
        "cpu_ms_per_image": {k: round(v, 3) for k, v in cpu.items()},
        "images_per_s_min_max": {k: [round(x, 1) for x in v] for k, v in spread.items()},
        "peak_rss_mib": {k: round(v) for k, v in peak.items()},
    }))


if __name__ == "__main__":
    app.run(main)
