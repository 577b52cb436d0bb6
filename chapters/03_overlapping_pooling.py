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
# # 3. Overlapping pooling (§3.4)
#
# A pooling layer is a grid of units spaced $s$ pixels apart, each summarising a $z \times z$
# neighbourhood. Traditional pooling has $s = z$; AlexNet uses $s = 2$, $z = 3$, so
# neighbouring windows overlap. The claim: this *"reduces the top-1 and top-5 error rates by
# 0.4% and 0.3%, respectively, as compared with the non-overlapping scheme s = 2, z = 2,
# which produces output of equivalent dimensions"*, and overlapping pools overfit slightly less.

# %%
from alexnet_tf import chapter, models, plots

s = chapter.settings()

# %% [markdown]
# ## Output-size arithmetic
# A "valid" pooling of an $n \times n$ map gives $\lfloor (n - z) / s \rfloor + 1$ per side.


# %%
def pooled(n: int, z: int, s_: int) -> int:
    return (n - z) // s_ + 1


for layer, n in (
    ("pool1 (after conv1)", 55),
    ("pool2 (after conv2)", 27),
    ("pool5 (after conv5)", 13),
):
    print(f"{layer}: {n}x{n} -> z=3,s=2: {pooled(n, 3, 2)}   z=2,s=2: {pooled(n, 2, 2)}")
assert [pooled(n, 3, 2) for n in (55, 27, 13)] == [27, 13, 6]  # Figure 2's sizes

# %% [markdown]
# With odd map sizes the two schemes give the same output size, which is why the paper can
# compare them like for like. The CIFAR network pads ("same"), 32 -> 16 -> 8 -> 4 either way:

# %%
shapes = {}
for overlapping in (True, False):
    m = models.alexnet_cifar(overlapping_pool=overlapping)
    shapes[overlapping] = [tuple(m.get_layer(f"pool{i}").output.shape[1:]) for i in (1, 2, 5)]
    print(
        "3x3/2" if overlapping else "2x2/2", shapes[overlapping], f"{m.count_params():,} parameters"
    )
assert shapes[True] == shapes[False]

# %% [markdown]
# ## Ablation on CIFAR-10
# The default recipe (without cutout) with 3x3/2 pooling against the same with 2x2/2, one budget:

# %%
over, plain = s.run("no_cutout"), s.run("plain_pooling")
err = {"3x3/2 (overlapping)": 100 * over["top1_error"], "2x2/2": 100 * plain["top1_error"]}
fig = plots.bars(err, ylabel="test top-1 error (%)", title="CIFAR-10: overlapping pooling")
s.save(fig, "pooling_ablation")
print(
    f"overlapping pooling changes top-1 error by {err['3x3/2 (overlapping)'] - err['2x2/2']:+.2f} points (paper: -0.4)"
)

# %%
assert over["epochs_completed"] >= 1 and plain["epochs_completed"] >= 1
