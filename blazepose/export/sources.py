"""Where the exported network comes from: a training run's checkpoint, a ``.keras`` file, or
Google's weights (``mediapipe_full``).

A checkpoint is restored the way the trainer writes it (``tf.train.CheckpointManager`` files
under ``MODEL_DIR/checkpoints`` or ``MODEL_DIR/best`` of a ``tf.train.Checkpoint(model=...,
optimizer=..., step=...)``), into the network the training configuration builds. A run
directory stands for its best checkpoint (``MODEL_DIR/best``, kept by the trainer's keep-best)
when it has one, else for its latest (:func:`run_checkpoint`). The run's
``config.json`` is compared with that configuration by the trainer's own check, so a
checkpoint of another variant or keypoint count is refused with what differs.
"""

from __future__ import annotations

import dataclasses
import pathlib

import keras
import tensorflow as tf

from blazepose import topology as topology_lib
from blazepose.export.config import ExportError

MEDIAPIPE_FULL = "mediapipe_full"


@dataclasses.dataclass(frozen=True)
class ModelSource:
    """A network to export and what is known about it.

    Attributes:
      model: Keras model, float32 ``[N, 256, 256, 3]`` in [0, 1] -> dict of raw outputs.
      topology: the keypoints of the first K landmark outputs.
      extra_names: names of the landmark outputs after the K keypoints (Google's 6 for K = 33).
      description: JSON-friendly provenance (kind, path, step, variant, ...).
    """

    model: keras.Model
    topology: topology_lib.Topology
    extra_names: tuple[str, ...]
    description: dict

    @property
    def num_landmarks(self) -> int:
        return int(self.model.output["landmarks"].shape[1])


def _extra_names(topology: topology_lib.Topology, num_landmarks: int, where: str
                 ) -> tuple[str, ...]:
    extra = num_landmarks - topology.num_keypoints
    if extra < 0:
        raise ExportError(f"{where}: the network has {num_landmarks} landmark outputs, fewer than "
                          f"the {topology.num_keypoints} keypoints of topology {topology.name}")
    if topology.num_keypoints == topology_lib.NUM_BLAZEPOSE_LANDMARKS and \
            num_landmarks == topology_lib.NUM_MODEL_OUTPUT_LANDMARKS:
        return topology_lib.MODEL_OUTPUT_NAMES[topology.num_keypoints:]
    return tuple(f"extra_{index}" for index in range(extra))


def check_interface(model: keras.Model, where: str) -> None:
    """Raises :class:`ExportError` unless ``model`` is a BlazePose landmark network."""
    shape = tuple(model.inputs[0].shape) if len(model.inputs) == 1 else None
    if shape is None or shape[1:] != (256, 256, 3):
        raise ExportError(f"{where}: expected one input [N, 256, 256, 3], got "
                          f"{[tuple(i.shape) for i in model.inputs]}")
    outputs = model.output if isinstance(model.output, dict) else {}
    missing = [k for k in ("landmarks", "world_landmarks", "pose_flag", "heatmap",
                           "segmentation") if k not in outputs]
    if missing:
        raise ExportError(f"{where}: not a BlazePose landmark network (outputs missing: "
                          f"{missing})")


def from_mediapipe(cache_dir=None) -> ModelSource:
    """Google's BlazePose Full weights imported into our network."""
    from blazepose.pretrained import files, importer

    model = importer.load_mediapipe_model("full", cache_dir=cache_dir)
    model_file = files.get_model_file("full")
    return ModelSource(model, topology_lib.BLAZEPOSE_33,
                       topology_lib.MODEL_OUTPUT_NAMES[topology_lib.NUM_BLAZEPOSE_LANDMARKS:],
                       {"kind": MEDIAPIPE_FULL, "file": model_file.filename,
                        "sha256": model_file.sha256, "variant": "full",
                        "num_keypoints": topology_lib.NUM_BLAZEPOSE_LANDMARKS})


