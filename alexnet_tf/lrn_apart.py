"""Chapter 2's variants that take §3.3's LRN constant apart on Figure 1's four-layer CNN."""

from __future__ import annotations

# With alpha 0 each LRN divides by k^beta (§3.3: k = 2, beta = 0.75) and does nothing else.
# The same network without LRN has conv1 and conv2 started k^beta smaller and taking k^2beta
# smaller loss steps (--init-scale, --grad-scale: optim.PaperSGD; tests/test_experiments.py).
# Each variant below is cnn4 without LRN under the faithful recipe, with one piece of that.
K_BETA = 2.0**0.75  # 1.68
_INIT12 = ("--init-scale", f"conv1={1 / K_BETA!r},conv2={1 / K_BETA!r}")
_STEP12 = ("--grad-scale", f"conv1={K_BETA**-2!r},conv2={K_BETA**-2!r}")
_NO_LRN = ("--recipe", "paper", "--model", "cnn4", "--norm", "none")


def _no_lrn(what: str, *flags: str, epochs: int = 8) -> tuple[str, tuple[str, ...], int]:
    return f"the four-layer CNN without LRN, {what}", (*_NO_LRN, *flags), epochs


# name: (what it changes, training-CLI flags, epochs); experiments.VARIANTS holds them.
VARIANTS = {
    "cnn4_small_init": _no_lrn("conv1 and conv2 initialised k^beta = 1.68 smaller", *_INIT12),
    "cnn4_slow_steps": _no_lrn("conv1 and conv2's loss gradient k^2beta = 2.83 smaller", *_STEP12),
    # Both: it trains as cnn4_lrn_constant does (pinned in tests/test_experiments.py).
    "cnn4_small_init_slow_steps": _no_lrn(
        "both: LRN's constant as an init and a step size", *_INIT12, *_STEP12
    ),
    # With zero biases (He init) the ReLU network is positively homogeneous: conv1 and conv2
    # started k^beta smaller are the classifier started k^2beta smaller, at init.
    "cnn4_small_logits": _no_lrn(
        "its classifier fc4 initialised k^2beta = 2.83 smaller",
        *("--init-scale", f"fc4={K_BETA**-2!r}"),
    ),
    # What the runs that match LRN share, in each layer's step on the logits (its rate times
    # the squared scales of the others): the classifier's is k^4beta = 8x smaller.
    "cnn4_slow_fc4": _no_lrn(
        "its classifier fc4's loss gradient k^4beta = 8x smaller",
        *("--grad-scale", "fc4=0.125"),
        epochs=20,
    ),
    "cnn4_lr_third": _no_lrn(
        "every layer at lr 0.0035 (§5's 0.01 / k^2beta)", "--lr", f"{0.01 * K_BETA**-2!r}"
    ),
    "cnn4_lr_eighth": _no_lrn("every layer at lr 0.00125 (§5's 0.01 / k^4beta)", "--lr", "0.00125"),
}
