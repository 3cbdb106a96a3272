"""BlazePose for TensorFlow 2: trainable, fine-tunable and deployable pose landmarks.

``blazepose.build_model`` is the entry point to the networks; ``blazepose.topology`` defines the
keypoint sets. Importing the package registers its custom Keras layers, so that
``keras.models.load_model(path, safe_mode=True)`` can load files it wrote.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from blazepose import topology  # noqa: E402
from blazepose.model import LandmarkModelConfig, StopGradient, build_landmark_model  # noqa: E402

__version__ = "0.1.0"


def build_model(variant: str = "full", num_keypoints: int = topology.NUM_BLAZEPOSE_LANDMARKS, *,
                num_extra_landmarks: int | None = None, offset_head: bool = False,
                stop_regression_gradient: bool = False, name: str | None = None):
    """Builds a BlazePose landmark network (a Keras 3 functional model).

    Args:
      variant: ``"full"`` (layer for layer Google's BlazePose Full, 3.17 M parameters at K=33),
        ``"lite"`` or ``"heavy"`` (untrained re-scalings, see ``blazepose.model.architecture``).
      num_keypoints: K, the body keypoints the heads predict.
      num_extra_landmarks: outputs after the K keypoints; default 6 for K=33 (Google's two
        auxiliary ROI points and four unused), else 0.
      offset_head: add an ``offsets`` output ``[N, 64, 64, 2L]``.
      stop_regression_gradient: the regression branch does not train the shared trunk.
      name: the Keras model's name.

    Returns:
      A ``keras.Model`` taking float32 ``[N, 256, 256, 3]`` RGB in [0, 1] and returning a dict
      ``landmarks [N, L, 5]``, ``world_landmarks [N, L, 3]``, ``pose_flag [N, 1]``,
      ``heatmap [N, 64, 64, L]``, ``segmentation [N, 256, 256, 1]`` (L = K + extra).

    Raises:
      ValueError: unknown variant or a keypoint count below 1.
    """
    config = LandmarkModelConfig(variant=variant, num_keypoints=num_keypoints,
                                 num_extra_landmarks=num_extra_landmarks, offset_head=offset_head,
                                 stop_regression_gradient=stop_regression_gradient)
    return build_landmark_model(config, name=name)


__all__ = ["LandmarkModelConfig", "StopGradient", "build_model", "topology", "__version__"]
