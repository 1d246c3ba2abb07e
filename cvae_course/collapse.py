"""Posterior collapse, measured: KL per latent dimension, active units, and a report per model of a beta sweep.

Posterior collapse is when q(z|x) becomes the prior N(0, I) (KL -> 0) and the decoder learns to ignore z.
A latent dimension is *active* when its code moves with the input: Var_x(E_q[z_i | x]) > 0.01 (Burda et
al., 2016). A CVAE is especially prone to it: the label already tells the decoder which digit to draw,
so a strong KL weight makes z carry nothing and every sample of a label becomes the same average digit.
(That is not "mode collapse", a GAN failure where the generator only covers a few modes of the data.)
The models of the sweep, with and without KL annealing, come from :func:`cvae_course.recipes.train_beta_sweep`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from cvae_course import settings
from cvae_course._keras import ops
from cvae_course.applications import stroke_features
from cvae_course.evaluate import (
    Progress,
    RealDigits,
    SampleQuality,
    conditional_accuracy,
    elbo_terms_per_image,
    mean_pairwise_distance,
    sample_quality,
)
from cvae_course.evaluate import diversity as sample_diversity
from cvae_course.losses import kl_per_dimension
from cvae_course.models import CVAE, VAE
from cvae_course.plots import image_grid
from cvae_course.validation import (
    NUM_CLASSES,
    as_images,
    as_labels,
    check_model,
    check_positive_float,
    check_positive_int,
)

__all__ = [
    "ACTIVE_THRESHOLD",
    "KL_FLOOR",
    "kl_per_latent_dimension",
    "unit_activity",
    "active_units",
    "CollapseReport",
    "collapse_report",
    "collapse_reports",
    "kl_bars_figure",
    "samples_figure",
    "traversal",
    "traversal_figure",
    "traversal_effects",
]

ACTIVE_THRESHOLD = 0.01


def _mean_kl_per_dimension(z_mean: np.ndarray, z_log_var: np.ndarray) -> np.ndarray:
    kl = ops.convert_to_numpy(kl_per_dimension(ops.convert_to_tensor(z_mean), ops.convert_to_tensor(z_log_var)))
    return kl.mean(axis=0).astype(np.float64)


def kl_per_latent_dimension(model: VAE, images, labels=None) -> np.ndarray:
    """Mean KL(q(z_i|x) || N(0, 1)) of each latent dimension over the images, in nats; about 0 = collapsed."""
    return _mean_kl_per_dimension(*check_model(model, VAE).encode_distribution(images, labels))


def unit_activity(model: VAE, images, labels=None) -> np.ndarray:
    """Var_x(E_q[z_i | x]) for each latent dimension i: how much its code moves from image to image."""
    return _activity(check_model(model, VAE).encode_distribution(images, labels)[0])


def _activity(z_mean: np.ndarray) -> np.ndarray:
    """The variance of each dimension's code mean across images, (latent_dim,): at least 2 images needed."""
    if len(z_mean) < 2:
        raise ValueError(
            f"images must hold at least 2 images (activity is a variance across images), got {len(z_mean)}; "
            "pass e.g. mnist.x_test[:1000]"
        )
    return z_mean.astype(np.float64).var(axis=0)


def active_units(model: VAE, images, labels=None, *, threshold: float = ACTIVE_THRESHOLD) -> int:
    """How many latent dimensions are active: activity above ``threshold`` (0.01, Burda et al. 2016)."""
    threshold = check_positive_float(threshold, "threshold")
    return int(np.sum(unit_activity(model, images, labels) > threshold))


@dataclass
class CollapseReport:
    """What one trained model tells about collapse, measured on held-out images.

    ``judge_accuracy`` (share of generated digits the judge reads as their label) and ``diversity``
    (spread of generated digits over the spread of real ones, per label) are None when not measured, and so is
    ``quality`` (:class:`cvae_course.evaluate.SampleQuality`: the judge's confidence and the Fréchet distance of
    the samples to real digits, per label).
    """

    name: str
    kl_per_dim: np.ndarray
    activity: np.ndarray
    reconstruction: float
    samples: np.ndarray = field(repr=False)
    judge_accuracy: float | None = None
    diversity: float | None = None
    quality: SampleQuality | None = field(default=None, repr=False)

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

    @property
    def frechet_ratio(self) -> float | None:
        """Mean over labels of the samples' Fréchet distance to real digits over the real floor (None: unmeasured)."""
        return None if self.quality is None else float(np.mean(self.quality.frechet_ratio))

    def row(self) -> str:
        """One line of numbers: KL, active units, reconstruction, spread, and judge accuracy / diversity / Fréchet
        ratio if measured."""
        accuracy = "  -" if self.judge_accuracy is None else f"{self.judge_accuracy:4.0%}"
        diversity = "  -" if self.diversity is None else f"{self.diversity:4.2f}"
        frechet = "" if self.quality is None else f"  Fréchet x{self.frechet_ratio:.0f}"
        return (
            f"{self.name:<20} KL {self.kl:5.2f} nats  active {self.active}/{len(self.activity)}  "
            f"reconstruction {self.reconstruction:5.1f} nats  spread {self.spread:4.2f}  "
            f"judge accuracy {accuracy}  diversity {diversity}{frechet}"
        )


