"""Reading a training run directory: its config, its checkpoints, its network.

A run (``python -m launch.train --model_dir=RUN``) describes itself: ``RUN/config.json`` holds
the whole resolved :class:`~blazepose.train.config.TrainConfig` (network, keypoint topology,
phase, data, ...). Its checkpoints are ``tf.train.CheckpointManager`` files of a
``tf.train.Checkpoint(model=..., optimizer=..., step=...)``: the latest ones under
``RUN/checkpoints``, the best one by validation PCK under ``RUN/best``. With weight averaging
(``optimizer.ema_momentum`` > 0) the best and the final checkpoints hold the averaged weights in
the model's variables (the trainer saves them so); intermediate ones hold the raw weights.

:func:`load_run` is the one reader every program that takes ``--model_dir`` uses: it needs
neither a ``tf.distribute`` strategy nor the trainer, and restores only the network's variables
(the optimizer's state is skipped). Runs written before ``config.json`` existed are read from
their ``architecture.json`` (network and topology) and ``phase.json``, on top of the default
preset.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import pathlib

import keras
import tensorflow as tf

from blazepose import topology as topology_lib
from blazepose.pretrained.importer import transfer_weights
from blazepose.train import config as config_lib
from blazepose.train.config import TrainConfig
from blazepose.train.task import PoseTask

CHECKPOINT_FOLDERS = {"best": "best", "latest": "checkpoints"}
"""Where a run keeps its checkpoints: the best by validation PCK, and the latest ones."""

ARCHITECTURE_FILE = "architecture.json"  # older runs: {"model": {...}, "topology": name}
PHASE_FILE = "phase.json"  # older runs: {"phase": name}

_STEP_KEY = "step/.ATTRIBUTES/VARIABLE_VALUE"  # the trainer's Checkpoint(step=...) variable


class RunError(ValueError):
    """A run directory that cannot be read: missing, without a config, or without checkpoints."""


class CheckpointMismatchError(RunError):
    """A checkpoint that does not fit the network its run's (or the given) config describes."""


class DamagedCheckpointError(RunError):
    """Checkpoint files that cannot be read back (truncated, bytes changed): the message names
    each one and what reading it said."""


CHECKPOINT_READ_ERRORS = (tf.errors.OpError, IndexError, ValueError)
"""What reading a damaged checkpoint raises: ``DataLossError`` (a checksum that does not
match, a corrupt index), ``IndexError`` ("Read less bytes than requested": a truncated data
file)."""


@dataclasses.dataclass(frozen=True)
class RunCheckpoint:
    """One checkpoint of a training run.

    Attributes:
      model_dir: the run directory.
      prefix: the checkpoint prefix, e.g. ``RUN/best/ckpt-200``.
      choice: ``"best"`` (from ``RUN/best``), ``"latest"`` (from ``RUN/checkpoints``) or
        ``"prefix"`` (named by the caller).
      step: the training step stored in the checkpoint, or None if it holds no ``step``.
      skipped_damaged: newer checkpoints of the same kind passed over because they cannot be
        read back, as ``(prefix, what reading it said)``, newest first.
    """

    model_dir: pathlib.Path
    prefix: str
    choice: str
    step: int | None
    skipped_damaged: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        """E.g. ``"best checkpoint runs/x/best/ckpt-200 (step 200)"``, followed by the damaged
        newer checkpoints it stands in for."""
        step = "unknown step" if self.step is None else f"step {self.step}"
        kind = "checkpoint" if self.choice == "prefix" else f"{self.choice} checkpoint"
        text = f"{kind} {self.prefix} ({step})"
        if self.skipped_damaged:
            text += ", the newest intact one; " + describe_damage(self.skipped_damaged)
        return text


def describe_damage(damaged) -> str:
    """``"damaged, skipped: RUN/checkpoints/ckpt-6 (IndexError: Read less bytes ...)"``."""
    return "damaged, skipped: " + "; ".join(f"{prefix} ({reason})" for prefix, reason in damaged)


def checkpoint_damage(prefix: str) -> str | None:
    """What is wrong with the files of checkpoint ``prefix``, or None when every tensor it
    holds reads back (index and data, with their checksums): one line, the error's type and
    first line."""
    try:
        reader = tf.train.load_checkpoint(prefix)
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    except CHECKPOINT_READ_ERRORS as error:
        message = (getattr(error, "message", None) or str(error)).strip().splitlines()
        return f"{type(error).__name__}: {message[0] if message else ''}"
    return None


