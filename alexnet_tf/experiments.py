"""Ablations: named variants of the CIFAR-10 recipe, trained at one budget, read back, tabled.

``python -m alexnet_tf.experiments --data-dir ../shared/data --out runs/ablations default lrn``
trains each named variant with the training CLI (one fresh process each) into ``OUT/NAME`` and
prints the table. A variant already trained to its budget is read back, not retrained, so the
chapters and ``results/`` share one set of runs; one trained under another recipe (a preset
changed since) is refused, and kept.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path

from alexnet_tf import cli, figure1, lrn_apart


@dataclasses.dataclass(frozen=True)
class Variant:
    """One ablation: training-CLI flags on top of ``--dataset cifar10`` and what they change."""

    what: str
    flags: tuple[str, ...] = ()
    epochs: int = 2  # the budget; every variant of one table shares it
    examples: int | None = None  # train on the first N training images (overfitting studies)


_SMALL = 5000  # §4.1/§4.2 studies: 5,000 images overfit within the budget; 50,000 would not

# The studies below measure one change each against the default recipe *without* cutout (the
# `no_cutout` row): cutout came last, and it would confound §4.1's and §4.2's overfitting
# studies. `--cutout 0` says so in every command they print.
_NC = ("--cutout", "0")
# The 5,000-image studies also take §5's lr 0.01: their 8 epochs are 312 steps, too few for the
# default peak lr 0.1 to leave chance (18% test accuracy, 2026-11-30), and at chance neither
# §4.1's augmentation nor §4.2's dropout can show what it prevents.
_SM = (*_NC, "--lr", "0.01")

VARIANTS = {
    # The default recipe; cutout undone; then each older deviation undone (results/README.md).
    "default": Variant("the default recipe (batch norm, label smoothing, cutout, cosine, He init)"),
    "no_cutout": Variant("no cutout (§4.1's crops, flips and PCA lighting only)", _NC),
    "no_pca_lighting": Variant(
        "no PCA lighting (§4.1's colour augmentation)", ("--no-pca-lighting",)
    ),
    "mean_image": Variant(
        "§2's mean image subtracted from the raw pixels, in place of per-channel standardisation",
        ("--mean", "image"),
    ),
    "whiten": Variant(
        "conv1 set to whiten the training patches and frozen (airbench), not learned (§5)",
        ("--whiten",),
    ),
    "lrn": Variant("LRN (§3.3) in place of batch norm", (*_NC, "--norm", "lrn")),
    "no_label_smoothing": Variant("no label smoothing", (*_NC, "--label-smoothing", "0")),
    "plateau": Variant(
        "§5's schedule: lr 0.01, divided by 10 on plateau",
        (*_NC, "--schedule", "plateau", "--lr", "0.01", "--warmup-epochs", "0"),
    ),
    "paper_init": Variant("§5's init: N(0, 0.01), biases 1", (*_NC, "--init", "paper")),
    "float32": Variant("float32 compute in place of bfloat16", (*_NC, "--precision", "float32")),
    "paper": Variant("the faithful recipe (--recipe paper)", ("--recipe", "paper")),
    # The faithful recipe's last deviations undone: §5's init (He's in the recipe), then also
    # §2's input scale, raw 0-255 pixels less the mean image (per-channel standardised [0, 1]).
    "paper_normal_init": Variant(
        "the faithful recipe with §5's init: N(0, 0.01), biases 1",
        ("--recipe", "paper", "--init", "paper"),
    ),
    "paper_raw_pixels": Variant(
        "the faithful recipe with §5's init on §2's raw 0-255 pixels, less the mean image",
        ("--recipe", "paper", "--init", "paper", "--mean", "image", "--raw-pixels"),
    ),
    "paper_caffe_init": Variant(
        "the faithful recipe with Caffe's init: N(0, 0.01), fc6/fc7 N(0, 0.005), biases 0.1",
        ("--recipe", "paper", "--init", "caffe"),
    ),
    # Chapters: one idea each.
    "paper_no_lrn": Variant(
        "the faithful recipe without LRN", ("--recipe", "paper", "--norm", "none")
    ),
    # Chapter 2's finding on cnn4 (alexnet_tf.lrn_apart), on this network: LRN's two constants
    # make the classifier's step on the logits k^4beta = 8x smaller; this slows fc8 alone.
    "paper_slow_fc8": Variant(
        "the faithful recipe without LRN, fc8's loss gradient 8x smaller",
        ("--recipe", "paper", "--norm", "none", "--grad-scale", "fc8=0.125"),
    ),
    # ... and in the default recipe (batch norm, peak lr 0.1): one whole cosine in 5 epochs
    # each (no time budget, so both end their schedule), fc8 slowed 8x or not.
    "default_5_epochs": Variant(
        "the default recipe, one cosine in 5 epochs", ("--time-budget", "0"), 5
    ),
    "slow_fc8_5_epochs": Variant(
        "the default recipe, one cosine in 5 epochs, fc8's loss gradient 8x smaller",
        ("--time-budget", "0", "--grad-scale", "fc8=0.125"),
        5,
    ),
    # ... and the control: every layer's step 8x smaller (the peak lr / 8), as cnn4 had
    "slow_all_5_epochs": Variant(
        "the default recipe, one cosine in 5 epochs, every layer's step 8x smaller (lr 0.0125)",
        ("--time-budget", "0", "--lr", "0.0125"),
        5,
    ),
    # §3.3's CIFAR-10 claim, on its own network: "a four-layer CNN achieved a 13% test error
    # rate without normalization and 11% with normalization". The faithful recipe, 20 epochs.
    "cnn4_lrn": Variant(
        "the four-layer CNN with LRN (§3.3), the faithful recipe",
        ("--recipe", "paper", "--model", "cnn4", "--norm", "lrn"),
        20,
    ),
    "cnn4_no_lrn": Variant(
        "the four-layer CNN without LRN, the faithful recipe",
        ("--recipe", "paper", "--model", "cnn4", "--norm", "none"),
        20,
    ),
    # ... and LRN's constant alone: alpha 0 divides every activity by k^beta = 1.68 and
    # nothing else. 8 epochs, against cnn4_lrn's history at epoch 8 (chapter 2).
    "cnn4_lrn_constant": Variant(
        "the four-layer CNN with LRN's constant alone (alpha 0), the faithful recipe",
        ("--recipe", "paper", "--model", "cnn4", "--norm", "lrn", "--lrn-alpha", "0"),
        8,
    ),
    "plain_pooling": Variant(
        "2x2/2 pooling in place of 3x3/2 (§3.4)", (*_NC, "--pooling", "plain")
    ),
    "small": Variant("5,000 images, default recipe without cutout, lr 0.01", _SM, 8, _SMALL),
    "small_no_augment": Variant(
        "5,000 images, no crops or flips (§4.1)", (*_SM, "--no-augment"), 8, _SMALL
    ),
    "small_no_dropout": Variant(
        "5,000 images, no dropout (§4.2)", (*_SM, "--dropout", "0"), 8, _SMALL
    ),
}


for _name, (_what, _flags, _epochs) in lrn_apart.VARIANTS.items():  # chapter 2, after cnn4_*
    VARIANTS[_name] = Variant(_what, _flags, _epochs)

for _setting, _s in figure1.SETTINGS.items():  # Figure 1's sweeps (§3.1; alexnet_tf.figure1)
    for _act, _name in (("relu", "ReLU"), ("tanh", "tanh")):
        for _lr in figure1.LRS:
            VARIANTS[figure1.name(_act, _lr, _setting)] = Variant(
                f"Figure 1's four-layer CNN, {_name}, lr {_lr:g}"
                + ("" if _setting == "he" else f", {_s.words}"),
                (*figure1.FLAGS, "--activation", _act, "--lr", f"{_lr:g}", *_s.flags),
                figure1.EPOCHS,
            )


def flags(name: str, data_dir: str | None = None, epochs: int | None = None, fast=False):
    """The training-CLI flags of variant ``name`` (``epochs`` overrides its budget).

    ``fast`` swaps the real data for a tiny learnable synthetic set: the chapters' FAST mode,
    seconds on 2 CPU cores, for checking that everything runs, not for any number.
    """
    v = VARIANTS[name]
    if fast:
        size = ("--num-examples", "64", "--batch-size", "32", "--epochs", str(epochs or 1))
        return ["--dataset", "synthetic", "--precision", "float32", *v.flags, *size]
    out = ["--dataset", "cifar10", *v.flags, "--epochs", str(epochs or v.epochs)]
    if v.examples:
        out += ["--num-examples", str(v.examples)]
    return out + (["--data-dir", data_dir] if data_dir else [])


def command(name: str, workdir: str | Path, data_dir: str | None, epochs: int | None = None):
    """The shell command that trains variant ``name``, as the README and results/ quote it."""
    cmd = [sys.executable, "-m", "alexnet_tf.train", *flags(name, data_dir, epochs)]
    return cmd + ["--workdir", str(workdir)]


def load(workdir: str | Path) -> dict | None:
    """A finished run's ``metrics.json`` (its per-epoch ``history`` included), or None."""
    path = Path(workdir) / "metrics.json"
    return json.loads(path.read_text()) if path.exists() else None


