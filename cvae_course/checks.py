"""Friendly checks for the exercise notebooks (``solutions/`` and the generated ``exercises/``).

Each ``check_*`` runs a learner's function or class on inputs it knows the answer for. When something
is wrong it raises :class:`CheckFailed` (an ``AssertionError``) saying what is wrong and how to fix it (a shape, a sign, a missing
0.5, a sum over the wrong axis ...); when all is well it prints one line starting with a tick.

The checks compare against the package's reference code (:mod:`cvae_course.losses`, reference
encoders and decoders from :mod:`cvae_course.models`), so a task is graded on its own: a wrong encoder
does not fail the check of the loss. Visible test cells call the checks with their defaults; hidden
test cells call them again with other seeds and sizes, so a hard-coded answer does not pass.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Any, Callable

import numpy as np

from cvae_course import losses, models, settings
from cvae_course._keras import keras, ops, tf
from cvae_course.data import one_hot
from cvae_course.validation import IMAGE_SHAPE, NUM_CLASSES

TICK = "\u2714"
_RNG_NOT_SEEDED = "same seed, different results"


# ------------------------------------------------------------------------------------ plumbing
def _passed(message: str) -> None:
    print(f"{TICK} {message}")


class CheckFailed(AssertionError):
    """A failed check. In a notebook it shows as its message and hint alone: the traceback would only point
    into this module, which is not where the learner's mistake is. (Errors raised by the learner's own code
    are not wrapped and keep their full traceback.)"""

    def _render_traceback_(self) -> list[str]:  # IPython uses this instead of a traceback
        return [f"\x1b[1;31mCheck failed:\x1b[0m {self}"]


def _fail(what: str, hint: str | None = None) -> None:
    # "from None": the learner sees this message, not the check's internal exception chain.
    __tracebackhide__ = True  # and pytest hides this frame too
    raise CheckFailed(what + (f"\nHint: {hint}" if hint else "")) from None


@contextlib.contextmanager
def _quiet():
    """Keep Keras's and NumPy's warnings off stderr while a learner's code runs (nbgrader counts stderr)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


def _call(fn: Callable, label: str, *args, **kwargs):
    """Call the learner's code; a NotImplementedError becomes a clear 'not written yet'."""
    __tracebackhide__ = True
    try:
        with _quiet():
            return fn(*args, **kwargs)
    except NotImplementedError:
        _fail(f"{label} is not written yet.", "replace `raise NotImplementedError()` with your code, then rerun.")
    except Exception as err:  # keep the learner's own traceback, add what the check was doing
        err.add_note(f"(raised while the check ran {label})")
        raise


def _numpy(value: Any, label: str) -> np.ndarray:
    """A learner's result (NumPy, tensor, number) as a float64 NumPy array."""
    __tracebackhide__ = True
    if isinstance(value, (list, tuple)) and value and not np.isscalar(value[0]):
        _fail(f"{label} returned a {type(value).__name__} of {len(value)} items; expected a single array.")
    try:
        return np.asarray(ops.convert_to_numpy(value), dtype=np.float64)
    except Exception:
        _fail(f"{label} returned {type(value).__name__}, which is not an array of numbers.",
              "return a NumPy array or a tensor (keras.ops results are tensors).")


def _close(a: np.ndarray, b: np.ndarray, rtol: float = 1e-3, atol: float = 1e-3) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=atol))


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _random_images(n: int, seed: int) -> np.ndarray:
    """Images in [0, 1]: half of the pixels exactly 0 or 1 (like MNIST), the rest grey."""
    rng = _rng(seed)
    x = rng.uniform(0.0, 1.0, size=(n, *IMAGE_SHAPE)).astype(np.float32)
    return np.where(rng.uniform(size=x.shape) < 0.5, np.round(x), x).astype(np.float32)


def _graph_mode(fn: Callable, label: str, *args) -> None:
    """Run ``fn`` inside a tf.function, as Keras does during training."""
    __tracebackhide__ = True
    try:
        with _quiet():
            tf.function(lambda *a: fn(*a))(*[tf.constant(a) for a in args])
    except Exception as err:  # NotImplementedError too: TensorFlow raises it for np.asarray(symbolic tensor)
        _fail(f"{label} works on NumPy arrays but fails on the symbolic tensors Keras uses while training "
              f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}).",
              "use keras.ops (ops.sum, ops.exp, ops.square, ops.mean ...) instead of NumPy functions.")


def _is_model(obj: Any) -> bool:
    return isinstance(obj, keras.Model)


def _input_shapes(model: keras.Model) -> list[tuple]:
    return [tuple(t.shape[1:]) for t in model.inputs]


# ------------------------------------------------------------------------------------ budget
def exercise_data(seed: int = settings.DEFAULT_SEED):
    """The MNIST slice of the graded notebooks: small, so that grading a notebook takes about a minute."""
    from cvae_course import data

    sizes = settings.budget()
    return data.load_mnist(sizes.exercise_train_size, sizes.exercise_test_size, seed=seed)


def exercise_epochs() -> int:
    """Training epochs in the graded notebooks (a couple in fast mode)."""
    return settings.budget().exercise_epochs


