"""AlexNet builders: the paper's network (§3.5), torchvision's variant and a CIFAR-10 variant."""

from __future__ import annotations

import dataclasses

import keras

from alexnet_tf.layers import FusedBatchNormalization, LocalResponseNormalization, TowerConv2D

# Figure 2 caption: "the number of neurons in the network's remaining layers is given by
# 253,440-186,624-64,896-64,896-43,264-4096-4096-1000". The first number disagrees with the
# paper's own conv1 (96 kernels, stride 4, 55x55 maps = 290,400 neurons); no square map of
# 96 channels has 253,440 neurons (253,440 / 96 = 2,640). The others match the network.
PAPER_NEURONS = (253_440, 186_624, 64_896, 64_896, 43_264, 4096, 4096, 1000)
CONV1_NEURONS = 55 * 55 * 96  # 290,400: what conv1 really has, see above
PAPER_PARAMS = 60_965_224  # with two towers, 227x227 input and 1000 classes


@dataclasses.dataclass(frozen=True)
class ConvSpec:
    """One convolutional layer of an AlexNet-style network."""

    filters: int
    kernel: int
    stride: int = 1
    padding: str | int = "same"  # "same", "valid", or explicit zero padding in pixels
    towers: bool = False  # split across the two GPUs (§3.2); conv3 and the FC layers are not
    lrn: bool = False  # §3.3: LRN after the ReLU of conv1 and conv2
    pool: bool = False  # §3.4: max-pooling after conv1, conv2 (after LRN) and conv5
    bias_one: bool = False  # §5: "initialized the neuron biases in the second, fourth, and fifth
    # convolutional layers, as well as in the fully-connected hidden layers, with the constant 1"


@dataclasses.dataclass(frozen=True)
class Architecture:
    """Layer sizes of one AlexNet family member."""

    convs: tuple[ConvSpec, ...]
    hidden: tuple[int, ...]  # fully connected hidden layers fc6, fc7
    input_size: int
    pool_padding: str = "valid"
    num_classes: int = 1000  # ImageNet's (§2); the CIFAR-10 networks' is 10


# §3.5 and Figure 2. conv1: 96@11x11/4 on 227x227x3 (the paper says 224x224, but
# (224 - 11) / 4 + 1 is not an integer; 227 gives the 55x55 maps of Figure 2, as in Caffe).
# conv2 "256 kernels of size 5x5x48", conv3 "384 kernels of size 3x3x256" (connected to both
# towers), conv4 "384 kernels of size 3x3x192", conv5 "256 kernels of size 3x3x192",
# "fully-connected layers have 4096 neurons each".
PAPER = Architecture(
    convs=(
        ConvSpec(96, 11, stride=4, padding="valid", lrn=True, pool=True),
        ConvSpec(256, 5, towers=True, lrn=True, pool=True, bias_one=True),
        ConvSpec(384, 3),
        ConvSpec(384, 3, towers=True, bias_one=True),
        ConvSpec(256, 3, towers=True, pool=True, bias_one=True),
    ),
    hidden=(4096, 4096),
    input_size=227,
)

# torchvision's alexnet: the "one weird trick" single-column net (Krizhevsky 2014,
# arXiv:1404.5997): 64-192-384-256-256, no LRN, no towers, 224x224 input with padding 2.
ONE_WEIRD_TRICK = Architecture(
    convs=(
        ConvSpec(64, 11, stride=4, padding=2, pool=True),
        ConvSpec(192, 5, pool=True),
        ConvSpec(384, 3),
        ConvSpec(256, 3),
        ConvSpec(256, 3, pool=True),
    ),
    hidden=(4096, 4096),
    input_size=224,
)

# CIFAR-10 (32x32): the paper's design scaled to the input. Deviations, and why:
# - conv1 is 5x5 stride 1 (an 11x11/4 stem would reduce 32x32 to 6x6 before any pooling);
# - pooling is 3x3 stride 2 (overlapping, §3.4) with "same" padding: 32 -> 16 -> 8 -> 4;
# - the paper's conv widths 96-256-384-384-256 (§3.5), but FC 1024-1024: 4096 wide layers
#   would hold 20M parameters for 50,000 images. 7,561,610 parameters with 10 classes and
#   two towers (the default), 8,974,730 with one
#   (both pinned in tests). Init is He, not N(0, 0.01): see `_initializers`.
CIFAR = Architecture(
    convs=(
        ConvSpec(96, 5, lrn=True, pool=True),
        ConvSpec(256, 5, towers=True, lrn=True, pool=True, bias_one=True),
        ConvSpec(384, 3),
        ConvSpec(384, 3, towers=True, bias_one=True),
        ConvSpec(256, 3, towers=True, pool=True, bias_one=True),
    ),
    hidden=(1024, 1024),
    input_size=32,
    pool_padding="same",
    num_classes=10,
)