def _checkpoint_number(prefix: str) -> int:
    tail = prefix.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else -1


def checkpoint_prefixes(folder: os.PathLike | str) -> list[str]:
    """The checkpoints of a ``CheckpointManager`` folder, newest first: the one its
    ``checkpoint`` file names as latest, then the others by their number (found from their
    ``.index`` files too, so a damaged ``checkpoint`` file hides none)."""
    folder = str(folder)
    latest = None
    with contextlib.suppress(CHECKPOINT_READ_ERRORS):  # a damaged ``checkpoint`` state file
        latest = tf.train.latest_checkpoint(folder)
    found = {path[:-len(".index")] for path in tf.io.gfile.glob(
        os.path.join(folder, "*.index"))}
    ordered = sorted(found - {latest}, key=_checkpoint_number, reverse=True)
    return ([latest] if latest is not None else []) + ordered


def stored_step(prefix: str) -> int | None:
    """The ``step`` a checkpoint holds (None when it has none)."""
    try:
        return int(tf.train.load_variable(prefix, _STEP_KEY))
    except (ValueError, tf.errors.NotFoundError):
        return None


def find_checkpoint(model_dir: os.PathLike | str, which: str = "best", *,
                    fallback: bool = True, verify: bool = True) -> RunCheckpoint | None:
    """The newest checkpoint of ``RUN/best`` (``which="best"``; with ``fallback``, the latest
    when the run has no intact best one) or of ``RUN/checkpoints`` (``"latest"``); None if
    none.

    With ``verify``, every tensor of a candidate is read back first (:func:`checkpoint_damage`):
    a damaged newest checkpoint (truncated, bytes changed) is passed over for the newest intact
    one, and recorded in ``skipped_damaged`` so callers tell the user.

    Raises:
      ValueError: ``which`` is neither ``best`` nor ``latest``.
      DamagedCheckpointError: checkpoints exist but none of them reads back (each is named).
    """
    if which not in CHECKPOINT_FOLDERS:
        raise ValueError(f"which must be one of {tuple(CHECKPOINT_FOLDERS)}, got {which!r}")
    model_dir = pathlib.Path(model_dir)
    order = ("best", "latest") if which == "best" and fallback else (which,)
    damaged: list[tuple[str, str]] = []
    for choice in order:
        for prefix in checkpoint_prefixes(model_dir / CHECKPOINT_FOLDERS[choice]):
            problem = checkpoint_damage(prefix) if verify else None
            if problem is not None:
                damaged.append((prefix, problem))
                continue
            return RunCheckpoint(model_dir, prefix, choice, stored_step(prefix),
                                 tuple(damaged))
    if damaged:
        raise DamagedCheckpointError(f"{model_dir}: no intact checkpoint; "
                                     + describe_damage(damaged)
                                     + ". Restore the files from a copy, or start a new run.")
    return None


def architecture(config: TrainConfig) -> dict:
    """What a checkpoint's variables depend on: the model section and the keypoint topology."""
    return {"model": dataclasses.asdict(config.model), "topology": config.data.pipeline.topology}


def run_config(model_dir: os.PathLike | str) -> TrainConfig | None:
    """The config a run describes: its ``config.json``; for older runs the default preset with
    the network and topology of ``architecture.json`` and the phase of ``phase.json``; None when
    the folder has neither.

    Raises:
      ValueError: a ``config.json`` or ``architecture.json`` this version cannot read (named).
    """
    model_dir = pathlib.Path(model_dir)
    config = config_lib.load_run_config(model_dir)
    if config is not None:
        return config
    path = model_dir / ARCHITECTURE_FILE
    if not path.is_file():
        return None
    phase_path = model_dir / PHASE_FILE
    try:
        recorded = json.loads(path.read_text())
        model = config_lib.ModelSection(**recorded["model"])
        topology = str(recorded["topology"])
        config = config_lib.get_preset("default")
        config = dataclasses.replace(config, model=model, data=dataclasses.replace(
            config.data, pipeline=dataclasses.replace(config.data.pipeline, topology=topology)))
        if phase_path.is_file():
            path = phase_path
            config = dataclasses.replace(config, phase=json.loads(path.read_text())["phase"])
    except (ValueError, TypeError, KeyError) as error:
        raise ValueError(f"{path}: not a run record this version reads: {error!r}") from None
    return config


