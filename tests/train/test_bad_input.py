"""Bad input never silently poisons a run (issue 21): exploding losses, damaged checkpoints."""

import dataclasses
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from blazepose.train import runs
from blazepose.train.task import PoseTask
from blazepose.train.trainer import (
    DamagedDataError,
    ExplodingLossError,
    LossSpikeGuard,
    Trainer,
)


class _SpikyTask(PoseTask):
    """Its seventh training batch has landmark targets 10^4 times too large (a record whose
    points lie far outside its image), so that step's loss explodes but stays finite."""

    def dataset_fn(self, training):
        inner = super().dataset_fn(training)

        def spiky(context):
            dataset = inner(context).enumerate()
            return dataset.map(lambda i, b: {**b, "landmarks": tf.where(
                i == 6, b["landmarks"] * 1e4, b["landmarks"])})

        return spiky if training else inner


@pytest.mark.parametrize("steps_per_loop", [1, 2])
def test_exploding_loss_stops_naming_the_step(small_config, tmp_path, steps_per_loop):
    config = small_config(train_steps=10, checkpoint_every=2, summary_every=10, log_every=10,
                          steps_per_loop=steps_per_loop)
    trainer = Trainer(config, tmp_path, task=_SpikyTask(config), print_fn=lambda *_: None)
    with pytest.raises(ExplodingLossError, match=r"at step 7 .*running median.*ckpt-6"):
        trainer.train()
    assert trainer.manager.latest_checkpoint.endswith("ckpt-6")


def test_the_same_run_without_the_bad_batch_finishes(small_config, tmp_path):
    config = small_config(train_steps=10, checkpoint_every=2, summary_every=10, log_every=10,
                          steps_per_loop=1)
    Trainer(config, tmp_path, print_fn=lambda *_: None).train()


def test_spike_guard_ignores_a_falling_noisy_loss_and_is_robust_to_one_outlier():
    rng = np.random.default_rng(0)
    guard = LossSpikeGuard(ratio=100.0)
    losses = 5.0 * np.exp(-np.arange(200) / 40.0) + 0.3 + rng.normal(0, 0.05, 200)
    for step, loss in enumerate(losses, 1):
        assert guard.check(loss, peak=3 * loss, peak_step=step) is None
    guard.history[-1] = 1e5  # one earlier outlier moves neither median nor spread
    message = guard.check(0.35, peak=341398.0, peak_step=201)
    assert message is not None and "at step 201" in message
    assert LossSpikeGuard(ratio=0).check(0.3, 1e9, 1) is None


def _save(folder, steps):
    """Checkpoints of a 400 kB variable and the trainer's ``step``, one per step number."""
    variables = {"weights": tf.Variable(tf.random.normal([1000, 100])),
                 "step": tf.Variable(0, dtype=tf.int64)}
    checkpoint = tf.train.Checkpoint(**variables)
    manager = tf.train.CheckpointManager(checkpoint, str(folder), max_to_keep=5)
    prefixes = []
    for step in steps:
        variables["step"].assign(step)
        prefixes.append(manager.save(checkpoint_number=step))
    return prefixes


