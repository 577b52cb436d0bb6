"""The full-budget table: each run against the first, its change read off the two configs."""

import json

from alexnet_tf import config, results

AMD = {"cpu": "AMD EPYC", "cores": 2}


def finished(path, top1, config, machine=AMD, flip=None, ten=None, train=0.9):
    """A committed results folder: metrics.json and the evaluations that were run."""
    path.mkdir(parents=True)
    history = [
        {"epoch": e, "top1": t, "val_top1_error": 1 - top1, "elapsed_seconds": 60.0 * e}
        for e, t in ((1, 0.5), (2, train))
    ]
    metrics = dict(top1_error=1 - top1, top5_error=0.01, epochs_completed=2, history=history)
    metrics.update(config=config, machine=machine, images_per_second=315.68)
    (path / "metrics.json").write_text(json.dumps(metrics))
    for name, acc in (("eval_flip.json", flip), ("eval_ten_crop.json", ten)):
        if acc is not None:
            (path / name).write_text(json.dumps({"top1_error": 1 - acc}))
    return path


def test_paired_table_reads_each_change_and_the_deltas(tmp_path):
    base = {"norm": "batch", "cutout": 14, "workdir": "/a", "data_dir": "/d", "image_size": 28}
    runs = (
        finished(tmp_path / "base", 0.8799, base, flip=0.886, ten=0.8858, train=0.893),
        # workdir and data_dir are not changes; a key only one config records is compared
        # with TrainConfig's default (ema: 0), and not at all where that is a preset's (lr)
        finished(
            tmp_path / "lrn",
            0.8812,
            {**base, "norm": "lrn", "workdir": "/b", "ema": 0, "lr": 0.1},
            ten=0.89,
        ),
        finished(tmp_path / "xeon", 0.8878, base, {"cpu": "Intel Xeon"}),
        finished(tmp_path / "ema", 0.8741, {**base, "ema": 0.9995}),
        # both record image_size: None (the model's own size) against 28 is a change
        finished(tmp_path / "size", 0.8579, {**base, "image_size": None, "cutout": 16}),
    )
    rows = results.paired_table(runs).splitlines()
    assert rows[6].startswith("| [`size`](size) | cutout: 14 → 16, image size: 28 → default | 2 |")
    assert len(rows) == 7 and rows[0].startswith("| run | change from the first row |")
    assert rows[2] == (
        "| [`base`](base) | (the baseline) | 2 | 315.7 | 87.99% | 88.60% | 88.58% | 89.30% "
        "| +0.00 | +0.00 |"
    )
    assert rows[3] == (
        "| [`lrn`](lrn) | norm: batch → lrn | 2 | 315.7 | 88.12% |  | 89.00% | 90.00% "
        "| +0.13 | +0.42 |"
    )
    assert "| host: AMD EPYC → Intel Xeon | 2 |" in rows[4] and rows[4].endswith("| +0.79 |  |")
    assert rows[5].startswith("| [`ema`](ema) | ema: 0.0 → 0.9995 | 2 |")


def test_collect_puts_the_paired_table_first_and_the_cli_refuses_an_unfinished_run(
    tmp_path, capsys
):
    finished(tmp_path / "main", 0.88, {})
    pair = (finished(tmp_path / "a", 0.88, {"cutout": 14}), finished(tmp_path / "b", 0.87, {}))
    text = results.collect(tmp_path / "main", tmp_path / "abl", tmp_path / "out", paired=pair)
    assert text.startswith("### Full budget, one change each\n\n| run |")
    assert "| [`b`](b) | (the baseline) | 2 | 315.7 | 87.00% |" in text  # {} vs {"cutout": 14}
    assert "### Cutout, in the default recipe" in text
    assert (tmp_path / "out" / "final_accuracy_vs_epochs.png").stat().st_size > 10_000
    argv = ["--main-run", str(tmp_path / "main"), "--ablations", str(tmp_path / "abl")]
    rc = results.main([*argv, "--out", str(tmp_path / "o"), "--paired-run", str(tmp_path / "c")])
    assert rc != 0 and not (tmp_path / "o").exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {tmp_path / 'c'} holds no finished run (metrics.json)"]


