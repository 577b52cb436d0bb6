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
# # 6. The whole network, on two GPUs (§3.2, §3.5, Figure 2)
#
# AlexNet did not fit on one 3 GB GTX 580, so §3.2 spreads it over two: half of each layer's
# kernels on each GPU, and *"the GPUs communicate only in certain layers"*: conv3 and the
# fully connected layers see both halves; conv2, conv4 and conv5 see only their own GPU's
# half. Today those towers are **grouped convolutions** (`groups=2`), and spreading a model
# over devices is `tf.distribute`. This chapter builds the ImageNet network, checks Figure 2's
# numbers, runs it on two devices, and looks at what each tower's conv1 learns (Figure 3).

# %%
from alexnet_tf import chapter, distribute, evaluate, flops, models, plots, train
from alexnet_tf.config import TrainConfig

import numpy as np
import tensorflow as tf

s = chapter.settings()
devices = distribute.split_devices(2)  # before TensorFlow starts: 2 GPUs, or 2 logical CPUs
print("two devices:", devices)

# %% [markdown]
# ## Figure 2, layer by layer
# The caption's neuron counts are 253,440-186,624-64,896-64,896-43,264-4096-4096-1000. The
# first is a slip: conv1's output is 55x55x96 = **290,400** (253,440 would be 55x48x96).

# %%
model = models.build_model("alexnet")
print(flops.layer_table(model))
counts = models.neuron_counts(model)
print("neurons:", counts)
print(f"parameters: {model.count_params():,}")
assert counts == [290_400, 186_624, 64_896, 64_896, 43_264, 4096, 4096, 1000]
assert model.count_params() == 60_965_224

# %% [markdown]
# ## The towers are grouped convolutions
# conv2's kernel is 5x5x**48**x256: each of its kernels sees only the 48 channels of its own
# tower. Our `TowerConv2D` runs one dense convolution per tower (faster than
# `Conv2D(groups=2)` on CPUs, BENCHMARKS.md) with the same weights and outputs:

# %%
print("conv2 kernel:", model.get_layer("conv2").kernel.shape)
reference = models.with_keras_groups(model)
x = tf.random.stateless_uniform([1, 227, 227, 3], [1, 2])
diff = float(tf.reduce_max(tf.abs(model(x) - reference(x))))
print("max |towers - Conv2D(groups=2)| =", diff)
assert model.get_layer("conv2").kernel.shape == (5, 5, 48, 256) and diff < 1e-4

# %% [markdown]
# ## Two replicas with MirroredStrategy
# The paper split one model over two GPUs (model parallelism); `MirroredStrategy` runs a copy
# on each device and splits every batch between them (data parallelism), which is how two
# GPUs are used today. Images/s for one and two replicas (two logical CPU devices here share
# the same cores, so expect no speed-up; on two real GPUs expect nearly 2x):

# %%
name, size, n = ("cnn4", 32, 64) if s.fast else ("alexnet", 227, 640)
speed = {}
for replicas in (1, 2):
    strategy = (
        tf.distribute.MirroredStrategy(devices[:replicas])
        if replicas == 2
        else tf.distribute.OneDeviceStrategy(devices[0])
    )
    config = TrainConfig(
        dataset="synthetic",
        model=name,
        epochs=1,
        num_examples=n,
        batch_size=32 if s.fast else 64,
        precision="float32",
        image_size=size,
    )
    m = train.train_and_evaluate(
        config, str(s.runs / f"mirrored-{replicas}"), strategy=strategy, verbose=False
    )
    speed[f"{replicas} replica{'s' * (replicas > 1)}"] = m["images_per_second"]
    assert m["replicas"] == replicas
print(speed)
fig = plots.bars(
    speed,
    ylabel="training images/s",
    title=f"{name}: MirroredStrategy on {devices[0].split(':')[-2]}s",
)
s.save(fig, "mirrored_replicas")

# %% [markdown]
# ## What each tower's conv1 learns (Figure 3)
# The paper: *"the kernels on GPU 1 are largely color-agnostic, while the kernels on GPU 2
# are largely color-specific"*, because the towers only meet at conv3. We train the network
# briefly on real ImageNet images (Imagenette: 1,000 training images of 10 classes) and show
# conv1's 96 kernels, the first 48 (tower 1) above the last 48 (tower 2).

# %%
if s.fast:
    config = TrainConfig(
        dataset="synthetic",
        model="alexnet",
        epochs=1,
        num_examples=16,
        batch_size=16,
        precision="float32",
        image_size=67,  # conv1 as the paper's; a 1x1 map (not 6x6) into fc6: 23M weights, not 61M
    )
else:
    config = TrainConfig(
        dataset="folder",
        data_dir=f"{s.data_dir}/imagenette2-224",
        model="alexnet",
        epochs=4,
        batch_size=64,
        precision="auto",
        # A brief run must learn from its first steps: with §5's N(0, 0.01) init and LRN the
        # loss sits at ln(10) for 12 epochs of these 1,000 images (measured), so batch norm
        # and He init here; the towers, the subject of this section, are the paper's.
        norm="batch",
        init="he",
        lr=0.02,
        schedule="cosine",
        warmup_epochs=0.5,
    )
brief = train.train_and_evaluate(config, str(s.runs / "imagenette-alexnet"), verbose=False)
print(
    f"{brief['epochs_completed']} epochs, test top-1 error {brief['top1_error']:.3f}, {brief['images_per_second']:.0f} images/s"
)

# %%
trained, _ = evaluate.load_trained(s.runs / "imagenette-alexnet")
kernels = plots.kernels_to_images(trained.get_layer("conv1").kernel.numpy())
fig = plots.image_grid(
    kernels, ncols=16, scale=0.6, title="conv1: tower 1 (rows 1-3), tower 2 (rows 4-6)"
)
s.save(fig, "conv1_towers")
# How colourful each tower's kernels are: the mean spread between a kernel's RGB channels.
colour = lambda k: float(np.mean(np.std(k, axis=-1)))
print(f"colour spread: tower 1 {colour(kernels[:48]):.3f}, tower 2 {colour(kernels[48:]):.3f}")
assert kernels.shape == (96, 11, 11, 3)

# %% [markdown]
# Figure 3's split emerges over 90 epochs on 1.2 million images; four epochs on 1,000
# images show kernels only beginning to form, so read the two rows as a starting point, not
# as a reproduction of Figure 3.
