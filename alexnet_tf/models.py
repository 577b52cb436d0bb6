"""AlexNet builders: one `alexnet(...)` over the layer tables of `architectures`."""

from __future__ import annotations

import keras

from alexnet_tf.architectures import (
    ARCHITECTURES,
    CIFAR,
    CIFAR_3X3,
    CIFAR_FC4096,
    FIGURE1,
    ONE_WEIRD_TRICK,
    PAPER,
    Architecture,
)
from alexnet_tf.layers import (
    LRN_ALPHA,
    FusedBatchNormalization,
    LocalResponseNormalization,
    TowerConv2D,
)


def _scaled(n: int, width: float, multiple: int) -> int:
    return max(multiple, int(round(n * width / multiple)) * multiple)


def _initializers(init: str, bias_one: bool, seed: int | None):
    if init == "paper":
        # §5: "We initialized the weights in each layer from a zero-mean Gaussian distribution
        # with standard deviation 0.01", biases 1 in conv2, conv4, conv5, fc6, fc7, 0 elsewhere.
        kernel = keras.initializers.RandomNormal(0.0, 0.01, seed=seed)
        return kernel, keras.initializers.Constant(1.0 if bias_one else 0.0)
    if init == "caffe":
        # Caffe's bvlc_alexnet: the paper's N(0, 0.01) but biases 0.1 instead of 1 (and
        # N(0, 0.005) for fc6/fc7, set in `alexnet`). With biases of 1 every fc7 unit starts
        # at ~1, fc8's gradient is coherent across 4096 inputs, and at lr 0.01 the loss jumps
        # from 3.3 to 13.7 in one step (measured, README); biases 0.1 avoid that.
        kernel = keras.initializers.RandomNormal(0.0, 0.01, seed=seed)
        return kernel, keras.initializers.Constant(0.1 if bias_one else 0.0)
    if init == "he":
        # Deviation for small/short runs: N(0, 0.01) makes the signal shrink layer by layer in
        # networks without the paper's 90 epochs; He init keeps activations at unit scale.
        return keras.initializers.HeNormal(seed=seed), keras.initializers.Zeros()
    if init == "glorot":
        return keras.initializers.GlorotUniform(seed=seed), keras.initializers.Zeros()
    raise ValueError(f"unknown init {init!r}: use paper, caffe, he or glorot")


