"""Collect finished runs into a committed results folder: small files, tables and plots.

``python -m alexnet_tf.results --main-run runs/cifar10-default --ablations runs/ablations
--out results`` copies each run's ``metrics.json``, ``history.csv``, ``eval*.json`` and
``variant.json`` (never checkpoints), draws test accuracy against wall-clock time and epochs
and each run's final accuracy against the epochs it ran, and writes the ablation tables.
``--paper-run`` adds the faithful preset's full run; ``--paired-run`` (repeated) tabulates
full runs against the first, one change each; ``--conv1-filters TITLE=WORKDIR`` (repeated)
draws conv1's filters of trained runs.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
from pathlib import Path

from alexnet_tf import architectures, cli, config, experiments, figure1, result_plots

SMALL_FILES = ("metrics.json", "history.csv", "eval*.json", "variant.json")
# The tables of results/README.md, each (title, rows, baseline): the deviations of the default
# recipe undone, then the chapters' ablations.
TABLES = (
    ("Cutout, in the default recipe", ("default", "no_cutout"), "default"),
    ("§4.1 PCA lighting, in the default recipe", ("default", "no_pca_lighting"), "default"),
    (
        "The recipe without cutout and each older deviation undone",
        ("no_cutout", "lrn", "no_label_smoothing", "plateau", "paper_init", "float32", "paper"),
        "no_cutout",
    ),
    ("§3.3 LRN, in the faithful recipe", ("paper", "paper_no_lrn"), "paper"),
    (
        "A slower classifier in the default recipe, 5 epochs",
        ("default_5_epochs", "slow_fc8_5_epochs"),
        "default_5_epochs",
    ),
    (
        "§3.3's CIFAR-10 test: the four-layer CNN, 20 epochs",
        ("cnn4_lrn", "cnn4_no_lrn"),
        "cnn4_lrn",
    ),
    (
        "§5's init on §2's inputs, and Caffe's, in the faithful recipe",
        ("paper", "paper_normal_init", "paper_raw_pixels", "paper_caffe_init"),
        "paper",
    ),
    (
        "§3.4 overlapping pooling, in the recipe without cutout",
        ("no_cutout", "plain_pooling"),
        "no_cutout",
    ),
    (
        "§4.1 augmentation and §4.2 dropout, 5,000 images",
        ("small", "small_no_augment", "small_no_dropout"),
        "small",
    ),
    *(
        (
            f"§3.1 Figure 1: ReLU and tanh at each learning rate (the four-layer CNN, {s.words})",
            (*figure1.names("relu", key), *figure1.names("tanh", key)),
            figure1.name("relu", 0.01, key),
        )
        for key, s in figure1.SETTINGS.items()
    ),
)


def copy_small_files(run: Path, out: Path) -> list[str]:
    """Copy ``run``'s metrics, history and evaluations into ``out``; the names copied."""
    out.mkdir(parents=True, exist_ok=True)
    copied = []
    for pattern in SMALL_FILES:
        for f in sorted(run.glob(pattern)):
            if (out / f.name).exists() and (out / f.name).samefile(f):
                continue  # collecting a results folder in place: nothing to copy
            shutil.copy2(f, out / f.name)
            copied.append(f.name)
    return copied


def final_accuracy(run: Path) -> dict:
    """A finished run's end point: epochs, test top-1 (single view; ten patches where
    evaluated) and its family: the recipe, the training view's side and what else differs
    from the recipe of today in ways that move the end point (normalisation, cutout, factors)."""
    m = experiments.load(run)
    c = m.get("config") or {}
    family = f"{c.get('recipe', 'default')} recipe" + _model_named(c)
    family += f", {c.get('image_size') or 32}px" + _norm_named(c) + _cutout_named(c)
    family += _scales_named(c)
    return {
        "epochs": m["epochs_completed"],
        "top1": 1.0 - m["top1_error"],
        "ten_patches": _accuracy(run / "eval_ten_crop.json"),
        "family": family,
    }


def _recipe(c: dict) -> dict:
    """The preset a run's resolved config ``c`` started from (its recipe and dataset's)."""
    presets = config.PAPER_RECIPES if c.get("recipe") == "paper" else config.PRESETS
    return presets[c.get("dataset", "cifar10")]


def _model_named(c: dict) -> str:
    """', alexnet_cifar_3x3' (or the like) and ', one tower' (§3.2's two merged); '' for the
    default network, which goes unnamed."""
    model = c.get("model") or "alexnet_cifar"
    named = "" if model == "alexnet_cifar" else f", {model}"
    arch = architectures.ARCHITECTURES.get(model)  # None: a network this version lacks
    split = arch is not None and any(spec.towers for spec in arch.convs)
    return named + (", one tower" if split and c.get("towers") == 1 else "")


def _norm_named(c: dict) -> str:
    """', LRN' (or the like) where the run's normalisation is not its recipe's own, else ''."""
    own = _recipe(c)["norm"]
    if c.get("norm", own) == own:
        return ""
    return {"lrn": ", LRN", "batch": ", batch norm", "none": ", no normalisation"}[c["norm"]]


