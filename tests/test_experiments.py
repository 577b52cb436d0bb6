"""Ablation variants, recipes, Figure 1's net, evaluation extras and plots: pinned values."""

import dataclasses
import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import write_cifar_layout

from alexnet_tf import augment, data, evaluate, experiments, figure1, models, plots
from alexnet_tf.config import TrainConfig, resolve
from alexnet_tf.errors import UsageError
from alexnet_tf.flags import build_parser as build_train_parser
from alexnet_tf.flags import config_from_args


def test_cifar10_default_recipe_and_faithful_recipe():
    d = resolve(TrainConfig(dataset="cifar10"))
    assert (d.norm, d.label_smoothing, d.schedule, d.lr, d.epochs) == (
        "batch",
        0.1,
        "cosine",
        0.1,
        80,  # a cap; the time budget decides
    )
    assert d.cutout == 8  # a quarter of DeVries & Taylor's 16 for CIFAR-10, at 28x28
    assert d.image_size == 28  # §4.1's 224-of-256 crops at CIFAR's scale
    assert resolve(TrainConfig(model="cnn4")).image_size is None  # not the CIFAR variant's crops
    assert d.pca_lighting  # §4.1, as the paper, in both recipes and the ImageNet preset
    assert resolve(TrainConfig(dataset="folder")).pca_lighting
    assert not resolve(TrainConfig(dataset="synthetic")).pca_lighting
    off = config_from_args(build_train_parser().parse_args(["--no-pca-lighting"]))
    assert resolve(off).pca_lighting is False
    on = config_from_args(build_train_parser().parse_args(["--pca-lighting"]))
    assert (
        on.pca_lighting is True
        and config_from_args(build_train_parser().parse_args([])).pca_lighting is None
    )
    assert (d.momentum, d.weight_decay, d.batch_size, d.dropout) == (0.9, 5e-4, 128, 0.5)  # §5
    assert d.precision == "auto" and d.pooling == "overlapping" and d.towers == 2
    p = resolve(TrainConfig(dataset="cifar10", recipe="paper"))
    assert (p.norm, p.label_smoothing, p.schedule, p.lr, p.warmup_epochs) == (
        "lrn",
        0.0,
        "plateau",
        0.01,
        0.0,
    )
    assert p.epochs == d.epochs and p.cutout == 0 and p.pca_lighting  # §4.1 only
    assert p.image_size is None  # measured on the 32x32 pad-and-crop views
    with pytest.raises(UsageError, match="cutout"):
        resolve(TrainConfig(cutout=-1))
    with pytest.raises(UsageError, match="time budget must be >= 0"):
        resolve(TrainConfig(time_budget=-1))
    assert d.time_budget == 115.0 and p.time_budget == 0.0  # 2 hours, with 5 minutes to spare
    assert resolve(TrainConfig(dataset="folder")).time_budget == 0.0
    assert resolve(TrainConfig(dataset="imagenet2012", recipe="paper")).precision == "float32"
    with pytest.raises(UsageError, match="unknown recipe"):
        resolve(TrainConfig(recipe="modern"))
    with pytest.raises(UsageError, match="unknown pooling"):
        resolve(TrainConfig(pooling="average"))


def test_figure1_cnn4_has_four_weight_layers():
    m = models.build_model("cnn4", activation="tanh")
    weighted = [layer.name for layer in m.layers if layer.weights]
    assert weighted == ["conv1", "conv2", "conv3", "fc4"]
    assert m.count_params() == (5 * 5 * 3 * 32 + 32) + (5 * 5 * 32 * 32 + 32) + (
        5 * 5 * 32 * 64 + 64
    ) + (4 * 4 * 64 * 10 + 10)
    assert m.get_layer("tanh1").activation.__name__ == "tanh"
    assert not [layer for layer in m.layers if "dropout" in layer.name or "lrn" in layer.name]


