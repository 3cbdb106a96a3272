"""The traced half of training, Orbit's runner: many optimizer steps in one ``tf.function``
and a distributed evaluation step, around a :class:`PoseTask`'s steps of one replica.

The controller (:class:`blazepose.train.trainer.Trainer`) decides how many steps each loop runs
and does everything eager (checkpoints, summaries, evaluation schedule, console) between loops;
the host waits for the device only at the end of a loop.
"""

from __future__ import annotations

import functools

import keras
import numpy as np
import tensorflow as tf

from blazepose.train.task import PoseTask


class Runner:
    """Runs ``task``'s train and validation steps under ``strategy`` (``strategy.run`` of each
    replica's step, then a sum over replicas).

    Args:
      task: what is learnt and measured (:meth:`PoseTask.train_step`,
        :meth:`PoseTask.validation_step`).
      strategy: the ``tf.distribute`` strategy the model and optimizer were built under.
      model: the network the steps run (the task's training view).
      optimizer: its optimizer, built under ``strategy.scope()``.
      step: the int64 step counter, incremented once per optimizer step.
      reference_model: the frozen network the losses keep outputs at, or None.
      run_eagerly: no ``tf.function`` (debugging).
      jit_compile: XLA-compile each training step.
    """

    def __init__(self, task: PoseTask, strategy: tf.distribute.Strategy, model: keras.Model,
                 optimizer: keras.optimizers.Optimizer, step: tf.Variable,
                 reference_model: keras.Model | None = None, run_eagerly: bool = False,
                 jit_compile: bool = False):
        self.task, self.strategy, self.model = task, strategy, model
        self.optimizer, self.step, self.reference_model = optimizer, step, reference_model
        self.run_eagerly, self.jit_compile = run_eagerly, jit_compile
        self._train_loop = None
        self._eval_step = None

    # -- training -------------------------------------------------------------------------

    def train(self, iterator, num_steps: int) -> tuple[dict[str, float], int | None]:
        """Runs ``num_steps`` optimizer steps on the next batches of ``iterator`` (a distributed
        iterator of training batches) in one traced loop, then syncs with the host once.

        Returns:
          ``(losses, first_bad_step, peak)``: each loss (``total`` and per head) averaged over
          the loop's steps, as Python floats; the step number (after its increment of
          :attr:`step`) of the first step whose total loss was NaN or infinite, else None; and
          ``(largest finite total loss of one step, its step number)``, what the trainer's
          exploding-loss guard compares with the running median.
        """
        if num_steps < 1:
            raise ValueError(f"num_steps must be positive, got {num_steps}")
        if self._train_loop is None:
            self._train_loop = self._make_train_loop()
        means, bad, peak, peak_step = self._train_loop(iterator,
                                                       tf.constant(num_steps, tf.int32))
        bad = int(bad)
        return ({name: float(value) for name, value in means.items()},
                (bad if bad >= 0 else None), (float(peak), int(peak_step)))

    def _make_train_loop(self):
        task, strategy = self.task, self.strategy
        replica_step = functools.partial(task.train_step, model=self.model,
                                         optimizer=self.optimizer,
                                         reference_model=self.reference_model)
        counter = self.step

        def one_step(batch):
            per_replica = strategy.run(replica_step, args=(batch,))
            return {name: strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
                    for name, value in per_replica.items()}

        if not self.run_eagerly:
            # Traced once; both calls below run the same function.
            one_step = tf.function(one_step, jit_compile=self.jit_compile or None)

        def counted_step(iterator, bad, peak, peak_step):
            logs = one_step(next(iterator))
            counter.assign_add(1)
            total = tf.cast(logs["total"], tf.float32)
            finite = tf.math.is_finite(total)
            bad = tf.where(tf.logical_and(bad < 0, tf.logical_not(finite)),
                           counter.read_value(), bad)
            higher = tf.logical_and(finite, total > peak)
            peak_step = tf.where(higher, counter.read_value(), peak_step)
            peak = tf.where(higher, total, peak)
            return logs, bad, peak, peak_step

        def loop(iterator, num_steps):
            # The first step outside the loop gives the losses' structure to sum into.
            sums, bad, peak, peak_step = counted_step(
                iterator, tf.constant(-1, tf.int64), tf.constant(-np.inf, tf.float32),
                tf.constant(-1, tf.int64))

            def body(index, sums, bad, peak, peak_step):
                logs, bad, peak, peak_step = counted_step(iterator, bad, peak, peak_step)
                return (index + 1, {name: sums[name] + logs[name] for name in sums}, bad, peak,
                        peak_step)

            _, sums, bad, peak, peak_step = tf.while_loop(
                lambda index, *_: index < num_steps, body,
                (tf.constant(1), sums, bad, peak, peak_step))
            count = tf.cast(num_steps, tf.float32)
            return {name: value / count for name, value in sums.items()}, bad, peak, peak_step

        if self.run_eagerly:
            return loop
        return tf.function(loop, autograph=False)

    # -- evaluation -----------------------------------------------------------------------

    def evaluate_step(self, batch) -> list[tuple[dict, dict]]:
        """The task's validation step on each replica's part of ``batch`` (a distributed
        evaluation batch), traced and run under ``strategy.run``.

        Returns:
          Per local replica: its part of ``batch`` (tensors) and its validation outputs (numpy
          arrays, :meth:`PoseTask.validation_step`), brought to the host.
        """
        if self._eval_step is None:
            replica_step = functools.partial(self.task.validation_step, model=self.model)

            def step(batch):
                return self.strategy.run(replica_step, args=(batch,))

            # The last batch may be smaller: one trace for every batch size.
            self._eval_step = step if self.run_eagerly else tf.function(
                step, reduce_retracing=True)
        outputs = self._eval_step(batch)
        return [(inputs, {name: np.asarray(value) for name, value in results.items()})
                for inputs, results in zip(self.local_parts(batch), self.local_parts(outputs))]

    def local_parts(self, values: dict) -> list[dict]:
        """Per local replica, its part of a dict of distributed values, as plain tensors."""
        parts = [self.strategy.experimental_local_results(value) for value in values.values()]
        return [dict(zip(values.keys(), replica)) for replica in zip(*parts)]
