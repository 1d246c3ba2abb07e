"""Checks of the lesson 03 exercises (CVAE): conditional encoder and decoder, a requested digit, style
transfer, interpolation.

Each ``check_*`` is called by a test cell of ``solutions/`` and ``exercises/`` (re-exported by
:mod:`cvae_course.checks`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cvae_course import models, settings
from cvae_course._keras import keras, ops
from cvae_course.checks.harness import (
    _RNG_NOT_SEEDED,
    _call,
    _check_built_model,
    _check_images,
    _check_prior_codes,
    _decoded_calls,
    _fail,
    _input_shapes,
    _numpy,
    _passed,
    _random_images,
    _reference_decoder,
    _rng,
    _Spy,
)
from cvae_course.data import one_hot
from cvae_course.validation import IMAGE_SHAPE, NUM_CLASSES

__all__ = [
    "check_conditional_encoder",
    "check_conditional_decoder",
    "check_generate_digit",
    "check_style_transfer",
    "check_interpolate",
]
# The function or class each task of the exercise asks for (messages say "kl_divergence (task 2)").
TASKS = {
    "build_conditional_encoder": "task 1",
    "build_conditional_decoder": "task 2",
    "generate_digit": "task 3",
    "style_transfer": "task 4",
    "interpolate": "task 5",
}


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
        _fail(
            f"the {name}'s output does not change when the label changes: the label is not used.",
            "concatenate the one-hot label with the other input: layers.Concatenate()([h, label]).",
        )


def check_conditional_encoder(build_encoder: Callable, latent_dim: int = 2, seed: int = 0) -> None:
    """``build_conditional_encoder(latent_dim)`` -> model [image, one-hot label] -> [z_mean, z_log_var]."""
    __tracebackhide__ = True
    encoder = _check_built_model(build_encoder, "build_conditional_encoder", latent_dim)
    shapes = _input_shapes(encoder)
    if shapes == [(NUM_CLASSES,), IMAGE_SHAPE]:
        _fail(
            "the encoder's inputs are [label, image]; expected [image, label].",
            "keras.Model([image, label], [z_mean, z_log_var]).",
        )
    if shapes != [IMAGE_SHAPE, (NUM_CLASSES,)]:
        _fail(
            f"the encoder's inputs have shapes {shapes}; expected [{IMAGE_SHAPE}, ({NUM_CLASSES},)]: "
            "the image and its one-hot label.",
            "keras.Model([image, label], [z_mean, z_log_var]).",
        )
    images = _random_images(16, seed)
    out = _call(encoder, "the encoder", [images, one_hot(_labels(16, seed))])
    if not isinstance(out, (list, tuple)) or len(out) != 2:
        _fail(
            "the encoder should return two outputs, [z_mean, z_log_var].",
            "two Dense(latent_dim) heads on the same hidden layer.",
        )
    for name, t in zip(("z_mean", "z_log_var"), out):
        if _numpy(t, name).shape != (16, latent_dim):
            _fail(
                f"{name} has shape {_numpy(t, name).shape} for 16 images; expected (16, {latent_dim}).",
                "end each head with layers.Dense(latent_dim) and no activation.",
            )
    if _numpy(out[1], "z_log_var").min() >= 0.0:
        _fail(
            "z_log_var is never negative: its layer has an activation.",
            "a log-variance can be any real number: leave the z_log_var layer linear.",
        )
    _check_label_matters(encoder, images, "encoder")
    _passed(
        f"build_conditional_encoder({latent_dim}): [image, label] -> z_mean, z_log_var ({latent_dim},); "
        "the label is used"
    )


def check_conditional_decoder(build_decoder: Callable, latent_dim: int = 2, seed: int = 0) -> None:
    """``build_conditional_decoder(latent_dim)`` -> model [z, one-hot label] -> logits (28, 28, 1)."""
    __tracebackhide__ = True
    decoder = _check_built_model(build_decoder, "build_conditional_decoder", latent_dim)
    shapes = _input_shapes(decoder)
    if shapes != [(latent_dim,), (NUM_CLASSES,)]:
        _fail(
            f"the decoder's inputs have shapes {shapes}; expected [({latent_dim},), ({NUM_CLASSES},)]: "
            "the code z and the one-hot label.",
            "keras.Model([z, label], logits).",
        )
    z = _rng(seed).normal(size=(16, latent_dim)).astype(np.float32)
    logits = _numpy(_call(decoder, "the decoder", [z, one_hot(_labels(16, seed))]), "the decoder")
    if logits.shape != (16, *IMAGE_SHAPE):
        _fail(
            f"for 16 codes the decoder returned shape {logits.shape}; expected (16, 28, 28, 1).",
            "end with layers.Dense(784) and layers.Reshape((28, 28, 1)).",
        )
    if logits.min() >= 0.0:
        _fail("every output is >= 0: the decoder ends with an activation.", "return logits (linear last layer).")
    _check_label_matters(decoder, z, "decoder")
    _passed(f"build_conditional_decoder({latent_dim}): [z, label] -> logits {IMAGE_SHAPE}; the label is used")


def _check_one_hot_labels(y: np.ndarray, want: np.ndarray, label: str, role: str) -> None:
    __tracebackhide__ = True
    if not np.allclose(y, one_hot(want)):
        got = np.argmax(y, axis=1) if y.ndim == 2 else y
        _fail(
            f"{label} gave the {role} the labels {np.unique(got).tolist()}; expected {np.unique(want).tolist()}.",
            "build one one-hot row per image for the right digit: "
            "data.one_hot(labels) or keras.ops.one_hot(labels, 10).",
        )


def check_generate_digit(
    generate_digit: Callable, digit: int = 7, n: int = 600, latent_dim: int = 2, seed: int = 0
) -> None:
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
        _fail(
            f"two calls with seed={seed} gave different images ({_RNG_NOT_SEEDED}).",
            "pass the seed on: keras.random.normal(..., seed=seed).",
        )
    _passed(f"generate_digit: {n} codes from N(0, I), each decoded with the label {digit}")


def _reference_encoder(latent_dim: int, seed: int) -> keras.Model:
    settings.seed_everything(seed)
    return models.build_encoder(latent_dim, conditional=True, hidden=(32,))


def check_style_transfer(
    style_transfer: Callable, new_label: int = 3, n: int = 6, latent_dim: int = 2, seed: int = 0
) -> None:
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
        _fail(
            f"{label} gave the encoder the NEW label.",
            "encode with each image's own label: z then holds what the label does not explain (the style).",
        )
    _check_one_hot_labels(y_in, labels, label, "encoder")
    z_mean, z_log_var = (ops.convert_to_numpy(t) for t in encoder.model([images, one_hot(labels)]))
    z, y_out = _decoded_calls(decoder, label)
    _check_one_hot_labels(y_out, np.full(n, new_label), label, "decoder")
    if z.shape != z_mean.shape:
        _fail(f"{label} decoded codes of shape {z.shape}; expected {z_mean.shape}, one code per image.")
    if not np.allclose(z, z_mean, atol=1e-4):
        hint = (
            "you decoded z_log_var: take the first output, z_mean."
            if np.allclose(z, z_log_var, atol=1e-4)
            else "decode the mean code z_mean (no sampling), so the transfer keeps exactly the same style."
        )
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
        _fail(
            f"{label} returned shape {got.shape}; expected ({steps}, {latent_dim}): one code per row.",
            "transpose, or build the rows as z_start + t * (z_end - z_start) for t in np.linspace(0, 1, steps).",
        )
    if got.shape != want.shape:
        _fail(f"{label} returned shape {got.shape}; expected {want.shape}: {steps} codes including both ends.")
    if not np.allclose(got[0], start, atol=1e-5) or not np.allclose(got[-1], end, atol=1e-5):
        hint = (
            "you went from z_end to z_start; reverse the order."
            if np.allclose(got, want[::-1], atol=1e-5)
            else "the first row must be z_start and the last z_end (np.linspace includes both ends)."
        )
        _fail(
            f"{label} starts at {got[0].round(3)} and ends at {got[-1].round(3)}; expected "
            f"{start.round(3)} and {end.round(3)}.",
            hint,
        )
    if not np.allclose(got, want, atol=1e-4):
        _fail(
            f"{label}: the codes are not evenly spaced on the straight line from z_start to z_end.",
            "z_start + t * (z_end - z_start) for t in np.linspace(0, 1, steps).",
        )
    _passed(f"interpolate: {steps} evenly spaced codes from z_start to z_end")
