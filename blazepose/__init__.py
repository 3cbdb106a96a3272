"""BlazePose for TensorFlow 2: trainable, fine-tunable and deployable pose landmarks.

``blazepose.build_model`` (:func:`blazepose.model.build_model`) is the entry point to the
networks; ``blazepose.topology`` defines the keypoint sets. Importing this package loads neither
TensorFlow nor Keras: the numpy-only modules (``topology``, ``keypoints``, ``analysis``,
``synthesis``) stay light, and the networks load on first use of ``build_model``. Importing
``blazepose.model`` registers the custom Keras layers, so that
``keras.models.load_model(path, safe_mode=True)`` can load files the project wrote.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"

_MODEL_NAMES = ("LandmarkModelConfig", "StopGradient", "build_model")


def __getattr__(name: str):
    """``blazepose.build_model`` and friends, imported from :mod:`blazepose.model` on first
    use (PEP 562), so that ``import blazepose.topology`` stays free of TensorFlow."""
    if name in _MODEL_NAMES:
        from blazepose import model

        return getattr(model, name)
    raise AttributeError(f"module 'blazepose' has no attribute {name!r}")


__all__ = [*_MODEL_NAMES, "__version__"]
