"""The training loop, split the Orbit way: a traced step under ``strategy.run`` and an eager
outer loop that owns checkpoints, summaries, evaluation and the console.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import pathlib
import signal
import sys
import threading
import time

import keras
import numpy as np
import tensorflow as tf

from blazepose import drawing, metrics
from blazepose import keypoints as keypoints_lib
from blazepose import topology as topology_lib
from blazepose.progress import ProgressBar
from blazepose.train import config as config_lib
from blazepose.train import losses as losses_lib
from blazepose.train.config import TrainConfig
from blazepose.train.task import PoseTask

_LOG = logging.getLogger(__name__)


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


PREEMPTED_EXIT_CODE = 42
"""Exit status after a preemption checkpoint: the run is incomplete, restart it to resume."""


class CheckpointMismatchError(ValueError):
    """A checkpoint in the model directory belongs to another architecture."""


def make_strategy(name: str) -> tf.distribute.Strategy:
    """``default``, ``mirrored`` (local GPUs, else logical CPU devices), ``multi_worker_mirrored``
    (cluster from ``TF_CONFIG``) or ``tpu``."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = gpus or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    if name == "multi_worker_mirrored":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(f"unknown strategy {name!r}")


@keras.saving.register_keras_serializable(package="blazepose")
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up to ``peak``, then cosine decay to 0, step decay, or constant."""

    def __init__(self, peak: float, total_steps: int, warmup_steps: int = 0,
                 kind: str = "cosine", boundaries=(), factor: float = 0.1):
        self.peak, self.total_steps, self.warmup_steps = peak, total_steps, warmup_steps
        self.kind, self.boundaries, self.factor = kind, tuple(boundaries), factor

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        warmup = tf.cast(max(self.warmup_steps, 1), tf.float32)
        warm = self.peak * tf.minimum(1.0, (step + 1.0) / warmup)
        if self.kind == "cosine":
            span = tf.cast(max(self.total_steps - self.warmup_steps, 1), tf.float32)
            progress = tf.clip_by_value((step - self.warmup_steps) / span, 0.0, 1.0)
            decayed = self.peak * 0.5 * (1.0 + tf.cos(math.pi * progress))
        elif self.kind == "step":
            passed = tf.add_n([tf.cast(step >= b, tf.float32) for b in self.boundaries]
                              or [tf.constant(0.0)])
            decayed = self.peak * tf.pow(self.factor, passed)
        else:
            decayed = tf.constant(self.peak, tf.float32)
        return tf.where(step < self.warmup_steps, warm, decayed)

    def get_config(self):
        return {"peak": self.peak, "total_steps": self.total_steps,
                "warmup_steps": self.warmup_steps, "kind": self.kind,
                "boundaries": list(self.boundaries), "factor": self.factor}


TRUNK_PREFIXES = ("stem", "enc", "trunk")
"""Layers of the pretrained encoder (stem, the four encoder stages, the 8x8 trunk): what
``OptimizerSection.trunk_learning_rate_factor`` and ``trunk_frozen_fraction`` slow down."""


class _TrunkRates:
    """Optimizer mix-in: the trunk's variables learn at ``factor`` times the learning rate, and
    not at all before step ``frozen_steps`` (a per-variable rate, which scaling gradients cannot
    give under Adam's normalisation). Set up by :meth:`set_trunk` after ``build``."""

    _trunk_indices: frozenset = frozenset()
    _trunk_factor: float = 1.0
    _trunk_frozen_steps: int = 0

    def set_trunk(self, variables, trunk: set, factor: float, frozen_steps: int) -> None:
        """``variables`` as given to ``build``; ``trunk`` the ids of the trunk's among them."""
        self._trunk_indices = frozenset(self._get_variable_index(v) for v in variables
                                        if id(v) in trunk)
        self._trunk_factor, self._trunk_frozen_steps = float(factor), int(frozen_steps)

    def start_average(self, variables) -> None:
        """Starts the weight average (``use_ema``) at ``variables``' current values, e.g. the
        pretrained weights, instead of Keras's choice, the weights after the first step."""
        for variable, average in zip(variables, self._model_variables_moving_average):
            if average is not None:
                average.assign(variable)

    def _update_model_variables_moving_average(self, trainable_variables):
        # Keras restarts the average at the first step's weights; with start_average it starts
        # at the pretrained ones, so the first (largest, Adam-normalised) steps are averaged too.
        if self.use_ema:
            for variable, average in zip(trainable_variables,
                                         self._model_variables_moving_average):
                if average is not None:
                    average.assign(self.ema_momentum * average
                                   + (1.0 - self.ema_momentum) * variable)

    def update_step(self, gradient, variable, learning_rate):
        if self._trunk_indices and self._get_variable_index(variable) in self._trunk_indices:
            learning_rate = learning_rate * tf.where(
                self.iterations >= self._trunk_frozen_steps, self._trunk_factor, 0.0)
        return super().update_step(gradient, variable, learning_rate)


class Adam(_TrunkRates, keras.optimizers.Adam):
    """``keras.optimizers.Adam`` with the trunk's own rate (:class:`_TrunkRates`)."""


class AdamW(_TrunkRates, keras.optimizers.AdamW):
    """``keras.optimizers.AdamW`` with the trunk's own rate (weight decay is not slowed)."""


class SGD(_TrunkRates, keras.optimizers.SGD):
    """``keras.optimizers.SGD`` with the trunk's own rate (:class:`_TrunkRates`)."""


def make_optimizer(config: TrainConfig, model: keras.Model | None = None
                   ) -> keras.optimizers.Optimizer:
    """The config's optimizer and schedule; built for ``model``'s trainable variables (with
    the trunk's own rate) when it is given."""
    section = config.optimizer
    schedule = WarmupSchedule(section.learning_rate, config.train_steps,
                              section.warmup_for(config.train_steps), section.schedule,
                              section.step_boundaries, section.step_factor)
    clip = {"global_clipnorm": section.clip_norm} if section.clip_norm > 0 else {}
    if section.ema_momentum > 0:
        clip.update(use_ema=True, ema_momentum=section.ema_momentum)
    if section.name == "adam":
        optimizer = Adam(schedule, **clip)
    elif section.name == "adamw":
        optimizer = AdamW(schedule, weight_decay=section.weight_decay, **clip)
    else:
        optimizer = SGD(schedule, momentum=section.momentum, nesterov=True, **clip)
    if model is not None:
        variables = model.trainable_variables
        optimizer.build(variables)
        trunk = {id(v) for layer in model.layers if layer.name.startswith(TRUNK_PREFIXES)
                 for v in layer.trainable_weights}
        frozen = section.trunk_frozen_for(config.train_steps)
        if trunk and (section.trunk_learning_rate_factor != 1.0 or frozen > 0):
            optimizer.set_trunk(variables, trunk, section.trunk_learning_rate_factor, frozen)
    if config.mixed_precision:
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def _task_id(strategy) -> int:
    resolver = getattr(strategy, "cluster_resolver", None)
    return int(getattr(resolver, "task_id", 0) or 0)


def _is_chief(strategy) -> bool:
    """True outside multi-worker training, else for the chief (or worker 0 without a chief)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    task_type = getattr(resolver, "task_type", None)
    if task_type in (None, "chief"):
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return task_type == "worker" and not has_chief and _task_id(strategy) == 0


def _architecture(config: TrainConfig) -> dict:
    return {"model": dataclasses.asdict(config.model), "topology": config.data.pipeline.topology}


@dataclasses.dataclass
class EvaluationRun:
    """What :meth:`Trainer.run_evaluation` gathered.

    Attributes:
      evaluator: the accumulated keypoint metrics.
      num_examples: examples evaluated.
      oks: COCO OKS AP / AR (``oks_AP``, ...) when the data is COCO-17, else None.
      sample: the first batch (images, truth, labelled, predicted, visibility) for pictures.
      heatmaps: (target, predicted) heatmaps of the first batch.
    """

    evaluator: metrics.PoseEvaluator
    num_examples: int = 0
    oks: dict | None = None
    sample: tuple | None = None
    heatmaps: tuple | None = None


def check_architecture(model_dir: os.PathLike, config: TrainConfig, record: bool = False
                       ) -> None:
    """Refuses a model_dir whose ``architecture.json`` (model section and topology) differs
    from ``config``'s, naming each difference. ``record`` writes the file when it is missing
    (a new run); otherwise a missing file is not an error here."""
    path = pathlib.Path(model_dir) / "architecture.json"
    ours = _architecture(config)
    if path.exists():
        theirs = json.loads(path.read_text())
        differences = {key: (theirs.get(key), ours.get(key)) for key in ours
                       if theirs.get(key) != ours.get(key)}
        if differences:
            raise CheckpointMismatchError(
                f"{model_dir} holds checkpoints of another architecture: " + "; ".join(
                    f"{k}: checkpoint {a} vs config {b}" for k, (a, b) in differences.items()))
    elif record:
        path.write_text(json.dumps(ours, indent=2))


class Trainer:
    """Runs a :class:`TrainConfig` in ``model_dir`` (resuming from its checkpoints)."""

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
        self.is_chief = _is_chief(self.strategy)
        self.model_dir.mkdir(parents=True, exist_ok=True)
        # Multi-worker: every worker saves (the save is part of the collective protocol), but
        # only the chief into model_dir; the others into a scratch folder of their own.
        self.save_dir = self.model_dir if self.is_chief else (
            self.model_dir / f"worker_scratch_{_task_id(self.strategy)}")
        if self.is_chief:
            self._check_architecture()
        with self.strategy.scope():
            previous_policy = keras.mixed_precision.global_policy()
            if config.mixed_precision:  # float16 compute, float32 variables, for this model only
                keras.mixed_precision.set_global_policy("mixed_float16")
            try:
                self.model = self.task.build_model()
            finally:
                keras.mixed_precision.set_global_policy(previous_policy)
            self.optimizer = make_optimizer(config, self.model)
            if config.mixed_precision:
                self.optimizer.build(self.model.trainable_variables)
            # The same layers without the outputs no loss reads (the 256x256 segmentation head,
            # the world landmarks): the traced step then never computes them.
            self.training_model = self.task.training_view(self.model)
            # The frozen starting network whose pose flag and world landmarks the losses keep
            # (LossConfig.preserve_weight); float32, never checkpointed, re-made from init_from.
            self._reference_full = self.reference_model = None
            if self.task.preserves_outputs:
                if not config.init_from:
                    raise ValueError("losses.preserve_weight > 0 keeps outputs at the starting "
                                     "network's values: it needs --init_from")
                self._reference_full = self.task.build_model()
                self.reference_model = self.task.reference_view(self._reference_full)
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.checkpoint = tf.train.Checkpoint(model=self.model, optimizer=self.optimizer,
                                              step=self.step)
        self.manager = tf.train.CheckpointManager(self.checkpoint, self.save_dir / "checkpoints",
                                                  max_to_keep=config.keep_checkpoints)
        self.best_manager = tf.train.CheckpointManager(self.checkpoint, self.save_dir / "best",
                                                       max_to_keep=1)
        if self.is_chief:
            self.writer = tf.summary.create_file_writer(str(self.model_dir / "train"))
            self.eval_writer = tf.summary.create_file_writer(str(self.model_dir / "validation"))
        else:
            self.writer = self.eval_writer = tf.summary.create_noop_writer()
        self._train_step = None
        self._eval_outputs = None

    # -- checkpoints ----------------------------------------------------------------------

    def _check_architecture(self) -> None:
        check_architecture(self.model_dir, self.config, record=True)

    def restore(self) -> bool:
        """Resumes from the latest checkpoint; returns whether one was found."""
        from blazepose.pretrained.importer import initialize_from

        if self._reference_full is not None:
            initialize_from(self._reference_full, self.config.init_from,
                            topology=self.task.topology)
        # Every worker resumes from the chief's checkpoints.
        latest = tf.train.latest_checkpoint(str(self.model_dir / "checkpoints"))
        if latest is None:
            if self.config.init_from:
                report = initialize_from(self.model, self.config.init_from,
                                         topology=self.task.topology)
                self.print(f"initialised from {self.config.init_from}: {len(report.loaded)} "
                           f"layers loaded, fresh: {report.fresh}")
            return False
        previous_phase = self._recorded_phase()
        new_phase = previous_phase not in (None, self.config.phase)
        try:
            if new_phase:
                self._restore_other_phase(latest, previous_phase)
            else:
                self.checkpoint.restore(latest).assert_existing_objects_matched()
        except (ValueError, AssertionError, tf.errors.OpError) as error:
            raise CheckpointMismatchError(f"cannot restore {latest}: {error}") from error
        if new_phase:
            self.print(f"phase {self.config.phase} starts from phase {previous_phase}'s "
                       f"{latest} at step {int(self.step.numpy())} (weights; fresh optimizer)")
            self._phase_changed = True
        else:
            self.print(f"resumed from {latest} at step {int(self.step.numpy())}")
        return True

    def _restore_other_phase(self, path: str, phase: str) -> None:
        """Continues from a checkpoint of another phase of the recipe: its weights and step.

        The phases train other variables (the optimizer state does not fit) and differ in
        layers (the regression phase reads the trunk through a stop-gradient layer), so the
        checkpoint is restored into a model built as in its own phase, then copied over layer by
        layer by name.
        """
        from blazepose.pretrained.importer import transfer_weights

        previous_task = PoseTask(dataclasses.replace(self.config, phase=phase))
        with self.strategy.scope():
            previous_model = previous_task.build_model()
            tf.train.Checkpoint(model=previous_model, step=self.step).restore(
                path).assert_existing_objects_matched()
            report = transfer_weights(previous_model, self.model)
        if report.fresh:
            raise CheckpointMismatchError(f"{path}: layers without weights in the checkpoint: "
                                          f"{report.fresh}")

    def _recorded_phase(self) -> str | None:
        """The phase the latest checkpoints were trained in (phase.json), if known."""
        path = self.model_dir / "phase.json"
        return json.loads(path.read_text())["phase"] if path.exists() else None

    def _record_phase(self) -> None:
        if self.is_chief:
            (self.model_dir / "phase.json").write_text(json.dumps({"phase": self.config.phase}))

    # -- steps ----------------------------------------------------------------------------

    def _make_train_step(self):
        task, model, optimizer = self.task, self.training_model, self.optimizer
        reference_model = self.reference_model
        global_batch = self.config.batch_size
        mixed = self.config.mixed_precision

        variables = model.trainable_variables
        # The preserve loss re-fits the pose-flag head only: through the shared features it
        # would hold the landmarks back (LSP, 400 steps: PCK@0.2 0.769 against 0.824).
        flag_head = [index for index, variable in enumerate(variables)
                     if variable.path.startswith(task.PRESERVE_HEAD_PREFIX)]
        preserve_weight = task.loss_config.preserve_weight

        def replica_step(batch):
            reference = (None if reference_model is None
                         else reference_model(batch["image"], training=False))
            with tf.GradientTape(persistent=reference is not None) as tape:
                outputs = model(batch["image"], training=True)
                per_example = task.per_example_losses(batch, outputs, reference)
                main = per_example["total"]
                if reference is not None:
                    preserve = preserve_weight * per_example[losses_lib.PRESERVE]
                    main = main - preserve
                    preserve = tf.nn.compute_average_loss(preserve,
                                                          global_batch_size=global_batch)
                loss = tf.nn.compute_average_loss(main, global_batch_size=global_batch)
                scaled = optimizer.scale_loss(loss) if mixed else loss
            gradients = tape.gradient(scaled, variables)
            if reference is not None:
                scaled = optimizer.scale_loss(preserve) if mixed else preserve
                head = tape.gradient(scaled, [variables[index] for index in flag_head])
                for index, extra in zip(flag_head, head):
                    gradients[index] = extra if gradients[index] is None else (
                        gradients[index] + extra)
                del tape
            optimizer.apply_gradients(zip(gradients, variables))
            return {name: tf.nn.compute_average_loss(value, global_batch_size=global_batch)
                    for name, value in per_example.items()}

        def step(iterator):
            per_replica = self.strategy.run(replica_step, args=(next(iterator),))
            return {name: self.strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
                    for name, value in per_replica.items()}

        if self.config.run_eagerly:
            return step
        return tf.function(step, jit_compile=self.config.xla or None)

    # -- loop -----------------------------------------------------------------------------

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
        from tensorboard.plugins.hparams import api as hparams

        config = self.config
        with self.writer.as_default():
            hparams.hparams({
                "variant": config.model.variant, "num_keypoints": config.model.num_keypoints,
                "phase": config.phase, "optimizer": config.optimizer.name,
                "learning_rate": config.optimizer.learning_rate,
                "schedule": config.optimizer.schedule, "batch_size": config.batch_size,
                "heatmap_loss": config.losses.heatmap, "regression_loss": config.losses.regression,
                "datasets": ",".join(config.data.datasets),
                "init_from": config.init_from or "", "mixed_precision": config.mixed_precision})

    def _profile(self, step: int) -> None:
        steps = self.config.profile_steps
        if len(steps) == 2 and step == steps[0]:
            tf.profiler.experimental.start(str(self.model_dir / "train"))
        elif len(steps) == 2 and step == steps[1] + 1:
            tf.profiler.experimental.stop()

    def _preemption_handler(self):
        """A ``PreemptionCheckpointHandler`` when ``config.preemption_checkpoints`` (else None).

        On SIGTERM to any worker (how clusters and schedulers announce a preemption), all
        workers agree on a step, save a checkpoint there through ``self.manager`` and exit with
        :data:`PREEMPTED_EXIT_CODE`; restarted, the run resumes from that checkpoint. Signal
        handlers can only be installed from the main thread: elsewhere it is None.
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

    def train(self) -> dict:
        """Trains to ``train_steps``; returns the final validation metrics."""
        resumed = self.restore()
        if getattr(self, "_phase_changed", False):
            # From now on the latest checkpoint is this phase's (with its optimizer state).
            self._record_phase()
            self.manager.save(checkpoint_number=int(self.step.numpy()))
            self._phase_changed = False
        previous_sigterm = signal.getsignal(signal.SIGTERM)
        preemption = self._preemption_handler()
        try:
            return self._train_loop(resumed, preemption)
        finally:
            if preemption is not None and previous_sigterm is not None:
                signal.signal(signal.SIGTERM, previous_sigterm)

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
        self._record_phase()
        if self.is_chief:  # evaluate and export read it back (config.load_run_config)
            (self.model_dir / config_lib.RUN_CONFIG_FILE).write_text(config_lib.to_json(config))
        self.check_data()
        if not resumed:
            self._write_hparams()
            self.evaluate(0)  # the starting point, e.g. Google's weights before fine-tuning
        start_step = int(self.step.numpy())
        iterator = iter(self._training_dataset(start_step))
        self._train_step = self._train_step or self._make_train_step()
        last_time, last_step = time.perf_counter(), start_step
        results: dict = {}
        while int(self.step.numpy()) < config.train_steps:
            self._profile(int(self.step.numpy()) + 1)
            logs = self._train_step(iterator)
            self.step.assign_add(1)
            step = int(self.step.numpy())
            total = float(logs["total"])
            if not math.isfinite(total):
                raise NonFiniteLossError(
                    f"loss became {total} at step {step}; stopped without saving, the last good "
                    f"checkpoint is {self.manager.latest_checkpoint}. Lower the learning rate, "
                    "check the data, or enable gradient clipping.")
            if step % config.summary_every == 0 or step == config.train_steps:
                with self.writer.as_default(step=step):
                    for name, value in logs.items():
                        tf.summary.scalar(f"loss/{name}", value)
                    tf.summary.scalar("learning_rate", self.optimizer.learning_rate)
            if step % config.log_every == 0 or step == config.train_steps:
                now = time.perf_counter()
                rate = (step - last_step) * config.batch_size / max(now - last_time, 1e-9)
                eta = (config.train_steps - step) * config.batch_size / max(rate, 1e-9)
                losses = " ".join(f"{k}={float(v):.4f}" for k, v in sorted(logs.items()))
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
            if preemption is not None:  # every step, on every worker: it counts the calls
                preemption.save_checkpoint_if_preempted(checkpoint_number=step)
            if step % config.eval_every == 0 or step == config.train_steps:
                results = self.evaluate(step)
        self._profile(config.train_steps + 1)
        self.writer.flush()
        if not self.is_chief:
            import shutil

            shutil.rmtree(self.save_dir, ignore_errors=True)
        return results

    def run_evaluation(self, max_batches: int | None = None, progress: bool = False
                       ) -> EvaluationRun:
        """Predicts the evaluation split (at most ``max_batches``, default the config's
        ``eval_batches``) and accumulates the metrics; shared by :meth:`evaluate` and
        ``launch.evaluate``. ``progress`` shows a progress line on stderr.

        When every evaluation data set is in COCO's 17-keypoint topology, COCO's OKS AP is
        computed too (pycocotools), on the 17 points picked out of the model's landmarks, with
        the data set's person areas (scaled into the crop) where it has them, else the boxes of
        the labelled points. Each crop holds one person, with score 1.
        """
        max_batches = self.config.eval_batches if max_batches is None else max_batches
        evaluator = metrics.PoseEvaluator(self.task.topology)
        coco = self._coco_evaluation()
        oks_parts: dict[str, list] = {"pred": [], "gt": [], "labelled": [], "area": []}
        dataset = self.strategy.distribute_datasets_from_function(self.task.dataset_fn(False))
        run = EvaluationRun(evaluator=evaluator)
        bar = None
        if progress:
            total = min(self.task.num_examples(False), max_batches * self.config.batch_size)
            bar = ProgressBar(total, label="evaluating", stream=sys.stderr)
        for index, batch in enumerate(dataset):
            if index >= max_batches:
                break
            for local in self.local_parts(batch):
                outputs = self.training_model(local["image"], training=False)
                predicted, visibility = self.task.predict_keypoints(outputs)
                truth, labelled = local["landmarks"].numpy(), local["labelled"].numpy()
                evaluator.update(predicted, truth, labelled, pred_visibility=visibility,
                                 gt_visibility=local["visibility"].numpy())
                if coco:
                    for key, value in zip(("pred", "gt", "labelled"), (predicted, truth,
                                                                      labelled)):
                        oks_parts[key].append(value)
                    oks_parts["area"].append(local["area"].numpy())
                run.num_examples += len(predicted)
                if bar is not None:
                    bar.update(len(predicted))
                if run.sample is None:
                    run.sample = (local["image"].numpy(), truth, labelled, predicted, visibility)
                    k = self.config.model.num_keypoints
                    run.heatmaps = (local["heatmap"], tf.sigmoid(tf.cast(
                        outputs["heatmap"], tf.float32))[..., :k])
        if bar is not None:
            bar.close()
        if coco and run.num_examples:
            run.oks = self._coco_oks(**{k: np.concatenate(v) for k, v in oks_parts.items()})
        return run

    def _coco_evaluation(self) -> bool:
        """Whether the evaluation data is all COCO-17 (then OKS AP is computed)."""
        try:
            sources = self.task.source_topologies(False)
        except Exception:  # not prepared / unknown: no OKS, the other metrics still run
            return False
        ours = self.task.topology.name
        return bool(sources) and all(t.name == "coco_17" for t in sources) and ours in (
            "coco_17", topology_lib.BLAZEPOSE_33.name)

    def _coco_oks(self, pred, gt, labelled, area) -> dict:
        coco = topology_lib.COCO_17
        if self.task.topology.name != coco.name:  # BlazePose 33 -> COCO 17 (all 17 map)
            pred, _ = keypoints_lib.from_blazepose_layout(pred, coco)
            gt, _ = keypoints_lib.from_blazepose_layout(gt, coco)
            labelled = keypoints_lib.from_blazepose_layout(labelled[..., None], coco)[0][..., 0]
        ids = np.arange(len(pred))
        # Without the data set's area: the box of the labelled points (more lenient than COCO).
        low = np.where(labelled[..., None], gt, np.inf).min(axis=1)
        high = np.where(labelled[..., None], gt, -np.inf).max(axis=1)
        box_areas = np.nan_to_num(np.prod(np.maximum(high - low, 0.0), axis=-1))
        areas = np.where(area > 0, area, box_areas)
        results = metrics.coco_oks_ap(
            metrics.CocoKeypointPredictions(ids, pred, np.ones(len(pred))),
            metrics.CocoKeypointGroundTruth(ids, gt, labelled, areas=areas))
        return {f"oks_{name}": value for name, value in results.items()}

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
        with self.eval_writer.as_default(step=step):
            for name, value in results.items():
                if isinstance(value, float) and math.isfinite(value):
                    tf.summary.scalar(f"metrics/{name}", value)
            if run.sample is not None:
                tf.summary.image("predictions", self._draw(*run.sample)[:4] / 255.0, step=step,
                                 max_outputs=4)
                # All keypoints' heatmaps in one picture (max over keypoints): target | predicted.
                target, predicted_heatmap = (tf.reduce_max(h, axis=-1, keepdims=True)
                                             for h in run.heatmaps)
                tf.summary.image("heatmaps", tf.concat([target, predicted_heatmap], axis=2)[:4],
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
        if run.sample is not None:
            picture = self._draw(*run.sample)[0].astype(np.uint8)
            tf.io.write_file(str(self.model_dir / "predictions.png"), tf.io.encode_png(picture))
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

    def local_parts(self, batch):
        """Per-replica parts of a distributed batch as plain tensors."""
        parts = [self.strategy.experimental_local_results(value) for value in batch.values()]
        return [dict(zip(batch.keys(), values)) for values in zip(*parts)]

    def _draw(self, images, truth, labelled, predicted, visibility) -> np.ndarray:
        """Ground truth (thin, white) and predictions (coloured by visibility) per image."""
        pictures = []
        for image, gt, mask, pred, vis in zip(images, truth, labelled, predicted, visibility):
            picture = (np.clip(image, 0, 1) * 255).astype(np.uint8)
            picture = drawing.draw_skeleton(picture, gt, self.task.topology,
                                            visibility=mask.astype(np.float32), radius=1.5)
            picture = drawing.draw_skeleton(picture, pred, self.task.topology, visibility=vis)
            pictures.append(picture)
        return np.stack(pictures).astype(np.float32)
