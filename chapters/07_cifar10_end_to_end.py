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
# accuracy in under two hours on a 2-core CPU. It is not there yet: 88.75% in 114 minutes
# (89.88% with §4.1's ten patches), 72 epochs of §4.1's 28x28 crops fitted to a 115-minute
# budget on a Xeon with AMX (bfloat16); a Xeon without AMX fits 32 epochs and gets 87.88%.
# The same with a 12x12 cutout square (`--cutout 12`) got 89.17%, with 16x16 89.15%: not the
# preset, which also serves hosts that fit 32-42 epochs, where a larger square lost.
# `results/README.md` measures each of its deviations from the paper. This chapter reads
# that run back (in FAST mode it makes a tiny one).

# %%
import json
from pathlib import Path

from alexnet_tf import chapter, evaluate, plots, predict, train
from alexnet_tf.config import TrainConfig

import numpy as np
import tensorflow as tf

s = chapter.settings()
if s.fast:  # a tiny run to read back
    tiny = TrainConfig(
        dataset="synthetic", epochs=2, num_examples=64, batch_size=32, precision="float32"
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
# the run's view: the centre 28x28 patch for the default recipe, less its mean
source, views = evaluate.test_view(s.main_run, model, config, data_dir=s.data_dir, batch_size=200)
images = np.stack([x for x, _ in source.test.as_numpy_iterator()])
labels = np.array([int(y) for _, y in source.test.as_numpy_iterator()])
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

# %% [markdown]
# ## Photos it never saw
# `alexnet_tf.predict` (`python -m alexnet_tf.predict --workdir W photo.jpg`) classifies image
# files through the run's own evaluation view: a photo's central square, shrunk to 32x32 as
# CIFAR-10's images are, then the centre patch the network was tested on. Imagenette's
# validation images are ImageNet photos, and two of its classes are CIFAR-10 classes in
# another dataset's clothes: English springers (`dog`) and garbage trucks (`truck`).

# %%
if s.fast:  # random PNG files stand in for the photos
    folder = s.main_run / "photos"
    folder.mkdir(exist_ok=True)
    photos = {"class_0000": [], "class_0001": []}  # two of the synthetic classes
    for i in range(4):
        path = folder / f"photo{i}.png"
        pixels = tf.random.stateless_uniform([48, 40, 3], [i, 7], 0, 256, tf.int32)
        tf.io.write_file(str(path), tf.io.encode_png(tf.cast(pixels, tf.uint8)))
        photos[f"class_{i % 2:04d}"].append(path)
else:
    val = Path(s.data_dir) / "imagenette2-224" / "val"
    photos = {
        "dog": sorted((val / "n02102040").glob("*.JPEG")),  # English springer
        "truck": sorted((val / "n03417042").glob("*.JPEG")),  # garbage truck
    }
paths = [p for group in photos.values() for p in group]
names, probs = predict.classify(s.main_run, paths)
called = [names[k] for k in probs.argmax(-1)]
shown, start = [], 0  # the first 8 photos of each group; where the group starts in paths
for expected, group in photos.items():
    mine = called[start : start + len(group)]
    others = {n: mine.count(n) for n in sorted(set(mine) - {expected})}
    share = mine.count(expected) / len(group)
    print(f"{len(group)} {expected} photos: {100 * share:.1f}% called {expected}", others)
    shown += range(start, start + min(8, len(group)))
    start += len(group)
fig = plots.image_grid(
    [predict.read_image(str(paths[i])).numpy() for i in shown],
    [f"{called[i]} {probs[i].max():.2f}" for i in shown],
    ncols=8,
    title="ImageNet photos through the CIFAR-10 model: its top class",
)
s.save(fig, "cifar10_model_on_imagenet_photos")
assert np.allclose(probs.sum(-1), 1, atol=1e-4) and probs.shape == (len(paths), len(names))

# %%
assert len(history) == metrics["epochs_completed"] >= 1
assert history[-1]["loss"] < history[0]["loss"]
if not s.fast:  # a regression guard: the default run measured 87.88-88.75% (the goal is 90%)
    assert 1 - metrics["top1_error"] >= 0.865