def test_section33_cifar_claim_variants_and_lrn_as_its_constant():
    """§3.3's CIFAR-10 claim (a four-layer CNN, 13% test error without LRN, 11% with): the
    cnn4_lrn and cnn4_no_lrn variants differ in the norm alone, under the faithful recipe;
    --norm lrn puts §3.3's LRN after conv1's and conv2's ReLUs, before their pooling, and
    adds no parameter. At He init on standardised pixels it is a constant 2^-0.75 (the
    kernels do not compete); on 255x the input, §2's raw scale, it inhibits."""

    lrn = resolve(experiments.config("cnn4_lrn", "D"))
    assert (lrn.model, lrn.norm, lrn.init, lrn.schedule, lrn.lr, lrn.epochs) == (
        "cnn4", "lrn", "he", "plateau", 0.01, 20,
    )  # fmt: skip
    saved = dataclasses.asdict(resolve(experiments.config("cnn4_no_lrn", "D")))
    assert experiments.changes(saved, experiments.config("cnn4_lrn", "D")) == ["norm none -> lrn"]

    m = models.build_model("cnn4", norm="lrn", seed=0)
    names = [layer.name for layer in m.layers]
    assert names[1:9] == ["conv1", "relu1", "lrn1", "pool1", "conv2", "relu2", "lrn2", "pool2"]
    assert "lrn3" not in names and m.count_params() == 89_578
    layer = m.get_layer("lrn1")
    assert (layer.depth_radius, layer.bias, layer.alpha, layer.beta) == (2, 2.0, 1e-4, 0.75)
    x = np.random.default_rng(0).standard_normal((8, 32, 32, 3)).astype("float32")
    quiet = models.lrn_inhibition(m, x)
    assert set(quiet) == {"lrn1", "lrn2"} and max(quiet.values()) < 1e-3  # measured: 3e-4
    raw = models.build_model("cnn4", norm="lrn", seed=0, input_scale=255.0)
    assert models.lrn_inhibition(raw, x)["lrn1"] > 0.5  # measured: 0.86
    # lrn_as_constant: the same weights, alpha 0 (each LRN divides by k^beta, nothing else)
    const = models.lrn_as_constant(raw)
    assert models.lrn_inhibition(const, x) == {"lrn1": 0.0, "lrn2": 0.0}
    assert raw.get_layer("lrn2").alpha == 1e-4 and const.get_layer("lrn2").alpha == 0.0
    np.testing.assert_array_equal(const.get_layer("conv2").kernel, raw.get_layer("conv2").kernel)
    assert np.abs(const(x) - raw(x)).max() > 1  # measured: 160, on logits of up to 12
    logits = np.asarray(m(x))  # standardised pixels: the competition moves them by ~0.1%
    assert np.abs(models.lrn_as_constant(m)(x) - logits).max() < 0.01 * np.abs(logits).max()
    # --lrn-alpha 0 (cnn4_lrn_constant) builds what lrn_as_constant makes of a trained net
    constant = resolve(experiments.config("cnn4_lrn_constant", "D"))
    assert (constant.norm, constant.lrn_alpha, lrn.lrn_alpha) == ("lrn", 0.0, 1e-4)
    built = models.build_model("cnn4", norm="lrn", lrn_alpha=0.0, seed=0)
    assert [la.alpha for la in built.layers if "lrn" in la.name] == [0.0, 0.0]
    built.set_weights(m.get_weights())
    np.testing.assert_allclose(built(x), models.lrn_as_constant(m)(x), rtol=1e-6, atol=1e-6)
    assert models.lrn_inhibition(models.build_model("cnn4", seed=0), x) == {}


