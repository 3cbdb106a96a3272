"""MediaPipe Tasks bundles: TFLite model metadata and the ``pose_landmarker.task`` file.

MediaPipe's ``PoseLandmarker`` (Python, Android, iOS, web) loads a ``.task``: a zip archive,
stored without compression, holding ``pose_detector.tflite`` and
``pose_landmarks_detector.tflite``. For a float32 image input it reads the input normalisation
from the TFLite model metadata (the ``TFLITE_METADATA`` flatbuffer, schema identifier ``M001``):
``NormalizationOptions`` with ``(pixel - mean) / std`` per channel, pixels in 0..255. Without it
the runtime refuses the model.

This module writes that metadata with the ``flatbuffers`` package directly (the table and field
order of TFLite's ``metadata_schema.fbs``, version 1.5.0), attaches it to a ``.tflite`` file's
bytes through TensorFlow's TFLite schema bindings, and bundles the two networks. It checks what
MediaPipe's graphs assume before anything is written: the landmark network's five outputs in
MediaPipe's order and shapes (landmarks ``[1, 195]``, pose flag ``[1, 1]``, segmentation
``[1, 256, 256, 1]``, heatmap ``[1, 64, 64, 39]``, world landmarks ``[1, 117]``) and the
detector's two (boxes ``[1, 2254, 12]``, scores ``[1, 2254, 1]``); a Keras landmark network is
checked the same way before it is converted (:func:`check_landmark_model`). MediaPipe reads the
tensors by position, so :func:`order_outputs` puts a converted model's outputs in that order.
"""

from __future__ import annotations

import dataclasses
import io
import os
import pathlib
import zipfile

import flatbuffers
import numpy as np
from tensorflow.lite.python import schema_py_generated as tflite_schema

from blazepose import topology as topology_lib
from blazepose.export.config import ExportError

METADATA_NAME = "TFLITE_METADATA"
METADATA_IDENTIFIER = b"M001"
TFLITE_IDENTIFIER = b"TFL3"
# The oldest metadata parser that reads what we write (NormalizationOptions, ImageProperties).
MIN_PARSER_VERSION = "1.0.0"

DETECTOR_FILE = "pose_detector.tflite"
LANDMARK_FILE = "pose_landmarks_detector.tflite"
TASK_FILE = "pose_landmarker.task"

# Union tags of metadata_schema.fbs.
_PROCESS_UNIT_NORMALIZATION = 1
_CONTENT_FEATURE = 1
_CONTENT_IMAGE = 2
_COLOR_SPACE_RGB = 1


class TaskExportError(ExportError):
    """A model MediaPipe's PoseLandmarker cannot run; raised before any file is written."""


@dataclasses.dataclass(frozen=True)
class TensorSpec:
    """What MediaPipe must know of one tensor.

    Attributes:
      name, description: text for people (MediaPipe matches tensors by position).
      shape: the tensor shape the bundle requires (-1: any).
      normalization: ``(mean, std)`` for an image input: the network sees
        ``(pixel - mean) / std`` with pixels in 0..255; None for outputs.
    """

    name: str
    description: str
    shape: tuple[int, ...]
    normalization: tuple[float, float] | None = None


DETECTOR_INPUTS = (TensorSpec("image", "RGB image letterboxed to 224x224, scaled to [-1, 1]",
                              (1, 224, 224, 3), (127.5, 127.5)),)
DETECTOR_OUTPUTS = (
    TensorSpec("boxes", "per anchor: box centre x, y, width, height, then 4 keypoints (x, y) "
               "in input pixels, relative to the anchor", (1, 2254, 12)),
    TensorSpec("scores", "per anchor: person score logit", (1, 2254, 1)),
)
LANDMARK_INPUTS = (TensorSpec("image", "RGB person crop 256x256, scaled to [0, 1]",
                              (1, 256, 256, 3), (0.0, 255.0)),)
