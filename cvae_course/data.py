"""MNIST for the course: loading, scaling, one-hot labels and tf.data pipelines.

By default the images come from ``keras.datasets.mnist.load_data()`` (which downloads them once).
Offline, set ``CVAE_COURSE_MNIST`` to a local ``mnist.npz`` in the same layout (keys ``x_train``,
``y_train``, ``x_test``, ``y_test``; uint8 images of 28 x 28, labels 0-9).
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cvae_course import settings
from cvae_course.validation import NUM_CLASSES, as_labels, check_positive_int

__all__ = [
    "MNISTDownloadError",
    "MNISTFileError",
    "MNIST",
    "one_hot",
    "blend_labels",
    "data_source",
    "read_mnist_npz",
    "load_mnist",
    "make_dataset",
]

_KEYS = ("x_train", "y_train", "x_test", "y_test")


class MNISTFileError(ValueError):
    """A local MNIST file that is missing, corrupt or in the wrong layout."""


class MNISTDownloadError(OSError):
    """MNIST could not be downloaded (offline?) and no local file was named."""


@dataclass(frozen=True)
class MNIST:
    """Train and test splits: images float32 (N, 28, 28, 1) in [0, 1], labels int64 0-9."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str

    @property
    def y_train_one_hot(self) -> np.ndarray:
        return one_hot(self.y_train)

    @property
    def y_test_one_hot(self) -> np.ndarray:
        return one_hot(self.y_test)

    def __repr__(self) -> str:
        return (
            f"MNIST(train={len(self.x_train)}, test={len(self.x_test)}, "
            f"image shape={self.x_train.shape[1:]}, source={self.source!r})"
        )


def one_hot(labels) -> np.ndarray:
    """Digits 0-9 as float32 one-hot rows of width 10."""
    y = as_labels(labels)
    out = np.zeros((len(y), NUM_CLASSES), dtype=np.float32)
    out[np.arange(len(y)), y] = 1.0
    return out


def blend_labels(start: int, end: int, t) -> np.ndarray:
    """Soft label rows (len(t), 10) ``(1 - t) * one_hot(start) + t * one_hot(end)``: weight ``t`` in [0, 1] moves
    from the digit ``start`` to the digit ``end`` (what an interpolation between two digits feeds a CVAE decoder)."""
    a, b = one_hot([start, end]).astype(np.float64)
    t = np.atleast_1d(np.asarray(t, dtype=np.float64))[:, None]
    if not np.all(np.isfinite(t)) or np.any((t < 0) | (t > 1)):
        raise ValueError(f"t must hold weights in [0, 1] (0 = start, 1 = end), got {t.ravel()[:5].tolist()}")
    return ((1 - t) * a + t * b).astype(np.float32)


def data_source() -> str:
    """Where :func:`load_mnist` reads from: the local file named by the variable, or Keras."""
    path = os.environ.get(settings.DATA_ENV)
    return str(Path(path).expanduser()) if path else "keras.datasets.mnist.load_data()"