def _cutout_named(c: dict) -> str:
    """', cutout 12' (', no cutout') where the run's square is not its recipe's own, else ''."""
    own = _recipe(c)["cutout"]
    side = c.get("cutout") or 0  # runs from before --cutout had none, as run_label says
    return "" if side == own else f", cutout {side}" if side else ", no cutout"


def _scales_named(c: dict) -> str:
    """', fc8 gradient x0.125' for each per-layer factor (--init-scale, --grad-scale)."""
    return "".join(
        f", {layer} {what} x{x:g}"
        for key, what in (("init_scale", "init"), ("grad_scale", "gradient"))
        for layer, x in sorted((c.get(key) or {}).items())
    )


PRECISION_NAMES = {"mixed_bfloat16": "bf16", "float32": "fp32", "mixed_float16": "fp16"}


def run_label(metrics: dict) -> str:
    """'default recipe, 60 epochs, cutout 16, 7.57M parameters': a full run's legend entry,
    from its config (the parameter count tells the network's widths apart)."""
    c = metrics.get("config", {})
    label = f"{c.get('recipe', 'default')} recipe, {metrics['epochs_completed']} epochs"
    label += _model_named(c)
    recipe = _recipe(c)
    label += _norm_named(c) + _scales_named(c)
    label += f", lr {c['lr']:g}" if c.get("lr", recipe["lr"]) != recipe["lr"] else ""
    smoothing = c.get("label_smoothing", recipe["label_smoothing"])
    label += f", label smoothing {smoothing:g}" if smoothing != recipe["label_smoothing"] else ""
    label += f", EMA {c['ema']:g}" if c.get("ema") else ""
    label += f", cutout {c['cutout']}" if c.get("cutout") else ", no cutout"
    label += ", PCA lighting" if c.get("pca_lighting") else ""
    label += ", alternating flips" if c.get("alternating_flip") else ""
    size = c.get("image_size")
    label += f", {size}x{size} crops" if size and size < 32 else ""  # §4.1's crops of 32x32
    label += ", §5's N(0, 0.01) init" if c.get("init") == "paper" else ""  # He init otherwise
    label += ", §2's mean image" if c.get("mean") == "image" else ""  # per channel otherwise
    label += ", raw 0-255 pixels" if c.get("raw_pixels") else ""  # §2's scale
    label += ", whitened conv1" if c.get("whiten") else ""
    if metrics.get("parameters"):
        label += f", {metrics['parameters'] / 1e6:.2f}M parameters"
    host = metrics.get("machine")
    if host:  # runs from before it was recorded do not say
        label += ", " + host["cpu"].replace("(R)", "").replace(" Processor", "")
        if host.get("policy"):  # the precision it trained in (precision.resolve)
            label += ", " + PRECISION_NAMES.get(host["policy"], host["policy"])
    return label


def _shown(value) -> str:
    return "default" if value is None else str(value)  # None: the preset's or model's own


def config_change(base: dict, metrics: dict) -> str:
    """What ``metrics``' run changed from ``base``'s: 'norm: batch → lrn', from the two
    resolved configs and hosts. A key that only one of them records is compared with
    TrainConfig's default (a field added since: the older run had its default behaviour),
    where that default is a value and not a preset's to fill in. A key both record as None
    and a value ('image size: 28 → default') is a change."""
    defaults = dataclasses.asdict(config.TrainConfig())
    a, b = base.get("config", {}), metrics.get("config", {})
    pairs = {k: (a.get(k, defaults.get(k)), b.get(k, defaults.get(k))) for k in {*a, *b}}
    changes = [
        f"{k.replace('_', ' ')}: {_shown(x)} → {_shown(y)}"
        for k, (x, y) in sorted(pairs.items())
        if k not in ("workdir", "data_dir") and x != y and (k in a and k in b or None not in (x, y))
    ]
    host_a, host_b = (m.get("machine", {}).get("cpu") for m in (base, metrics))
    if host_a != host_b:  # a different host changes the epochs that fit: say so
        changes.append(f"host: {host_a} → {host_b}")
    return ", ".join(changes) or "(the baseline)"


def _accuracy(path: Path) -> float | None:
    """Top-1 accuracy in an ``evaluate`` result file, or None where it was not run."""
    return 1.0 - json.loads(path.read_text())["top1_error"] if path.exists() else None