LANDMARK_OUTPUTS = (
    TensorSpec("landmarks", "39 landmarks x, y, z (crop pixels), visibility and presence "
               "logits", (1, 195)),
    TensorSpec("pose_flag", "probability that a person is in the crop", (1, 1)),
    TensorSpec("segmentation", "person mask logits", (1, 256, 256, 1)),
    TensorSpec("heatmap", "per-landmark heatmaps used to refine x, y", (1, 64, 64, 39)),
    TensorSpec("world_landmarks", "39 landmarks x, y, z in metres, origin between the hips",
               (1, 117)),
)


# The Keras landmark network's outputs (per example, no batch) that become LANDMARK_OUTPUTS,
# flattened, in that order; and the keypoints MediaPipe's graphs assume (33 BlazePose landmarks,
# then 6 auxiliary ones: 33 and 34 frame the next crop when tracking).
KERAS_LANDMARK_OUTPUTS = {"landmarks": (39, 5), "pose_flag": (1,),
                          "segmentation": (256, 256, 1), "heatmap": (64, 64, 39),
                          "world_landmarks": (39, 3)}
KERAS_LANDMARK_INPUT = (256, 256, 3)
# Keypoint layouts of those 39 outputs: 33 keypoints + 6 extra outputs, or all 39 as keypoints.
TOPOLOGIES = (topology_lib.BLAZEPOSE_33.name, topology_lib.BLAZEPOSE_39.name)
KERAS_DETECTOR_OUTPUTS = {"boxes": (2254, 12), "scores": (2254, 1)}
KERAS_DETECTOR_INPUT = (224, 224, 3)


def requirement(specs) -> str:
    """E.g. ``"landmarks [1, 195], pose_flag [1, 1], ..."``: what MediaPipe reads, in order."""
    return ", ".join(f"{spec.name} {list(spec.shape)}" for spec in specs)


# ----------------------------------------------------------------------------------------------
# The metadata flatbuffer.

def _strings(builder: flatbuffers.Builder, texts) -> list[int]:
    return [builder.CreateString(text) for text in texts]


def _table(builder: flatbuffers.Builder, fields: list[tuple[int, str, object]]) -> int:
    """One table; ``fields`` are ``(slot, kind, value)`` with kind ``offset``, ``uint8``,
    ``int8`` or ``uint32``; offsets must already be built."""
    builder.StartObject(max(slot for slot, _, _ in fields) + 1 if fields else 0)
    for slot, kind, value in fields:
        if kind == "offset":
            builder.PrependUOffsetTRelativeSlot(slot, value, 0)
        elif kind == "uint8":
            builder.PrependUint8Slot(slot, value, 0)
        elif kind == "int8":
            builder.PrependInt8Slot(slot, value, 0)
        elif kind == "uint32":
            builder.PrependUint32Slot(slot, value, 0)
        else:
            raise ValueError(kind)
    return builder.EndObject()


def _vector_of_offsets(builder: flatbuffers.Builder, offsets: list[int]) -> int:
    builder.StartVector(4, len(offsets), 4)
    for offset in reversed(offsets):
        builder.PrependUOffsetTRelative(offset)
    return builder.EndVector()


def _float_vector(builder: flatbuffers.Builder, values) -> int:
    return builder.CreateNumpyVector(np.asarray(values, np.float32))


def _tensor_metadata(builder: flatbuffers.Builder, spec: TensorSpec) -> int:
    name, description = _strings(builder, (spec.name, spec.description))
    fields = [(0, "offset", name), (1, "offset", description)]
    if spec.normalization is not None:
        mean, std = spec.normalization
        mean_vector = _float_vector(builder, [mean])
        std_vector = _float_vector(builder, [std])
        options = _table(builder, [(0, "offset", mean_vector), (1, "offset", std_vector)])
        unit = _table(builder, [(0, "uint8", _PROCESS_UNIT_NORMALIZATION),
                                (1, "offset", options)])
        units = _vector_of_offsets(builder, [unit])
        image_size = _table(builder, [(0, "uint32", spec.shape[2]),
                                      (1, "uint32", spec.shape[1])])
        properties = _table(builder, [(0, "int8", _COLOR_SPACE_RGB),
                                      (1, "offset", image_size)])
        content = _table(builder, [(0, "uint8", _CONTENT_IMAGE), (1, "offset", properties)])
        fields += [(3, "offset", content), (4, "offset", units)]
    else:
        properties = _table(builder, [])
        content = _table(builder, [(0, "uint8", _CONTENT_FEATURE), (1, "offset", properties)])
        fields.append((3, "offset", content))
    return _table(builder, fields)


