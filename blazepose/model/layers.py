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
