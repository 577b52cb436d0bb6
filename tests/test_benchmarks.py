"""Benchmarks run at tiny sizes and report what they promise (never asserting a speed)."""

import json
import time

import numpy as np
import pytest

from alexnet_tf import flops
from alexnet_tf.models import build_model
from benchmarks import layer_times, measure, peers, report, step_parts, timing, towers


def test_flops_of_the_paper_network():
    model = build_model("alexnet")
    per_layer = {c.name: c.forward_flops for c in flops.layer_costs(model)}
    assert per_layer["conv1"] == 2 * 55 * 55 * 96 * 11 * 11 * 3
    assert per_layer["conv2"] == 2 * 27 * 27 * 256 * 5 * 5 * 48  # towers: 48 input maps each
    assert per_layer["fc6"] == 2 * 9216 * 4096
    assert flops.forward_flops(model) == 1_448_813_632
    assert flops.training_flops(model) / 1e9 == pytest.approx(4.35, abs=0.005)
    # Towers halve conv2/4/5: the single-column network costs 1.57x as much.
    assert flops.forward_flops(build_model("alexnet", towers=1)) == 2_270_512_192
    table = flops.layer_table(model)
    assert "| conv1 | 55x55x96 | 290,400 | 34,944 |" in table and "60,965,224" in table


def test_synthetic_batches_match_each_network():
    for name, size, classes in (("alexnet", 227, 1000), ("alexnet_cifar_3x3", 32, 10)):
        x, y = measure.synthetic_batch(name, 64)
        assert x.shape == (64, size, size, 3)
        assert 0 <= y.min() and y.max() < classes and y.max() >= classes // 2  # the whole range


def test_timing_leaves_warm_up_untimed_and_counts_every_image():
    class Model:  # a step that takes 10 ms, except the first (tracing) one
        calls = 0

        def train_on_batch(self, x, y):
            self.calls += 1
            time.sleep(0.2 if self.calls == 1 else 0.01)

    model, batch = Model(), ([0] * 32, [0] * 32)
    times = timing.train_step_seconds(model, batch, steps=4, warmup=1)
    assert model.calls == 5 and len(times) == 4 and all(0.009 < t < 0.15 for t in times)
    rate = timing.images_per_second(Model(), batch, steps=4, warmup=1)
    assert 32 / 0.15 < rate < 32 / 0.009  # 4 x 32 images in ~40 ms, the 200 ms step unseen


def test_peers_are_the_same_network():
    from alexnet_tf.models import CIFAR, PAPER

    assert peers.naive_keras(PAPER).count_params() == 60_965_224
    assert peers.naive_keras(CIFAR, towers=False).count_params() == 8_974_730
    if peers.torch_available():
        n = sum(p.numel() for p in peers.torch_model(PAPER).parameters())
        assert n == 60_965_224


@pytest.mark.heavy
def test_training_measurement_has_every_row():
    rows = measure.training("alexnet_cifar", 2, 1, bf16=False, torch_threads=1)
    expected = {
        "alexnet_tf",
        "alexnet_tf no towers",
        "naive Keras, Conv2D(groups=2)",
        "naive Keras, no towers",
    }
    if peers.torch_available():
        expected |= {"PyTorch, groups=2", "PyTorch, no towers"}
    assert set(rows) == expected and all(v > 0 for v in rows.values())


def test_report_checks_targets():
    rows = {"alexnet_tf": 50.0, "alexnet_tf no towers": 30.0,
            "naive Keras, Conv2D(groups=2)": 10.0, "naive Keras, no towers": 25.0,
            "PyTorch, groups=2": 8.0, "PyTorch, no towers": 25.0}  # fmt: skip
    from benchmarks.run import ratios

    r = ratios(rows)
    assert r["alexnet_tf / PyTorch groups=2"] == 6.25 and r["alexnet_tf / PyTorch no towers"] == 2.0
    res = {
        "machine": {"cpu": "x", "cores": 2, "tensorflow": "2.21", "torch": None, "gpus": []},
        "command": "python -m benchmarks.run", "seconds": 1.0,
        "matmul_gflops": {"float32": 100.0},
        "training": {"alexnet batch 32": {"images_per_second": rows, "ratios": r}},
        "flops": {"alexnet": {"forward_gflop": 1.449, "training_gflop": 4.346}},
        "inference": {"alexnet": {"batch-1 latency ms, centre crop": 10.0}},
        "pipeline": {"folder (Imagenette JPEG)": {"source": "s", "images_per_second": 300.0}},
        "scaling": {"1 replica": {"replicas": 1, "devices": ["cpu:0"], "images_per_second": 9.0}},
    }  # fmt: skip
    md = report.markdown(res)
    assert "| alexnet_tf / PyTorch no towers | >= 2.5 | 2.00 (**no**) |" in md
    assert "| alexnet_tf / PyTorch groups=2 | >= 4.0 | 6.25 (yes) |" in md
    assert "| alexnet batch 32, alexnet_tf | 217.3 | 217.3% |" in md  # 50 images/s x 4.346 GFLOP
    assert "| 6.0 (yes) |" in md  # pipeline 300 images/s vs training 50
    # 4x PyTorch's 8 images/s is 32 images/s, 139.1 GFLOP/s: 139.1% of a 100 GFLOP/s ceiling.
    assert "| alexnet_tf / PyTorch groups=2 | alexnet batch 32 | 32.0 | 139.1 | 139.1% | - |" in md