# ------------------------------------------------------------------------------------ lesson 01
def _check_built_model(build: Callable, name: str, latent_dim: int) -> keras.Model:
    __tracebackhide__ = True
    model = _call(build, f"{name}({latent_dim})", latent_dim)
    if not _is_model(model):
        _fail(f"{name}({latent_dim}) returned {type(model).__name__}; expected a keras.Model.",
              "finish with `return keras.Model(inputs, outputs)` (or a keras.Sequential).")
    if not model.built or not model.inputs:
        _fail(f"{name}({latent_dim}) returned a model that does not know its input shape.",
              "start from `keras.Input(shape=...)` so that the model is built.")
    return model


def _check_linear_and_varied(values: np.ndarray, model: str, output: str, given: str, hint: str) -> None:
    """Outputs of a linear last layer take both signs and differ from one input to the next."""
    __tracebackhide__ = True
    if values.min() >= 0.0:
        _fail(f"every {output} value is >= 0: the {model}'s last layer has an activation (ReLU or sigmoid).", hint)
    if np.allclose(values, values[:1]):
        _fail(f"the {model} gives the same {output} for every {given}.", f"connect the {given} to the output.")


def check_encoder(build_encoder: Callable, latent_dim: int = 2, seed: int = 0) -> None:
    """``build_encoder(latent_dim)`` -> model mapping images (28, 28, 1) to codes (latent_dim,)."""
    __tracebackhide__ = True
    encoder = _check_built_model(build_encoder, "build_encoder", latent_dim)
    shapes = _input_shapes(encoder)
    if len(shapes) != 1:
        _fail(f"the encoder takes {len(shapes)} inputs; a plain autoencoder's encoder takes only the image.")
    if shapes[0] != IMAGE_SHAPE:
        hint = ("take images of shape (28, 28, 1) and flatten them inside the model with layers.Flatten()."
                if shapes[0] == (784,) else "use keras.Input(shape=(28, 28, 1)).")
        _fail(f"the encoder's input has shape {shapes[0]}; expected images of shape {IMAGE_SHAPE}.", hint)
    images = _random_images(32, seed)
    out = _call(encoder, "the encoder on a batch of 32 images", images)
    if isinstance(out, (list, tuple)):
        _fail(f"the encoder returns {len(out)} outputs; a plain autoencoder's encoder returns one code per image.",
              "no z_mean / z_log_var here (that is lesson 02): end with a single Dense(latent_dim).")
    codes = _numpy(out, "the encoder")
    if codes.shape != (32, latent_dim):
        _fail(f"for 32 images the encoder returned shape {codes.shape}; expected (32, {latent_dim}).",
              f"the last layer should be layers.Dense({latent_dim}) (one number per latent dimension).")
    _check_linear_and_varied(codes, "encoder", "code", "image",
                             "leave the last Dense layer linear (no activation) so that codes can be negative.")
    _passed(f"build_encoder({latent_dim}): images {IMAGE_SHAPE} -> codes ({latent_dim},), "
            f"{encoder.count_params():,} weights")


def check_decoder(build_decoder: Callable, latent_dim: int = 2, seed: int = 0) -> None:
    """``build_decoder(latent_dim)`` -> model mapping codes (latent_dim,) to logits (28, 28, 1)."""
    __tracebackhide__ = True
    decoder = _check_built_model(build_decoder, "build_decoder", latent_dim)
    shapes = _input_shapes(decoder)
    if shapes != [(latent_dim,)]:
        _fail(f"the decoder's inputs have shapes {shapes}; expected one input of shape ({latent_dim},).",
              "start from keras.Input(shape=(latent_dim,)).")
    z = _rng(seed).normal(size=(32, latent_dim)).astype(np.float32)
    logits = _numpy(_call(decoder, "the decoder on 32 codes", z), "the decoder")
    if logits.shape in {(32, 784), (32, 28, 28)}:
        _fail(f"the decoder returns shape {logits.shape}; expected (32, 28, 28, 1).",
              "end with layers.Reshape((28, 28, 1)).")
    if logits.shape != (32, *IMAGE_SHAPE):
        _fail(f"for 32 codes the decoder returned shape {logits.shape}; expected (32, 28, 28, 1).")
    _check_linear_and_varied(logits, "decoder", "image", "code",
                             "return logits: leave the last Dense layer linear; the loss and the models apply the sigmoid.")
    _passed(f"build_decoder({latent_dim}): codes ({latent_dim},) -> logits {IMAGE_SHAPE}, "
            f"{decoder.count_params():,} weights")


def _reference_reconstruction(x: np.ndarray, logits: np.ndarray) -> np.ndarray:
    return ops.convert_to_numpy(losses.reconstruction_loss(ops.convert_to_tensor(x), ops.convert_to_tensor(logits)))


