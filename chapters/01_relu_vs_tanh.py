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
from alexnet_tf import chapter, data, evaluate, experiments, plots

import keras
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
# ## Figure 1, measured: each network at its own best learning rate
# §3.1: *"The learning rates for each network were chosen independently to make training as
# fast as possible."* So both networks train at every rate of `experiments.FIGURE1_LRS`
# (10 epochs each), and each activation keeps its fastest: the rate that reaches 25% training
# error in the fewest epochs (where none does, the lowest training error at the end;
# `experiments.fastest`). The runs differ only in `--activation` and `--lr`; the commands are:

# %%
# FAST mode: two of the rates, two epochs each (the checks at the end need more than one).
lrs = (0.005, 0.01) if s.fast else experiments.FIGURE1_LRS
sweep = {"relu": {}, "tanh": {}}
for act, runs in sweep.items():
    for lr in lrs:
        name = experiments.figure1_name(act, lr)
        print(" ".join(experiments.command(name, f"runs/ablations/{name}", "../shared/data")[1:]))
        runs[lr] = s.run(name, fast_epochs=2)

# %% [markdown]
# Each rate's epochs to 25% training error and its training error after the last epoch:

# %%
best = {act: experiments.fastest(runs, 0.25) for act, runs in sweep.items()}
print("activation  lr       epochs to 25%  final training error")
for act, runs in sweep.items():
    for lr, m in runs.items():
        reached = experiments.epochs_to_reach(m["history"], 0.25)
        mark = "  <- fastest" if lr == best[act] else ""
        print(
            f"{act:10}  {lr:<7g}  {reached or '-':>13}  {100 * m['history'][-1]['top1_error']:19.1f}%{mark}"
        )

# %%
fig, ax = plots.panels(2, figsize=(13.0, 4.4))
relu, tanh = sweep["relu"][best["relu"]], sweep["tanh"][best["tanh"]]
plots.curves(
    {f"ReLU, lr {best['relu']:g}": relu["history"], f"tanh, lr {best['tanh']:g}": tanh["history"]},
    "top1_error",
    ylabel="training error (%)",
    title="Figure 1 on CIFAR-10: each at its fastest rate",
    hline=(0.25, "25% training error"),
    ax=ax[0],
)
for act, runs in sweep.items():  # the right panel: where each activation's best rate lies
    final = [100 * m["history"][-1]["top1_error"] for m in runs.values()]
    ax[1].plot(list(runs), final, marker="o", label={"relu": "ReLU", "tanh": "tanh"}[act])
ax[1].axhline(25, color="grey", lw=1, ls=":", label="25% training error")
ax[1].set(xscale="log", xlabel="learning rate", title="every rate: the last epoch's error")
ax[1].set_xticks(lrs, [f"{lr:g}" for lr in lrs], minor=False)
ax[1].minorticks_off()
ax[1].set_ylabel("training error (%)")
ax[1].grid(alpha=0.3)
ax[1].legend()
s.save(fig, "relu_vs_tanh")

# %%
reach = {
    k: experiments.epochs_to_reach(m["history"], 0.25) for k, m in [("relu", relu), ("tanh", tanh)]
}
budget = len(tanh["history"])
relu_text = reach["relu"] or f"> {len(relu['history'])}"
tanh_text = reach["tanh"] or f"> {budget}"
print(f"epochs to 25% training error, each at its fastest rate: ReLU {relu_text}, tanh {tanh_text}")
if reach["relu"] and reach["tanh"]:
    print(f"ReLU's speed-up: {reach['tanh'] / reach['relu']:.1f}x (paper: about 6x)")
# A speed-up that needs no target both reach: the epochs ReLU needs to reach tanh's final error.
tanh_final = tanh["history"][-1]["top1_error"]
relu_epochs = experiments.epochs_to_reach(relu["history"], tanh_final)
print(f"tanh's training error after {budget} epochs: {100 * tanh_final:.1f}%")
if relu_epochs:
    print(f"ReLU reached it in epoch {relu_epochs}: {budget / relu_epochs:.1f}x faster")
else:
    print(f"ReLU did not reach it in {len(relu['history'])} epochs: tanh trained faster here")

# %% [markdown]
# ## Is tanh saturated here?
# §3.1's explanation is saturation: where $|\tanh(x)|$ nears 1 its derivative nears 0, and
# the gradient reaching the layers below shrinks. Each trained network's units on 500 test
# images: the mean derivative (what a unit passes back per unit of gradient: $1 - \tanh^2$
# for tanh, 1 or 0 for ReLU) and, for tanh, the share of units beyond $|0.9|$ (derivative
# under 0.19).

# %%
workdirs = {act: s.runs / experiments.figure1_name(act, best[act]) for act in ("relu", "tanh")}
config = experiments.load(workdirs["relu"])["config"]  # both trained on the same images
source = data.load_source(
    config["dataset"], s.data_dir, image_size=32, num_examples=config.get("num_examples")
)
x, _ = next(iter(data.eval_pipeline(source, 500, image_size=32)))
for act, workdir in workdirs.items():
    model = evaluate.load_trained(workdir)[0]
    names = [f"{act}{i}" for i in (1, 2, 3)]
    outputs = keras.Model(model.input, [model.get_layer(n).output for n in names])(x)
    for name, a in zip(names, outputs, strict=True):
        a = np.asarray(a)
        slope = 1 - a**2 if act == "tanh" else (a > 0).astype(float)
        extra = f", {100 * (np.abs(a) > 0.9).mean():4.1f}% beyond |0.9|" if act == "tanh" else ""
        print(f"{name}: mean derivative {slope.mean():.2f}{extra}")
        assert 0 <= slope.mean() <= 1

# %% [markdown]
# **What we measured disagrees with the paper, under the paper's protocol** (full mode, a
# 2-core AMD EPYC, float32; chapters/RESULTS.md). Each network at its fastest of five rates
# (0.00125 to 0.02): tanh reached 25% training error in epoch 6 (lr 0.01), ReLU in epoch 9
# (lr 0.0025). tanh trained 1.5x faster, where the paper has ReLU about 6x faster. ReLU's best
# rate is a quarter of tanh's: at tanh's 0.01 it still had 29.0% training error after 10
# epochs.
#
# The saturation §3.1 blames is there: after training, 55% of tanh2's and tanh3's units are
# beyond |0.9|, and their mean derivative is 0.30. But the ReLUs pass no more gradient on
# average: relu2 is positive for 40% of its units and relu3 for 18%. Against 2012, both of our
# networks start from He initialisation on per-channel standardised inputs, and cuda-convnet's
# CIFAR-10 net, whose convolutions `cnn4` borrows, also normalised its responses. One seed per
# rate. The chapter reports what it measures rather than asserting the paper's number.

# %%
# Checks that hold in FAST mode too: every run trained every epoch, the ReLU nets' loss fell.
for runs in sweep.values():
    for m in runs.values():
        assert len(m["history"]) == m["epochs_completed"] > 0
        assert all(np.isfinite(row["loss"]) for row in m["history"])
assert all(m["history"][-1]["loss"] < m["history"][0]["loss"] for m in sweep["relu"].values())
assert set(best) == {"relu", "tanh"} and all(best[a] in lrs for a in best)
if not s.fast:  # the full budgets ran (the claim itself is reported above, not asserted)
    assert all(
        len(m["history"]) == experiments.FIGURE1_EPOCHS for r in sweep.values() for m in r.values()
    )
