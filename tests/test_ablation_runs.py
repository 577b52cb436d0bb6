"""Ablation runs on disk: read back when finished, refused when the recipe has changed, tabled."""

import dataclasses
import json

import pytest

from alexnet_tf import experiments, figure1
from alexnet_tf.config import resolve
from alexnet_tf.errors import UsageError
from alexnet_tf.flags import build_parser as build_train_parser
from alexnet_tf.flags import config_from_args


def _finished(root, name, top1_error, epochs, history=(), config=None):
    """A workdir as train.py leaves it: metrics.json with the per-epoch history."""
    (root / name).mkdir(parents=True)
    metrics = {
        "top1_error": top1_error,
        "top5_error": 0.01,
        "epochs_completed": epochs,
        "elapsed_seconds": 120.0,
        "history": [
            {"epoch": i + 1, "loss": loss, "top1_error": err}
            for i, (loss, err) in enumerate(history)
        ],
    }
    if config is not None:
        metrics["config"] = config
    (root / name / "metrics.json").write_text(json.dumps(metrics))


def test_finished_runs_are_read_back_not_retrained_and_tabled(tmp_path):
    _finished(tmp_path, "default", 0.10, 2, history=[(1.5, 0.4), (1.0, 0.2)])
    _finished(tmp_path, "lrn", 0.13, 2)
    (tmp_path / "paper_init").mkdir()  # started, stopped without metrics (diverged)
    m = experiments.run("default", tmp_path, None)  # would need real data to train
    assert m["top1_error"] == 0.10 and [r["top1_error"] for r in m["history"]] == [0.4, 0.2]
    assert figure1.epochs_to_reach(m["history"], 0.25) == 2
    assert figure1.epochs_to_reach(m["history"], 0.1) is None
    table = experiments.table(tmp_path, ["default", "lrn", "paper_init", "plateau"]).splitlines()
    assert len(table) == 5  # header, rule, three rows; never-started "plateau" is left out
    assert "90.00%" in table[2] and "+0.00" in table[2]
    assert "87.00%" in table[3] and "-3.00" in table[3] and "2.0" in table[3]
    assert "failed" in table[4]


def test_fastest_is_first_to_the_target_then_lowest_at_the_end():
    def run(*errors):
        return {"history": [{"epoch": i + 1, "top1_error": e} for i, e in enumerate(errors)]}

    runs = {0.01: run(0.5, 0.3, 0.2), 0.02: run(0.4, 0.24, 0.1), 0.04: run(0.6, 0.5, 0.05)}
    assert figure1.fastest(runs, 0.25) == 0.02  # epoch 2, where 0.01 needs 3
    assert figure1.fastest(runs, 0.15) == 0.04  # epoch 3 both: the lower end, 5% < 10%
    runs[0.02] = run(0.4, 0.14, 0.1)
    assert figure1.fastest(runs, 0.15) == 0.02  # the only one there at epoch 2
    none = {0.01: run(0.5, 0.4), 0.02: run(0.5, 0.3)}
    assert figure1.fastest(none, 0.25) == 0.02  # neither reaches it: the lower end


def test_a_run_keeps_the_description_it_was_trained_under(tmp_path, monkeypatch):
    name = "cnn4_relu_lr_0.01"
    m = experiments.run(name, tmp_path, epochs=1, fast=True, verbose=False)
    assert m["epochs_completed"] == 1
    recorded = json.loads((tmp_path / name / "variant.json").read_text())
    assert (
        recorded["what"] == "Figure 1's four-layer CNN, ReLU, lr 0.01"
        and "--no-augment" in recorded["flags"]
    )
    # The recipe moves on and the variant is reworded: the table still says what was run.
    reworded = experiments.Variant("something else", experiments.VARIANTS[name].flags, 8)
    monkeypatch.setitem(experiments.VARIANTS, name, reworded)
    row = experiments.table(tmp_path, [name], baseline=name).splitlines()[2]
    assert "Figure 1's four-layer CNN, ReLU, lr 0.01" in row and "something else" not in row
    assert experiments.described(tmp_path / "nowhere", name) == "something else"


def test_experiments_cli_rejects_unknown_variant(capsys):
    assert experiments.main(["--out", "x", "nope"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown variant 'nope'" in err[0]


def test_experiments_cli_without_names_lists_the_variants_and_trains_none(tmp_path, capsys):
    """Every variant is days of training on 2 cores: that takes --all, not an empty line."""
    assert experiments.main(["--out", str(tmp_path / "runs")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[0] for line in lines[:-1]] == list(experiments.VARIANTS)
    assert lines[0].split()[1:3] == [str(experiments.VARIANTS["default"].epochs), "epochs"]
    assert lines[-1].startswith(f"{len(experiments.VARIANTS)} variants") and "--all" in lines[-1]
    assert not (tmp_path / "runs").exists()
    with pytest.raises(SystemExit) as e:
        experiments.main(["--all", "default"])
    assert e.value.code == 2 and "not both" in capsys.readouterr().err


def test_a_finished_run_of_a_changed_recipe_is_refused_and_kept(tmp_path, capsys):
    args = build_train_parser().parse_args(experiments.flags("default", "D"))
    today = dataclasses.asdict(resolve(config_from_args(args)))
    # Executed elsewhere, from another copy of the data: the same recipe, read back.
    _finished(
        tmp_path / "same", "default", 0.12, 2, config={**today, "workdir": "w", "data_dir": "x"}
    )
    assert experiments.run("default", tmp_path / "same")["top1_error"] == 0.12
    # The preset of before 2026-11-30, saved before --whiten existed (a field it predates is
    # not compared).
    old = {**today, "lr": 0.05, "cutout": 16, "image_size": None}
    del old["whiten"]
    _finished(tmp_path / "old", "default", 0.55, 2, config=old)
    saved = (tmp_path / "old" / "default" / "metrics.json").read_text()
    with pytest.raises(
        UsageError, match=r"\(lr 0.05 -> 0.1, cutout 16 -> 8, image_size None -> 28\)"
    ):
        experiments.run("default", tmp_path / "old")
    assert experiments.main(["--out", str(tmp_path / "old"), "default"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds a run of another recipe" in err[0] and "another --out" in err[0]
    assert (tmp_path / "old" / "default" / "metrics.json").read_text() == saved
    assert not (tmp_path / "old" / "default" / "variant.json").exists()
    # Figure 1's runs predate cutout and the time budget, and do not augment: read back.
    args = build_train_parser().parse_args(experiments.flags("cnn4_relu_lr_0.01", "D"))
    cnn4 = dataclasses.asdict(resolve(config_from_args(args)))
    assert cnn4["pca_lighting"] and not cnn4["augment"]
    for field in ("cutout", "time_budget"):
        del cnn4[field]
    assert experiments.changes({**cnn4, "pca_lighting": False}, config_from_args(args)) == []
    assert experiments.changes({**cnn4, "lr": 0.1}, config_from_args(args)) == ["lr 0.1 -> 0.01"]
    # stale: the same, against the variant's recipe of today
    assert experiments.stale("cnn4_relu_lr_0.01", {**cnn4, "lr": 0.1}) == ["lr 0.1 -> 0.01"]
    assert experiments.stale("cnn4_tanh_lr_0.01", cnn4) == ["activation relu -> tanh"]