def from_keras_file(path, topology_name: str | None = None) -> ModelSource:
    """A ``.keras`` file (e.g. from ``launch.convert_mediapipe``); ``topology_name`` names its
    keypoints, needed unless it has Google's 39 outputs (then ``blazepose_33``)."""
    path = pathlib.Path(path)
    if path.suffix != ".keras" or not path.is_file():
        raise ExportError(f"--model {path}: not an existing .keras file")
    import blazepose  # noqa: F401  (registers the custom layers for safe_mode loading)

    try:
        model = keras.models.load_model(path, safe_mode=True, compile=False)
    except Exception as error:  # Keras raises many kinds for a bad file
        raise ExportError(f"--model {path}: cannot be loaded: {error}") from error
    check_interface(model, str(path))
    num_landmarks = int(model.output["landmarks"].shape[1])
    if topology_name is None:
        if num_landmarks != topology_lib.NUM_MODEL_OUTPUT_LANDMARKS:
            raise ExportError(f"--model {path} has {num_landmarks} landmark outputs; name its "
                              "keypoints with --topology")
        topology_name = topology_lib.BLAZEPOSE_33.name
    topology = _topology(topology_name)
    return ModelSource(model, topology, _extra_names(topology, num_landmarks, str(path)),
                       {"kind": "keras", "path": str(path.resolve())})


def _topology(name: str) -> topology_lib.Topology:
    try:
        return topology_lib.get_topology(name)
    except (KeyError, ValueError) as error:
        raise ExportError(f"--topology: {error}") from None


CHECKPOINT_CHOICES = ("auto", "best", "latest")
"""Which checkpoint of a run directory :func:`run_checkpoint` picks: ``best`` (``RUN/best``,
the trainer's keep-best by validation PCK), ``latest`` (``RUN/checkpoints``), or ``auto``: the
best one when the run has one, else the latest."""

_STEP_KEY = "step/.ATTRIBUTES/VARIABLE_VALUE"  # the trainer's Checkpoint(step=...) variable


@dataclasses.dataclass(frozen=True)
class RunCheckpoint:
    """One checkpoint of a training run.

    Attributes:
      model_dir: the run directory (``--model_dir`` of ``launch.train``).
      prefix: the checkpoint prefix, e.g. ``RUN/best/ckpt-200``.
      choice: ``"best"`` (from ``RUN/best``), ``"latest"`` (from ``RUN/checkpoints``) or
        ``"prefix"`` (named by the caller).
      step: the training step stored in the checkpoint, or None if it holds no ``step``.
    """

    model_dir: pathlib.Path
    prefix: str
    choice: str
    step: int | None

    def describe(self) -> str:
        """E.g. ``"best checkpoint runs/x/best/ckpt-200 (step 200)"``."""
        step = "unknown step" if self.step is None else f"step {self.step}"
        kind = "checkpoint" if self.choice == "prefix" else f"{self.choice} checkpoint"
        return f"{kind} {self.prefix} ({step})"


def _stored_step(prefix: str) -> int | None:
    try:
        return int(tf.train.load_variable(prefix, _STEP_KEY))
    except (ValueError, tf.errors.NotFoundError):
        return None


def run_checkpoint(model_dir, which: str = "auto") -> RunCheckpoint | None:
    """The ``which`` checkpoint (see :data:`CHECKPOINT_CHOICES`) of a run directory, or None.

    ``best`` and ``latest`` are the newest prefixes of ``MODEL_DIR/best`` and
    ``MODEL_DIR/checkpoints`` (``tf.train.latest_checkpoint``); ``auto`` is ``best`` when it
    exists, else ``latest``. None when the run has no such checkpoint.

    Raises:
      ValueError: ``which`` is not one of :data:`CHECKPOINT_CHOICES`.
    """
    if which not in CHECKPOINT_CHOICES:
        raise ValueError(f"which must be one of {CHECKPOINT_CHOICES}, got {which!r}")
    model_dir = pathlib.Path(model_dir)
    order = {"auto": ("best", "latest"), "best": ("best",), "latest": ("latest",)}[which]
    folders = {"best": "best", "latest": "checkpoints"}
    for choice in order:
        prefix = tf.train.latest_checkpoint(str(model_dir / folders[choice]))
        if prefix is not None:
            return RunCheckpoint(model_dir, prefix, choice, _stored_step(prefix))
    return None


