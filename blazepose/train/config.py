"""Typed training configuration; presets are registered experiment functions
(:func:`register_preset`), and flags only select a preset and override its fields."""

from __future__ import annotations

import dataclasses
import json
import pathlib
import typing

from blazepose.data.config import MEDIAPIPE_JITTER, CropConfig, PipelineConfig
from blazepose.train.losses import LossConfig

PHASES = ("heatmap", "regression", "joint")
STRATEGIES = ("default", "mirrored", "multi_worker_mirrored", "tpu")


@dataclasses.dataclass(frozen=True)
class ModelSection:
    """The network a run trains.

    ``quantized``: quantisation-aware training (:mod:`blazepose.model.quantization`): the
    network simulates TFLite's int8 kernels, and ``launch.export --quantize=int8`` converts its
    checkpoints to a full-integer ``.tflite`` with the ranges it learnt. ``keep_float``: layers
    (by name) left in float32 in such a network (mixed precision).
    """

    variant: str = "full"
    num_keypoints: int = 33
    offset_head: bool = False
    quantized: bool = False
    keep_float: tuple[str, ...] = ()

    def __post_init__(self):
        # A tuple, also when read from JSON (a list there).
        object.__setattr__(self, "keep_float", tuple(self.keep_float))
        if self.keep_float and not self.quantized:
            raise ValueError("model.keep_float names layers of a quantised network: it needs "
                             "model.quantized")


@dataclasses.dataclass(frozen=True)
class DataSection:
    """TFDS data sets, mixed with ``weights`` (default: equal).

    Each data set is ``name/config``, optionally ``@split`` to read another split than
    ``train_split`` / ``eval_split`` (e.g. ``lsp/original@test``). Evaluation reads
    ``eval_datasets`` when given, else ``datasets``.
    """

    datasets: tuple[str, ...] = ("synthetic_pose/small",)
    weights: tuple[float, ...] = ()
    train_split: str = "train"
    eval_split: str = "validation"
    eval_datasets: tuple[str, ...] = ()
    data_dir: str | None = None
    pipeline: PipelineConfig = PipelineConfig()


