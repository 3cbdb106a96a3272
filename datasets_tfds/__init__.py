"""TFDS dataset builders, one folder per data set (TFDS layout).

``<name>/<name>_dataset_builder.py`` holds ``class Builder``, a ``pose_builder.PoseBuilder``;
beside it ``README.md`` (the data set's description), ``CITATIONS.bib`` and ``dummy_data/``
(written by its ``make_dummy_data.py`` with ``dummy_data_tools``). The tests are in
``tests/datasets_tfds/``.
"""

import importlib

BUILDER_MODULES = (
    "datasets_tfds.synthetic_pose.synthetic_pose_dataset_builder",
    "datasets_tfds.custom_pose.custom_pose_dataset_builder",
    "datasets_tfds.lsp.lsp_dataset_builder",
    "datasets_tfds.lspet.lspet_dataset_builder",
    "datasets_tfds.pushups.pushups_dataset_builder",
    "datasets_tfds.mpii.mpii_dataset_builder",
    "datasets_tfds.coco_keypoints.coco_keypoints_dataset_builder",
    "datasets_tfds.yoga82.yoga82_dataset_builder",
)


def register_builders() -> None:
    """Imports every builder so ``tfds.builder("name/config")`` finds it."""
    for module in BUILDER_MODULES:
        importlib.import_module(module)
