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
# # 5. Dropout (§4.2)
#
# In fc6 and fc7 every hidden neuron's output is set to zero with probability 0.5 while
# training, so *"the neural network samples a different architecture"* at each step and a
# neuron *"cannot rely on the presence of particular other neurons"*. At test time *"we use
# all the neurons but multiply their outputs by 0.5"*. The claim: *"Without dropout, our
# network exhibits substantial overfitting. Dropout roughly doubles the number of iterations
# required to converge."*

# %%
from alexnet_tf import chapter, plots

import keras
import numpy as np

s = chapter.settings()

# %% [markdown]
# ## The paper's dropout and Keras' inverted dropout agree in expectation
# The paper keeps the kept units unscaled while training and multiplies by 0.5 at test time.
# Keras (like every modern framework) scales the kept units by $1/(1-p) = 2$ while training
# and does nothing at test time. The ratio between training and test outputs is the same, so
# the two networks are the same up to a factor 2 absorbed by the next layer's weights.

# %%
rng = np.random.default_rng(0)
x = rng.uniform(0, 1, size=(1, 4096)).astype(np.float32)  # fc6's output after ReLU
layer = keras.layers.Dropout(0.5, seed=0)
draws = layer(np.repeat(x, 2000, axis=0), training=True).numpy()  # 2000 masks, one per row
inverted_mean, inverted_test = draws.mean(0), layer(x, training=False).numpy()[0]
paper_draws = draws / 2  # the paper's training output: kept units unscaled
paper_mean, paper_test = paper_draws.mean(0), 0.5 * x[0]
print("Keras: E[train output] / test output =", np.median(inverted_mean / inverted_test).round(3))
print("paper: E[train output] / test output =", np.median(paper_mean / paper_test).round(3))
print("share of units zeroed per draw:", (draws == 0).mean().round(3))
assert abs((draws == 0).mean() - 0.5) < 0.01
assert np.allclose(inverted_mean, inverted_test, rtol=0.1)  # E[train] = test, per unit
assert np.allclose(paper_mean, paper_test, rtol=0.1)

# %% [markdown]
# ## With and without dropout
# 5,000 CIFAR-10 images, 8 epochs, the default recipe (without cutout, at §5's lr 0.01, as in
# chapter 4) with dropout 0.5 (§4.2) and with none.

# %%
with_, without = s.run("small"), s.run("small_no_dropout")
runs = {}
for name, m in (("dropout 0.5", with_), ("no dropout", without)):
    runs[f"{name} (train)"] = [{**r, "err": r["top1_error"]} for r in m["history"]]
    runs[f"{name} (test)"] = [{**r, "err": r["val_top1_error"]} for r in m["history"]]
fig = plots.curves(
    runs, "err", ylabel="top-1 error (%)", title="CIFAR-10, 5,000 images: §4.2 ablation"
)
s.save(fig, "dropout_ablation")
for name, m in (("dropout 0.5", with_), ("no dropout", without)):
    last = m["history"][-1]
    print(
        f"{name:12s} train error {100 * last['top1_error']:.1f}%, test error {100 * last['val_top1_error']:.1f}%, gap {100 * (last['val_top1_error'] - last['top1_error']):.1f} points"
    )

# %%
assert len(with_["history"]) == len(without["history"]) >= 1