def test_lrn_constant_trains_as_no_lrn_with_conv12_smaller_at_init_and_in_step(tmp_path):
    """Chapter 2: cnn4 with LRN's constant alone (alpha 0: a / k^beta after conv1 and conv2)
    and cnn4 without LRN whose conv1 and conv2 start k^beta smaller and take k^2beta smaller
    loss steps (cnn4_small_init_slow_steps) are one network: after four §5 steps (lr 0.05)
    their weights agree (conv1 and conv2 up to the factor k^beta; 1e-7 apart, where the small
    init alone trains 0.004-0.18 apart). The classifier started k^2beta smaller
    (cnn4_small_logits) is the same network too, at init."""
    from alexnet_tf.train import train_and_evaluate

    k_beta, weights = 2.0**0.75, {}
    for name in ("cnn4_lrn_constant", "cnn4_small_init_slow_steps"):
        config = experiments.config(name, fast=True)
        config = dataclasses.replace(
            config, num_examples=32, batch_size=8, steps_per_epoch=4, lr=0.05
        )
        train_and_evaluate(config, str(tmp_path / name), verbose=False)
        model, _ = evaluate.load_trained(tmp_path / name)
        scaled = ("conv1", "conv2") if name != "cnn4_lrn_constant" else ()  # kept k^beta smaller
        weights[name] = {
            v.path: v.numpy() * (k_beta if v.path[:5] in scaled else 1.0)
            for v in model.trainable_variables
        }
    lrn, both = weights.values()
    assert len(lrn) == 8 and lrn.keys() == both.keys()
    for path, w in lrn.items():
        np.testing.assert_allclose(both[path], w, rtol=1e-4, atol=1e-6, err_msg=path)
    # At init (zero biases: a positively homogeneous ReLU network) the classifier started
    # k^2beta smaller (cnn4_small_logits) is the same network too; the plain one is not.
    x = np.random.default_rng(0).standard_normal((4, 32, 32, 3)).astype("float32")
    constant = models.build_model("cnn4", norm="lrn", lrn_alpha=0.0, seed=0)(x)
    small_logits = models.build_model("cnn4", norm="none", seed=0)
    plain = np.asarray(small_logits(x))
    config = resolve(experiments.config("cnn4_small_logits"))
    assert list(config.init_scale) == ["fc4"] and config.norm == "none"
    models.scale_layers(small_logits, config.init_scale)
    np.testing.assert_allclose(small_logits(x), constant, rtol=1e-4, atol=1e-6)
    assert np.abs(plain - constant).max() > 0.5 * np.abs(constant).max()  # 2.83x apart


def test_figure1_sweeps_each_activation_over_the_same_learning_rates():
    """§3.1: each network at its own best rate, so both activations train at every rate of
    figure1.LRS, with the same budget and nothing else different; no regularisation. Each sweep
    runs in three settings that differ from He init's in their flags alone: §5's init, and §5's
    init on §2's raw pixels (0-255 minus the mean image)."""
    expected = {"he": ("he", "channel", False), "paper": ("paper", "channel", False)}
    expected["raw"] = ("paper", "image", True)
    assert list(figure1.SETTINGS) == list(expected)
    for setting, (init, mean, raw) in expected.items():
        extra = figure1.SETTINGS[setting].flags
        relu, tanh = (figure1.names(a, setting) for a in ("relu", "tanh"))
        assert len(relu) == len(tanh) == len(figure1.LRS) >= 3
        for r, t, lr in zip(relu, tanh, figure1.LRS, strict=True):
            fr, ft = experiments.flags(r), experiments.flags(t)
            assert fr[fr.index("--lr") + 1] == ft[ft.index("--lr") + 1] == f"{lr:g}"
            assert fr[fr.index("--activation") + 1] == "relu" and "tanh" in ft
            assert [x for x in fr if x != "relu"] == [x for x in ft if x != "tanh"]
            for off in (("--weight-decay", "0"), ("--label-smoothing", "0"), ("--cutout", "0")):
                assert fr[fr.index(off[0]) + 1] == off[1]
            assert "--no-augment" in fr and fr[fr.index("--schedule") + 1] == "constant"
            c = resolve(config_from_args(build_train_parser().parse_args(fr)))
            assert (c.init, c.mean, c.raw_pixels) == (init, mean, raw)
            he = experiments.flags(figure1.name("relu", lr))
            assert fr == [*he[: he.index("--epochs")], *extra, *he[he.index("--epochs") :]]
    assert figure1.name("tanh", 0.02, "paper") == "cnn4_tanh_paper_init_lr_0.02"
    assert figure1.name("relu", 0.01, "raw") == "cnn4_relu_raw_pixels_lr_0.01"
    assert experiments.flags("cnn4_relu_lr_0.01")[-2:] == ["--epochs", "10"]


