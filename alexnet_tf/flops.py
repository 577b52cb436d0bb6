"""Count a model's FLOPs layer by layer and tabulate it like Figure 2 (sizes, parameters, FLOPs)."""

from __future__ import annotations

import dataclasses
import math

import keras


@dataclasses.dataclass(frozen=True)
class LayerCost:
    """One weighted layer: output shape, neurons, parameters and forward FLOPs per image."""

    name: str
    output_shape: tuple[int, ...]
    neurons: int
    params: int
    forward_flops: int


def layer_costs(model: keras.Model) -> list[LayerCost]:
    """Conv and dense layers of ``model`` with exact multiply-add counts (2 FLOPs per MAC).

    A convolution costs ``2 * H_out * W_out * C_out * (k_h * k_w * C_in / groups)`` per image
    (towers halve it, §3.2), a dense layer ``2 * inputs * units``. Bias adds, ReLU, LRN,
    pooling and dropout are left out: element-wise work, under 1% of the total.
    """
    costs = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            out = tuple(int(d) for d in layer.output.shape[1:])
            kh, kw, cin_per_group, cout = (int(d) for d in layer.kernel.shape)
            macs = out[0] * out[1] * cout * kh * kw * cin_per_group
        elif isinstance(layer, keras.layers.Dense):
            out = tuple(int(d) for d in layer.output.shape[1:])
            macs = int(layer.kernel.shape[0]) * int(layer.kernel.shape[1])
        else:
            continue
        costs.append(LayerCost(layer.name, out, math.prod(out), layer.count_params(), 2 * macs))
    return costs


def forward_flops(model: keras.Model) -> int:
    """FLOPs of one image's forward pass."""
    return sum(c.forward_flops for c in layer_costs(model))


def training_flops(model: keras.Model) -> int:
    """FLOPs of one image's training step: forward + gradient w.r.t. inputs + w.r.t. weights.

    Each backward product costs what the forward one does, so the usual convention is 3x the
    forward pass (the paper's network: 3 x 1.449 = 4.35 GFLOP per image).
    """
    return 3 * forward_flops(model)


def layer_table(model: keras.Model) -> str:
    """A markdown table of the weighted layers: output, neurons, parameters, forward FLOPs."""
    rows = ["| layer | output | neurons | parameters | forward MFLOP |", "|---|---|---:|---:|---:|"]
    for c in layer_costs(model):
        shape = "x".join(map(str, c.output_shape))
        rows.append(
            f"| {c.name} | {shape} | {c.neurons:,} | {c.params:,} | {c.forward_flops / 1e6:,.1f} |"
        )
    total = sum(c.params for c in layer_costs(model))
    rows.append(f"| total | | | {total:,} | {forward_flops(model) / 1e6:,.1f} |")
    return "\n".join(rows)
