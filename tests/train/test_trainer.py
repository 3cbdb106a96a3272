"""The training loop on CPU: learning, distribution, checkpoints, NaN guard, TensorBoard."""

import dataclasses
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from blazepose.data.config import NO_AUGMENTATION, PipelineConfig
from blazepose.train import config as config_lib
from blazepose.train import validation
from blazepose.train.task import PoseTask
from blazepose.train.trainer import (
    CheckpointMismatchError,
    NonFiniteLossError,
    Trainer,
    loop_length,
)

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _fixed_batch(task):
    dataset = tf.distribute.get_strategy().distribute_datasets_from_function(
        task.dataset_fn(False))
    return next(iter(dataset))


def _loss(trainer, batch):
    outputs = trainer.model(batch["image"], training=False)
    return float(tf.reduce_mean(trainer.task.per_example_losses(batch, outputs)["total"]))


def test_loss_falls_and_artifacts_are_written(small_config, tmp_path):
    config = small_config(train_steps=12, phase="heatmap")
    trainer = Trainer(config, tmp_path, print_fn=lambda *_: None)
    batch = _fixed_batch(trainer.task)
    before = _loss(trainer, batch)
    results = trainer.train()
    assert _loss(trainer, batch) < before * 0.95
    assert "pck@0.2" in results and (tmp_path / "validation.json").exists()
    assert (tmp_path / "predictions.png").stat().st_size > 1000
    assert trainer.manager.latest_checkpoint.endswith("ckpt-12")
    assert config_lib.load_run_config(tmp_path) == config
    assert not (tmp_path / "architecture.json").exists() and not (tmp_path / "phase.json").exists()

    tags = _event_tags(tmp_path / "train") | _event_tags(tmp_path / "validation")
    for tag in ("loss/total", "loss/heatmap", "learning_rate", "images_per_second",
                "metrics/pck@0.2", "metrics/mean_pixel_error", "predictions", "heatmaps",
                "_hparams_/session_start_info"):
        assert tag in tags, (tag, sorted(tags))


def _event_tags(folder):
    from tensorboard.backend.event_processing import event_accumulator

    accumulator = event_accumulator.EventAccumulator(str(folder), size_guidance={
        event_accumulator.TENSORS: 0})
    accumulator.Reload()
    return set(accumulator.Tags()["tensors"])


def test_mirrored_on_two_cpus_matches_one_device(small_config, tmp_path):
    """Training (three steps in one traced loop) and the traced, distributed evaluation step
    give the same results on two replicas as on one device."""
    losses, evaluations = {}, {}
    for name in ("default", "mirrored"):
        config = small_config(train_steps=3, checkpoint_every=100, summary_every=3,
                              log_every=3, steps_per_loop=3)
        strategy = (tf.distribute.get_strategy() if name == "default" else
                    tf.distribute.MirroredStrategy(
                        [d.name for d in tf.config.list_logical_devices("CPU")[:2]]))
        trainer = Trainer(config, tmp_path / name, strategy=strategy, print_fn=lambda *_: None)
        trainer.train()
        losses[name] = _loss(trainer, _fixed_batch(trainer.task))
        evaluations[name] = trainer.run_evaluation(max_batches=2)
    assert losses["mirrored"] == pytest.approx(losses["default"], rel=1e-4)
    one, two = evaluations["default"], evaluations["mirrored"]
    assert two.num_examples == one.num_examples == 8
    for key in ("pck@0.2", "mean_pixel_error"):
        assert two.evaluator.result()[key] == pytest.approx(one.evaluator.result()[key],
                                                            rel=1e-3, abs=1e-3), key


def test_resume_continues_the_step_counter(small_config, tmp_path):
    printed = []
    Trainer(small_config(train_steps=2), tmp_path, print_fn=printed.append).train()
    second = Trainer(small_config(train_steps=4), tmp_path, print_fn=printed.append)
    second.train()
    assert any("resumed from" in line and "step 2" in line for line in printed), printed
    assert int(second.step.numpy()) == 4
    assert second.manager.latest_checkpoint.endswith("ckpt-4")


def test_another_architecture_is_refused_with_what_differs(small_config, tmp_path):
    Trainer(small_config(train_steps=2), tmp_path, print_fn=lambda *_: None).train()
    other = small_config(model=config_lib.ModelSection(variant="full"))
    with pytest.raises(CheckpointMismatchError, match="variant.*lite.*full"):
        Trainer(other, tmp_path, print_fn=lambda *_: None)


