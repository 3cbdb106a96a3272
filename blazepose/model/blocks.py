"""Building blocks shared by the landmark network and the detector (Keras functional style).

Each function takes a Keras tensor and layer-name prefix and returns a Keras tensor; every layer
gets a stable name derived from the prefix, so weight import and phase freezing can address it.
"""

from __future__ import annotations

from keras import layers

from blazepose.model.architecture import InvertedResidual


def conv1x1(x, filters: int, name: str, activation: str | None = None):
    """Pointwise convolution (linear unless ``activation`` is given)."""
    return layers.Conv2D(filters, 1, padding="valid", activation=activation, name=name)(x)


def depthwise(x, kernel: int, name: str, stride: int = 1, activation: str | None = "relu6",
              explicit_pad: bool | None = None):
    """Depthwise convolution.

    ``explicit_pad`` (default: ``stride == 2``) pads ``kernel // 2`` pixels on every side in a
    ``{name}_pad`` layer and then convolves VALID, as Google's files do for the encoders' stride-2
    layers. Without it the convolution uses TF's 'same' padding (asymmetric for stride 2).
    """
    if explicit_pad is None:
        explicit_pad = stride == 2
    if explicit_pad:
        x = layers.ZeroPadding2D(kernel // 2, name=f"{name}_pad")(x)
    return layers.DepthwiseConv2D(kernel, strides=stride, padding="valid" if explicit_pad else
                                  "same", activation=activation, name=name)(x)


def inverted_residual(x, block: InvertedResidual, name: str):
    """1x1 expand + ReLU6, depthwise kxk + ReLU6 (explicit padding at stride 2), linear 1x1
    projection, plus the input when the stride is 1 and the channels match."""
    shortcut = x
    x = conv1x1(x, block.expand, f"{name}_expand", "relu6")
    x = depthwise(x, block.kernel, f"{name}_dw", stride=block.stride)
    x = conv1x1(x, block.out, f"{name}_project")
    if block.stride == 1 and shortcut.shape[-1] == block.out:
        x = layers.Add(name=f"{name}_add")([x, shortcut])
    return x


def tap(x, channels: int, name: str, depthwise_activation: str | None = "relu6"):
    """Lateral tap: depthwise 3x3 (ReLU6 in the landmark model, linear in the detector), then
    1x1 convolution + ReLU6."""
    x = depthwise(x, 3, f"{name}_dw", activation=depthwise_activation)
    return conv1x1(x, channels, f"{name}_conv", "relu6")


def residual_block(x, name: str, depthwise_activation: str | None = "relu6"):
    """Depthwise 3x3, linear 1x1, add the block input, ReLU6."""
    y = depthwise(x, 3, f"{name}_dw", activation=depthwise_activation)
    y = conv1x1(y, x.shape[-1], f"{name}_conv")
    y = layers.Add(name=f"{name}_add")([x, y])
    return layers.Activation("relu6", name=f"{name}_relu6")(y)