def _truncate(prefix):
    (data,) = tf.io.gfile.glob(f"{prefix}.data-*")
    content = pathlib.Path(data).read_bytes()
    pathlib.Path(data).write_bytes(content[:len(content) // 2])


def _flip_bytes(prefix):
    (data,) = tf.io.gfile.glob(f"{prefix}.data-*")
    content = bytearray(pathlib.Path(data).read_bytes())
    content[1000:1010] = bytes(b ^ 0xFF for b in content[1000:1010])
    pathlib.Path(data).write_bytes(bytes(content))


@pytest.mark.parametrize("damage, reason", [(_truncate, "IndexError: Read less bytes"),
                                            (_flip_bytes, "Checksum does not match")],
                         ids=["truncated", "flipped"])
def test_a_damaged_latest_checkpoint_is_named_and_the_newest_intact_one_found(
        tmp_path, damage, reason):
    first, second, third = _save(tmp_path / "checkpoints", (2, 4, 6))
    damage(third)
    found = runs.find_checkpoint(tmp_path, "latest")
    assert (found.prefix, found.step) == (second, 4)
    ((prefix, said),) = found.skipped_damaged
    assert prefix == third and reason in said
    assert third in found.describe() and "newest intact" in found.describe()
    damage(second)
    damage(first)
    with pytest.raises(runs.DamagedCheckpointError, match="no intact checkpoint") as raised:
        runs.find_checkpoint(tmp_path, "latest")
    assert all(p in str(raised.value) for p in (first, second, third))


def test_a_damaged_checkpoint_named_by_prefix_is_refused_as_damaged(small_config, tmp_path):
    Trainer(small_config(train_steps=2), tmp_path, print_fn=lambda *_: None).train()
    (prefix,) = [p for p in runs.checkpoint_prefixes(tmp_path / "checkpoints")]
    _flip_bytes(prefix)
    with pytest.raises(runs.DamagedCheckpointError, match=f"{prefix} is damaged.*Checksum"):
        runs.load_run(tmp_path, prefix)


def test_training_resumes_from_the_newest_intact_checkpoint(small_config, tmp_path):
    Trainer(small_config(train_steps=4), tmp_path, print_fn=lambda *_: None).train()
    newest = runs.checkpoint_prefixes(tmp_path / "checkpoints")[0]
    assert newest.endswith("ckpt-4")
    _truncate(newest)
    printed = []
    trainer = Trainer(small_config(train_steps=6), tmp_path, print_fn=printed.append)
    trainer.train()
    text = "\n".join(printed)
    assert f"damaged, skipped: {newest} (IndexError" in text
    assert "resumed from" in text and "ckpt-2 at step 2" in text
    assert int(trainer.step.numpy()) == 6
    assert runs.find_checkpoint(tmp_path, "latest").prefix.endswith("ckpt-6")


ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("flags, message", [
    (["--dataset=nonexistent_set/x"], "--dataset nonexistent_set/x: no such data set; this "
                                      "project builds"),
    (["--dataset=synthetic_pose/tiny@nosuch"], "--dataset synthetic_pose/tiny has no split "
                                               "'nosuch'"),
    (["--dataset=synthetic_pose/tiny", "--eval_dataset=synthetic_pose/tiny@test[:5]"],
     "--dataset synthetic_pose/tiny has no split 'test'"),
    (["--strategy=tpu"], "--strategy=tpu: cannot start it on this machine"),
], ids=["unknown", "no_split", "no_eval_split", "tpu"])
def test_data_sets_splits_and_hardware_are_checked_before_the_model_loads(
        data_dir, tmp_path, flags, message):
    result = subprocess.run([sys.executable, "-m", "launch.train", f"--data_dir={data_dir}",
                             f"--model_dir={tmp_path / 'run'}", "--train_steps=1", *flags],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) < 60, result.stderr
    assert not (tmp_path / "run").exists(), "nothing is written before the checks pass"


def test_a_record_file_damaged_after_the_build_is_named(small_config, data_dir, tmp_path):
    copy = tmp_path / "tfds"
    shutil.copytree(data_dir, copy)
    (record_file,) = copy.glob("synthetic_pose/tiny/*/synthetic_pose-train.tfrecord*")
    content = bytearray(record_file.read_bytes())
    middle = len(content) // 2
    content[middle:middle + 64] = bytes(64)
    record_file.write_bytes(bytes(content))
    config = small_config(train_steps=4)
    config = dataclasses.replace(config, data=dataclasses.replace(config.data,
                                                                  data_dir=str(copy)))
    trainer = Trainer(config, tmp_path / "run", print_fn=lambda *_: None)
    with pytest.raises(DamagedDataError, match="record file") as raised:
        trainer.train()
    assert str(record_file) in str(raised.value)
    assert "synthetic_pose/tiny" in str(raised.value)
