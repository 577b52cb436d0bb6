"""Figure 1's sweep (§3.1): the four-layer CNN, ReLU against tanh at each learning rate, in
three settings, and which rate trains fastest."""

from __future__ import annotations

import dataclasses

# Figure 1's setting (§3.1): no regularisation of any kind, a constant learning rate, "the
# learning rates for each network were chosen independently to make training as fast as
# possible": each activation trains at each rate of LRS (the cnn4_{relu,tanh}_lr_* variants
# of alexnet_tf.experiments).
FLAGS = ("--model", "cnn4", "--no-augment", "--weight-decay", "0", "--schedule", "constant")
FLAGS += ("--label-smoothing", "0", "--cutout", "0")
LRS = (0.00125, 0.0025, 0.005, 0.01, 0.02)  # 0.04 left ReLU at 77% error after 2 epochs
EPOCHS = 10


# Each sweep three times (chapter 1): under the recipe's He init; under §5's weights from
# N(0, 0.01) (biases 0: this net has none of the layers §5 starts at 1); and under §5's init
# on §2's inputs, "the (centered) raw RGB values" (0-255 minus the mean image), the scale at
# which the paper's N(0, 0.01) was chosen.
@dataclasses.dataclass(frozen=True)
class Setting:
    flags: tuple[str, ...]  # on top of the He-init sweep's
    words: str  # how tables and the chapter name it
    tag: str  # in its variants' names: cnn4_relu{tag}_lr_0.01


SETTINGS = {
    "he": Setting((), "He init", ""),
    "paper": Setting(("--init", "paper"), "§5's init", "_paper_init"),
    "raw": Setting(
        ("--init", "paper", "--mean", "image", "--raw-pixels"),
        "§5's init, raw pixels",
        "_raw_pixels",
    ),
}


def name(activation: str, lr: float, setting: str = "he") -> str:
    """The experiments variant of ``activation`` ("relu" or "tanh") at learning rate ``lr``,
    in ``setting`` (a key of SETTINGS)."""
    return f"cnn4_{activation}{SETTINGS[setting].tag}_lr_{lr:g}"


def names(activation: str, setting: str = "he") -> list[str]:
    """The variants of ``activation`` in ``setting``, one per rate of LRS."""
    return [name(activation, lr, setting) for lr in LRS]


def epochs_to_reach(history: list[dict], error: float, key: str = "top1_error") -> int | None:
    """The first epoch (1-based) whose ``key`` is at or below ``error``; None if none is."""
    for row in history:
        if row[key] <= error:
            return int(row["epoch"])
    return None


def fastest(runs: dict, error: float, key: str = "top1_error"):
    """The key of ``runs`` (key -> metrics with a history) that reaches ``error`` in the
    fewest epochs; among those that never do, the lowest ``key`` at the end (§3.1's "chosen
    independently to make training as fast as possible")."""

    def speed(k):
        history = runs[k]["history"]
        reached = epochs_to_reach(history, error, key)
        return (reached is None, reached or 0, history[-1][key])

    return min(runs, key=speed)
