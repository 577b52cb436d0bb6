"""The training command line: every TrainConfig field as a flag, with the paper's defaults."""

from __future__ import annotations

import argparse
import dataclasses

from alexnet_tf import cli
from alexnet_tf.config import TrainConfig


def build_parser():
    c = TrainConfig()
    p = cli.Parser(
        prog="python -m alexnet_tf.train", description="Train AlexNet (Krizhevsky et al. 2012)."
    )
    p.add_argument(
        "--dataset", default=c.dataset, help="cifar10 | imagenet2012 | folder | synthetic"
    )
    p.add_argument("--data-dir", help="where the data is (default: $ALEXNET_DATA_DIR)")
    p.add_argument(
        "--model",
        help="alexnet (the paper's) | alexnet_owt | alexnet_cifar (cifar10) | alexnet_cifar_3x3 "
        "| alexnet_cifar_fc4096 (§3.5's 4096-wide fc6-fc7) | cnn4 (Fig. 1)",
    )
    p.add_argument("--epochs", type=int)
    p.add_argument(
        "--time-budget",
        type=float,
        metavar="MINUTES",
        help="wall-clock budget (evaluations included; 0: none): after each epoch the run plans "
        "how many epochs fit at its pace so far (at most --epochs), ends the cosine schedule "
        "there and stops (cifar10: 115)",
    )
    p.add_argument("--steps-per-epoch", type=int, help="cap on steps per epoch, for smoke runs")
    p.add_argument("--batch-size", type=int, default=c.batch_size, help="global batch (§5: 128)")
    p.add_argument("--eval-batch-size", type=int)
    p.add_argument("--lr", type=float, help="peak learning rate (§5: 0.01)")
    p.add_argument("--momentum", type=float, default=c.momentum)
    p.add_argument("--weight-decay", type=float, default=c.weight_decay)
    p.add_argument(
        "--schedule", help="plateau (§5: lr/10 when val error stalls) | cosine | constant"
    )
    p.add_argument("--warmup-epochs", type=float)
    p.add_argument("--label-smoothing", type=float, default=c.label_smoothing)
    p.add_argument(
        "--ema",
        type=float,
        default=c.ema,
        help="evaluate and save an exponential moving average of the weights with this decay, "
        "e.g. 0.999 (default 0: the weights as trained)",
    )
    p.add_argument(
        "--ema-bn-batches",
        type=int,
        default=c.ema_bn_batches,
        help="with --ema: recompute batch norm's statistics for the average from this many "
        f"training batches before evaluating or saving it (default {c.ema_bn_batches}; 0: keep "
        "the trained weights')",
    )
    p.add_argument("--norm", help="lrn (§3.3) | batch | none")
    p.add_argument(
        "--lrn-alpha",
        type=float,
        default=c.lrn_alpha,
        help="§3.3's LRN alpha (1e-4); 0 leaves each LRN its constant division by k^beta",
    )
    p.add_argument("--towers", type=int, default=c.towers, help="2 (§3.2) or 1")
    p.add_argument("--dropout", type=float, default=c.dropout)
    p.add_argument("--init", help="paper (§5) | caffe (§5, biases 0.1) | he | glorot")
    for flag, what in (
        ("--init-scale", "multiply these layers' initial kernels and biases"),
        ("--grad-scale", "multiply the loss gradient of these layers' variables (a per-layer "
         "learning rate that leaves §5's weight decay term as it is)"),
    ):  # fmt: skip
        p.add_argument(
            flag, type=layer_scales, default={}, metavar="LAYER=X[,LAYER=X]",
            help=f"{what}, e.g. conv1=0.5,conv2=0.5 (not §5; chapter 2)",
        )  # fmt: skip
    p.add_argument(
        "--whiten",
        action="store_true",
        help="set conv1 to whiten the patches of a few training batches and freeze it, in "
        "place of §5's learned conv1 (Jordan 2024's airbench; a faster start, but 1.75 points "
        "under at 2 hours on CIFAR-10: results/README.md)",
    )
    p.add_argument(
        "--recipe",
        default=c.recipe,
        help="default | paper (the faithful §5 recipe: LRN, lr 0.01 divided by 10 on plateau)",
    )
    p.add_argument("--pooling", default=c.pooling, help="overlapping (§3.4: 3x3/2) | plain (2x2/2)")
    p.add_argument("--activation", default=c.activation, help="relu (§3.1) | tanh")
    p.add_argument(
        "--no-augment",
        dest="augment",
        action="store_false",
        help="train on the centre view only, without §4.1's random crops and flips",
    )
    p.add_argument(
        "--cutout",
        type=int,
        help="zero a random NxN square of each training image (0: off; DeVries & Taylor 2017)",
    )
    p.add_argument(
        "--alternating-flip",
        action="store_true",
        help="mirror each training image in every other epoch, in place of §4.1's random flips "
        "(Jordan 2024, arXiv:2404.00498)",
    )
    p.add_argument(
        "--image-size",
        type=int,
        help="the model's input side (CIFAR-10 below 32: §4.1's random crops of that size)",
    )
    p.add_argument("--num-classes", type=int)
    p.add_argument("--num-examples", type=int, help="synthetic data: training examples")
    p.add_argument(
        "--pca-lighting",
        action=argparse.BooleanOptionalAction,
        help="§4.1 PCA colour augmentation (default: on, except on synthetic data)",
    )
    p.add_argument("--mean", default=c.mean, help="channel | image (§2: the mean image) | none")
    p.add_argument(
        "--raw-pixels",
        action="store_true",
        help="§2's 'raw RGB values': pixels in 0-255 in place of [0, 1] (with --mean image|none)",
    )
    p.add_argument(
        "--strategy",
        default=c.strategy,
        help="auto | mirrored | one_device | multi_worker (the cluster in $TF_CONFIG)",
    )
    p.add_argument("--devices", type=int, help="split the GPU or CPU into N logical devices")
    p.add_argument(
        "--precision",
        default=c.precision,
        help="float32 | mixed_bfloat16 | mixed_float16 | auto (bf16 where it trains faster)",
    )
    p.add_argument("--xla", dest="jit_compile", action="store_true", help="compile with XLA")
    p.add_argument("--seed", type=int, default=c.seed)
    p.add_argument(
        "--checkpoint-steps",
        type=int,
        default=c.checkpoint_steps,
        help="also checkpoint every N steps, for long epochs (default 0: at epoch ends only)",
    )
    p.add_argument(
        "--deterministic",
        action="store_true",
        help="op determinism on top of the seeds: reruns give bit-identical weights",
    )
    p.add_argument("--workdir", help="checkpoints, logs and results (default runs/DATASET-MODEL)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def layer_scales(text: str) -> dict[str, float]:
    """``"conv1=0.5,conv2=0.25"`` as ``{"conv1": 0.5, "conv2": 0.25}`` (argparse's type)."""
    scales = {}
    for item in filter(None, text.split(",")):
        layer, _, x = item.partition("=")
        try:
            scales[layer.strip()] = float(x)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{item!r} is not LAYER=NUMBER (e.g. conv1=0.5)"
            ) from None
        if not layer.strip():
            raise argparse.ArgumentTypeError(f"{item!r} names no layer (e.g. conv1=0.5)")
    return scales


def config_from_args(args) -> TrainConfig:
    """The :class:`TrainConfig` of parsed ``args`` (flags that are not fields are dropped)."""
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in vars(args).items() if k in fields})
