"""A short training run on the union of two real-format data sets (their dummy data)."""

import pathlib

import numpy as np
import tensorflow_datasets as tfds

import datasets_tfds
from blazepose import topology
from blazepose.data.config import NO_AUGMENTATION, PipelineConfig
from blazepose.train import config as config_lib
from blazepose.train.trainer import Trainer

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_lsp_and_mpii_train_together_in_blazepose_layout(tmp_path):
    datasets_tfds.register_builders()
    data_dir = str(tmp_path / "tfds")
    for name, folder in (("lsp/original", "lsp"), ("mpii/single_person", "mpii")):
        tfds.builder(name, data_dir=data_dir).download_and_prepare(
            download_config=tfds.download.DownloadConfig(
                manual_dir=str(ROOT / "datasets_tfds" / folder / "dummy_data")))
    config = config_lib.TrainConfig(
        model=config_lib.ModelSection(variant="lite"),
        data=config_lib.DataSection(
            datasets=("lsp/original", "mpii/single_person"), weights=(1.0, 1.0),
            eval_datasets=("lsp/original@test",), data_dir=data_dir,
            pipeline=PipelineConfig(augment=NO_AUGMENTATION)),
        optimizer=config_lib.OptimizerSection(learning_rate=1e-3, warmup_steps=1),
        train_steps=3, batch_size=4, eval_every=3, eval_batches=1, checkpoint_every=3,
        log_every=1, summary_every=1, deterministic=True)
    lines = []
    trainer = Trainer(config, tmp_path / "run", print_fn=lines.append)
    batch = next(iter(trainer.strategy.distribute_datasets_from_function(
        trainer.task.dataset_fn(True))))
    labelled = batch["labelled"].numpy()
    assert labelled.shape == (4, 33)
    # Only landmarks LSP or MPII have can be labelled (never e.g. the eyes or the fingers).
    from_either = np.zeros(33, bool)
    for source in (topology.LSP_14, topology.MPII_16):
        from_either[[i for i in source.to_blazepose if i is not None]] = True
    assert labelled.any() and not labelled[:, ~from_either].any()
    results = trainer.train()
    assert int(trainer.step.numpy()) == 3
    assert np.isfinite(results["pck@0.2"]) or results.get("pck_num_examples_without_torso")
    assert any(line.startswith("step 3/3") for line in lines), lines