@dataclasses.dataclass(frozen=True)
class OptimizerSection:
    name: str = "adam"  # adam | adamw | sgd
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4  # adamw only
    momentum: float = 0.9  # sgd only
    schedule: str = "cosine"  # cosine | step | constant
    warmup_steps: int = 50
    # > 0: the warm-up lasts this fraction of train_steps instead (warmup_steps is ignored), so
    # a preset keeps its shape whatever --train_steps a user gives. Cosine decay always ends at
    # train_steps.
    warmup_fraction: float = 0.0
    # The pretrained encoder (layers TRUNK_PREFIXES) learns at this multiple of the learning
    # rate, and not at all during the first trunk_frozen_fraction of train_steps: the heads
    # adapt to the new data before the features they read start to move.
    trunk_learning_rate_factor: float = 1.0
    trunk_frozen_fraction: float = 0.0
    # > 0: validation, the best and the final checkpoint (so evaluate/export) use an exponential
    # moving average of the weights with this momentum (Polyak averaging), started at the
    # weights training starts from: the noise of small-batch steps at the peak learning rate no
    # longer shows in the kept model. Intermediate checkpoints hold the raw weights (and the
    # optimizer the average), so an interrupted run resumes exactly.
    ema_momentum: float = 0.0
    step_boundaries: tuple[int, ...] = ()
    step_factor: float = 0.1
    clip_norm: float = 5.0  # 0 disables

    def __post_init__(self):
        if not 0.0 <= self.warmup_fraction < 1.0:
            raise ValueError(f"optimizer.warmup_fraction must be in [0, 1), got "
                             f"{self.warmup_fraction}")
        if not 0.0 <= self.trunk_frozen_fraction <= 1.0:
            raise ValueError(f"optimizer.trunk_frozen_fraction must be in [0, 1], got "
                             f"{self.trunk_frozen_fraction}")
        if not 0.0 <= self.ema_momentum < 1.0:
            raise ValueError(f"optimizer.ema_momentum must be in [0, 1), got {self.ema_momentum}")
        if not self.trunk_learning_rate_factor >= 0.0:
            raise ValueError(f"optimizer.trunk_learning_rate_factor must be >= 0, got "
                             f"{self.trunk_learning_rate_factor}")

    def warmup_for(self, train_steps: int) -> int:
        """Warm-up steps of a run of ``train_steps``."""
        if self.warmup_fraction > 0:
            return max(1, round(self.warmup_fraction * train_steps))
        return self.warmup_steps

    def trunk_frozen_for(self, train_steps: int) -> int:
        """Steps during which the trunk does not learn, in a run of ``train_steps``."""
        return round(self.trunk_frozen_fraction * train_steps)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs."""

    model: ModelSection = ModelSection()
    data: DataSection = DataSection()
    optimizer: OptimizerSection = OptimizerSection()
    losses: LossConfig = LossConfig()
    phase: str = "joint"
    train_steps: int = 300
    batch_size: int = 16  # global
    eval_every: int = 100
    eval_batches: int = 8
    checkpoint_every: int = 100
    keep_checkpoints: int = 3
    log_every: int = 20
    summary_every: int = 20
    # Training steps per traced loop (one host sync per loop); a loop also ends at every
    # summary, log, checkpoint, evaluation and profiling step, so those happen as before.
    steps_per_loop: int = 10
    image_summary_every: int = 100
    mixed_precision: bool = False
    xla: bool = False
    run_eagerly: bool = False
    deterministic: bool = False
    seed: int = 0
    init_from: str | None = None
    strategy: str = "default"
    num_cpu_devices: int = 0  # >0: split the CPU into logical devices (mirrored without GPUs)
    profile_steps: tuple[int, ...] = ()  # (first, last): a profiler trace of those steps
    data_service: str | None = None  # grpc://host:port of a tf.data service dispatcher
    # On SIGTERM: checkpoint at an agreed step and exit (PreemptionCheckpointHandler).
    preemption_checkpoints: bool = True
    # A validation whose PCK falls more than this below step 0's (the starting weights) is
    # reported as a warning on the console, in TensorBoard and in validation.json.
    collapse_tolerance: float = 0.02
    # Exploding-loss guard: training stops when one step's total loss exceeds this many times
    # the running median of recent losses (see trainer.LossSpikeGuard); 0 turns it off.
    loss_spike_ratio: float = 100.0

    def __post_init__(self):
        if self.phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}, got {self.phase!r}")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {self.strategy!r}")
        if self.train_steps < 1 or self.batch_size < 1 or self.steps_per_loop < 1:
            raise ValueError("train_steps, batch_size and steps_per_loop must be positive")
        if not self.loss_spike_ratio == 0 and not self.loss_spike_ratio > 1:
            raise ValueError(f"loss_spike_ratio must be 0 (off) or above 1, got "
                             f"{self.loss_spike_ratio}")
        if self.data.weights and len(self.data.weights) != len(self.data.datasets):
            raise ValueError(f"{len(self.data.weights)} weights for {len(self.data.datasets)} "
                             "data sets")
        if self.optimizer.name not in ("adam", "adamw", "sgd"):
            raise ValueError(f"optimizer must be adam, adamw or sgd, got {self.optimizer.name!r}")
        if self.optimizer.schedule not in ("cosine", "step", "constant"):
            raise ValueError(f"schedule must be cosine, step or constant, got "
                             f"{self.optimizer.schedule!r}")


PRESETS: dict[str, typing.Callable[[], TrainConfig]] = {}
"""The registered experiments: name -> function returning its :class:`TrainConfig`
(:func:`register_preset`); ``launch.train --preset=NAME`` starts from one, flags override."""


def register_preset(name: str):
    """Decorator registering a function ``() -> TrainConfig`` as the preset ``name``.

    Raises:
      ValueError: ``name`` is already registered.
    """

    def register(function: typing.Callable[[], TrainConfig]):
        if name in PRESETS:
            raise ValueError(f"preset {name!r} is already registered "
                             f"({PRESETS[name].__module__}.{PRESETS[name].__qualname__})")
        PRESETS[name] = function
        return function

    return register


def preset_names() -> tuple[str, ...]:
    """The registered presets' names, sorted."""
    return tuple(sorted(PRESETS))


def get_preset(name: str) -> TrainConfig:
    """The config the preset ``name`` returns; raises ValueError listing the known names."""
    try:
        function = PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; known: {', '.join(preset_names())}") from None
    config = function()
    if not isinstance(config, TrainConfig):
        raise TypeError(f"preset {name!r} returned {type(config).__name__}, not a TrainConfig")
    return config


@register_preset("default")
def default() -> TrainConfig:
    """The README's main job: a short schedule on the embedded synthetic data, on a laptop CPU,
    fine-tuning Google's BlazePose Full weights (fetched once from PyPI's mediapipe wheel).

    Crops are framed as MediaPipe's detector and tracker frame a person (upright, centred on
    the hips, sized by the body): Google's network never saw other crops. Synthetic visibility
    (hidden by self-occlusion) is not MediaPipe's notion of visibility: a full-weight visibility
    loss drags the shared regression blocks away (measured: PCK@0.2 0.55 -> 0.47 in 80 steps),
    so it is down-weighted while the coordinates fine-tune.
    """
    return TrainConfig(init_from="mediapipe_full",
                       optimizer=OptimizerSection(learning_rate=3e-5, warmup_fraction=0.1,
                                                  ema_momentum=0.99),
                       losses=LossConfig(visibility_weight=0.1),
                       data=DataSection(pipeline=PipelineConfig(crop=CropConfig(
                           framing="mediapipe"))))