def alexnet(
    arch: Architecture | str = PAPER,
    *,
    num_classes: int | None = None,
    input_size: int | None = None,
    norm: str = "lrn",
    lrn_alpha: float = LRN_ALPHA,
    overlapping_pool: bool = True,
    activation: str = "relu",
    dropout: float = 0.5,
    towers: int = 2,
    width: float = 1.0,
    init: str = "paper",
    input_scale: float = 1.0,
    seed: int | None = None,
    name: str | None = None,
) -> keras.Model:
    """Build an AlexNet-family network: the one builder behind every variant and ablation.

    Args:
      arch: layer sizes (:data:`PAPER`, :data:`ONE_WEIRD_TRICK`, :data:`CIFAR`) or their name.
      norm: ``"lrn"`` (§3.3, where the architecture places it), ``"batch"`` (batch norm after
        every convolution, a modern replacement) or ``"none"``.
      lrn_alpha: §3.3's alpha (1e-4); 0 leaves LRN its constant division by k^beta.
      overlapping_pool: 3x3 windows with stride 2 (§3.4) or plain 2x2 stride 2.
      activation: ``"relu"`` (§3.1) or ``"tanh"`` (the saturating baseline of Figure 1).
      dropout: rate after fc6 and fc7 (§4.2: 0.5).
      towers: 2 splits conv2, conv4, conv5 into two towers as on the two GPUs (§3.2), 1 does not.
      width: multiplies every layer's width (kept divisible by ``towers``).
      init: ``"paper"`` (§5), ``"caffe"`` (§5 with Caffe's stabler biases), ``"he"``, ``"glorot"``.
      input_scale: multiplies the input first (255: §2's "raw RGB values" from [0, 1] pixels).
      num_classes: fc8's width (None: the architecture's, 1,000 or 10).
    """
    if isinstance(arch, str):
        if arch not in ARCHITECTURES:
            raise ValueError(f"unknown model {arch!r}: choose from {', '.join(ARCHITECTURES)}")
        name = name or arch
        arch = ARCHITECTURES[arch]
    if norm not in ("lrn", "batch", "none"):
        raise ValueError(f"unknown norm {norm!r}: use lrn, batch or none")
    if towers not in (1, 2):
        raise ValueError(f"towers must be 1 or 2, got {towers}")
    size = input_size or arch.input_size
    pool, stride = (3, 2) if overlapping_pool else (2, 2)

    x = inputs = keras.Input((size, size, 3), name="image")
    if input_scale != 1.0:  # in the model, so evaluation and prediction see the same scale
        x = keras.layers.Rescaling(input_scale, name="input_scale")(x)
    for i, spec in enumerate(arch.convs, start=1):
        kernel_init, bias_init = _initializers(init, spec.bias_one, seed)
        groups = towers if spec.towers else 1
        padding = spec.padding
        if isinstance(padding, int):
            x = keras.layers.ZeroPadding2D(padding, name=f"pad{i}")(x)
            padding = "valid"
        x = TowerConv2D(
            _scaled(spec.filters, width, 2 * towers),
            spec.kernel,
            strides=spec.stride,
            padding=padding,
            groups=groups,
            use_bias=norm != "batch",
            kernel_initializer=kernel_init,
            bias_initializer=bias_init,
            name=f"conv{i}",
        )(x)
        if norm == "batch":
            # Synchronized: statistics over the global batch, as one device would compute them,
            # so every replica and worker holds the same moving averages (tests/multiworker);
            # TensorFlow's fused kernel on one replica (layers.py).
            x = FusedBatchNormalization(name=f"bn{i}")(x)
        x = keras.layers.Activation(activation, name=f"{activation}{i}")(x)
        if norm == "lrn" and spec.lrn:  # §3.3: after the ReLU
            x = LocalResponseNormalization(alpha=lrn_alpha, name=f"lrn{i}")(x)
        if spec.pool:
            x = keras.layers.MaxPooling2D(pool, stride, padding=arch.pool_padding, name=f"pool{i}")(
                x
            )

    x = keras.layers.Flatten(name="flatten")(x)
    for j, units in enumerate(arch.hidden, start=len(arch.convs) + 1):
        kernel_init, bias_init = _initializers(init, True, seed)
        if init == "caffe":
            kernel_init = keras.initializers.RandomNormal(0.0, 0.005, seed=seed)
        x = keras.layers.Dense(
            _scaled(units, width, 2),
            activation=activation,
            kernel_initializer=kernel_init,
            bias_initializer=bias_init,
            name=f"fc{j}",
        )(x)
        if dropout:
            x = keras.layers.Dropout(dropout, seed=seed, name=f"dropout{j}")(x)  # §4.2
    # The classifier keeps §5's N(0, 0.01) under every init: small logits, initial loss ln(C).
    kernel_init, bias_init = _initializers("paper", False, seed)
    logits = keras.layers.Dense(
        num_classes or arch.num_classes,
        kernel_initializer=kernel_init,
        bias_initializer=bias_init,
        dtype="float32",  # logits in float32 under mixed precision
        name=f"fc{len(arch.convs) + len(arch.hidden) + 1}",
    )(x)
    return keras.Model(inputs, logits, name=name or "alexnet")


def alexnet_owt(**kwargs) -> keras.Model:
    """torchvision's AlexNet ("one weird trick"): 64-192-384-256-256, no LRN, no towers."""
    kwargs = {"norm": "none", "towers": 1, "init": "he", **kwargs}
    return alexnet(ONE_WEIRD_TRICK, name="alexnet_owt", **kwargs)


def alexnet_cifar(**kwargs) -> keras.Model:
    """The CIFAR-10 variant for 32x32 inputs (see :data:`CIFAR` for its deviations)."""
    kwargs = {"init": "he", **kwargs}
    return alexnet(CIFAR, name="alexnet_cifar", **kwargs)


def alexnet_cifar_3x3(**kwargs) -> keras.Model:
    """The CIFAR-10 variant with 3x3 kernels and full-resolution conv1-conv2 (:data:`CIFAR_3X3`)."""
    kwargs = {"init": "he", **kwargs}
    return alexnet(CIFAR_3X3, name="alexnet_cifar_3x3", **kwargs)


def alexnet_cifar_fc4096(**kwargs) -> keras.Model:
    """The CIFAR-10 variant with §3.5's 4096-wide fc6 and fc7 (:data:`CIFAR_FC4096`)."""
    kwargs = {"init": "he", **kwargs}
    return alexnet(CIFAR_FC4096, name="alexnet_cifar_fc4096", **kwargs)


def cnn4(**kwargs) -> keras.Model:
    """Figure 1's four-layer CNN (:data:`FIGURE1`): three convolutions and a classifier."""
    kwargs = {"init": "he", "norm": "none", "towers": 1, **kwargs}
    return alexnet(FIGURE1, name="cnn4", **kwargs)


BUILDERS = {
    "alexnet": lambda **kw: alexnet(PAPER, name="alexnet", **kw),
    "alexnet_owt": alexnet_owt,
    "alexnet_cifar": alexnet_cifar,
    "alexnet_cifar_3x3": alexnet_cifar_3x3,
    "alexnet_cifar_fc4096": alexnet_cifar_fc4096,
    "cnn4": cnn4,
}