def check_architecture(model_dir: os.PathLike | str, saved: TrainConfig,
                       config: TrainConfig) -> None:
    """Raises :class:`CheckpointMismatchError` naming each field of the network or topology in
    which ``config`` differs from ``saved``, the config of the run ``model_dir``."""
    theirs, ours = architecture(saved), architecture(config)
    differences = []
    for key in ours:
        if isinstance(ours[key], dict):
            differences += [(f"{key}.{name}", theirs[key].get(name), value)
                            for name, value in ours[key].items()
                            if theirs[key].get(name) != value]
        elif theirs[key] != ours[key]:
            differences.append((key, theirs[key], ours[key]))
    if differences:
        raise CheckpointMismatchError(
            f"{model_dir} holds checkpoints of another architecture: " + "; ".join(
                f"{name}: run {a!r} vs given {b!r}" for name, a, b in differences))


@dataclasses.dataclass(frozen=True)
class Run:
    """A training run's network with one of its checkpoints restored.

    Attributes:
      model_dir: the run directory.
      config: the run's resolved config (or the one given to :func:`load_run`, in the run's
        phase).
      checkpoint: the checkpoint restored (prefix, which one, its step).
      model: the landmark network of ``config`` (float32 ``[N, 256, 256, 3]`` in [0, 1] -> dict
        of raw outputs, :func:`blazepose.build_model`) holding the checkpoint's weights.
    """

    model_dir: pathlib.Path
    config: TrainConfig
    checkpoint: RunCheckpoint
    model: keras.Model

    @property
    def step(self) -> int | None:
        return self.checkpoint.step

    @property
    def topology(self) -> topology_lib.Topology:
        return topology_lib.get_topology(self.config.data.pipeline.topology)

    def describe(self) -> str:
        return self.checkpoint.describe()

    def pipeline_model(self) -> keras.Model:
        """The network with the five outputs the inference pipeline reads (``landmarks``,
        ``world_landmarks``, ``pose_flag``, ``heatmap``, ``segmentation``).

        Raises:
          RunError: the run's keypoints are not BlazePose's 33 (the pipeline places its crops
            from BlazePose's auxiliary landmarks).
        """
        if self.topology.num_keypoints != topology_lib.NUM_BLAZEPOSE_LANDMARKS:
            raise RunError(f"{self.model_dir}: the run's network predicts the "
                           f"{self.topology.num_keypoints} keypoints of {self.topology.name}; "
                           "the pose pipeline needs BlazePose's 33 (and the auxiliary landmarks "
                           "that place the next crop)")
        keys = ("landmarks", "world_landmarks", "pose_flag", "heatmap", "segmentation")
        return keras.Model(self.model.inputs, {key: self.model.output[key] for key in keys},
                           name=self.model.name)


def _restore(model: keras.Model, prefix: str) -> None:
    # The optimizer's slots and the step are not needed (expect_partial: no warnings about
    # them); every variable of the network must be in the checkpoint.
    tf.train.Checkpoint(model=model).restore(prefix).expect_partial(
    ).assert_existing_objects_matched()


def _build_and_restore(config: TrainConfig, prefix: str, model_dir: pathlib.Path) -> keras.Model:
    """The network of ``config`` with the weights at ``prefix``.

    The regression phase reads the trunk through an extra (weightless) stop-gradient layer,
    which changes the checkpoint's object graph: a checkpoint of another phase than
    ``config.phase`` (a best checkpoint kept from before a phase change) is restored into a
    network built in that layout and copied over by layer name.
    """
    try:
        model = PoseTask(config).build_model()
    except ValueError as error:
        raise RunError(f"{model_dir}: its config does not describe a network: {error}") from None
    try:
        _restore(model, prefix)
        return model
    except (AssertionError, ValueError, tf.errors.OpError) as error:
        first_error = error
    other = "joint" if config.phase == "regression" else "regression"
    try:
        donor = PoseTask(dataclasses.replace(config, phase=other)).build_model()
        _restore(donor, prefix)
    except (AssertionError, ValueError, tf.errors.OpError):
        raise CheckpointMismatchError(
            f"{model_dir}: cannot restore {prefix} into the network its config describes "
            f"({config.model}, topology {config.data.pipeline.topology}): "
            f"{first_error}") from first_error
    report = transfer_weights(donor, model)
    if report.fresh:
        raise CheckpointMismatchError(f"{prefix}: layers without weights in the checkpoint: "
                                      f"{report.fresh}")
    return model