def test_final_accuracy_reads_the_end_point_and_names_the_family(tmp_path):
    own = {"cutout": config.PRESETS["cifar10"]["cutout"]}
    size28 = finished(tmp_path / "a", 0.8864, {"image_size": 28, "norm": "batch", **own}, ten=0.895)
    assert results.final_accuracy(size28) == {
        "epochs": 2,
        "top1": 1 - (1 - 0.8864),  # as stored: an error
        "ten_patches": 1 - (1 - 0.895),
        "family": "default recipe, 28px",
    }
    lrn = finished(tmp_path / "b", 0.8577, {"image_size": 28, "norm": "lrn", "model": "x", **own})
    point = results.final_accuracy(lrn)
    assert point["family"] == "default recipe, x, 28px, LRN" and point["ten_patches"] is None
    one = finished(tmp_path / "d", 0.88, {"image_size": 28, "norm": "batch", "towers": 1, **own})
    assert results.final_accuracy(one)["family"] == "default recipe, one tower, 28px"
    fc8 = finished(tmp_path / "f", 0.89, {"image_size": 28, "grad_scale": {"fc8": 0.125}, **own})
    assert results.final_accuracy(fc8)["family"] == "default recipe, 28px, fc8 gradient x0.125"
    owt = finished(tmp_path / "e", 0.8, {"model": "alexnet_owt", "towers": 1, **own})
    assert results.final_accuracy(owt)["family"] == "default recipe, alexnet_owt, 32px"
    paper = finished(tmp_path / "c", 0.8442, {"recipe": "paper", "norm": "lrn"})
    assert results.final_accuracy(paper)["family"] == "paper recipe, 32px"  # LRN is its own
    # A larger cutout square is another recipe's end point; the preset's own goes unnamed
    side = own["cutout"]
    for cut, named in (
        (own, ""),
        ({"cutout": side + 4}, f", cutout {side + 4}"),
        ({}, ", no cutout"),
    ):
        run = finished(tmp_path / f"cut{cut}", 0.89, {"image_size": 28, **cut})
        assert results.final_accuracy(run)["family"] == "default recipe, 28px" + named


def test_run_label_names_a_norm_or_lr_that_is_not_the_recipes_own_and_an_average():
    def label(**config):
        return results.run_label({"epochs_completed": 32, "config": config})

    assert (
        label(recipe="default", norm="lrn", cutout=14)
        == "default recipe, 32 epochs, LRN, cutout 14"
    )
    assert label(recipe="default", norm="batch") == "default recipe, 32 epochs, no cutout"
    assert label(recipe="paper", norm="lrn") == "paper recipe, 32 epochs, no cutout"
    assert label(recipe="paper", norm="none").startswith(
        "paper recipe, 32 epochs, no normalisation"
    )
    assert label(recipe="default", lr=0.1) == "default recipe, 32 epochs, no cutout"
    assert label(recipe="default", lr=0.05, ema=0.999, cutout=14) == (
        "default recipe, 32 epochs, lr 0.05, EMA 0.999, cutout 14"
    )
    assert label(recipe="paper", lr=0.01) == "paper recipe, 32 epochs, no cutout"
    assert label(cutout=8, alternating_flip=True) == (
        "default recipe, 32 epochs, cutout 8, alternating flips"
    )
    assert label(label_smoothing=0.2) == "default recipe, 32 epochs, label smoothing 0.2, no cutout"
    assert label(mean="image", whiten=True) == (
        "default recipe, 32 epochs, no cutout, §2's mean image, whitened conv1"
    )
    assert label(mean="channel", whiten=False) == "default recipe, 32 epochs, no cutout"
    assert label(grad_scale={"fc8": 0.125}, init_scale={"conv2": 0.5, "conv1": 0.59}) == (
        "default recipe, 32 epochs, conv1 init x0.59, conv2 init x0.5, fc8 gradient x0.125, "
        "no cutout"
    )
    assert label(grad_scale={}, init_scale={}) == "default recipe, 32 epochs, no cutout"
    assert label(init="paper", mean="image", raw_pixels=True) == (
        "default recipe, 32 epochs, no cutout, §5's N(0, 0.01) init, §2's mean image, "
        "raw 0-255 pixels"
    )
    assert label(label_smoothing=0.1) == label(label_smoothing=0.0, recipe="paper").replace(
        "paper", "default"
    )  # each recipe's own smoothing (0.1, 0.0) goes unnamed
    # The host and the precision it trained in (float32 where bf16 is slower: precision.py)
    xeon = {"cpu": "Intel(R) Xeon(R) Processor", "cores": 2, "policy": "float32"}
    labelled = results.run_label({"epochs_completed": 32, "config": {}, "machine": xeon})
    assert labelled == "default recipe, 32 epochs, no cutout, Intel Xeon, fp32"


def test_curves_beyond_ten_runs_change_marker_where_the_colours_repeat():
    from alexnet_tf import plots

    runs = {f"run {i}": [{"epoch": 1, "acc": 0.5}, {"epoch": 2, "acc": 0.6}] for i in range(12)}
    lines = plots.curves(runs, "acc", ylabel="%", title="t").axes[0].lines
    assert [line.get_marker() for line in lines] == ["o"] * 10 + ["s"] * 2
    assert lines[0].get_color() == lines[10].get_color()  # why the marker must differ


