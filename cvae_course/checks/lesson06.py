"""Checks of the lesson 06 exercises (Sohn et al.'s CVAE): the loss over the hidden pixels, the KL between two
diagonal Gaussians, the prior network p(z | x), the CVAE trained with both, and completions drawn at test time (z from the prior network).

Each ``check_*`` is called by a test cell of ``solutions/`` and ``exercises/`` (re-exported by
:mod:`cvae_course.checks`). The KL is compared with :func:`cvae_course.quadrants.gaussian_kl`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cvae_course import losses, quadrants
from cvae_course._keras import keras, ops
from cvae_course.checks.harness import (
    _call,
    _check_built_model,
    _close,
    _fail,
    _graph_mode,
    _input_shapes,
    _loss_and_kl,
    _numpy,
    _passed,
    _quiet,
    _random_images,
    _rng,
    _some,
)

__all__ = [
    "check_complete",
    "check_gaussian_kl",
    "check_hidden_loss",
    "check_prior_network",
    "check_quadrant_cvae_trained",
]

TASKS = {"hidden_loss": "task 1", "gaussian_kl": "task 2", "build_prior_network": "task 3", "complete": "task 4"}


def _reference(mu_q, log_var_q, mu_p, log_var_p) -> np.ndarray:
    return ops.convert_to_numpy(
        quadrants.gaussian_kl(*(ops.convert_to_tensor(a) for a in (mu_q, log_var_q, mu_p, log_var_p)))
    ).astype(np.float64)


def _mistakes(mu_q, log_var_q, mu_p, log_var_p) -> dict[str, np.ndarray]:
    """What common wrong versions of the KL return, each with the hint that fixes it."""
    vq, vp = np.exp(log_var_q), np.exp(log_var_p)
    want = _reference(mu_q, log_var_q, mu_p, log_var_p)
    d = mu_q.shape[-1]
    total = lambda per_dim: 0.5 * np.sum(per_dim, axis=-1)  # noqa: E731
    return {
        "the sign is wrong: a KL divergence is never negative": -want,
        "you forgot the 1/2 in front of the sum": 2 * want,
        "you averaged over the latent dimensions; sum over them": want / d,
        "that is KL(p || q): swap the roles, the expectation is under q = N(mu_q, sigma_q^2)": _reference(
            mu_p, log_var_p, mu_q, log_var_q
        ),
        "that is lesson 02's KL to N(0, I): the prior's mean and variance must enter too": _reference(
            mu_q, log_var_q, np.zeros_like(mu_p), np.zeros_like(log_var_p)
        ),
        "the squared difference of the means is missing: (mu_q - mu_p)^2 / sigma_p^2": total(
            log_var_p - log_var_q + vq / vp - 1
        ),
        "divide by the prior's variance sigma_p^2 = exp(log_var_p), not multiply": total(
            log_var_p - log_var_q + (vq + (mu_q - mu_p) ** 2) * vp - 1
        ),
        "the variances are exp(log_var), not log_var itself": total(
            np.log(np.abs(log_var_p) + 1e-12)
            - np.log(np.abs(log_var_q) + 1e-12)
            + (log_var_q + (mu_q - mu_p) ** 2) / log_var_p
            - 1
        ),
        "the -1 inside the sum is missing": total(log_var_p - log_var_q + (vq + (mu_q - mu_p) ** 2) / vp),
    }


def _batch(batch: int, latent_dim: int, seed: int) -> list[np.ndarray]:
    rng = _rng(seed)
    mus = rng.normal(size=(2, batch, latent_dim)).astype(np.float32)
    log_vars = rng.uniform(-1.5, 1.0, size=(2, batch, latent_dim)).astype(np.float32)
    return [mus[0], log_vars[0], mus[1], log_vars[1]]


def check_gaussian_kl(gaussian_kl: Callable, batch: int = 8, latent_dim: int = 3, seed: int = 0) -> None:
    """``gaussian_kl(q_mean, q_log_var, p_mean, p_log_var)`` -> KL(q || p) per row, summed over dimensions."""
    __tracebackhide__ = True
    args = _batch(batch, latent_dim, seed)
    label = f"gaussian_kl(q_mean, q_log_var, p_mean, p_log_var) with shapes ({batch}, {latent_dim})"
    got = _numpy(_call(gaussian_kl, label, *(ops.convert_to_tensor(a) for a in args)), label)
    want = _reference(*args)
    if got.shape != (batch,):
        hint = {
            (): "sum over the latent axis only (axis=-1): one KL per row, not one for the batch.",
            (latent_dim,): "you summed over the batch axis (axis=0); sum over the latent axis (axis=-1).",
            (batch, latent_dim): "sum the per-dimension terms over the latent axis (axis=-1).",
        }.get(got.shape, "sum over the latent axis (axis=-1).")
        _fail(f"{label} returned shape {got.shape}; expected ({batch},), one KL per row.", hint)
    if not np.all(np.isfinite(got)):
        _fail(f"{label} returned NaN or infinity.", "the variances are exp(log_var); take no log of log_var.")
    if not _close(got, want, rtol=1e-3, atol=1e-3):
        for hint, value in _mistakes(*args).items():
            if _close(got, np.asarray(value, dtype=np.float64), rtol=1e-3, atol=1e-3):
                _fail(f"{label} returned {_some(got, 3)}, expected {_some(want, 3)}.", hint)
        _fail(
            f"{label} returned {_some(got, 3)}, expected {_some(want, 3)}.",
            "KL = 0.5 * sum(log_var_p - log_var_q + (exp(log_var_q) + (mu_q - mu_p)^2) / exp(log_var_p) - 1).",
        )
    same = _numpy(_call(gaussian_kl, label, *(ops.convert_to_tensor(a) for a in args[:2] * 2)), label)
    if not np.allclose(same, 0.0, atol=1e-5):
        _fail(f"{label} is {_some(same, 3)} when q = p; expected 0 (a distribution against itself).")
    _graph_mode(gaussian_kl, "gaussian_kl", *args)
    _passed(
        f"gaussian_kl: {batch} rows, {latent_dim} dimensions, e.g. {want[0]:.3f} nats for the first one; 0 when q = p"
    )


def check_prior_network(build_prior_network: Callable, latent_dim: int = 32, seed: int = 0) -> None:
    """``build_prior_network(latent_dim)`` -> model x (28, 28, 1) -> [z_mean, z_log_var], each (batch, latent_dim)."""
    __tracebackhide__ = True
    keras.utils.set_random_seed(seed)
    model = _check_built_model(build_prior_network, "build_prior_network", latent_dim)
    name = f"build_prior_network({latent_dim})"
    if _input_shapes(model) != [(28, 28, 1)]:
        _fail(
            f"{name} takes inputs of shapes {_input_shapes(model)}; expected one input x of shape (28, 28, 1).",
            "p(z | x) sees only the visible part x: keras.Input(shape=(28, 28, 1)). Not y: it is unknown at test time.",
        )
    x, _ = quadrants.make_task(_random_images(6, seed), 1 + seed % 3)
    with _quiet():
        out = model(ops.convert_to_tensor(x))
    if not isinstance(out, (list, tuple)) or len(out) != 2:
        _fail(
            f"{name} returns {type(out).__name__}; expected two outputs [z_mean, z_log_var].",
            "end with two Dense(latent_dim) layers and return keras.Model(x, [z_mean, z_log_var]).",
        )
    mean, log_var = (_numpy(o, name) for o in out)
    for what, value in (("z_mean", mean), ("z_log_var", log_var)):
        if value.shape != (len(x), latent_dim):
            _fail(
                f"{name}: {what} has shape {value.shape} for {len(x)} inputs; expected ({len(x)}, {latent_dim}).",
                f"the last layers are Dense({latent_dim}), one row per input.",
            )
    if np.allclose(mean, mean[:1]) and np.allclose(log_var, log_var[:1]):
        _fail(f"{name} gives every input the same distribution.", "compute z_mean and z_log_var from x.")
    if np.all(log_var >= 0) and np.all(log_var < 1e-3):
        _fail(
            f"{name}: z_log_var is never negative and tiny: an activation clips it.",
            "no activation on the z_log_var layer: a log-variance can be any real number.",
        )
    _passed(
        f"prior network: x (28, 28, 1) -> z_mean and z_log_var of {latent_dim} dimensions, "
        f"{model.count_params():,} weights"
    )


def check_quadrant_cvae_trained(history: keras.callbacks.History) -> None:
    """The CVAE trained with the learner's prior network: the loss went down and the KL is positive and finite."""
    __tracebackhide__ = True
    loss, kl = _loss_and_kl(history)
    if not (np.isfinite(loss[-1]) and np.isfinite(kl[-1])):
        _fail(
            f"the training ended with loss {loss[-1]} and KL {kl[-1]}.",
            "check gaussian_kl and the prior network's z_log_var for NaN.",
        )
    if not kl[-1] > 0.0:
        _fail(f"the KL term is {kl[-1]:.3f} after training; expected it above 0.", "check the sign of gaussian_kl.")
    if len(loss) > 1 and not loss[-1] < loss[0]:
        _fail(
            f"the negative ELBO did not go down ({loss[0]:.1f} -> {loss[-1]:.1f} nats per image).",
            "check gaussian_kl and build_prior_network.",
        )
    _passed(
        f"the CVAE trained: negative ELBO {loss[-1]:.1f} = reconstruction {history.history['reconstruction'][-1]:.1f} "
        f"+ KL {kl[-1]:.1f} nats per image (hidden pixels only)"
    )


