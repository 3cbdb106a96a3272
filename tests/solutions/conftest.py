"""Fixtures of the ``blazepose.solutions`` tests: real media (fetched once from PyPI wheels) and
the legacy MediaPipe interpreter.

The legacy side environment (mediapipe 0.10.21) is made once per cache folder by
:func:`blazepose.mediapipe_runtime.environment.ensure_python` (a minute or two from PyPI) and
reused; ``$BLAZEPOSE_LEGACY_MEDIAPIPE_PYTHON`` points the tests at a ready interpreter instead.
"""

import os
import pathlib

import pytest

from blazepose.mediapipe_runtime import environment, parity

LEGACY_PYTHON_VARIABLE = "BLAZEPOSE_LEGACY_MEDIAPIPE_PYTHON"


@pytest.fixture(scope="session")
def legacy_python() -> pathlib.Path:
    """The interpreter of an environment with mediapipe 0.10.21 (``mp.solutions.pose``)."""
    if os.environ.get(LEGACY_PYTHON_VARIABLE):
        return pathlib.Path(os.environ[LEGACY_PYTHON_VARIABLE])
    return environment.ensure_python("legacy")


@pytest.fixture(scope="session")
def photos():
    """``(name, uint8 RGB)``: photos, a rotated photo, a blank image and video stills."""
    return parity.legacy_images()


@pytest.fixture(scope="session")
def clip():
    """``(name, uint8 RGB)``: 50 consecutive 1768x994 frames of the sports2d clip."""
    return parity.legacy_clip()