def test_a_failed_restore_writes_nothing_and_older_runs_are_read(small_config, tmp_path):
    """Checkpoints without their config.json (copied into a new folder) and a config of another
    variant: the restore fails and records nothing, so the right config still resumes them. An
    older trainer's architecture.json and phase.json are still read."""
    import json

    quiet = {"print_fn": lambda *_: None}
    Trainer(small_config(phase="heatmap", train_steps=2), tmp_path, **quiet).train()
    (tmp_path / "config.json").unlink()
    full = small_config(phase="heatmap", model=config_lib.ModelSection(variant="full"))
    with pytest.raises(CheckpointMismatchError, match="cannot restore"):
        Trainer(full, tmp_path, **quiet).train()
    assert not (tmp_path / "config.json").exists()

    lite = small_config()
    (tmp_path / "architecture.json").write_text(json.dumps(
        {"model": dataclasses.asdict(lite.model), "topology": lite.data.pipeline.topology}))
    (tmp_path / "phase.json").write_text(json.dumps({"phase": "heatmap"}))
    with pytest.raises(CheckpointMismatchError, match="variant.*lite.*full"):
        Trainer(full, tmp_path, **quiet)
    printed = []
    regression = small_config(phase="regression", train_steps=4)
    Trainer(regression, tmp_path, print_fn=printed.append).train()
    assert any("starts from phase heatmap" in line for line in printed), printed
    assert config_lib.load_run_config(tmp_path) == regression


class _PoisonedTask(PoseTask):
    """Its training images turn to NaN from the third batch on."""

    def dataset_fn(self, training):
        inner = super().dataset_fn(training)

        def poisoned(context):
            dataset = inner(context).enumerate()
            return dataset.map(lambda i, b: {**b, "image": tf.where(
                i >= 2, b["image"] * float("nan"), b["image"])})

        return poisoned


@pytest.mark.parametrize("steps_per_loop", [1, 2])
def test_nan_guard_stops_and_keeps_the_last_good_checkpoint(small_config, tmp_path,
                                                            steps_per_loop):
    """The third batch is NaN (its loss, or the next one's through the NaN weights): the loop
    of steps 3-4 (or each step alone) ends with the guard naming the first non-finite step, and
    nothing non-finite is saved."""
    import re

    config = small_config(train_steps=6, checkpoint_every=2, summary_every=6, log_every=6,
                          steps_per_loop=steps_per_loop)
    trainer = Trainer(config, tmp_path, task=_PoisonedTask(config), print_fn=lambda *_: None)
    with pytest.raises(NonFiniteLossError, match=r"at step (\d+).*ckpt-2") as raised:
        trainer.train()
    assert int(re.search(r"at step (\d+)", str(raised.value)).group(1)) in (3, 4)
    assert int(trainer.step.numpy()) in (3, 4)
    assert trainer.manager.latest_checkpoint.endswith("ckpt-2")
    assert (tmp_path / "config.json").exists(), "the run's config is written before step 1"


def test_loops_end_at_every_event():
    config = config_lib.TrainConfig(train_steps=95, steps_per_loop=10, summary_every=20,
                                    log_every=25, checkpoint_every=40, eval_every=45,
                                    profile_steps=(52, 56))
    ends, step = [], 0
    while step < config.train_steps:
        step += loop_length(config, step)
        ends.append(step)
    assert ends == [10, 20, 25, 35, 40, 45, 50, 51, 56, 60, 70, 75, 80, 90, 95]
    assert loop_length(dataclasses.replace(config, steps_per_loop=1), 0) == 1


