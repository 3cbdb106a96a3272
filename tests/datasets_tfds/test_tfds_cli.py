"""`tfds build` on the builder folders, as a user runs it: the builder file is imported under
its own module name (``<name>_dataset_builder``), the dummy data is the manual dir, and what it
writes is read back with ``tfds.builder_from_directory`` and through the training pipeline."""

import os
import pathlib
import subprocess
import sys

import numpy as np
import tensorflow_datasets as tfds

from blazepose.data import pipeline
from blazepose.data.config import PipelineConfig
from blazepose.topology import MPII_16

ROOT = pathlib.Path(__file__).resolve().parents[2]


def tfds_build(prepared: str, data_dir: pathlib.Path, *flags: str, manual: bool = True
               ) -> tfds.core.DatasetBuilder:
    """Runs ``tfds build datasets_tfds/<name>`` (its dummy data as the manual dir unless
    ``manual`` is False) into ``data_dir``; returns the data set prepared in ``data_dir /
    prepared`` (``<name>/<config>/<version>``), read from that folder."""
    folder = ROOT / "datasets_tfds" / prepared.split("/")[0]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=os.pathsep.join(
        [os.fspath(ROOT), os.environ.get("PYTHONPATH", "")]))
    command = [sys.executable, "-m", "tensorflow_datasets.scripts.cli.main", "build",
               os.fspath(folder), *flags, f"--data_dir={data_dir}"]
    if manual:
        command.append(f"--manual_dir={folder / 'dummy_data'}")
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300,
                            check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return tfds.builder_from_directory(os.fspath(data_dir / prepared))


def num_examples(built: tfds.core.DatasetBuilder) -> dict[str, int]:
    return {name: split.num_examples for name, split in built.info.splits.items()}


def test_tfds_build_synthetic_then_train_batches(tmp_path):
    built = tfds_build("synthetic_pose/tiny/1.0.0", tmp_path, "--config=tiny", manual=False)
    assert built.info.metadata["topology"] == "blazepose_33"
    assert built.info.splits["train"].num_examples == 16

    import datasets_tfds.synthetic_pose.synthetic_pose_dataset_builder  # noqa: F401

    source = pipeline.DataSource("synthetic_pose/tiny", data_dir=os.fspath(tmp_path))
    batch = next(iter(pipeline.build_dataset([source], PipelineConfig(), batch_size=4)))
    assert batch["image"].shape == (4, 256, 256, 3)
    assert batch["labelled"].numpy().all(), "synthetic points are always labelled"


def test_tfds_build_custom_pose(tmp_path):
    built = tfds_build("custom_pose/auto/1.1.0", tmp_path)
    assert num_examples(built) == {"train": 3, "validation": 1, "test": 2}
    assert built.info.metadata["topology"] == "pushup_7"


def test_tfds_build_lspet(tmp_path):
    built = tfds_build("lspet/1.0.0", tmp_path)
    assert num_examples(built) == {"train": 6}
    assert built.info.metadata["topology"] == "lsp_14"
    assert built.info.metadata["source"]["LSPET"]["images_without_labelled_joints"] == 1


def test_tfds_build_mpii_then_the_pipeline_maps_its_joints(tmp_path):
    built = tfds_build("mpii/multi_person/1.0.0", tmp_path, "--config=multi_person")
    assert num_examples(built) == {"train": 5, "validation": 2}
    assert built.info.metadata["topology"] == "mpii_16"

    # Through the training pipeline into BlazePose's 33 landmarks: BlazePose landmarks MPII
    # lacks (face, hands, feet) are never labelled; the 12 mapped joints are.
    source = pipeline.DataSource("mpii/multi_person", data_dir=os.fspath(tmp_path))
    batches = pipeline.build_dataset([source], PipelineConfig(), batch_size=5, training=False)
    labelled = np.concatenate([batch["labelled"].numpy() for batch in batches])
    # The train split, each person once, but the one labelled only at the head top: no
    # BlazePose landmark is labelled, so the pipeline skips it and its record check names it.
    assert labelled.shape == (4, 33)
    check = pipeline.check_records(source, PipelineConfig())
    assert check.total == 5 and check.problems == {"no labelled keypoint": 1}
    mapped = [i for i in MPII_16.to_blazepose if i is not None]
    assert not np.delete(labelled, mapped, axis=1).any()
    # Mapped joints labelled per remaining train person: 12, 12, 8 (no knees or ankles), 12.
    assert sorted(labelled[:, mapped].sum(axis=1).tolist()) == [8, 12, 12, 12]
