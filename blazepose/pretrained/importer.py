"""Imports the weights of a TFLite graph into a Keras functional model, by graph structure.

Both graphs are brought into one small vocabulary of ops (``PAD``, ``CONV_2D``,
``DEPTHWISE_CONV_2D``, ``ADD``, ``RESIZE_BILINEAR``, ``MAX_POOL_2D``, ``RESHAPE``, ``LOGISTIC``,
``DEPTH_TO_SPACE``, ``CONCATENATION``), each op described by its kind, options, output shape and
weight shapes. Every op then gets a structural key: a hash of everything upstream of it (from the
image input) and of everything downstream of it (to the named outputs). Two ops correspond iff
their keys are equal, so two identical-looking convolutions on the same tensor (e.g. the decoder's
and the regression branch's depthwise on the trunk) are told apart by where their results go.

The import is all-or-nothing and checked: every op of the file must find exactly one op in the
Keras model and the other way round, every weight is assigned with its shape checked, and
anything left over is an error naming the TFLite op and the Keras layer concerned.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import logging
import os
from collections.abc import Sequence

import keras
import numpy as np

from blazepose.model.detector import build_detector_model
from blazepose.model.landmark import LandmarkModelConfig, build_landmark_model
from blazepose.pretrained import files
from blazepose.pretrained.interpreter import DETECTOR_OUTPUTS, LANDMARK_OUTPUTS
from blazepose.pretrained.tflite_graph import TFLiteGraph, read_tflite_graph
from blazepose.topology import BLAZEPOSE_33, Topology

_LOG = logging.getLogger(__name__)
_COMMUTATIVE = {"ADD"}


class WeightImportError(ValueError):
    """The Keras model and the TFLite file do not have the same structure or weight shapes."""


@dataclasses.dataclass
class _Node:
    """One op of either graph in the common vocabulary."""

    kind: str
    options: tuple
    output_shape: tuple
    weight_shapes: tuple
    inputs: tuple  # ids of the tensors it reads (graph-specific ids)
    output: object  # id of the tensor it writes
    label: str  # human-readable name: TFLite op index / Keras layer name
    weights: tuple = ()  # TFLite side: float32 arrays in TFLite layout
    layer: object = None  # Keras side: the layer holding the weights

    @property
    def signature(self) -> tuple:
        return (self.kind, self.options, self.output_shape, self.weight_shapes)


def _tflite_layout(kind: str, kernel_shape: tuple) -> tuple:
    """Keras kernel shape -> TFLite weight shape (conv [out,kh,kw,in], depthwise [1,kh,kw,C])."""
    kh, kw, a, b = kernel_shape
    return (b, kh, kw, a)


def _conv_options(kind, stride, padding, activation, kernel_hw):
    if tuple(kernel_hw) == (1, 1):
        padding = "ANY"  # SAME and VALID compute the same thing for 1x1 kernels
    return (("activation", activation), ("padding", padding), ("stride", tuple(stride)))


def _shape(shape, kind):
    shape = tuple(int(d) for d in shape[1:])
    return (int(np.prod(shape)),) if kind == "RESHAPE" else shape


def nodes_from_tflite(graph: TFLiteGraph) -> tuple[list[_Node], object, dict]:
    """Returns the nodes, the input tensor id and {output tensor id: output name}."""
    nodes = []
    for op in graph.ops:
        options: tuple = ()
        weights = tuple(c for c in op.constants if c.dtype == np.float32)
        if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            kernel = weights[0]
            options = _conv_options(op.kind, op.options["stride"], op.options["padding"],
                                    op.options["activation"], kernel.shape[1:3])
        elif op.kind == "PAD":
            options = (("pads", tuple(map(tuple, op.constants[0].astype(int).tolist()))),)
        elif op.kind in ("ADD", "CONCATENATION"):
            options = (("activation", op.options.get("activation", "NONE")),)
            if op.kind == "CONCATENATION":
                rank = len(graph.tensor_shapes[op.outputs[0]])
                options += (("axis", op.options["axis"] % rank),)
        elif op.kind == "MAX_POOL_2D":
            options = (("padding", op.options["padding"]), ("pool_size", op.options["pool_size"]),
                       ("stride", op.options["stride"]))
        elif op.kind == "RESIZE_BILINEAR":
            if op.options.get("alignCorners") or not op.options.get("halfPixelCenters"):
                raise WeightImportError(f"{op.describe(graph)}: only half-pixel bilinear resizes "
                                        "(Keras UpSampling2D) are supported")
        elif op.kind == "DEPTH_TO_SPACE":
            options = (("block_size", op.options["block_size"]),)
        elif op.kind not in ("RESHAPE", "LOGISTIC"):
            raise WeightImportError(f"{op.describe(graph)}: op kind {op.kind} is not supported")
        if op.kind not in ("CONV_2D", "DEPTHWISE_CONV_2D") and weights:
            raise WeightImportError(f"{op.describe(graph)}: unexpected float weights")
        output = op.outputs[0]
        nodes.append(_Node(op.kind, options, _shape(graph.tensor_shapes[output], op.kind),
                           tuple(w.shape for w in weights), op.inputs, output,
                           f"op{op.index:04d} {op.kind}", weights=weights))
    if len(graph.inputs) != 1:
        raise WeightImportError(f"expected one graph input, found {len(graph.inputs)}")
    return nodes, graph.inputs[0], graph.output_names


def _activation_name(layer) -> str:
    name = getattr(layer.activation, "__name__", str(layer.activation))
    return {"relu6": "RELU6", "linear": "NONE", "sigmoid": "SIGMOID"}.get(name, name)


def nodes_from_keras(model: keras.Model) -> tuple[list[_Node], object, dict]:
    """Returns the nodes, the input tensor id and {output tensor id: output key}."""
    if len(model.inputs) != 1:
        raise WeightImportError(f"{model.name}: expected one input, found {len(model.inputs)}")
    consumers = collections.defaultdict(list)
    layer_nodes = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        inbound = [n for n in layer._inbound_nodes if n.operation is layer]
        if len(inbound) != 1:
            raise WeightImportError(f"layer {layer.name} is called {len(inbound)} times; shared "
                                    "layers are not supported")
        node = inbound[0]
        for tensor in node.input_tensors:
            consumers[id(tensor)].append(layer)
        layer_nodes.append((layer, node))

    alias = {}  # tensor id -> tensor id it is an identity of
    fused_into_add = set()
    nodes = []
    for layer, node in layer_nodes:
        inputs = tuple(alias.get(id(t), id(t)) for t in node.input_tensors)
        output_tensor = node.output_tensors[0]
        output = id(output_tensor)
        shape = tuple(output_tensor.shape)
        kind_name = type(layer).__name__
        if kind_name == "StopGradient" or layer in fused_into_add:
            alias[output] = inputs[0]
            continue
        if isinstance(layer, keras.layers.Conv2D | keras.layers.DepthwiseConv2D):
            depthwise = isinstance(layer, keras.layers.DepthwiseConv2D)
            kind = "DEPTHWISE_CONV_2D" if depthwise else "CONV_2D"
            activation = _activation_name(layer)
            options = _conv_options(kind, layer.strides, layer.padding.upper(),
                                    "NONE" if activation == "SIGMOID" else activation,
                                    layer.kernel_size)
            weight_shapes = (_tflite_layout(kind, tuple(layer.kernel.shape)),)
            if layer.use_bias:
                weight_shapes += (tuple(layer.bias.shape),)
            conv_output = output if activation != "SIGMOID" else ("pre-sigmoid", output)
            nodes.append(_Node(kind, options, _shape(shape, kind), weight_shapes, inputs,
                               conv_output, layer.name, layer=layer))
            if activation == "SIGMOID":
                nodes.append(_Node("LOGISTIC", (), _shape(shape, "LOGISTIC"), (), (conv_output,),
                                   output, f"{layer.name} (sigmoid)"))
            elif activation not in ("NONE", "RELU6"):
                raise WeightImportError(f"layer {layer.name}: activation {activation} unsupported")
            continue
        if isinstance(layer, keras.layers.Add):
            activation = "NONE"
            following = consumers[output]
            if (len(following) == 1 and isinstance(following[0], keras.layers.Activation)
                    and _activation_name(following[0]) == "RELU6"):
                activation = "RELU6"
                fused_into_add.add(following[0])
            nodes.append(_Node("ADD", (("activation", activation),), _shape(shape, "ADD"), (),
                               inputs, output, layer.name))
            continue
        if isinstance(layer, keras.layers.ZeroPadding2D):
            (top, bottom), (left, right) = layer.padding
            options = (("pads", ((0, 0), (top, bottom), (left, right), (0, 0))),)
            kind = "PAD"
        elif isinstance(layer, keras.layers.UpSampling2D):
            if layer.interpolation != "bilinear":
                raise WeightImportError(f"layer {layer.name}: only bilinear upsampling")
            kind, options = "RESIZE_BILINEAR", ()
        elif isinstance(layer, keras.layers.MaxPooling2D):
            kind = "MAX_POOL_2D"
            options = (("padding", layer.padding.upper()), ("pool_size", tuple(layer.pool_size)),
                       ("stride", tuple(layer.strides)))
        elif isinstance(layer, keras.layers.Reshape):
            kind, options = "RESHAPE", ()
        elif isinstance(layer, keras.layers.Concatenate):
            kind = "CONCATENATION"
            options = (("activation", "NONE"), ("axis", layer.axis % len(shape)))
        elif kind_name == "DepthToSpace":
            kind, options = "DEPTH_TO_SPACE", (("block_size", int(layer.block_size)),)
        else:
            raise WeightImportError(f"layer {layer.name} ({kind_name}) has no TFLite counterpart "
                                    "known to the importer")
        nodes.append(_Node(kind, options, _shape(shape, kind), (), inputs, output, layer.name))

    outputs = model.output if isinstance(model.output, dict) else {"output": model.output}
    output_keys = {alias.get(id(t), id(t)): key for key, t in outputs.items()}
    return nodes, id(model.inputs[0]), output_keys


def _digest(*parts) -> str:
    return hashlib.sha1(repr(parts).encode()).hexdigest()


def _input_keys(nodes: list[_Node], input_id) -> list[tuple[str, ...]]:
    """Per node, the upstream keys of the tensors it reads (see :func:`structural_keys`)."""
    producer = {node.output: index for index, node in enumerate(nodes)}
    upstream: list[str] = []
    inputs: list[tuple[str, ...]] = []
    for node in nodes:  # nodes come in a topological order
        parts = []
        for tensor in node.inputs:
            if tensor == input_id:
                parts.append("INPUT")
            elif tensor in producer and producer[tensor] < len(upstream):
                parts.append(upstream[producer[tensor]])
            else:
                raise WeightImportError(f"{node.label}: reads a tensor no earlier op produces")
        if node.kind in _COMMUTATIVE:
            parts.sort()
        inputs.append(tuple(parts))
        upstream.append(_digest(node.signature, tuple(parts)))
    return inputs


def _upstream_key(node: _Node, input_keys: tuple[str, ...]) -> str:
    return _digest(node.signature, input_keys)


def structural_keys(nodes: list[_Node], input_id, output_labels: dict) -> list[str]:
    """Key per node: hash of its signature, of what feeds it and of where its result goes."""
    inputs = _input_keys(nodes, input_id)
    upstream = [_upstream_key(node, keys) for node, keys in zip(nodes, inputs)]
    consumers = collections.defaultdict(list)
    for index, node in enumerate(nodes):
        for slot, tensor in enumerate(node.inputs):
            consumers[tensor].append((index, slot))
    downstream: dict[int, str] = {}
    for index in reversed(range(len(nodes))):
        node = nodes[index]
        uses = sorted(
            _digest(downstream[c], "*" if nodes[c].kind in _COMMUTATIVE else slot)
            for c, slot in consumers[node.output])
        downstream[index] = _digest(node.signature, output_labels.get(node.output), tuple(uses))
    return [_digest(upstream[i], downstream[i]) for i in range(len(nodes))]


def _describe(node: _Node) -> str:
    return f"output {node.output_shape}, weights {node.weight_shapes}"


def _describe_mismatch(tflite_nodes, tflite_input, keras_nodes, keras_input) -> str:
    """Names the first places where the graphs part: ops whose inputs still correspond but which
    themselves differ (kind, options, output shape or weight shapes), paired with the Keras layer
    reading the same inputs. Falls back to listing unmatched ops."""
    tflite_inputs = _input_keys(tflite_nodes, tflite_input)
    keras_inputs = _input_keys(keras_nodes, keras_input)
    tflite_up = {_upstream_key(n, k) for n, k in zip(tflite_nodes, tflite_inputs)}
    keras_up = {_upstream_key(n, k) for n, k in zip(keras_nodes, keras_inputs)}
    known_inputs = tflite_up & keras_up | {"INPUT"}
    lines, used = [], set()
    for node, keys in zip(tflite_nodes, tflite_inputs):
        if _upstream_key(node, keys) in keras_up or not set(keys) <= known_inputs:
            continue
        partners = [k for k, k_keys in zip(keras_nodes, keras_inputs)
                    if k_keys == keys and k.kind == node.kind
                    and _upstream_key(k, k_keys) not in tflite_up and k.label not in used]
        used.update(p.label for p in partners[:1])
        partner = (f"Keras layer {partners[0].label} ({_describe(partners[0])})" if partners
                   else "no Keras layer of that kind reads the same inputs")
        lines.append(f"  file {node.label} ({_describe(node)}) <-> {partner}")
    for node, keys in zip(keras_nodes, keras_inputs):
        if _upstream_key(node, keys) not in tflite_up and set(keys) <= known_inputs and not any(
                node.label in line for line in lines):
            lines.append(f"  Keras layer {node.label} ({node.kind}, {_describe(node)}) has no "
                         "counterpart in "
                         "the file")
    if not lines:
        lines.append("  every op has a counterpart upstream, but the graphs differ downstream "
                     "(outputs or how branches are used)")
    return "\n".join(lines[:20] + ([f"  ... and {len(lines) - 20} more"] if len(lines) > 20
                                   else []))


@dataclasses.dataclass
class ImportReport:
    """What was assigned: (TFLite op label, Keras layer name) per weighted op."""

    assignments: list[tuple[str, str]]
    weights_assigned: int


def import_tflite_weights(model: keras.Model, graph: TFLiteGraph, output_map: dict[str, str]
                          ) -> ImportReport:
    """Assigns every weight of ``graph`` to ``model``; raises :class:`WeightImportError` if the
    structures differ anywhere, naming the ops and layers concerned.

    Args:
      model: a Keras functional model with one input and a dict (or single) output.
      graph: the parsed TFLite file.
      output_map: TFLite output tensor name -> output key of ``model`` (e.g.
        ``{"Identity": "landmarks", ...}``).
    """
    tflite_nodes, tflite_input, tflite_outputs = nodes_from_tflite(graph)
    keras_nodes, keras_input, keras_outputs = nodes_from_keras(model)
    unknown = sorted(set(tflite_outputs.values()) - set(output_map))
    if unknown or sorted(output_map.values()) != sorted(keras_outputs.values()):
        raise WeightImportError(
            f"outputs differ: the file has {sorted(tflite_outputs.values())}, the map covers "
            f"{sorted(output_map)} -> {sorted(output_map.values())}, the model has "
            f"{sorted(keras_outputs.values())}")
    tflite_labels = {t: output_map[name] for t, name in tflite_outputs.items()}
    tflite_keys = structural_keys(tflite_nodes, tflite_input, tflite_labels)
    keras_keys = structural_keys(keras_nodes, keras_input, keras_outputs)

    keras_by_key = collections.defaultdict(list)
    for node, key in zip(keras_nodes, keras_keys):
        keras_by_key[key].append(node)
    tflite_by_key = collections.defaultdict(list)
    for node, key in zip(tflite_nodes, tflite_keys):
        tflite_by_key[key].append(node)

    keras_by_key, tflite_by_key = dict(keras_by_key), dict(tflite_by_key)
    ambiguous = [k for k in tflite_by_key
                 if len(tflite_by_key[k]) > 1 or len(keras_by_key.get(k, ())) > 1]
    if ambiguous:
        labels = [n.label for k in ambiguous for n in tflite_by_key[k]]
        raise WeightImportError(f"structurally indistinguishable ops, cannot match: {labels}")
    tflite_unmatched = [n for n, k in zip(tflite_nodes, tflite_keys) if k not in keras_by_key]
    keras_unmatched = [n for n, k in zip(keras_nodes, keras_keys) if k not in tflite_by_key]
    if tflite_unmatched or keras_unmatched:
        raise WeightImportError(
            f"{model.name} does not have the file's structure ({len(tflite_unmatched)} ops of the "
            f"file and {len(keras_unmatched)} of the model unmatched); where they part:\n"
            + _describe_mismatch(tflite_nodes, tflite_input, keras_nodes, keras_input))

    assignments = []
    assigned = 0
    for node, key in zip(tflite_nodes, tflite_keys):
        if not node.weights:
            continue
        target = keras_by_key[key][0]
        layer = target.layer
        kernel = np.transpose(node.weights[0], (1, 2, 3, 0))
        values = [kernel] + list(node.weights[1:])
        expected = [tuple(v.shape) for v in layer.weights]
        if [tuple(v.shape) for v in values] != expected:
            raise WeightImportError(f"{node.label}: weights {[v.shape for v in values]} do not fit "
                                    f"layer {layer.name} {expected}")
        layer.set_weights(values)
        assignments.append((node.label, layer.name))
        assigned += sum(int(v.size) for v in values)
    unset = [layer.name for layer in model.layers if layer.weights
             and layer.name not in {name for _, name in assignments}]
    if unset:
        raise WeightImportError(f"layers left without weights: {unset}")
    if assigned != model.count_params():
        raise WeightImportError(f"assigned {assigned} values but {model.name} has "
                                f"{model.count_params()} parameters")
    return ImportReport(assignments, assigned)


# --------------------------------------------------------------------------------------------
# Google's two files and our networks for them.

def _build_for(name: str) -> tuple[keras.Model, dict[str, str]]:
    if name == "full":
        return build_landmark_model(LandmarkModelConfig("full"), name="mediapipe_full"), \
            LANDMARK_OUTPUTS
    if name == "detector":
        return build_detector_model(name="mediapipe_detector"), DETECTOR_OUTPUTS
    raise ValueError(f"unknown MediaPipe model {name!r}; known: ['detector', 'full']")


def load_mediapipe_model(name: str, tflite_path: os.PathLike | None = None,
                         cache_dir: os.PathLike | None = None) -> keras.Model:
    """Our Keras network for Google's ``full`` landmark or ``detector`` model, with its weights.

    Args:
      name: ``"full"`` or ``"detector"``.
      tflite_path: a local copy of Google's file; it must have the published sha256. Default:
        fetched once through the package registry into ``cache_dir``.
    """
    model_file = files.get_model_file(name)
    if tflite_path is None:
        tflite_path = files.fetch_model_file(name, cache_dir)
    else:
        files.verify_model_file(tflite_path, model_file)
    model, output_map = _build_for(name)
    report = import_tflite_weights(model, read_tflite_graph(tflite_path), output_map)
    _LOG.info("imported %d weights of %s into %d layers", report.weights_assigned,
              model_file.filename, len(report.assignments))
    return model


@dataclasses.dataclass
class TransferReport:
    loaded: list[str]
    fresh: list[str]


def _per_keypoint_width(source_shape, target_shape, source_count: int, target_count: int
                        ) -> int | None:
    """Channels per keypoint of a head whose output channels are ``count x width`` in both
    models (same other dimensions), else None."""
    if len(source_shape) != len(target_shape) or source_shape[:-1] != target_shape[:-1]:
        return None
    width = source_shape[-1] // source_count if source_shape[-1] % source_count == 0 else None
    if width is None or target_shape[-1] != target_count * width:
        return None
    return width


def _gather_head(donor_weights, fresh_weights, width: int, keypoint_sources) -> list:
    """The target head's weights: channels of each keypoint copied from the donor's keypoint
    ``keypoint_sources[i]`` (``width`` channels each, keypoint-major), or averaged over several
    donor keypoints when it is a tuple, fresh where None. The heads are linear in their weights,
    so an average of weights predicts the average of those keypoints."""
    out = []
    for donor, fresh in zip(donor_weights, fresh_weights):
        value = np.array(fresh)
        for index, source in enumerate(keypoint_sources):
            if source is None:
                continue
            sources = source if isinstance(source, tuple) else (source,)
            value[..., index * width:(index + 1) * width] = np.mean(
                [donor[..., i * width:(i + 1) * width] for i in sources], axis=0)
        out.append(value)
    return out


def keypoint_sources_of(topology: Topology) -> list:
    """For each keypoint of ``topology``, the BlazePose landmark(s) its heads start from: its
    counterpart (``to_blazepose``), else the counterparts of the nearest keypoints along the
    skeleton's edges (LSP's neck starts at the mid-shoulder), as a tuple to average; None when
    no keypoint of its skeleton component has a counterpart."""
    neighbours: dict[int, set] = collections.defaultdict(set)
    for a, b in topology.edges:
        neighbours[a].add(b)
        neighbours[b].add(a)
    sources: list = []
    for index, counterpart in enumerate(topology.to_blazepose):
        if counterpart is not None:
            sources.append(counterpart)
            continue
        seen, frontier, found = {index}, {index}, ()
        while frontier and not found:
            frontier = {n for k in frontier for n in neighbours[k]} - seen
            seen |= frontier
            found = tuple(sorted(topology.to_blazepose[k] for k in frontier
                                 if topology.to_blazepose[k] is not None))
        sources.append(found or None)
    return sources


def transfer_weights(source: keras.Model, target: keras.Model,
                     keypoint_sources: Sequence[int | None] | None = None) -> TransferReport:
    """Copies weights layer by layer (same name, same shapes); other layers keep their init.

    This is how a pretrained Full network initialises a variant with another keypoint count:
    the trunk and decoder are loaded. With ``keypoint_sources`` (for each of the target's K
    keypoints, the index of the same body part among the source's landmarks, or None), the
    heads whose output channels are per keypoint (heatmap, landmarks, world landmarks, offsets)
    are loaded too, keypoint by keypoint: a 17-point COCO network then starts from Google's
    predictions of those 17 points, and only points without a counterpart start fresh.
    """
    loaded, fresh = [], []
    source_layers = {layer.name: layer for layer in source.layers}
    source_count = int(source.output["landmarks"].shape[1]) if keypoint_sources else 0
    for layer in target.layers:
        if not layer.weights:
            continue
        donor = source_layers.get(layer.name)
        donor_shapes = [tuple(w.shape) for w in donor.weights] if donor is not None else []
        shapes = [tuple(w.shape) for w in layer.weights]
        if donor is not None and donor_shapes == shapes:
            layer.set_weights(donor.get_weights())
            loaded.append(layer.name)
            continue
        widths = {_per_keypoint_width(a, b, source_count, len(keypoint_sources))
                  for a, b in zip(donor_shapes, shapes)} if keypoint_sources and donor_shapes \
            and len(donor_shapes) == len(shapes) else {None}
        if len(widths) == 1 and None not in widths:
            layer.set_weights(_gather_head(donor.get_weights(), layer.get_weights(),
                                           widths.pop(), keypoint_sources))
            loaded.append(layer.name)
        else:
            fresh.append(layer.name)
    if not loaded:
        raise WeightImportError(f"no layer of {target.name} matches {source.name} by name and "
                                "shape; wrong source model?")
    _LOG.info("initialised %s from %s: %d layers loaded, %d fresh: %s", target.name, source.name,
              len(loaded), len(fresh), fresh)
    return TransferReport(loaded, fresh)


def initialize_from(model: keras.Model, init_from: str,
                    cache_dir: os.PathLike | None = None,
                    topology: Topology | None = None) -> TransferReport:
    """``init_from``: ``mediapipe_full`` (Google's weights) or a path to a ``.keras`` file.

    ``topology``: the keypoints of ``model`` when they are not BlazePose's; from Google's
    weights, each keypoint's head channels then start from its BlazePose counterpart, or from
    the average of its skeleton neighbours' (:func:`keypoint_sources_of`,
    :func:`transfer_weights`)."""
    if init_from == "mediapipe_full":
        source = load_mediapipe_model("full", cache_dir=cache_dir)
    elif os.path.exists(init_from):
        source = keras.models.load_model(init_from, safe_mode=True, compile=False)
    else:
        raise ValueError(f"init_from {init_from!r} is neither 'mediapipe_full' nor an existing "
                         ".keras file")
    keypoint_sources = None
    if topology is not None and init_from == "mediapipe_full" and (
            topology.name != BLAZEPOSE_33.name):
        keypoint_sources = keypoint_sources_of(topology)
    return transfer_weights(source, model, keypoint_sources)
