"""Reads a .tflite flatbuffer into a small graph of ops with their constant weights.

Uses the flatbuffer schema bindings that ship inside the TensorFlow wheel
(``tensorflow.lite.tools.flatbuffer_utils``). Weight-producing ops are folded away: a
``DEQUANTIZE`` of a float16 constant becomes the float32 constant (an exact cast), a ``DENSIFY``
of a sparse constant becomes the dense array. What is left are the ops that compute on data, each
with the ids of its data inputs and its constant inputs as float32 numpy arrays.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

# Fused activation codes of the TFLite schema.
_ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}
_PADDINGS = {0: "SAME", 1: "VALID"}
_NUMPY_TYPES = {"FLOAT32": np.float32, "FLOAT16": np.float16, "INT32": np.int32,
                "INT64": np.int64, "UINT8": np.uint8, "INT8": np.int8, "INT16": np.int16}


class TFLiteGraphError(ValueError):
    """The file is not a TFLite model this reader understands."""


@dataclasses.dataclass
class GraphOp:
    """One computing op of a TFLite graph.

    Attributes:
      index: position in the file's execution order (as in the reference graph dumps).
      kind: builtin op name, e.g. ``CONV_2D``.
      options: normalised options (``stride``, ``padding``, ``activation``, ``axis``, ...).
      inputs: tensor ids of data (non-constant) inputs, in the op's order.
      constants: constant inputs as numpy arrays (float weights as float32), in the op's order.
      outputs: tensor ids of the outputs.
    """

    index: int
    kind: str
    options: dict
    inputs: tuple[int, ...]
    constants: tuple[np.ndarray, ...]
    outputs: tuple[int, ...]

    def describe(self, graph: TFLiteGraph) -> str:
        weights = " ".join("W:" + "x".join(map(str, c.shape)) for c in self.constants)
        names = ", ".join(graph.tensor_names[t] for t in self.outputs)
        return f"op{self.index:04d} {self.kind} {weights} -> {names}".replace("  ", " ")


@dataclasses.dataclass
class TFLiteGraph:
    """The computing ops of a model's first subgraph plus its tensor table."""

    ops: list[GraphOp]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    tensor_names: dict[int, str]
    tensor_shapes: dict[int, tuple[int, ...]]
    signature_outputs: dict[int, str] = dataclasses.field(default_factory=dict)

    @property
    def output_names(self) -> dict[int, str]:
        return {t: self.tensor_names[t] for t in self.outputs}

    def count_weights(self) -> int:
        return sum(int(c.size) for op in self.ops for c in op.constants
                   if c.dtype == np.float32)


def densify(values: np.ndarray, shape: tuple[int, ...], sparsity) -> np.ndarray:
    """Expands a TFLite sparse tensor (``SparsityParameters``) to a dense array.

    Implements the format of the TFLite schema: ``traversal_order`` lists the dimensions in storage
    order, the original dimensions first and block dimensions (``block_map``) after them; each
    dimension is DENSE (``dense_size`` positions) or SPARSE_CSR (``array_segments`` /
    ``array_indices``). Values are stored in traversal order for the non-zero positions.
    """
    traversal = [int(d) for d in sparsity.traversalOrder]
    block_map = [int(d) for d in (sparsity.blockMap if sparsity.blockMap is not None else [])]
    metadata = list(sparsity.dimMetadata)
    rank = len(shape)
    if len(metadata) != len(traversal) or len(traversal) != rank + len(block_map):
        raise TFLiteGraphError("inconsistent sparsity parameters: traversal order "
                               f"{traversal}, block map {block_map}, shape {shape}")
    block_sizes = {}
    for block_index, original_dim in enumerate(block_map):
        block_sizes[original_dim] = int(metadata[rank + block_index].denseSize)

    dense = np.zeros(shape, dtype=values.dtype)
    coordinate = [0] * len(traversal)
    cursor = 0

    def visit(level: int, parent: int):
        nonlocal cursor
        if level == len(traversal):
            index = [0] * rank
            for dim in range(rank):
                index[dim] = coordinate[dim] * block_sizes.get(dim, 1)
            for block_index, original_dim in enumerate(block_map):
                index[original_dim] += coordinate[rank + block_index]
            dense[tuple(index)] = values[cursor]
            cursor += 1
            return
        dim_meta = metadata[level]
        stored_dim = traversal[level]
        if dim_meta.format == 0:  # DENSE
            size = int(dim_meta.denseSize)
            for position in range(size):
                coordinate[stored_dim] = position
                visit(level + 1, parent * size + position)
        else:  # SPARSE_CSR
            segments = np.asarray(dim_meta.arraySegments.values)
            indices = np.asarray(dim_meta.arrayIndices.values)
            for k in range(int(segments[parent]), int(segments[parent + 1])):
                coordinate[stored_dim] = int(indices[k])
                visit(level + 1, k)

    visit(0, 0)
    if cursor != values.size:
        raise TFLiteGraphError(f"sparse tensor of shape {shape}: {values.size} stored values but "
                               f"the index arrays address {cursor}")
    return dense