def test_plain_pooling_is_2x2_stride_2():
    m = models.alexnet_cifar(overlapping_pool=False)
    assert m.get_layer("pool1").pool_size == (2, 2) and m.get_layer("pool1").strides == (2, 2)
    assert models.alexnet_cifar().get_layer("pool1").pool_size == (3, 3)


def test_studies_run_without_cutout_and_the_default_with_it():
    def cutout(name):
        args = build_train_parser().parse_args(experiments.flags(name))
        return resolve(config_from_args(args)).cutout

    assert cutout("default") == 8 and cutout("no_pca_lighting") == 8
    assert cutout("mean_image") == 8
    args = build_train_parser().parse_args(experiments.flags("no_pca_lighting"))
    assert resolve(config_from_args(args)).pca_lighting is False
    args = build_train_parser().parse_args(experiments.flags("mean_image"))
    assert resolve(config_from_args(args)).mean == "image"
    whiten = resolve(config_from_args(build_train_parser().parse_args(experiments.flags("whiten"))))
    assert whiten.whiten and whiten.cutout == 8 and not resolve(TrainConfig()).whiten
    in_the_default = {"default", "no_pca_lighting", "mean_image", "whiten", "paper", "paper_no_lrn"}
    in_the_default |= {"default_5_epochs", "slow_fc8_5_epochs", "slow_all_5_epochs"}
    assert cutout("slow_fc8_5_epochs") == 8  # the default's slower classifier
    # ... and its control: every layer's step 8x smaller, the preset's peak lr / 8
    control = resolve(experiments.config("slow_all_5_epochs"))
    assert control.lr * 8 == resolve(TrainConfig()).lr and control.grad_scale == {}
    assert control.time_budget == 0.0 and experiments.VARIANTS["slow_all_5_epochs"].epochs == 5
    studies = set(experiments.VARIANTS) - in_the_default
    assert {name: cutout(name) for name in studies} == dict.fromkeys(studies, 0)


def test_variant_flags_and_fast_mode():
    f = experiments.flags("plateau", "D")
    assert f[:2] == ["--dataset", "cifar10"] and f[-2:] == ["--data-dir", "D"]
    assert (
        "--schedule" in f and f[f.index("--lr") + 1] == "0.01" and f[f.index("--epochs") + 1] == "2"
    )
    small = experiments.flags("small_no_dropout")
    assert (
        small[small.index("--num-examples") + 1] == "5000"
        and small[small.index("--dropout") + 1] == "0"
        and small[small.index("--lr") + 1] == "0.01"  # 312 steps at lr 0.1 stay near chance
    )
    fast = experiments.flags("cnn4_tanh_lr_0.02", "D", fast=True)
    assert fast[:2] == ["--dataset", "synthetic"] and "--data-dir" not in fast and "tanh" in fast
    cmd = experiments.command("lrn", "W", "D")
    assert cmd[1:3] == ["-m", "alexnet_tf.train"] and cmd[-2:] == ["--workdir", "W"]


def test_flip_averages_image_and_mirror():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((4, 4, 3)), keras.layers.Flatten(), keras.layers.Dense(3)]
    )
    x = np.random.default_rng(0).normal(size=(6, 4, 4, 3)).astype(np.float32)
    y = np.array([0, 1, 2, 0, 1, 2])
    probs = (tf.nn.softmax(model(x)) + tf.nn.softmax(model(x[:, :, ::-1]))) / 2
    want = 1 - np.mean(np.argmax(probs, -1) == y)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
    assert evaluate.evaluate(model, ds, flip=True)["top1_error"] == pytest.approx(want)
    plain = 1 - np.mean(np.argmax(model(x), -1) == y)
    assert evaluate.evaluate(model, ds)["top1_error"] == pytest.approx(plain)