# Where and how a run was executed, not what it learned; epochs is the budget, checked apart.
_NOT_RECIPE = (
    "workdir",
    "data_dir",
    "epochs",
    "strategy",
    "devices",
    "checkpoint_steps",
    "eval_batch_size",
)


def changes(saved: dict, config) -> list[str]:
    """``"field old -> new"`` for each field of the recipe where a run's saved (resolved)
    config differs from ``config`` resolved today. A field the run predates is skipped, and
    so are the training views' extras when neither run augments (the pipeline ignores them)."""
    from alexnet_tf.config import resolve

    now = dataclasses.asdict(resolve(config))
    skip = set(_NOT_RECIPE) | {k for k in now if k not in saved}
    if not now["augment"] and not saved.get("augment", True):
        skip |= {"pca_lighting", "cutout", "alternating_flip"}
    return [f"{k} {saved[k]} -> {v}" for k, v in now.items() if k not in skip and saved[k] != v]


def config(name: str, data_dir: str | None = None, epochs: int | None = None, fast=False):
    """Variant ``name``'s TrainConfig as the training CLI makes it of :func:`flags` (not yet
    resolved against its dataset's preset)."""
    from alexnet_tf.flags import build_parser, config_from_args

    return config_from_args(build_parser().parse_args(flags(name, data_dir, epochs, fast)))