# CIFAR-10 with 3x3 kernels and the first pooling one layer later: conv1 and conv2 see the
# full 32x32 image (as in VGG-style CIFAR networks), conv3 16x16, conv4-conv5 8x8.
# About the forward FLOPs of CIFAR (0.429 against 0.437 GFLOP per image), spent at 2x the
# resolution. Deviations from CIFAR: 3x3 kernels in conv1/conv2 (§3.5: 11x11 and 5x5), widths
# 64-128-256-384-256 (§3.5: 96-256-384-384-256), pooling after conv2, conv3 and conv5
# (§3.4: after conv1, conv2 and conv5), conv2 in one tower (§3.2: two). Pooling stays 3x3/2,
# conv4-conv5 keep their towers, fc6-fc8 are CIFAR's. 6,511,370 parameters (6,514,634 with
# batch norm; pinned in tests). Measured (results/README.md): 87.12% in 30 epochs, 2 hours on
# the AMD host, 0.87 points under CIFAR on 28x28 crops there; not the default.
CIFAR_3X3 = Architecture(
    convs=(
        ConvSpec(64, 3, lrn=True),
        ConvSpec(128, 3, lrn=True, pool=True),
        ConvSpec(256, 3, pool=True),
        ConvSpec(384, 3, towers=True, bias_one=True),
        ConvSpec(256, 3, towers=True, pool=True, bias_one=True),
    ),
    hidden=(1024, 1024),
    input_size=32,
    pool_padding="same",
    num_classes=10,
)

# §3.1, Figure 1: "a four-layer convolutional neural network" on CIFAR-10, ReLU against tanh.
# The paper gives no sizes; these are cuda-convnet's layers-18pct convolutions (32-32-64, 5x5,
# each followed by 3/2 pooling) with one fully connected classifier: four weight layers.
FIGURE1 = Architecture(
    convs=(ConvSpec(32, 5, pool=True), ConvSpec(32, 5, pool=True), ConvSpec(64, 5, pool=True)),
    hidden=(),
    input_size=32,
    pool_padding="same",
    num_classes=10,
)

ARCHITECTURES = {
    "alexnet": PAPER,
    "alexnet_owt": ONE_WEIRD_TRICK,
    "alexnet_cifar": CIFAR,
    "alexnet_cifar_3x3": CIFAR_3X3,
    "cnn4": FIGURE1,
}


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
    overlapping_pool: bool = True,
    activation: str = "relu",
    dropout: float = 0.5,
    towers: int = 2,
    width: float = 1.0,
    init: str = "paper",
    seed: int | None = None,
    name: str | None = None,
) -> keras.Model:
    """Build an AlexNet-family network: the one builder behind every variant and ablation.

    Args:
      arch: layer sizes (:data:`PAPER`, :data:`ONE_WEIRD_TRICK`, :data:`CIFAR`) or their name.
      norm: ``"lrn"`` (§3.3, where the architecture places it), ``"batch"`` (batch norm after
        every convolution, a modern replacement) or ``"none"``.
      overlapping_pool: 3x3 windows with stride 2 (§3.4) or plain 2x2 stride 2.
      activation: ``"relu"`` (§3.1) or ``"tanh"`` (the saturating baseline of Figure 1).
      dropout: rate after fc6 and fc7 (§4.2: 0.5).
      towers: 2 splits conv2, conv4, conv5 into two towers as on the two GPUs (§3.2), 1 does not.
      width: multiplies every layer's width (kept divisible by ``towers``).
      init: ``"paper"`` (§5), ``"caffe"`` (§5 with Caffe's stabler biases), ``"he"``, ``"glorot"``.
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
        if norm == "lrn" and spec.lrn:
            x = LocalResponseNormalization(name=f"lrn{i}")(x)  # §3.3: after the ReLU
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


def cnn4(**kwargs) -> keras.Model:
    """Figure 1's four-layer CNN (:data:`FIGURE1`): three convolutions and a classifier."""
    kwargs = {"init": "he", "norm": "none", "towers": 1, **kwargs}
    return alexnet(FIGURE1, name="cnn4", **kwargs)


BUILDERS = {
    "alexnet": lambda **kw: alexnet(PAPER, name="alexnet", **kw),
    "alexnet_owt": alexnet_owt,
    "alexnet_cifar": alexnet_cifar,
    "alexnet_cifar_3x3": alexnet_cifar_3x3,
    "cnn4": cnn4,
}


def build_model(name: str, **kwargs) -> keras.Model:
    """Build a model by its CLI name (``alexnet``, ``alexnet_owt``, ``alexnet_cifar``)."""
    if name not in BUILDERS:
        raise ValueError(f"unknown model {name!r}: choose from {', '.join(BUILDERS)}")
    return BUILDERS[name](**kwargs)


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


def with_keras_groups(model: keras.Model) -> keras.Model:
    """A copy of ``model`` whose towers are native ``keras.layers.Conv2D(groups=2)`` layers.

    Same weights, same outputs: the reference that :class:`TowerConv2D` is tested and
    benchmarked against.
    """

    def clone(layer):
        if isinstance(layer, TowerConv2D):
            return keras.layers.Conv2D.from_config(layer.get_config())
        return layer.__class__.from_config(layer.get_config())

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy
