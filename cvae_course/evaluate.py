"""Measuring models: negative ELBO, what a judge classifier reads, conditional accuracy and diversity.

Metrics only: the models measured, and the judge (:func:`cvae_course.recipes.load_judge`, a small convolutional
digit classifier trained once and cached), come from elsewhere.

* :func:`negative_elbo_per_image` scores each image in nats (lower is better); its mean over the test
  set (:func:`mean_negative_elbo`) is the usual number to compare VAEs by, :func:`mean_elbo_terms` splits it
  into reconstruction and KL.
* :func:`classify` and :func:`accuracy`: what the judge reads.
* :func:`conditional_accuracy`: the share of digits generated for label k that the judge reads as k.
* :func:`diversity`: how varied the generated digits of each label are, relative to real digits of that
  label (about 0.6 for a healthy 2-D CVAE, near 0 when every sample of a label is the same average digit).
"""

from __future__ import annotations

import numpy as np

from cvae_course._keras import keras, ops
from cvae_course.layers import Sampling
from cvae_course.losses import kl_divergence, reconstruction_loss
from cvae_course.models import CVAE, PREDICT_BATCH, VAE
from cvae_course.validation import NUM_CLASSES, as_images, as_labels, check_model, check_positive_int

__all__ = [
    "accuracy", "classify", "conditional_accuracy", "diversity", "elbo_terms_per_image", "generate_per_label",
    "mean_elbo_terms", "mean_negative_elbo", "mean_pairwise_distance", "negative_elbo_per_image",
]


