"""The training controller, Orbit's split: the eager half of training.

:class:`Trainer` restores (or migrates between phases), then alternates traced loops of the
:class:`~blazepose.train.runner.Runner` with the eager work between them: checkpoints (the best
one too), TensorBoard summaries, validations on their schedule, the console, preemption
checkpoints and the collapse warning. Each loop runs at most ``TrainConfig.steps_per_loop``
steps and ends at the next step that has such work (:func:`loop_length`), so summaries,
checkpoints and validations fall on the same steps whatever the loop length; the losses logged
are the means over the loop's steps, and the NaN guard names the first non-finite step.

What is learnt lives in :class:`~blazepose.train.task.PoseTask`; the strategy, optimizer and
schedule in :mod:`~blazepose.train.strategy` and :mod:`~blazepose.train.optimization`; what the
run directory records in :mod:`~blazepose.train.records`; validation's host-side metrics and
pictures in :mod:`~blazepose.train.validation`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import pathlib
import shutil
import signal
import sys
import threading
import time

import keras
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds
import tqdm
from tensorboard.plugins.hparams import api as hparams_api

from blazepose import metrics
from blazepose.model import quantization
from blazepose.pretrained.importer import initialize_from, transfer_weights
from blazepose.train import config as config_lib
from blazepose.train import runs, validation
from blazepose.train import strategy as strategy_lib
from blazepose.train.config import TrainConfig
from blazepose.train.optimization import TRUNK_PREFIXES, make_optimizer, make_schedule
from blazepose.train.runner import Runner
from blazepose.train.runs import CheckpointMismatchError
from blazepose.train.strategy import make_strategy
from blazepose.train.task import PoseTask
from blazepose.train.validation import EvaluationRun

__all__ = ["PREEMPTED_EXIT_CODE", "TRUNK_PREFIXES", "CheckpointMismatchError",
           "DamagedDataError", "EvaluationRun", "ExplodingLossError", "LossSpikeGuard",
           "NonFiniteLossError", "Trainer", "damaged_record_files", "loop_length",
           "make_optimizer", "make_schedule", "make_strategy"]

_LOG = logging.getLogger(__name__)

QAT_CALIBRATION_BATCHES = 8
"""Batches of training crops that set a fresh quantisation-aware network's ranges."""


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


class ExplodingLossError(NonFiniteLossError):
    """One step's loss jumped far above the running median (:class:`LossSpikeGuard`); the last
    good checkpoint is kept."""


class LossSpikeGuard:
    """Tells an exploding step from ordinary noise with a robust running statistic.

    Keeps the mean total loss of the last ``window`` loops (the traced loops of
    :meth:`Runner.train`). Their median is the typical loss and 1.4826 x their median absolute
    deviation its spread, so one earlier outlier moves neither. Once ``min_history`` loops are
    known, a step whose total loss exceeds ``max(ratio x median, median + ratio x spread)`` is
    a spike: a label far from its image, a wrong unit, a record of another data set. Gradient
    clipping keeps such steps finite, so the NaN guard alone never sees them.

    Args:
      ratio: how many times the typical loss (and its spread) a step may reach; 0 turns the
        guard off.
      window: loops remembered.
      min_history: loops seen before any step is judged.
    """

    def __init__(self, ratio: float, window: int = 50, min_history: int = 3):
        self.ratio, self.window, self.min_history = ratio, window, min_history
        self.history: list[float] = []

    def check(self, loop_mean: float, peak: float, peak_step: int) -> str | None:
        """Judges one loop: ``loop_mean`` its mean total loss, ``peak`` its largest step total
        at step ``peak_step``. Returns a message naming the step when it is a spike (the loop
        is then not remembered), else None."""
        if self.ratio and len(self.history) >= self.min_history:
            median = float(np.median(self.history))
            spread = 1.4826 * float(np.median(np.abs(np.asarray(self.history) - median)))
            threshold = max(self.ratio * median, median + self.ratio * spread)
            if peak > threshold:
                return (f"total loss {peak:.6g} at step {peak_step} is {peak / median:.3g} times "
                        f"the running median {median:.4g} of the last {len(self.history)} "
                        f"loops (limit: {threshold:.4g}, loss_spike_ratio={self.ratio:g})")
        if math.isfinite(loop_mean):
            self.history = (self.history + [loop_mean])[-self.window:]
        return None


