"""Checks of the lesson 01 exercises (autoencoder): encoder, decoder, reconstruction error, training,
worst reconstructions.

Each ``check_*`` is called by a test cell of ``solutions/`` and ``exercises/`` (re-exported by
:mod:`cvae_course.checks`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cvae_course import losses, models, settings
from cvae_course._keras import keras, ops
from cvae_course.checks.harness import (
    _MSE_HINT,
    _call,
    _check_built_model,
    _close,
    _course_versions,
    _fail,
    _input_shapes,
    _is_squared_error,
    _last_line,
    _numpy,
    _passed,
    _quiet,
    _random_images,
    _reference_reconstruction,
    _requires,
    _rng,
    _some,
)
from cvae_course.validation import IMAGE_SHAPE

__all__ = [
    "check_encoder",
    "check_decoder",
    "check_reconstruction_error",
    "check_worst_reconstructions",
    "check_autoencoder_learned",
]
# The function or class each task of the exercise asks for (messages say "kl_divergence (task 2)").
TASKS = {
    "build_encoder": "task 1",
    "build_decoder": "task 2",
    "reconstruction_error": "task 3",
    "worst_reconstructions": "task 4",
}


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
        hint = (
            "take images of shape (28, 28, 1) and flatten them inside the model with layers.Flatten()."
            if shapes[0] == (784,)
            else "use keras.Input(shape=(28, 28, 1))."
        )
        _fail(f"the encoder's input has shape {shapes[0]}; expected images of shape {IMAGE_SHAPE}.", hint)
    images = _random_images(32, seed)
    out = _call(encoder, "the encoder on a batch of 32 images", images)
    if isinstance(out, (list, tuple)):
        _fail(
            f"the encoder returns {len(out)} outputs; a plain autoencoder's encoder returns one code per image.",
            "no z_mean / z_log_var here (that is lesson 02): end with a single Dense(latent_dim).",
        )
    codes = _numpy(out, "the encoder")
    if codes.shape != (32, latent_dim):
        _fail(
            f"for 32 images and latent_dim={latent_dim} the encoder returned shape {codes.shape}; expected "
            f"(32, {latent_dim}).",
            "end with layers.Dense(latent_dim): one number per latent dimension, for "
            "whatever latent_dim the function is given.",
        )
    _check_linear_and_varied(
        codes,
        "encoder",
        "code",
        "image",
        "leave the last Dense layer linear (no activation) so that codes can be negative.",
    )
    _passed(
        f"build_encoder({latent_dim}): images {IMAGE_SHAPE} -> codes ({latent_dim},), "
        f"{encoder.count_params():,} weights"
    )


def check_decoder(build_decoder: Callable, latent_dim: int = 2, seed: int = 0) -> None:
    """``build_decoder(latent_dim)`` -> model mapping codes (latent_dim,) to logits (28, 28, 1)."""
    __tracebackhide__ = True
    decoder = _check_built_model(build_decoder, "build_decoder", latent_dim)
    shapes = _input_shapes(decoder)
    if shapes != [(latent_dim,)]:
        _fail(
            f"the decoder's inputs have shapes {shapes}; expected one input of shape ({latent_dim},).",
            "start from keras.Input(shape=(latent_dim,)).",
        )
    z = _rng(seed).normal(size=(32, latent_dim)).astype(np.float32)
    logits = _numpy(_call(decoder, "the decoder on 32 codes", z), "the decoder")
    if logits.shape in {(32, 784), (32, 28, 28)}:
        _fail(
            f"the decoder returns shape {logits.shape}; expected (32, 28, 28, 1).",
            "end with layers.Reshape((28, 28, 1)).",
        )
    if logits.shape != (32, *IMAGE_SHAPE):
        _fail(f"for 32 codes the decoder returned shape {logits.shape}; expected (32, 28, 28, 1).")
    _check_linear_and_varied(
        logits,
        "decoder",
        "image",
        "code",
        "return logits: leave the last Dense layer linear; the loss and the models apply the sigmoid.",
    )
    _passed(
        f"build_decoder({latent_dim}): codes ({latent_dim},) -> logits {IMAGE_SHAPE}, "
        f"{decoder.count_params():,} weights"
    )


def _diagnose_reconstruction(
    got: np.ndarray, want: np.ndarray, label: str, x: np.ndarray | None = None, logits: np.ndarray | None = None
) -> None:
    __tracebackhide__ = True
    n = want.shape[0]
    if got.shape == ():
        _fail(
            f"{label} returned one number for the whole batch; expected one per image, shape ({n},).",
            "sum over the pixel axes only (axis=(1, 2, 3)), not over the batch axis.",
        )
    if got.shape in {(n, 28, 28, 1), (n, 28, 28), (n, 784)}:
        _fail(
            f"{label} returned shape {got.shape}: one value per pixel; expected one per image, shape ({n},).",
            "sum the per-pixel cross-entropy over the pixels (axis=(1, 2, 3)).",
        )
    if got.shape != (n,):
        _fail(f"{label} returned shape {got.shape}; expected ({n},), one value per image.")
    if x is not None and _is_squared_error(got, x, logits):
        _fail(
            f"{label} returned {_some(got, 2)}, the squared error between the images and the "
            f"reconstructions; expected {_some(want, 2)}.",
            _MSE_HINT,
        )
    if not np.all(np.isfinite(got)):
        _fail(
            f"{label} returned NaN or infinity for finite logits.",
            "the second argument holds logits (any real number), not probabilities: take the sigmoid "
            "first, or use the stable form max(l, 0) - l * x + log(1 + exp(-|l|)).",
        )
    if _close(got, -want):
        _fail(
            f"{label} has the wrong sign: it returned {_some(got, 2)} instead of {_some(want, 2)}.",
            "the reconstruction error is the NEGATIVE log-likelihood, so it is positive.",
        )
    if _close(got, want / 784):
        _fail(
            f"{label} averaged over the pixels: got {_some(got, 3)}, expected {_some(want, 1)}.",
            "sum over the 784 pixels (ops.sum), do not average: the course measures nats per image.",
        )
    if not _close(got, want, rtol=1e-3, atol=1e-2):
        _fail(
            f"{label} returned {_some(got, 2)}, expected {_some(want, 2)}.",
            "per pixel the error is -[x log(sigmoid(l)) + (1 - x) log(1 - sigmoid(l))]; sum it over pixels.",
        )


def check_reconstruction_error(
    reconstruction_error: Callable, batch: int = 4, seed: int = 0, scale: float = 3.0
) -> None:
    """``reconstruction_error(x, logits)`` -> Bernoulli negative log-likelihood per image, summed over pixels."""
    __tracebackhide__ = True
    x = _random_images(batch, seed)
    logits = (_rng(seed + 1).normal(size=x.shape) * scale).astype(np.float32)
    label = f"reconstruction_error(x, logits) for {batch} images"
    got = _numpy(_call(reconstruction_error, label, ops.convert_to_tensor(x), ops.convert_to_tensor(logits)), label)
    want = _reference_reconstruction(x, logits)
    _diagnose_reconstruction(got, want, label, x, logits)
    perfect = _numpy(
        _call(
            reconstruction_error,
            label,
            ops.convert_to_tensor(np.round(x)),
            ops.convert_to_tensor((np.round(x) * 2 - 1) * 30.0),
        ),
        label,
    )
    if not np.all(np.isfinite(perfect)):
        _fail(
            f"{label} returned NaN or infinity for confident, correct logits (+-30); expected about 0.",
            "the formula -[x log(sigmoid(l)) + (1 - x) log(1 - sigmoid(l))] is right, but sigmoid(30) rounds to 1 "
            "in float32 and log(1 - 1) = log(0). Compute it from the logits instead: "
            "max(l, 0) - l * x + log(1 + exp(-|l|)) (ops.maximum, ops.abs, ops.log1p, ops.exp).",
        )
    if not np.all(perfect < 1e-3 * 784):
        _fail(
            f"{label} is {perfect.max():.3g} for a near-perfect reconstruction; expected about 0.",
            "check the formula: confident, correct logits should cost almost nothing.",
        )
    _passed(f"reconstruction_error: {batch} images, e.g. {want[0]:.1f} nats for the first one")


def check_worst_reconstructions(
    worst_reconstructions: Callable, k: int = 5, n: int = 40, seed: int = 0, latent_dim: int = 2
) -> None:
    """``worst_reconstructions(autoencoder, images, k)`` -> indices of the k worst-reconstructed images."""
    __tracebackhide__ = True
    settings.seed_everything(seed)
    autoencoder = models.build_autoencoder(latent_dim)
    images = _random_images(n, seed)
    with _quiet():
        errors = _reference_reconstruction(images, ops.convert_to_numpy(autoencoder(images)))
    want = np.argsort(-errors, kind="stable")[:k]
    label = f"worst_reconstructions(autoencoder, images, k={k}) on {n} images"
    # Graded with the course's reconstruction error: a mistake in yours costs task 3, not this one too.
    with _course_versions(worst_reconstructions, reconstruction_error=losses.reconstruction_loss):
        got = _numpy(_call(worst_reconstructions, label, autoencoder, images, k), label)
    if got.ndim == 4 or got.shape[1:] == IMAGE_SHAPE:
        _fail(
            f"{label} returned images (shape {got.shape}); expected their indices, shape ({k},).",
            "return np.argsort(...) positions, not the images themselves.",
        )
    if got.shape != (k,):
        _fail(f"{label} returned shape {got.shape}; expected ({k},): the indices of the k worst images.")
    if not np.all(got == np.round(got)):
        _fail(f"{label} returned non-integer values {_some(got)}; expected indices into `images`.")
    got = got.astype(int)
    best = np.argsort(errors, kind="stable")[:k]
    if set(got) == set(best):
        _fail(
            f"{label} returned the {k} BEST-reconstructed images.",
            "sort by decreasing error: np.argsort(-errors) or np.argsort(errors)[::-1].",
        )
    with _quiet():
        probabilities = models.sigmoid(ops.convert_to_numpy(autoencoder(images)))
        as_logits = _reference_reconstruction(images, probabilities)
    if set(got) != set(want) and set(got) == set(np.argsort(-as_logits, kind="stable")[:k]):
        _fail(
            f"{label} scored the images with probabilities (the sigmoid of the autoencoder's output) where "
            "the reconstruction error wants logits.",
            "pass the autoencoder's output to reconstruction_error as it is: it is already logits.",
        )
    if set(got) != set(want):
        _fail(
            f"{label} returned {got.tolist()}, expected {want.tolist()}.",
            "compute one reconstruction error per image (the autoencoder returns logits), then take the k largest.",
        )
    if not np.array_equal(got, want):
        _fail(
            f"{label} returned the right images in the wrong order: {got.tolist()} instead of {want.tolist()}.",
            "put the worst one first (decreasing error).",
        )
    _passed(f"worst_reconstructions: the {k} worst of {n} images, worst first")


def check_autoencoder_learned(
    autoencoder: keras.Model,
    images: np.ndarray,
    max_error: float = 450.0,
    *,
    build_encoder: Callable | None = None,
    build_decoder: Callable | None = None,
) -> None:
    """The trained autoencoder beats a grey guess (784 ln 2 = 543 nats) clearly: a sanity check that encoder and
    decoder train together.

    ``max_error`` (nats per image) is loose on purpose: the exercise trains for fast mode's two epochs on a small
    slice, where a right convolutional decoder measured 349 nats (it learns more slowly than the dense one), while
    an untrained model costs about 543 and a decoder ending in a sigmoid can never go below about 486 (its outputs,
    read as logits, give every pixel a probability between 0.5 and 0.73).

    When it did not learn and ``build_encoder`` or ``build_decoder`` (the learner's, which it was built from) fails
    its own check, the message names that task at once.
    """
    __tracebackhide__ = True
    grey = 784 * np.log(2.0)
    try:
        with _quiet():
            logits = autoencoder.predict(images, verbose=0)
        error, problem = float(np.mean(_reference_reconstruction(images, logits))), None
    except Exception as err:  # e.g. a decoder that is not a model: say which task, not Keras's traceback
        error, problem = float("nan"), f"the autoencoder cannot run ({type(err).__name__}: {_last_line(err)})"
    if not np.isfinite(error) or error > max_error:
        problem = problem or f"the trained autoencoder's mean reconstruction error is {error:.1f} nats per image"
        if build_encoder is not None:
            _requires(check_encoder, build_encoder, "build_encoder", problem)
        if build_decoder is not None:
            _requires(check_decoder, build_decoder, "build_decoder", problem)
        _fail(
            f"{problem}; expected an error below {max_error:.0f} nats per image (a grey image costs {grey:.0f}).",
            "check build_encoder and build_decoder (linear code layer, logits out), then rerun the training.",
        )
    _passed(f"the autoencoder learned: {error:.1f} nats per image (a grey guess costs {grey:.0f})")