def test_exact_prefix_compares_the_same_rows(tmp_path):
    root = write_cifar_layout(tmp_path, per_batch=8, test=12)
    from alexnet_tf import sources

    rebuilt, labels = sources.read_cifar_batch(str(root / "cifar-10-batches-py" / "test_batch"))
    folder = root / "cifar-10-test-exact-prefix"
    folder.mkdir()
    exact = rebuilt[:5].copy()
    exact[:, 0, 0, 0] ^= 1  # "JPEG loss": the rebuilt pixels differ a little
    rows = exact.transpose(0, 3, 1, 2).reshape(5, -1)
    np.savez(
        folder / "test_batch_first1017_exact.npz", data=rows, labels=labels[:5], index=np.arange(5)
    )
    model = keras.Sequential(
        [keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(10)]
    )
    out = evaluate.exact_prefix(model, str(root), batch_size=4)
    assert out["images"] == 5 and out["exact"]["images"] == out["rebuilt"]["images"] == 5
    # §2's mean image: the training set's, from the run's workdir (computed there if missing)
    cache = tmp_path / "run"
    cache.mkdir()
    with_mean_image = evaluate.exact_prefix(model, str(root), 4, mean="image", cache_dir=cache)
    assert [p.name for p in cache.glob("*_mean32.npz")] and with_mean_image["images"] == 5
    np.savez(
        folder / "test_batch_first1017_exact.npz",
        data=rows,
        labels=(labels[:5] + 1) % 10,
        index=np.arange(5),
    )
    with pytest.raises(UsageError, match="labels differ"):
        evaluate.exact_prefix(model, str(root), batch_size=4)


def test_no_augment_trains_on_the_evaluation_view(cifar_dir):
    source = data.load_source("cifar10", str(cifar_dir), image_size=32)
    batch = next(iter(data.train_pipeline(source, 16, image_size=32, augmentation=False)))[
        0
    ].numpy()
    views = np.stack([augment.cifar_eval(x).numpy() for x, _ in source.train.as_numpy_iterator()])
    for image in batch:  # each is exactly one of the evaluation views, unflipped and uncropped
        assert np.abs(views - image).reshape(len(views), -1).max(axis=1).min() == 0.0
    augmented = next(iter(data.train_pipeline(source, 16, image_size=32)))[0].numpy()
    matches = [
        np.abs(views - im).reshape(len(views), -1).max(axis=1).min() == 0.0 for im in augmented
    ]
    assert not all(matches)


def test_plots_count_and_scale():
    fig, m = plots.confusion([0, 1, 1, 2], [0, 1, 2, 2], ["a", "b", "c"], title="t")
    assert m.tolist() == [[1, 0, 0], [0, 1, 1], [0, 0, 1]]
    k = plots.kernels_to_images(np.random.default_rng(0).normal(size=(11, 11, 3, 96)))
    assert k.shape == (96, 11, 11, 3) and k.min() == 0.0 and k.max() == 1.0
    kernel = np.random.default_rng(1).normal(size=(5, 5, 3, 10))
    mosaic = plots.filter_mosaic(kernel, ncols=4)  # 3 rows of 5x5 tiles, 1 pixel apart
    assert mosaic.shape == (1 + 3 * 6, 1 + 4 * 6, 3)
    tiles = plots.kernels_to_images(kernel)
    np.testing.assert_array_equal(mosaic[1 + 6 : 1 + 6 + 5, 1 + 12 : 1 + 12 + 5], tiles[6])
    assert (mosaic[0] == 1).all() and (mosaic[13:, 13:] == 1).all()  # padding; 2 empty tiles
    fig = plots.conv1_filters({"one": kernel, "two": -kernel}, ncols=4)
    assert [ax.get_title() for ax in fig.axes] == ["one", "two"]
    np.testing.assert_array_equal(
        fig.axes[1].images[0].get_array(), plots.filter_mosaic(-kernel, 4)
    )
    fig = plots.curves(
        {"a": [{"epoch": 1, "e": 0.5}, {"epoch": 2, "e": 0.25}]},
        "e",
        ylabel="%",
        title="t",
        hline=(0.25, "goal"),
    )
    assert list(fig.axes[0].lines[0].get_ydata()) == [50.0, 25.0]


