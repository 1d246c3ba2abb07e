"""What a trained (C)VAE is good for, measured (lesson 05), and why its digits are blurry (lesson 07).

* Style transfer: encode a digit with its own label, decode the code with another label
  (:func:`transfer_style`, :func:`style_grid`, :func:`translations`, :func:`translation_accuracy`);
  :func:`style_correlation` measures how much of the writer's ink and slant (:func:`stroke_features`) survives.
* Anomaly detection: a VAE trained without some digit classes (:func:`cvae_course.recipes.train_vae_without`)
  scores images by negative ELBO; high means "unlike the training data" (:func:`squared_error` for comparison,
  :func:`auroc`, :func:`roc_curve`); :func:`total_ink` and :func:`per_class_mean` show why a digit with little
  ink scores low.
* The CVAE as a classifier: -ELBO of an image under each of the ten labels (:func:`label_scores`); the
  best label is Bayes' rule with a uniform prior (:func:`elbo_classify`), and the gap between the given
  label and the best one flags wrong labels (:func:`label_gap`).
* Blurriness (lesson 07): a true sample of the decoder (:func:`bernoulli_sample`) next to its mean image, and the
  average of the other real digits with nearby codes (:func:`neighbour_average`), side by side in
  :func:`blur_figure`; :func:`blur_distances` measures which of the two the mean image is closer to.

ROC and AUROC are plain NumPy (the Mann-Whitney rank formula), so the course needs no scikit-learn.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from cvae_course.evaluate import Progress, classify, negative_elbo_per_image
from cvae_course.models import CVAE, VAE
from cvae_course.plots import image_grid
from cvae_course.validation import (
    NUM_CLASSES,
    as_images,
    as_labels,
    check_model,
    check_positive_int,
    check_same_length,
)

__all__ = [
    "transfer_style",
    "style_grid",
    "translations",
    "translation_accuracy",
    "style_grid_figure",
    "stroke_features",
    "style_correlation",
    "auroc",
    "roc_curve",
    "squared_error",
    "total_ink",
    "per_class_mean",
    "score_histograms",
    "roc_figure",
    "label_scores",
    "elbo_classify",
    "label_gap",
    "corrupt_labels",
    "bernoulli_sample",
    "neighbour_average",
    "blur_distances",
    "blur_figure",
]


# ------------------------------------------------------------------------------------------ style transfer
def transfer_style(model: CVAE, images, labels, target_labels) -> np.ndarray:
    """Encode each image with its own label, decode its code with the target label: same style, new digit."""
    model = check_model(model, CVAE)
    x, y = as_images(images), as_labels(labels)
    targets = as_labels(target_labels, "target_labels")
    check_same_length(x, y, "images", "labels")
    if len(targets) == 1 and len(x) > 1:
        targets = np.repeat(targets, len(x))
    check_same_length(x, targets, "images", "target_labels")
    return model.decode(model.encode(x, y), targets)


def style_grid(model: CVAE, images, labels) -> np.ndarray:
    """Every image ("writer") rewritten as each digit 0-9: shape (n_writers, 10, 28, 28, 1)."""
    x, y = as_images(images), as_labels(labels)
    check_same_length(x, y, "images", "labels")
    n = len(x)
    out = transfer_style(
        model, np.repeat(x, NUM_CLASSES, axis=0), np.repeat(y, NUM_CLASSES), np.tile(np.arange(NUM_CLASSES), n)
    )
    return out.reshape(n, NUM_CLASSES, 28, 28, 1)


def translations(model: CVAE, images, labels):
    """Every image rewritten as each of the nine digits it is not: (translations (9N, 28, 28, 1), the writer of
    each, an index into ``images`` (9N,), the target digit of each (9N,)). The own label is left out:
    "translating" a 3 into a 3 is only a reconstruction."""
    x, y = as_images(images), as_labels(labels)
    grid = style_grid(model, x, y).reshape(-1, 28, 28, 1)
    targets = np.tile(np.arange(NUM_CLASSES), len(x))
    writers = np.repeat(np.arange(len(x)), NUM_CLASSES)
    keep = targets != y[writers]
    return grid[keep], writers[keep], targets[keep]


def translation_accuracy(model: CVAE, judge, images, labels) -> tuple[float, np.ndarray]:
    """(overall, per target digit) share of translations to *another* digit that the judge reads as the target.

    Each image is rewritten as each of the nine digits it is not; the own label is left out because
    "translating" a 3 into a 3 is only a reconstruction.
    """
    translated, _, targets = translations(model, images, labels)
    hits = classify(judge, translated) == targets
    per_target = np.array([hits[targets == k].mean() for k in range(NUM_CLASSES)])
    return float(hits.mean()), per_target


def style_grid_figure(model: CVAE, images, labels, *, title: str | None = None) -> Figure:
    """Column 'input' is the real digit; the ten columns after it are the same writer's 0-9."""
    x, y = as_images(images), as_labels(labels)
    grid = style_grid(model, x, y)
    rows = np.concatenate([x[:, None], grid], axis=1).reshape(-1, 28, 28, 1)
    titles = (["input"] + [str(k) for k in range(NUM_CLASSES)]) + [""] * (len(rows) - NUM_CLASSES - 1)
    return image_grid(
        rows,
        NUM_CLASSES + 1,
        titles=titles,
        title=title or "Style transfer: each row is one writer, rewritten as every digit",
    )


