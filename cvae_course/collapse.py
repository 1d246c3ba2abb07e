"""Posterior collapse, measured: KL per latent dimension, active units, and a report per model of a beta sweep.

Posterior collapse is when q(z|x) becomes the prior N(0, I) (KL -> 0) and the decoder learns to ignore z.
A latent dimension is *active* when its code moves with the input: Var_x(E_q[z_i | x]) > 0.01 (Burda et
al., 2016). A CVAE is especially prone to it: the label already tells the decoder which digit to draw,
so a strong KL weight makes z carry nothing and every sample of a label becomes the same average digit.
(That is not "mode collapse", a GAN failure where the generator only covers a few modes of the data.)
The models of the sweep, with and without KL annealing, come from :func:`cvae_course.recipes.train_beta_cvae`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from matplotlib.figure import Figure

from cvae_course import settings
from cvae_course._keras import ops
from cvae_course.evaluate import conditional_accuracy, mean_pairwise_distance, negative_elbo_per_image
from cvae_course.evaluate import diversity as sample_diversity
from cvae_course.losses import kl_per_dimension
from cvae_course.models import CVAE, VAE
from cvae_course.plots import image_grid
from cvae_course.validation import (
    NUM_CLASSES,
    as_images,
    check_model,
    check_positive_float,
    check_positive_int,
)

__all__ = [
    "ACTIVE_THRESHOLD", "kl_per_latent_dimension", "unit_activity", "active_units", "CollapseReport",
    "collapse_report", "kl_bars_figure", "samples_figure",
]

ACTIVE_THRESHOLD = 0.01


def kl_per_latent_dimension(model: VAE, images, labels=None) -> np.ndarray:
    """Mean KL(q(z_i|x) || N(0, 1)) of each latent dimension over the images, in nats; about 0 = collapsed."""
    z_mean, z_log_var = check_model(model, VAE).encode_distribution(images, labels)
    kl = ops.convert_to_numpy(kl_per_dimension(ops.convert_to_tensor(z_mean), ops.convert_to_tensor(z_log_var)))
    return kl.mean(axis=0).astype(np.float64)


def unit_activity(model: VAE, images, labels=None) -> np.ndarray:
    """Var_x(E_q[z_i | x]) for each latent dimension i: how much its code moves from image to image."""
    z_mean, _ = check_model(model, VAE).encode_distribution(images, labels)
    return z_mean.astype(np.float64).var(axis=0)


def active_units(model: VAE, images, labels=None, *, threshold: float = ACTIVE_THRESHOLD) -> int:
    """How many latent dimensions are active: activity above ``threshold`` (0.01, Burda et al. 2016)."""
    threshold = check_positive_float(threshold, "threshold")
    return int(np.sum(unit_activity(model, images, labels) > threshold))


@dataclass
class CollapseReport:
    """What one trained model tells about collapse, measured on held-out images.

    ``judge_accuracy`` (share of generated digits the judge reads as their label) and ``diversity``
    (spread of generated digits over the spread of real ones, per label) are None when not measured.
    """

    name: str
    kl_per_dim: np.ndarray
    activity: np.ndarray
    reconstruction: float
    samples: np.ndarray = field(repr=False)
    judge_accuracy: float | None = None
    diversity: float | None = None

    @property
    def kl(self) -> float:
        """Total KL in nats per image."""
        return float(self.kl_per_dim.sum())

    @property
    def active(self) -> int:
        """Number of active latent dimensions (activity above 0.01)."""
        return int(np.sum(self.activity > ACTIVE_THRESHOLD))

    @property
    def spread(self) -> float:
        """Mean pixel distance between two samples of the same label; 0 when the decoder ignores z."""
        per_label = self.samples.reshape(NUM_CLASSES, -1, 28, 28, 1)
        return float(np.mean([mean_pairwise_distance(s) for s in per_label]))

    def row(self) -> str:
        """One line of numbers: KL, active units, reconstruction, spread, and judge accuracy / diversity if measured."""
        accuracy = "  -" if self.judge_accuracy is None else f"{self.judge_accuracy:4.0%}"
        diversity = "  -" if self.diversity is None else f"{self.diversity:4.2f}"
        return (f"{self.name:<20} KL {self.kl:5.2f} nats  active {self.active}/{len(self.activity)}  "
                f"reconstruction {self.reconstruction:5.1f} nats  spread {self.spread:4.2f}  "
                f"judge accuracy {accuracy}  diversity {diversity}")


def collapse_report(model: CVAE, name: str, images, labels, *, judge=None, n_per_label: int | None = None,
                    samples_per_label: int = 6, seed: int = 0) -> CollapseReport:
    """KL per dimension, unit activity, reconstruction (mean -ELBO minus KL) and samples per label for ``model``.

    Args:
        model: the CVAE to report on.
        name: its name in the report's row and figures.
        images: held-out images (N, 28, 28, 1) to measure on.
        labels: their digits 0-9, shape (N,).
        judge: with a judge (:func:`cvae_course.recipes.load_judge`) the report also measures the judge accuracy
            of generated digits and their diversity against the real ``images``.
        n_per_label: generated digits per label behind those two numbers (default: the budget's
            ``report_samples_per_label``, see :func:`cvae_course.settings.budget`).
        samples_per_label: generated digits per label kept for the figures.
        seed: makes the sampling repeatable.
    """
    x = as_images(images)
    kl_dims = kl_per_latent_dimension(model, x, labels)
    rec = float(np.mean(negative_elbo_per_image(model, x, labels, seed=seed)) - kl_dims.sum())
    n = check_positive_int(samples_per_label, "samples_per_label")
    samples = model.generate(np.repeat(np.arange(NUM_CLASSES), n), seed=seed)
    report = CollapseReport(name, kl_dims, unit_activity(model, x, labels), rec, samples)
    if judge is not None:
        n_per_label = settings.budget().report_samples_per_label if n_per_label is None else n_per_label
        m = check_positive_int(n_per_label, "n_per_label")
        report.judge_accuracy = conditional_accuracy(model, judge, m, seed=seed)[0]
        report.diversity = sample_diversity(model, x, labels, m, seed=seed)
    return report


def kl_bars_figure(reports: list[CollapseReport], *, title: str = "KL per latent dimension") -> Figure:
    """One panel per model: bars of KL per latent dimension (nats), active units in the panel title."""
    if not reports:
        raise ValueError("reports is empty; pass the CollapseReport of at least one model")
    fig = Figure(figsize=(2.6 * len(reports), 2.8))
    axes = np.atleast_1d(fig.subplots(1, len(reports), sharey=True))
    for ax, r in zip(axes, reports):
        dims = np.arange(len(r.kl_per_dim))
        colors = ["tab:blue" if a > ACTIVE_THRESHOLD else "lightgray" for a in r.activity]
        ax.bar(dims, r.kl_per_dim, color=colors)
        ax.set_xticks(dims)
        ax.set_xlabel("latent dimension")
        ax.set_title(f"{r.name}\nactive {r.active}/{len(dims)}, KL {r.kl:.1f}", fontsize=9)
    axes[0].set_ylabel("KL (nats); gray = inactive")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def samples_figure(reports: list[CollapseReport], per_label: int = 4, *,
                   title: str = "Samples, one row per label") -> Figure:
    """Side by side, ``per_label`` samples of each label from each model; identical rows mean z is ignored."""
    if not reports:
        raise ValueError("reports is empty; pass the CollapseReport of at least one model")
    n = check_positive_int(per_label, "per_label")
    blocks = []
    for r in reports:
        have = len(r.samples) // NUM_CLASSES
        if n > have:
            raise ValueError(f"per_label={n} but the report of {r.name!r} holds {have} samples per label")
        blocks.append(r.samples.reshape(NUM_CLASSES, have, 28, 28, 1)[:, :n])
    gap = np.zeros((NUM_CLASSES, 1, 28, 28, 1), dtype=np.float32)
    rows = np.concatenate([part for b in blocks for part in (b, gap)][:-1], axis=1)
    ncols = rows.shape[1]
    titles = [""] * (NUM_CLASSES * ncols)
    for i, r in enumerate(reports):
        titles[i * (n + 1)] = r.name
    return image_grid(rows.reshape(-1, 28, 28, 1), ncols, titles=titles, title=title,
                      row_labels=[str(k) for k in range(NUM_CLASSES)], size=0.6)
