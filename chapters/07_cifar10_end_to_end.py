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

# %%

# %% [markdown]
# # 7. Training the CIFAR-10 AlexNet end to end
#
# Everything so far comes together in one command:
#
# ```
# python -m alexnet_tf.train --dataset cifar10 --data-dir ../shared/data --workdir runs/cifar10-default
# ```
#
# The CIFAR-10 preset keeps AlexNet's design (five convolutions, three fully connected layers,
# ReLU, overlapping pooling, dropout, two towers) with a recipe built to reach 90% test
# accuracy in under two hours on a 2-core CPU. It is not there yet: 88.78% in 114 minutes
# (89.58% with §4.1's ten patches), 54 epochs fitted to a 115-minute budget. `results/README.md` measures each of its deviations
# from the paper. This chapter reads that run back (in FAST mode it makes a tiny one).

# %%
import json

import numpy as np

from alexnet_tf import chapter, data, evaluate, plots, train
from alexnet_tf.config import TrainConfig

s = chapter.settings()
if s.fast:  # a tiny run to read back
    tiny = TrainConfig(
        dataset="synthetic", epochs=2, num_examples=256, batch_size=32, precision="float32"
    )
    train.train_and_evaluate(tiny, str(s.main_run), verbose=False)

# %%
metrics = json.loads((s.main_run / "metrics.json").read_text())
history = metrics["history"]
print(
    f"{metrics['model']} on {metrics['dataset']}: {metrics['epochs_completed']} epochs, "
    f"{metrics['elapsed_seconds'] / 60:.1f} minutes, {metrics['images_per_second']:.0f} images/s"
)
print(
    f"test top-1 accuracy {100 * (1 - metrics['top1_error']):.2f}%, top-5 {100 * (1 - metrics['top5_error']):.2f}%"
)

# %% [markdown]
# ## Learning curves

# %%
curves = {
    "train": [{**r, "acc": 1 - r["top1_error"]} for r in history],
    "test": [{**r, "acc": 1 - r["val_top1_error"]} for r in history],
}
fig = plots.curves(
    curves, "acc", ylabel="top-1 accuracy (%)", title="CIFAR-10 AlexNet, default recipe"
)
s.save(fig, "cifar10_learning_curves")
fig = plots.curves(
    {"test": curves["test"]},
    "acc",
    x="elapsed_seconds",
    ylabel="test top-1 accuracy (%)",
    title="time to accuracy (2-core CPU)",
    hline=(0.9, "90%"),
)
s.save(fig, "cifar10_accuracy_vs_time")
reached = next((r for r in history if r["val_top1_error"] <= 0.10), None)
print(
    "90% test accuracy:",
    f"epoch {int(reached['epoch'])}, {reached['elapsed_seconds'] / 60:.1f} min"
    if reached
    else "not reached",
)

# %% [markdown]
# ## Where it errs: the confusion matrix

# %%
model, config = evaluate.load_trained(s.main_run)
source = data.load_source(
    config["dataset"],
    s.data_dir or config.get("data_dir"),
    image_size=32,
    num_examples=config.get("num_examples"),
)
images = np.stack([x for x, _ in source.test.as_numpy_iterator()])
labels = np.array([int(y) for _, y in source.test.as_numpy_iterator()])
views = data.eval_pipeline(source, 200, image_size=32, mean=config.get("mean", "channel"))
predicted = np.concatenate([np.argmax(model.predict_on_batch(x), -1) for x, _ in views])
fig, matrix = plots.confusion(
    labels,
    predicted,
    list(source.class_names)[: max(labels.max(), predicted.max()) + 1],
    title="CIFAR-10 test set: true vs predicted",
)
s.save(fig, "cifar10_confusion")
print(f"accuracy from the matrix: {100 * np.trace(matrix) / matrix.sum():.2f}%")
assert matrix.sum() == len(labels) == source.num_test
assert abs(np.trace(matrix) / matrix.sum() - (1 - metrics["top1_error"])) < 0.01

# %% [markdown]
# ## Misclassified examples

# %%
wrong = np.flatnonzero(predicted != labels)[:24]
titles = [f"{source.class_names[labels[i]]}\n→ {source.class_names[predicted[i]]}" for i in wrong]
fig = plots.image_grid(
    images[wrong], titles, ncols=8, title="misclassified test images (true → predicted)"
)
s.save(fig, "cifar10_misclassified")

# %%
assert len(history) == metrics["epochs_completed"] >= 1
assert history[-1]["loss"] < history[0]["loss"]
if not s.fast:  # a regression guard: the default run measured 88.78% (the goal is 90%)
    assert 1 - metrics["top1_error"] >= 0.875
