"""Figures: confusion matrix, t-SNE of hidden states (paper Figure 10), loss curves.

Figures are drawn on ``matplotlib.figure.Figure`` objects with the Agg canvas (no pyplot
global state, no display needed) and written atomically as PNG.
"""
from __future__ import annotations

import io
import os
from typing import Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from skeletonllm.atomic import atomic_write_bytes


def _save(fig: Figure, path: str | os.PathLike, dpi: int) -> None:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    atomic_write_bytes(path, buf.getvalue())


def confusion_matrix(y_true: Sequence[int], y_pred: Sequence[int], num_classes: int) -> np.ndarray:
    """Counts ``(K, K)``: row = true class, column = predicted class.

    A prediction of -1 (no candidate matched) is not counted in any column; it still
    lowers the row's normalised diagonal.
    """
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    for t, p in zip(y_true, y_pred):
        if not 0 <= t < num_classes:
            raise ValueError(f"true class {t} outside 0..{num_classes - 1}")
        if 0 <= p < num_classes:
            cm[t, p] += 1
        elif p != -1:
            raise ValueError(f"predicted class {p} outside 0..{num_classes - 1} (use -1 for 'unmatched')")
    return cm


def plot_confusion_matrix(cm, class_names: Sequence[str], path: str | os.PathLike,
                          normalize: bool = True, title: str | None = None, dpi: int = 120) -> None:
    """Confusion matrix ``cm (K, K)`` (rows true, columns predicted) with class names.

    ``normalize`` divides each row by its number of samples, so the diagonal reads as
    per-class accuracy (rows without samples stay 0).
    """
    cm = np.asarray(cm, dtype=np.float64)
    k = len(class_names)
    if cm.shape != (k, k):
        raise ValueError(f"confusion matrix is {cm.shape}, but {k} class names were given")
    if normalize:
        rows = cm.sum(axis=1, keepdims=True)
        cm = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    side = max(4.0, 0.28 * k + 2.0)
    fig = Figure(figsize=(side + 1.0, side))
    ax = fig.add_subplot()
    im = ax.imshow(cm, cmap="Blues", vmin=0.0, vmax=1.0 if normalize else None)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(k), labels=class_names, rotation=90, fontsize=7 if k > 20 else 9)
    ax.set_yticks(range(k), labels=class_names, fontsize=7 if k > 20 else 9)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if k <= 15:  # numbers stay legible only for small matrices
        dark = 0.5 * (1.0 if normalize else (cm.max() or 1.0))  # white text on the darker half of the colormap
        for i in range(k):
            for j in range(k):
                if cm[i, j]:
                    ax.text(j, i, f"{cm[i, j]:.2f}" if normalize else f"{int(cm[i, j])}",
                            ha="center", va="center", fontsize=7,
                            color="white" if cm[i, j] > dark else "black")
    if title:
        ax.set_title(title)
    _save(fig, path, dpi)


def tsne_embed(features, seed: int = 0, perplexity: float | None = None) -> np.ndarray:
    """2-D t-SNE ``(N, 2)`` of ``features (N, D)`` with a fixed seed (PCA initialisation).

    Exact gradients below 1000 points (more accurate and, there, faster); Barnes-Hut above.
    """
    from sklearn.manifold import TSNE

    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or len(x) < 3:
        raise ValueError(f"t-SNE needs (N >= 3, D) features; got {x.shape}")
    perp = perplexity if perplexity is not None else float(min(30.0, (len(x) - 1) / 3.0))
    method = "exact" if len(x) < 1000 else "barnes_hut"
    return TSNE(n_components=2, perplexity=perp, init="pca", random_state=seed, method=method).fit_transform(x)


def plot_tsne(features, labels: Sequence[int], class_names: Sequence[str], unseen: Sequence[int],
              path: str | os.PathLike, seed: int = 0, perplexity: float | None = None,
              title: str | None = None, dpi: int = 120) -> np.ndarray:
    """t-SNE of hidden-state vectors, seen classes faint, unseen classes bold (paper Fig. 10).

    Args:
        features: ``(N, D)`` e.g. last decoder block's hidden state per sample.
        labels: ``(N,)`` class indices into ``class_names``.
        unseen: the class indices held out in training; drawn opaque, larger, labelled.
    Returns the 2-D coordinates ``(N, 2)``.
    """
    labels = np.asarray(labels)
    if len(labels) != len(features):
        raise ValueError(f"{len(features)} feature vectors but {len(labels)} labels")
    xy = tsne_embed(features, seed, perplexity)
    unseen_set = set(int(u) for u in unseen)
    fig = Figure(figsize=(8, 7))
    ax = fig.add_subplot()
    seen_mask = np.array([int(l) not in unseen_set for l in labels])
    if seen_mask.any():
        ax.scatter(xy[seen_mask, 0], xy[seen_mask, 1], s=8, c="lightgray", alpha=0.5, linewidths=0,
                   label="seen classes")
    from matplotlib import colormaps

    cmap = colormaps["tab20"]
    for n, cls in enumerate(sorted(unseen_set)):
        m = labels == cls
        if m.any():
            ax.scatter(xy[m, 0], xy[m, 1], s=22, color=cmap(n % 20), alpha=0.95,
                       edgecolors="black", linewidths=0.3, label=class_names[cls])
    ax.legend(fontsize=7, loc="best", markerscale=1.2, framealpha=0.8)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    _save(fig, path, dpi)
    return xy


def plot_loss_curves(curves: Mapping[str, Sequence[tuple[float, float]]], path: str | os.PathLike,
                     title: str | None = "training loss", log_y: bool = False, dpi: int = 120) -> None:
    """One line per stage from ``{stage name: [(step, loss), ...]}``.

    Steps are global (stages follow each other on one x axis); stage boundaries are
    marked with a dashed line.
    """
    if not curves:
        raise ValueError("no loss curves given")
    fig = Figure(figsize=(8, 4.5))
    ax = fig.add_subplot()
    for name, pts in curves.items():
        pts = list(pts)
        if not pts:
            continue
        steps, losses = zip(*pts)
        ax.plot(steps, losses, label=name, linewidth=1.2)
        ax.axvline(steps[0], color="gray", linestyle="--", linewidth=0.6)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    if log_y:
        ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    _save(fig, path, dpi)