def resolve_run_path(path: os.PathLike | str) -> tuple[pathlib.Path, str]:
    """``(run directory, checkpoint)`` for :func:`load_run` from a path a user gives: a run
    directory (``"best"``: its best checkpoint when it has one, else its latest) or a
    checkpoint prefix such as ``RUN/checkpoints/ckpt-300`` or ``RUN/best/ckpt-200`` (its run is
    the prefix's grandparent).

    Raises:
      RunError: a directory without checkpoints, or neither a directory nor a prefix.
    """
    path = pathlib.Path(path)
    if path.is_dir():
        if find_checkpoint(path, "best") is None:
            raise RunError(f"{path}: no checkpoint in {path / 'best'} or "
                           f"{path / 'checkpoints'} (expected the --model_dir of python -m "
                           "launch.train)")
        return path, "best"
    if pathlib.Path(f"{path}.index").is_file():
        return path.parent.parent, str(path)
    raise RunError(f"{path}: neither a training run directory nor a checkpoint prefix "
                   "(RUN/checkpoints/ckpt-N)")


def is_run_or_checkpoint(path: os.PathLike | str | None) -> bool:
    """Whether ``path`` names a directory or a checkpoint prefix (``PREFIX.index`` exists),
    as opposed to ``mediapipe_full`` or a ``.keras`` file."""
    if not path:
        return False
    path = pathlib.Path(path)
    return path.is_dir() or pathlib.Path(f"{path}.index").is_file()


def load_source_run(path: os.PathLike | str) -> Run:
    """:func:`load_run` of what a path names (:func:`resolve_run_path`)."""
    return load_run(*resolve_run_path(path))


def load_run(model_dir: os.PathLike | str, checkpoint: str | os.PathLike = "best", *,
             config: TrainConfig | None = None) -> Run:
    """Reads a training run: its config and a checkpoint's weights in a built network.

    Args:
      model_dir: the run directory (``--model_dir`` of ``launch.train``).
      checkpoint: ``"best"``: the run's best checkpoint (``RUN/best``), or its latest when it
        has no best one; ``"latest"``: the newest of ``RUN/checkpoints``; or a checkpoint
        prefix (e.g. ``RUN/checkpoints/ckpt-300``).
      config: the config to build instead of the run's own (e.g. a preset a user named). It
        must describe the same network and topology as the run records, when the run records
        one; the phase is always the run's (the checkpoint's layout depends on it).

    Returns:
      a :class:`Run`.
    Raises:
      RunError: the folder does not exist, has no checkpoint of that kind, or records no
        config (no ``config.json``, nor an older run's ``architecture.json``) and none is
        given. The message names the folder.
      CheckpointMismatchError: ``config`` describes another network than the run, or the
        checkpoint's variables do not fit the network.
      DamagedCheckpointError: the named checkpoint, or every one of that kind, cannot be read
        back (a damaged newest one is skipped for the newest intact one: see
        ``Run.checkpoint.skipped_damaged``).
    """
    model_dir = pathlib.Path(model_dir)
    if not model_dir.is_dir():
        raise RunError(f"{model_dir}: no such run directory (the --model_dir of python -m "
                       "launch.train)")
    try:
        saved = run_config(model_dir)
    except ValueError as error:
        raise RunError(str(error)) from None
    if saved is None and config is None:
        raise RunError(f"{model_dir} has no {config_lib.RUN_CONFIG_FILE} (nor the "
                       f"{ARCHITECTURE_FILE} of older runs): cannot tell which network its "
                       "checkpoints hold; name the preset it was trained with")
    if checkpoint in CHECKPOINT_FOLDERS:
        found = find_checkpoint(model_dir, str(checkpoint))
        if found is None:
            folders = [model_dir / CHECKPOINT_FOLDERS[name] for name in CHECKPOINT_FOLDERS
                       if checkpoint == "best" or name == checkpoint]
            raise RunError(f"{model_dir} has no checkpoint (looked in "
                           f"{' and '.join(str(f) for f in folders)})")
    else:
        prefix = str(checkpoint)
        if not tf.io.gfile.exists(f"{prefix}.index"):
            raise RunError(f"checkpoint {prefix}: not a checkpoint prefix (no {prefix}.index), "
                           "nor best or latest")
        problem = checkpoint_damage(prefix)
        if problem is not None:
            raise DamagedCheckpointError(f"checkpoint {prefix} is damaged ({problem}); name "
                                         "another one, or best or latest")
        found = RunCheckpoint(model_dir, prefix, "prefix", stored_step(prefix))
    if saved is not None:
        if config is None:
            config = saved
        else:
            check_architecture(model_dir, saved, config)
            config = dataclasses.replace(config, phase=saved.phase)
    model = _build_and_restore(config, found.prefix, model_dir)
    return Run(model_dir, config, found, model)