def _diagnose_reconstruction(got: np.ndarray, want: np.ndarray, label: str) -> None:
    __tracebackhide__ = True
    n = want.shape[0]
    if got.shape == ():
        _fail(f"{label} returned one number for the whole batch; expected one per image, shape ({n},).",
              "sum over the pixel axes only (axis=(1, 2, 3)), not over the batch axis.")
    if got.shape in {(n, 28, 28, 1), (n, 28, 28), (n, 784)}:
        _fail(f"{label} returned shape {got.shape}: one value per pixel; expected one per image, shape ({n},).",
              "sum the per-pixel cross-entropy over the pixels (axis=(1, 2, 3)).")
    if got.shape != (n,):
        _fail(f"{label} returned shape {got.shape}; expected ({n},), one value per image.")
    if not np.all(np.isfinite(got)):
        _fail(f"{label} returned NaN or infinity for finite logits.",
              "the second argument holds logits (any real number), not probabilities: take the sigmoid "
              "first, or use the stable form max(l, 0) - l * x + log(1 + exp(-|l|)).")
    if _close(got, -want):
        _fail(f"{label} has the wrong sign: it returned {got[:3].round(2)} instead of {want[:3].round(2)}.",
              "the reconstruction error is the NEGATIVE log-likelihood, so it is positive.")
    if _close(got, want / 784):
        _fail(f"{label} averaged over the pixels: got {got[:3].round(3)}, expected {want[:3].round(1)}.",
              "sum over the 784 pixels (ops.sum), do not average: the course measures nats per image.")
    if not _close(got, want, rtol=1e-3, atol=1e-2):
        _fail(f"{label} returned {got[:3].round(2)}, expected {want[:3].round(2)}.",
              "per pixel the error is -[x log(sigmoid(l)) + (1 - x) log(1 - sigmoid(l))]; sum it over pixels.")


def check_reconstruction_error(reconstruction_error: Callable, batch: int = 4, seed: int = 0,
                               scale: float = 3.0) -> None:
    """``reconstruction_error(x, logits)`` -> Bernoulli negative log-likelihood per image, summed over pixels."""
    __tracebackhide__ = True
    x = _random_images(batch, seed)
    logits = (_rng(seed + 1).normal(size=x.shape) * scale).astype(np.float32)
    label = f"reconstruction_error(x, logits) for {batch} images"
    got = _numpy(_call(reconstruction_error, label, ops.convert_to_tensor(x), ops.convert_to_tensor(logits)), label)
    want = _reference_reconstruction(x, logits)
    _diagnose_reconstruction(got, want, label)
    perfect = _numpy(_call(reconstruction_error, label, ops.convert_to_tensor(np.round(x)),
                           ops.convert_to_tensor((np.round(x) * 2 - 1) * 30.0)), label)
    if not np.all(perfect < 1e-3 * 784):
        _fail(f"{label} is {perfect.max():.3g} for a near-perfect reconstruction; expected about 0.",
              "check the formula: confident, correct logits should cost almost nothing.")
    _passed(f"reconstruction_error: {batch} images, e.g. {want[0]:.1f} nats for the first one")


def check_worst_reconstructions(worst_reconstructions: Callable, k: int = 5, n: int = 40, seed: int = 0,
                                latent_dim: int = 2) -> None:
    """``worst_reconstructions(autoencoder, images, k)`` -> indices of the k worst-reconstructed images."""
    __tracebackhide__ = True
    settings.seed_everything(seed)
    autoencoder = models.build_autoencoder(latent_dim)
    images = _random_images(n, seed)
    with _quiet():
        errors = _reference_reconstruction(images, ops.convert_to_numpy(autoencoder(images)))
    want = np.argsort(-errors, kind="stable")[:k]
    label = f"worst_reconstructions(autoencoder, images, k={k}) on {n} images"
    got = _numpy(_call(worst_reconstructions, label, autoencoder, images, k), label)
    if got.ndim == 4 or got.shape[1:] == IMAGE_SHAPE:
        _fail(f"{label} returned images (shape {got.shape}); expected their indices, shape ({k},).",
              "return np.argsort(...) positions, not the images themselves.")
    if got.shape != (k,):
        _fail(f"{label} returned shape {got.shape}; expected ({k},): the indices of the k worst images.")
    if not np.all(got == np.round(got)):
        _fail(f"{label} returned non-integer values {got[:3]}; expected indices into `images`.")
    got = got.astype(int)
    best = np.argsort(errors, kind="stable")[:k]
    if set(got) == set(best):
        _fail(f"{label} returned the {k} BEST-reconstructed images.",
              "sort by decreasing error: np.argsort(-errors) or np.argsort(errors)[::-1].")
    if set(got) != set(want):
        _fail(f"{label} returned {got.tolist()}, expected {want.tolist()}.",
              "compute one reconstruction error per image (the autoencoder returns logits), then take "
              "the k largest.")
    if not np.array_equal(got, want):
        _fail(f"{label} returned the right images in the wrong order: {got.tolist()} instead of {want.tolist()}.",
              "put the worst one first (decreasing error).")
    _passed(f"worst_reconstructions: the {k} worst of {n} images, worst first")