def test_towers_benchmark_reports_all_variants(tmp_path, capsys):
    out = tmp_path / "towers.json"
    args = ["--model", "alexnet_cifar", "--batch-size", "2", "--steps", "1", "--jit", "off"]
    assert towers.main([*args, "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    variants = [r["variant"] for r in result["results"]]
    assert len(variants) == 3 and any("groups=2" in v for v in variants)
    assert all(r["images_per_second"] > 0 and r["xla"] is False for r in result["results"])
    text = capsys.readouterr().out
    assert "split towers / keras groups" in text and "split towers / no towers" in text


@pytest.mark.heavy
def test_step_parts_reports_each_change_against_the_ceiling(tmp_path, capsys):
    out = tmp_path / "parts.json"
    args = ["--precision", "float32", "--batch-size", "2", "--steps", "1", "--matmul-size", "64"]
    parts = ["recipe", "fc4096", "crops28"]
    assert step_parts.main([*args, "--parts", *parts, "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    recipe, wide, crops = result["rows"]
    assert [r["part"] for r in result["rows"]] == parts and result["ceiling_gflops"] > 0
    # The FLOP/s are the counted FLOPs over the measured time: 1.312 vs 1.482 GFLOP per image,
    # and 1.012 on 28x28 crops (0.77x: the convolutions see 0.77x the positions, fc6 the same).
    for row, gflop in ((recipe, 1.312), (wide, 1.482), (crops, 1.012)):
        rate = row["images_per_second"] * gflop
        assert row["gflops_per_second"] == pytest.approx(rate, rel=1e-3)
        frac = row["gflops_per_second"] / result["ceiling_gflops"]
        assert row["fraction_of_ceiling"] == pytest.approx(frac, rel=1e-6)
    assert "of the ceiling" in capsys.readouterr().out


def test_layer_times_account_for_every_layer_and_its_flops(tmp_path, capsys):
    out = tmp_path / "layers.json"
    args = ["--model", "cnn4", "--batch-size", "2", "--steps", "1", "--warmup", "1"]
    assert layer_times.main([*args, "--matmul-size", "64", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    model = layer_times.build("cnn4", "float32")
    names = [la.name for la in model.layers[1:]]  # every layer after the input, in order
    rows = {r["layer"]: r for r in result["rows"]}
    assert list(rows) == names and result["step_ms"] > 0
    assert result["layers_ms"] == pytest.approx(sum(r["ms"] for r in rows.values()))
    # FLOP/s only where there are matmuls: conv1 runs no input gradient (2x its forward
    # FLOPs), every other conv and dense layer 3x.
    counted = {c.name: c.forward_flops for c in flops.layer_costs(model)}
    assert {n for n, r in rows.items() if "gflops_per_second" in r} == set(counted)
    for name, r in rows.items():
        assert r["share"] == pytest.approx(r["ms"] / result["step_ms"])
        if name in counted:
            times = 2 if name == "conv1" else 3
            rate = counted[name] * times * 2 / (r["ms"] / 1e3) / 1e9
            assert r["gflops_per_second"] == pytest.approx(rate, rel=1e-6)
    text = capsys.readouterr().out
    assert "| conv2 |" in text and "| all convolution |" in text and "whole training step" in text
    # What is timed per layer: the forward pass (a convolution's gradients do not need it, so
    # it must be an output or TensorFlow prunes it) and the gradients a training step needs.
    conv1, conv2 = model.get_layer("conv1"), model.get_layer("conv2")
    step, x = layer_times.layer_step(conv2, 2, first=False)
    y, grads = step(x)
    np.testing.assert_allclose(y, conv2(x), rtol=1e-5, atol=1e-5)
    assert [g.shape for g in grads] == [conv2.kernel.shape, conv2.bias.shape, x.shape]
    step1, x1 = layer_times.layer_step(conv1, 2, first=True)
    assert len(step1(x1)[1]) == 2  # the kernel's and bias's: the data needs no gradient
    # The preset's layers: the CIFAR-10 network is measured with batch norm, not LRN.
    cifar = [la.name for la in layer_times.build("alexnet_cifar", "float32").layers]
    assert "bn1" in cifar and "lrn1" not in cifar
    assert "lrn1" in [la.name for la in layer_times.build("alexnet_cifar", "float32", "lrn").layers]
