"""Shared test fixtures: Google's op-by-op graph dumps and matching descriptions of our models."""

import os
import pathlib
import re
import shutil

import keras
import numpy as np
import pytest
import tensorflow_datasets as tfds

import datasets_tfds

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _split_cpu_into_logical_devices(count: int = 2) -> None:
    """tf.distribute tests need several devices; split the CPU before TF initialises it."""
    import tensorflow as tf

    cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(
        cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(count)])


_split_cpu_into_logical_devices()

_ROOT = pathlib.Path(__file__).resolve().parents[1]


def _reference_dir() -> pathlib.Path | None:
    """``shared/reference`` beside the checkout (CI, developers) or $BLAZEPOSE_REFERENCE_DIR."""
    candidates = [_ROOT.parent / "shared" / "reference", _ROOT / "shared" / "reference"]
    if os.environ.get("BLAZEPOSE_REFERENCE_DIR"):
        candidates.insert(0, pathlib.Path(os.environ["BLAZEPOSE_REFERENCE_DIR"]))
    for candidate in candidates:
        if (candidate / "MEDIAPIPE_BLAZEPOSE.md").exists():
            return candidate
    return None


def parse_reference_conv_ops(path: pathlib.Path) -> list[tuple]:
    """(kind, stride, padding, activation, weight shapes) of each convolution in a graph dump.

    Weight shapes are TFLite's: conv ``[out, kh, kw, in]``, depthwise ``[1, kh, kw, C]``, bias.
    Padding is ``ANY`` for 1x1 kernels, where SAME and VALID are the same computation.
    """
    ops = []
    for line in path.read_text().splitlines():
        match = re.match(r"op\d+ (CONV_2D|DEPTHWISE_CONV_2D)\s+s(\d) (SAME|VALID)\s*(RELU6)?", line)
        if not match:
            continue
        kind, stride, padding, activation = match.groups()
        weights = re.findall(r"W:([0-9x]+)", line)
        shapes = tuple(tuple(int(v) for v in w.split("x")) for w in weights)
        if shapes[0][1] == shapes[0][2] == 1:
            padding = "ANY"
        ops.append((kind, int(stride), padding, activation or "NONE", shapes))
    return ops


def keras_conv_ops(model: keras.Model) -> list[tuple]:
    """The same description for a Keras model, kernels transposed to TFLite's layout.

    A sigmoid fused into a convolution counts as no activation: Google's files apply it as a
    separate LOGISTIC op.
    """
    ops = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            kind = "DEPTHWISE_CONV_2D"  # Keras kernel [kh, kw, C, 1] -> TFLite [1, kh, kw, C]
        elif isinstance(layer, keras.layers.Conv2D):
            kind = "CONV_2D"  # Keras kernel [kh, kw, in, out] -> TFLite [out, kh, kw, in]
        else:
            continue
        kernel = tuple(np.transpose(layer.kernel.numpy(), (3, 0, 1, 2)).shape)
        padding = "ANY" if kernel[1] == kernel[2] == 1 else layer.padding.upper()
        activation = {"relu6": "RELU6"}.get(layer.activation.__name__, "NONE")
        ops.append((kind, layer.strides[0], padding, activation, (kernel, tuple(layer.bias.shape))))
    return ops


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Tests marked ``web`` need Node.js and npm (``web(browser=True)``: also Chromium, at
    ``$CHROMIUM`` or /usr/bin/chromium). Without them such a test is skipped and says how to
    install them, or fails when ``BLAZEPOSE_REQUIRE_WEB=1`` (CI, which installs them)."""
    marker = item.get_closest_marker("web")
    if marker is None:
        return
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if marker.kwargs.get("browser") and not os.path.exists(
            os.environ.get("CHROMIUM", "/usr/bin/chromium")):
        missing.append("chromium")
    if missing:
        message = (f"needs {', '.join(missing)} (TF.js and the web page): run "
                   "`bash .ci/install_web_deps.sh` to install them")
        if os.environ.get("BLAZEPOSE_REQUIRE_WEB") == "1":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def reference_graph():
    """Returns a function: graph dump name -> its parsed convolutions (skips if absent).

    The dumps live in the project's shared reference folder, which CI places beside the
    checkout; a bare clone without it cannot run these structural comparisons.
    """
    directory = _reference_dir()

    def load(name: str) -> list[tuple]:
        if directory is None:
            pytest.skip("shared/reference (Google's graph dumps) is not beside this checkout; "
                        "set BLAZEPOSE_REFERENCE_DIR")
        return parse_reference_conv_ops(directory / name)

    return load


@pytest.fixture(scope="session")
def model_conv_ops():
    """:func:`keras_conv_ops`, for tests comparing a model with :func:`reference_graph`."""
    return keras_conv_ops


@pytest.fixture(scope="session")
def tfds_dir(tmp_path_factory) -> str:
    """A TFDS data directory with ``synthetic_pose/tiny`` prepared (once per session)."""
    datasets_tfds.register_builders()
    directory = tmp_path_factory.mktemp("tfds")
    tfds.builder("synthetic_pose/tiny", data_dir=str(directory)).download_and_prepare()
    return str(directory)
