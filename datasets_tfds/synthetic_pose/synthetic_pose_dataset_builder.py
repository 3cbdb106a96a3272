"""synthetic_pose: procedurally rendered people in BlazePose's 33-landmark layout (no download).

Image configs yield the shared per-person layout of ``datasets_tfds.common`` (``pose_features``);
the ``exercise_sequences`` config yields whole exercise recordings as landmark tracks with known
repetition counts. See README.md beside this file.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

from blazepose.synthesis.exercise import EXERCISES
from blazepose.synthesis.scene import render_scene
from blazepose.synthesis.sequences import FACINGS, generate_sequence
from blazepose.topology import BLAZEPOSE_33
from datasets_tfds.common import pose_example, pose_features
from datasets_tfds.pose_builder import PoseBuilder

_SPLIT_CODES = {"train": 0, "validation": 1}


@dataclasses.dataclass(eq=False)
class SyntheticPoseConfig(tfds.core.BuilderConfig):
    """One size/kind of the synthetic data set.

    Attributes:
      kind: "images" (one rendered person per example, ``pose_features(33)``) or "sequences"
        (one exercise recording per example, no pixels).
      num_train: examples in the train split.
      num_validation: examples in the validation split.
      width_range: (min, max) image width in pixels, inclusive, drawn per example.
      height_range: (min, max) image height in pixels, inclusive.
      archetype: restrict image poses to one ``poses.ARCHETYPES`` entry (e.g. "exercise").
      seed: config seed; example i of split s uses ``np.random.default_rng([seed, s, i])``.
    """

    kind: str = "images"
    num_train: int = 0
    num_validation: int = 0
    width_range: tuple[int, int] = (224, 288)
    height_range: tuple[int, int] = (224, 288)
    archetype: str | None = None
    seed: int = 0


def _example_rng(config: SyntheticPoseConfig, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng([config.seed, _SPLIT_CODES[split], index])


def image_example(config: SyntheticPoseConfig, split: str, index: int) -> dict:
    """Example ``index`` of an image config's ``split``, in the shared pose layout."""
    rng = _example_rng(config, split, index)
    width = int(rng.integers(config.width_range[0], config.width_range[1] + 1))
    height = int(rng.integers(config.height_range[0], config.height_range[1] + 1))
    scene = render_scene(rng, width, height, archetype=config.archetype)
    return pose_example(
        image=scene.image,
        image_id=f"{config.name}/{split}/{index:07d}",
        keypoints=scene.keypoints,
        visibility=scene.visibility,
        labelled=np.ones(BLAZEPOSE_33.num_keypoints, bool),  # a synthetic point is always known
        person_box=scene.person_box,
        topology=BLAZEPOSE_33,
    )


def sequence_example(config: SyntheticPoseConfig, split: str, index: int) -> dict:
    """Example ``index`` of a sequence config's ``split`` (see README, "Sequence features")."""
    sequence = generate_sequence(_example_rng(config, split, index))
    sequence.pop("clean_keypoints")
    sequence["sequence_id"] = f"{config.name}/{split}/{index:07d}"
    return sequence


def sequence_features() -> tfds.features.FeaturesDict:
    """Features of the sequence configs; T (frames) and R (repetitions) vary per example."""
    return tfds.features.FeaturesDict({
        "sequence_id": tfds.features.Text(),
        "exercise": tfds.features.ClassLabel(names=list(EXERCISES)),
        "fps": tfds.features.Scalar(dtype=np.float32),
        "num_frames": tfds.features.Scalar(dtype=np.int32),
        "num_reps": tfds.features.Scalar(dtype=np.int32),
        "rep_intervals": tfds.features.Tensor(shape=(None, 2), dtype=np.float32),
        "rep_index": tfds.features.Tensor(shape=(None,), dtype=np.int32),
        "rep_phase": tfds.features.Tensor(shape=(None,), dtype=np.float32),
        "keypoints": tfds.features.Tensor(shape=(None, 33, 2), dtype=np.float32),
        "depth": tfds.features.Tensor(shape=(None, 33), dtype=np.float32),
        "visibility": tfds.features.Tensor(shape=(None, 33), dtype=np.float32),
        "labelled": tfds.features.Tensor(shape=(None, 33), dtype=np.bool_),
        "frame_size": tfds.features.Tensor(shape=(2,), dtype=np.int32),
        "facing": tfds.features.ClassLabel(names=list(FACINGS)),
        "azimuth": tfds.features.Scalar(dtype=np.float32),
        "elevation": tfds.features.Scalar(dtype=np.float32),
        "arm_style": tfds.features.Text(),
        "lead_side": tfds.features.Text(),
        "person_height": tfds.features.Scalar(dtype=np.float32),
        "noise_px": tfds.features.Scalar(dtype=np.float32),
        "topology": tfds.features.Text(),
    })


def _images(name: str, description: str, num_train: int, num_validation: int,
            width_range: tuple[int, int], height_range: tuple[int, int], seed: int,
            archetype: str | None = None) -> SyntheticPoseConfig:
    return SyntheticPoseConfig(name=name, description=description, kind="images",
                               num_train=num_train, num_validation=num_validation,
                               width_range=width_range, height_range=height_range,
                               archetype=archetype, seed=seed)


class Builder(PoseBuilder):
    """DatasetBuilder for synthetic_pose (README.md); every config in BlazePose's 33 landmarks."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {
        "1.0.0": "Initial release: articulated 3-D bodies, image and exercise-sequence configs.",
    }
    BUILDER_CONFIGS = [
        _images("tiny", "Smoke-test size: 16 train / 8 validation images of 128-192 px.",
                16, 8, (128, 192), (128, 192), seed=1),
        _images("small", "512 train / 128 validation images of 224-288 px.",
                512, 128, (224, 288), (224, 288), seed=2),
        _images("medium", "8192 train / 1024 validation images of 224-320 px.",
                8192, 1024, (224, 320), (224, 320), seed=3),
        _images("large", "65536 train / 4096 validation images of 480-800 x 360-640 px.",
                65536, 4096, (480, 800), (360, 640), seed=4),
        _images("exercise_frames",
                "4096 train / 512 validation images of exercise poses only, 224-320 px.",
                4096, 512, (224, 320), (224, 320), seed=5, archetype="exercise"),
        SyntheticPoseConfig(
            name="exercise_sequences", kind="sequences", num_train=800, num_validation=160,
            seed=6,
            description="800 train / 160 validation exercise recordings (landmark tracks, "
                        "no pixels) with known repetitions."),
    ]
    DEFAULT_CONFIG_NAME = "small"

    TOPOLOGY = BLAZEPOSE_33

    def _features(self) -> tfds.features.FeaturesDict:
        if self.builder_config.kind == "images":
            return pose_features(BLAZEPOSE_33.num_keypoints)
        return sequence_features()

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        del dl_manager  # everything is generated
        config = self.builder_config
        return {
            "train": self._generate_examples("train", config.num_train),
            "validation": self._generate_examples("validation", config.num_validation),
        }

    def _generate_examples(self, split: str, count: int):
        config = self.builder_config
        make = image_example if config.kind == "images" else sequence_example
        for index in range(count):
            yield f"{split}_{index:07d}", make(config, split, index)
