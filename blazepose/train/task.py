"""The pose task: owns the model, input pipelines, losses, the train and validation steps of
one replica, and what validation measures.

The runner (:mod:`blazepose.train.runner`) runs these steps under ``strategy.run`` in traced
loops; the controller (:mod:`blazepose.train.trainer`) owns checkpoints, summaries, the
schedule of evaluations and the console. This object owns everything about *what* is learnt,
so those stay generic; it reads data sets but writes no file.
"""

from __future__ import annotations

import dataclasses
import logging

import keras
import tensorflow as tf
import tensorflow_datasets as tfds

import blazepose
from blazepose import topology as topology_lib
from blazepose.data import pipeline
from blazepose.model import decoding, quantization
from blazepose.train import losses as losses_lib
from blazepose.train.config import TrainConfig

_LOG = logging.getLogger(__name__)

# Parts without labels in 2-D keypoint data (segmentation and its 128 px tap, world landmarks,
# the pose flag: every training crop shows a person): never trained, they keep their weights.
UNSUPERVISED_PREFIXES = ("seg", "tap128", "reg_world", "reg_flag")
# With LossConfig.preserve_weight the pose-flag head trains, on the preserve loss alone.
PRESERVE_HEAD_PREFIX = "reg_flag"
# With LossConfig.distill_weight these heads train too (on the distillation loss).
DISTILLED_HEAD_PREFIXES = ("reg_world", "reg_flag")


