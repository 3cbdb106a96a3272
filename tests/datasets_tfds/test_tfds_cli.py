"""`tfds build` on the synthetic builder folder, then the data through the training pipeline."""

import os
import pathlib
import subprocess
import sys

import tensorflow_datasets as tfds

from blazepose.data import pipeline
from blazepose.data.config import PipelineConfig

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_tfds_build_synthetic_then_train_batches(tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=os.pathsep.join(
        [os.fspath(ROOT), os.environ.get("PYTHONPATH", "")]))
    command = [sys.executable, "-m", "tensorflow_datasets.scripts.cli.main", "build",
               os.fspath(ROOT / "datasets_tfds" / "synthetic_pose"), "--config=tiny",
               f"--data_dir={tmp_path}"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300,
                            check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    built = tfds.builder_from_directory(os.fspath(tmp_path / "synthetic_pose" / "tiny" / "1.0.0"))
    assert built.info.metadata["topology"] == "blazepose_33"
    assert built.info.splits["train"].num_examples == 16

    import datasets_tfds.synthetic_pose.synthetic_pose_dataset_builder  # noqa: F401

    source = pipeline.DataSource("synthetic_pose/tiny", data_dir=os.fspath(tmp_path))
    batch = next(iter(pipeline.build_dataset([source], PipelineConfig(), batch_size=4)))
    assert batch["image"].shape == (4, 256, 256, 3)
    assert batch["labelled"].numpy().all(), "synthetic points are always labelled"
