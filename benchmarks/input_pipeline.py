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

  python benchmarks/input_pipeline.py --suite --lsp_data_dir=/path/to/tfds --rounds=3

--suite runs the three pipelines on several data shapes, each against its own decode+resize
ceiling, all alternating in one run (shape by shape within each round):

  current          the folder --make_images writes: 640x480, backgrounds cut from a real photo
  busy_640x480     640x480 JPEGs (quality 90) with pixel noise over the photo (high entropy,
                   large files) and people covering 75-95 % of the frame height
  small_real       LSP's real sports photos (lsp/original train, about 100-400 px, people about
                   150 px tall) read from --lsp_data_dir; without it, generated images of
                   100-400 px with people covering 50-90 % of the height
  hd_small_people  1920x1080 JPEGs, people 10-25 % of the frame height
  png_640x480      640x480 PNG sources (the custom_pose builder stores them re-encoded as JPEG
                   q95, TFDS's default: they decode as a q95 JPEG shape)

Generated folders and their TFDS records go to --suite_dir (kept and reused when given, else a
temporary folder). Per shape it prints a table and the figures the targets are judged on: the
train pipeline's images/s over the shape's decode+resize images/s, and its CPU ms per image
beyond decode+resize, each the median over rounds of the per-round figure (rounds pair the
pipelines), with the range; the last line is one JSON object with every shape's figures.
"""

from __future__ import annotations

import dataclasses
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

_DATA_DIR = flags.DEFINE_string("data_dir", None, "Folder in the custom format (required "
                                "without --suite).")
_SUITE = flags.DEFINE_bool("suite", False, "Run every data shape of the suite (see above).")
_SUITE_DIR = flags.DEFINE_string("suite_dir", None, "Where --suite writes its generated folders "
                                 "and records, reused when present (default: a temporary folder).")
_SUITE_IMAGES = flags.DEFINE_integer("suite_images", 300, "Images per generated suite folder.",
                                     lower_bound=32)
_SHAPES = flags.DEFINE_list("shapes", None, "With --suite: only these shapes (default: all).")
_LSP_DATA_DIR = flags.DEFINE_string("lsp_data_dir", None, "TFDS data dir holding a prepared "
                                    "lsp/original, for --suite's small_real shape.")
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
TARGET_RATIO = 0.75
TARGET_CPU_MS_BEYOND = 0.5
TARGET_640X480_IMAGES_PER_S = 500.0


@dataclasses.dataclass(frozen=True)
class Shape:
    """One data shape of --suite: how to generate its folder (``write_random_people``
    arguments), or an existing TFDS data set (``tfds_name`` in ``--lsp_data_dir``)."""

    name: str
    description: str
    size: tuple[int, int] = (480, 640)  # height, width
    options: tuple = ()  # more write_random_people keyword arguments, as (key, value) pairs
    tfds_name: str | None = None
    is_640x480: bool = False


SHAPES = (
    Shape("current", "640x480 JPEGs q90, real-photo backgrounds, people 30-80 % of the height",
          is_640x480=True),
    Shape("busy_640x480", "640x480 JPEGs q90, noisy high-entropy backgrounds, people 75-95 % "
          "of the height", options=(("noise_std", 40.0), ("box_height_range", (0.75, 0.95))),
          is_640x480=True),
    Shape("small_real", "LSP real sports photos (lsp/original train), about 100-400 px",
          tfds_name="lsp/original"),
    Shape("hd_small_people", "1920x1080 JPEGs q90, people 10-25 % of the height",
          size=(1080, 1920), options=(("box_height_range", (0.1, 0.25)),)),
    Shape("png_640x480", "640x480 PNG sources (stored as JPEG q95, TFDS's default, by the builder)",
          options=(("image_format", "png"),), is_640x480=True),
)
# small_real without --lsp_data_dir: generated, of LSP's sizes.
SMALL_GENERATED = Shape(
    "small_real", "generated 100-400 px JPEGs, people 50-90 % of the height (no "
    "--lsp_data_dir: not real photos)",
    options=(("side_range", (100, 400)), ("box_height_range", (0.5, 0.9))))


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


def _make_images(folder: pathlib.Path, count: int, size: tuple[int, int], **options) -> None:
    import tensorflow as tf

    from blazepose import samples
    from blazepose.data import custom_format

    photo = tf.io.decode_png(tf.io.read_file(str(samples.fetch_sample("astronaut"))), 3).numpy()
    custom_format.write_random_people(folder, {"train": count}, image_size=size,
                                      num_keypoints=16, seed=0, photo=photo, **options)


def _build_tfds(folder: pathlib.Path, tfds_dir: pathlib.Path) -> None:
    import tensorflow_datasets as tfds

    import datasets_tfds

    datasets_tfds.register_builders()
    builder = tfds.builder("custom_pose/auto", data_dir=str(tfds_dir))
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
        manual_dir=str(folder)))


def _run_worker(kind: str, tfds_dir: str) -> dict:
    """One pipeline, timed in this process."""
    import dataclasses
    import resource
    import time

    import tensorflow as tf
    import tensorflow_datasets as tfds

    import datasets_tfds
    from blazepose.data import pipeline
    from blazepose.data.config import AugmentConfig, PipelineConfig

    datasets_tfds.register_builders()
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
    for _ in range(8):  # warm-up: file opening, autotuning, XLA compilations
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


def _run_rounds(datasets: dict[str, tuple[str, str]]) -> dict[str, dict[str, list[dict]]]:
    """Runs every pipeline on every data set (label -> (TFDS name, data dir)) in its own
    process, alternating: each round runs them all once. Returns label -> pipeline -> rounds."""
    results = {label: {kind: [] for kind in PIPELINES} for label in datasets}
    for round_index in range(_ROUNDS.value):
        for label, (tfds_name, tfds_dir) in datasets.items():
            for kind in PIPELINES:
                command = [sys.executable, __file__, f"--tfds_dir={tfds_dir}",
                           f"--worker={kind}", f"--images={_IMAGES.value}",
                           f"--batch_size={_BATCH.value}", f"--tfds_name={tfds_name}"]
                output = subprocess.run(command, capture_output=True, text=True)
                if output.returncode:
                    raise RuntimeError(f"pipeline {kind} on {label} ({tfds_name} in {tfds_dir}) "
                                       f"failed:\n{output.stderr[-3000:]}")
                results[label][kind].append(json.loads(output.stdout.strip().splitlines()[-1]))
            if len(datasets) > 1:
                print(f"round {round_index + 1}/{_ROUNDS.value}: {label} done", flush=True)
    return results


def _summary(results: dict[str, list[dict]]) -> dict:
    """The figures of one data set from its per-round results (see the module docstring)."""
    rate = {k: statistics.median(r["images_per_s"] for r in v) for k, v in results.items()}
    spread = {k: (min(r["images_per_s"] for r in v), max(r["images_per_s"] for r in v))
              for k, v in results.items()}
    cpu = {k: statistics.median(r["cpu_ms_per_image"] for r in v) for k, v in results.items()}
    peak = {k: max(r["peak_rss_mib"] for r in v) for k, v in results.items()}
    ceiling = results["decode_resize"]
    # Per round: the train run beside the decode+resize run of the same round.
    ratios = [t["images_per_s"] / d["images_per_s"] for t, d in zip(results["train"], ceiling)]
    beyond = [t["cpu_ms_per_image"] - d["cpu_ms_per_image"]
              for t, d in zip(results["train"], ceiling)]
    return {"rate": rate, "spread": spread, "cpu": cpu, "peak": peak,
            "ratio": statistics.median(ratios), "ratio_range": (min(ratios), max(ratios)),
            "cpu_beyond": statistics.median(beyond), "cpu_beyond_range": (min(beyond), max(beyond))}


def _print_table(summary: dict) -> None:
    rate, spread, cpu, peak = (summary[k] for k in ("rate", "spread", "cpu", "peak"))
    header = (f"{'pipeline':16} {'images/s':>9} {'(min-max)':>13} {'vs decode+resize':>17} "
              f"{'CPU ms/image':>13} {'peak RSS MiB':>13}")
    print(header)
    print("-" * len(header))
    for kind in PIPELINES:
        low, high = spread[kind]
        print(f"{kind:16} {rate[kind]:9.1f} {f'({low:.0f}-{high:.0f})':>13} "
              f"{rate[kind] / rate['decode_resize']:16.0%} {cpu[kind]:13.2f} {peak[kind]:13.0f}")


def _figures(summary: dict) -> dict:
    rate, spread, cpu, peak = (summary[k] for k in ("rate", "spread", "cpu", "peak"))
    return {
        "images_per_s": round(rate["train"], 1),
        "images_per_s_all_augmentation": round(rate["train_all_aug"], 1),
        "decode_resize_images_per_s": round(rate["decode_resize"], 1),
        "ratio_to_decode_resize": round(summary["ratio"], 3),
        "ratio_to_decode_resize_min_max": [round(x, 3) for x in summary["ratio_range"]],
        "cpu_ms_per_image_beyond_decode_resize": round(summary["cpu_beyond"], 3),
        "cpu_ms_per_image_beyond_min_max": [round(x, 3) for x in summary["cpu_beyond_range"]],
        "cpu_ms_per_image": {k: round(v, 3) for k, v in cpu.items()},
        "images_per_s_min_max": {k: [round(x, 1) for x in v] for k, v in spread.items()},
        "peak_rss_mib": {k: round(v) for k, v in peak.items()},
    }


def _suite_datasets(scratch: pathlib.Path) -> tuple[dict[str, tuple[str, str]], dict[str, Shape]]:
    """Generates (or reuses) each shape's folder and records; label -> (TFDS name, data dir)."""
    wanted = _SHAPES.value or [shape.name for shape in SHAPES]
    unknown = set(wanted) - {shape.name for shape in SHAPES}
    if unknown:
        raise app.UsageError(f"--shapes: unknown {sorted(unknown)}; the suite has "
                             f"{[shape.name for shape in SHAPES]}")
    datasets, shapes = {}, {}
    for shape in SHAPES:
        if shape.name not in wanted:
            continue
        if shape.tfds_name is not None:
            if _LSP_DATA_DIR.value:
                datasets[shape.name] = (shape.tfds_name, _LSP_DATA_DIR.value)
                shapes[shape.name] = shape
                continue
            shape = SMALL_GENERATED
        folder, tfds_dir = scratch / shape.name / "folder", scratch / shape.name / "tfds"
        if not (folder / "train.json").exists():
            print(f"writing {_SUITE_IMAGES.value} images: {shape.name}", flush=True)
            _make_images(folder, _SUITE_IMAGES.value, shape.size, **dict(shape.options))
        if not (tfds_dir / "custom_pose").exists():
            _build_tfds(folder, tfds_dir)
        datasets[shape.name] = ("custom_pose/auto", str(tfds_dir))
        shapes[shape.name] = shape
    return datasets, shapes


def _target_met(summary: dict, shape: Shape) -> bool:
    ok = summary["ratio"] >= TARGET_RATIO or summary["cpu_beyond"] <= TARGET_CPU_MS_BEYOND
    if shape.is_640x480:
        ok = ok and summary["rate"]["train"] >= TARGET_640X480_IMAGES_PER_S
    return ok


def _run_suite() -> None:
    with tempfile.TemporaryDirectory() as temporary:
        scratch = pathlib.Path(_SUITE_DIR.value or temporary)
        datasets, shapes = _suite_datasets(scratch)
        results = _run_rounds(datasets)
    print(f"{os.cpu_count()} CPUs, batch {_BATCH.value}, {_IMAGES.value} images per run, "
          f"median of {_ROUNDS.value} alternating rounds, -> 256x256 crops")
    figures = {}
    for label, per_pipeline in results.items():
        summary = _summary(per_pipeline)
        met = _target_met(summary, shapes[label])
        print(f"\n{label}: {shapes[label].description}")
        _print_table(summary)
        low, high = summary["ratio_range"]
        cpu_low, cpu_high = summary["cpu_beyond_range"]
        print(f"train vs decode+resize: {summary['ratio']:.0%} ({low:.0%}-{high:.0%}); CPU beyond "
              f"decode+resize {summary['cpu_beyond']:.2f} ms/image ({cpu_low:.2f}-{cpu_high:.2f})"
              f"; target {'met' if met else 'NOT met'}")
        figures[label] = {**_figures(summary), "target_met": met}
    print(f"\ntargets: >= {TARGET_RATIO:.0%} of decode+resize or <= {TARGET_CPU_MS_BEYOND} ms CPU "
          f"per image beyond it; >= {TARGET_640X480_IMAGES_PER_S:.0f} images/s on 640x480 shapes. "
          "CPU ms/image: process CPU time (all threads) per image; it varies less than images/s "
          "on a shared machine.")
    print(json.dumps({"rounds": _ROUNDS.value, "images_per_run": _IMAGES.value,
                      "batch_size": _BATCH.value, "shapes": figures}))


def main(argv):
    del argv
    if _WORKER.value:
        print(json.dumps(_run_worker(_WORKER.value, _TFDS_DIR.value)))
        return
    if _SUITE.value:
        _run_suite()
        return
    if not _DATA_DIR.value:
        raise app.UsageError("--data_dir is required (or --suite)")
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
        results = _run_rounds({"folder": ("custom_pose/auto", str(tfds_dir))})["folder"]
    summary = _summary(results)
    print(f"{os.cpu_count()} CPUs, batch {_BATCH.value}, {_IMAGES.value} images per run, "
          f"median of {_ROUNDS.value} alternating rounds, {_first_image_size(folder)} JPEGs "
          "-> 256x256 crops")
    _print_table(summary)
    print("CPU ms/image: process CPU time (all threads) per image, median over rounds; it varies "
          "less than images/s on a shared machine.")
    for label, value in ORIGINAL_PROJECT_IMAGES_PER_S.items():
        print(f"{'original ' + label.split()[0]:16} {value:9.1f}   (tf-blazepose's OpenCV+imgaug "
              f"pipeline {label}, measured on this machine type, not re-run)")
    print(json.dumps({**_figures(summary),
                      "speedup_vs_original": round(summary["rate"]["train"] / 62.0, 2)}))


if __name__ == "__main__":
    app.run(main)
