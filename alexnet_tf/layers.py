"""AlexNet's own layers: Local Response Normalization (§3.3) and two-tower convolutions (§3.2)."""

from __future__ import annotations

import keras
import tensorflow as tf

# §3.3: "The constants k, n, alpha, and beta are hyper-parameters whose values are determined
# using a validation set; we used k = 2, n = 5, alpha = 10^-4, and beta = 0.75."
LRN_K = 2.0
LRN_N = 5
LRN_ALPHA = 1e-4
LRN_BETA = 0.75


@keras.saving.register_keras_serializable(package="alexnet_tf")
class LocalResponseNormalization(keras.layers.Layer):
    """Local Response Normalization across channels (§3.3), computed by ``tf.nn.lrn``.

    The paper's formula, for the activity ``a`` of kernel ``i`` at one position::

        b_i = a_i / (k + alpha * sum_{j=max(0, i-n/2)}^{min(N-1, i+n/2)} a_j^2) ** beta

    ``tf.nn.lrn`` computes exactly this with ``depth_radius = n // 2``, ``bias = k`` and the
    same ``alpha`` and ``beta``, so the defaults here are the paper's constants
    (depth_radius=2, bias=2, alpha=1e-4, beta=0.75).

    Caffe's ``LRN`` layer and PyTorch's ``nn.LocalResponseNorm`` use another convention: they
    divide alpha by the window size, ``k + (alpha / n) * sum(a_j^2)``. A Caffe/PyTorch model
    with ``alpha=1e-4, size=5`` is therefore *not* the paper's LRN: use :meth:`from_caffe` to
    convert (the paper's LRN is ``alpha=5e-4`` in that convention).
    """

    def __init__(
        self,
        depth_radius: int = LRN_N // 2,
        bias: float = LRN_K,
        alpha: float = LRN_ALPHA,
        beta: float = LRN_BETA,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.depth_radius = int(depth_radius)
        self.bias = float(bias)
        self.alpha = float(alpha)
        self.beta = float(beta)

    @classmethod
    def from_caffe(
        cls, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0, **kw
    ):
        """Build from Caffe / PyTorch ``LocalResponseNorm(size, alpha, beta, k)`` arguments."""
        if size % 2 != 1:
            raise ValueError(f"LRN size must be odd to be centred, got {size}")
        return cls(depth_radius=size // 2, bias=k, alpha=alpha / size, beta=beta, **kw)

    def to_caffe(self) -> dict:
        """The same normalisation as Caffe / PyTorch ``LocalResponseNorm`` keyword arguments."""
        size = 2 * self.depth_radius + 1
        return {"size": size, "alpha": self.alpha * size, "beta": self.beta, "k": self.bias}

    def call(self, inputs):
        # tf.nn.lrn is defined for float16/bfloat16/float32; compute in float32 for stability
        # under mixed precision (the squared sum overflows float16 for large activations).
        x = tf.cast(inputs, tf.float32)
        y = tf.nn.lrn(
            x, depth_radius=self.depth_radius, bias=self.bias, alpha=self.alpha, beta=self.beta
        )
        return tf.cast(y, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            depth_radius=self.depth_radius, bias=self.bias, alpha=self.alpha, beta=self.beta
        )
        return config


@keras.saving.register_keras_serializable(package="alexnet_tf")
class TowerConv2D(keras.layers.Conv2D):
    """``Conv2D(groups=g)`` computed as ``g`` ordinary convolutions: AlexNet's GPU towers (§3.2).

    The kernel has exactly the shape and layout of ``keras.layers.Conv2D(groups=g)``
    (``[kh, kw, in_channels // g, filters]``, tower ``t`` owning output channels
    ``t*filters//g : (t+1)*filters//g``), so weights move between the two unchanged and the
    outputs are equal. Keras 3 runs ``groups > 1`` on the CPU through an XLA-compiled
    grouped convolution that is several times slower than the dense one; splitting the
    channels and running one dense convolution per tower lets the towers halve the work
    as they do on the paper's two GPUs.
    """

    def convolution_op(self, inputs, kernel):
        if self.groups == 1:
            return super().convolution_op(inputs, kernel)
        axis = -1 if self.data_format == "channels_last" else 1
        xs = tf.split(inputs, self.groups, axis=axis)
        ks = tf.split(kernel, self.groups, axis=-1)
        return tf.concat(
            [super(TowerConv2D, self).convolution_op(x, k) for x, k in zip(xs, ks, strict=True)],
            axis,
        )


@keras.saving.register_keras_serializable(package="alexnet_tf")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """Keras ``BatchNormalization(synchronized=True)`` that runs TensorFlow's fused kernel on
    one replica (not in the paper: the CIFAR-10 recipe's replacement for LRN).

    Keras 3 computes batch norm from separate ops in float32, casting bfloat16 activations up
    and back: on a 2-core CPU that took ~40% of the CIFAR-10 network's training step.
    ``FusedBatchNormV3`` (oneDNN) reads bfloat16 directly and keeps its statistics in float32.
    The weights, moving averages and results are Keras's (biased batch variance, same update
    rule); with several replicas it falls back to Keras's synchronized statistics, so every
    replica still normalises with the global batch's moments.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("synchronized", True)
        super().__init__(**kwargs)

    def _fusable(self, inputs, mask) -> bool:
        return (
            mask is None
            and len(inputs.shape) == 4
            and self.axis in (-1, 3)
            and self.center
            and self.scale
            and not self.renorm
            and tf.distribute.get_strategy().num_replicas_in_sync == 1
        )

    def call(self, inputs, training=None, mask=None):
        if not self._fusable(inputs, mask):
            return super().call(inputs, training=training, mask=mask)
        x = inputs if inputs.dtype in (tf.bfloat16, tf.float16) else tf.cast(inputs, tf.float32)
        gamma = tf.cast(self.gamma.value, tf.float32)
        beta = tf.cast(self.beta.value, tf.float32)
        if training and self.trainable:
            y, mean, variance = tf.compat.v1.nn.fused_batch_norm(
                x, gamma, beta, epsilon=self.epsilon, is_training=True
            )[:3]
            # The kernel returns the unbiased variance (n / (n - 1)); Keras keeps the biased one.
            n = tf.cast(tf.reduce_prod(tf.shape(x)[:-1]), tf.float32)
            variance = variance * (n - 1.0) / n
            m = self.momentum
            self.moving_mean.assign(self.moving_mean.value * m + mean * (1.0 - m))
            self.moving_variance.assign(self.moving_variance.value * m + variance * (1.0 - m))
        else:
            y = tf.compat.v1.nn.fused_batch_norm(
                x,
                gamma,
                beta,
                mean=tf.cast(self.moving_mean.value, tf.float32),
                variance=tf.cast(self.moving_variance.value, tf.float32),
                epsilon=self.epsilon,
                is_training=False,
            )[0]
        return tf.cast(y, self.compute_dtype)