def stroke_features(images) -> tuple[np.ndarray, np.ndarray]:
    """(ink, slant) of each image: two measurable sides of handwriting style.

    ink is the mean pixel value (thick strokes have more); slant is how far the ink moves right per row
    going up, -cov(row, col) / var(row) over the ink distribution (positive = leaning right, like /).
    """
    x = as_images(images)[..., 0].astype(np.float64)
    mass = x.sum(axis=(1, 2))
    if np.any(mass <= 0):
        raise ValueError("every image needs some ink to measure its slant; drop the blank images")
    rows, cols = np.mgrid[0:28, 0:28].astype(np.float64)
    r_mean = (x * rows).sum(axis=(1, 2)) / mass
    c_mean = (x * cols).sum(axis=(1, 2)) / mass
    dr = rows[None] - r_mean[:, None, None]
    dc = cols[None] - c_mean[:, None, None]
    cov = (x * dr * dc).sum(axis=(1, 2)) / mass
    var_r = (x * dr * dr).sum(axis=(1, 2)) / mass
    return x.mean(axis=(1, 2)), -cov / var_r


def _zscore_within(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    out = np.zeros_like(values)
    for g in np.unique(groups):
        v = values[groups == g]
        out[groups == g] = (v - v.mean()) / (v.std() + 1e-12)
    return out


MIN_STYLE_IMAGES = 10  # style_correlation's least number of writers


def style_correlation(model: CVAE, images, labels) -> dict[str, float]:
    """Does the style survive the translation? Correlation of ink and of slant between writer and rewrite.

    Each feature is standardised within its digit class first (a 1 always has less ink than an 8), then
    correlated over all (writer, other target digit) pairs: 0 means the style is lost, 1 fully kept. It needs at
    least ``MIN_STYLE_IMAGES`` (10) writers, two of them writing one digit (a within-digit spread to standardise by).
    """
    y = as_labels(labels)
    if len(y) < MIN_STYLE_IMAGES or np.bincount(y, minlength=NUM_CLASSES).max() < 2:
        raise ValueError(
            f"style_correlation needs at least {MIN_STYLE_IMAGES} images, two or more of some digit (a correlation "
            f"over writers, each standardised within its digit), got {len(y)}; pass e.g. x_test[:100], y_test[:100]"
        )
    translated, writers, targets = translations(model, images, labels)
    src_feats = stroke_features(images)
    out_feats = stroke_features(translated)
    sources = as_labels(labels)[writers]
    result = {}
    for name, src, out in zip(("ink", "slant"), src_feats, out_feats):
        a = _zscore_within(src[writers], sources)
        b = _zscore_within(out, targets)
        result[name] = float(np.corrcoef(a, b)[0, 1])
    return result


# ------------------------------------------------------------------------------------------- ROC and AUROC
def _scores_and_flags(scores, is_positive) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64).ravel()
    p = np.asarray(is_positive).ravel()
    if len(s) != len(p):
        raise ValueError(f"scores ({len(s)}) and is_positive ({len(p)}) must have the same length")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores must be finite numbers; drop or fix the NaN/inf entries first")
    if p.dtype != bool:
        if not np.all(np.isin(p, (0, 1))):
            raise ValueError("is_positive must be booleans or 0/1, one per score (1 = anomaly)")
        p = p.astype(bool)
    if p.all() or not p.any():
        raise ValueError(
            f"is_positive needs both positives and negatives to rank, got {int(p.sum())} positives of {len(p)}"
        )
    return s, p


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks; tied values share the mean of their ranks."""
    order = np.argsort(values, kind="mergesort")
    sorted_vals = values[order]
    ranks = np.empty(len(values), dtype=np.float64)
    start = 0
    while start < len(values):
        end = start
        while end + 1 < len(values) and sorted_vals[end + 1] == sorted_vals[start]:
            end += 1
        ranks[order[start : end + 1]] = (start + end) / 2.0 + 1.0
        start = end + 1
    return ranks


def auroc(scores, is_positive) -> float:
    """Area under the ROC curve: the chance that a random positive scores above a random negative (ties 1/2).

    Mann-Whitney: AUROC = (R+ - n+(n+ + 1)/2) / (n+ n-), R+ the sum of the positives' ranks among all scores.
    """
    s, p = _scores_and_flags(scores, is_positive)
    ranks = _average_ranks(s)
    n_pos, n_neg = int(p.sum()), int((~p).sum())
    return float((ranks[p].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def roc_curve(scores, is_positive) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(false positive rate, true positive rate, thresholds), flagging "score >= threshold", from (0,0) to (1,1)."""
    s, p = _scores_and_flags(scores, is_positive)
    order = np.argsort(-s, kind="mergesort")
    s, p = s[order], p[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tp = np.cumsum(p)[last_of_tie]
    fp = np.cumsum(~p)[last_of_tie]
    tpr = np.r_[0.0, tp / p.sum()]
    fpr = np.r_[0.0, fp / (~p).sum()]
    return fpr, tpr, np.r_[np.inf, s[last_of_tie]]


# -------------------------------------------------------------------------------------- anomaly detection
def squared_error(model: VAE, images, labels=None) -> np.ndarray:
    """Squared error ||x - x_hat||^2 between each image and its reconstruction (from the mean code), summed over
    pixels: the score a plain autoencoder gives, no likelihood. (Lesson 01's reconstruction error is another
    quantity, the Bernoulli negative log-likelihood.)"""
    x = as_images(images)
    rec = model.reconstruct(x, labels)
    return np.sum((x - rec).reshape(len(x), -1) ** 2, axis=1).astype(np.float64)


def total_ink(images) -> np.ndarray:
    """Total ink of each image: the sum of its pixel values (one fully black pixel counts 1)."""
    x = as_images(images)
    return x.reshape(len(x), -1).astype(np.float64).sum(axis=1)


def per_class_mean(values, labels) -> np.ndarray:
    """Mean of ``values`` (one per image) over the images of each label 0-9, shape (10,).

    Used to set a per-image score (e.g. -ELBO) beside the ink of each digit class: a class with little
    ink costs few nats whether or not the model has seen it.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    y = as_labels(labels)
    check_same_length(v, y, "values", "labels")
    counts = np.bincount(y, minlength=NUM_CLASSES)
    if np.any(counts == 0):
        missing = [k for k in range(NUM_CLASSES) if counts[k] == 0]
        raise ValueError(f"labels must include every digit 0-9 to average per class; missing {missing}")
    return np.bincount(y, weights=v, minlength=NUM_CLASSES) / counts


def score_histograms(
    normal_scores,
    anomaly_scores,
    *,
    score_name: str = "negative ELBO (nats)",
    anomaly_name: str = "held-out digit",
    title: str | None = None,
    bins: int = 50,
) -> Figure:
    """Overlaid, normalised histograms of the scores of normal and anomalous images."""
    a = np.asarray(normal_scores, dtype=np.float64)
    b = np.asarray(anomaly_scores, dtype=np.float64)
    edges = np.histogram_bin_edges(np.r_[a, b], bins=check_positive_int(bins, "bins"))
    fig = Figure(figsize=(6, 3.2))
    ax = fig.subplots()
    ax.hist(a, bins=edges, density=True, alpha=0.6, label="normal (trained-on digits)")
    ax.hist(b, bins=edges, density=True, alpha=0.6, label=anomaly_name)
    ax.set_xlabel(score_name)
    ax.set_ylabel("density")
    ax.legend()
    ax.set_title(title or f"Anomaly scores: {score_name}")
    fig.tight_layout()
    return fig


def roc_figure(curves: dict, *, title: str = "ROC curves") -> Figure:
    """ROC curves from ``{name: (scores, is_positive)}``, each labelled with its AUROC; the diagonal is chance."""
    if not curves:
        raise ValueError("curves is empty; pass {name: (scores, is_positive)}")
    fig = Figure(figsize=(4.6, 4.4))
    ax = fig.subplots()
    for name, (scores, flags) in curves.items():
        fpr, tpr, _ = roc_curve(scores, flags)
        ax.plot(fpr, tpr, label=f"{name} (AUROC {auroc(scores, flags):.3f})")
    ax.plot([0, 1], [0, 1], color="gray", linestyle=":", label="chance (0.5)")
    ax.set_xlabel("false positive rate (normal images flagged)")
    ax.set_ylabel("true positive rate (anomalies caught)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------- the CVAE as classifier
def label_scores(model: CVAE, images, *, n_samples: int = 1, seed: int = 0, progress: bool = False) -> np.ndarray:
    """-ELBO of every image under every label, shape (N, 10), in nats: how badly x fits "this is a k".

    One pass over the images per label; ``progress`` shows a line that counts the labels done.
    """
    model = check_model(model, CVAE)
    x = as_images(images)
    columns = []
    with Progress(f"scoring {len(x):,} images under each label", NUM_CLASSES, show=progress) as step:
        for k in range(NUM_CLASSES):
            columns.append(negative_elbo_per_image(model, x, np.full(len(x), k), n_samples=n_samples, seed=seed))
            step(k + 1)
    return np.stack(columns, axis=1)


def elbo_classify(model: CVAE, images, *, n_samples: int = 1, seed: int = 0) -> np.ndarray:
    """The label with the highest ELBO: argmax_k p(x | k) p(k) with a uniform prior p(k) = 1/10."""
    return label_scores(model, images, n_samples=n_samples, seed=seed).argmin(axis=1)


def label_gap(scores, given_labels) -> np.ndarray:
    """-ELBO under the given label minus -ELBO under the best label, from :func:`label_scores`' (N, 10) matrix.

    Always >= 0; it is 0 when the given label is the model's favourite and large when the label looks wrong.
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2 or s.shape[1] != NUM_CLASSES:
        raise ValueError(f"scores must have shape (N, {NUM_CLASSES}) as label_scores returns, got {s.shape}")
    y = as_labels(given_labels, "given_labels")
    check_same_length(s, y, "scores", "given_labels")
    return s[np.arange(len(y)), y] - s.min(axis=1)


def corrupt_labels(labels, fraction: float = 0.5, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(labels with ``fraction`` of them replaced by a random *other* digit, mask of the replaced ones)."""
    y = as_labels(labels)
    if not 0.0 < float(fraction) < 1.0:
        raise ValueError(f"fraction must be strictly between 0 and 1 (share of labels to corrupt), got {fraction!r}")
    rng = np.random.default_rng(seed)
    wrong = rng.random(len(y)) < fraction
    shifted = (y + rng.integers(1, NUM_CLASSES, size=len(y))) % NUM_CLASSES
    return np.where(wrong, shifted, y), wrong


# ------------------------------------------------------------------------------------------------ blurriness
def bernoulli_sample(probabilities, *, seed: int = 0) -> np.ndarray:
    """Draw every pixel as ink (1) or paper (0) with the decoder's probability: a true sample of p(x | z)."""
    p = as_images(probabilities, "probabilities")
    if p.min() < 0 or p.max() > 1:
        raise ValueError("probabilities must lie in [0, 1]; pass decoder outputs (model.decode), not logits")
    rng = np.random.default_rng(seed)
    return (rng.random(p.shape) < p).astype(np.float32)


def neighbour_average(model: VAE, images, labels=None, *, index: int = 0, k: int = 20) -> np.ndarray:
    """The mean of the ``k`` other images (same label for a CVAE) whose codes lie nearest to the code of
    ``images[index]``; the image itself is not one of them.

    Under a pixel-wise likelihood the best output for a code is the average of all digits that share it,
    which is why this average and the decoder's mean image look alike, and both look blurry.
    """
    x = as_images(images)
    k = check_positive_int(k, "k")
    if not 0 <= int(index) < len(x):
        raise ValueError(f"index must be 0 to {len(x) - 1} (an image in images), got {index!r}")
    pool = np.arange(len(x))
    if labels is not None:
        y = as_labels(labels)
        check_same_length(x, y, "images", "labels")
        pool = np.flatnonzero(y == y[index])
    if len(pool) - 1 < k:
        raise ValueError(f"k={k} neighbours asked for, but only {len(pool) - 1} other image(s) share the label")
    codes = model.encode(x[pool], None if labels is None else y[pool])
    here = codes[np.flatnonzero(pool == index)[0]]
    order = np.argsort(np.sum((codes - here) ** 2, axis=1), kind="stable")
    others = pool[order][pool[order] != index]
    return x[others[:k]].mean(axis=0)


def blur_distances(
    model: CVAE, images, labels, *, n: int = 200, k: int = 20, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """For ``n`` digits drawn at random: the pixel distance from the decoder's mean image of each (its reconstruction)
    to the digit itself, and to the average of the ``k`` other digits of its label whose codes lie nearest
    (:func:`neighbour_average`). Returns two arrays of shape (n,): (to the digit, to its neighbours' average).

    A decoder that outputs the average of the digits sharing a code is closer to that average than to any one digit.
    """
    model = check_model(model, CVAE)
    x, y = as_images(images), as_labels(labels)
    check_same_length(x, y, "images", "labels")
    n, k = check_positive_int(n, "n"), check_positive_int(k, "k")
    codes = model.encode(x, y)
    picked = np.random.default_rng(seed).choice(len(x), size=min(n, len(x)), replace=False)
    means = model.decode(codes[picked], y[picked])
    averages = np.empty_like(means)
    for row, i in enumerate(picked):
        pool = np.flatnonzero(y == y[i])
        pool = pool[pool != i]
        if len(pool) < k:
            raise ValueError(f"k={k} neighbours asked for, but only {len(pool)} other image(s) share label {y[i]}")
        nearest = pool[np.argsort(np.sum((codes[pool] - codes[i]) ** 2, axis=1), kind="stable")[:k]]
        averages[row] = x[nearest].mean(axis=0)

    def distance(a, b):
        return np.sqrt(np.sum((a.astype(np.float64) - b.astype(np.float64)) ** 2, axis=(1, 2, 3)))

    return distance(means, x[picked]), distance(means, averages)


def blur_figure(
    model: CVAE, images, labels, *, index: int = 0, k: int = 20, n_samples: int = 4, seed: int = 0
) -> Figure:
    """Why a VAE's digits are soft, in one row: a real digit, the decoder's mean image for its code, the average of
    the ``k`` real digits of its label with the nearest codes (:func:`neighbour_average`), and ``n_samples`` true
    samples of the decoder's pixels (:func:`bernoulli_sample`).

    Args:
        model: a CVAE.
        images: real digits (N, 28, 28, 1), e.g. the test set.
        labels: their digits, shape (N,).
        index: which digit to show.
        k: real neighbours to average.
        n_samples: Bernoulli samples of the decoder's mean image.
        seed: makes the samples repeatable.
    """
    x, y = as_images(images), as_labels(labels)
    check_same_length(x, y, "images", "labels")
    model = check_model(model, CVAE)
    neighbours = neighbour_average(model, x, y, index=index, k=k)
    one = slice(index, index + 1)
    mean_image = model.reconstruct(x[one], y[one])
    samples = bernoulli_sample(np.repeat(mean_image, check_positive_int(n_samples, "n_samples"), axis=0), seed=seed)
    titles = ["real digit", "decoder mean", f"average of its\n{k} neighbours"] + [
        f"Bernoulli\nsample {i + 1}" for i in range(n_samples)
    ]
    return image_grid(
        np.concatenate([x[one], mean_image, neighbours[None], samples]), 3 + n_samples, size=1.3, titles=titles
    )