def test_longer_loops_train_the_same_weights(small_config, tmp_path):
    """Deterministic runs with loops of 1 and of 3 steps end with the same weights, the same
    checkpoints and the same validation; the logged losses are the loops' means."""
    weights, printed = {}, {}
    for steps_per_loop in (1, 3):
        lines = []
        config = small_config(train_steps=6, checkpoint_every=3, eval_every=3, summary_every=3,
                              log_every=3, steps_per_loop=steps_per_loop)
        model_dir = tmp_path / str(steps_per_loop)
        trainer = Trainer(config, model_dir, print_fn=lines.append)
        results = trainer.train()
        weights[steps_per_loop] = [w.numpy() for w in trainer.model.weights]
        printed[steps_per_loop] = [line for line in lines if line.startswith("step ")]
        assert sorted(p.name for p in (model_dir / "checkpoints").glob("*.index")) == [
            "ckpt-3.index", "ckpt-6.index"]
        assert np.isfinite(results["pck@0.2"])
    for a, b in zip(weights[1], weights[3]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert [line.split()[:2] for line in printed[1]] == [line.split()[:2] for line in printed[3]]


def test_phases_freeze_the_right_layers(small_config):
    for phase, trains_regression, trains_trunk in [("heatmap", False, True),
                                                   ("regression", True, False),
                                                   ("joint", True, True)]:
        model = PoseTask(small_config(phase=phase)).build_model()
        assert model.get_layer("reg_landmarks").trainable == trains_regression, phase
        assert model.get_layer("trunk_expand").trainable == trains_trunk, phase
        assert not model.get_layer("segmentation").trainable
        assert not model.get_layer("reg_world").trainable


@pytest.mark.parametrize("flags, message", [
    (["--num_cpu_devices=2"], "--num_cpu_devices needs --strategy=mirrored"),
    (["--dataset=a,b", "--dataset_weights=1"], "--dataset_weights needs one number"),
    (["--no_such_flag=1"], "no_such_flag"),
    (["--phase=pretrain"], "--phase"),
])
def test_bad_flags_fail_before_any_work(tmp_path, flags, message):
    result = subprocess.run([sys.executable, "-m", "launch.train",
                             f"--model_dir={tmp_path / 'run'}", *flags], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert message in result.stderr
    assert not (tmp_path / "run").exists()


def test_config_rejects_contradictions():
    with pytest.raises(ValueError, match="weights"):
        config_lib.TrainConfig(data=config_lib.DataSection(datasets=("a",), weights=(1.0, 2.0)))
    with pytest.raises(ValueError, match="phase"):
        config_lib.TrainConfig(phase="warmup")
    with pytest.raises(ValueError, match="num_keypoints"):
        PoseTask(config_lib.TrainConfig(model=config_lib.ModelSection(num_keypoints=16)))
    assert np.isfinite(config_lib.TrainConfig().optimizer.learning_rate)


def test_evaluate_program_reads_the_run(small_config, data_dir, tmp_path):
    Trainer(small_config(train_steps=2, model=config_lib.ModelSection(variant="full")),
            tmp_path, print_fn=lambda *_: None).train()
    result = subprocess.run(
        [sys.executable, "-m", "launch.evaluate", f"--model_dir={tmp_path}", "--preset=default",
         "--dataset=synthetic_pose/tiny", f"--data_dir={data_dir}", "--batch_size=4"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "pck@0.2" in result.stdout.splitlines()[-1]
    assert (tmp_path / "evaluation" / "evaluation.json").exists()


def _train_command(model_dir, data_dir, steps):
    return [sys.executable, "-m", "launch.train", f"--model_dir={model_dir}",
            "--dataset=synthetic_pose/tiny", f"--data_dir={data_dir}", "--variant=lite",
            "--init_from=none", f"--train_steps={steps}", "--batch_size=4", "--checkpoint_every=3",
            "--eval_every=1000", "--log_every=1", "--deterministic", "--learning_rate=1e-3"]


def _final_weights(model_dir, small_config):
    trainer = Trainer(small_config(train_steps=10), model_dir, print_fn=lambda *_: None)
    # The network only: the run's optimizer (the default preset's, with a weight average)
    # differs from this config's.
    tf.train.Checkpoint(model=trainer.model, step=trainer.step).restore(
        trainer.manager.latest_checkpoint).expect_partial()
    return int(trainer.step.numpy()), [w.numpy() for w in trainer.model.weights]


@pytest.fixture(scope="module")
def straight_run(small_config, data_dir, tmp_path_factory):
    """Final step and weights of an uninterrupted deterministic 12-step run."""
    import os

    model_dir = tmp_path_factory.mktemp("straight")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")
    subprocess.run(_train_command(model_dir, data_dir, 12), cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=600)
    return _final_weights(model_dir, small_config)


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
def test_interrupted_run_resumes_to_the_same_weights(small_config, data_dir, tmp_path, straight_run,
                                                     how):
    """Interrupt mid-run, restart: the step counter continues from the last checkpoint and, in
    deterministic mode, the final weights equal those of an uninterrupted run.

    SIGKILL: nothing is saved, the restart resumes from a regular checkpoint (every 3 steps).
    SIGTERM (a preemption notice): the PreemptionCheckpointHandler saves at the next step and the
    process exits with PREEMPTED_EXIT_CODE.
    """
    import os
    import re
    import signal
    import time

    from blazepose.train.trainer import PREEMPTED_EXIT_CODE

    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")
    interrupted = tmp_path / "interrupted"
    # CheckpointManager writes the checkpoint files, then its state file: wait for the latter.
    first_checkpoint = interrupted / "checkpoints" / "checkpoint"
    process = subprocess.Popen(_train_command(interrupted, data_dir, 12), cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        deadline = time.monotonic() + 300
        while process.poll() is None and not first_checkpoint.exists():
            assert time.monotonic() < deadline, "no checkpoint within 300 s"
            time.sleep(0.02)
        os.kill(process.pid, getattr(signal, how))
        output, _ = process.communicate(timeout=120)
    finally:
        process.kill()
        process.wait(timeout=60)
    if how == "SIGKILL":
        assert process.returncode == -signal.SIGKILL, "killed while still training"
        assert not (interrupted / "checkpoints" / "ckpt-12.index").exists()
    else:
        assert process.returncode == PREEMPTED_EXIT_CODE, output[-2000:]
        saved = re.search(r"preempted: saved \S+ckpt-(\d+)", output)
        assert saved and 3 <= int(saved.group(1)) < 12, output[-2000:]
    resumed = subprocess.run(_train_command(interrupted, data_dir, 12), cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    match = re.search(r"resumed from \S+ at step (\d+)", resumed.stdout)
    assert match, resumed.stdout[-2000:]
    resumed_at = int(match.group(1))
    if how == "SIGKILL":
        assert resumed_at in (3, 6, 9)
    else:
        assert resumed_at == int(saved.group(1))
    assert f"step {resumed_at + 1}/12" in resumed.stdout
    straight_step, straight = straight_run
    final_step, after_interruption = _final_weights(interrupted, small_config)
    assert straight_step == final_step == 12
    for a, b in zip(straight, after_interruption):
        np.testing.assert_array_equal(a, b)


def _free_ports(count):
    import socket

    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_multi_worker_two_processes_on_loopback(data_dir, tmp_path):
    import json
    import os

    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    command = _train_command(tmp_path / "run", data_dir, 2) + [
        "--strategy=multi_worker_mirrored", "--checkpoint_every=2"]
    processes = []
    try:
        for index in range(2):
            env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TF_CONFIG=json.dumps(
                {"cluster": cluster, "task": {"type": "worker", "index": index}}))
            processes.append(subprocess.Popen(command, cwd=ROOT, env=env, text=True,
                                              stdout=subprocess.PIPE, stderr=subprocess.PIPE))
        outputs = [p.communicate(timeout=300) for p in processes]
    finally:
        for process in processes:
            process.kill()
            process.wait(timeout=60)
    for process, (stdout, stderr) in zip(processes, outputs):
        assert process.returncode == 0, stderr[-3000:]
        assert "step 2/2" in stdout
    checkpoints = tmp_path / "run" / "checkpoints"
    assert (checkpoints / "ckpt-2.index").exists()
    assert not list((tmp_path / "run").glob("worker_scratch_*")), "scratch folders removed"


def test_data_service_on_loopback_feeds_the_loop(small_config, tmp_path):
    from launch import data_service

    dispatcher_port, worker_port = _free_ports(2)
    dispatcher = data_service.start("dispatcher", dispatcher_port)
    worker = data_service.start("worker", worker_port, f"localhost:{dispatcher_port}")
    try:
        config = small_config(train_steps=3,
                         data_service=f"grpc://localhost:{dispatcher_port}")
        trainer = Trainer(config, tmp_path, print_fn=lambda *_: None)
        trainer.train()
        assert int(trainer.step.numpy()) == 3
        assert dispatcher._num_workers() == 1
        assert worker._num_tasks() >= 1, "the training data came through the service worker"
    finally:
        worker.stop()
        dispatcher.stop()


def test_mixed_precision_trains_with_loss_scaling(small_config, tmp_path):
    import keras

    config = small_config(train_steps=3, mixed_precision=True)
    trainer = Trainer(config, tmp_path, print_fn=lambda *_: None)
    assert trainer.model.get_layer("stem_conv").compute_dtype == "float16"
    assert trainer.model.get_layer("stem_conv").kernel.dtype == "float32"
    assert isinstance(trainer.optimizer, keras.optimizers.LossScaleOptimizer)
    assert keras.mixed_precision.global_policy().name == "float32", "policy restored"
    batch = _fixed_batch(trainer.task)
    before = _loss(trainer, batch)
    trainer.train()
    after = _loss(trainer, batch)
    assert np.isfinite(after) and after != before


def test_coco_data_gets_oks_ap(small_config, tmp_path):
    """Evaluating COCO-17 data adds pycocotools' OKS AP; perfect predictions score 1."""
    import datasets_tfds.custom_pose.custom_pose_dataset_builder  # noqa: F401
    from blazepose.data import custom_format

    folder = custom_format.write_random_people(tmp_path / "coco_like", {"validation": 6},
                                               image_size=(120, 160), num_keypoints=17)
    data_dir = str(tmp_path / "tfds")
    tfds.builder("custom_pose/auto", data_dir=data_dir).download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=str(folder)))
    config = small_config(data=config_lib.DataSection(
        datasets=("custom_pose/auto",), data_dir=data_dir, eval_split="validation",
        pipeline=PipelineConfig(augment=NO_AUGMENTATION)))
    trainer = Trainer(config, tmp_path / "run", print_fn=lambda *_: None)
    run = trainer.run_evaluation(max_batches=2)
    assert run.num_examples == 6
    assert 0.0 <= run.oks["oks_AP"] <= 1.0
    assert set(run.oks) >= {"oks_AP", "oks_AP50", "oks_AR"}

    rng = np.random.default_rng(0)
    truth = rng.uniform(20, 200, (5, 33, 2)).astype(np.float32)
    labelled = np.ones((5, 33), bool)
    area = np.full(5, 4000.0, np.float32)
    topology = trainer.task.topology
    perfect = validation.coco_oks(truth, truth, labelled, area, topology)
    assert perfect["oks_AP"] == pytest.approx(1.0)
    wrong = validation.coco_oks(truth + 25.0, truth, labelled, area, topology)
    assert wrong["oks_AP"] < 0.2


def test_sources_take_a_split_per_data_set_and_separate_evaluation_sets():
    data = config_lib.DataSection(datasets=("lsp/original", "lspet/all@train"), weights=(1.0, 2.0),
                                  eval_datasets=("lsp/original@test",))
    task = PoseTask(config_lib.TrainConfig(data=data))
    train = task.sources(True)
    assert [(s.name, s.split, s.weight) for s in train] == [
        ("lsp/original", "train", 1.0), ("lspet/all", "train", 2.0)]
    assert [(s.name, s.split) for s in task.sources(False)] == [("lsp/original", "test")]
    plain = PoseTask(config_lib.TrainConfig(data=config_lib.DataSection(datasets=("mpii",))))
    assert [(s.name, s.split) for s in plain.sources(False)] == [("mpii", "validation")]


def test_regression_phase_continues_the_heatmap_phase(small_config, tmp_path):
    """The recipe's second phase resumes the first one's checkpoint in the same model_dir: the
    weights carry over, only the regression branch changes, the step counter continues."""
    quiet = {"print_fn": lambda *_: None}
    first = Trainer(small_config(phase="heatmap", train_steps=2), tmp_path, **quiet)
    first.train()
    trunk = first.model.get_layer("trunk_expand").get_weights()[0].copy()
    second = Trainer(small_config(phase="regression", train_steps=4), tmp_path, **quiet)
    second.train()
    assert int(second.step.numpy()) == 4
    np.testing.assert_array_equal(second.model.get_layer("trunk_expand").get_weights()[0], trunk)
    regression = second.model.get_layer("reg_landmarks").get_weights()[0]
    assert not np.array_equal(regression, first.model.get_layer("reg_landmarks").get_weights()[0])