class DamagedDataError(ValueError):
    """A prepared data set's record files that cannot be read back (damaged after the build);
    the message names each file."""


def damaged_record_files(sources) -> list[tuple[str, str, str]]:
    """``(data set name, record file, what reading it said)`` for each TFRecord file of the
    prepared data sets ``sources`` (objects with ``name`` and ``data_dir``) that does not read
    back: every record is read and its checksums verified."""
    damaged, seen = [], set()
    for source in sources:
        if (source.name, source.data_dir) in seen:
            continue
        seen.add((source.name, source.data_dir))
        folder = tfds.builder(source.name, data_dir=source.data_dir).data_path
        for path in sorted(tf.io.gfile.glob(os.path.join(os.fspath(folder), "*.tfrecord*"))):
            try:
                for _ in tf.data.TFRecordDataset(path):
                    pass
            except tf.errors.OpError as error:
                damaged.append((source.name, path, error.message.strip().splitlines()[0]))
    return damaged


PREEMPTED_EXIT_CODE = 42
"""Exit status after a preemption checkpoint: the run is incomplete, restart it to resume."""


def loop_length(config: TrainConfig, step: int) -> int:
    """Steps of the traced loop that starts after ``step``: at most ``config.steps_per_loop``,
    ending at the next step with eager work (a summary, console line, checkpoint, validation,
    the last step, or the first / last step of ``profile_steps``, which start after a loop and
    stop at its end)."""
    ends = [config.train_steps]
    for every in (config.summary_every, config.log_every, config.checkpoint_every,
                  config.eval_every):
        ends.append((step // every + 1) * every)
    if len(config.profile_steps) == 2:
        first, last = config.profile_steps
        ends += [end for end in (first - 1, last) if end > step]
    return max(1, min(config.steps_per_loop, min(ends) - step))


class _RecordingCheckpointManager(tf.train.CheckpointManager):
    """A ``tf.train.CheckpointManager`` that calls ``before_save()`` before each save (the
    trainer writes the run's ``config.json`` there, so a checkpoint never lies in a folder
    without the config that made it)."""

    def __init__(self, checkpoint, directory, max_to_keep, before_save, **kwargs):
        super().__init__(checkpoint, directory, max_to_keep, **kwargs)
        self._before_save = before_save

    def save(self, *args, **kwargs):
        self._before_save()
        return super().save(*args, **kwargs)


class Trainer:
    """Runs a :class:`TrainConfig` in ``model_dir`` (resuming from its checkpoints).

    The run directory gets ``config.json`` (the resolved config, :mod:`records`) after a
    successful restore and before step 1; ``checkpoints/`` and ``best/``; TensorBoard logs in
    ``train/`` and ``validation/``; ``validation.json``, ``best.json``, ``start.json``,
    ``data_check.json`` and ``predictions.png``.
    """

    def __init__(self, config: TrainConfig, model_dir: os.PathLike,
                 strategy: tf.distribute.Strategy | None = None,
                 task: PoseTask | None = None, print_fn=print):
        self.config = config
        self.model_dir = pathlib.Path(model_dir)
        self.strategy = strategy or make_strategy(config.strategy)
        self.task = task or PoseTask(config)
        self.print = print_fn
        if config.deterministic:
            keras.utils.set_random_seed(config.seed)
            tf.config.experimental.enable_op_determinism()
        self.is_chief = strategy_lib.is_chief(self.strategy)
        self.model_dir.mkdir(parents=True, exist_ok=True)
        # Multi-worker: every worker saves (the save is part of the collective protocol), but
        # only the chief into model_dir; the others into a scratch folder of their own.
        self.save_dir = self.model_dir if self.is_chief else (
            self.model_dir / f"worker_scratch_{strategy_lib.task_id(self.strategy)}")
        if self.is_chief and runs.find_checkpoint(self.model_dir, "best",
                                                  verify=False) is not None:
            saved = runs.run_config(self.model_dir)
            if saved is not None:
                runs.check_architecture(self.model_dir, saved, config)
        with self.strategy.scope():
            previous_policy = keras.mixed_precision.global_policy()
            if config.mixed_precision:  # float16 compute, float32 variables, for this model only
                keras.mixed_precision.set_global_policy("mixed_float16")
            try:
                self.model = self.task.build_model()
            finally:
                keras.mixed_precision.set_global_policy(previous_policy)
            # Built here, inside the scope and before the first traced step (Keras 3 under
            # tf.distribute).
            self.optimizer = make_optimizer(config, self.model)
            if config.mixed_precision:
                self.optimizer.build(self.model.trainable_variables)
            # The same layers without the outputs no loss reads (the 256x256 segmentation head,
            # the world landmarks): the traced step then never computes them.
            self.training_model = self.task.training_view(self.model)
            # The frozen starting network whose pose flag and world landmarks the losses keep
            # (LossConfig.preserve_weight); float32, never checkpointed, re-made from init_from.
            self._reference_full = self.reference_model = None
            if self.task.needs_reference:
                if not config.init_from:
                    raise ValueError("losses.preserve_weight or distill_weight > 0 keeps "
                                     "outputs at the starting network's values: it needs "
                                     "--init_from")
                self._reference_full = self.task.build_model(quantized=False)
                self.reference_model = self.task.reference_view(self._reference_full)
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.runner = Runner(self.task, self.strategy, self.training_model, self.optimizer,
                             self.step, self.reference_model, run_eagerly=config.run_eagerly,
                             jit_compile=config.xla)
        self.checkpoint = tf.train.Checkpoint(model=self.model, optimizer=self.optimizer,
                                              step=self.step)
        self._recorded = False
        self.manager = self._latest_manager()
        self.best_manager = _RecordingCheckpointManager(
            self.checkpoint, self.save_dir / "best", max_to_keep=1, before_save=self.record_run)
        if self.is_chief:
            self.writer = tf.summary.create_file_writer(str(self.model_dir / "train"))
            self.eval_writer = tf.summary.create_file_writer(str(self.model_dir / "validation"))
        else:
            self.writer = self.eval_writer = tf.summary.create_noop_writer()
        self._phase_changed = False

    # -- the run directory ----------------------------------------------------------------

    def _latest_manager(self) -> _RecordingCheckpointManager:
        """The manager of ``save_dir/checkpoints`` (it reads the folder's state when made)."""
        return _RecordingCheckpointManager(
            self.checkpoint, self.save_dir / "checkpoints",
            max_to_keep=self.config.keep_checkpoints, before_save=self.record_run)

    def _set_aside_damaged(self, damaged, latest: str) -> pathlib.Path:
        """Moves the files of the damaged checkpoints ``damaged`` (``(prefix, reason)``) into
        ``checkpoints/damaged/`` (kept for inspection, out of the manager's way: the preemption
        handler and the next resume restore the manager's latest) and makes ``latest`` the
        folder's latest checkpoint."""
        folder = self.model_dir / "checkpoints"
        aside = folder / "damaged"
        aside.mkdir(exist_ok=True)
        for prefix, _ in damaged:
            for path in tf.io.gfile.glob(f"{prefix}.*"):
                shutil.move(path, aside / pathlib.Path(path).name)
        intact = list(reversed(runs.checkpoint_prefixes(folder)))  # oldest first
        tf.compat.v1.train.update_checkpoint_state(str(folder), latest,
                                                   all_model_checkpoint_paths=intact)
        self.manager = self._latest_manager()
        return aside

    def record_run(self) -> None:
        """Writes ``model_dir/config.json`` (the chief, once per trainer): called by
        :meth:`train` after its restore, and before any checkpoint this trainer saves."""
        if self.is_chief and not self._recorded:
            config_lib.save_run_config(self.model_dir, self.config)
        self._recorded = True

    def restore(self) -> bool:
        """Resumes from the newest intact checkpoint; returns whether one was found. Writes
        nothing, except after a successful restore that skipped damaged newer checkpoints: the
        chief then sets their files aside (:meth:`_set_aside_damaged`)."""
        if self._reference_full is not None:
            self._initialize(self._reference_full)
        # Every worker resumes from the chief's checkpoints: the newest that reads back.
        found = runs.find_checkpoint(self.model_dir, "latest", fallback=False)
        latest = None if found is None else found.prefix
        if latest is None:
            if self.config.init_from:
                report = self._initialize(self.model)
                self.print(f"initialised from {self.config.init_from}: {len(report.loaded)} "
                           f"layers loaded, fresh: {report.fresh}")
            if self.config.model.quantized:
                batches = self.task.calibration_images(QAT_CALIBRATION_BATCHES)
                count = quantization.calibrate(self.model, batches)
                self.print(f"quantisation ranges calibrated on {count} batches")
            return False
        saved = runs.run_config(self.model_dir)
        previous_phase = saved.phase if saved is not None else None
        new_phase = previous_phase not in (None, self.config.phase)
        try:
            if new_phase:
                self._restore_other_phase(latest, previous_phase)
            else:
                self.checkpoint.restore(latest).assert_existing_objects_matched()
        except (ValueError, AssertionError, tf.errors.OpError) as error:
            raise CheckpointMismatchError(f"cannot restore {latest}: {error}") from error
        if found.skipped_damaged:
            message = (f"WARNING: resuming from {latest}, the newest intact checkpoint; "
                       + runs.describe_damage(found.skipped_damaged))
            if self.is_chief:
                aside = self._set_aside_damaged(found.skipped_damaged, latest)
                message += f"; their files are moved to {aside}"
            self.print(message)
        if new_phase:
            self.print(f"phase {self.config.phase} starts from phase {previous_phase}'s "
                       f"{latest} at step {int(self.step.numpy())} (weights; fresh optimizer)")
            self._phase_changed = True
        else:
            self.print(f"resumed from {latest} at step {int(self.step.numpy())}")
        return True

    def _initialize(self, model: keras.Model):
        """``model`` (this run's network, or the float reference) from ``init_from``:
        ``mediapipe_full``, a ``.keras`` file, a training run directory or a checkpoint prefix.

        A float network takes what matches by layer name and shape (other keypoints, heads).
        A quantisation-aware network must be the same network as the source: its float twin is
        initialised, then copied over strictly.

        Raises:
          CheckpointMismatchError: a quantised network from a source of another architecture
            (the differences named).
        """
        init_from = self.config.init_from
        source = None
        if runs.is_run_or_checkpoint(init_from):
            source = runs.load_source_run(init_from).model
        if not quantization.is_quantized(model):
            if source is not None:
                return transfer_weights(source, model)
            return initialize_from(model, init_from, topology=self.task.topology)
        float_model = self.task.build_model(quantized=False)
        report = (transfer_weights(source, float_model) if source is not None else
                  initialize_from(float_model, init_from, topology=self.task.topology))
        if report.fresh:
            raise CheckpointMismatchError(
                f"quantisation-aware training starts from the same network: --init_from="
                f"{init_from} has no weights for {', '.join(report.fresh[:8])}"
                f"{' ...' if len(report.fresh) > 8 else ''}")
        try:
            quantization.copy_float_weights(float_model, model)
        except ValueError as error:
            raise CheckpointMismatchError(f"--init_from={init_from}: {error}") from None
        return report

    def _restore_other_phase(self, path: str, phase: str) -> None:
        """Continues from a checkpoint of another phase of the recipe: its weights and step.

        The phases train other variables (the optimizer state does not fit) and differ in
        layers (the regression phase reads the trunk through a stop-gradient layer), so the
        checkpoint is restored into a model built as in its own phase, then copied over layer by
        layer by name.
        """
        previous_task = PoseTask(dataclasses.replace(self.config, phase=phase))
        with self.strategy.scope():
            previous_model = previous_task.build_model()
            tf.train.Checkpoint(model=previous_model, step=self.step).restore(
                path).assert_existing_objects_matched()
            report = transfer_weights(previous_model, self.model)
        if report.fresh:
            raise CheckpointMismatchError(f"{path}: layers without weights in the checkpoint: "
                                          f"{report.fresh}")

    # -- training -------------------------------------------------------------------------

    def train(self) -> dict:
        """Trains to ``train_steps``; returns the final validation metrics."""
        resumed = self.restore()
        self._recorded = False
        self.record_run()  # after the restore succeeded, before step 1
        if self._phase_changed:
            # From now on the latest checkpoint is this phase's (with its optimizer state).
            self.manager.save(checkpoint_number=int(self.step.numpy()))
            self._phase_changed = False
        previous_sigterm = signal.getsignal(signal.SIGTERM)
        preemption = self._preemption_handler()
        try:
            return self._train_loop(resumed, preemption)
        except tf.errors.DataLossError as error:
            raise self._damaged_data_error(error) from error
        finally:
            if preemption is not None and previous_sigterm is not None:
                signal.signal(signal.SIGTERM, previous_sigterm)

    def _damaged_data_error(self, error: tf.errors.DataLossError) -> Exception:
        """A :class:`DamagedDataError` naming the damaged record files of the run's data sets
        (each read back to find them), or ``error`` itself when none is found."""
        damaged = damaged_record_files(self.task.sources(True) + self.task.sources(False))
        if not damaged:
            return error
        listed = "; ".join(f"{path} of {name} ({said})" for name, path, said in damaged)
        return DamagedDataError(
            f"{len(damaged)} record file(s) of the prepared data sets are damaged: {listed}. "
            f"Delete the data set's folder (e.g. {os.path.dirname(damaged[0][1])}) and run "
            "again to rebuild it; the last good checkpoint is "
            f"{self.manager.latest_checkpoint}.")

    def check_data(self) -> list:
        """Counts and names the records training and validation will skip (printed, and in
        ``data_check.json``); raises ValueError when a data set has no usable record."""
        checks = []
        for training in (True, False):
            for check in self.task.check_records(training):
                if check.source not in {c.source for c in checks}:
                    checks.append(check)
        for check in checks:
            if check.skipped:
                self.print(f"data check: {check.summary()}")
            if check.total and check.skipped == check.total:
                raise ValueError(f"data set {check.source}: none of its {check.total} records "
                                 f"is usable:\n{check.summary()}")
        if self.is_chief:
            (self.model_dir / "data_check.json").write_text(json.dumps(
                [dataclasses.asdict(check) for check in checks], indent=2))
        return checks

    def _train_loop(self, resumed: bool, preemption) -> dict:
        config = self.config
        inner = getattr(self.optimizer, "inner_optimizer", self.optimizer)
        if inner.use_ema and int(inner.iterations.numpy()) == 0:  # a fresh optimizer
            inner.start_average(self.model.trainable_variables)
        self.check_data()
        if not resumed:
            self._write_hparams()
            self.evaluate(0)  # the starting point, e.g. Google's weights before fine-tuning
        step = int(self.step.numpy())
        iterator = iter(self._training_dataset(step))
        last_time, last_step = time.perf_counter(), step
        results: dict = {}
        spike_guard = LossSpikeGuard(config.loss_spike_ratio)
        while step < config.train_steps:
            self._profile(step + 1)
            first = step + 1
            logs, bad_step, (peak, peak_step) = self.runner.train(
                iterator, loop_length(config, step))
            step = int(self.step.numpy())
            total = logs["total"]
            if bad_step is not None or not math.isfinite(total):
                raise NonFiniteLossError(
                    f"loss became {total} at step {bad_step or step} (mean of steps {first}-"
                    f"{step}); stopped without saving, the last good checkpoint is "
                    f"{self.manager.latest_checkpoint}. Lower the learning rate, check the "
                    "data, or enable gradient clipping.")
            spike = spike_guard.check(total, peak, peak_step)
            if spike is not None:
                raise ExplodingLossError(
                    f"exploding loss: {spike}; stopped without saving, the last good checkpoint "
                    f"is {self.manager.latest_checkpoint}. Usually a label far from its image: "
                    "rebuild the data set (the builders now refuse such records) or look at "
                    "data_check.json; a noisy but sound recipe may raise --loss_spike_ratio "
                    "(0 turns the guard off).")
            # Losses are the means over the loop's steps (since the previous loop).
            if step % config.summary_every == 0 or step == config.train_steps:
                with self.writer.as_default(step=step):
                    for name, value in logs.items():
                        tf.summary.scalar(f"loss/{name}", value)
                    tf.summary.scalar("learning_rate", self.optimizer.learning_rate)
            if step % config.log_every == 0 or step == config.train_steps:
                now = time.perf_counter()
                rate = (step - last_step) * config.batch_size / max(now - last_time, 1e-9)
                eta = (config.train_steps - step) * config.batch_size / max(rate, 1e-9)
                losses = " ".join(f"{k}={v:.4f}" for k, v in sorted(logs.items()))
                self.print(f"step {step}/{config.train_steps} {losses} {rate:.1f} images/s "
                           f"ETA {eta:.0f}s")
                with self.writer.as_default(step=step):
                    tf.summary.scalar("images_per_second", rate)
                last_time, last_step = now, step
            if step == config.train_steps:
                # The finished run's checkpoint holds the weight average when there is one (what
                # validation scored, what evaluate and export load); the others hold the raw
                # weights, so an interrupted run resumes exactly.
                with self.averaged_weights():
                    self.manager.save(checkpoint_number=step)
            elif step % config.checkpoint_every == 0:
                self.manager.save(checkpoint_number=step)
            if preemption is not None:  # after every loop, on every worker: it counts the calls
                preemption.save_checkpoint_if_preempted(checkpoint_number=step)
            if step % config.eval_every == 0 or step == config.train_steps:
                results = self.evaluate(step)
        self._profile(config.train_steps + 1)
        self.writer.flush()
        if not self.is_chief:
            shutil.rmtree(self.save_dir, ignore_errors=True)
        return results

    def _training_dataset(self, consumed_steps: int):
        """The distributed training data. A deterministic run that resumes skips the batches it
        already trained on, so a killed and restarted run sees exactly the same data."""
        dataset_fn = self.task.dataset_fn(True)
        if not (self.config.deterministic and consumed_steps):
            return self.strategy.distribute_datasets_from_function(dataset_fn)
        replicas = self.strategy.num_replicas_in_sync

        def resumed_fn(context: tf.distribute.InputContext):
            return dataset_fn(context).skip(consumed_steps * replicas
                                            // context.num_input_pipelines)

        return self.strategy.distribute_datasets_from_function(resumed_fn)

    def _write_hparams(self) -> None:
        config = self.config
        with self.writer.as_default():
            hparams_api.hparams({
                "variant": config.model.variant, "num_keypoints": config.model.num_keypoints,
                "phase": config.phase, "optimizer": config.optimizer.name,
                "learning_rate": config.optimizer.learning_rate,
                "schedule": config.optimizer.schedule, "batch_size": config.batch_size,
                "heatmap_loss": config.losses.heatmap, "regression_loss": config.losses.regression,
                "datasets": ",".join(config.data.datasets),
                "init_from": config.init_from or "", "mixed_precision": config.mixed_precision})

    def _profile(self, step: int) -> None:
        """Called before the loop whose first step is ``step`` (loop_length makes a loop
        start at the first profiled step and end at the last)."""
        steps = self.config.profile_steps
        if len(steps) == 2 and step == steps[0]:
            tf.profiler.experimental.start(str(self.model_dir / "train"))
        elif len(steps) == 2 and step == steps[1] + 1:
            tf.profiler.experimental.stop()

    def _preemption_handler(self):
        """A ``PreemptionCheckpointHandler`` when ``config.preemption_checkpoints`` (else None).

        On SIGTERM to any worker (how clusters and schedulers announce a preemption), all
        workers agree on a loop end, save a checkpoint there through ``self.manager`` and exit
        with :data:`PREEMPTED_EXIT_CODE`; restarted, the run resumes from that checkpoint.
        Signal handlers can only be installed from the main thread: elsewhere it is None.
        """
        if not self.config.preemption_checkpoints or self.config.strategy == "tpu":
            return None
        if threading.current_thread() is not threading.main_thread():
            self.print("preemption checkpoints off: training is not on the main thread")
            return None

        def exit_preempted():
            self.writer.flush()
            self.print(f"preempted: saved {self.manager.latest_checkpoint}; exiting with "
                       f"status {PREEMPTED_EXIT_CODE}, restart to resume")
            sys.exit(PREEMPTED_EXIT_CODE)

        return tf.distribute.experimental.PreemptionCheckpointHandler(
            getattr(self.strategy, "cluster_resolver", None), self.manager,
            termination_config=tf.distribute.experimental.TerminationConfig(
                exit_fn=exit_preempted))

    # -- evaluation -----------------------------------------------------------------------

    def run_evaluation(self, max_batches: int | None = None, progress: bool = False
                       ) -> EvaluationRun:
        """Predicts the evaluation split (at most ``max_batches``, default the config's
        ``eval_batches``) with the runner's traced, distributed step, and accumulates the
        metrics on the host; shared by :meth:`evaluate` and ``launch.evaluate``. ``progress``
        shows a progress bar on stderr.

        When every evaluation data set is in COCO's 17-keypoint topology, COCO's OKS AP is
        computed too (:func:`validation.coco_oks`), on the 17 points picked out of the model's
        landmarks, with the data set's person areas (scaled into the crop) where it has them,
        else the boxes of the labelled points. Each crop holds one person, with score 1.
        """
        max_batches = self.config.eval_batches if max_batches is None else max_batches
        evaluator = metrics.PoseEvaluator(self.task.topology)
        coco = validation.is_coco_evaluation(self.task)
        oks_parts: dict[str, list] = {"pred": [], "gt": [], "labelled": [], "area": []}
        dataset = self.strategy.distribute_datasets_from_function(self.task.dataset_fn(False))
        run = EvaluationRun(evaluator=evaluator)
        total = (min(self.task.num_examples(False), max_batches * self.config.batch_size)
                 if progress else None)
        with tqdm.tqdm(total=total, desc="evaluating", unit=" examples", file=sys.stderr,
                       disable=not progress, leave=True) as bar:
            for index, batch in enumerate(dataset):
                if index >= max_batches:
                    break
                for local, outputs in self.runner.evaluate_step(batch):
                    predicted, visibility = outputs["keypoints"], outputs["visibility"]
                    if not len(predicted):
                        continue
                    truth, labelled = local["landmarks"].numpy(), local["labelled"].numpy()
                    evaluator.update(predicted, truth, labelled, pred_visibility=visibility,
                                     gt_visibility=local["visibility"].numpy())
                    if coco:
                        for key, value in zip(("pred", "gt", "labelled"),
                                              (predicted, truth, labelled)):
                            oks_parts[key].append(value)
                        oks_parts["area"].append(local["area"].numpy())
                    run.num_examples += len(predicted)
                    bar.update(len(predicted))
                    if run.sample is None:
                        run.sample = (local["image"].numpy(), truth, labelled, predicted,
                                      visibility)
                        run.heatmaps = (outputs["target_heatmap"], outputs["heatmap"])
        if coco and run.num_examples:
            run.oks = validation.coco_oks(**{k: np.concatenate(v) for k, v in oks_parts.items()},
                                          topology=self.task.topology)
        return run

    @contextlib.contextmanager
    def averaged_weights(self):
        """Within: the model holds the optimizer's moving average of its weights (when
        ``optimizer.ema_momentum`` > 0 and a step has been taken; the average starts at the
        weights training started from); restored on exit."""
        inner = getattr(self.optimizer, "inner_optimizer", self.optimizer)
        if not inner.use_ema or int(inner.iterations.numpy()) == 0:
            yield
            return
        variables = self.model.trainable_variables
        current = [v.numpy() for v in variables]
        inner.finalize_variable_values(variables)
        try:
            yield
        finally:
            for variable, value in zip(variables, current):
                variable.assign(value)

    def evaluate(self, step: int | None = None) -> dict:
        """Validation metrics over ``eval_batches`` batches, written to TensorBoard and JSON
        (of the weights' moving average when the optimizer keeps one)."""
        with self.averaged_weights():
            return self._evaluate(step)

    def _evaluate(self, step: int | None = None) -> dict:
        step = int(self.step.numpy()) if step is None else step
        run = self.run_evaluation()
        evaluator = run.evaluator
        results = {k: v for k, v in evaluator.result().items() if np.isscalar(v)}
        results.update(run.oks or {})
        pictures = None if run.sample is None else validation.draw_predictions(
            *run.sample, topology=self.task.topology)
        with self.eval_writer.as_default(step=step):
            for name, value in results.items():
                if isinstance(value, float) and math.isfinite(value):
                    tf.summary.scalar(f"metrics/{name}", value)
            if pictures is not None:
                tf.summary.image("predictions", pictures[:4] / 255.0, step=step, max_outputs=4)
                # All keypoints' heatmaps in one picture (max over keypoints): target | predicted.
                tf.summary.image("heatmaps", np.concatenate(run.heatmaps, axis=2)[:4],
                                 step=step, max_outputs=4)
        self.eval_writer.flush()
        if not self.is_chief:
            return results
        pck = results.get(evaluator.pck_key, float("nan"))
        self.print(f"validation at step {step}: {evaluator.pck_key}={pck:.3f} "
                   f"mean_pixel_error={results.get('mean_pixel_error', float('nan')):.2f}")
        warning = self._check_collapse(step, pck, evaluator.pck_key)
        if warning:
            results["collapse_warning"] = warning
        (self.model_dir / "validation.json").write_text(json.dumps(
            {"step": step, **{k: v for k, v in results.items()
                              if not isinstance(v, float) or math.isfinite(v)}}, indent=2))
        if math.isfinite(pck) and pck > self._best_pck():
            self.best_manager.save(checkpoint_number=step)
            (self.model_dir / "best.json").write_text(json.dumps({"step": step, "pck": pck}))
        if pictures is not None:
            tf.io.write_file(str(self.model_dir / "predictions.png"),
                             tf.io.encode_png(pictures[0].astype(np.uint8)))
        return results

    def _check_collapse(self, step: int, pck: float, key: str) -> str | None:
        """Records step 0's PCK (``start.json``); later, a warning (printed, in TensorBoard, and
        returned) when PCK has fallen more than ``config.collapse_tolerance`` below it."""
        path = self.model_dir / "start.json"
        if step == 0 and math.isfinite(pck) and not path.exists():
            path.write_text(json.dumps({"step": 0, "pck": pck}))
            return None
        if not path.exists() or not math.isfinite(pck):
            return None
        start = json.loads(path.read_text())["pck"]
        if pck >= start - self.config.collapse_tolerance:
            return None
        best = json.loads((self.model_dir / "best.json").read_text()) if (
            self.model_dir / "best.json").exists() else {"step": 0, "pck": start}
        warning = (f"validation {key} fell from {start:.3f} at step 0 to {pck:.3f} at step "
                   f"{step} (more than {self.config.collapse_tolerance} below): the recipe is "
                   f"moving the network away from its starting weights. The best checkpoint "
                   f"(step {best['step']}, {best['pck']:.3f}) is kept in {self.model_dir / 'best'}"
                   " and evaluate/export use it; lower --learning_rate or freeze more of the "
                   "trunk.")
        self.print(f"WARNING: {warning}")
        with self.eval_writer.as_default(step=step):
            tf.summary.text("collapse_warning", warning)
            tf.summary.scalar("metrics/drop_from_start", start - pck)
        return warning

    def _best_pck(self) -> float:
        path = self.model_dir / "best.json"
        return json.loads(path.read_text())["pck"] if path.exists() else -1.0