def collapse_report(
    model: CVAE,
    name: str,
    images,
    labels,
    *,
    judge=None,
    real: RealDigits | None = None,
    n_per_label: int | None = None,
    samples_per_label: int = 6,
    seed: int = 0,
) -> CollapseReport:
    """KL per dimension, unit activity, reconstruction (the -ELBO's first term, nats per image) and samples per label
    for ``model``.

    Args:
        model: the CVAE to report on.
        name: its name in the report's row and figures.
        images: held-out images (N, 28, 28, 1) to measure on.
        labels: their digits 0-9, shape (N,).
        judge: with a judge (:func:`cvae_course.recipes.load_judge`) the report also measures the judge accuracy
            of generated digits and their diversity against the real ``images``.
        real: real digits through the judge's eyes (:class:`cvae_course.evaluate.RealDigits`, which brings its
            judge): the report also measures the samples' :class:`~cvae_course.evaluate.SampleQuality`.
        n_per_label: generated digits per label behind those two numbers (default: the budget's
            ``report_samples_per_label``, see :func:`cvae_course.settings.budget`).
        samples_per_label: generated digits per label kept for the figures.
        seed: makes the sampling repeatable.
    """
    x = as_images(images)
    if real is not None and not isinstance(real, RealDigits):
        raise ValueError(f"real must be evaluate.RealDigits(judge, images, labels), got {type(real).__name__}")
    z_mean, z_log_var = check_model(model, CVAE).encode_distribution(x, labels)
    kl_dims = _mean_kl_per_dimension(z_mean, z_log_var)
    rec = float(np.mean(elbo_terms_per_image(model, x, labels, seed=seed)[0]))
    n = check_positive_int(samples_per_label, "samples_per_label")
    samples = model.generate(np.repeat(np.arange(NUM_CLASSES), n), seed=seed)
    report = CollapseReport(name, kl_dims, _activity(z_mean), rec, samples)
    judge = real.judge if judge is None and real is not None else judge
    if judge is not None:
        n_per_label = settings.budget().report_samples_per_label if n_per_label is None else n_per_label
        m = check_positive_int(n_per_label, "n_per_label")
        report.judge_accuracy = conditional_accuracy(model, judge, m, seed=seed)[0]
        report.diversity = sample_diversity(model, x, labels, m, seed=seed)
    if real is not None:
        report.quality = sample_quality(model, real, max(m, 10), seed=seed)
    return report


def collapse_reports(
    models: dict, images, labels, *, real: RealDigits | None = None, progress: bool = True, **options
) -> dict[str, CollapseReport]:
    """:func:`collapse_report` for each of ``{name: model}`` (e.g. :func:`cvae_course.recipes.train_beta_sweep`),
    by name; ``progress`` shows a line that counts the models measured. ``options`` go to :func:`collapse_report`."""
    if not isinstance(models, dict) or not models:
        raise ValueError("models must be a non-empty {name: CVAE} dict, e.g. recipes.train_beta_sweep()")
    reports = {}
    with Progress(f"measuring {len(models)} models", len(models), show=progress) as step:
        for i, (name, model) in enumerate(models.items()):
            reports[name] = collapse_report(model, name, images, labels, real=real, **options)
            step(i + 1)
    return reports


KL_FLOOR = 1e-3  # nats: the bottom of the KL bars' log scale; smaller values are drawn at it
_BAR_STYLE = {
    "active": dict(facecolor="tab:blue", label="active"),
    "inactive": dict(facecolor="tab:orange", hatch="//", edgecolor="black", linewidth=0.5, label="inactive"),
}