def _reference_networks(latent_dim: int, seed: int, log_var_bias: float):
    """A prior network (its log-variances shifted by ``log_var_bias``) and a generation network, seeded."""
    keras.utils.set_random_seed(seed)
    prior = quadrants.build_prior(latent_dim, (16,))
    head = prior.get_layer("z_log_var")
    kernel, bias = head.get_weights()
    head.set_weights([kernel * 0.1, bias * 0 + log_var_bias])
    return prior, quadrants.build_generation(latent_dim, (16,))


def check_complete(
    complete: Callable, n_samples: int = 5, n_images: int = 4, latent_dim: int = 3, seed: int = 0
) -> None:
    """``complete(prior, generation, x, n_samples, seed)`` -> (n_samples, N, 28, 28, 1) whole digits: z ~ p(z | x),
    sigmoid of the generation network's logits in the hidden pixels, x's own pixels in the visible ones."""
    __tracebackhide__ = True
    x, _ = quadrants.make_task(_random_images(n_images, seed), 1 + seed % 3)
    label = f"complete(prior, generation, x, n_samples={n_samples}, seed={seed}) for {n_images} inputs"
    prior, generation = _reference_networks(latent_dim, seed, -30.0)  # p(z | x) is (almost) its mean
    got = _numpy(_call(complete, label, prior, generation, x, n_samples, seed), label)
    if got.shape != (n_samples, n_images, 28, 28, 1):
        _fail(
            f"{label} returned shape {got.shape}; expected {(n_samples, n_images, 28, 28, 1)}.",
            "draw n_samples codes per input and stack the completions: one (N, 28, 28, 1) batch per draw.",
        )
    visible = np.broadcast_to(x >= 0, got.shape)
    if not np.allclose(got[visible], np.broadcast_to(x, got.shape)[visible], atol=1e-6):
        _fail(
            f"{label}: the visible pixels differ from x.",
            "put x's own pixels back where x >= 0, e.g. ops.where(x < 0, completion, x).",
        )
    with _quiet():
        mean, _ = prior(ops.convert_to_tensor(x))
        want = ops.convert_to_numpy(ops.sigmoid(generation([ops.convert_to_tensor(x), mean])))
    hidden = np.broadcast_to(x < 0, got.shape)
    want = np.broadcast_to(want, got.shape)
    if not np.allclose(got[hidden], want[hidden], atol=2e-3):
        if got[hidden].min() < 0 or got[hidden].max() > 1:
            hint = "the generation network returns logits: apply ops.sigmoid to get pixel probabilities."
        else:
            hint = (
                "draw z from the prior network's distribution: z = z_mean + exp(0.5 * z_log_var) * eps, with "
                "(z_mean, z_log_var) = prior(x); at test time there is no y, and N(0, I) is not the prior here."
            )
        _fail(
            f"{label}: with a prior network of (almost) zero variance the completions should decode z = z_mean "
            "of p(z | x), but they do not.",
            hint,
        )
    prior, generation = _reference_networks(latent_dim, seed, 0.0)
    first = _numpy(_call(complete, label, prior, generation, x, n_samples, seed), label)
    again = _numpy(_call(complete, label, prior, generation, x, n_samples, seed), label)
    other = _numpy(_call(complete, label, prior, generation, x, n_samples, seed + 1), label)
    if not np.allclose(first, again, atol=1e-6):
        _fail(f"two calls with seed={seed} gave different completions.", "pass the seed to keras.random.normal.")
    if np.allclose(first, other) or np.allclose(first[0], first[-1]):
        _fail(
            "the completions do not change from draw to draw (or from seed to seed).",
            "draw new noise for every completion: keras.random.normal((n_samples, N, latent_dim), seed=seed).",
        )
    _passed(f"complete: {n_samples} completions of {n_images} inputs from z ~ p(z | x), visible pixels kept")