def build_model(name: str, **kwargs) -> keras.Model:
    """Build a model by its CLI name (``alexnet``, ``alexnet_owt``, ``alexnet_cifar``)."""
    if name not in BUILDERS:
        raise ValueError(f"unknown model {name!r}: choose from {', '.join(BUILDERS)}")
    return BUILDERS[name](**kwargs)


def scale_layers(model: keras.Model, scales: dict[str, float]) -> None:
    """Multiply the weights of each named layer by its factor (``--init-scale``, at init);
    ValueError names a layer the model lacks."""
    check_layers(model, *scales)
    for name, x in scales.items():
        for v in model.get_layer(name).weights:
            v.assign(v * x)


def check_layers(model: keras.Model, *names: str) -> None:
    """ValueError (listing the layers that have weights) unless ``model`` has every layer."""
    have = [layer.name for layer in model.layers if layer.weights]
    for name in names:
        if name not in have:
            raise ValueError(f"{model.name} has no layer {name!r}: it has {', '.join(have)}")


def neuron_counts(model: keras.Model) -> list[int]:
    """Neurons per layer as in Figure 2's caption: conv1..conv5 and fc6..fc8 output sizes."""
    counts = []
    for layer in model.layers:
        if layer.name.startswith(("conv", "fc")):
            shape = layer.output.shape[1:]
            n = 1
            for d in shape:
                n *= int(d)
            counts.append(n)
    return counts


def image_dependence(model: keras.Model, images) -> dict[str, float]:
    """How much of each layer's output depends on the image, conv1..conv5 (before their
    activation) and fc6..fc8: its standard deviation across ``images`` over its mean
    magnitude, averaged over units. Near 0 the layer answers every image alike (its biases
    swamp the signal), so the loss cannot tell the layers below it anything: what §5's
    N(0, 0.01) with biases of 1 does to the CIFAR variant at init (results/README.md)."""
    import numpy as np

    names = [layer.name for layer in model.layers if layer.name.startswith(("conv", "fc"))]
    probe = keras.Model(model.input, [model.get_layer(n).output for n in names])
    outputs = probe(images, training=False)
    share = {}
    for name, out in zip(names, outputs, strict=True):
        out = np.asarray(out, np.float32).reshape(len(out), -1)
        share[name] = float(out.std(axis=0).mean() / (np.abs(out).mean() + 1e-12))
    return share


def lrn_inhibition(model: keras.Model, images) -> dict[str, float]:
    """How much each LRN layer does beyond a constant scale, on ``images``: one less the median,
    over positive activities a, of its output over a / k^beta, the output when the neighbours'
    energy alpha * sum a^2 is nothing next to k. 0: the layer only multiplies by 2^-0.75 = 0.59
    and the kernels do not compete. §3.3's k = 2, n = 5, alpha = 1e-4 make the sum matter at
    activities of order sqrt(k / (n alpha)) = 63 (chapter 2)."""
    import numpy as np

    norms = [layer for layer in model.layers if isinstance(layer, LocalResponseNormalization)]
    if not norms:
        return {}
    probe = keras.Model(model.input, [[la.input, la.output] for la in norms])
    share = {}
    for layer, (a, b) in zip(norms, probe(images, training=False), strict=True):
        a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
        positive = a > 0
        ratio = b[positive] / (a[positive] / layer.bias**layer.beta)
        share[layer.name] = float(1 - np.median(ratio))
    return share


def lrn_as_constant(model: keras.Model) -> keras.Model:
    """A copy of ``model`` with the same weights whose LRN layers keep only their constant part:
    alpha = 0, so each divides by k^beta and no kernel inhibits another. Evaluated against the
    model itself, it shows what §3.3's competition contributes to what a network learned."""

    def clone(layer):
        config = layer.get_config()
        if isinstance(layer, LocalResponseNormalization):
            config["alpha"] = 0.0
        return layer.__class__.from_config(config)

    return _rebuilt(model, clone)


def with_keras_groups(model: keras.Model) -> keras.Model:
    """A copy of ``model`` whose towers are native ``keras.layers.Conv2D(groups=2)`` layers.

    Same weights, same outputs: the reference that :class:`TowerConv2D` is tested and
    benchmarked against.
    """

    def clone(layer):
        if isinstance(layer, TowerConv2D):
            return keras.layers.Conv2D.from_config(layer.get_config())
        return layer.__class__.from_config(layer.get_config())

    return _rebuilt(model, clone)


def _rebuilt(model: keras.Model, clone) -> keras.Model:
    """A copy of ``model`` with each layer made by ``clone(layer)``, holding the same weights."""
    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy
