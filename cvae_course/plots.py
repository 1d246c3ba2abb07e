"""Pictures for the lessons. Every function returns a matplotlib ``Figure``.

Figures are built with ``matplotlib.figure.Figure`` rather than ``pyplot``: a notebook shows the returned
figure once (no duplicate from pyplot's global state) and nothing piles up in memory across calls.
Model calls are batched (see :mod:`cvae_course.models`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from cvae_course.data import blend_labels
from cvae_course.validation import (
    NUM_CLASSES,
    as_images,
    as_labels,
    as_latent,
    check_model,
    check_positive_float,
    check_positive_int,
)

__all__ = [
    "DIGIT_COLORS",
    "image_grid",
    "digits_by_class",
    "pixel_histogram",
    "reconstructions",
    "latent_scatter",
    "aggregate_posterior",
    "manifold_grid",
    "interpolation_strip",
    "generation_grid",
    "training_curves",
]

DIGIT_COLORS = "tab10"


GRID_GAP = 5  # image pixels of white between two images of a grid
TITLE_POINTS = 8  # font size of an image's title in a grid


def image_grid(
    images,
    ncols: int = 10,
    *,
    titles: Sequence[str] | None = None,
    title: str | None = None,
    row_labels: Sequence[str] | None = None,
    size: float = 0.9,
) -> Figure:
    """Images in a grid, ``ncols`` per row, with optional per-image titles and row labels.

    The grid is one picture in one axes (the images pasted side by side with white gaps, the titles and row labels
    written around them), not one axes per image: matplotlib builds and draws a hundred axes in seconds, one in a
    tenth of that, and the picture is the same.

    Args:
        images: (N, 28, 28, 1) in [0, 1] (or (N, 28, 28), (N, 784)), drawn dark on white.
        ncols: images per row.
        titles: one short title per image (lines split by "\\n"; "" for none), written above it.
        title: a title over the whole figure.
        row_labels: one label per row, left of it.
        size: inches per image.
    """
    x = as_images(images)[..., 0]
    ncols = check_positive_int(ncols, "ncols")
    if len(x) == 0:
        raise ValueError("images is empty; pass at least one image")
    nrows = int(np.ceil(len(x) / ncols))
    if titles is not None:
        titles = [str(t) for t in titles]
        if len(titles) < len(x):
            raise ValueError(f"titles holds {len(titles)} titles for {len(x)} images; pass one per image ('' for none)")
    if row_labels is not None and len(row_labels) < nrows:
        raise ValueError(f"row_labels holds {len(row_labels)} labels for {nrows} rows; pass one per row")
    side, cell = x.shape[1], x.shape[1] + GRID_GAP
    pixels_per_inch = cell / check_positive_float(size, "size")
    line = TITLE_POINTS * 1.25 / 72 * pixels_per_inch  # image pixels per line of title text
    lines = [
        max((titles[i].count("\n") + 1 for i in range(r * ncols, min((r + 1) * ncols, len(x))) if titles[i]), default=0)
        if titles is not None
        else 0
        for r in range(nrows)
    ]
    tops, y = [], 0.0  # the top row of each row of images, in image pixels
    for n in lines:
        y += int(np.ceil(n * line))
        tops.append(int(y))
        y += cell
    canvas = np.full((tops[-1] + side, ncols * cell - GRID_GAP), np.nan, dtype=np.float32)  # NaN: white
    for i, image in enumerate(x):
        r, c = divmod(i, ncols)
        canvas[tops[r] : tops[r] + side, c * cell : c * cell + side] = image
    fig = Figure(
        figsize=(
            canvas.shape[1] / pixels_per_inch + (0.6 if row_labels else 0),
            canvas.shape[0] / pixels_per_inch + (0.4 if title else 0),
        )
    )
    ax = fig.subplots()
    ax.set_axis_off()
    ax.imshow(np.ma.masked_invalid(canvas), cmap="gray_r", vmin=0, vmax=1)
    if titles is not None:
        for i in range(len(x)):
            if titles[i]:
                r, c = divmod(i, ncols)
                ax.text(c * cell + side / 2, tops[r] - 1.5, titles[i], ha="center", va="bottom", fontsize=TITLE_POINTS)
    if row_labels is not None:
        for r in range(nrows):
            ax.text(-GRID_GAP, tops[r] + side / 2, str(row_labels[r]), ha="right", va="center", fontsize=10)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def digits_by_class(images, labels, per_class: int = 10, *, seed: int = 0, title: str | None = None) -> Figure:
    """One row per digit 0-9 with ``per_class`` real examples each."""
    x, y = as_images(images), as_labels(labels)
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(NUM_CLASSES):
        idx = np.flatnonzero(y == k)
        if len(idx) < per_class:
            raise ValueError(f"only {len(idx)} images with label {k}; need per_class={per_class}")
        rows.append(x[rng.choice(idx, per_class, replace=False)])
    return image_grid(np.concatenate(rows), per_class, row_labels=[str(k) for k in range(NUM_CLASSES)], title=title)


def pixel_histogram(images, *, title: str = "Pixel values") -> Figure:
    """Histogram of pixel intensities: most MNIST pixels are 0 or close to 1."""
    x = as_images(images).ravel()
    fig = Figure(figsize=(6, 3))
    ax = fig.subplots()
    ax.hist(x, bins=50, color="tab:blue", log=True)
    ax.set_xlabel("pixel value")
    ax.set_ylabel("count (log scale)")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def reconstructions(originals, reconstructed, n: int = 10, *, title: str | None = None) -> Figure:
    """Top row originals, bottom row what the model makes of them."""
    a, b = as_images(originals, "originals")[:n], as_images(reconstructed, "reconstructed")[:n]
    if len(a) != len(b):
        raise ValueError(f"originals ({len(a)}) and reconstructed ({len(b)}) must have as many images")
    return image_grid(np.concatenate([a, b]), len(a), row_labels=["original", "model"], title=title)


def latent_scatter(
    codes, labels, *, title: str = "Latent space", ax_limit: float | None = None, max_points: int = 5000, marks=None
) -> Figure:
    """2-D codes coloured by digit (the first two dimensions if there are more).

    Args:
        codes: (N, latent_dim >= 2), e.g. ``model.encode(images)``.
        labels: the digit of each code, shape (N,).
        title: the figure's title.
        ax_limit: show [-ax_limit, ax_limit] on both axes (default: fit the points).
        max_points: plot at most this many codes.
        marks: other codes to show as black crosses on top, shape (M, >= 2), e.g. codes drawn at random.
    """
    z = np.asarray(codes, dtype=np.float32)
    y = as_labels(labels)
    if z.ndim != 2 or z.shape[1] < 2 or len(z) != len(y):
        raise ValueError(f"codes must have shape (N, >=2) with N = len(labels) = {len(y)}, got {z.shape}")
    z, y = z[:max_points], y[:max_points]
    fig = Figure(figsize=(6, 5))
    ax = fig.subplots()
    sc = ax.scatter(z[:, 0], z[:, 1], c=y, cmap=DIGIT_COLORS, s=3, alpha=0.7, vmin=-0.5, vmax=9.5)
    cbar = fig.colorbar(sc, ax=ax, ticks=range(NUM_CLASSES))
    cbar.set_label("digit")
    if marks is not None:
        m = np.asarray(marks, dtype=np.float32)
        if m.ndim != 2 or m.shape[1] < 2:
            raise ValueError(f"marks must have shape (M, >=2), got {m.shape}")
        ax.scatter(m[:, 0], m[:, 1], marker="x", color="black", s=40)
    ax.set_xlabel("z[0]")
    ax.set_ylabel("z[1]")
    if ax_limit:
        ax.set_xlim(-ax_limit, ax_limit)
        ax.set_ylim(-ax_limit, ax_limit)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def aggregate_posterior(
    means,
    log_vars,
    *,
    span: float = 3.0,
    n: int = 101,
    max_images: int = 3000,
    hole_ratio: float = 0.1,
    title: str | None = None,
) -> Figure:
    """The codes of all images together, q(z) = mean over x of q(z | x), next to the prior N(0, I), in 2-D.

    Two panels on one colour scale: the density of the aggregate posterior and the prior's. On the first, the
    outline marks the "holes": codes where the prior puts mass (inside its 2-sigma circle) but q(z) is less than
    ``hole_ratio`` times the prior, so a code drawn from the prior lands where the decoder was hardly trained.

    Args:
        means, log_vars: the images' q(z | x), shape (N, 2) each (``model.encode_distribution(images)``).
        span: both panels cover [-span, span]^2.
        n: grid points per side.
        max_images: use at most this many images (the first ones) for the density.
        hole_ratio: q(z) / p(z) below which a code counts as a hole.
        title: the figure's title.
    """
    from cvae_course.evaluate import aggregate_posterior_density, gaussian_log_density  # numbers, not TensorFlow

    mu, log_var = np.asarray(means, dtype=np.float64), np.asarray(log_vars, dtype=np.float64)
    if mu.ndim != 2 or mu.shape[1] != 2 or mu.shape != log_var.shape:
        raise ValueError(f"means and log_vars must both have shape (N, 2), got {mu.shape} and {log_var.shape}")
    span = check_positive_float(span, "span")
    n = check_positive_int(n, "n")
    ticks = np.linspace(-span, span, n)
    grid = np.array([[a, b] for b in ticks for a in ticks])
    q = aggregate_posterior_density(grid, mu[:max_images], log_var[:max_images]).reshape(n, n)
    p = np.exp(gaussian_log_density(grid, 0.0, 0.0)).reshape(n, n)
    top = max(q.max(), p.max())
    fig = Figure(figsize=(10, 4.4))
    axes = fig.subplots(1, 2)
    for ax, density, name in zip(axes, (q, p), ("aggregate posterior q(z)", "prior p(z) = N(0, I)")):
        shown = ax.imshow(density, origin="lower", extent=(-span, span, -span, span), cmap="viridis", vmin=0, vmax=top)
        ax.add_patch(_circle(2.0))
        ax.set_xlabel("z[0]")
        ax.set_ylabel("z[1]")
        ax.set_title(name)
    hole = (q < hole_ratio * p) & (np.hypot(*np.meshgrid(ticks, ticks)) <= 2.0)
    if hole.any():
        axes[0].contour(ticks, ticks, hole.astype(float), levels=[0.5], colors="red", linewidths=1.2)
    fig.colorbar(shown, ax=axes, label="density", shrink=0.9)
    fig.suptitle(title or "The codes of all images, q(z), next to the prior p(z)")
    fig.text(
        0.02,
        0.01,
        f"white dashed circle: 2 standard deviations of the prior; red outline: holes inside it, "
        f"where q(z) < {hole_ratio:g} p(z)",
        fontsize=8,
    )
    return fig


def _circle(radius: float):
    from matplotlib.patches import Circle

    return Circle((0, 0), radius, fill=False, color="white", linestyle="--", linewidth=1)


def manifold_grid(
    model, n: int = 15, *, span: float = 2.0, box=None, label: int | None = None, title: str | None = None
) -> Figure:
    """Decode an n x n grid of 2-D codes into one big picture of the latent space (top left: low z[0], high z[1]).

    Args:
        model: an autoencoder, VAE or CVAE with a 2-D latent space.
        n: codes per side.
        span: the grid covers [-span, span] on both axes (when no ``box`` is given).
        box: instead, the rectangle to cover, as ``[[low_z0, low_z1], [high_z0, high_z1]]``: e.g.
            ``np.percentile(codes, [1, 99], axis=0)``, the box that holds 98% of the codes on each axis.
        label: for a CVAE, the digit to draw everywhere.
        title: the figure's title.
    """
    n = check_positive_int(n, "n")
    if model.latent_dim != 2:
        raise ValueError(f"manifold_grid needs a 2-D latent space, the model has latent_dim={model.latent_dim}")
    if box is None:
        span = check_positive_float(span, "span")
        low, high = np.array([-span, -span]), np.array([span, span])
    else:
        corners = np.asarray(box, dtype=np.float64)
        if corners.shape != (2, 2) or not np.all(np.isfinite(corners)) or not np.all(corners[1] > corners[0]):
            raise ValueError(
                "box must be [[low_z0, low_z1], [high_z0, high_z1]] with each high above its low, got "
                f"{corners.tolist()}"
            )
        low, high = corners
    ticks_0 = np.linspace(low[0], high[0], n, dtype=np.float32)
    ticks_1 = np.linspace(high[1], low[1], n, dtype=np.float32)
    zz = np.array([[a, b] for b in ticks_1 for a in ticks_0], dtype=np.float32)
    imgs = model.decode(zz, None if label is None else [label] * len(zz))[..., 0]
    canvas = imgs.reshape(n, n, 28, 28).transpose(0, 2, 1, 3).reshape(n * 28, n * 28)
    fig = Figure(figsize=(6, 6))
    ax = fig.subplots()
    ax.imshow(
        canvas,
        cmap="gray_r",
        extent=(low[0], high[0], low[1], high[1]),
        vmin=0,
        vmax=1,
        aspect="auto" if box is not None else "equal",
    )
    ax.set_xlabel("z[0]")
    ax.set_ylabel("z[1]")
    ax.set_title(title or ("Decoded latent grid" + (f" for label {label}" if label is not None else "")))
    fig.tight_layout()
    return fig


def interpolation_strip(model, z_start, z_end, steps: int = 10, *, labels=None, title: str | None = None) -> Figure:
    """Decode codes on the straight line from ``z_start`` to ``z_end``.

    Args:
        model: a VAE or CVAE.
        z_start: the first code, shape (latent_dim,).
        z_end: the last code, shape (latent_dim,).
        steps: codes along the line, both ends included.
        labels: for a CVAE, one digit for the whole strip, or a (start, end) pair whose one-hot rows are blended
            too (:func:`cvae_course.data.blend_labels`: one digit morphs into another in the same style).
        title: the figure's title.
    """
    steps = check_positive_int(steps, "steps")
    a, b = as_latent(z_start, model.latent_dim, "z_start")[0], as_latent(z_end, model.latent_dim, "z_end")[0]
    t = np.linspace(0, 1, steps, dtype=np.float32)[:, None]
    z = (1 - t) * a + t * b
    if getattr(model, "conditional", False):
        if labels is None:
            raise ValueError("a conditional model needs labels: one digit, or a (start, end) pair")
        pair = as_labels(labels)
        if len(pair) == 1:
            imgs = model.decode(z, np.repeat(pair, steps))
        elif len(pair) == 2:
            imgs = model.decode(z, blend_labels(pair[0], pair[1], t[:, 0]))
        else:
            raise ValueError(f"labels must be one digit or a (start, end) pair, got {len(pair)} labels")
    else:
        imgs = model.decode(z)
    return image_grid(imgs, steps, titles=[f"{v:.2f}" for v in t[:, 0]], title=title)


def generation_grid(
    model, n_per_label: int = 10, *, temperature: float = 1.0, seed: int = 0, title: str | None = None
) -> Figure:
    """One row per requested digit 0-9, ``n_per_label`` samples each, from a CVAE.

    Args:
        model: a CVAE.
        n_per_label: samples per digit (one row each).
        temperature: codes are drawn from N(0, temperature^2 I).
        seed: makes the draws repeatable.
        title: the figure's title.
    """
    from cvae_course.models import CVAE

    check_model(
        model,
        CVAE,
        hint="A VAE draws no chosen digits: show its samples with plots.image_grid(vae.sample(40)). "
        "For the course CVAE, recipes.load_cvae().",
    )
    n = check_positive_int(n_per_label, "n_per_label")
    labels = np.repeat(np.arange(NUM_CLASSES), n)
    imgs = model.generate(labels, temperature=temperature, seed=seed)
    return image_grid(
        imgs,
        n,
        row_labels=[str(k) for k in range(NUM_CLASSES)],
        title=title or f"Generated digits (one row per requested label, T={temperature:g})",
    )


def training_curves(
    history,
    keys: Sequence[str] = ("loss", "reconstruction", "kl"),
    *,
    title: str = "Training curves",
    units: str = "nats per image",
    held_out: str = "test",
    from_zero: Sequence[str] = ("kl",),
) -> Figure:
    """One panel per metric, per epoch: the training curve, and the held-out curve when the history has one.

    Args:
        history: Keras's ``History`` (or its ``.history`` dict): per-epoch lists under each key, and ``val_<key>``
            for the data passed as ``validation_data``.
        keys: the metrics to draw, one panel each (those missing from the history are left out).
        title: the figure's title.
        units: the y-axis label of every panel (the course's losses are in nats per image).
        held_out: the name of the ``val_`` curve in the legend: the lessons pass their test set as
            ``validation_data``, so it is "test" unless you say otherwise.
        from_zero: metrics whose y axis starts at 0 (the KL: a KL of a few nats is small only next to 0).
    """
    hist = getattr(history, "history", history)
    hist = getattr(hist, "history", hist)  # a trained model's .history is Keras's History
    if not isinstance(hist, dict):
        got = type(history).__name__ if history is None or not hasattr(history, "history") else "a model"
        raise ValueError(
            f"history must be the History that training.train returns (or its .history dict), got {got}: "
            "pass history = training.train(...), or model.history after the model trained"
        )
    present = [k for k in keys if k in hist]
    if not present:
        raise ValueError(f"history has none of {list(keys)}; it has {sorted(hist)}")
    fig = Figure(figsize=(4 * len(present), 3))
    axes = np.atleast_1d(fig.subplots(1, len(present)))
    for ax, key in zip(axes, present):
        epochs = np.arange(1, len(hist[key]) + 1)
        ax.plot(epochs, hist[key], marker="o", label="training")
        if f"val_{key}" in hist:
            ax.plot(epochs, hist[f"val_{key}"], marker="o", label=held_out)
            if not any(a.get_legend() for a in axes):  # one legend: the colours mean the same in every panel
                ax.legend()
        ax.set_xlabel("epoch")
        ax.set_ylabel(units)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers, never 1.5
        if key in from_zero:
            ax.set_ylim(bottom=0)
        ax.set_title(key)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
