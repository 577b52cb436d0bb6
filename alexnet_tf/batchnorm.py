"""Batch norm's moving statistics recomputed for the weights at hand (not in the paper)."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from alexnet_tf import distribute


def batch_norm_layers(model) -> list:
    """The model's batch-norm layers (``bn1``..``bn5`` of ``--norm batch``), in order."""
    return [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]


class Recalibration:
    """Set each batch-norm layer's moving mean and variance to the average, over the batches of
    ``dataset``, of the batch moments the layer normalises with in training.

    Batch norm keeps a running average (momentum 0.99, ~100 steps) of those moments along the
    trained weights' path, so they fit only those weights, and lag them while the learning rate
    is high. ``--ema``'s average of the weights is another network: this gives it its own
    statistics, as SWA's ``update_bn`` does (Izmailov et al. 2018). The same batches every
    call, so the statistics are a function of the weights alone. Under ``strategy`` each
    global batch's moments are summed over the replicas, as synchronized batch norm computes
    them. Call it outside ``strategy.run``; a model without batch norm is left as it is.
    """

    def __init__(self, model, strategy, dataset: tf.data.Dataset):
        self.layers = batch_norm_layers(model)
        self.strategy = strategy
        self.channels = [int(layer.moving_mean.shape[0]) for layer in self.layers]
        if self.layers:
            self._probe = keras.Model(model.inputs, [layer.input for layer in self.layers])
            self._data = distribute.distribute_by_data(strategy, dataset)
            self._pass = distribute.per_run_function(self._batch_moments)

    def _replica_sums(self, x):
        """Per channel of every layer: sum, sum of squares and count of its inputs, flat."""
        sums = []
        for h in tf.nest.flatten(self._probe(x, training=True)):  # a list, also of one
            h = tf.cast(h, tf.float32)
            axes = list(range(len(h.shape) - 1))
            n = tf.cast(tf.reduce_prod(tf.shape(h)[:-1]), tf.float32)
            s, ss = tf.reduce_sum(h, axes), tf.reduce_sum(tf.square(h), axes)
            sums += [s, ss, tf.fill(tf.shape(s), n)]
        return tf.concat(sums, 0)

    def _batch_moments(self):
        """Mean over the batches of [mean, biased variance] per channel of every layer."""
        total = tf.zeros([2 * sum(self.channels)])
        batches = tf.constant(0.0)
        for x, _ in self._data:  # a graph loop, as the evaluation's
            flat = self.strategy.reduce(
                "SUM", self.strategy.run(self._replica_sums, args=(x,)), axis=None
            )
            moments = []
            for s, ss, n in _split(flat, self.channels, 3):
                mean = s / n
                moments += [mean, tf.maximum(ss / n - tf.square(mean), 0.0)]
            total += tf.concat(moments, 0)
            batches += 1.0
        return total / tf.maximum(batches, 1.0)

    def __call__(self) -> None:
        if not self.layers:
            return
        with distribute.graph_loop_warnings_off():
            flat = self._pass().numpy()
        for layer, (mean, variance) in zip(
            self.layers, _split(flat, self.channels, 2), strict=True
        ):
            layer.moving_mean.assign(np.asarray(mean, np.float32))
            layer.moving_variance.assign(np.asarray(variance, np.float32))


def _split(flat, channels: list[int], parts: int) -> list[list]:
    """``flat`` (per layer, ``parts`` vectors of its channels, concatenated) cut back up."""
    out, i = [], 0
    for c in channels:
        out.append([flat[i + k * c : i + (k + 1) * c] for k in range(parts)])
        i += parts * c
    return out