def check_autoencoder_learned(autoencoder: keras.Model, images: np.ndarray, max_error: float = 300.0) -> None:
    """The trained autoencoder beats a grey guess (784 ln 2 = 543 nats) by a wide margin: a sanity check that
    encoder and decoder train together, loose enough for small architectures and fast mode's two epochs."""
    __tracebackhide__ = True
    with _quiet():
        logits = autoencoder.predict(images, verbose=0)
    error = float(np.mean(_reference_reconstruction(images, logits)))
    grey = 784 * np.log(2.0)
    if not np.isfinite(error) or error > max_error:
        _fail(f"the trained autoencoder's mean reconstruction error is {error:.1f} nats per image; expected "
              f"below {max_error:.0f} (a grey image costs {grey:.0f}).",
              "check build_encoder and build_decoder (linear code layer, logits out), then rerun the training.")
    _passed(f"the autoencoder learned: {error:.1f} nats per image (a grey guess costs {grey:.0f})")


# ------------------------------------------------------------------------------------ lesson 02
def _draw(layer, mu: np.ndarray, log_var: np.ndarray, label: str) -> np.ndarray:
    __tracebackhide__ = True
    z = _call(layer, label, [ops.convert_to_tensor(mu), ops.convert_to_tensor(log_var)])
    return _numpy(z, label)


def check_sampling(sampling_class: type, seed: int = 0, latent_dim: int = 2, n: int = 20000) -> None:
    """``Sampling(seed)`` layer: z = mu + exp(0.5 * log_var) * eps, repeatable with a seed, differentiable."""
    __tracebackhide__ = True
    if not (isinstance(sampling_class, type) and issubclass(sampling_class, keras.layers.Layer)):
        _fail(f"Sampling is {sampling_class!r}; expected a subclass of keras.layers.Layer.",
              "write `class Sampling(keras.layers.Layer):` with __init__(self, seed=None, **kwargs) and call.")
    try:
        layer = _call(sampling_class, f"Sampling(seed={seed})", seed=seed)
    except TypeError as err:
        _fail(f"Sampling(seed={seed}) failed: {err}.",
              "accept a seed: def __init__(self, seed=None, **kwargs): super().__init__(**kwargs) ...")
    rng = _rng(seed)
    mu_row = rng.uniform(-2, 2, size=latent_dim).astype(np.float32)
    log_var_row = rng.uniform(-1.5, 1.0, size=latent_dim).astype(np.float32)
    mu = np.tile(mu_row, (n, 1))
    log_var = np.tile(log_var_row, (n, 1))
    label = f"Sampling()([z_mean, z_log_var]) with shape ({n}, {latent_dim})"
    z = _draw(layer, mu, log_var, label)
    if z.shape != mu.shape:
        _fail(f"{label} returned shape {z.shape}; expected {mu.shape}, the shape of z_mean.",
              "draw eps with keras.random.normal(ops.shape(z_mean), seed=...).")
    mean, std = z.mean(axis=0), z.std(axis=0)
    sigma = np.exp(0.5 * log_var_row)
    if np.all(std < 1e-6):
        _fail(f"{label} returned z without noise (std 0).", "z = z_mean + sigma * eps with eps ~ N(0, 1).")
    if not np.allclose(mean, mu_row, atol=0.1 + 4 * sigma / np.sqrt(n)):
        hint = ("you forgot to add z_mean." if np.allclose(mean, 0, atol=0.1)
                else "z = z_mean + exp(0.5 * z_log_var) * eps.")
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
        _fail("two calls of the same layer returned the same z: eps is not redrawn.",
              "draw eps inside call() with a keras.random.SeedGenerator, not once in __init__.")
    twin = _call(sampling_class, f"Sampling(seed={seed})", seed=seed)
    if not np.allclose(_draw(twin, mu[:8], log_var[:8], label), z[:8], atol=1e-5):
        _fail(f"two Sampling(seed={seed}) layers gave different draws ({_RNG_NOT_SEEDED}).",
              "keep self.seed_generator = keras.random.SeedGenerator(seed) and pass seed=self.seed_generator "
              "to keras.random.normal.")
    mu_t, lv_t = tf.Variable(mu[:8]), tf.Variable(log_var[:8])
    with tf.GradientTape() as tape, _quiet():
        total = ops.sum(_call(layer, label, [mu_t, lv_t]))
    grad_mu, grad_lv = tape.gradient(total, [mu_t, lv_t])
    if grad_mu is None or grad_lv is None:
        _fail("no gradient flows from z back to z_mean and z_log_var.",
              "compute z with keras.ops (ops.exp, +, *) on the inputs; NumPy breaks the gradient path.")
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
        _fail(f"{label}: the KL term has shape {got.shape}; expected a single number (the batch mean).",
              "sum over the latent axis, then average over the batch (ops.mean).")
    if not np.all(np.isfinite(got)):
        _fail(f"{label} returned NaN or infinity.", "the variance is exp(z_log_var); no log of z_log_var.")
    wrong = {
        "the sign is wrong: a KL divergence is never negative; KL = -0.5 * sum(1 + log_var - mu^2 - exp(log_var))":
            -want,
        "you forgot the 0.5 (or the 1/2): KL = -0.5 * sum(...)": 2 * want,
        "you averaged over the latent dimensions; sum over them": want / d,
        "the variance is exp(z_log_var), not z_log_var": -0.5 * np.sum(1 + log_var - mu**2 - log_var, axis=-1),
        "square the mean: the term is z_mean ** 2": -0.5 * np.sum(1 + log_var - mu - np.exp(log_var), axis=-1),
        "the 1 inside the sum is missing: KL = -0.5 * sum(1 + log_var - mu^2 - exp(log_var))":
            -0.5 * np.sum(log_var - mu**2 - np.exp(log_var), axis=-1),
    }
    if _close(got, want, rtol=1e-3, atol=1e-3):
        return
    for hint, value in wrong.items():
        value = np.asarray(value if per_image else np.mean(value))
        if _close(got, value, rtol=1e-3, atol=1e-3):
            _fail(f"{label} returned {np.round(got, 3).ravel()[:3]}, expected {np.round(want, 3).ravel()[:3]}.", hint)
    _fail(f"{label} returned {np.round(got, 3).ravel()[:3]}, expected {np.round(want, 3).ravel()[:3]}.",
          "KL(N(mu, sigma^2) || N(0, 1)) = -0.5 * sum over dimensions of (1 + log_var - mu^2 - exp(log_var)).")


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
    _passed(f"kl_divergence: {batch} images, {latent_dim} latent dimensions, "
            f"e.g. {_reference_kl(mu, log_var)[0]:.3f} nats for the first one")