def stale(name: str, saved: dict, **how) -> list[str]:
    """:func:`changes` from a run's saved config to variant ``name``'s recipe of today
    (``how``: :func:`flags`' data_dir, epochs and fast)."""
    return changes(saved, config(name, **how))


def run(
    name: str,
    root: str | Path,
    data_dir: str | None = None,
    *,
    epochs: int | None = None,
    fast: bool = False,
    verbose: bool = True,
) -> dict:
    """Train variant ``name`` into ``root/name`` unless it already finished; its metrics.

    A run stopped by a NaN loss (an unstable variant) returns ``{"failed": reason}``.
    """
    from alexnet_tf import train
    from alexnet_tf.errors import TrainingStopped, UsageError

    workdir = Path(root) / name
    recipe = config(name, data_dir, epochs, fast)
    budget = recipe.epochs
    done = load(workdir)
    if done and done.get("epochs_completed", 0) >= budget:
        # A run of the recipe as it was: reading it back would table a changed preset's
        # variant with the old one's number, so it is refused, and kept.
        old = changes(done["config"], recipe) if "config" in done else []
        if old:
            raise UsageError(
                f"{workdir} holds a run of another recipe ({', '.join(old[:4])}"
                f"{', ...' if len(old) > 4 else ''}): use another --out, or move it away"
            )
        return done
    # What this run measures, as the variant says it today: a later change to the recipe
    # rewords VARIANTS, and `table` still labels this run as it was trained.
    workdir.mkdir(parents=True, exist_ok=True)
    record = {"name": name, "what": VARIANTS[name].what, "flags": list(VARIANTS[name].flags)}
    (workdir / "variant.json").write_text(json.dumps(record, indent=2) + "\n")
    try:
        train.train_and_evaluate(recipe, str(workdir), verbose=verbose)
    except TrainingStopped as e:
        return {"failed": str(e), "epochs_completed": 0}
    return load(workdir)