def test_results_collects_small_files_tables_and_the_time_plot(tmp_path):
    from alexnet_tf import callbacks, results

    def finished(path, errors, config=None, params=None, machine=None):
        path.mkdir(parents=True)
        rows = ["epoch,loss,top1_error,val_top1_error,elapsed_seconds"]
        rows += [f"{i + 1},1.0,0.5,{e},{60.0 * (i + 1)}" for i, e in enumerate(errors)]
        (path / "history.csv").write_text("\n".join(rows) + "\n")
        history = [
            {"epoch": i + 1, "val_top1_error": e, "elapsed_seconds": 60.0 * (i + 1)}
            for i, e in enumerate(errors)
        ]
        metrics = {"top1_error": errors[-1], "top5_error": 0.01, "epochs_completed": len(errors)}
        metrics.update(history=history, config=config or {}, parameters=params)
        if machine:
            metrics["machine"] = machine
        (path / "metrics.json").write_text(
            json.dumps({**metrics, "elapsed_seconds": 60.0 * len(errors)})
        )
        (path / "ckpt-epoch-0001.keras").write_bytes(b"big")  # never copied

    finished(
        tmp_path / "main",
        [0.3, 0.12, 0.095],
        {"recipe": "default", "cutout": 16, "pca_lighting": True},
    )
    old = {"recipe": "default", "cutout": 0, "image_size": 28, "init": "paper"}
    old["model"] = "alexnet_cifar_3x3"
    finished(tmp_path / "old", [0.3, 0.2], old, 6_819_018)
    finished(tmp_path / "abl" / "default", [0.3, 0.15])
    finished(tmp_path / "abl" / "no_cutout", [0.3, 0.2])
    finished(tmp_path / "abl" / "paper", [0.5, 0.4])
    host = {"cpu": "AMD EPYC", "cores": 2}
    finished(tmp_path / "faithful", [0.6, 0.35], {"recipe": "paper", "cutout": 0}, None, host)
    out = tmp_path / "out"
    text = results.collect(
        tmp_path / "main", tmp_path / "abl", out, (tmp_path / "old",), tmp_path / "faithful"
    )
    labels = [
        results.run_label(experiments.load(tmp_path / r)) for r in ("main", "old", "faithful")
    ]
    assert labels == [
        "default recipe, 3 epochs, cutout 16, PCA lighting",
        "default recipe, 2 epochs, alexnet_cifar_3x3, no cutout, 28x28 crops, "
        "§5's N(0, 0.01) init, 6.82M parameters",
        "paper recipe, 2 epochs, no cutout, AMD EPYC",
    ]
    for run in ("cifar10-default", "cifar10-paper-recipe"):
        assert sorted(p.name for p in (out / run).iterdir()) == ["history.csv", "metrics.json"]
    assert experiments.load(out / "cifar10-paper-recipe")["machine"] == host
    # A committed results folder is collected again in place (new plot, same files).
    (out / "accuracy_vs_time.png").unlink()
    again = results.collect(
        out / "cifar10-default", out / "ablations", out, (), out / "cifar10-paper-recipe"
    )
    assert again == text and experiments.load(out / "cifar10-default")["top1_error"] == 0.095
    assert (out / "accuracy_vs_time.png").stat().st_size > 10_000
    assert "`paper`" in text and "60.00%" in text and "-20.00" in text  # paper vs no_cutout
    assert "| 80.00% | 99.00% | 2.0 | -5.00 |" in text  # no_cutout vs default
    history = experiments.load(tmp_path / "main")["history"]
    assert callbacks.time_to_accuracy(history, targets=(0.9, 0.95)) == {"0.90": 180.0}


def test_time_to_accuracy_reads_the_history():
    from alexnet_tf.callbacks import time_to_accuracy

    history = [
        {"val_top1_error": 0.45, "elapsed_seconds": 10.0},
        {"val_top1_error": 0.15, "elapsed_seconds": 20.0},
        {"val_top1_error": 0.08, "elapsed_seconds": 30.0},
    ]
    assert time_to_accuracy(history) == {
        "0.50": 10.0,
        "0.60": 20.0,
        "0.70": 20.0,
        "0.80": 20.0,
        "0.85": 20.0,
        "0.90": 30.0,
    }