def paired_table(runs: tuple[Path, ...]) -> str:
    """Full-budget runs against the first (the same host, one change each: a full-budget
    ablation), from their committed results folders: markdown."""
    rows = [
        "| run | change from the first row | epochs | images/s | test top-1 | + flip "
        "| ten patches | training top-1 at the end | Δ top-1 | Δ ten patches |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    base = experiments.load(runs[0])

    def pct(x):
        return "" if x is None else f"{100 * x:.2f}%"

    def delta(x, y):
        return "" if x is None or y is None else f"{100 * (x - y):+.2f}"

    base_ten = _accuracy(runs[0] / "eval_ten_crop.json")
    for run in runs:
        m = experiments.load(run)
        top1, ten = 1.0 - m["top1_error"], _accuracy(run / "eval_ten_crop.json")
        train = (m.get("history") or [{}])[-1].get("top1")  # None: not recorded
        rows.append(
            f"| [`{run.name}`]({run.name}) | {config_change(base, m)} | {m['epochs_completed']} "
            f"| {m.get('images_per_second') or 0:.1f} | {pct(top1)} "
            f"| {pct(_accuracy(run / 'eval_flip.json'))} | {pct(ten)} | {pct(train)} "
            f"| {delta(top1, 1.0 - base['top1_error'])} | {delta(ten, base_ten)} |"
        )
    return "\n".join(rows)


def best_per_machine(runs: dict) -> list:
    """Of ``runs`` (run -> its metrics.json), the one with the highest final test top-1 on each
    host and precision, in first-seen order: the plots draw these in colour (wall-clock
    minutes compare within a host only)."""
    best: dict = {}
    for run, m in runs.items():
        host = m.get("machine") or {}
        key = (host.get("cpu"), host.get("policy"))
        if key not in best or m["top1_error"] < runs[best[key]]["top1_error"]:
            best[key] = run
    return list(best.values())


def collect(
    main_run: Path,
    ablations: Path,
    out: Path,
    extra: tuple[Path, ...] = (),
    paper_run: Path | None = None,
    paired: tuple[Path, ...] = (),
) -> str:
    """Fill ``out`` from the runs (``extra``: earlier full runs, plotted only; ``paper_run``:
    the faithful preset's full run, copied to ``cifar10-paper-recipe``; ``paired``: full runs
    tabulated against the first, see :func:`paired_table`); returns the markdown of the
    tables."""
    copy_small_files(main_run, out / "cifar10-default")
    if paper_run is not None:
        copy_small_files(paper_run, out / "cifar10-paper-recipe")
    ends = {run: experiments.load(run) for run in (main_run, *extra, *filter(None, [paper_run]))}
    runs = {run_label(m): m["history"] for m in ends.values()}
    for name in sorted(experiments.VARIANTS):
        if (ablations / name / "metrics.json").exists():
            copy_small_files(ablations / name, out / "ablations" / name)
    for name, label in (("paper", "faithful recipe"), ("default", "default recipe")):
        m = experiments.load(ablations / name)
        if m and m.get("history"):
            runs[f"{label}, {m['epochs_completed']}-epoch ablation budget"] = m["history"]
    shown = (main_run, *filter(None, [paper_run]), *best_per_machine(ends))
    highlight = tuple(dict.fromkeys(run_label(ends[r]) for r in shown))
    result_plots.accuracy_vs_time(runs, out / "accuracy_vs_time.png", highlight)
    points = [final_accuracy(r) for r in ends]
    result_plots.accuracy_vs_epochs(points, out / "final_accuracy_vs_epochs.png")
    parts = [f"### {t}\n\n" + experiments.table(ablations, r, baseline=b) for t, r, b in TABLES]
    if paired:
        parts.insert(0, "### Full budget, one change each\n\n" + paired_table(paired))
    return "\n\n".join(parts)


def main(argv=None) -> int:
    p = cli.Parser(prog="python -m alexnet_tf.results", description=__doc__.splitlines()[0])
    p.add_argument("--main-run", required=True, help="the default CIFAR-10 command's workdir")
    p.add_argument("--ablations", required=True, help="alexnet_tf.experiments' --out")
    p.add_argument("--out", default="results")
    p.add_argument("--extra-run", action="append", default=[], help="an earlier run, plotted")
    p.add_argument("--paper-run", help="the faithful preset's full run (--recipe paper)")
    paired_help = "a committed full run's folder; the first is the others' baseline"
    p.add_argument("--paired-run", action="append", default=[], help=paired_help)
    filters_help = "TITLE=WORKDIR: a trained run's conv1, drawn into conv1_filters.png"
    p.add_argument("--conv1-filters", action="append", default=[], help=filters_help)
    args = p.parse_args(argv)

    def go():
        from alexnet_tf.errors import UsageError

        main_run = Path(args.main_run)
        extra = tuple(Path(r) for r in args.extra_run)
        paper = Path(args.paper_run) if args.paper_run else None
        paired = tuple(Path(r) for r in args.paired_run)
        for run in (main_run, *extra, *((paper,) if paper else ()), *paired):
            if not (run / "metrics.json").exists():
                raise UsageError(f"{run} holds no finished run (metrics.json)")
        if bad := [f for f in args.conv1_filters if "=" not in f]:
            raise UsageError(f"--conv1-filters takes TITLE=WORKDIR, not {bad[0]!r}")
        # The last '=' splits: a title may hold one ("lr=0.1=runs/x"); each title once.
        pairs = [f.rsplit("=", 1) for f in args.conv1_filters]
        titles = [title for title, _ in pairs]
        if again := next((t for i, t in enumerate(titles) if t in titles[:i]), None):
            raise UsageError(f"--conv1-filters names {again!r} twice: one title per run")
        if named := dict(pairs):
            result_plots.conv1_filters(named, Path(args.out) / "conv1_filters.png")
        print(collect(main_run, Path(args.ablations), Path(args.out), extra, paper, paired))

    return cli.run(go)


if __name__ == "__main__":
    sys.exit(main())
