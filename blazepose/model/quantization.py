"""Quantisation-aware copies of the BlazePose networks (simulated int8, TFLite's scheme).

:func:`quantize_model` rebuilds a functional Keras model with every convolution, addition and
activation replaced by a twin that rounds what TFLite's full-integer kernels round. It is used
and measured for the landmark network; the person detector's layers are covered too (input
range ``(-1, 1)``), but its outputs are concatenated heads whose int8 export is not measured:

* weights: per output channel, symmetric, narrow range ``[-127, 127]``, from the current weights
  at every call (TFLite's int8 convolution scheme);
* activations: per tensor, 8 bits over a range ``[min, max]`` that always contains 0, tracked as
  an exponential moving average of the batch extremes while training (``training=True``) and
  frozen otherwise. The network input is fixed to ``[0, 1]`` (a uint8 image divided by 255; the
  detector's ``[-1, 1]``), a ``sigmoid`` output to ``[0, 1]``, a ``relu6`` output's upper end
  at most 6.

Known gap: a bilinear resize's output is rounded to its input's grid in TFLite but not here
(the decoder's and segmentation head's upsampling), and TFLite's integer re-scaling rounds
differently from float: per layer the two agree within one int8 step.

The rounding is TensorFlow's ``FakeQuantWithMinMaxVars`` ops (straight-through gradients), the
pattern TFLite's converter turns into int8 kernels: a SavedModel of a quantised model converts
to a full-integer ``.tflite`` with no calibration (:mod:`blazepose.export.converters`).

Placement: one range per tensor TFLite stores. A convolution's range is after its activation
(ReLU/ReLU6 fuse into the kernel); an addition followed only by a ReLU6 layer leaves its range to
that layer (TFLite fuses them); pads, poolings, reshapes and resizes keep their input's range.
Layers named in ``keep_float`` are not rounded at all (weights nor output): the converter leaves
them in float32 with a DEQUANTIZE before them (mixed precision).

Weights: every quantised layer holds the float layer's weights first, in the same order, then
its range variables, so :func:`copy_float_weights` moves weights between a float network and
its quantised twin both ways by layer name.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable

import keras
import tensorflow as tf

from blazepose.model.layers import PACKAGE

NUM_BITS = 8
EMA_DECAY = 0.99
"""Weight of the old range when a training batch updates it, once 100 batches were seen (the
first ones are averaged with equal weights, so a calibration pass of a few batches gives their
mean extremes). tfmot uses 0.999 for long runs; a fine-tune of a few hundred steps needs 0.99."""

INPUT_RANGE = (0.0, 1.0)


def _fake_quant(x, low, high, narrow_range=False):
    return tf.quantization.fake_quant_with_min_max_vars(
        x, low, high, num_bits=NUM_BITS, narrow_range=narrow_range)


def quantize_weights_per_channel(kernel, depthwise: bool = False):
    """``kernel`` rounded per output channel to ``[-127, 127]`` steps of ``max|w| / 127``.

    ``kernel``: ``[kh, kw, in, out]`` (Conv2D) or ``[kh, kw, in, 1]`` (DepthwiseConv2D, whose
    output channels are its input channels). Returns the same shape and dtype.
    """
    if depthwise:  # [kh, kw, C, 1] -> [kh, kw, 1, C]: the channel last, as the op needs
        shape = tf.shape(kernel)
        flat = tf.reshape(kernel, tf.stack([shape[0], shape[1], 1, shape[2] * shape[3]]))
        return tf.reshape(quantize_weights_per_channel(flat), shape)
    limit = tf.maximum(tf.reduce_max(tf.abs(kernel), axis=[0, 1, 2]), 1e-8)
    return tf.quantization.fake_quant_with_min_max_vars_per_channel(
        kernel, -limit, limit, num_bits=NUM_BITS, narrow_range=True)


class _RangeMixin:
    """An activation range ``[range_min, range_max]`` (non-trainable, averaged across replicas)
    tracked by an exponential moving average of batch extremes in training."""

    def _add_range(self, fixed_range=None, upper_limit=None):
        self.fixed_range = None if fixed_range is None else tuple(float(v) for v in fixed_range)
        self.upper_limit = upper_limit
        self.range_min = self.add_weight(shape=(), name="range_min", initializer="zeros",
                                         trainable=False, aggregation="mean")
        self.range_max = self.add_weight(shape=(), name="range_max", initializer="zeros",
                                         trainable=False, aggregation="mean")
        # How many training batches updated the range (0: never set).
        self.range_seen = self.add_weight(shape=(), name="range_seen", initializer="zeros",
                                          trainable=False, aggregation="mean")

    def _quantize_output(self, x, training):
        if self.fixed_range is not None:
            return _fake_quant(x, *self.fixed_range)
        if training:
            low = tf.minimum(tf.reduce_min(x), 0.0)
            high = tf.maximum(tf.reduce_max(x), 0.0)
            if self.upper_limit is not None:
                high = tf.minimum(high, self.upper_limit)
            seen = self.range_seen
            decay = tf.minimum(seen / (seen + 1.0), EMA_DECAY)
            self.range_min.assign(decay * self.range_min + (1.0 - decay) * low)
            self.range_max.assign(decay * self.range_max + (1.0 - decay) * high)
            self.range_seen.assign(seen + 1.0)
        # A range never set (a layer no training batch reached) passes values unrounded.
        high = tf.maximum(self.range_max, self.range_min + 1e-6)
        return _fake_quant(x, self.range_min, high)

    # Keras' convolutions save only their kernel and bias; these save every weight, in order.
    def save_own_variables(self, store):
        for index, variable in enumerate(self.weights):
            store[str(index)] = variable

    def load_own_variables(self, store):
        if len(store.keys()) != len(self.weights):
            raise ValueError(f"{self.name}: {len(store.keys())} saved weights, the layer has "
                             f"{len(self.weights)}")
        for index, variable in enumerate(self.weights):
            variable.assign(store[str(index)])


_FUSED = {None: None, "linear": None, "relu": None, "relu6": 6.0}


def _activation_name(activation) -> str | None:
    name = activation if isinstance(activation, str) or activation is None else getattr(
        activation, "__name__", str(activation))
    return None if name == "linear" else name


@keras.saving.register_keras_serializable(package=PACKAGE)
class QuantizedConv2D(_RangeMixin, keras.layers.Conv2D):
    """Conv2D with per-channel int8 weights and an int8 output range. Activations other than
    ReLU/ReLU6 (the detector's and pose flag's sigmoid) get a range before them and the fixed
    ``[0, 1]`` after them (TFLite's LOGISTIC output)."""

    def __init__(self, *args, quantize_input=None, fixed_range=None, upper_limit=None,
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.quantize_input = None if quantize_input is None else tuple(quantize_input)
        self._fixed, self._upper = fixed_range, upper_limit

    def build(self, input_shape):
        super().build(input_shape)
        activation = _activation_name(self.activation)
        self._pre_activation = activation not in _FUSED
        upper = self._upper if self._upper is not None else _FUSED.get(activation)
        if self._pre_activation:
            self._add_range(self._fixed, self._upper)
            self._output_range = (0.0, 1.0) if activation == "sigmoid" else None
        else:
            self._add_range(self._fixed, upper)

    def call(self, inputs, training=None):
        if self.quantize_input is not None:
            inputs = _fake_quant(inputs, *self.quantize_input)
        kernel = quantize_weights_per_channel(self.kernel)
        outputs = tf.nn.conv2d(inputs, kernel, strides=self.strides,
                               padding=self.padding.upper(), dilations=self.dilation_rate)
        if self.use_bias:
            outputs = tf.nn.bias_add(outputs, self.bias)
        if self._pre_activation:
            outputs = self._quantize_output(outputs, training)
            outputs = self.activation(outputs)
            if self._output_range is not None:
                outputs = _fake_quant(outputs, *self._output_range)
            return outputs
        return self._quantize_output(self.activation(outputs), training)

    def get_config(self):
        return {**super().get_config(), "quantize_input": self.quantize_input,
                "fixed_range": self._fixed, "upper_limit": self._upper}


@keras.saving.register_keras_serializable(package=PACKAGE)
class QuantizedDepthwiseConv2D(_RangeMixin, keras.layers.DepthwiseConv2D):
    """DepthwiseConv2D with per-channel int8 weights and an int8 output range (ReLU/ReLU6 or
    linear only, as in both BlazePose networks)."""

    def __init__(self, *args, fixed_range=None, upper_limit=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._fixed, self._upper = fixed_range, upper_limit

    def build(self, input_shape):
        super().build(input_shape)
        activation = _activation_name(self.activation)
        if activation not in _FUSED:
            raise ValueError(f"{self.name}: no quantised depthwise convolution with a "
                             f"{activation} activation")
        self._add_range(self._fixed, self._upper if self._upper is not None
                        else _FUSED[activation])

    def call(self, inputs, training=None):
        kernel = quantize_weights_per_channel(self.kernel, depthwise=True)
        outputs = tf.nn.depthwise_conv2d(inputs, kernel, strides=(1, *self.strides, 1),
                                         padding=self.padding.upper(),
                                         dilations=self.dilation_rate)
        if self.use_bias:
            outputs = tf.nn.bias_add(outputs, self.bias)
        return self._quantize_output(self.activation(outputs), training)

    def get_config(self):
        return {**super().get_config(), "fixed_range": self._fixed, "upper_limit": self._upper}


@keras.saving.register_keras_serializable(package=PACKAGE)
class QuantizedAdd(_RangeMixin, keras.layers.Add):
    """Add with an int8 output range (or none, ``fused``, when a ReLU6 layer follows)."""

    def __init__(self, *args, fused=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fused = bool(fused)

    def build(self, input_shape):
        super().build(input_shape)
        self._add_range()

    def call(self, inputs, training=None):
        outputs = super().call(inputs)
        return outputs if self.fused else self._quantize_output(outputs, training)

    def get_config(self):
        return {**super().get_config(), "fused": self.fused}


@keras.saving.register_keras_serializable(package=PACKAGE)
class QuantizedActivation(_RangeMixin, keras.layers.Activation):
    """Activation layer with an int8 output range (ReLU6's upper end at most 6)."""

    def build(self, input_shape):
        super().build(input_shape)
        activation = _activation_name(self.activation)
        fixed = (0.0, 1.0) if activation == "sigmoid" else None
        self._add_range(fixed, _FUSED.get(activation))

    def call(self, inputs, training=None):
        return self._quantize_output(super().call(inputs), training)


QUANTIZED_TYPES = (QuantizedConv2D, QuantizedDepthwiseConv2D, QuantizedAdd, QuantizedActivation)


def _consumers(model: keras.Model) -> dict[str, list[keras.layers.Layer]]:
    """Layer name -> the layers that read its output."""
    readers: dict[str, list] = {layer.name: [] for layer in model.layers}
    for layer in model.layers:
        for node in layer._inbound_nodes:  # noqa: SLF001 (Keras has no public graph walk)
            for parent in node.parent_nodes:
                readers[parent.operation.name].append(layer)
    return readers


def _reads_input(layer, input_names: set[str]) -> bool:
    """Whether ``layer`` reads a model input, directly or through zero padding."""
    for node in layer._inbound_nodes:  # noqa: SLF001
        for parent in node.parent_nodes:
            if parent.operation.name in input_names:
                return True
            if (isinstance(parent.operation, keras.layers.ZeroPadding2D)
                    and _reads_input(parent.operation, input_names)):
                return True
    return False


def _fuses_into_reader(layer, readers: dict, keep_float: set[str]) -> bool:
    """Whether ``layer``'s only reader is a ReLU/ReLU6 layer TFLite fuses into it."""
    reader = readers[layer.name]
    return ([type(r) for r in reader] == [keras.layers.Activation]
            and _activation_name(reader[0].activation) in ("relu", "relu6")
            and reader[0].name not in keep_float)


def _quantized_twin(layer, keep_float: set[str], readers: dict, input_names: set[str],
                    input_range: tuple[float, float]):
    """A new layer for ``layer`` in the quantised network (a plain copy where nothing is
    rounded)."""
    config = layer.get_config()
    kind = type(layer)
    if layer.name in keep_float:
        return kind.from_config(config)
    if kind is keras.layers.Conv2D:
        if _reads_input(layer, input_names):
            config["quantize_input"] = input_range
        return QuantizedConv2D.from_config(config)
    if kind is keras.layers.DepthwiseConv2D:
        return QuantizedDepthwiseConv2D.from_config(config)
    if kind is keras.layers.Add:
        return QuantizedAdd.from_config(
            {**config, "fused": _fuses_into_reader(layer, readers, keep_float)})
    if kind is keras.layers.Activation:
        return QuantizedActivation.from_config(config)
    if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.Add,
                          keras.layers.Activation, keras.layers.Dense)):
        raise ValueError(f"{layer.name}: no quantised twin for {kind.__name__}")
    return kind.from_config(config)


def kept_in_float(model: keras.Model, patterns: Iterable[str]) -> set[str]:
    """The names of ``model``'s layers that match a ``keep_float`` entry (a layer name or an
    ``fnmatch`` pattern such as ``reg*``). Raises ValueError naming an entry that matches none."""
    names = [layer.name for layer in model.layers]
    kept, unknown = set(), []
    for pattern in patterns:
        matched = fnmatch.filter(names, pattern)
        if not matched:
            unknown.append(pattern)
        kept.update(matched)
    if unknown:
        raise ValueError(f"keep_float: {model.name} has no layer named {', '.join(unknown)}")
    return kept


def quantize_model(model: keras.Model, keep_float: Iterable[str] = (),
                   copy_weights: bool = True,
                   input_range: tuple[float, float] = INPUT_RANGE) -> keras.Model:
    """The quantisation-aware twin of a functional BlazePose network (see the module docstring).

    Args:
      model: the float network (landmark network or detector), input float32 ``[N, H, W, 3]``
        in ``[0, 1]``.
      keep_float: layers left in float32 (weights and output): names or ``fnmatch``
        patterns (``reg*``: the regression branch), each matching at least one layer.
      copy_weights: start from ``model``'s weights (else fresh initial weights).
      input_range: the input's fixed range: ``(0, 1)`` for the landmark network (a uint8 image
        / 255), ``(-1, 1)`` for the person detector.

    Returns:
      A functional model with the same name, inputs, outputs and layer names.

    Raises:
      ValueError: a ``keep_float`` name that is no layer of ``model``, or a layer the scheme
        does not cover.
    """
    keep_float = kept_in_float(model, keep_float)
    readers = _consumers(model)
    input_names = {tensor._keras_history.operation.name for tensor in model.inputs}  # noqa: SLF001

    def clone(layer):
        return _quantized_twin(layer, keep_float, readers, input_names, tuple(input_range))

    quantized = keras.models.clone_model(model, clone_function=clone)
    if copy_weights:
        copy_float_weights(model, quantized)
    return quantized


_FLOAT_TYPES = {QuantizedConv2D: keras.layers.Conv2D,
                QuantizedDepthwiseConv2D: keras.layers.DepthwiseConv2D,
                QuantizedAdd: keras.layers.Add, QuantizedActivation: keras.layers.Activation}
_QUANTIZATION_KEYS = ("quantize_input", "fixed_range", "upper_limit", "fused")


def float_twin(model: keras.Model) -> keras.Model:
    """The float network of a quantisation-aware one: the same layers and float weights, no
    rounding (what its checkpoint computes in float32)."""

    def clone(layer):
        config = layer.get_config()
        kind = type(layer)
        if kind in _FLOAT_TYPES:
            config = {k: v for k, v in config.items() if k not in _QUANTIZATION_KEYS}
            kind = _FLOAT_TYPES[kind]
        return kind.from_config(config)

    twin = keras.models.clone_model(model, clone_function=clone)
    copy_float_weights(model, twin)
    return twin


def copy_float_weights(source: keras.Model, target: keras.Model) -> list[str]:
    """Copies the float weights of every layer, by name, between a network and its quantised
    twin (either way); range variables are left as they are. Returns the layers copied.

    Raises:
      ValueError: a layer with weights that the other model lacks, or whose float weights
        differ in shape (the two are not the same network).
    """
    source_layers = {layer.name: layer for layer in source.layers}
    copied, problems = [], []
    for layer in target.layers:
        count = len(_float_weights(layer))
        if not count:
            continue
        donor = source_layers.get(layer.name)
        if donor is None:
            problems.append(f"{layer.name}: missing in {source.name}")
            continue
        theirs, ours = _float_weights(donor), _float_weights(layer)
        shapes = [tuple(w.shape) for w in theirs], [tuple(w.shape) for w in ours]
        if shapes[0] != shapes[1]:
            problems.append(f"{layer.name}: {shapes[0]} in {source.name}, {shapes[1]} here")
            continue
        for mine, value in zip(ours, theirs):
            mine.assign(value)
        copied.append(layer.name)
    if problems:
        raise ValueError(f"{source.name} and {target.name} are not the same network: "
                         + "; ".join(problems[:5]) + (" ..." if len(problems) > 5 else ""))
    return copied


def _float_weights(layer) -> list:
    ranges = {"range_min", "range_max", "range_seen"}
    return [w for w in layer.weights if w.name.split("/")[-1].split(":")[0] not in ranges]


def calibrate(model: keras.Model, batches: Iterable) -> int:
    """Sets every activation range of ``model`` from ``batches`` (float32 images
    ``[N, H, W, 3]`` in [0, 1]): the mean of the batches' extremes, as if they were the first
    training batches. Weights do not change. Returns the number of batches."""
    count = 0

    @tf.function
    def observe(images):
        model(images, training=True)

    for images in batches:
        observe(tf.convert_to_tensor(images, tf.float32))
        count += 1
    unset = [layer.name for layer in model.layers if isinstance(layer, QUANTIZED_TYPES)
             and getattr(layer, "range_seen", None) is not None and layer.fixed_range is None
             and not getattr(layer, "fused", False) and float(layer.range_seen.numpy()) == 0.0]
    if unset:
        raise ValueError(f"calibration set no range for {', '.join(unset[:5])}")
    return count


def layer_errors(float_model: keras.Model, quantized: keras.Model, images) -> list[dict]:
    """Per quantised layer, how far its output in ``quantized`` is from the same layer's in
    ``float_model`` (its float twin) on ``images`` (float32 ``[N, H, W, 3]`` in [0, 1]),
    worst first.

    Each entry: ``layer``; ``relative_error``: RMS of the difference over RMS of the float
    output (the error accumulated up to that layer); ``step``: the layer's int8 step,
    ``(max - min) / 255`` of its range, over the float output's RMS (its own rounding);
    ``range``: ``[min, max]``.
    """
    names = [layer.name for layer in quantized.layers if isinstance(layer, QUANTIZED_TYPES)
             and not getattr(layer, "fused", False)]
    taps = {}
    for model in (float_model, quantized):
        outputs = [model.get_layer(name).output for name in names]
        taps[model is quantized] = keras.Model(model.inputs, outputs)
    images = tf.convert_to_tensor(images, tf.float32)
    ours = taps[True](images, training=False)
    theirs = taps[False](images, training=False)
    rows = []
    for name, mine, reference in zip(names, ours, theirs):
        reference = tf.cast(reference, tf.float32)
        scale = float(tf.sqrt(tf.reduce_mean(tf.square(reference)))) or 1.0
        error = float(tf.sqrt(tf.reduce_mean(tf.square(tf.cast(mine, tf.float32) - reference))))
        layer = quantized.get_layer(name)
        low, high = (layer.fixed_range if layer.fixed_range is not None else
                     (float(layer.range_min.numpy()), float(layer.range_max.numpy())))
        rows.append({"layer": name, "relative_error": round(error / scale, 4),
                     "step": round((high - low) / 255.0 / scale, 4),
                     "range": [round(low, 4), round(high, 4)]})
    return sorted(rows, key=lambda row: -row["relative_error"])


def float_layers(model: keras.Model) -> list[str]:
    """The convolutions, additions and activations of a quantisation-aware ``model`` left in
    float32 (its ``keep_float`` layers); empty for a full-integer network."""
    kinds = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.Add,
             keras.layers.Activation)
    return [layer.name for layer in model.layers
            if isinstance(layer, kinds) and not isinstance(layer, QUANTIZED_TYPES)]


def is_quantized(model: keras.Model) -> bool:
    """Whether ``model`` has quantisation-aware layers."""
    return any(isinstance(layer, QUANTIZED_TYPES) for layer in model.layers)


def range_report(model: keras.Model) -> dict[str, tuple[float, float]]:
    """Layer name -> its tracked ``(min, max)`` output range (quantised layers only)."""
    report = {}
    for layer in model.layers:
        if isinstance(layer, QUANTIZED_TYPES) and getattr(layer, "range_min", None) is not None:
            report[layer.name] = (float(layer.range_min.numpy()), float(layer.range_max.numpy()))
    return report