def kl_bars_figure(reports: list[CollapseReport], *, title: str = "KL per latent dimension") -> Figure:
    """One panel per model: the KL of each latent dimension (nats, log scale, so that the small KL of an inactive
    dimension still shows as a bar), active dimensions in blue, inactive ones hatched in orange."""
    if not reports:
        raise ValueError("reports is empty; pass the CollapseReport of at least one model")
    fig = Figure(figsize=(2.6 * len(reports) + 0.6, 3.0))
    axes = np.atleast_1d(fig.subplots(1, len(reports), sharey=True))
    top = max(float(np.max(r.kl_per_dim)) for r in reports)
    for ax, r in zip(axes, reports):
        dims = np.arange(len(r.kl_per_dim))
        kl = np.maximum(r.kl_per_dim, KL_FLOOR)
        on = r.activity > ACTIVE_THRESHOLD
        ax.bar(dims[on], kl[on], **_BAR_STYLE["active"])
        ax.bar(dims[~on], kl[~on], **_BAR_STYLE["inactive"])
        ax.set_yscale("log")
        ax.set_ylim(KL_FLOOR / 3, max(top, KL_FLOOR) * 2)
        ax.set_xticks(dims)
        ax.set_xlabel("latent dimension")
        ax.set_title(f"{r.name}\nactive {r.active}/{len(dims)}, KL {r.kl:.2f} nats", fontsize=9)
    axes[0].set_ylabel("KL (nats, log scale)")
    fig.legend(handles=[Patch(**style) for style in _BAR_STYLE.values()], loc="upper right", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def samples_figure(
    reports: list[CollapseReport], per_label: int = 4, *, title: str = "Samples, one row per label"
) -> Figure:
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
    return image_grid(
        rows.reshape(-1, 28, 28, 1),
        ncols,
        titles=titles,
        title=title,
        row_labels=[str(k) for k in range(NUM_CLASSES)],
        size=0.6,
    )


# ------------------------------------------------------------------------------- beta-VAE: what each dimension does
def traversal(model: CVAE, label: int, dim: int, *, span: float = 2.5, steps: int = 9) -> np.ndarray:
    """A latent traversal: the digit ``label`` decoded from codes that are 0 except dimension ``dim``, which runs
    from -``span`` to ``span`` in ``steps`` steps; shape (steps, 28, 28, 1)."""
    model = check_model(model, CVAE)
    digit = int(as_labels([label], "label")[0])
    if not (isinstance(dim, (int, np.integer)) and 0 <= dim < model.latent_dim):
        raise ValueError(f"dim must be a latent dimension 0 to {model.latent_dim - 1}, got {dim!r}")
    span = check_positive_float(span, "span")
    steps = check_positive_int(steps, "steps")
    z = np.zeros((steps, model.latent_dim), dtype=np.float32)
    z[:, dim] = np.linspace(-span, span, steps)
    return model.decode(z, np.full(steps, digit))


def traversal_figure(
    model: CVAE, label: int, dims, *, span: float = 2.5, steps: int = 9, title: str | None = None
) -> Figure:
    """One row per latent dimension in ``dims``: the :func:`traversal` of that dimension for digit ``label``."""
    dims = [int(d) for d in np.atleast_1d(dims)]
    if not dims:
        raise ValueError("dims is empty; pass the latent dimensions to traverse, e.g. the active ones")
    rows = np.concatenate([traversal(model, label, d, span=span, steps=steps) for d in dims])
    values = np.linspace(-span, span, steps)
    return image_grid(
        rows,
        steps,
        titles=[f"{v:+.1f}" for v in values] + [""] * (len(rows) - steps),
        row_labels=[f"z[{d}]" for d in dims],
        size=0.7,
        title=title or f"Latent traversals of digit {label}: one dimension moves, the others stay 0",
    )


def traversal_effects(model: CVAE, images, labels, *, span: float = 2.5, steps: int = 9) -> np.ndarray:
    """How much each latent dimension, moved alone, changes the ink and the slant of the digits drawn.

    For each dimension and each label: the standard deviation of ink and of slant
    (:func:`cvae_course.applications.stroke_features`) along its :func:`traversal`, over the same among real
    ``images`` of that label; averaged over the ten labels. Returns (latent_dim, 2): columns ink, slant; 1 means the
    dimension alone sweeps that feature as widely as real handwriting varies.
    """
    x, y = as_images(images), as_labels(labels)
    real_spread = np.zeros((NUM_CLASSES, 2))
    for k in range(NUM_CLASSES):
        if np.sum(y == k) < 2:
            raise ValueError(f"images hold {np.sum(y == k)} real digit(s) with label {k}; need at least 2 per label")
        real_spread[k] = np.std(np.stack(stroke_features(x[y == k])), axis=1)
    dims = check_model(model, CVAE).latent_dim
    span, steps = check_positive_float(span, "span"), check_positive_int(steps, "steps")
    # every traversal of every dimension and label in one batch: codes (dims, labels, steps, dims)
    z = np.zeros((dims, NUM_CLASSES, steps, dims), dtype=np.float32)
    for d in range(dims):
        z[d, :, :, d] = np.linspace(-span, span, steps)
    digits = np.broadcast_to(np.arange(NUM_CLASSES)[None, :, None], (dims, NUM_CLASSES, steps)).ravel()
    drawn = model.decode(z.reshape(-1, dims), digits)
    features = np.stack(stroke_features(drawn), axis=-1).reshape(dims, NUM_CLASSES, steps, 2)
    return (features.std(axis=2) / real_spread[None]).mean(axis=1)
