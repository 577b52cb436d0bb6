"""The paper's optimiser (§5): SGD with momentum 0.9 and weight decay inside the update rule."""

from __future__ import annotations

import contextlib
import math

import keras
from keras import ops

from alexnet_tf.config import (  # noqa: F401  (re-exported: §5's numbers live in config)
    BATCH_SIZE,
    LEARNING_RATE,
    LR_DIVISOR,
    MAX_LR_REDUCTIONS,
    MOMENTUM,
    WEIGHT_DECAY,
)


@keras.saving.register_keras_serializable(package="alexnet_tf")
class PaperSGD(keras.optimizers.SGD):
    """SGD whose weight decay enters the momentum, exactly the update rule of §5::

        v <- 0.9 * v - 0.0005 * lr * w - lr * dL/dw
        w <- w + v

    i.e. SGD with momentum on the gradient ``dL/dw + weight_decay * w`` (an L2 penalty of
    ``weight_decay / 2 * |w|^2``), not Keras' decoupled ``weight_decay`` (AdamW style, which
    bypasses the momentum). Decay applies to weights (kernels), not to biases or batch-norm
    parameters, as in the paper's Caffe and cuda-convnet configurations.

    ``gradient_scales`` (``--grad-scale``; not §5, whose rate is "equal for all layers")
    multiplies ``dL/dw`` of the named layers' variables, not the decay term: a layer-wise
    step size. Chapter 2 uses it to take §3.3's LRN apart: a network whose LRN divides by
    k^beta (alpha 0) trains exactly as one without LRN whose conv1 and conv2 start k^beta
    smaller (``--init-scale``) and take k^2beta smaller loss steps.
    """

    def __init__(
        self,
        learning_rate=LEARNING_RATE,
        momentum=MOMENTUM,
        weight_decay=WEIGHT_DECAY,
        gradient_scales=None,
        **kw,
    ):
        kw.pop("name", None)
        super().__init__(learning_rate=learning_rate, momentum=momentum, name="paper_sgd", **kw)
        self.coupled_weight_decay = float(weight_decay or 0.0)
        self.gradient_scales = {k: float(v) for k, v in (gradient_scales or {}).items()}

    def update_step(self, gradient, variable, learning_rate):
        if self.gradient_scales:  # by the variable's layer (a bare tf.Variable under a strategy)
            path = self._trainable_variables[self._get_variable_index(variable)].path
            for layer in path.split("/")[:-1]:  # "conv1/kernel", "sequential/conv1/kernel"
                if layer in self.gradient_scales:
                    scale = ops.cast(self.gradient_scales[layer], gradient.dtype)
                    gradient = ops.multiply(scale, gradient)
        if self.coupled_weight_decay and len(variable.shape) > 1:
            decay = ops.cast(self.coupled_weight_decay, variable.dtype)
            gradient = ops.add(gradient, ops.multiply(decay, variable))
        super().update_step(gradient, variable, learning_rate)

    def _update_model_variables_moving_average(self, trainable_variables):
        """``use_ema`` (--ema, not in the paper): Keras's average of the weights, with the
        warm-up of ``tf.train.ExponentialMovingAverage(num_updates=t)``: the decay is
        ``min(ema_momentum, (1 + t) / (10 + t))`` after step ``t`` and 0 at the first step, so
        the average does not hold on to the random init for its first ~1/(1 - decay) steps."""
        t = ops.cast(self.iterations, "float32")  # steps before this one
        decay = ops.where(t > 0, ops.minimum(self.ema_momentum, (1.0 + t) / (10.0 + t)), 0.0)
        averages = self._model_variables_moving_average
        for var, average in zip(trainable_variables, averages, strict=True):
            if average is not None:
                d = ops.cast(decay, var.dtype)
                average.assign(ops.add(ops.multiply(d, average), ops.multiply(1.0 - d, var)))

    def get_config(self):
        config = super().get_config()
        config["weight_decay"] = self.coupled_weight_decay
        config["gradient_scales"] = dict(self.gradient_scales)
        return config


@contextlib.contextmanager
def averaged_weights(model):
    """While the block runs, ``model`` holds its optimizer's moving average of the weights
    (``use_ema``); the trained weights are put back after, and so are the non-trainable
    variables (batch norm's statistics, which the block may recompute for the average:
    :class:`alexnet_tf.batchnorm.Recalibration`). Call it outside ``strategy.run``."""
    variables = model.trainable_variables + model.non_trainable_variables
    trained = [v.numpy() for v in variables]
    model.optimizer.finalize_variable_values(model.trainable_variables)
    try:
        yield
    finally:
        for v, x in zip(variables, trained, strict=True):
            v.assign(x)


@keras.saving.register_keras_serializable(package="alexnet_tf")
class WarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up to ``peak`` then cosine decay to ``final`` (a modern, documented deviation
    from §5's divide-by-10 rule, used by the CIFAR-10 preset)."""

    def __init__(self, peak: float, total_steps: int, warmup_steps: int = 0, final: float = 0.0):
        self.peak = float(peak)
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.final = float(final)
        # Where the cosine ends; moved by a wall-clock budget (set_total_steps) mid-run.
        self.horizon = keras.Variable(float(total_steps), trainable=False, name="lr_horizon")

    def set_total_steps(self, total_steps: int) -> None:
        """End the cosine at ``total_steps`` from now on (traced steps read it each call)."""
        self.horizon.assign(float(total_steps))

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warm = ops.maximum(float(self.warmup_steps), 1.0)
        warmup = self.peak * ops.minimum(step + 1.0, warm) / warm
        span = ops.maximum(ops.cast(self.horizon, "float32") - self.warmup_steps, 1.0)
        t = ops.clip((step - self.warmup_steps) / span, 0.0, 1.0)
        cosine = self.final + 0.5 * (self.peak - self.final) * (1.0 + ops.cos(math.pi * t))
        return ops.where(step < self.warmup_steps, warmup, cosine)

    def get_config(self):
        return {
            "peak": self.peak,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "final": self.final,
        }


@keras.saving.register_keras_serializable(package="alexnet_tf")
class SparseCrossentropy(keras.losses.Loss):
    """Cross-entropy on logits and integer labels, with optional label smoothing (a modern
    deviation: the paper uses plain cross-entropy, i.e. ``label_smoothing=0``)."""

    def __init__(self, label_smoothing: float = 0.0, name="sparse_crossentropy", **kw):
        super().__init__(name=name, **kw)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        y_pred = ops.cast(y_pred, "float32")
        log_probs = ops.log_softmax(y_pred, axis=-1)
        labels = ops.one_hot(ops.reshape(ops.cast(y_true, "int32"), (-1,)), ops.shape(y_pred)[-1])
        if self.label_smoothing:
            n = ops.cast(ops.shape(y_pred)[-1], "float32")
            labels = labels * (1.0 - self.label_smoothing) + self.label_smoothing / n
        return -ops.sum(labels * log_probs, axis=-1)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}
