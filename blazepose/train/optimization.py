"""The optimizer of a training run: Keras' learning-rate schedules and Keras' optimizers with a
per-variable rate for the pretrained trunk.

Schedules (``OptimizerSection.schedule``), all after a linear warm-up of
``OptimizerSection.warmup_for(train_steps)`` steps from 0 to the peak rate (Keras' convention:
the rate at optimizer step ``s < warmup`` is ``peak * s / warmup``, so step 0 takes no step):

* ``cosine``: cosine decay from the peak to 0 at ``train_steps``
  (``keras.optimizers.schedules.CosineDecay`` with ``warmup_target``);
* ``constant``: the peak rate (the same ``CosineDecay`` with ``alpha=1``: nothing decays);
* ``step``: the peak rate times ``step_factor`` per boundary of ``step_boundaries`` passed
  (``PiecewiseConstantDecay``, behind :class:`LinearWarmup`, as Keras has no warm-up for it).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from blazepose.train.config import TrainConfig

TRUNK_PREFIXES = ("stem", "enc", "trunk")
"""Layers of the pretrained encoder (stem, the four encoder stages, the 8x8 trunk): what
``OptimizerSection.trunk_learning_rate_factor`` and ``trunk_frozen_fraction`` slow down."""


@keras.saving.register_keras_serializable(package="blazepose")
class LinearWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """``target * step / warmup_steps`` before ``warmup_steps``, then ``after(step)``: the
    warm-up ``CosineDecay`` has built in, for schedules without one."""

    def __init__(self, after: keras.optimizers.schedules.LearningRateSchedule,
                 warmup_steps: int, target: float):
        self.after, self.warmup_steps, self.target = after, int(warmup_steps), float(target)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        warm = self.target * step / float(max(self.warmup_steps, 1))
        return tf.where(step < self.warmup_steps, warm, tf.cast(self.after(step), tf.float32))

    def get_config(self):
        return {"after": keras.optimizers.schedules.serialize(self.after),
                "warmup_steps": self.warmup_steps, "target": self.target}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["after"] = keras.optimizers.schedules.deserialize(config["after"])
        return cls(**config)


def make_schedule(config: TrainConfig) -> keras.optimizers.schedules.LearningRateSchedule:
    """The learning rate per optimizer step of ``config`` (see the module docstring)."""
    section = config.optimizer
    peak, total = section.learning_rate, config.train_steps
    warmup = section.warmup_for(total)
    schedules = keras.optimizers.schedules
    if section.schedule == "cosine":
        return schedules.CosineDecay(0.0, decay_steps=max(total - warmup, 1),
                                     warmup_target=peak, warmup_steps=warmup)
    if section.schedule == "step" and section.step_boundaries:
        # The rate drops at each boundary step b itself: PiecewiseConstantDecay switches after
        # its boundary, hence b - 1.
        decay = schedules.PiecewiseConstantDecay(
            [int(b) - 1 for b in section.step_boundaries],
            [peak * section.step_factor ** i for i in range(len(section.step_boundaries) + 1)])
        return LinearWarmup(decay, warmup, peak) if warmup > 0 else decay
    return schedules.CosineDecay(0.0, decay_steps=1, alpha=1.0, warmup_target=peak,
                                 warmup_steps=warmup)


class _TrunkRates:
    """Optimizer mix-in: the trunk's variables learn at ``factor`` times the learning rate, and
    not at all before step ``frozen_steps`` (a per-variable rate, which scaling gradients cannot
    give under Adam's normalisation). Set up by :meth:`set_trunk` after ``build``."""

    _trunk_indices: frozenset = frozenset()
    _trunk_factor: float = 1.0
    _trunk_frozen_steps: int = 0

    def set_trunk(self, variables, trunk: set, factor: float, frozen_steps: int) -> None:
        """``variables`` as given to ``build``; ``trunk`` the ids of the trunk's among them."""
        self._trunk_indices = frozenset(self._get_variable_index(v) for v in variables
                                        if id(v) in trunk)
        self._trunk_factor, self._trunk_frozen_steps = float(factor), int(frozen_steps)

    def start_average(self, variables) -> None:
        """Starts the weight average (``use_ema``) at ``variables``' current values, e.g. the
        pretrained weights, instead of Keras's choice, the weights after the first step."""
        for variable, average in zip(variables, self._model_variables_moving_average):
            if average is not None:
                average.assign(variable)

    def _update_model_variables_moving_average(self, trainable_variables):
        # Keras restarts the average at the first step's weights; with start_average it starts
        # at the pretrained ones, so the first (largest, Adam-normalised) steps are averaged too.
        if self.use_ema:
            for variable, average in zip(trainable_variables,
                                         self._model_variables_moving_average):
                if average is not None:
                    average.assign(self.ema_momentum * average
                                   + (1.0 - self.ema_momentum) * variable)

    def update_step(self, gradient, variable, learning_rate):
        if self._trunk_indices and self._get_variable_index(variable) in self._trunk_indices:
            learning_rate = learning_rate * tf.where(
                self.iterations >= self._trunk_frozen_steps, self._trunk_factor, 0.0)
        return super().update_step(gradient, variable, learning_rate)


class Adam(_TrunkRates, keras.optimizers.Adam):
    """``keras.optimizers.Adam`` with the trunk's own rate (:class:`_TrunkRates`)."""


class AdamW(_TrunkRates, keras.optimizers.AdamW):
    """``keras.optimizers.AdamW`` with the trunk's own rate (weight decay is not slowed)."""


class SGD(_TrunkRates, keras.optimizers.SGD):
    """``keras.optimizers.SGD`` with the trunk's own rate (:class:`_TrunkRates`)."""


def make_optimizer(config: TrainConfig, model: keras.Model | None = None
                   ) -> keras.optimizers.Optimizer:
    """The config's optimizer and schedule; built for ``model``'s trainable variables (with
    the trunk's own rate) when it is given. Under a ``tf.distribute`` strategy, call it inside
    ``strategy.scope()`` (its variables are then mirrored)."""
    section = config.optimizer
    schedule = make_schedule(config)
    clip = {"global_clipnorm": section.clip_norm} if section.clip_norm > 0 else {}
    if section.ema_momentum > 0:
        clip.update(use_ema=True, ema_momentum=section.ema_momentum)
    if section.name == "adam":
        optimizer = Adam(schedule, **clip)
    elif section.name == "adamw":
        optimizer = AdamW(schedule, weight_decay=section.weight_decay, **clip)
    else:
        optimizer = SGD(schedule, momentum=section.momentum, nesterov=True, **clip)
    if model is not None:
        variables = model.trainable_variables
        optimizer.build(variables)
        trunk = {id(v) for layer in model.layers if layer.name.startswith(TRUNK_PREFIXES)
                 for v in layer.trainable_weights}
        frozen = section.trunk_frozen_for(config.train_steps)
        if trunk and (section.trunk_learning_rate_factor != 1.0 or frozen > 0):
            optimizer.set_trunk(variables, trunk, section.trunk_learning_rate_factor, frozen)
    if config.mixed_precision:
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer
