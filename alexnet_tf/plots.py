"""Matplotlib figures the chapters and results/ share: curves, bars, image and kernel grids."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _plt():
    import matplotlib

    if matplotlib.get_backend().lower() not in ("module://matplotlib_inline.backend_inline",):
        matplotlib.use("Agg")  # headless (CI, scripts); notebooks keep their inline backend
    import matplotlib.pyplot as plt

    return plt


def curves(runs: dict, key: str, *, ylabel: str, title: str, x: str = "epoch", hline=None, ax=None):
    """One line per run: ``runs`` maps a label to its history (a list of per-epoch dicts).

    ``key`` is the plotted column (e.g. ``top1_error``, ``val_top1_error``); a label with
    "test" in it is drawn dashed. ``hline=(y, label)`` marks a target such as 25% error.
    ``ax``: draw into these axes (a panel of a larger figure) instead of a new figure.
    """
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.0)) if ax is None else (ax.figure, ax)
    for i, (label, history) in enumerate(runs.items()):
        xs = [row[x] / (60 if x == "elapsed_seconds" else 1) for row in history]
        ys = [100 * row[key] for row in history]
        marker = "osD^v"[i // 10 % 5]  # the colours repeat after 10 lines; the markers do not
        ax.plot(xs, ys, "--" if "test" in label else "-", marker=marker, ms=3, label=label)
    if hline is not None:
        ax.axhline(100 * hline[0], color="grey", lw=1, ls=":", label=hline[1])
    ax.set_xlabel("wall-clock minutes" if x == "elapsed_seconds" else x)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def panels(ncols: int, *, figsize=(13.0, 5.0), sharey: bool = False):
    """A figure of ``ncols`` side-by-side axes: ``(fig, axes)``."""
    return _plt().subplots(1, ncols, figsize=figsize, sharey=sharey)


def bars(values: dict, *, ylabel: str, title: str, fmt: str = "{:.1f}"):
    """A labelled bar per entry of ``values`` (label -> number)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    labels, heights = list(values), [float(v) for v in values.values()]
    rects = ax.bar(labels, heights, color=[f"C{i}" for i in range(len(labels))])
    ax.bar_label(rects, [fmt.format(h) for h in heights])
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.margins(y=0.15)
    fig.tight_layout()
    return fig


def image_grid(images, titles=None, *, ncols: int = 8, title: str = "", scale: float = 1.4):
    """Images (uint8 or floats in [0, 1], HWC) in a grid with optional per-image titles."""
    plt = _plt()
    images = list(images)
    nrows = max(1, -(-len(images) // ncols))
    # 0.2 inch a row for its titles: without it a title can sit under the row above's images
    fig, axes = plt.subplots(nrows, ncols, figsize=(scale * ncols, (scale + 0.2) * nrows + 0.4))
    for i, ax in enumerate(np.asarray(axes).reshape(-1)):
        ax.axis("off")
        if i < len(images):
            img = np.asarray(images[i])
            ax.imshow(img if img.dtype == np.uint8 else np.clip(img, 0, 1))
            if titles is not None:
                ax.set_title(titles[i], fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def kernels_to_images(kernel: np.ndarray) -> np.ndarray:
    """conv1's kernel [kh, kw, 3, n] as n RGB images, each stretched to [0, 1] (Figure 3)."""
    k = np.moveaxis(np.asarray(kernel, np.float32), -1, 0)
    lo = k.min(axis=(1, 2, 3), keepdims=True)
    hi = k.max(axis=(1, 2, 3), keepdims=True)
    return (k - lo) / np.maximum(hi - lo, 1e-12)


def filter_mosaic(kernel: np.ndarray, ncols: int = 24, pad: int = 1) -> np.ndarray:
    """conv1's kernel [kh, kw, 3, n] as one RGB image: its filters (each stretched to [0, 1],
    as in Figure 3) in rows of ``ncols``, ``pad`` white pixels apart."""
    tiles = kernels_to_images(kernel)
    n, kh, kw = tiles.shape[:3]
    rows = -(-n // ncols)
    out = np.ones((pad + rows * (kh + pad), pad + ncols * (kw + pad), 3), np.float32)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, ncols)
        y, x = pad + r * (kh + pad), pad + c * (kw + pad)
        out[y : y + kh, x : x + kw] = tile
    return out


def conv1_filters(kernels: dict, *, ncols: int = 24, title: str = ""):
    """One mosaic of conv1's filters per named kernel (title -> [kh, kw, 3, n]), stacked."""
    plt = _plt()
    fig, axes = plt.subplots(len(kernels), 1, figsize=(10.0, 2.3 * len(kernels)), squeeze=False)
    for ax, (name, kernel) in zip(axes[:, 0], kernels.items(), strict=True):
        ax.imshow(filter_mosaic(kernel, ncols), interpolation="nearest")
        ax.set_title(name, fontsize=9)
        ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def confusion(y_true, y_pred, classes, *, title: str):
    """A confusion matrix (rows: true class, columns: predicted), counts in the cells."""
    plt = _plt()
    n = len(classes)
    m = np.zeros((n, n), np.int64)
    np.add.at(m, (np.asarray(y_true), np.asarray(y_pred)), 1)
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    ax.imshow(m, cmap="Blues")
    for i in range(n):
        for j in range(n):
            color = "white" if m[i, j] > m.max() / 2 else "black"
            ax.text(j, i, str(m[i, j]), ha="center", va="center", fontsize=7, color=color)
    ax.set_xticks(range(n), classes, rotation=45, ha="right")
    ax.set_yticks(range(n), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    return fig, m


def save(fig, path: str | Path | None) -> None:
    """Save ``fig`` as a PNG at ``path`` (parents created); ``None`` saves nothing."""
    if path is None:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")  # a legend outside the axes stays whole