def model_metadata(name: str, description: str, version: str, inputs, outputs) -> bytes:
    """The ``M001`` metadata flatbuffer of a one-subgraph model.

    Args:
      inputs, outputs: sequences of :class:`TensorSpec` in the model's tensor order.
    """
    builder = flatbuffers.Builder(1024)
    input_tables = [_tensor_metadata(builder, spec) for spec in inputs]
    output_tables = [_tensor_metadata(builder, spec) for spec in outputs]
    input_vector = _vector_of_offsets(builder, input_tables)
    output_vector = _vector_of_offsets(builder, output_tables)
    subgraph_name = builder.CreateString(name)
    subgraph = _table(builder, [(0, "offset", subgraph_name), (2, "offset", input_vector),
                                (3, "offset", output_vector)])
    subgraphs = _vector_of_offsets(builder, [subgraph])
    model_name, model_description, model_version, parser = _strings(
        builder, (name, description, version, MIN_PARSER_VERSION))
    root = _table(builder, [(0, "offset", model_name), (1, "offset", model_description),
                            (2, "offset", model_version), (3, "offset", subgraphs),
                            (7, "offset", parser)])
    builder.Finish(root, file_identifier=METADATA_IDENTIFIER)
    return bytes(builder.Output())


# ----------------------------------------------------------------------------------------------
# The .tflite file.

def _read_model(tflite: bytes) -> tflite_schema.ModelT:
    if len(tflite) < 8 or tflite[4:8] != TFLITE_IDENTIFIER:
        raise TaskExportError("not a TFLite flatbuffer (identifier TFL3 missing)")
    return tflite_schema.ModelT.InitFromObj(tflite_schema.Model.GetRootAsModel(tflite, 0))


def _shape_of(model: tflite_schema.ModelT, tensor_index: int) -> tuple[int, ...]:
    tensor = model.subgraphs[0].tensors[tensor_index]
    shape = tensor.shapeSignature if tensor.shapeSignature is not None else tensor.shape
    return tuple(int(v) for v in (shape if shape is not None else ()))


def tensor_shapes(tflite: bytes) -> tuple[list[tuple[int, ...]], list[tuple[int, ...]]]:
    """Input and output shapes of the first subgraph, in the model's order."""
    model = _read_model(tflite)
    graph = model.subgraphs[0]
    return ([_shape_of(model, i) for i in graph.inputs],
            [_shape_of(model, i) for i in graph.outputs])


def _matches(shape, required) -> bool:
    return len(shape) == len(required) and all(
        r == -1 or s in (r, -1) for s, r in zip(shape, required))


def check_interface(tflite: bytes, inputs, outputs, what: str) -> None:
    """Raises :class:`TaskExportError` unless the model's tensors have the required shapes."""
    input_shapes, output_shapes = tensor_shapes(tflite)
    for kind, shapes, specs in (("input", input_shapes, inputs),
                                ("output", output_shapes, outputs)):
        if len(shapes) != len(specs):
            raise TaskExportError(
                f"{what} has {len(shapes)} {kind}s {shapes}; MediaPipe's PoseLandmarker needs "
                f"{len(specs)}: " + ", ".join(f"{s.name} {list(s.shape)}" for s in specs))
        for index, (shape, spec) in enumerate(zip(shapes, specs)):
            if not _matches(shape, spec.shape):
                raise TaskExportError(
                    f"{what} {kind} {index} has shape {list(shape)}; MediaPipe's PoseLandmarker "
                    f"reads {kind} {index} as {spec.name} {list(spec.shape)}")


def _shape_problems(input_shape, output_shapes, required_input, required_outputs) -> list[str]:
    problems = []
    if tuple(input_shape) != required_input:
        problems.append(f"input {list(input_shape)} (needs {list(required_input)})")
    for name, shape in required_outputs.items():
        if name not in output_shapes:
            problems.append(f"output {name} missing")
        elif tuple(output_shapes[name]) != shape:
            problems.append(f"output {name} {list(output_shapes[name])} (needs {list(shape)})")
    return problems


