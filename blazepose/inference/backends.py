"""Runtimes for the two networks: the TFLite interpreter, or Keras / SavedModel through TF.

A backend is called with one image and returns the network's raw outputs as numpy arrays under
our names:

* landmark network (input float32 ``[1, 256, 256, 3]`` RGB in [0, 1]): ``landmarks`` ``[1, L, 5]``
  (crop pixels and logits), ``world_landmarks`` ``[1, L, 3]``, ``pose_flag`` ``[1, 1]``
  (probability), ``heatmap`` ``[1, 64, 64, L]`` (logits), ``segmentation`` ``[1, 256, 256, 1]``
  (logits);
* person detector (input float32 ``[1, 224, 224, 3]`` RGB in [-1, 1]): ``boxes`` ``[1, A, 12]``,
  ``scores`` ``[1, A, 1]`` (raw).

Outputs are found by name when the file names them like our Keras models (``landmarks``, ...)
or like Google's files (``Identity``, ``Identity_1``, ...), and otherwise by shape, so a
``.tflite`` file exported from our own Keras model works like Google's.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Iterable, Mapping
from typing import Protocol

import numpy as np

from blazepose.pretrained.interpreter import DETECTOR_OUTPUTS, LANDMARK_OUTPUTS, make_interpreter

LANDMARK_KEYS = ("landmarks", "world_landmarks", "pose_flag", "heatmap", "segmentation")
DETECTOR_KEYS = ("boxes", "scores")



class BackendError(ValueError):
    """A model whose inputs or outputs do not follow the landmark or detector conventions."""


def _by_shape(shapes: Mapping[str, tuple[int, ...]]) -> dict[str, str]:
    """Names -> our keys, from output shapes alone (batch dimension first)."""
    mapping: dict[str, str] = {}
    spatial = {name: s for name, s in shapes.items() if len(s) == 4}
    if not spatial:  # the detector: [1, A, 4 + 2K] boxes and [1, A, 1] scores
        for name, shape in shapes.items():
            if len(shape) == 3 and shape[-1] == 1:
                mapping[name] = "scores"
            elif len(shape) == 3 and shape[-1] >= 4:
                mapping[name] = "boxes"
        return mapping
    heatmaps = [n for n, s in spatial.items() if s[-1] > 1]
    masks = [n for n, s in spatial.items() if s[-1] == 1]
    if len(heatmaps) != 1:
        return mapping
    mapping[heatmaps[0]] = "heatmap"
    if len(masks) == 1:
        mapping[masks[0]] = "segmentation"
    count = shapes[heatmaps[0]][-1]
    for name, shape in shapes.items():
        if name in spatial:
            continue
        size = int(np.prod(shape[1:]))
        if size == 1:
            mapping[name] = "pose_flag"
        elif size == 5 * count:
            mapping[name] = "landmarks"
        elif size == 3 * count:
            mapping[name] = "world_landmarks"
    return mapping


def resolve_output_keys(shapes: Mapping[str, tuple[int, ...]], source: str = "model"
                        ) -> tuple[str, dict[str, str]]:
    """Which output is which: returns ``(kind, {output name: our key})``.

    Args:
      shapes: output name -> shape (batch first).
      source: names the model in errors.
    Returns:
      kind ``"landmark"`` or ``"detector"`` and the mapping (every required key exactly once;
      ``segmentation`` is optional for the landmark network).
    Raises:
      BackendError: outputs that match neither network.
    """
    names = set(shapes)
    candidates = []
    if names <= set(LANDMARK_KEYS) or names <= set(DETECTOR_KEYS):
        candidates.append({name: name for name in names})
    for google in (LANDMARK_OUTPUTS, DETECTOR_OUTPUTS):
        if names == set(google):
            candidates.append(dict(google))
    candidates.append(_by_shape(shapes))
    for mapping in candidates:
        keys = sorted(mapping.values())
        if len(set(keys)) != len(keys):
            continue
        if set(keys) >= set(LANDMARK_KEYS) - {"segmentation"}:
            return "landmark", mapping
        if set(keys) == set(DETECTOR_KEYS):
            return "detector", mapping
    described = ", ".join(f"{name} {list(shape)}" for name, shape in sorted(shapes.items()))
    raise BackendError(
        f"{source}: cannot tell the outputs apart ({described}); expected the landmark network's "
        f"{list(LANDMARK_KEYS)} or the detector's {list(DETECTOR_KEYS)}, named so or shaped as "
        "Google's files")


def _check_input(shape, dtype, source: str) -> int:
    shape = tuple(int(d) for d in shape)
    if len(shape) != 4 or shape[1] != shape[2] or shape[3] != 3 or shape[1] < 1:
        raise BackendError(f"{source}: input must be [1, S, S, 3] RGB, got {list(shape)}")
    if np.dtype(dtype) != np.float32:
        raise BackendError(f"{source}: input must be float32, got {np.dtype(dtype).name}")
    return shape[1]


class TFLiteBackend:
    """A ``.tflite`` file (Google's or one exported from our models) in the TFLite interpreter.

    Args:
      model_path: the file.
      num_threads: interpreter threads (XNNPACK).
    Attributes:
      kind: ``"landmark"`` or ``"detector"``; input_size: S of the ``[1, S, S, 3]`` input.
    """

    def __init__(self, model_path: os.PathLike | str, num_threads: int = 2):
        self.source = str(model_path)
        if not pathlib.Path(model_path).is_file():
            raise FileNotFoundError(f"{model_path}: no such .tflite file")
        if num_threads < 1:
            raise ValueError(f"num_threads must be >= 1, got {num_threads}")
        try:
            self._interpreter = make_interpreter(model_path, num_threads)
        except ValueError as error:
            raise BackendError(f"{model_path}: not a readable TFLite model: {error}") from None
        inputs = self._interpreter.get_input_details()
        if len(inputs) != 1:
            raise BackendError(f"{model_path}: expected one input, got {len(inputs)}")
        self.input_size = _check_input(inputs[0]["shape"], inputs[0]["dtype"], self.source)
        self._input_index = inputs[0]["index"]
        details = self._interpreter.get_output_details()
        indices = {d["name"]: d["index"] for d in details}
        shapes = {d["name"]: tuple(int(v) for v in d["shape"]) for d in details}
        named = self._signature_output_indices()
        if named:
            indices, shapes = named, {n: shapes_by_index(details)[i] for n, i in named.items()}
        self.kind, mapping = resolve_output_keys(shapes, self.source)
        self._outputs = {key: indices[name] for name, key in mapping.items()}
        self.num_threads = num_threads

    def _signature_output_indices(self) -> dict[str, int]:
        """Output tensor indices by signature name, when the file's signature uses our names."""
        try:
            signatures = self._interpreter.get_signature_list()
        except (AttributeError, ValueError):
            return {}
        for name, signature in signatures.items():
            outputs = set(signature.get("outputs", ()))
            if outputs and (outputs <= set(LANDMARK_KEYS) or outputs <= set(DETECTOR_KEYS)):
                runner = self._interpreter.get_signature_runner(name)
                return {key: detail["index"]
                        for key, detail in runner.get_output_details().items()}
        return {}

    @property
    def output_keys(self) -> tuple[str, ...]:
        return tuple(self._outputs)

    def __call__(self, image: np.ndarray, keys: Iterable[str] | None = None
                 ) -> dict[str, np.ndarray]:
        """Runs one image ``[S, S, 3]`` or ``[1, S, S, 3]`` float32; returns copies of the
        outputs named in ``keys`` (default all)."""
        batch = np.asarray(image, np.float32).reshape(1, self.input_size, self.input_size, 3)
        self._interpreter.set_tensor(self._input_index, batch)
        self._interpreter.invoke()
        wanted = self._outputs if keys is None else {k: self._outputs[k] for k in keys
                                                     if k in self._outputs}
        return {key: self._interpreter.get_tensor(index) for key, index in wanted.items()}


def shapes_by_index(details) -> dict[int, tuple[int, ...]]:
    return {d["index"]: tuple(int(v) for v in d["shape"]) for d in details}


def _is_saved_model(path: pathlib.Path) -> bool:
    return path.is_dir() and (path / "saved_model.pb").exists()


class KerasBackend:
    """Our Keras network (in memory or a ``.keras`` file) or a SavedModel directory, run by TF.

    The call is traced once with a fixed ``[1, S, S, 3]`` input signature.

    Args:
      model: a ``keras.Model``, a ``.keras`` path (loaded with ``safe_mode=True``) or a
        SavedModel directory (its ``serving_default`` signature).
    """

    def __init__(self, model):
        import tensorflow as tf

        self.source = getattr(model, "name", None) or "keras model"
        if isinstance(model, str | os.PathLike):
            path = pathlib.Path(model)
            self.source = str(path)
            if _is_saved_model(path):
                loaded = tf.saved_model.load(str(path))
                if "serving_default" not in loaded.signatures:
                    raise BackendError(f"{path}: SavedModel has no serving_default signature")
                self._keep_alive = loaded
                function = loaded.signatures["serving_default"]
                spec = list(function.structured_input_signature[1].values())
                if len(spec) != 1:
                    raise BackendError(f"{path}: expected one input, got {len(spec)}")
                self.input_size = _check_input([1 if d is None else d for d in spec[0].shape],
                                               spec[0].dtype.as_numpy_dtype, self.source)
                input_name = next(iter(function.structured_input_signature[1]))
                self._function = lambda x: function(**{input_name: x})
                shapes = {name: tuple(1 if d is None else int(d) for d in s.shape)
                          for name, s in function.structured_outputs.items()}
                self.kind, self._mapping = resolve_output_keys(shapes, self.source)
                return
            if not path.exists():
                raise FileNotFoundError(f"{path}: no such .keras file or SavedModel directory")
            if path.suffix != ".keras":
                raise BackendError(f"{path}: expected a .keras file or a SavedModel directory")
            import keras

            import blazepose.model  # noqa: F401  (registers the custom layers)

            model = keras.models.load_model(path, safe_mode=True, compile=False)
        self.model = model
        input_shape = [1 if d is None else d for d in model.inputs[0].shape]
        self.input_size = _check_input(input_shape, "float32", self.source)
        signature = [tf.TensorSpec([1, self.input_size, self.input_size, 3], tf.float32)]
        self._function = tf.function(lambda x: model(x, training=False),
                                     input_signature=signature)
        outputs = model.outputs
        names = (list(model.output_names) if hasattr(model, "output_names") else
                 [f"output_{i}" for i in range(len(outputs))])
        if isinstance(model.output, dict):
            names = list(model.output)
            outputs = list(model.output.values())
        shapes = {name: tuple(1 if d is None else int(d) for d in t.shape)
                  for name, t in zip(names, outputs)}
        self.kind, self._mapping = resolve_output_keys(shapes, self.source)
        if not isinstance(model.output, dict):
            self._order = names
            inner = self._function
            self._function = lambda x: dict(zip(self._order, inner(x)))

    @property
    def output_keys(self) -> tuple[str, ...]:
        return tuple(self._mapping.values())

    def __call__(self, image: np.ndarray, keys: Iterable[str] | None = None
                 ) -> dict[str, np.ndarray]:
        """Runs one image ``[S, S, 3]`` or ``[1, S, S, 3]`` float32; returns the outputs named in
        ``keys`` (default all) as numpy arrays."""
        batch = np.asarray(image, np.float32).reshape(1, self.input_size, self.input_size, 3)
        outputs = self._function(batch)
        wanted = None if keys is None else set(keys)
        return {key: np.asarray(outputs[name]) for name, key in self._mapping.items()
                if wanted is None or key in wanted}


class Backend(Protocol):
    """What the pipeline needs of a backend (:class:`TFLiteBackend`, :class:`KerasBackend`)."""

    kind: str  # "landmark" or "detector"
    input_size: int  # S of the [1, S, S, 3] float32 input
    source: str  # names the model in messages
    output_keys: tuple[str, ...]

    def __call__(self, image: np.ndarray, keys: Iterable[str] | None = None
                 ) -> dict[str, np.ndarray]: ...


def make_backend(model, num_threads: int = 2) -> Backend:
    """A backend for ``model``: a ``.tflite`` path -> :class:`TFLiteBackend`; a ``keras.Model``,
    ``.keras`` path or SavedModel directory -> :class:`KerasBackend`; a backend (anything with
    :class:`Backend`'s attributes) is returned as is."""
    if all(hasattr(model, name) for name in ("kind", "input_size", "output_keys")) and callable(
            model):
        return model
    if isinstance(model, str | os.PathLike) and str(model).endswith(".tflite"):
        return TFLiteBackend(model, num_threads)
    return KerasBackend(model)
