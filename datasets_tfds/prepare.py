"""Preparing the data sets a program reads: the one place that registers the builders.

The library (``blazepose``) reads prepared data sets through ``tfds.builder(name,
data_dir=...)`` and never imports this package; the ``launch`` programs call :func:`prepare`
first, so generated data sets (``synthetic_pose``) build on first use and manual ones stop with
TFDS's message naming the files to place.
"""

from __future__ import annotations

from collections.abc import Iterable

import tensorflow_datasets as tfds

import datasets_tfds


def prepare(name: str, data_dir: str | None = None, split: str | None = None,
            flag: str | None = None, manual_dir: str | None = None,
            overwrite: bool = False) -> tfds.core.DatasetBuilder:
    """Registers the project's builders, builds ``name`` (``"builder/config"``) into
    ``data_dir`` unless it is prepared there, and returns its builder.

    Args:
      name: a TFDS name, e.g. ``"synthetic_pose/tiny"`` or ``"custom_pose/my_set"``.
      data_dir: TFDS's data directory (default: TFDS's own).
      split: when given, a split that must exist (e.g. ``"validation"``).
      flag: the command-line flag that named the data set, for the error message.
      manual_dir: the folder a manual data set is built from (``tfds build --manual_dir``).
      overwrite: build again even when a prepared copy exists (it is replaced).

    Raises:
      ValueError: unknown data set, or no such split; the message names ``flag`` and ``name``.
    """
    datasets_tfds.register_builders()
    where = f"{flag} {name}" if flag else f"data set {name}"
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        # TFDS's own message lists its hundreds of catalogue names: name the project's.
        ours = ", ".join(sorted(module.split(".")[1] for module in
                                datasets_tfds.BUILDER_MODULES))
        raise ValueError(f"{where}: no such data set; this project builds {ours} "
                         "(name/config, e.g. synthetic_pose/tiny), and any TFDS catalogue "
                         "name works too") from None
    except Exception as error:  # TFDS raises ValueError (unknown config), ...
        raise ValueError(f"{where}: {str(error).strip().splitlines()[0]}") from error
    mode = (tfds.download.GenerateMode.REUSE_CACHE_IF_EXISTS if overwrite
            else tfds.download.GenerateMode.REUSE_DATASET_IF_EXISTS)
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
        manual_dir=manual_dir, download_mode=mode))
    if split is not None:
        # "train[:90%]+validation" reads the splits train and validation.
        missing = [part for part in split_names(split) if part not in builder.info.splits]
        if missing:
            raise ValueError(f"{where} has no split {missing[0]!r} (asked for {split!r}); it "
                             f"has {sorted(builder.info.splits)}")
    return builder


def split_names(split: str) -> list[str]:
    """The split names a TFDS split expression reads: ``"train[:90%]+validation"`` ->
    ``["train", "validation"]``."""
    return [part.split("[", 1)[0].strip() for part in split.split("+") if part.strip()]


def prepare_sources(sources: Iterable, flag: str | None = None) -> None:
    """:func:`prepare` for each distinct data set of ``sources`` (objects with ``name``,
    ``split`` and ``data_dir``, e.g. :class:`blazepose.data.pipeline.DataSource`), checking
    that each split they read exists (so that a missing split fails before any model loads)."""
    seen = set()
    for source in sources:
        if (source.name, source.data_dir, source.split) in seen:
            continue
        seen.add((source.name, source.data_dir, source.split))
        prepare(source.name, source.data_dir, split=source.split, flag=flag)
