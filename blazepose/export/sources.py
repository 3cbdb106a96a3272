"""Where the exported network comes from: a training run's checkpoint, a ``.keras`` file, or
Google's weights (``mediapipe_full``).

A training run is read by :func:`blazepose.train.runs.load_run`: the network its
``config.json`` describes (older runs: ``architecture.json``), with a checkpoint's weights. A
run directory stands for its best checkpoint (``MODEL_DIR/best``, kept by the trainer's
keep-best) when it has one, else for its latest. A config given in place of the run's own must
describe the same network: a checkpoint of another variant or keypoint count is refused with
what differs.
"""

from __future__ import annotations

import dataclasses
import pathlib

import keras

import blazepose.model  # noqa: F401  (registers the custom layers for safe_mode loading)
from blazepose import topology as topology_lib
from blazepose.export.config import ExportError
from blazepose.train import runs

MEDIAPIPE_FULL = "mediapipe_full"


@dataclasses.dataclass(frozen=True)
class ModelSource:
    """A network to export and what is known about it.

    Attributes:
      model: Keras model, float32 ``[N, 256, 256, 3]`` in [0, 1] -> dict of raw outputs.
      topology: the keypoints of the first K landmark outputs.
      extra_names: names of the landmark outputs after the K keypoints (Google's 6 for K = 33).
      description: JSON-friendly provenance (kind, path, step, variant, ...).
      train_config: the ``TrainConfig`` of a training run's network (None for other sources).
    """

    model: keras.Model
    topology: topology_lib.Topology
    extra_names: tuple[str, ...]
    description: dict
    train_config: object | None = None

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


def resolve_checkpoint(path) -> tuple[pathlib.Path, str]:
    """``(run directory, checkpoint)`` of what ``--checkpoint`` names
    (:func:`blazepose.train.runs.resolve_run_path`: a run directory or a checkpoint prefix).

    Raises:
      ExportError: a directory without checkpoints, or neither a directory nor a prefix.
    """
    try:
        return runs.resolve_run_path(path)
    except runs.RunError as error:
        raise ExportError(f"--checkpoint {error}") from None


def from_run(model_dir, checkpoint: str = "best", config=None) -> ModelSource:
    """The network of a training run with one of its checkpoints' weights
    (:func:`blazepose.train.runs.load_run`: ``checkpoint`` is ``best``, ``latest`` or a prefix;
    ``config``, a ``TrainConfig``, replaces the run's own and must describe the same network).
    The description records the prefix, which one it was (``checkpoint``: ``best``,
    ``latest`` or ``prefix``), its step and the network.

    Raises:
      ExportError: no such run or checkpoint, or a run that records no config.
      CheckpointMismatchError: the run's network differs from ``config``'s, or the
        checkpoint's variables do not fit it.
    """
    try:
        run = runs.load_run(model_dir, checkpoint, config=config)
    except runs.CheckpointMismatchError:
        raise
    except runs.RunError as error:
        raise ExportError(str(error)) from None
    section = run.config.model
    prefix = run.checkpoint.prefix
    return ModelSource(run.model, run.topology,
                       _extra_names(run.topology, int(run.model.output["landmarks"].shape[1]),
                                    prefix),
                       {"kind": "checkpoint", "path": str(pathlib.Path(prefix).resolve()),
                        "checkpoint": run.checkpoint.choice, "step": run.step,
                        "variant": section.variant, "num_keypoints": section.num_keypoints,
                        "offset_head": section.offset_head,
                        **({"skipped_damaged": [list(d) for d in run.checkpoint.skipped_damaged]}
                           if run.checkpoint.skipped_damaged else {})},
                       train_config=run.config)


def from_checkpoint(path, config=None) -> ModelSource:
    """:func:`from_run` of what ``--checkpoint`` names (:func:`resolve_checkpoint`): a run
    directory (its best checkpoint when it has one, else its latest) or a checkpoint prefix."""
    model_dir, checkpoint = resolve_checkpoint(path)
    return from_run(model_dir, checkpoint, config)