def elbo_terms_per_image(model: VAE, images, labels=None, *, n_samples: int = 1,
                         seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The two terms of -ELBO(x) for each image, in nats: (reconstruction, KL).

    The reconstruction is averaged over ``n_samples`` draws of z; the KL is the closed form. They are the true
    terms whatever loss the model was trained on, so a model trained with a wrong loss can be measured too.

    Args:
        model: a VAE or CVAE.
        images: (N, 28, 28, 1) in [0, 1].
        labels: for a CVAE, the digits 0-9 to condition on, shape (N,).
        n_samples: draws of z per image for the reconstruction term.
        seed: makes the draws repeatable.

    Returns two float64 arrays of shape (N,).
    """
    check_model(model, VAE)
    x = as_images(images)
    means, log_vars = model.encode_distribution(x, labels)  # checks the labels: digits, one per image, CVAE only
    y = None if labels is None else as_labels(labels)
    n_samples = check_positive_int(n_samples, "n_samples")
    sampling = Sampling(seed=seed)  # the reparameterization trick, with its own repeatable stream
    rec_out = np.empty(len(x), dtype=np.float64)
    kl_out = np.empty(len(x), dtype=np.float64)
    for start in range(0, len(x), PREDICT_BATCH):
        batch = slice(start, start + PREDICT_BATCH)
        xb, yb = x[batch], None if y is None else y[batch]
        z_mean, z_log_var = ops.convert_to_tensor(means[batch]), ops.convert_to_tensor(log_vars[batch])
        rec = np.zeros(len(xb))
        for _ in range(n_samples):
            z = sampling([z_mean, z_log_var])
            logits = ops.convert_to_tensor(model.decode_logits(z, yb))
            rec += ops.convert_to_numpy(reconstruction_loss(xb, logits))
        rec_out[batch] = rec / n_samples
        kl_out[batch] = ops.convert_to_numpy(kl_divergence(z_mean, z_log_var))
    return rec_out, kl_out


def negative_elbo_per_image(model: VAE, images, labels=None, *, n_samples: int = 1, seed: int = 0) -> np.ndarray:
    """-ELBO(x) = reconstruction + KL for each image, in nats, averaged over ``n_samples`` draws of z.

    For a CVAE pass the labels to condition on (the true ones, or any other to ask "how well does x fit
    label k?").
    """
    rec, kl = elbo_terms_per_image(model, images, labels, n_samples=n_samples, seed=seed)
    return rec + kl


def mean_negative_elbo(model: VAE, images, labels=None, *, n_samples: int = 1, seed: int = 0) -> float:
    """Mean negative ELBO over a set of images, in nats per image."""
    return float(np.mean(negative_elbo_per_image(model, images, labels, n_samples=n_samples, seed=seed)))


def mean_elbo_terms(model: VAE, images, labels=None, *, n_samples: int = 1,
                    seed: int = 0) -> tuple[float, float, float]:
    """Mean (reconstruction, KL, negative ELBO) over a set of images, in nats per image, for a results table."""
    rec, kl = elbo_terms_per_image(model, images, labels, n_samples=n_samples, seed=seed)
    return float(np.mean(rec)), float(np.mean(kl)), float(np.mean(rec + kl))


def classify(judge: keras.Model, images) -> np.ndarray:
    """The judge's label for each image."""
    x = as_images(images)
    logits = np.concatenate(
        [ops.convert_to_numpy(judge(x[i : i + PREDICT_BATCH], training=False)) for i in range(0, len(x), PREDICT_BATCH)]
    )
    return logits.argmax(axis=1)


def accuracy(judge: keras.Model, images, labels) -> float:
    """Share of images the judge labels correctly."""
    return float(np.mean(classify(judge, images) == as_labels(labels)))


# ------------------------------------------------------------------------------------- generation quality
def generate_per_label(model: CVAE, n_per_label: int = 200, *, temperature: float = 1.0, seed: int = 0):
    """``n_per_label`` generated digits for each label 0-9: (images, labels), labels in blocks."""
    check_model(model, CVAE)
    n = check_positive_int(n_per_label, "n_per_label")
    labels = np.repeat(np.arange(NUM_CLASSES), n)
    return model.generate(labels, temperature=temperature, seed=seed), labels


def conditional_accuracy(model: CVAE, judge: keras.Model, n_per_label: int = 200, *, temperature: float = 1.0,
                         seed: int = 0) -> tuple[float, np.ndarray]:
    """(overall, per-class) share of generated digits that the judge reads as the requested label."""
    images, labels = generate_per_label(model, n_per_label, temperature=temperature, seed=seed)
    hits = classify(judge, images) == labels
    per_class = hits.reshape(NUM_CLASSES, -1).mean(axis=1)
    return float(hits.mean()), per_class


def mean_pairwise_distance(images) -> float:
    """Mean Euclidean distance between all pairs of images (flattened)."""
    x = as_images(images).reshape(len(images), -1).astype(np.float64)
    if len(x) < 2:
        raise ValueError(f"images must hold at least 2 images to compare, got {len(x)}")
    sq = np.sum(x * x, axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * x @ x.T, 0.0)
    iu = np.triu_indices(len(x), k=1)
    return float(np.sqrt(d2[iu]).mean())


def diversity(model: CVAE, images, labels, n_per_label: int = 200, *, seed: int = 0) -> float:
    """Generated vs real spread, averaged over labels.

    For each label: mean pairwise distance between ``n_per_label`` generated digits (decoder means,
    z ~ N(0, I)) divided by the same for ``n_per_label`` real digits of that label from ``images``.
    """
    x, y = as_images(images), as_labels(labels)
    counts = np.bincount(y, minlength=NUM_CLASSES)
    for k in range(NUM_CLASSES):
        if counts[k] < 2:
            raise ValueError(f"images hold {counts[k]} real digit(s) with label {k}; need at least 2 per label")
    generated, gen_labels = generate_per_label(model, n_per_label, seed=seed)
    rng = np.random.default_rng(seed)
    ratios = []
    for k in range(NUM_CLASSES):
        real = x[y == k]
        real_spread = mean_pairwise_distance(real[rng.permutation(len(real))[:n_per_label]])
        if real_spread == 0:
            raise ValueError(f"the real images with label {k} are all identical; pass real test digits")
        ratios.append(mean_pairwise_distance(generated[gen_labels == k]) / real_spread)
    return float(np.mean(ratios))