def check_elbo_terms(elbo_terms: Callable, batch: int = 8, latent_dim: int = 2, seed: int = 0) -> None:
    """``elbo_terms(x, logits, z_mean, z_log_var)`` -> (reconstruction, kl), each a batch mean in nats per image."""
    __tracebackhide__ = True
    x = _random_images(batch, seed)
    logits = (_rng(seed + 1).normal(size=x.shape) * 3).astype(np.float32)
    mu, log_var = _latent_batch(batch, latent_dim, seed + 2)
    label = f"elbo_terms(x, logits, z_mean, z_log_var) for {batch} images"
    args = [ops.convert_to_tensor(a) for a in (x, logits, mu, log_var)]
    out = _call(elbo_terms, label, *args)
    if not isinstance(out, (list, tuple)) or len(out) != 2:
        _fail(f"{label} returned {type(out).__name__}; expected a pair (reconstruction, kl).",
              "return reconstruction, kl (two numbers); the model adds them up and reports both.")
    rec = _numpy(out[0], label + " (reconstruction)")
    kl = _numpy(out[1], label + " (kl)")
    want_rec = np.asarray(_reference_reconstruction(x, logits).mean())
    if rec.shape != ():
        hint = ("average the per-image errors over the batch with ops.mean." if rec.shape == (batch,)
                else "sum over pixels per image, then average over the batch.")
        _fail(f"{label}: the reconstruction term has shape {rec.shape}; expected a single number.", hint)
    if _close(rec, want_rec / 784):
        _fail(f"{label}: reconstruction {float(rec):.3f} is the per-pixel average; expected {float(want_rec):.1f}.",
              "sum over the 784 pixels before averaging over the batch; averaging over pixels makes the KL "
              "784 times too strong and the VAE collapses.")
    if _close(rec, -want_rec):
        _fail(f"{label}: reconstruction {float(rec):.1f} is negative; expected {float(want_rec):.1f}.",
              "the reconstruction term is a negative log-likelihood: positive.")
    if not _close(rec, want_rec, rtol=1e-3, atol=1e-2):
        _fail(f"{label}: reconstruction {float(rec):.2f}, expected {float(want_rec):.2f}.",
              "use the per-image reconstruction error of lesson 01 (losses.reconstruction_loss), then ops.mean.")
    _diagnose_kl(kl, mu, log_var, label, per_image=False)
    _graph_mode(lambda *a: elbo_terms(*a)[0] + elbo_terms(*a)[1], "elbo_terms", x, logits, mu, log_var)
    _passed(f"elbo_terms: reconstruction {float(want_rec):.1f} + KL {float(kl):.2f} nats per image")


class _Spy:
    """Stands in for an encoder or decoder: records what it is given, answers like a reference model."""

    def __init__(self, model: keras.Model):
        self.model = model
        self.calls: list[list[np.ndarray]] = []

    def _record(self, inputs):
        parts = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        self.calls.append([np.asarray(ops.convert_to_numpy(p), dtype=np.float32) for p in parts])
        return self.calls[-1]

    def _run(self, parts, raw):
        kinds = {isinstance(p, np.ndarray) for p in raw}
        if len(kinds) > 1:
            _fail("the model was called with a mix of NumPy arrays and tensors; a Keras model refuses that.",
                  "make every input a tensor (ops.one_hot(...), ops.convert_to_tensor(images)) or every input "
                  "a NumPy array (data.one_hot(...), ops.convert_to_numpy(z)).")
        expected = len(self.model.inputs)
        if len(parts) != expected:
            names = ", ".join(t.name for t in self.model.inputs)
            _fail(f"the model was called with {len(parts)} input(s); it takes {expected}: [{names}].",
                  "pass a list, e.g. decoder([z, labels_one_hot]).")
        for part, t in zip(parts, self.model.inputs):
            if tuple(part.shape[1:]) != tuple(t.shape[1:]):
                hint = ("labels go in as one-hot rows: ops.one_hot(labels, 10) or data.one_hot(labels)."
                        if t.shape[-1] == NUM_CLASSES else None)
                _fail(f"the model's input '{t.name}' got shape {part.shape}; expected (n, "
                      f"{', '.join(str(d) for d in t.shape[1:])}).", hint)
        return self.model(parts if len(parts) > 1 else parts[0], training=False)

    def __call__(self, inputs, training=False):
        raw = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        return self._run(self._record(inputs), raw)

    def predict(self, inputs, verbose=0, **kwargs):
        out = self._run(self._record(inputs), [])
        return [ops.convert_to_numpy(o) for o in out] if isinstance(out, (list, tuple)) else ops.convert_to_numpy(out)