def read_mnist_npz(path: str | os.PathLike) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Read a local ``mnist.npz`` and check its layout; returns ``load_data()``'s tuples."""
    path = Path(path).expanduser()
    how_to_fix = (
        f"Point {settings.DATA_ENV} at a valid mnist.npz (the file keras.datasets.mnist.load_data() "
        f"downloads to ~/.keras/datasets/mnist.npz), or unset {settings.DATA_ENV} to download MNIST."
    )
    what = (
        "It must be an .npz archive (numpy.savez) holding the arrays x_train, y_train, x_test and y_test: uint8 "
        "images (N, 28, 28) and labels 0-9 (N,)."
    )
    if path.is_dir():
        raise MNISTFileError(
            f"{settings.DATA_ENV} names the folder {path}, not a file: point it at the mnist.npz inside. {what}"
        )
    if not path.is_file():
        raise MNISTFileError(f"MNIST file {path} does not exist (named by {settings.DATA_ENV}). {how_to_fix}")
    if not zipfile.is_zipfile(path):  # np.load would read a .npy or a pickle as something else
        with open(path, "rb") as f:
            kind = "a single .npy array" if f.read(6) == b"\x93NUMPY" else "not a readable .npz archive"
        raise MNISTFileError(f"MNIST file {path} is {kind}. {what} {how_to_fix}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in _KEYS if k not in npz.files]
            if missing:
                raise MNISTFileError(
                    f"MNIST file {path} lacks the arrays {missing} (it has {sorted(npz.files)}). {how_to_fix}"
                )
            arrays = {k: npz[k] for k in _KEYS}
    except MNISTFileError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise MNISTFileError(f"MNIST file {path} is not a readable .npz archive ({err}). {how_to_fix}") from err
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or x.shape[1:] != (28, 28):
            raise MNISTFileError(
                f"MNIST file {path}: x_{split} has shape {x.shape}, expected (N, 28, 28). {how_to_fix}"
            )
        if y.shape != (x.shape[0],):
            raise MNISTFileError(
                f"MNIST file {path}: y_{split} has shape {y.shape}, expected ({x.shape[0]},) to match "
                f"x_{split}. {how_to_fix}"
            )
        if x.dtype != np.uint8:
            raise MNISTFileError(f"MNIST file {path}: x_{split} is {x.dtype}, expected uint8 0-255. {how_to_fix}")
        if y.size and (y.min() < 0 or y.max() > 9):
            raise MNISTFileError(f"MNIST file {path}: y_{split} holds labels outside 0-9. {how_to_fix}")
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def _load_raw():
    path = os.environ.get(settings.DATA_ENV)
    if path:
        return read_mnist_npz(path)
    from cvae_course._keras import keras  # only a download needs Keras

    try:
        return keras.datasets.mnist.load_data()
    except Exception as err:  # offline, a proxy, a truncated download: Keras says "URL fetch failure" or worse
        raise MNISTDownloadError(
            f"MNIST could not be downloaded ({type(err).__name__}: {str(err)[:200]}). Offline, set "
            f'{settings.DATA_ENV} to a local mnist.npz (see "Offline MNIST" in the README), e.g. '
            f"export {settings.DATA_ENV}=/path/to/mnist.npz"
        ) from err


def _subset(x: np.ndarray, y: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A class-balanced random subset of n examples (all of them when n >= len(x))."""
    if n >= len(x):
        return x, y
    rng = np.random.default_rng(seed)
    per_class = n // NUM_CLASSES
    idx = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:per_class] for c in range(NUM_CLASSES)])
    rest = np.setdiff1d(np.arange(len(x)), idx)
    idx = np.concatenate([idx, rng.choice(rest, n - len(idx), replace=False)])
    idx = np.sort(idx)
    return x[idx], y[idx]


def load_mnist(
    train_size: int | None = None,
    test_size: int | None = None,
    *,
    fast: bool | None = None,
    seed: int = settings.DEFAULT_SEED,
) -> MNIST:
    """Load MNIST as float32 images in [0, 1] of shape (N, 28, 28, 1) and int64 labels 0-9 of shape (N,).

    Args:
        train_size: training images to keep, a class-balanced random subset (default: the budget's
            ``train_size``, :func:`cvae_course.settings.budget`: 6,000 in fast mode, all in full mode).
        test_size: test images to keep, likewise (default: 2,000 in fast mode, all in full mode).
        fast: which mode's budget gives the default sizes (None follows ``CVAE_COURSE_FAST``).
        seed: picks the subsets.
    """
    if fast is not None and not isinstance(fast, (bool, np.bool_)):
        raise ValueError(f"fast must be True, False or None (follow {settings.FAST_ENV}), got {fast!r}")
    sizes = settings.budget(None if fast is None else ("fast" if fast else "full"))
    if train_size is None:
        train_size = sizes.train_size
    if test_size is None:
        test_size = sizes.test_size
    (x_train, y_train), (x_test, y_test) = _load_raw()
    if train_size is not None:
        x_train, y_train = _subset(x_train, y_train, check_positive_int(train_size, "train_size"), seed)
    if test_size is not None:
        x_test, y_test = _subset(x_test, y_test, check_positive_int(test_size, "test_size"), seed + 1)
    return MNIST(
        x_train=(x_train.astype(np.float32) / 255.0)[..., None],
        y_train=y_train.astype(np.int64),
        x_test=(x_test.astype(np.float32) / 255.0)[..., None],
        y_test=y_test.astype(np.int64),
        source=data_source(),
    )


def make_dataset(
    images: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    batch_size: int = 128,
    shuffle: bool = True,
    seed: int = settings.DEFAULT_SEED,
):
    """A ``tf.data.Dataset`` of image batches, or of ``(image, one_hot)`` batches when labels are given.

    The shape matches what :class:`cvae_course.models.VAE` and ``CVAE`` expect in ``fit``.

    Args:
        images: (N, 28, 28, 1) in [0, 1] (or (N, 28, 28), (N, 784)).
        labels: digits 0-9, shape (N,), for a CVAE; None for image batches only.
        batch_size: images per batch.
        shuffle: reshuffle the images every epoch.
        seed: makes the shuffling repeatable.
    """
    from cvae_course._keras import tf
    from cvae_course.validation import as_images, check_same_length

    x = as_images(images)
    batch_size = check_positive_int(batch_size, "batch_size")
    if labels is None:
        ds = tf.data.Dataset.from_tensor_slices(x)
    else:
        y = one_hot(labels)
        check_same_length(x, y, "images", "labels")
        # Nested so that Keras reads (image, one_hot) as the model's input, not as (x, y).
        ds = tf.data.Dataset.from_tensor_slices(((x, y),))
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
