"""Input pipeline: TFDS records -> person crops, in-graph augmentation, training targets."""

from blazepose.data.config import (
                                   NO_AUGMENTATION,
                                   AugmentConfig,
                                   CropConfig,
                                   PipelineConfig,
                                   TargetConfig,
)
from blazepose.data.pipeline import (
                                   DataSource,
                                   build_dataset,
                                   distributed_dataset_fn,
                                   example_transform,
)

__all__ = ["NO_AUGMENTATION", "AugmentConfig", "CropConfig", "DataSource", "PipelineConfig",
           "TargetConfig", "build_dataset", "distributed_dataset_fn", "example_transform"]