class PoseTask:
    """Model, data, losses and metrics for one :class:`TrainConfig`."""

    PRESERVE_HEAD_PREFIX = PRESERVE_HEAD_PREFIX

    def __init__(self, config: TrainConfig, loss_config: losses_lib.LossConfig | None = None):
        self.config = config
        self.loss_config = loss_config or config.losses
        self.topology = topology_lib.get_topology(config.data.pipeline.topology)
        if self.topology.num_keypoints != config.model.num_keypoints:
            raise ValueError(
                f"model.num_keypoints={config.model.num_keypoints} but the pipeline's topology "
                f"{self.topology.name} has {self.topology.num_keypoints} keypoints")

    # -- model ----------------------------------------------------------------------------

    def build_model(self, quantized: bool | None = None) -> keras.Model:
        """The network, with the phase's frozen parts set non-trainable.

        ``heatmap``: the regression branch is frozen. ``regression``: everything but the
        regression branch is frozen and the branch reads the trunk through a stop-gradient.
        ``joint``: all supervised parts train. Segmentation and world-landmark heads never train;
        the pose-flag head trains only with ``LossConfig.preserve_weight`` (on that loss alone).
        With ``LossConfig.distill_weight`` the world landmarks and pose flag train too (their
        outputs are distilled); the segmentation head never does.

        ``quantized``: build the quantisation-aware network (default: ``model.quantized``) or
        its float twin (``False``: same layer names and float weights).
        """
        model_config = self.config.model
        phase = self.config.phase
        model = blazepose.build_model(model_config.variant, model_config.num_keypoints,
                                      offset_head=model_config.offset_head,
                                      stop_regression_gradient=phase == "regression")
        if model_config.quantized if quantized is None else quantized:
            model = quantization.quantize_model(model, model_config.keep_float,
                                                copy_weights=False)
        for layer in model.layers:
            if not layer.weights:
                continue
            regression = layer.name.startswith("reg")
            unsupervised = layer.name.startswith(UNSUPERVISED_PREFIXES) and not (
                (self.preserves_outputs and layer.name.startswith(PRESERVE_HEAD_PREFIX))
                or (self.distills and layer.name.startswith(DISTILLED_HEAD_PREFIXES)))
            layer.trainable = not (
                unsupervised
                or (phase == "heatmap" and regression)
                or (phase == "regression" and not regression))
        return model

    @property
    def preserves_outputs(self) -> bool:
        """Whether the losses keep the unsupervised outputs at a reference network's values
        (``LossConfig.preserve_weight``): the trainer then runs :meth:`reference_view`."""
        return self.loss_config.preserve_weight > 0

    @property
    def distills(self) -> bool:
        """Whether the losses match a frozen float copy of the starting network
        (``LossConfig.distill_weight``): the trainer then runs :meth:`reference_view`."""
        return self.loss_config.distill_weight > 0

    @property
    def needs_reference(self) -> bool:
        return self.preserves_outputs or self.distills

    def _reference_outputs(self) -> tuple[str, ...]:
        keys = losses_lib.PRESERVED_OUTPUTS if self.preserves_outputs else ()
        if self.distills:
            keys += tuple(k for k in losses_lib.DISTILLED_OUTPUTS if k not in keys)
        return keys

    def reference_view(self, model: keras.Model) -> keras.Model:
        """The frozen starting network's outputs the losses read (:data:`losses.
        PRESERVED_OUTPUTS`, :data:`losses.DISTILLED_OUTPUTS`); ``model``, the float network of
        :meth:`build_model` given the starting weights, is frozen here."""
        model.trainable = False
        outputs = {key: model.output[key] for key in self._reference_outputs()}
        return keras.Model(model.inputs, outputs, name=f"{model.name}_reference")

    def training_view(self, model: keras.Model) -> keras.Model:
        """``model`` restricted to the outputs losses and metrics read (shared layers)."""
        needed = ("landmarks", "heatmap", "offsets")
        if self.needs_reference:
            needed += tuple(k for k in self._reference_outputs() if k not in needed)
        outputs = {key: model.output[key] for key in needed if key in model.output}
        return keras.Model(model.inputs, outputs, name=f"{model.name}_training")

    # -- data -----------------------------------------------------------------------------

    def sources(self, training: bool) -> list[pipeline.DataSource]:
        """The data sets of training or evaluation (``name/config[@split]``, see DataSection)."""
        data = self.config.data
        if training or not data.eval_datasets:
            names, weights = data.datasets, data.weights or (1.0,) * len(data.datasets)
        else:
            names, weights = data.eval_datasets, (1.0,) * len(data.eval_datasets)
        default_split = data.train_split if training else data.eval_split
        sources = []
        for spec, weight in zip(names, weights):
            name, _, split = spec.partition("@")
            sources.append(pipeline.DataSource(name, split or default_split, weight,
                                               data.data_dir))
        return sources

    def pipeline_config(self):
        return dataclasses.replace(self.config.data.pipeline, seed=self.config.seed,
                                   deterministic=self.config.deterministic)

    def source_topologies(self, training: bool) -> list[topology_lib.Topology]:
        """The keypoint topology each (prepared) data set declares, in ``sources`` order."""
        return [pipeline.topology_of(tfds.builder(s.name, data_dir=s.data_dir).info)
                for s in self.sources(training)]

    def num_examples(self, training: bool) -> int:
        """Examples in the (prepared) split of all sources together."""
        total = 0
        for source in self.sources(training):
            splits = tfds.builder(source.name, data_dir=source.data_dir).info.splits
            total += splits[source.split].num_examples
        return total

    def check_records(self, training: bool) -> list[pipeline.RecordCheck]:
        """Per (prepared) data set of training or evaluation: the records the pipeline drops
        (:func:`blazepose.data.pipeline.check_records`), counted and named."""
        config = self.pipeline_config()
        return [pipeline.check_records(source, config) for source in self.sources(training)]

    def calibration_batches(self, batches: int) -> tf.data.Dataset:
        """Up to ``batches`` batches of training crops without augmentation, with their
        targets (keys of ``blazepose.data.ops.TRAINING_KEYS``; ``image`` float32
        ``[batch_size, 256, 256, 3]`` in [0, 1])."""
        dataset = pipeline.build_dataset(self.sources(True), self.pipeline_config(),
                                         self.config.batch_size, training=False, repeat=False)
        return dataset.take(batches)

    def calibration_images(self, batches: int):
        """The images of :meth:`calibration_batches` (what sets a quantised network's
        ranges)."""
        return (batch["image"] for batch in self.calibration_batches(batches))

    def dataset_fn(self, training: bool):
        """For ``strategy.distribute_datasets_from_function``."""
        return pipeline.distributed_dataset_fn(
            self.sources(training), self.pipeline_config(), self.config.batch_size, training,
            data_service=self.config.data_service if training else None)

    # -- losses and predictions -----------------------------------------------------------

    def per_example_losses(self, batch: dict, outputs: dict, reference: dict | None = None
                           ) -> dict:
        """Per-example losses ``[B]`` per head and ``total`` (see ``losses.compute_losses``);
        ``reference``: the :meth:`reference_view`'s outputs on the same images."""
        return losses_lib.compute_losses(batch, outputs, self.loss_config,
                                         crop_size=float(self.config.data.pipeline.crop.size),
                                         phase=self.config.phase, reference=reference)

    def predict_keypoints(self, outputs: dict) -> tuple[tf.Tensor, tf.Tensor]:
        """Predicted keypoints, float32 ``[B, K, 2]`` (x, y) in crop pixels, and visibility
        probabilities, float32 ``[B, K]``; plain TF ops (traceable, no host round trip).

        The heatmap phase has no trained regression: keypoints come from the heatmap argmax
        (plus offsets); the other phases use the regressed landmarks.
        """
        k = self.config.model.num_keypoints
        size = float(self.config.data.pipeline.crop.size)
        landmarks = tf.cast(outputs["landmarks"], tf.float32)[:, :k]
        visibility = tf.sigmoid(landmarks[..., 3])
        if self.config.phase == "heatmap":
            offsets = outputs.get("offsets")
            xy, _ = decoding.decode_heatmap_argmax(
                tf.cast(outputs["heatmap"], tf.float32)[..., :k],
                None if offsets is None else tf.cast(offsets, tf.float32)[..., :2 * k])
            return xy * size, visibility
        return landmarks[..., :2], visibility

    # -- steps of one replica (run by blazepose.train.runner under strategy.run) ------------

    def train_step(self, batch: dict, model: keras.Model, optimizer: keras.optimizers.Optimizer,
                   reference_model: keras.Model | None = None) -> dict:
        """One optimizer step on this replica's part of a global batch.

        Args:
          batch: the replica's training batch (keys of ``blazepose.data.ops.TRAINING_KEYS``).
          model: the :meth:`training_view` of the network.
          optimizer: its optimizer (a ``LossScaleOptimizer`` with mixed precision).
          reference_model: the :meth:`reference_view` of the frozen starting network, when the
            losses preserve or distill its outputs (:attr:`needs_reference`).

        Returns:
          Float32 scalars per loss (``total`` and each head's, see :meth:`per_example_losses`),
          this replica's share of the global-batch mean: summed over replicas they are the
          global batch's mean.
        """
        global_batch = self.config.batch_size
        mixed = self.config.mixed_precision
        variables = model.trainable_variables
        reference = (None if reference_model is None
                     else reference_model(batch["image"], training=False))
        preserving = reference is not None and self.preserves_outputs
        with tf.GradientTape(persistent=preserving) as tape:
            outputs = model(batch["image"], training=True)
            per_example = self.per_example_losses(batch, outputs, reference)
            main = per_example["total"]
            if preserving:
                preserve = self.loss_config.preserve_weight * per_example[losses_lib.PRESERVE]
                main = main - preserve
                preserve = tf.nn.compute_average_loss(preserve, global_batch_size=global_batch)
            loss = tf.nn.compute_average_loss(main, global_batch_size=global_batch)
            scaled = optimizer.scale_loss(loss) if mixed else loss
        gradients = tape.gradient(scaled, variables)
        if preserving:
            # The preserve loss re-fits the pose-flag head only: through the shared features it
            # would hold the landmarks back (LSP, 400 steps: PCK@0.2 0.769 against 0.824).
            flag_head = [index for index, variable in enumerate(variables)
                         if variable.path.startswith(PRESERVE_HEAD_PREFIX)]
            scaled = optimizer.scale_loss(preserve) if mixed else preserve
            head = tape.gradient(scaled, [variables[index] for index in flag_head])
            for index, extra in zip(flag_head, head):
                gradients[index] = extra if gradients[index] is None else (
                    gradients[index] + extra)
            del tape
        optimizer.apply_gradients(zip(gradients, variables))
        return {name: tf.nn.compute_average_loss(value, global_batch_size=global_batch)
                for name, value in per_example.items()}

    def validation_step(self, batch: dict, model: keras.Model) -> dict:
        """Predictions on this replica's part of an evaluation batch, for the host's metrics.

        Returns float32 tensors: ``keypoints`` ``[B, K, 2]`` in crop pixels and ``visibility``
        ``[B, K]`` (:meth:`predict_keypoints`); ``heatmap`` and ``target_heatmap``
        ``[B, H, W, 1]``, the predicted (sigmoid) and target heatmaps' maximum over the
        keypoints, for pictures.
        """
        k = self.config.model.num_keypoints
        outputs = model(batch["image"], training=False)
        keypoints, visibility = self.predict_keypoints(outputs)
        heatmap = tf.sigmoid(tf.cast(outputs["heatmap"], tf.float32))[..., :k]
        return {"keypoints": keypoints, "visibility": visibility,
                "heatmap": tf.reduce_max(heatmap, axis=-1, keepdims=True),
                "target_heatmap": tf.reduce_max(tf.cast(batch["heatmap"], tf.float32),
                                                axis=-1, keepdims=True)}