def _option_dict(kind: str, options) -> dict:
    if options is None:
        return {}
    raw = vars(options)
    result = {}
    if "strideH" in raw:
        result["stride"] = (int(raw["strideH"]), int(raw["strideW"]))
    if "padding" in raw:
        result["padding"] = _PADDINGS[int(raw["padding"])]
    if "fusedActivationFunction" in raw:
        result["activation"] = _ACTIVATIONS[int(raw["fusedActivationFunction"])]
    if "filterHeight" in raw:
        result["pool_size"] = (int(raw["filterHeight"]), int(raw["filterWidth"]))
    if "axis" in raw:
        result["axis"] = int(raw["axis"])
    if "blockSize" in raw:
        result["block_size"] = int(raw["blockSize"])
    for key in ("alignCorners", "halfPixelCenters"):
        if key in raw:
            result[key] = bool(raw[key])
    return result


def read_tflite_graph(path: os.PathLike) -> TFLiteGraph:
    """Parses ``path``; raises :class:`TFLiteGraphError` naming the file if it cannot."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    path = os.fspath(path)
    try:
        with open(path, "rb") as stream:
            data = stream.read()
        if len(data) < 8 or data[4:8] != b"TFL3":
            raise TFLiteGraphError(f"{path}: not a TFLite flatbuffer (no 'TFL3' identifier)")
        model = flatbuffer_utils.convert_bytearray_to_object(bytearray(data))
    except TFLiteGraphError:
        raise
    except Exception as error:  # the flatbuffer reader raises assorted errors on bad bytes
        raise TFLiteGraphError(f"{path}: cannot parse the TFLite flatbuffer ({error!r}); is the "
                               "file truncated?") from error
    if not model.subgraphs:
        raise TFLiteGraphError(f"{path}: the model has no subgraph")
    graph = model.subgraphs[0]
    op_names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    type_names = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}

    def buffer_array(tensor_id: int) -> np.ndarray | None:
        tensor = graph.tensors[tensor_id]
        buffer = model.buffers[tensor.buffer]
        if buffer.data is None or len(buffer.data) == 0:
            return None
        dtype = _NUMPY_TYPES.get(type_names.get(tensor.type, "?"))
        if dtype is None:
            raise TFLiteGraphError(f"{path}: tensor {tensor.name!r} has unsupported type "
                                   f"{type_names.get(tensor.type)}")
        values = np.frombuffer(bytes(buffer.data), dtype=dtype)
        shape = tuple(int(d) for d in tensor.shape)
        if tensor.sparsity is not None:
            return densify(values, shape, tensor.sparsity)
        if values.size != int(np.prod(shape)):
            raise TFLiteGraphError(f"{path}: tensor {tensor.name!r} has {values.size} values for "
                                   f"shape {shape}; the file is truncated or corrupt")
        return values.reshape(shape)

    constants: dict[int, np.ndarray] = {}
    for tensor_id in range(len(graph.tensors)):
        array = buffer_array(tensor_id)
        if array is not None:
            constants[tensor_id] = array

    ops = []
    for index, op in enumerate(graph.operators):
        code = model.operatorCodes[op.opcodeIndex]
        kind = op_names.get(max(code.builtinCode, code.deprecatedBuiltinCode), "CUSTOM")
        inputs = [int(t) for t in op.inputs if t >= 0]
        outputs = tuple(int(t) for t in op.outputs)
        if kind in ("DEQUANTIZE", "DENSIFY") and inputs[0] in constants:
            value = constants[inputs[0]]
            constants[outputs[0]] = value.astype(np.float32) if kind == "DEQUANTIZE" else value
            continue
        data_inputs = tuple(t for t in inputs if t not in constants)
        const_inputs = tuple(
            constants[t].astype(np.float32) if constants[t].dtype == np.float16 else constants[t]
            for t in inputs if t in constants)
        ops.append(GraphOp(index, kind, _option_dict(kind, op.builtinOptions), data_inputs,
                           const_inputs, outputs))
    return TFLiteGraph(
        ops=ops,
        inputs=tuple(int(t) for t in graph.inputs),
        outputs=tuple(int(t) for t in graph.outputs),
        tensor_names={i: t.name.decode() if isinstance(t.name, bytes) else str(t.name)
                      for i, t in enumerate(graph.tensors)},
        tensor_shapes={i: tuple(int(d) for d in t.shape) for i, t in enumerate(graph.tensors)},
        signature_outputs=_signature_outputs(model),
    )


def _signature_outputs(model) -> dict[int, str]:
    """{output tensor id: output key} of the first signature (files converted from a SavedModel
    have one; Google's files have none)."""
    if not model.signatureDefs:
        return {}
    outputs = model.signatureDefs[0].outputs or []
    return {int(o.tensorIndex): o.name.decode() if isinstance(o.name, bytes) else str(o.name)
            for o in outputs}