def check_hidden_loss(hidden_loss: Callable, batch: int = 6, seed: int = 0) -> None:
    """``hidden_loss(x, y, logits)`` -> the Bernoulli cross-entropy over the pixels hidden in x, per image: (batch,)."""
    __tracebackhide__ = True
    images = _random_images(batch, seed)
    x, y = quadrants.make_task(images, 1 + seed % 3)
    logits = (_rng(seed + 1).normal(size=x.shape) * 3).astype(np.float32)
    label = f"hidden_loss(x, y, logits) for {batch} images with {1 + seed % 3} visible quadrant(s)"
    got = _numpy(_call(hidden_loss, label, *(ops.convert_to_tensor(a) for a in (x, y, logits))), label)
    per_pixel = ops.convert_to_numpy(
        losses.pixel_cross_entropy(ops.convert_to_tensor(images), ops.convert_to_tensor(logits))
    ).astype(np.float64)
    hidden, visible = (x < 0), (x >= 0)
    want = (per_pixel * hidden).reshape(batch, -1).sum(axis=1)
    if got.shape != (batch,):
        hint = (
            "sum over the pixels of each image only (axis=(1, 2, 3)): one loss per image, not one for the batch."
            if got.shape == ()
            else "sum the per-pixel terms over the pixel axes (1, 2, 3)."
        )
        _fail(f"{label} returned shape {got.shape}; expected ({batch},), one loss per image.", hint)
    wrong = {
        "count only the hidden pixels, where x < 0 (multiply the per-pixel loss by that mask)": per_pixel.reshape(
            batch, -1
        ).sum(axis=1),
        "those are the visible pixels: the hidden ones are where x < 0": (
            ops.convert_to_numpy(losses.pixel_cross_entropy(ops.convert_to_tensor(y), ops.convert_to_tensor(logits)))
            * visible
        )
        .reshape(batch, -1)
        .sum(1),
        "sum over the hidden pixels, do not average them": want / hidden.reshape(batch, -1).sum(axis=1),
        "that averages over all 784 pixels; sum over the hidden ones": want / 784,
        "the loss is a negative log-likelihood: positive": -want,
    }
    if not _close(got, want, rtol=1e-3, atol=1e-2):
        for hint, value in wrong.items():
            if _close(got, np.asarray(value), rtol=1e-3, atol=1e-2):
                _fail(f"{label} returned {_some(got, 1)}, expected {_some(want, 1)}.", hint)
        _fail(
            f"{label} returned {_some(got, 1)}, expected {_some(want, 1)}.",
            "per pixel losses.pixel_cross_entropy(y, logits), times the mask ops.cast(x < 0, 'float32'), summed "
            "over axes (1, 2, 3).",
        )
    _graph_mode(hidden_loss, "hidden_loss", x, y, logits)
    _passed(f"hidden_loss: {batch} images, {int(hidden[0].sum())} hidden pixels each, e.g. {want[0]:.1f} nats")
