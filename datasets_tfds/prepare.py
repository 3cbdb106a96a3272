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
            flag: str | None = None) -> tfds.core.DatasetBuilder:
    """Registers the project's builders, builds ``name`` (``"builder/config"``) into
    ``data_dir`` unless it is prepared there, and returns its builder.

    Args:
      name: a TFDS name, e.g. ``"synthetic_pose/tiny"`` or ``"custom_pose/my_set"``.
      data_dir: TFDS's data directory (default: TFDS's own).
      split: when given, a split that must exist (e.g. ``"validation"``).
      flag: the command-line flag that named the data set, for the error message.

    Raises:
      ValueError: unknown data set, or no such split; the message names ``flag`` and ``name``.
    """
    datasets_tfds.register_builders()
    where = f"{flag} {name}" if flag else f"data set {name}"
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception as error:  # TFDS raises DatasetNotFoundError, ValueError, ...
        raise ValueError(f"{where}: {error}") from error
    builder.download_and_prepare()
    if split is not None and split not in builder.info.splits:
        raise ValueError(f"{where} has no split {split!r}; it has {sorted(builder.info.splits)}")
    return builder


def prepare_sources(sources: Iterable, flag: str | None = None) -> None:
    """:func:`prepare` for each distinct data set of ``sources`` (objects with ``name``,
    ``split`` and ``data_dir``, e.g. :class:`blazepose.data.pipeline.DataSource`)."""
    seen = set()
    for source in sources:
        if (source.name, source.data_dir) in seen:
            continue
        seen.add((source.name, source.data_dir))
        prepare(source.name, source.data_dir, flag=flag)