def _reference_decoder(latent_dim: int, seed: int, conditional: bool = False) -> keras.Model:
    settings.seed_everything(seed)
    return models.build_decoder(latent_dim, conditional=conditional, hidden=(32,))


def _check_images(got: np.ndarray, logits: np.ndarray, n: int, label: str) -> None:
    __tracebackhide__ = True
    if got.shape in {(n, 784), (n, 28, 28)}:
        _fail(f"{label} returned shape {got.shape}; expected (n, 28, 28, 1) = ({n}, 28, 28, 1).",
              "return the decoder's output shape unchanged.")
    if got.shape != (n, *IMAGE_SHAPE):
        _fail(f"{label} returned shape {got.shape}; expected ({n}, 28, 28, 1).")
    probs = models.sigmoid(logits)
    if _close(got, logits, atol=1e-4):
        _fail(f"{label} returned logits (values from {got.min():.1f} to {got.max():.1f}); expected pixel "
              "probabilities in [0, 1].", "the decoder returns logits: apply keras.ops.sigmoid to them.")
    if not _close(got, probs, atol=1e-4):
        _fail(f"{label} returned images that are not sigmoid(decoder(...)) of the codes it decoded.",
              "return keras.ops.sigmoid(decoder(...)) for the codes you drew, without other changes.")


def _check_prior_codes(z: np.ndarray, n: int, latent_dim: int, label: str) -> None:
    __tracebackhide__ = True
    if z.shape != (n, latent_dim):
        _fail(f"{label} passed codes of shape {z.shape} to the decoder; expected ({n}, {latent_dim}).",
              "draw one code of latent_dim numbers per image.")
    if np.allclose(z, 0.0):
        _fail(f"{label} decoded only zero codes.", "draw the codes from the prior N(0, I): keras.random.normal.")
    if n >= 500 and (abs(z.mean()) > 0.15 or not 0.85 < z.std() < 1.15):
        _fail(f"{label}: the codes have mean {z.mean():.2f} and spread {z.std():.2f}; the prior N(0, I) has 0 and 1.",
              "use keras.random.normal((n, latent_dim), seed=seed) (standard normal, not uniform).")


def _decoded_calls(spy: _Spy, label: str) -> tuple[np.ndarray, ...]:
    __tracebackhide__ = True
    if not spy.calls:
        _fail(f"{label} never called the decoder.", "decode the codes with decoder(...) or decoder.predict(...).")
    return tuple(np.concatenate([c[i] for c in spy.calls]) for i in range(len(spy.calls[0])))


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
        _fail(f"two calls with seed={seed} gave different images ({_RNG_NOT_SEEDED}).",
              "pass the seed on: keras.random.normal(..., seed=seed).")
    other = _numpy(_call(sample_images, label, _Spy(spy.model), n, latent_dim, seed + 1), label)
    if np.allclose(other, got):
        _fail(f"seed={seed} and seed={seed + 1} gave the same images.", "use the seed argument to draw the codes.")
    _passed(f"sample_images: {n} images from codes drawn from N(0, I), repeatable with a seed")


def check_vae_trained(history: keras.callbacks.History) -> None:
    """The VAE trained on the learner's loss: the negative ELBO went down and the KL is positive."""
    __tracebackhide__ = True
    logs = history.history
    if not logs.get("loss"):
        _fail("the training history is empty.", "run the training cell above first.")
    loss, kl = logs["loss"], logs.get("kl", [float("nan")])
    if not (np.isfinite(loss[-1]) and np.isfinite(kl[-1])):
        _fail(f"the training ended with loss {loss[-1]} and KL {kl[-1]}.", "check your loss terms for NaN.")
    if not loss[-1] < 543.0:
        _fail(f"the negative ELBO is {loss[-1]:.1f} nats per image after training; a grey guess costs 543.",
              "check elbo_terms (sum over pixels, average over the batch).")
    if not kl[-1] > 0.0:
        _fail(f"the KL term is {kl[-1]:.3f} after training: the codes carry no information.",
              "check the sign and the terms of kl_divergence.")
    _passed(f"the VAE trained: negative ELBO {loss[-1]:.1f} = reconstruction {logs['reconstruction'][-1]:.1f} "
            f"+ KL {kl[-1]:.1f} nats per image")


# ------------------------------------------------------------------------------------ lesson 03
def _labels(n: int, seed: int) -> np.ndarray:
    return _rng(seed).integers(0, NUM_CLASSES, size=n)


