"""Representative crops for int8 calibration, drawn from a TFDS builder through the project's
input pipeline (``blazepose.data.pipeline.build_dataset(..., training=False)``: the same crops
the network sees in evaluation, no augmentation)."""

from __future__ import annotations

import dataclasses

import numpy as np

from blazepose.data import pipeline
from blazepose.data.config import PipelineConfig
from blazepose.export.config import ExportError


def representative_crops(source: pipeline.DataSource, count: int,
                         config: PipelineConfig | None = None) -> np.ndarray:
    """Up to ``count`` crops, float32 ``[n, 256, 256, 3]`` in [0, 1], in record order.

    Raises:
      ExportError: the split holds no example.
    """
    config = config or PipelineConfig()
    config = dataclasses.replace(config, deterministic=True)
    dataset = pipeline.build_dataset([source], config, batch_size=min(count, 16), training=False)
    crops, total = [], 0
    for batch in dataset:
        crops.append(batch["image"].numpy())
        total += len(crops[-1])
        if total >= count:
            break
    if not crops:
        raise ExportError(f"--representative_dataset {source.name} split {source.split} "
                          "holds no example")
    return np.concatenate(crops)[:count].astype(np.float32)


def as_uint8(crops: np.ndarray) -> np.ndarray:
    """Float crops in [0, 1] -> uint8 images (for the ``serve_image`` signature)."""
    return np.clip(np.round(crops * 255.0), 0, 255).astype(np.uint8)
