"""One training loop for every strategy: a tf.function step under strategy.run (§5's SGD)."""

# Why not model.fit: Keras 3.15's fit fails under MultiWorkerMirroredStrategy
# (keras-team/keras#20585): before the first step it reduces a PerReplica batch with
# strategy.reduce (ValueError: PerReplica to Tensor), and bypassing that, it reduces scalar
# logs along axis 0 (ValueError: invalid reduction dimension). So this loop runs everywhere:
# the same code for one device, MirroredStrategy and many workers, with step checkpoints.

from __future__ import annotations

import numpy as np
import tensorflow as tf

from alexnet_tf import distribute, optim


class Diverged(Exception):
    """The loss became NaN or Inf at ``(epoch, step)`` (1-based): the weights that step (or
    the evaluation after it) started from are not to be trusted; nothing was saved after."""

    def __init__(self, epoch: int, step: int):
        super().__init__(f"loss became NaN/Inf in epoch {epoch}, step {step}")
        self.epoch, self.step = epoch, step


class Trainer:
    """Train and evaluate a compiled ``model`` (its optimizer and loss) under ``strategy``.

    Steps return ``[loss sum, top-1 correct, top-5 correct, examples]`` summed over all
    replicas of all workers, so every worker sees the same numbers and stops at the same step.
    """

    def __init__(
        self, model, strategy, *, batch_size: int, seed: int, jit_compile=False, recalibrate=None
    ):
        self.model, self.strategy, self.batch_size = model, strategy, batch_size
        self.recalibrate = recalibrate  # --ema: batch norm's statistics for the average
        self.optimizer, self.loss_fn = model.optimizer, model.loss
        self.k = min(5, int(model.output_shape[-1]))
        self.seed = seed
        # Dropout (§4.2) draws its masks from these; re-seeded every step from (seed, layer,
        # global step), so a resumed run draws the masks an uninterrupted one would.
        self.seed_generators = [
            layer.seed_generator
            for layer in model.layers
            if getattr(getattr(layer, "seed_generator", None), "state", None) is not None
        ]
        # The step is one tf.function; a nested one only to XLA-compile the gradient (--xla).
        # Nesting blocks cross-replica calls inside the model (synchronized batch norm), so
        # without XLA the gradient is traced inline.
        self._grads = (
            distribute.per_run_function(self._grads_and_stats, jit_compile=True, autograph=False)
            if jit_compile
            else self._grads_and_stats
        )
        # No AutoGraph for the step (no Python control flow on tensors in it; converting it
        # cost every run's start); the evaluation's loop over its dataset needs it.
        self._train = distribute.per_run_function(self._train_step, autograph=False)
        self._eval, self._eval_data = None, None

    def _stats(self, y, logits, per_example):
        y = tf.cast(tf.reshape(y, [-1]), tf.int32)
        logits = tf.cast(logits, tf.float32)
        top1 = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), y), tf.float32)
        top5 = tf.cast(tf.math.in_top_k(y, logits, self.k), tf.float32)
        n = tf.cast(tf.size(y), tf.float32)
        return tf.stack([tf.reduce_sum(per_example), tf.reduce_sum(top1), tf.reduce_sum(top5), n])

    def _grads_and_stats(self, x, y):
        with tf.GradientTape() as tape:
            logits = self.model(x, training=True)
            per_example = tf.cast(self.loss_fn.call(y, logits), tf.float32)
            # The mean over the global batch: the all-reduce sums replicas' gradients (§5: SGD
            # on batches of 128, however many devices share them).
            loss = tf.reduce_sum(per_example) / self.batch_size
            if self.model.losses:
                loss += tf.add_n(self.model.losses) / self.strategy.num_replicas_in_sync
            scaled = self.optimizer.scale_loss(loss)  # mixed_float16's loss scaling, else as is
        grads = tape.gradient(scaled, self.model.trainable_variables)
        return grads, self._stats(y, logits, per_example)

    def _replica_step(self, x, y):
        grads, stats = self._grads(x, y)
        self.optimizer.apply_gradients(zip(grads, self.model.trainable_variables, strict=True))
        return stats

    def _train_step(self, iterator):
        step = tf.cast(self.optimizer.iterations, tf.int64)
        for i, generator in enumerate(self.seed_generators):
            generator.state.assign(tf.stack([tf.constant(self.seed * 1000 + i, tf.int64), step]))
        x, y = next(iterator)
        stats = self.strategy.run(self._replica_step, args=(x, y))
        return self.strategy.reduce("SUM", stats, axis=None)

    def train_step(self, iterator) -> np.ndarray:
        """One step on the next global batch of the distributed ``iterator``."""
        return self._train(iterator).numpy().astype(np.float64)

    @tf.autograph.experimental.do_not_convert  # the loop around it is converted, not it
    def _eval_replica(self, x, y):
        logits = self.model(x, training=False)
        return self._stats(y, logits, tf.cast(self.loss_fn.call(y, logits), tf.float32))

    def _eval_pass(self):
        total = tf.zeros([4])
        for x, y in self._eval_data:  # a graph loop: no eager collectives between batches
            stats = self.strategy.run(self._eval_replica, args=(x, y))
            total += self.strategy.reduce("SUM", stats, axis=None)
        return total

    def evaluate(self, dataset: tf.data.Dataset) -> dict:
        """Loss, top-1 and top-5 accuracy over ``dataset`` (batched, remainder kept), the
        batches shared among the replicas and workers. Pass the same ``dataset`` every time."""
        if self._eval is None:
            self._eval_data = distribute.distribute_by_data(self.strategy, dataset)
            self._eval = distribute.per_run_function(self._eval_pass)
        with distribute.graph_loop_warnings_off():
            total = self._eval().numpy().astype(np.float64)
        n = max(total[3], 1.0)
        return {"loss": total[0] / n, "top1": total[1] / n, "top5": total[2] / n}

    def fit(self, iterator, eval_ds, *, epochs, steps, start, partial, progress, on_step, on_epoch):
        """Train from ``start=(epoch, step)`` (0-based epoch, steps done in it) to ``epochs``.

        ``partial`` holds the interrupted epoch's sums so far. ``on_step(epoch, step, out,
        sums)`` runs after each step (1-based step), ``on_epoch(epoch, sums, val)`` after each
        epoch's evaluation; it returns True to end the run there. With the optimizer's
        ``use_ema``, ``val`` is the weights' moving average's (after ``recalibrate()``, if
        given) and ``live_*`` the trained weights'. Raises :class:`Diverged` at the first
        non-finite loss.
        """
        epoch0, step0 = start
        for epoch in range(epoch0, epochs):
            first = step0 if epoch == epoch0 else 0
            sums = np.array(partial if first else np.zeros(4), np.float64)
            progress.epoch_begin(epoch, first)
            for step in range(first, steps):
                out = self.train_step(iterator)
                if not np.isfinite(out[0]):
                    raise Diverged(epoch + 1, step + 1)
                sums += out
                progress.batch_end(step, {"loss": sums[0] / sums[3], "top1": sums[1] / sums[3]})
                on_step(epoch, step + 1, out, sums)
            val = self.evaluate(eval_ds)
            if self.optimizer.use_ema:  # --ema: the average is what is saved; both are logged
                with optim.averaged_weights(self.model):
                    if self.recalibrate is not None:
                        self.recalibrate()
                    val = {**self.evaluate(eval_ds), **{f"live_{k}": v for k, v in val.items()}}
            if not np.isfinite(val["loss"]):  # the last step's update broke the weights
                raise Diverged(epoch + 1, steps)
            if on_epoch(epoch + 1, sums, val):  # a time budget ran out
                break
