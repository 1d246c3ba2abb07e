"""Checks for the arguments of public helpers: the one home of argument validation in the course.

Every check raises ``ValueError`` naming the argument, what was expected and what was given, so that a
learner sees at once what to change. ``as_*`` functions return the value converted (e.g. images as float32
(N, 28, 28, 1)); ``check_*`` functions return the value checked.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "IMAGE_SHAPE",
    "NUM_CLASSES",
    "as_images",
    "as_labels",
    "as_latent",
    "as_one_hot",
    "as_soft_labels",
    "check_beta",
    "check_code",
    "check_digit",
    "check_in_range",
    "check_index",
    "check_model",
    "check_positive_float",
    "check_positive_int",
    "check_same_length",
    "check_text",
]

NUM_CLASSES = 10
IMAGE_SHAPE = (28, 28, 1)


def _shape_of(value) -> str:
    return str(tuple(np.shape(value)))


def as_images(images, name: str = "images") -> np.ndarray:
    """Return ``images`` as float32 of shape (N, 28, 28, 1) with values in [0, 1].

    Accepts (N, 28, 28), (N, 28, 28, 1) or (N, 784) arrays.
    """
    try:
        x = np.asarray(images, dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be an array of numbers, got {type(images).__name__}") from err
    if x.ndim == 2 and x.shape[1] == 784:
        x = x.reshape(-1, 28, 28)
    if x.ndim == 3 and x.shape[1:] == (28, 28):
        x = x[..., None]
    if x.ndim != 4 or x.shape[1:] != IMAGE_SHAPE:
        raise ValueError(
            f"{name} must have shape (N, 28, 28), (N, 28, 28, 1) or (N, 784); got {_shape_of(images)}. "
            "For a single image use images[None] to add the batch axis."
        )
    if not x.size:
        return x
    # Two passes over the pixels (train() checks up to 180,000 images per call): a NaN makes min or max NaN, an
    # infinity makes one of them infinite, so both finite means every pixel is.
    low, high = x.min(), x.max()
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ValueError(f"{name} contains NaN or infinite values; check how they were computed.")
    if low < 0.0 or high > 1.0:
        if low >= 0.0 and high <= 255.0:
            fix = "Divide uint8 images by 255."
        else:  # negative values: not pixels at all, most likely a decoder's logits
            fix = "Values below 0 are not pixels: if these are a decoder's logits, apply keras.ops.sigmoid first."
        raise ValueError(f"{name} must hold pixel values in [0, 1], got values in [{low:g}, {high:g}]. {fix}")
    return x


def as_labels(labels, name: str = "labels") -> np.ndarray:
    """Return ``labels`` as an int64 vector of digits 0-9; a scalar becomes a vector of one."""
    try:
        arr = np.asarray(labels)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be digits 0-9, got {type(labels).__name__}") from err
    if arr.ndim == 0:
        arr = arr[None]
    if arr.ndim != 1:
        raise ValueError(
            f"{name} must be a 1-D sequence of digits 0-9, got shape {_shape_of(labels)}. "
            "Pass integer labels, not one-hot rows (use np.argmax(one_hot, axis=1))."
        )
    if arr.dtype.kind == "f":
        if arr.shape == (NUM_CLASSES,) and np.count_nonzero(arr == 1) == 1 and np.count_nonzero(arr == 0) == 9:
            # What data.one_hot(...)[0] gives: read as ten digits it would silently draw ten images.
            raise ValueError(
                f"{name} looks like one one-hot row (ten floats, one 1 and nine 0s), not ten digits: for its digit "
                f"pass np.argmax(row) (here {int(np.argmax(arr))}), or pass it as a (1, 10) batch, row[None]."
            )
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValueError(f"{name} must be whole numbers 0-9, got {arr[:5].tolist()}...")
    elif arr.dtype.kind not in "iub":
        raise ValueError(f"{name} must be integers 0-9, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    bad = arr[(arr < 0) | (arr >= NUM_CLASSES)]
    if bad.size:
        raise ValueError(f"{name} must be digits 0-9, got {sorted(set(bad.tolist()))[:5]}")
    return arr


def _label_rows(rows, name: str) -> np.ndarray:
    """Finite float32 rows of shape (N, 10), one column per digit."""
    x = np.asarray(rows, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] != NUM_CLASSES:
        raise ValueError(
            f"{name} must have shape (N, {NUM_CLASSES}) (one column per digit), got {_shape_of(rows)}. "
            "Build it with cvae_course.data.one_hot(labels)."
        )
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return x


def as_one_hot(one_hot, name: str = "labels_one_hot") -> np.ndarray:
    """Check a (N, 10) one-hot array and return it as float32."""
    x = _label_rows(one_hot, name)
    if not (np.all((x == 0) | (x == 1)) and np.all(x.sum(axis=1) == 1)):
        raise ValueError(f"{name} must have exactly one 1 per row and 0 elsewhere.")
    return x


def as_soft_labels(rows, name: str = "labels") -> np.ndarray:
    """Check label rows of shape (N, 10) whose entries are >= 0 and sum to 1 per row (one-hot rows, or blends of
    two digits as in an interpolation); returns them as float32."""
    x = _label_rows(rows, name)
    if np.any(x < 0) or not np.allclose(x.sum(axis=1), 1.0, atol=1e-4):
        raise ValueError(
            f"{name} rows must hold weights >= 0 that sum to 1 (a one-hot row, or a blend of two "
            "digits such as 0.3 * one_hot(3) + 0.7 * one_hot(8))."
        )
    return x


def as_latent(z, latent_dim: int, name: str = "z") -> np.ndarray:
    """Check latent codes of shape (N, latent_dim) (a single code (latent_dim,) is accepted)."""
    arr = np.asarray(z, dtype=np.float32)
    if arr.ndim == 1 and arr.shape[0] == latent_dim:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != latent_dim:
        raise ValueError(f"{name} must have shape (N, {latent_dim}), got {_shape_of(z)}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return arr


def check_positive_int(value, name: str) -> int:
    """An int >= 1 (bools are rejected)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_positive_float(value, name: str) -> float:
    """A finite float > 0."""
    try:
        v = float(value)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a positive number, got {value!r}") from err
    if not np.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a positive, finite number, got {value!r}")
    return v