def test_the_time_plot_names_the_best_run_of_each_host_and_greys_the_others(tmp_path, monkeypatch):
    from alexnet_tf import plots, result_plots

    xeon = {"cpu": "Intel Xeon", "policy": "mixed_bfloat16"}
    a, b = finished(tmp_path / "a", 0.87, {}), finished(tmp_path / "b", 0.88, {})
    x = finished(tmp_path / "x", 0.86, {}, xeon)
    y = finished(tmp_path / "y", 0.89, {}, {**xeon, "policy": "float32"})  # another precision
    z = finished(tmp_path / "z", 0.85, {}, xeon)
    runs = {r: json.loads((r / "metrics.json").read_text()) for r in (a, b, x, y, z)}
    assert results.best_per_machine(runs) == [b, x, y]

    saved = {}
    monkeypatch.setattr(plots, "save", lambda fig, path: saved.update(fig=fig))
    history = json.loads((a / "metrics.json").read_text())["history"]
    runs = {"a": history, "b": history, "c": history}
    result_plots.accuracy_vs_time(runs, tmp_path / "p.png", highlight=("b", "not a run"))
    fig = saved["fig"]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["the 2 other runs", "b", "90%"]
    left = fig.axes[0]
    assert [line.get_color() for line in left.lines[:3]] == ["grey", "grey", "C0"]
    assert list(left.lines[2].get_xdata()) == [1.0, 2.0]  # 60 and 120 s, in minutes
    assert list(left.lines[2].get_ydata()) == [87.0, 87.0]
    plots._plt().close(fig)


def test_conv1_filters_draws_each_runs_kernel_and_the_cli_refuses_a_bad_spec(tmp_path, capsys):
    import matplotlib.pyplot as plt
    import numpy as np

    from alexnet_tf import models, result_plots

    model = models.build_model("cnn4", seed=0)
    (tmp_path / "w").mkdir()
    model.save(tmp_path / "w" / "model.keras")
    png = tmp_path / "out" / "conv1_filters.png"
    kernels = result_plots.conv1_filters({"learned": tmp_path / "w"}, png)
    np.testing.assert_array_equal(kernels["learned"], model.get_layer("conv1").kernel.numpy())
    assert list(kernels) == ["learned"] and png.stat().st_size > 1_000
    n = kernels["learned"].shape[-1]
    assert plt.gcf().get_suptitle().startswith(f"conv1's {n} filters (5x5x3), each stretched")
    plt.close(plt.gcf())
    finished(tmp_path / "main", 0.88, {})
    argv = ["--main-run", str(tmp_path / "main"), "--ablations", str(tmp_path / "abl")]
    w, v = tmp_path / "w", tmp_path / "v"
    for specs, message in (
        ([str(w)], f"--conv1-filters takes TITLE=WORKDIR, not {str(w)!r}"),
        ([f"lr=0.1={v}"], f"no trained model in {v}: run alexnet_tf.train"),  # the last '='
        ([f"a={w}", f"b={w}", f"a={v}"], "--conv1-filters names 'a' twice: one title per run"),
    ):
        filters = [x for spec in specs for x in ("--conv1-filters", spec)]
        rc = results.main([*argv, "--out", str(tmp_path / "o"), *filters])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc != 0 and len(err) == 1 and err[0].startswith(f"error: {message}"), err
        assert not (tmp_path / "o").exists()


def test_committed_ablation_runs_are_the_variants_of_today():
    """results/ablations/ is what the chapters read in full mode: each run there was trained
    with its variant's flags of today, its saved config has no recipe change since (the check
    `experiments.run` makes before reading a run back), and every table row has its run but
    `float32` (left out on purpose: `--precision auto` was float32 on the host that measured
    them; results/README.md) and the one recorded failure (its loss went to NaN)."""
    from pathlib import Path

    from alexnet_tf import experiments

    root = Path(__file__).resolve().parents[1] / "results" / "ablations"
    for run in sorted(root.iterdir()):
        recorded = json.loads((run / "variant.json").read_text())
        assert recorded["name"] == run.name and run.name in experiments.VARIANTS
        assert recorded["flags"] == list(experiments.VARIANTS[run.name].flags), run.name
        if not (run / "metrics.json").exists():
            continue  # a run that failed: its variant.json alone, tabled as "failed"
        saved = json.loads((run / "metrics.json").read_text())
        assert experiments.stale(run.name, saved["config"]) == [], run.name
        assert saved["epochs_completed"] == experiments.VARIANTS[run.name].epochs, run.name
    tabled = {name for _, names, _ in results.TABLES for name in names}
    missing = sorted(n for n in tabled if not (root / n / "metrics.json").exists())
    assert missing == ["cnn4_relu_raw_pixels_lr_0.02", "float32"]
    assert (root / missing[0] / "variant.json").exists() and not (root / missing[1]).exists()
    assert len(tabled) >= 43
