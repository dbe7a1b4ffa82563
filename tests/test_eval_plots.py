import numpy as np
import pytest
from PIL import Image

from skeletonllm.eval.plots import confusion_matrix, plot_confusion_matrix, plot_loss_curves, plot_tsne, tsne_embed


def _png(path):
    assert path.stat().st_size > 1000
    with Image.open(path) as im:
        assert im.format == "PNG"
        return im.size


def test_confusion_matrix_counts_and_png(tmp_path):
    cm = confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, -1], num_classes=3)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 1, 0], [1, 0, 1]])
    with pytest.raises(ValueError, match="predicted class 5"):
        confusion_matrix([0], [5], 3)
    names = ["drink water", "eat meal", "brush teeth"]
    plot_confusion_matrix(cm, names, tmp_path / "cm.png", title="NTU-60 48/12")
    w, h = _png(tmp_path / "cm.png")
    assert w > 300 and h > 300
    with pytest.raises(ValueError, match="2 class names"):
        plot_confusion_matrix(cm, names[:2], tmp_path / "bad.png")
    # Many classes: no per-cell numbers, still a readable image.
    big = np.random.default_rng(0).integers(0, 5, size=(30, 30))
    plot_confusion_matrix(big, [f"class {i}" for i in range(30)], tmp_path / "cm30.png", normalize=False)
    assert _png(tmp_path / "cm30.png")[0] > 600


def test_tsne_seen_faint_unseen_bold(tmp_path):
    rng = np.random.default_rng(0)
    centers = rng.normal(scale=8, size=(6, 16))
    labels = np.repeat(np.arange(6), 8)
    feats = centers[labels] + rng.normal(size=(48, 16))
    xy = plot_tsne(feats, labels, [f"action {i}" for i in range(6)], unseen=[4, 5], path=tmp_path / "tsne.png")
    assert xy.shape == (48, 2)
    w, h = _png(tmp_path / "tsne.png")
    assert w > 400 and h > 400
    np.testing.assert_allclose(tsne_embed(feats, seed=0), xy)  # fixed seed: reproducible
    with pytest.raises(ValueError, match="48 feature vectors but 3 labels"):
        plot_tsne(feats, [0, 1, 2], ["a", "b", "c"], [2], tmp_path / "x.png")


def test_loss_curves(tmp_path):
    curves = {"1 render warm-up": [(0, 3.0), (1, 2.5), (2, 2.2)], "2 Disc-FT": [(3, 0.7), (4, 0.6)],
              "4 refinement": [(5, 1.0), (6, 0.8), (7, 0.5)]}
    plot_loss_curves(curves, tmp_path / "loss.png", log_y=True)
    w, h = _png(tmp_path / "loss.png")
    assert w > h > 200
    with pytest.raises(ValueError, match="no loss curves"):
        plot_loss_curves({}, tmp_path / "none.png")