def _check_label_matters(model: keras.Model, first: np.ndarray, name: str) -> None:
    __tracebackhide__ = True
    y1, y2 = one_hot(_labels(len(first), 1)), one_hot((_labels(len(first), 1) + 3) % NUM_CLASSES)
    out1 = _call(model, f"the {name}", [first, y1])
    out2 = _call(model, f"the {name}", [first, y2])
    out1 = out1 if isinstance(out1, (list, tuple)) else [out1]
    out2 = out2 if isinstance(out2, (list, tuple)) else [out2]
    if all(np.allclose(_numpy(a, name), _numpy(b, name)) for a, b in zip(out1, out2)):
        _fail(f"the {name}'s output does not change when the label changes: the label is not used.",
              "concatenate the one-hot label with the other input: layers.Concatenate()([h, label]).")


def check_conditional_encoder(build_encoder: Callable, latent_dim: int = 2, seed: int = 0) -> None:
    """``build_conditional_encoder(latent_dim)`` -> model [image, one-hot label] -> [z_mean, z_log_var]."""
    __tracebackhide__ = True
    encoder = _check_built_model(build_encoder, "build_conditional_encoder", latent_dim)
    shapes = _input_shapes(encoder)
    if shapes == [(NUM_CLASSES,), IMAGE_SHAPE]:
        _fail(f"the encoder's inputs are [label, image]; expected [image, label].",
              "keras.Model([image, label], [z_mean, z_log_var]).")
    if shapes != [IMAGE_SHAPE, (NUM_CLASSES,)]:
        _fail(f"the encoder's inputs have shapes {shapes}; expected [{IMAGE_SHAPE}, ({NUM_CLASSES},)]: "
              "the image and its one-hot label.", "keras.Model([image, label], [z_mean, z_log_var]).")
    images = _random_images(16, seed)
    out = _call(encoder, "the encoder", [images, one_hot(_labels(16, seed))])
    if not isinstance(out, (list, tuple)) or len(out) != 2:
        _fail("the encoder should return two outputs, [z_mean, z_log_var].",
              "two Dense(latent_dim) heads on the same hidden layer.")
    for name, t in zip(("z_mean", "z_log_var"), out):
        if _numpy(t, name).shape != (16, latent_dim):
            _fail(f"{name} has shape {_numpy(t, name).shape} for 16 images; expected (16, {latent_dim}).",
                  f"end each head with layers.Dense({latent_dim}) and no activation.")
    if _numpy(out[1], "z_log_var").min() >= 0.0:
        _fail("z_log_var is never negative: its layer has an activation.",
              "a log-variance can be any real number: leave the z_log_var layer linear.")
    _check_label_matters(encoder, images, "encoder")
    _passed(f"build_conditional_encoder({latent_dim}): [image, label] -> z_mean, z_log_var ({latent_dim},); "
            "the label is used")


def check_conditional_decoder(build_decoder: Callable, latent_dim: int = 2, seed: int = 0) -> None:
    """``build_conditional_decoder(latent_dim)`` -> model [z, one-hot label] -> logits (28, 28, 1)."""
    __tracebackhide__ = True
    decoder = _check_built_model(build_decoder, "build_conditional_decoder", latent_dim)
    shapes = _input_shapes(decoder)
    if shapes != [(latent_dim,), (NUM_CLASSES,)]:
        _fail(f"the decoder's inputs have shapes {shapes}; expected [({latent_dim},), ({NUM_CLASSES},)]: "
              "the code z and the one-hot label.", "keras.Model([z, label], logits).")
    z = _rng(seed).normal(size=(16, latent_dim)).astype(np.float32)
    logits = _numpy(_call(decoder, "the decoder", [z, one_hot(_labels(16, seed))]), "the decoder")
    if logits.shape != (16, *IMAGE_SHAPE):
        _fail(f"for 16 codes the decoder returned shape {logits.shape}; expected (16, 28, 28, 1).",
              "end with layers.Dense(784) and layers.Reshape((28, 28, 1)).")
    if logits.min() >= 0.0:
        _fail("every output is >= 0: the decoder ends with an activation.", "return logits (linear last layer).")
    _check_label_matters(decoder, z, "decoder")
    _passed(f"build_conditional_decoder({latent_dim}): [z, label] -> logits {IMAGE_SHAPE}; the label is used")


def _check_one_hot_labels(y: np.ndarray, want: np.ndarray, label: str, role: str) -> None:
    __tracebackhide__ = True
    if not np.allclose(y, one_hot(want)):
        got = np.argmax(y, axis=1) if y.ndim == 2 else y
        _fail(f"{label} gave the {role} the labels {np.unique(got).tolist()}; expected "
              f"{np.unique(want).tolist()}.", "build one one-hot row per image for the right digit: "
              "data.one_hot(labels) or keras.ops.one_hot(labels, 10).")


