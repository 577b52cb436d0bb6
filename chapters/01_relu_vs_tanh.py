# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 1. ReLU against tanh (§3.1, Figure 1)
#
# AlexNet's neurons compute $f(x) = \max(0, x)$ instead of the usual $\tanh(x)$. The paper's
# claim (§3.1): *"Deep convolutional neural networks with ReLUs train several times faster than
# their equivalents with tanh units"*. Figure 1 shows it: a four-layer CNN on CIFAR-10 reaches
# 25% **training** error **six times faster** with ReLUs, each network at its best learning
# rate, with no regularisation of any kind.
#
# We rerun that experiment with `alexnet_tf`: Figure 1's network is `cnn4` (three 5x5
# convolutions of 32, 32 and 64 kernels, each followed by 3x3/2 pooling, and a classifier: four
# layers), trained on the real CIFAR-10 with no augmentation, no weight decay, no dropout, a
# constant learning rate.
#
# `ALEXNET_FAST=1` runs everything on a tiny synthetic set in seconds (what CI does); without
# it the chapter trains on `../shared/data` (or reads back the runs it already made).

# %%
from alexnet_tf import chapter, experiments, plots

import numpy as np

s = chapter.settings()
print("FAST mode" if s.fast else f"full mode: data {s.data_dir}, runs {s.runs}")

# %% [markdown]
# ## Why ReLUs train faster: the gradient does not saturate
# tanh's derivative $1 - \tanh^2(x)$ vanishes for large $|x|$; ReLU's is 1 for every $x > 0$.

# %%
x = np.linspace(-4, 4, 401)
plt = plots._plt()
fig, ax = plt.subplots(1, 2, figsize=(9, 3.2))
ax[0].plot(x, np.tanh(x), label="tanh")
ax[0].plot(x, np.maximum(0, x), label="ReLU")
ax[0].set_title("activation")
ax[1].plot(x, 1 - np.tanh(x) ** 2, label="tanh'")
ax[1].plot(x, (x > 0).astype(float), label="ReLU'")
ax[1].set_title("derivative")
for a in ax:
    a.legend()
    a.grid(alpha=0.3)
s.save(fig, "relu_tanh_functions")

# %% [markdown]
# ## Figure 1, measured
# The two runs differ only in `--activation`; the commands are:

# %%
for name in ("cnn4_relu", "cnn4_tanh"):
    print(" ".join(experiments.command(name, f"runs/ablations/{name}", "../shared/data")[1:]))
# FAST mode trains two epochs here: the checks at the end need the loss of more than one.
relu, tanh = s.run("cnn4_relu", fast_epochs=2), s.run("cnn4_tanh", fast_epochs=2)

# %%
fig = plots.curves(
    {"ReLU": relu["history"], "tanh": tanh["history"]},
    "top1_error",
    ylabel="training error (%)",
    title="Figure 1 on CIFAR-10: four-layer CNN",
    hline=(0.25, "25% training error"),
)
s.save(fig, "relu_vs_tanh")

# %%
reach = {
    k: experiments.epochs_to_reach(m["history"], 0.25) for k, m in [("relu", relu), ("tanh", tanh)]
}
budget = len(tanh["history"])
relu_text = reach["relu"] or f"> {len(relu['history'])}"
tanh_text = reach["tanh"] or f"> {budget}"
print(f"epochs to 25% training error: ReLU {relu_text}, tanh {tanh_text}")
# A speed-up that needs no target both reach: the epochs ReLU needs to reach tanh's final error.
tanh_final = tanh["history"][-1]["top1_error"]
relu_epochs = experiments.epochs_to_reach(relu["history"], tanh_final)
print(
    f"tanh's training error after {budget} epochs: {100 * tanh_final:.1f}%; ReLU reached it in epoch {relu_epochs}"
)
if relu_epochs:
    print(f"speed-up to that error: {budget / relu_epochs:.1f}x (paper, to 25%: about 6x)")
else:
    print("ReLU did not reach it: tanh trained faster here (paper: ReLU about 6x faster)")

# %% [markdown]
# **What we measured disagrees with the paper** (full mode, 2-core CPU; chapters/RESULTS.md):
# tanh reached 25% training error in epoch 7, while ReLU was still at 30.2% after 8 epochs.
# Our setting differs from §3.1's in ways that favour tanh: both networks start from He
# initialisation, which keeps tanh units out of saturation (in 2012, small Gaussian weights
# made deep tanh nets slow), and both share one learning rate (0.01, momentum 0.9) where the
# paper tuned each network's. The experiments that would settle it, `--init paper` for both
# and a learning-rate sweep per activation, are the next step; the chapter reports what it
# measures rather than asserting the paper's number.

# %%
# Checks that hold in FAST mode too: both trained every epoch, the ReLU net's loss fell.
for m in (relu, tanh):
    assert len(m["history"]) == m["epochs_completed"] > 0
    assert all(np.isfinite(row["loss"]) for row in m["history"])
assert relu["history"][-1]["loss"] < relu["history"][0]["loss"]
if not s.fast:  # the full budgets ran (the claim itself is reported above, not asserted)
    assert len(relu["history"]) == 8 and len(tanh["history"]) == 10