@register_preset("finetune")
def finetune() -> TrainConfig:
    """Fine-tuning Google's weights on real photos (choose the data with --dataset and
    --eval_dataset, see launch/configs/*.cfg).

    Sized for a CPU (400 steps of 16); every part of the schedule scales with --train_steps, so
    a GPU run only overrides the steps and batch. Crops framed as MediaPipe frames a person,
    jittered as its detector errs; the trunk keeps Google's features (frozen for the first
    quarter, then a tenth of the rate); validation and keep-best see the weights' moving
    average (on LSP, 400 steps: without it validation dipped 0.822 -> 0.762 at the peak rate;
    with it it stayed within 0.014); validation at step 0 is the baseline, and keep-best never
    returns anything worse. The pose flag, which no label supervises, is kept where Google's
    network puts it (its head re-fitted against a frozen copy; LSP, 400 steps: lowest flag over
    28 real photos 0.36 -> 0.54, so MediaPipe keeps finding the people; 11 % fewer images/s).
    """
    return TrainConfig(init_from="mediapipe_full", train_steps=400, batch_size=16,
                       eval_every=100, eval_batches=50, checkpoint_every=100,
                       optimizer=OptimizerSection(learning_rate=5e-5, warmup_fraction=0.1,
                                                  trunk_learning_rate_factor=0.1,
                                                  trunk_frozen_fraction=0.25,
                                                  ema_momentum=0.99),
                       losses=LossConfig(visibility_weight=0.1, preserve_weight=1.0),
                       data=DataSection(pipeline=PipelineConfig(
                           crop=CropConfig(framing="mediapipe"),
                           augment=MEDIAPIPE_JITTER)))


@register_preset("qat")
def qat() -> TrainConfig:
    """Quantisation-aware training of Google's weights (or of --init_from: a .keras file, a run
    directory or a checkpoint prefix of the same network) for a full-integer int8 export.

    The network simulates TFLite's int8 arithmetic (per-channel weights, per-tensor activation
    ranges) and learns to give the float starting network's outputs under it: the loss is
    distillation alone (landmarks, visibility, world landmarks, pose flag and heatmap of a
    frozen float copy on the same crops), so the data only has to show people, labels are not
    read, and the float network's accuracy is what the int8 one keeps. Sized for a CPU on the
    embedded data. The segmentation head keeps its weights (its ranges are calibrated).
    """
    return TrainConfig(init_from="mediapipe_full", train_steps=400, batch_size=16,
                       eval_every=100, eval_batches=8, checkpoint_every=100,
                       model=ModelSection(quantized=True),
                       optimizer=OptimizerSection(learning_rate=2e-5, warmup_fraction=0.05),
                       losses=LossConfig(heatmap_weight=0.0, offset_weight=0.0,
                                         regression_weight=0.0, visibility_weight=0.0,
                                         distill_weight=1.0),
                       data=DataSection(pipeline=PipelineConfig(
                           crop=CropConfig(framing="mediapipe"), augment=MEDIAPIPE_JITTER)))


@register_preset("scratch")
def scratch() -> TrainConfig:
    """The same network and data from random initialisation (needs far more steps)."""
    return TrainConfig(train_steps=20000, eval_every=1000, checkpoint_every=1000)


def to_json(config: TrainConfig) -> str:
    """The resolved config as JSON (what a run saves as ``MODEL_DIR/config.json``)."""
    return json.dumps(dataclasses.asdict(config), indent=2)


def _from_value(kind, value):
    if dataclasses.is_dataclass(kind) and isinstance(value, dict):
        hints = typing.get_type_hints(kind)
        known = {field.name for field in dataclasses.fields(kind) if field.init}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"{kind.__name__} has no field(s) {unknown}")
        return kind(**{name: _from_value(hints[name], item) for name, item in value.items()})
    if isinstance(value, list):
        return tuple(_from_value(None, item) for item in value)
    return value


def from_json(text: str) -> TrainConfig:
    """The config :func:`to_json` wrote (fields it lacks take their defaults); raises
    ValueError naming an unknown field."""
    return _from_value(TrainConfig, json.loads(text))


RUN_CONFIG_FILE = "config.json"


def save_run_config(model_dir, config: TrainConfig) -> None:
    """Writes ``config`` as ``model_dir/config.json``, what :func:`load_run_config` reads."""
    (pathlib.Path(model_dir) / RUN_CONFIG_FILE).write_text(to_json(config))


def load_run_config(model_dir) -> TrainConfig | None:
    """The resolved config a training run saved in ``model_dir`` (None for older runs)."""
    path = pathlib.Path(model_dir) / RUN_CONFIG_FILE
    if not path.is_file():
        return None
    try:
        return from_json(path.read_text())
    except (ValueError, TypeError) as error:
        raise ValueError(f"{path}: not a training config this version reads: {error}") from None

