"""The results folder's figures: test accuracy against time and epochs, final accuracies, conv1."""

from __future__ import annotations

from pathlib import Path

from alexnet_tf import plots


def accuracy_vs_time(runs: dict, path: Path, highlight: tuple[str, ...] = ()) -> None:
    """Test accuracy against wall-clock minutes (left) and epochs (right: the same curves
    free of the host's speed), one line per run (label -> history). The runs named in
    ``highlight`` are drawn in colour and named in the legend; the others thin and grey, under
    one legend entry (their labels are the results README's table rows)."""
    grey = [k for k in runs if k not in highlight]
    shown = [k for k in highlight if k in runs]
    styles = {k: dict(color="grey", lw=0.8, alpha=0.45, label=None) for k in grey}
    styles.update(
        {k: dict(color=f"C{i}", marker="o", ms=3, lw=1.8, label=k) for i, k in enumerate(shown)}
    )
    if grey:
        styles[grey[0]]["label"] = f"the {len(grey)} other runs"
    fig, axes = plots.panels(2, figsize=(13.0, 5.2 + 0.2 * len(shown)), sharey=True)
    for ax, x, title in (
        (axes[0], "elapsed_seconds", "against training time (2-core CPUs)"),
        (axes[1], "epoch", "against epochs"),
    ):
        scale = 60 if x == "elapsed_seconds" else 1
        for label, style in styles.items():  # grey first, so the coloured lines lie on top
            xs = [row[x] / scale for row in runs[label]]
            ys = [100 * (1 - row["val_top1_error"]) for row in runs[label]]
            ax.plot(xs, ys, "-", **style)
        ax.axhline(90, color="black", lw=1, ls=":", label="90%")
        ax.set_xlabel("wall-clock minutes" if scale == 60 else "epoch")
        ax.set_title(f"CIFAR-10 AlexNet: test accuracy {title}")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("test top-1 accuracy (%)")
    axes[0].set_ylim(25, 92)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=1, fontsize=8)
    fig.tight_layout(rect=(0, (0.2 * len(labels) + 0.2) / fig.get_figheight(), 1, 1))
    plots.save(fig, path)


def accuracy_vs_epochs(points: list[dict], path: Path) -> None:
    """Each full run's final test top-1 against the epochs it ran (filled: the centre view,
    hollow: §4.1's ten patches), one colour per family: where more epochs stop helping.
    ``points``: :func:`alexnet_tf.results.final_accuracy` of each run."""
    import matplotlib

    families = list(dict.fromkeys(p["family"] for p in points))
    tab20 = matplotlib.colormaps["tab20"].colors  # pairs: a strong colour, its light twin
    colours = tab20[0::2] + tab20[1::2]  # the ten strong ones first, then the light ones
    fig, ax = plots.panels(1, figsize=(7.5, 4.6))
    for i, family in enumerate(families):
        mine = [p for p in points if p["family"] == family]
        xs = [p["epochs"] for p in mine]
        colour = colours[i % len(colours)]
        ax.plot(xs, [100 * p["top1"] for p in mine], "o", color=colour, label=family)
        ten = [(p["epochs"], 100 * p["ten_patches"]) for p in mine if p["ten_patches"] is not None]
        if ten:
            ax.plot(*zip(*ten, strict=True), "o", mfc="none", color=colour)
    ax.plot([], [], "o", mfc="none", color="grey", label="the same runs, ten patches")
    ax.axhline(90, color="grey", lw=1, ls=":", label="90%")
    ax.set_xlabel("epochs run (the cosine ends at the last)")
    ax.set_ylabel("final test top-1 accuracy (%)")
    ax.set_title("CIFAR-10 AlexNet: each full run's end point")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    plots.save(fig, path)


def conv1_filters(runs: dict, path: Path) -> dict:
    """conv1's filters of each trained run (title -> workdir), one mosaic each (Figure 3);
    returns the kernels drawn."""
    from alexnet_tf import evaluate

    kernels = {}
    for title, workdir in runs.items():
        conv1 = evaluate.load_trained(Path(workdir))[0].get_layer("conv1")
        kernels[title] = conv1.kernel.numpy()  # as whitening.whiten_conv1 reads it
    kh, kw, c, n = next(iter(kernels.values())).shape
    title = f"conv1's {n} filters ({kh}x{kw}x{c}), each stretched to [0, 1] as in Figure 3"
    plots.save(plots.conv1_filters(kernels, title=title), path)
    return kernels