def check_landmark_model(input_shape, output_shapes, topology_name: str, what: str) -> None:
    """Raises :class:`TaskExportError` unless a Keras landmark network can become MediaPipe's
    ``pose_landmarks_detector.tflite``.

    Args:
      input_shape: the network's input shape without the batch, e.g. ``(256, 256, 3)``.
      output_shapes: output name -> shape without the batch (extra outputs, e.g. an offset
        head, are allowed: MediaPipe does not read them and they are left out).
      topology_name: the keypoints of the network's first landmarks; one of
        :data:`TOPOLOGIES` (MediaPipe's 33 landmarks first, its tracking points 33 and 34 next).
      what: the network's name in the message (e.g. the checkpoint path).
    """
    problems = _shape_problems(input_shape, output_shapes, KERAS_LANDMARK_INPUT,
                               KERAS_LANDMARK_OUTPUTS)
    if topology_name not in TOPOLOGIES:
        problems.insert(0, f"its keypoints are {topology_name!r}, not MediaPipe's 33 BlazePose "
                           "landmarks")
    if problems:
        raise TaskExportError(
            f"{what} cannot be MediaPipe's pose landmark network: {'; '.join(problems)}. "
            f"MediaPipe's PoseLandmarker needs the {TOPOLOGIES[0]} topology (33 landmarks + 6 "
            "auxiliary = 39 landmark outputs) with a float32 crop input [1, 256, 256, 3] and the "
            f"outputs {requirement(LANDMARK_OUTPUTS)}")


def check_detector_model(input_shape, output_shapes, what: str) -> None:
    """Raises :class:`TaskExportError` unless a Keras detector network (shapes without the batch)
    can become MediaPipe's ``pose_detector.tflite``."""
    problems = _shape_problems(input_shape, output_shapes, KERAS_DETECTOR_INPUT,
                               KERAS_DETECTOR_OUTPUTS)
    if problems:
        raise TaskExportError(
            f"{what} cannot be MediaPipe's pose detector: {'; '.join(problems)}. MediaPipe's "
            f"PoseLandmarker needs a float32 input [1, 224, 224, 3] and the outputs "
            f"{requirement(DETECTOR_OUTPUTS)}")


def _signature_outputs(model: tflite_schema.ModelT) -> dict[str, int]:
    """Output name -> tensor index of the model's only signature."""
    if not model.signatureDefs or len(model.signatureDefs) != 1:
        raise TaskExportError("the converted model must have exactly one signature to name its "
                              f"outputs; it has {len(model.signatureDefs or [])}")
    return {(entry.name.decode() if isinstance(entry.name, bytes) else entry.name):
            entry.tensorIndex for entry in model.signatureDefs[0].outputs}


def _pack(model: tflite_schema.ModelT, size_hint: int) -> bytes:
    builder = flatbuffers.Builder(size_hint + 1024)
    builder.Finish(model.Pack(builder), file_identifier=TFLITE_IDENTIFIER)
    return bytes(builder.Output())


def order_outputs(tflite: bytes, names) -> bytes:
    """``tflite`` with its first subgraph's outputs listed as its signature names them in
    ``names`` (the converter orders a signature's outputs its own way; MediaPipe reads them by
    position). The signature itself is kept, so interpreters still find outputs by name.

    Raises:
      TaskExportError: ``names`` is not a permutation of the signature's output names.
    """
    model = _read_model(tflite)
    by_name = _signature_outputs(model)
    if sorted(names) != sorted(by_name):
        raise TaskExportError(f"the converted model's outputs are {sorted(by_name)}; expected "
                              f"exactly {list(names)}")
    model.subgraphs[0].outputs = [by_name[name] for name in names]
    return _pack(model, len(tflite))


def _entry_name(entry: tflite_schema.MetadataT) -> str:
    return entry.name.decode() if isinstance(entry.name, bytes) else entry.name