def check_generate_digit(generate_digit: Callable, digit: int = 7, n: int = 600, latent_dim: int = 2,
                         seed: int = 0) -> None:
    """``generate_digit(decoder, digit, n, latent_dim, seed)`` -> n images of ``digit`` from a conditional decoder."""
    __tracebackhide__ = True
    spy = _Spy(_reference_decoder(latent_dim, seed, conditional=True))
    label = f"generate_digit(decoder, digit={digit}, n={n}, latent_dim={latent_dim}, seed={seed})"
    got = _numpy(_call(generate_digit, label, spy, digit, n, latent_dim, seed), label)
    z, y = _decoded_calls(spy, label)
    _check_prior_codes(z, n, latent_dim, label)
    _check_one_hot_labels(y, np.full(n, digit), label, "decoder")
    _check_images(got, ops.convert_to_numpy(spy.model([z, y])), n, label)
    again = _numpy(_call(generate_digit, label, _Spy(spy.model), digit, n, latent_dim, seed), label)
    if not np.allclose(again, got):
        _fail(f"two calls with seed={seed} gave different images ({_RNG_NOT_SEEDED}).",
              "pass the seed on: keras.random.normal(..., seed=seed).")
    _passed(f"generate_digit: {n} codes from N(0, I), each decoded with the label {digit}")


def _reference_encoder(latent_dim: int, seed: int) -> keras.Model:
    settings.seed_everything(seed)
    return models.build_encoder(latent_dim, conditional=True, hidden=(32,))


def check_style_transfer(style_transfer: Callable, new_label: int = 3, n: int = 6, latent_dim: int = 2,
                         seed: int = 0) -> None:
    """``style_transfer(encoder, decoder, images, labels, new_label)``: same code (the style), other label."""
    __tracebackhide__ = True
    encoder = _Spy(_reference_encoder(latent_dim, seed))
    decoder = _Spy(_reference_decoder(latent_dim, seed + 1, conditional=True))
    images, labels = _random_images(n, seed), _labels(n, seed + 2)
    label = f"style_transfer(encoder, decoder, images, labels, new_label={new_label}) for {n} images"
    got = _numpy(_call(style_transfer, label, encoder, decoder, images, labels, new_label), label)
    if not encoder.calls:
        _fail(f"{label} never called the encoder.", "encode each image with its own label to get its style z.")
    x_in, y_in = _decoded_calls(encoder, label)
    if not np.allclose(x_in, images):
        _fail(f"{label} did not pass the images themselves to the encoder.")
    if np.allclose(y_in, one_hot(np.full(n, new_label))) and not np.all(labels == new_label):
        _fail(f"{label} gave the encoder the NEW label.",
              "encode with each image's own label: z then holds what the label does not explain (the style).")
    _check_one_hot_labels(y_in, labels, label, "encoder")
    z_mean, z_log_var = (ops.convert_to_numpy(t) for t in encoder.model([images, one_hot(labels)]))
    z, y_out = _decoded_calls(decoder, label)
    _check_one_hot_labels(y_out, np.full(n, new_label), label, "decoder")
    if z.shape != z_mean.shape:
        _fail(f"{label} decoded codes of shape {z.shape}; expected {z_mean.shape}, one code per image.")
    if not np.allclose(z, z_mean, atol=1e-4):
        hint = ("you decoded z_log_var: take the first output, z_mean."
                if np.allclose(z, z_log_var, atol=1e-4) else
                "decode the mean code z_mean (no sampling), so the transfer keeps exactly the same style.")
        _fail(f"{label} decoded codes that are not the encoder's z_mean.", hint)
    _check_images(got, ops.convert_to_numpy(decoder.model([z, y_out])), n, label)
    _passed(f"style_transfer: {n} images encoded with their own labels, decoded as {new_label}s")


def check_interpolate(interpolate: Callable, steps: int = 5, latent_dim: int = 2, seed: int = 0) -> None:
    """``interpolate(z_start, z_end, steps)`` -> (steps, latent_dim) codes evenly spaced from start to end."""
    __tracebackhide__ = True
    rng = _rng(seed)
    start, end = rng.normal(size=latent_dim).astype(np.float32), rng.normal(size=latent_dim).astype(np.float32)
    label = f"interpolate(z_start, z_end, steps={steps}) in {latent_dim} dimensions"
    got = _numpy(_call(interpolate, label, start, end, steps), label)
    want = np.linspace(start, end, steps)
    if got.shape == (latent_dim, steps) and latent_dim != steps:
        _fail(f"{label} returned shape {got.shape}; expected ({steps}, {latent_dim}): one code per row.",
              "transpose, or build the rows as z_start + t * (z_end - z_start) for t in np.linspace(0, 1, steps).")
    if got.shape != want.shape:
        _fail(f"{label} returned shape {got.shape}; expected {want.shape}: {steps} codes including both ends.")
    if not np.allclose(got[0], start, atol=1e-5) or not np.allclose(got[-1], end, atol=1e-5):
        hint = ("you went from z_end to z_start; reverse the order." if np.allclose(got, want[::-1], atol=1e-5)
                else "the first row must be z_start and the last z_end (np.linspace includes both ends).")
        _fail(f"{label} starts at {got[0].round(3)} and ends at {got[-1].round(3)}; expected "
              f"{start.round(3)} and {end.round(3)}.", hint)
    if not np.allclose(got, want, atol=1e-4):
        _fail(f"{label}: the codes are not evenly spaced on the straight line from z_start to z_end.",
              "z_start + t * (z_end - z_start) for t in np.linspace(0, 1, steps).")
    _passed(f"interpolate: {steps} evenly spaced codes from z_start to z_end")
