"""Checks of the lesson 02 exercises (VAE): the Sampling layer, the closed-form KL, the ELBO terms, training,
sampling from the prior.

Each ``check_*`` is called by a test cell of ``solutions/`` and ``exercises/`` (re-exported by
:mod:`cvae_course.checks`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cvae_course import losses
from cvae_course._keras import keras, ops, tf
from cvae_course.checks.harness import (
    _MSE_HINT,
    _RNG_NOT_SEEDED,
    _call,
    _check_images,
    _check_prior_codes,
    _close,
    _course_versions,
    _decoded_calls,
    _fail,
    _graph_mode,
    _is_squared_error,
    _loss_and_kl,
    _numpy,
    _passed,
    _quiet,
    _random_images,
    _reference_decoder,
    _reference_reconstruction,
    _requires,
    _rng,
    _some,
    _Spy,
)

__all__ = ["check_sampling", "check_kl", "check_elbo_terms", "check_sample_images", "check_vae_trained"]
# The function or class each task of the exercise asks for (messages say "kl_divergence (task 2)").
TASKS = {"Sampling": "task 1", "kl_divergence": "task 2", "elbo_terms": "task 3", "sample_images": "task 4"}


def _draw(layer, mu: np.ndarray, log_var: np.ndarray, label: str) -> np.ndarray:
    __tracebackhide__ = True
    z = _call(layer, label, [ops.convert_to_tensor(mu), ops.convert_to_tensor(log_var)])
    return _numpy(z, label)


def check_sampling(sampling_class: type, seed: int = 0, latent_dim: int = 2, n: int = 20000) -> None:
    """``Sampling(seed)`` layer: z = mu + exp(0.5 * log_var) * eps, repeatable with a seed, differentiable."""
    __tracebackhide__ = True
    if not (isinstance(sampling_class, type) and issubclass(sampling_class, keras.layers.Layer)):
        _fail(
            f"Sampling is {sampling_class!r}; expected a subclass of keras.layers.Layer.",
            "write `class Sampling(keras.layers.Layer):` with __init__(self, seed=None, **kwargs) and call.",
        )
    try:
        layer = _call(sampling_class, f"Sampling(seed={seed})", seed=seed)
    except TypeError as err:
        _fail(
            f"Sampling(seed={seed}) failed: {err}.",
            "accept a seed: def __init__(self, seed=None, **kwargs): super().__init__(**kwargs) ...",
        )
    rng = _rng(seed)
    mu_row = rng.uniform(-2, 2, size=latent_dim).astype(np.float32)
    log_var_row = rng.uniform(-1.5, 1.0, size=latent_dim).astype(np.float32)
    mu = np.tile(mu_row, (n, 1))
    log_var = np.tile(log_var_row, (n, 1))
    label = f"Sampling()([z_mean, z_log_var]) with shape ({n}, {latent_dim})"
    z = _draw(layer, mu, log_var, label)
    if z.shape != mu.shape:
        _fail(
            f"{label} returned shape {z.shape}; expected {mu.shape}, the shape of z_mean.",
            "draw eps with keras.random.normal(ops.shape(z_mean), seed=...).",
        )
    mean, std = z.mean(axis=0), z.std(axis=0)
    sigma = np.exp(0.5 * log_var_row)
    if np.all(std < 1e-6):
        _fail(f"{label} returned z without noise (std 0).", "z = z_mean + sigma * eps with eps ~ N(0, 1).")
    if not np.allclose(mean, mu_row, atol=0.1 + 4 * sigma / np.sqrt(n)):
        hint = (
            "you forgot to add z_mean."
            if np.allclose(mean, 0, atol=0.1)
            else "z = z_mean + exp(0.5 * z_log_var) * eps."
        )
        _fail(f"the mean of z is {mean.round(2)}; expected z_mean = {mu_row.round(2)}.", hint)
    if not np.allclose(std, sigma, rtol=0.05):
        if np.allclose(std, np.exp(log_var_row), rtol=0.05):
            hint = "you forgot the 0.5: sigma = exp(0.5 * z_log_var), the square root of the variance."
        elif np.allclose(std, np.abs(log_var_row), rtol=0.05):
            hint = "z_log_var is the LOG of the variance: sigma = exp(0.5 * z_log_var)."
        elif np.allclose(std, np.exp(-0.5 * log_var_row), rtol=0.05):
            hint = "mind the sign: sigma = exp(+0.5 * z_log_var)."
        else:
            hint = "sigma = exp(0.5 * z_log_var); multiply eps ~ N(0, 1) by it."
        _fail(f"the spread of z is {std.round(3)}; expected sigma = {sigma.round(3)}.", hint)
    again = _draw(layer, mu[:8], log_var[:8], label)
    if np.allclose(again, z[:8]):
        _fail(
            "two calls of the same layer returned the same z: eps is not redrawn.",
            "draw eps inside call() with a keras.random.SeedGenerator, not once in __init__.",
        )
    twin = _call(sampling_class, f"Sampling(seed={seed})", seed=seed)
    if not np.allclose(_draw(twin, mu[:8], log_var[:8], label), z[:8], atol=1e-5):
        _fail(
            f"two Sampling(seed={seed}) layers gave different draws ({_RNG_NOT_SEEDED}).",
            "keep self.seed_generator = keras.random.SeedGenerator(seed) and pass seed=self.seed_generator "
            "to keras.random.normal.",
        )
    _graph_mode(lambda m, v: layer([m, v]), "Sampling", mu[:8], log_var[:8])
    mu_t, lv_t = tf.Variable(mu[:8]), tf.Variable(log_var[:8])
    with tf.GradientTape() as tape, _quiet():
        total = ops.sum(_call(layer, label, [mu_t, lv_t]))
    grad_mu, grad_lv = tape.gradient(total, [mu_t, lv_t])
    if grad_mu is None or grad_lv is None:
        _fail(
            "no gradient flows from z back to z_mean and z_log_var.",
            "compute z with keras.ops (ops.exp, +, *) on the inputs; NumPy breaks the gradient path.",
        )
    if not np.allclose(ops.convert_to_numpy(grad_mu), 1.0, atol=1e-5):
        _fail("dz/dz_mean is not 1.", "z should be z_mean + sigma * eps: z_mean enters with weight 1.")
    _passed(f"Sampling: mean {mean.round(2)}, spread {std.round(2)} as expected; seeded and differentiable")


def _reference_kl(mu: np.ndarray, log_var: np.ndarray) -> np.ndarray:
    return ops.convert_to_numpy(losses.kl_divergence(ops.convert_to_tensor(mu), ops.convert_to_tensor(log_var)))


def _diagnose_kl(got: np.ndarray, mu: np.ndarray, log_var: np.ndarray, label: str, per_image: bool = True) -> None:
    __tracebackhide__ = True
    want = _reference_kl(mu, log_var)
    if not per_image:
        want = np.asarray(want.mean())
    n, d = mu.shape
    if per_image and got.shape != (n,):
        if got.shape == ():
            hint = "sum over the latent axis only (axis=-1): one KL per image, not one for the batch."
        elif got.shape == (d,):
            hint = "you summed over the batch axis (axis=0); sum over the latent axis (axis=-1)."
        elif got.shape == (n, d):
            hint = "sum the per-dimension terms over the latent axis (axis=-1)."
        else:
            hint = "sum over the latent axis (axis=-1)."
        _fail(f"{label} returned shape {got.shape}; expected ({n},), one KL per image.", hint)
    if not per_image and got.shape != ():
        _fail(
            f"{label}: the KL term has shape {got.shape}; expected a single number (the batch mean).",
            "sum over the latent axis, then average over the batch (ops.mean).",
        )
    if not np.all(np.isfinite(got)):
        _fail(f"{label} returned NaN or infinity.", "the variance is exp(z_log_var); no log of z_log_var.")
    wrong = {
        "the sign is wrong: a KL divergence is never negative; KL = -0.5 * sum(1 + log_var - mu^2 - exp(log_var))": -want,
        "you forgot the 0.5 (or the 1/2): KL = -0.5 * sum(...)": 2 * want,
        "you averaged over the latent dimensions; sum over them": want / d,
        "the variance is exp(z_log_var), not z_log_var": -0.5 * np.sum(1 + log_var - mu**2 - log_var, axis=-1),
        "square the mean: the term is z_mean ** 2": -0.5 * np.sum(1 + log_var - mu - np.exp(log_var), axis=-1),
        "the 1 inside the sum is missing: KL = -0.5 * sum(1 + log_var - mu^2 - exp(log_var))": -0.5
        * np.sum(log_var - mu**2 - np.exp(log_var), axis=-1),
    }
    if _close(got, want, rtol=1e-3, atol=1e-3):
        return
    for hint, value in wrong.items():
        value = np.asarray(value if per_image else np.mean(value))
        if _close(got, value, rtol=1e-3, atol=1e-3):
            _fail(f"{label} returned {_some(got, 3)}, expected {_some(want, 3)}.", hint)
    _fail(
        f"{label} returned {_some(got, 3)}, expected {_some(want, 3)}.",
        "KL(N(mu, sigma^2) || N(0, 1)) = -0.5 * sum over dimensions of (1 + log_var - mu^2 - exp(log_var)).",
    )


def _latent_batch(batch: int, latent_dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = _rng(seed)
    mu = rng.normal(size=(batch, latent_dim)).astype(np.float32)
    log_var = rng.uniform(-2.0, 1.0, size=(batch, latent_dim)).astype(np.float32)
    return mu, log_var


def check_kl(kl_divergence: Callable, batch: int = 8, latent_dim: int = 2, seed: int = 0) -> None:
    """``kl_divergence(z_mean, z_log_var)`` -> KL(q(z|x) || N(0, I)) per image, in closed form."""
    __tracebackhide__ = True
    mu, log_var = _latent_batch(batch, latent_dim, seed)
    label = f"kl_divergence(z_mean, z_log_var) with shape ({batch}, {latent_dim})"
    got = _numpy(_call(kl_divergence, label, ops.convert_to_tensor(mu), ops.convert_to_tensor(log_var)), label)
    _diagnose_kl(got, mu, log_var, label)
    zero = _numpy(_call(kl_divergence, label, ops.zeros((3, latent_dim)), ops.zeros((3, latent_dim))), label)
    if not np.allclose(zero, 0.0, atol=1e-6):
        _fail(f"{label} is {zero.round(3)} when q(z|x) = N(0, I); expected 0 (a distribution against itself).")
    _graph_mode(kl_divergence, "kl_divergence", mu, log_var)
    _passed(
        f"kl_divergence: {batch} images, {latent_dim} latent dimensions, "
        f"e.g. {_reference_kl(mu, log_var)[0]:.3f} nats for the first one"
    )


def check_elbo_terms(elbo_terms: Callable, batch: int = 8, latent_dim: int = 2, seed: int = 0) -> None:
    """``elbo_terms(x, logits, z_mean, z_log_var)`` -> (reconstruction, kl), each a batch mean in nats per image.

    Runs with the course's ``kl_divergence`` in place of the learner's (task 2): a mistake there costs task 2 only.
    """
    __tracebackhide__ = True
    with _course_versions(elbo_terms, kl_divergence=losses.kl_divergence):
        _check_elbo_terms(elbo_terms, batch, latent_dim, seed)


def _check_elbo_terms(elbo_terms: Callable, batch: int, latent_dim: int, seed: int) -> None:
    __tracebackhide__ = True
    x = _random_images(batch, seed)
    logits = (_rng(seed + 1).normal(size=x.shape) * 3).astype(np.float32)
    mu, log_var = _latent_batch(batch, latent_dim, seed + 2)
    label = f"elbo_terms(x, logits, z_mean, z_log_var) for {batch} images"
    args = [ops.convert_to_tensor(a) for a in (x, logits, mu, log_var)]
    out = _call(elbo_terms, label, *args)
    if not isinstance(out, (list, tuple)) or len(out) != 2:
        _fail(
            f"{label} returned {type(out).__name__}; expected a pair (reconstruction, kl).",
            "return reconstruction, kl (two numbers); the model adds them up and reports both.",
        )
    rec = _numpy(out[0], label + " (reconstruction)")
    kl = _numpy(out[1], label + " (kl)")
    want_rec = np.asarray(_reference_reconstruction(x, logits).mean())
    if rec.shape != ():
        hint = (
            "average the per-image errors over the batch with ops.mean."
            if rec.shape == (batch,)
            else "sum over pixels per image, then average over the batch."
        )
        _fail(f"{label}: the reconstruction term has shape {rec.shape}; expected a single number.", hint)
    if _close(rec, want_rec / 784):
        _fail(
            f"{label}: reconstruction {float(rec):.3f} is the per-pixel average; expected {float(want_rec):.1f}.",
            "sum over the 784 pixels before averaging over the batch; averaging over pixels makes the KL "
            "784 times too strong and the VAE collapses.",
        )
    if _is_squared_error(rec, x, logits, batch_mean=True):
        _fail(
            f"{label}: reconstruction {float(rec):.3f} is a squared error; expected {float(want_rec):.2f}.", _MSE_HINT
        )
    if _close(rec, -want_rec):
        _fail(
            f"{label}: reconstruction {float(rec):.1f} is negative; expected {float(want_rec):.1f}.",
            "the reconstruction term is a negative log-likelihood: positive.",
        )
    if not _close(rec, want_rec, rtol=1e-3, atol=1e-2):
        _fail(
            f"{label}: reconstruction {float(rec):.2f}, expected {float(want_rec):.2f}.",
            "use the per-image reconstruction error of lesson 01 (losses.reconstruction_loss), then ops.mean.",
        )
    _diagnose_kl(kl, mu, log_var, label, per_image=False)
    _graph_mode(lambda *a: elbo_terms(*a)[0] + elbo_terms(*a)[1], "elbo_terms", x, logits, mu, log_var)
    _passed(f"elbo_terms: reconstruction {float(want_rec):.1f} + KL {float(kl):.2f} nats per image")


def check_sample_images(sample_images: Callable, n: int = 1000, latent_dim: int = 2, seed: int = 0) -> None:
    """``sample_images(decoder, n, latent_dim, seed)`` -> n new images decoded from codes drawn from N(0, I)."""
    __tracebackhide__ = True
    spy = _Spy(_reference_decoder(latent_dim, seed))
    label = f"sample_images(decoder, n={n}, latent_dim={latent_dim}, seed={seed})"
    got = _numpy(_call(sample_images, label, spy, n, latent_dim, seed), label)
    (z,) = _decoded_calls(spy, label)
    _check_prior_codes(z, n, latent_dim, label)
    logits = ops.convert_to_numpy(spy.model(z))
    _check_images(got, logits, n, label)
    again = _numpy(_call(sample_images, label, _Spy(spy.model), n, latent_dim, seed), label)
    if not np.allclose(again, got):
        _fail(
            f"two calls with seed={seed} gave different images ({_RNG_NOT_SEEDED}).",
            "pass the seed on: keras.random.normal(..., seed=seed).",
        )
    other = _numpy(_call(sample_images, label, _Spy(spy.model), n, latent_dim, seed + 1), label)
    if np.allclose(other, got):
        _fail(f"seed={seed} and seed={seed + 1} gave the same images.", "use the seed argument to draw the codes.")
    _passed(f"sample_images: {n} images from codes drawn from N(0, I), repeatable with a seed")


def check_vae_trained(
    history: keras.callbacks.History, *, elbo_terms: Callable | None = None, kl_divergence: Callable | None = None
) -> None:
    """The VAE trained on the learner's loss: the negative ELBO went down and the KL is positive.

    When the training went wrong and ``kl_divergence`` or ``elbo_terms`` (the learner's, which it trained on) fails
    its own check, the message names that task at once instead of describing the symptom.
    """
    __tracebackhide__ = True
    loss, kl = _loss_and_kl(history)
    if not (np.isfinite(loss[-1]) and np.isfinite(kl[-1])):
        problem = (
            f"the training ended with loss {loss[-1]} and KL {kl[-1]}: NaN (not a number) or infinity, so "
            "some value overflowed or a log was taken of a negative number"
        )
        hint = "the variance is ops.exp(z_log_var): never take a log of z_log_var, and use keras.ops throughout."
    elif kl[-1] < 0.0:
        problem = (
            f"the KL term ended at {kl[-1]:.2f} nats per image, below 0, which a KL divergence never is "
            "(the training then pushes it further down instead of towards the prior)"
        )
        hint = "check the sign of kl_divergence: KL = -0.5 * sum(1 + log_var - mu^2 - exp(log_var)) >= 0."
    elif not loss[-1] < 543.0:
        problem = f"the negative ELBO is {loss[-1]:.1f} nats per image after training; a grey guess costs 543"
        hint = "check elbo_terms (sum over pixels, average over the batch)."
    else:
        problem = hint = None
    collapsed = problem is None and kl[-1] < 0.5
    if problem or collapsed:
        why = problem or f"the KL term is only {kl[-1]:.2f} nats per image after training"
        if kl_divergence is not None:
            _requires(check_kl, kl_divergence, "kl_divergence", why)
        if elbo_terms is not None:
            _requires(check_elbo_terms, elbo_terms, "elbo_terms", why)
    if problem:
        _fail(problem + ".", hint)
    remark = ""
    if collapsed:
        remark = (
            f"\n  Note: the KL is only {kl[-1]:.2f} nats: the codes carry almost no information about the "
            "images (posterior collapse). Your functions pass their checks, so this is the short training; "
            "lesson 05 shows what else causes it."
        )
    _passed(
        f"the VAE trained: negative ELBO {loss[-1]:.1f} = reconstruction {history.history['reconstruction'][-1]:.1f} "
        f"+ KL {kl[-1]:.1f} nats per image{remark}"
    )
