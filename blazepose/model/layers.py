"""Custom Keras layers of the BlazePose networks, registered for ``safe_mode=True`` loading."""

from __future__ import annotations

import keras
import tensorflow as tf

PACKAGE = "blazepose"


@keras.saving.register_keras_serializable(package=PACKAGE)
class StopGradient(keras.layers.Layer):
    """Identity in the forward pass; blocks gradients flowing back into its input.

    Used where the regression branch reads the shared trunk, so that (as in the BlazePose paper)
    training the regression heads does not change the features the heatmap heads rely on.
    """

    def call(self, inputs):
        return tf.stop_gradient(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package=PACKAGE)
class DepthToSpace(keras.layers.Layer):
    """TensorFlow's (and TFLite's) ``DEPTH_TO_SPACE`` for NHWC tensors, as a serialisable layer.

    Maps ``[N, H, W, C]`` to ``[N, b*H, b*W, C / b^2]`` with block size ``b``, in TensorFlow's
    "DCR" order: output pixel ``(b*y + i, b*x + j)``, channel ``c`` is input pixel ``(y, x)``,
    channel ``(i*b + j) * (C / b^2) + c``. The dtype is unchanged; there are no weights.

    Args:
      block_size: ``b``, an integer >= 2.

    Raises:
      ValueError: a block size below 2, or (when the layer is built) a channel count that is not a
        multiple of ``b^2``.
    """

    def __init__(self, block_size: int = 2, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(block_size, int) or isinstance(block_size, bool) or block_size < 2:
            raise ValueError(f"block_size must be an integer >= 2, got {block_size!r}")
        self.block_size = block_size

    def build(self, input_shape):
        channels = input_shape[-1]
        if len(input_shape) != 4:
            raise ValueError(f"DepthToSpace expects [N, H, W, C] inputs, got shape {input_shape}")
        if channels is not None and channels % (self.block_size**2):
            raise ValueError(f"DepthToSpace with block_size {self.block_size} needs channels "
                             f"divisible by {self.block_size**2}, got {channels}")
        super().build(input_shape)

    def call(self, inputs):
        return tf.nn.depth_to_space(inputs, self.block_size, data_format="NHWC")

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        scale = self.block_size

        def times(size):
            return None if size is None else size * scale

        depth = None if channels is None else channels // (scale * scale)
        return (batch, times(height), times(width), depth)

    def get_config(self):
        config = super().get_config()
        config["block_size"] = self.block_size
        return config