def described(workdir: str | Path, name: str) -> str:
    """What the run in ``workdir`` changes: recorded at training time, else today's VARIANTS."""
    path = Path(workdir) / "variant.json"
    return json.loads(path.read_text())["what"] if path.exists() else VARIANTS[name].what


def table(root: str | Path, names, baseline: str = "default") -> str:
    """A markdown table of the finished variants among ``names``: test accuracy, time, delta."""
    rows = [
        "| variant | change | epochs | test top-1 | test top-5 | minutes | vs " + baseline + " |"
    ]
    rows.append("|---|---|---:|---:|---:|---:|---:|")
    base = load(Path(root) / baseline)
    for name in names:
        m = load(Path(root) / name)
        if m is None or m.get("top1_error") is None:
            if (Path(root) / name).is_dir():  # started, no metrics: stopped (NaN) or failed
                rows.append(f"| `{name}` | {described(Path(root) / name, name)} | | failed | | | |")
            continue
        acc = 1.0 - m["top1_error"]
        delta = f"{100 * (acc - (1.0 - base['top1_error'])):+.2f}" if base else ""
        minutes = (m.get("elapsed_seconds") or 0.0) / 60
        rows.append(
            f"| `{name}` | {described(Path(root) / name, name)} | {m['epochs_completed']} "
            f"| {100 * acc:.2f}% "
            f"| {100 * (1 - m['top5_error']):.2f}% | {minutes:.1f} | {delta} |"
        )
    return "\n".join(rows)


def build_parser():
    p = cli.Parser(
        prog="python -m alexnet_tf.experiments",
        description="Train named CIFAR-10 ablations (each once) and print their table.",
    )
    p.add_argument("names", nargs="*", help="variants to train (none: list them all)")
    p.add_argument("--all", action="store_true", help="train every variant (days on 2 cores)")
    p.add_argument("--out", default="runs/ablations", help="one workdir per variant under here")
    p.add_argument("--data-dir", help="where cifar-10-batches-py/ is")
    p.add_argument("--epochs", type=int, help="override every variant's budget")
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.all and args.names:
        parser.error("name variants or give --all, not both")
    if not (args.all or args.names):  # 52 variants, 404 epochs: listed, not started
        try:
            for name, v in VARIANTS.items():
                print(f"{name:36s} {v.epochs:3d} epochs  {v.what}")
            print(f"{len(VARIANTS)} variants: name some to train them (or --all)", flush=True)
        except BrokenPipeError:  # `| head`: the reader has what it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    names = list(VARIANTS) if args.all else args.names
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        return cli.fail(f"unknown variant {unknown[0]!r}: choose from {', '.join(VARIANTS)}")

    def go():
        for name in names:
            print(f"== {name}: {VARIANTS[name].what}", flush=True)
            if run(name, args.out, args.data_dir, epochs=args.epochs).get("failed"):
                print(f"== {name} failed; going on", flush=True)
        print(table(args.out, names))

    return cli.run(go)


if __name__ == "__main__":
    sys.exit(main())