def attach_metadata(tflite: bytes, metadata: bytes) -> bytes:
    """``tflite`` with ``metadata`` as its ``TFLITE_METADATA``. A metadata already present is
    replaced in its own buffer, so attaching again does not grow the file; the graph, its
    weights and its signature are untouched."""
    model = _read_model(tflite)
    model.buffers = list(model.buffers or [])
    model.metadata = list(model.metadata or [])
    data = np.frombuffer(metadata, np.uint8)
    present = [entry for entry in model.metadata if _entry_name(entry) == METADATA_NAME]
    if present:
        model.buffers[present[0].buffer].data = data
    else:
        buffer = tflite_schema.BufferT()
        buffer.data = data
        model.buffers.append(buffer)
        entry = tflite_schema.MetadataT()
        entry.name = METADATA_NAME
        entry.buffer = len(model.buffers) - 1
        model.metadata.append(entry)
    return _pack(model, len(tflite) + len(metadata))


def read_metadata(tflite: bytes) -> bytes | None:
    """The ``TFLITE_METADATA`` flatbuffer of a ``.tflite`` file's bytes, or None."""
    model = _read_model(tflite)
    for entry in model.metadata or []:
        if _entry_name(entry) == METADATA_NAME:
            return bytes(np.asarray(model.buffers[entry.buffer].data, np.uint8))
    return None


def with_detector_metadata(tflite: bytes, version: str, what: str = "detector") -> bytes:
    """The person detector's bytes with MediaPipe's metadata, its interface checked."""
    check_interface(tflite, DETECTOR_INPUTS, DETECTOR_OUTPUTS, what)
    return attach_metadata(tflite, model_metadata(
        "pose_detector", "BlazePose person detector (SSD, 2254 anchors)", version,
        DETECTOR_INPUTS, DETECTOR_OUTPUTS))


def with_landmark_metadata(tflite: bytes, version: str, what: str = "landmark network") -> bytes:
    """The landmark network's bytes with MediaPipe's metadata, its interface checked."""
    check_interface(tflite, LANDMARK_INPUTS, LANDMARK_OUTPUTS, what)
    return attach_metadata(tflite, model_metadata(
        "pose_landmarks_detector", "BlazePose landmark network (33 landmarks + 6 auxiliary)",
        version, LANDMARK_INPUTS, LANDMARK_OUTPUTS))


def bundle(detector: bytes, landmarks: bytes) -> bytes:
    """The ``.task`` archive (zip, stored) of the two networks' bytes (metadata attached)."""
    stream = io.BytesIO()
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(DETECTOR_FILE, detector)
        archive.writestr(LANDMARK_FILE, landmarks)
    return stream.getvalue()


def read_bundle(task: bytes) -> dict[str, bytes]:
    """The two networks' bytes of a ``.task`` archive: ``{DETECTOR_FILE: ..., LANDMARK_FILE:
    ...}``.

    Raises:
      TaskExportError: not a zip, a member compressed (MediaPipe maps members in place) or
        missing.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(task))
    except zipfile.BadZipFile as error:
        raise TaskExportError(f"not a .task bundle (zip): {error}") from None
    with archive:
        members = {info.filename: info for info in archive.infolist()}
        missing = [name for name in (DETECTOR_FILE, LANDMARK_FILE) if name not in members]
        if missing:
            raise TaskExportError(f"the bundle lacks {missing}; it holds {sorted(members)}")
        compressed = [name for name, info in members.items()
                      if info.compress_type != zipfile.ZIP_STORED]
        if compressed:
            raise TaskExportError(f"bundle members {compressed} are compressed; MediaPipe needs "
                                  "them stored")
        return {name: archive.read(name) for name in (DETECTOR_FILE, LANDMARK_FILE)}


def write_task(path: os.PathLike, detector: bytes, landmarks: bytes, version: str) -> pathlib.Path:
    """Checks both networks, attaches metadata and writes the ``.task`` to ``path``."""
    task = bundle(with_detector_metadata(detector, version),
                  with_landmark_metadata(landmarks, version))
    path = pathlib.Path(path)
    path.write_bytes(task)
    return path