def resolve_checkpoint(path) -> RunCheckpoint:
    """The checkpoint ``--checkpoint`` names: a run directory (its best checkpoint when it has
    one, else its latest: :func:`run_checkpoint` ``auto``) or a checkpoint prefix such as
    ``RUN/checkpoints/ckpt-300`` or ``RUN/best/ckpt-200`` (its run is the prefix's grandparent).

    Raises:
      ExportError: a directory without checkpoints, or neither a directory nor a prefix.
    """
    path = pathlib.Path(path)
    if path.is_dir():
        found = run_checkpoint(path, "auto")
        if found is None:
            raise ExportError(f"--checkpoint {path}: no checkpoint in {path / 'best'} or "
                              f"{path / 'checkpoints'} (expected the --model_dir of python -m "
                              "launch.train)")
        return found
    if pathlib.Path(f"{path}.index").is_file():
        return RunCheckpoint(path.parent.parent, str(path), "prefix", _stored_step(str(path)))
    raise ExportError(f"--checkpoint {path}: neither a training run directory nor a checkpoint "
                      "prefix (RUN/checkpoints/ckpt-N)")


def check_architecture(model_dir: pathlib.Path, config) -> None:
    """The trainer's check of the run's ``MODEL_DIR/config.json`` (or an older run's
    ``architecture.json``) against ``config``.

    Raises ``CheckpointMismatchError`` naming every field that differs, or when the run did not
    record its architecture.
    """
    from blazepose.train import records

    if records.recorded_architecture(model_dir) is None:
        raise records.CheckpointMismatchError(
            f"{model_dir} has no config.json: not a run written by the trainer, cannot "
            "check what the checkpoint holds")
    records.check_architecture(model_dir, config)


def from_checkpoint(path, config) -> ModelSource:
    """The network of training ``config`` (a ``TrainConfig``) with a checkpoint's weights.

    ``path`` is a run directory (its best checkpoint when it has one, else its latest) or a
    checkpoint prefix (:func:`resolve_checkpoint`). The description records the prefix, which
    one it was (``checkpoint``: ``best``, ``latest`` or ``prefix``) and its step.

    Raises:
      ExportError: no checkpoint at ``path``.
      CheckpointMismatchError: the run's architecture differs from ``config``'s, or the
        checkpoint's variables do not fit the network.
    """
    from blazepose.train.task import PoseTask
    from blazepose.train.trainer import CheckpointMismatchError

    resolved = resolve_checkpoint(path)
    model_dir, prefix = resolved.model_dir, resolved.prefix
    check_architecture(model_dir, config)
    try:
        task = PoseTask(config)
    except ValueError as error:
        raise ExportError(str(error)) from None
    model = task.build_model()
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    # The trainer's checkpoint layout (model, optimizer, step); the optimizer's slots are skipped.
    try:
        status = tf.train.Checkpoint(model=model, step=step).restore(prefix)
        status.assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError) as error:
        raise CheckpointMismatchError(f"cannot restore {prefix}: {error}") from error
    status.expect_partial()
    section = config.model
    return ModelSource(model, task.topology,
                       _extra_names(task.topology, int(model.output["landmarks"].shape[1]),
                                    prefix),
                       {"kind": "checkpoint", "path": str(pathlib.Path(prefix).resolve()),
                        "checkpoint": resolved.choice, "step": int(step.numpy()),
                        "variant": section.variant, "num_keypoints": section.num_keypoints,
                        "offset_head": section.offset_head})