def check_same_length(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    """Two batches that go together must have as many rows."""
    if len(a) != len(b):
        raise ValueError(f"{name_a} has {len(a)} rows but {name_b} has {len(b)}; give one label per image.")


def check_index(value, size: int, name: str, what: str) -> int:
    """An int in [0, size): ``what`` says what it counts, e.g. "a test image number"."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < size:
        raise ValueError(f"{name} must be an int in [0, {size - 1}] ({what}), got {value!r}")
    return int(value)


def check_digit(value, name: str) -> int:
    """One digit 0-9 as an int (bools and floats are rejected)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < NUM_CLASSES:
        raise ValueError(f"{name} must be a digit 0-9, got {value!r}. Pick one of 0, 1, ..., 9.")
    return int(value)


def check_in_range(value, name: str, low: float, high: float) -> float:
    """A finite number in [low, high] (a slider's range), as a float."""
    try:
        v = float(value)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a number in [{low:g}, {high:g}], got {value!r}") from err
    if not np.isfinite(v) or not low <= v <= high:
        raise ValueError(
            f"{name} must be in [{low:g}, {high:g}] (the slider's range), got {value!r}. "
            f"Choose a value between {low:g} and {high:g}."
        )
    return v


def check_code(values, size: int, name: str, limit: float) -> np.ndarray:
    """One latent code of ``size`` numbers, each within [-limit, limit] (the sliders' range); returns it as float32."""
    z = as_latent(values, size, name)[0]
    bad = np.flatnonzero(np.abs(z) > limit)
    if bad.size:
        raise ValueError(
            f"{name} must stay within [-{limit:g}, {limit:g}] (the sliders' range), got {name}[{bad[0]}] = "
            f"{z[bad[0]]:g}. Codes further out are far from anything the CVAE saw in training; "
            f"use values between -{limit:g} and {limit:g}."
        )
    return z


def check_beta(beta) -> float:
    """The KL weight beta: a finite number >= 0 (1 is the true ELBO), as a float."""
    if (
        isinstance(beta, bool)
        or not isinstance(beta, (int, float, np.integer, np.floating))
        or not beta >= 0
        or not np.isfinite(beta)
    ):
        raise ValueError(f"beta must be a finite number >= 0 (the KL weight; 1 is the true ELBO), got {beta!r}")
    return float(beta)


def check_text(value, name: str) -> str:
    """A non-empty string, stripped."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value.strip()


def check_model(model, expected: type, *, kind: str | None = None, hint: str | None = None):
    """Return ``model`` if it is an instance of the course model class ``expected``; otherwise a ValueError.

    A CVAE passes for a VAE (it is one). ``kind`` names what is wanted in the message (default: the class's
    ``WANTED``, e.g. "VAE or CVAE", or its name) and ``hint`` how to get one (default: the class's ``HINT``).
    """
    if not isinstance(model, expected):
        kind = kind or getattr(expected, "WANTED", None) or expected.__name__
        hint = getattr(expected, "HINT", "") if hint is None else hint
        raise ValueError(
            f"model must be a {kind} from cvae_course.models, got {type(model).__name__}."
            + (f" {hint}" if hint else "")
        )
    return model
