"""Lesson 06: the CVAE of Sohn, Lee and Yan (2015), which conditions on part of an image, with a learned prior.

The task (their MNIST experiment, reproduced in Pyro's CVAE tutorial): cut each 28 x 28 digit into four 14 x 14
quadrants, show 1, 2 or 3 of them (the input x) and predict the rest (the output y). Which quadrants are visible
follows Pyro's ``MaskImages``: 1 = bottom-left; 2 = the left half; 3 = all but the bottom-right. In x the hidden
pixels hold the marker ``-1`` (:data:`HIDDEN`); in y the visible ones do. Pixels are grey values in [0, 1], not
binarized (as in Pyro and the rest of the course).

Three models, all trained on every training image under all three settings at once (:func:`make_mixed_task`):

* :class:`Baseline`: a deterministic network x -> y. One answer per input, the average of the plausible
  completions, so it looks blurry.
* :class:`QuadrantCVAE`: a recognition network q(z | x, y), a **prior network** p(z | x) and a generation network
  p(y | x, z), trained on the negative ELBO of log p(y | x),
  ``E_q[-log p(y | x, z)] + KL(q(z | x, y) || p(z | x))``, with the KL between two diagonal Gaussians in closed
  form (:func:`gaussian_kl`); optionally mixed with Sohn's GSNN term ``-log p(y | x, z), z ~ p(z | x)`` (the
  *hybrid* objective, weight ``1 - alpha``). With ``prior=None`` the prior is a fixed N(0, I), as in lesson 03.
  The recognition network reads the whole digit (x with y's pixels put in), as in Pyro's CVAE. Built on a trained
  baseline (:func:`build_quadrant_cvae`), the prior network reads x completed by the frozen baseline
  (:meth:`QuadrantCVAE.guess`), as Pyro's tutorial does, and the generation network starts as the baseline
  (:func:`start_from_baseline`), the paper's "baseline as initialisation" (Pyro's starts from scratch): the CVAE
  starts from the baseline's average completion. Neither the whole digit nor the guess says which part of it was
  hidden, so the course's recognition and prior networks also read which quadrants x shows
  (:func:`visible_quadrants`, four numbers; ``sees_quadrants=True`` in :func:`build_recognition` and
  :func:`build_prior`); the generation network reads x itself, whose -1s say it.
  The recipes train it with a KL warm-up (:class:`KLWarmup`: the KL's weight ``beta`` rises from 0 to 1 over the
  first steps), so that the codes come into use although the generation network starts as the baseline.

Units: every loss is the Bernoulli cross-entropy summed over the *hidden* pixels of one image, in nats per image,
then averaged over the batch (never a mean over pixels): :func:`hidden_reconstruction_loss`. For grey targets it
is a cross-entropy rather than a normalised likelihood; it is what Sohn et al. and Pyro report as the negative
conditional log-likelihood. The importance-sampled -log p(y | x) is :func:`cvae_course.evaluate.importance_sampled_nll`
(the model supplies its terms through :meth:`QuadrantCVAE.importance_parts`; S = 100 codes for each of 10,000 test
images is 10^6 decodings per setting and model, so the evaluation runs them compiled, and for the dense generation
network of :func:`build_generation` without repeating x for every code: :func:`_dense_log_likelihood`).
:func:`reconstruction` measures the train/test gap: -log p(y | x, z) with codes from q(z | x, y) or from p(z | x).

NumPy in, NumPy out: :func:`make_task`, :func:`complete`, :func:`baseline_nll`, :func:`negative_elbo`,
:func:`reconstruction` and the model's ``predict_hidden`` take and return NumPy arrays; images are float32
(N, 28, 28, 1).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cvae_course import settings
from cvae_course._keras import keras, layers, ops
from cvae_course.layers import Sampling
from cvae_course.losses import pixel_cross_entropy
from cvae_course.models import PREDICT_BATCH, sigmoid
from cvae_course.validation import as_images, check_in_range, check_model, check_positive_int

__all__ = [
    "HIDDEN",
    "QUADRANTS",
    "VISIBLE",
    "SETTINGS",
    "check_n_visible",
    "visible_mask",
    "make_task",
    "make_mixed_task",
    "fill",
    "visible_quadrants",
    "hidden_reconstruction_loss",
    "gaussian_kl",
    "build_baseline",
    "build_recognition",
    "build_prior",
    "build_generation",
    "start_from_baseline",
    "Baseline",
    "QuadrantCVAE",
    "build_quadrant_cvae",
    "KLWarmup",
    "baseline_nll",
    "CODE_SOURCES",
    "reconstruction",
    "negative_elbo",
    "complete",
    "completion_spread",
    "judged_completions",
    "completion_figure",
]

HIDDEN = -1.0  # the marker of a pixel the other part holds
HALF = 14
QUADRANTS = {
    "top left": (slice(0, HALF), slice(0, HALF)),
    "top right": (slice(0, HALF), slice(HALF, 28)),
    "bottom left": (slice(HALF, 28), slice(0, HALF)),
    "bottom right": (slice(HALF, 28), slice(HALF, 28)),
}
# As Pyro's MaskImages (examples/cvae/mnist.py): the visible quadrants for 1, 2 and 3 visible quadrants.
VISIBLE = {
    1: ("bottom left",),
    2: ("top left", "bottom left"),
    3: ("top left", "top right", "bottom left"),
}
SETTINGS = tuple(VISIBLE)  # 1, 2, 3


# ------------------------------------------------------------------------------------------- the task
def check_n_visible(n_visible) -> int:
    """``n_visible`` as an int, if it is 1, 2 or 3 (how many quadrants the model sees)."""
    if isinstance(n_visible, bool) or n_visible not in VISIBLE:
        raise ValueError(f"n_visible must be 1, 2 or 3 (how many quadrants the model sees), got {n_visible!r}")
    return int(n_visible)


def visible_mask(n_visible: int) -> np.ndarray:
    """float32 (28, 28, 1): 1 on the quadrants visible with ``n_visible`` = 1, 2 or 3, 0 on the hidden ones."""
    mask = np.zeros((28, 28, 1), dtype=np.float32)
    for name in VISIBLE[check_n_visible(n_visible)]:
        rows, cols = QUADRANTS[name]
        mask[rows, cols] = 1.0
    return mask


def make_task(images, n_visible: int) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) for ``n_visible`` visible quadrants, both float32 (N, 28, 28, 1).

    x holds the visible pixels and -1 on the hidden ones; y holds the hidden pixels and -1 on the visible ones.
    """
    images = as_images(images)
    visible = visible_mask(n_visible) > 0
    x = np.where(visible, images, np.float32(HIDDEN)).astype(np.float32)
    y = np.where(visible, np.float32(HIDDEN), images).astype(np.float32)
    return x, y


def make_mixed_task(images, seed: int = settings.DEFAULT_SEED) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every image under each of the three settings, shuffled: (x, y, n_visible), 3 N rows.

    One model trained on these rows serves all three settings (x itself shows which pixels are hidden).
    """
    images = as_images(images)
    parts = [make_task(images, k) for k in SETTINGS]
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    k = np.repeat(np.array(SETTINGS), len(images))
    order = np.random.default_rng(seed).permutation(len(x))
    return x[order], y[order], k[order]


def fill(x, y) -> np.ndarray:
    """Whole images: x's visible pixels, and y's (or a prediction's) pixels where x is hidden. (N, 28, 28, 1)."""
    x, y = np.asarray(x, np.float32), np.asarray(y, np.float32)
    return np.where(x < 0, y, x).astype(np.float32)


def visible_quadrants(x):
    """Which quadrants x shows: the share of each quadrant's pixels that are not the hidden marker, in the order of
    :data:`QUADRANTS` (top left, top right, bottom left, bottom right); (batch, 4) float32, 1 for a visible
    quadrant and 0 for a hidden one with the masks of :func:`make_task`. Keras ops (tensors or arrays in, a tensor
    out): the course's recognition and prior networks read it beside their image."""
    if tuple(x.shape[1:3]) != (28, 28) or (len(x.shape) == 4 and x.shape[-1] != 1) or len(x.shape) not in (3, 4):
        raise ValueError(f"x must have shape (N, 28, 28, 1) as make_task returns it, got {tuple(x.shape)}")
    shown = ops.cast(ops.greater_equal(ops.reshape(x, (-1, 2, HALF, 2, HALF)), 0.0), "float32")
    return ops.reshape(ops.mean(shown, axis=(2, 4)), (-1, len(QUADRANTS)))


def _put_in(x, pixels):
    """:func:`fill` inside the model (tensors in, tensor out): x's visible pixels, ``pixels``' where x is hidden."""
    return ops.where(ops.less(x, 0.0), pixels, x)


def _pixels_or_hidden(a: np.ndarray) -> bool:
    """True when every value of ``a`` is a pixel in [0, 1] or ``HIDDEN``: min and max (NaN makes them NaN), then,
    only if something is negative, whether every negative value is -1 (training checks up to 180,000 rows)."""
    low, high = a.min(), a.max()
    if not (np.isfinite(low) and np.isfinite(high)) or high > 1 or low < HIDDEN:
        return False
    return low >= 0 or np.count_nonzero(a < 0) == np.count_nonzero(a == HIDDEN)


def _pair(x, y) -> tuple[np.ndarray, np.ndarray]:
    """Validated (x, y) from :func:`make_task`: float32 (N, 28, 28, 1), pixels in [0, 1] or -1."""
    out = []
    for name, a in (("x", x), ("y", y)):
        a = np.asarray(a, dtype=np.float32)
        if a.ndim == 3:
            a = a[..., None]
        if a.ndim != 4 or a.shape[1:] != (28, 28, 1):
            raise ValueError(f"{name} must have shape (N, 28, 28, 1) as make_task returns it, got {np.shape(a)}")
        if a.size and not _pixels_or_hidden(a):
            raise ValueError(f"{name} must hold pixels in [0, 1] and -1 where the other part is; use make_task")
        out.append(a)
    if len(out[0]) != len(out[1]):
        raise ValueError(f"x and y must hold the same number of images, got {len(out[0])} and {len(out[1])}")
    return out[0], out[1]


# ------------------------------------------------------------------------------------------- the loss
def hidden_reconstruction_loss(x, y, logits):
    """-log p(y | ...): the Bernoulli cross-entropy of ``logits`` against y over the pixels hidden in x; (batch,).

    Per pixel as in lesson 01 (:func:`cvae_course.losses.pixel_cross_entropy`), summed over the hidden pixels
    only: the visible ones (where y holds -1) count zero. Nats per image.
    """
    per_pixel = pixel_cross_entropy(y, logits) * ops.cast(ops.less(x, 0.0), logits.dtype)
    return ops.sum(ops.reshape(per_pixel, (ops.shape(per_pixel)[0], -1)), axis=1)


def gaussian_kl(q_mean, q_log_var, p_mean, p_log_var):
    """KL(N(q_mean, diag e^q_log_var) || N(p_mean, diag e^p_log_var)) in closed form, summed over dimensions.

    KL = 1/2 * sum(p_log_var - q_log_var + (e^q_log_var + (q_mean - p_mean)^2) / e^p_log_var - 1), one per row
    (shapes (batch, latent_dim) in, (batch,) out). With p_mean = 0 and p_log_var = 0 it is the KL to N(0, I)
    of lessons 02-03.
    """
    return 0.5 * ops.sum(
        p_log_var - q_log_var + (ops.exp(q_log_var) + ops.square(q_mean - p_mean)) * ops.exp(-p_log_var) - 1.0,
        axis=-1,
    )


# ------------------------------------------------------------------------------------------- networks
def _mlp(h, hidden: Sequence[int]):
    for units in hidden:
        h = layers.Dense(int(check_positive_int(units, "hidden sizes")), activation="relu")(h)
    return h


def _image_input(name: str):
    return keras.Input(shape=(28, 28, 1), name=name)


def _reader(name: str, sees_quadrants: bool):
    """An image input (and, with ``sees_quadrants``, a (4,) input of :func:`visible_quadrants`), and the flattened
    features the network's dense layers read: (inputs, features)."""
    image = _image_input(name)
    if not sees_quadrants:
        return image, layers.Flatten()(image)
    shown = keras.Input(shape=(len(QUADRANTS),), name="visible_quadrants")
    return [image, shown], layers.Concatenate()([layers.Flatten()(image), shown])


def _gaussian(h, latent_dim: int):
    return [layers.Dense(latent_dim, name="z_mean")(h), layers.Dense(latent_dim, name="z_log_var")(h)]


def build_baseline(hidden: Sequence[int] = (256, 256)) -> keras.Model:
    """x (28, 28, 1) -> logits (28, 28, 1) of the hidden pixels: a dense network (Pyro's is 784-500-500-784)."""
    x = _image_input("x")
    h = layers.Dense(28 * 28)(_mlp(layers.Flatten()(x), hidden))
    return keras.Model(x, layers.Reshape((28, 28, 1), name="logits")(h), name="baseline")


def build_recognition(
    latent_dim: int, hidden: Sequence[int] = (256, 256), *, sees_quadrants: bool = False
) -> keras.Model:
    """q(z | x, y): the whole digit (x's visible pixels, y's hidden ones: :func:`fill`) -> (z_mean, z_log_var),
    shapes (batch, latent_dim). Sees both parts of the digit; :class:`QuadrantCVAE` puts them together. With
    ``sees_quadrants`` it has a second input, which quadrants x shows (:func:`visible_quadrants`, (batch, 4)):
    the whole digit does not say which part the generation network sees already."""
    latent_dim = check_positive_int(latent_dim, "latent_dim")
    inputs, h = _reader("digit", sees_quadrants)
    return keras.Model(inputs, _gaussian(_mlp(h, hidden), latent_dim), name="recognition")


def build_prior(latent_dim: int, hidden: Sequence[int] = (256, 256), *, sees_quadrants: bool = False) -> keras.Model:
    """p(z | x): one image (28, 28, 1) -> (z_mean, z_log_var), shapes (batch, latent_dim). Sees only what x gives:
    x itself (hidden pixels -1), or, in a CVAE built on a baseline, x completed by the baseline
    (:meth:`QuadrantCVAE.guess`). With ``sees_quadrants`` it has a second input, which quadrants x shows
    (:func:`visible_quadrants`, (batch, 4)): the guess does not say which of its pixels were guessed."""
    latent_dim = check_positive_int(latent_dim, "latent_dim")
    inputs, h = _reader("x", sees_quadrants)
    return keras.Model(inputs, _gaussian(_mlp(h, hidden), latent_dim), name="prior")


def build_generation(latent_dim: int, hidden: Sequence[int] = (256, 256)) -> keras.Model:
    """p(y | x, z): (x, z) -> logits (28, 28, 1) of the hidden pixels."""
    latent_dim = check_positive_int(latent_dim, "latent_dim")
    x, z = _image_input("x"), keras.Input(shape=(latent_dim,), name="z")
    h = layers.Dense(28 * 28)(_mlp(layers.Concatenate()([layers.Flatten()(x), z]), hidden))
    return keras.Model([x, z], layers.Reshape((28, 28, 1), name="logits")(h), name="generation")


def start_from_baseline(generation: keras.Model, baseline: keras.Model) -> keras.Model:
    """Copy the weights of a baseline network (:func:`build_baseline`) into a generation network
    (:func:`build_generation`) of the same hidden sizes, in place, and return it: the rows of its first layer that
    read x and all later layers become the baseline's; the rows that read z keep their random start. Sohn et al.'s
    "baseline as initialisation": the generation network starts as the baseline plus a little of z."""
    own = [la for la in generation.layers if isinstance(la, layers.Dense)]
    theirs = [la for la in baseline.layers if isinstance(la, layers.Dense)]
    shapes = [tuple(la.kernel.shape) for la in theirs]
    if len(own) != len(theirs) or [tuple(la.kernel.shape)[1] for la in own] != [s[1] for s in shapes]:
        raise ValueError(
            "start_from_baseline needs a generation network with the baseline's hidden sizes, got layers of "
            f"{[la.units for la in own]} units and {[la.units for la in theirs]}: build the generation network "
            f"with build_generation(latent_dim, hidden={tuple(la.units for la in theirs[:-1])})"
        )
    first = ops.convert_to_numpy(own[0].kernel).copy()
    first[: 28 * 28] = ops.convert_to_numpy(theirs[0].kernel)
    own[0].kernel.assign(first)
    own[0].bias.assign(theirs[0].bias)
    for mine, source in zip(own[1:], theirs[1:]):
        mine.kernel.assign(source.kernel)
        mine.bias.assign(source.bias)
    return generation


def _dense_stack(generation: keras.Model) -> list | None:
    """The Dense layers of a generation network built as :func:`build_generation` builds it (x flattened, then z,
    concatenated, Dense layers, reshaped to (28, 28, 1)), first to last; None for any other network.

    The structure is read from the layers and confirmed on three random inputs, so a network that only looks alike
    is decoded the ordinary way.
    """
    kinds = {"InputLayer", "Flatten", "Concatenate", "Dense", "Reshape"}
    if not isinstance(generation, keras.Model) or any(type(la).__name__ not in kinds for la in generation.layers):
        return None
    dense = [la for la in generation.layers if isinstance(la, layers.Dense)]
    latent_dim = int(generation.inputs[1].shape[-1]) if len(generation.inputs) == 2 else -1
    if not dense or not dense[0].built or dense[0].kernel.shape[0] != 28 * 28 + latent_dim:
        return None
    if dense[-1].units != 28 * 28 or any(not la.use_bias for la in dense):
        return None
    rng = np.random.default_rng(0)
    x = np.where(rng.uniform(size=(3, 28, 28, 1)) < 0.5, np.float32(HIDDEN), rng.uniform(size=(3, 28, 28, 1)))
    x, z = x.astype(np.float32), rng.normal(size=(3, latent_dim)).astype(np.float32)
    h = x.reshape(3, -1) @ ops.convert_to_numpy(dense[0].kernel[: 28 * 28]) + z @ ops.convert_to_numpy(
        dense[0].kernel[28 * 28 :]
    )
    h = ops.convert_to_numpy(dense[0].activation(ops.convert_to_tensor(h) + dense[0].bias))
    for la in dense[1:]:
        h = ops.convert_to_numpy(la(ops.convert_to_tensor(h)))
    expected = ops.convert_to_numpy(generation([x, z], training=False)).reshape(3, -1)
    return dense if np.allclose(h, expected, rtol=1e-4, atol=1e-4) else None


def _dense_log_likelihood(stack: list, x, y, z):
    """:meth:`QuadrantCVAE.log_likelihood_of_codes` for a generation network that is the dense ``stack``
    (:func:`_dense_stack`), without repeating x S times: the first layer's product with x is computed once per pair
    and its product with z once per code, and the last layer computes only the pixels hidden in some x of the batch
    (the others count zero). The same sums, rearranged; (S, n) nats."""
    from cvae_course.evaluate import masked_log_likelihood

    first, *middle, last = stack
    n_samples, n = ops.shape(z)[0], ops.shape(z)[1]
    pixels = ops.reshape(x, (n, -1))
    from_x = ops.matmul(pixels, first.kernel[: 28 * 28]) + first.bias  # (n, units), once per pair
    from_z = ops.matmul(ops.reshape(z, (n_samples * n, -1)), first.kernel[28 * 28 :])  # (S n, units)
    h = first.activation(ops.reshape(from_z, (n_samples, n, -1)) + from_x[None])
    h = ops.reshape(h, (n_samples * n, -1))
    for layer in middle:
        h = layer.activation(ops.matmul(h, layer.kernel) + layer.bias)
    hidden = ops.less(pixels, 0.0)
    columns = ops.nonzero(ops.any(hidden, axis=0))[0]  # the pixels hidden in some x of the batch
    logits = last.activation(ops.matmul(h, ops.take(last.kernel, columns, axis=1)) + ops.take(last.bias, columns))
    targets = ops.take(ops.reshape(y, (n, -1)), columns, axis=1)
    mask = ops.cast(ops.take(hidden, columns, axis=1), "float32")[None]
    return masked_log_likelihood(targets[None], ops.reshape(logits, (n_samples, n, -1)), mask)  # fused by XLA


# ------------------------------------------------------------------------------------------- models
def _reads_quadrants(network: keras.Model, name: str) -> bool:
    """True for a network of two inputs, an image and :func:`visible_quadrants` (built with ``sees_quadrants=True``);
    False for one image input (or a subclassed model, which declares no inputs)."""
    inputs = getattr(network, "inputs", None) or []
    if len(inputs) <= 1:
        return False
    if len(inputs) == 2 and inputs[1].shape[-1] == len(QUADRANTS):
        return True
    raise ValueError(
        f"the {name} network must take one image (28, 28, 1), or an image and which quadrants x shows (4,) as "
        f"quadrants.build_{name}(latent_dim, sees_quadrants=True) builds it; got inputs of shapes "
        f"{[tuple(i.shape) for i in inputs]}"
    )


def _split(inputs, name: str):
    if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
        raise ValueError(
            f"{name} takes (x, y) as input (visible part, hidden part: see make_task), got {type(inputs).__name__}"
        )
    return inputs[0], inputs[1]


def _in_batches(fn, *arrays) -> np.ndarray:
    """fn applied to NumPy arrays in batches of PREDICT_BATCH rows; NumPy out."""
    return np.concatenate(
        [
            ops.convert_to_numpy(fn(*(ops.convert_to_tensor(a[i : i + PREDICT_BATCH]) for a in arrays)))
            for i in range(0, len(arrays[0]), PREDICT_BATCH)
        ]
    )


@keras.saving.register_keras_serializable(package="cvae_course")
class Baseline(keras.Model):
    """The deterministic baseline: one prediction of y per x, trained on the hidden-pixel cross-entropy.

    Train with ``fit((x, y))``; :meth:`predict_hidden` gives pixel probabilities (N, 28, 28, 1).
    """

    def __init__(self, network: keras.Model, **kwargs):
        super().__init__(**kwargs)
        self.network = network
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.built = True

    def call(self, inputs, training=False):
        x, _ = _split(inputs, type(self).__name__)
        return self.network(x, training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        xs, ys = _split(x, type(self).__name__)
        reconstruction = ops.mean(hidden_reconstruction_loss(xs, ys, y_pred))
        self.reconstruction_tracker.update_state(reconstruction)
        return reconstruction

    def predict_hidden(self, x) -> np.ndarray:
        """sigmoid(logits): the baseline's pixel probabilities for each x, NumPy (N, 28, 28, 1)."""
        x, _ = _pair(x, x)
        return sigmoid(_in_batches(lambda a: self.network(a, training=False), x))

    def get_config(self):
        return {**super().get_config(), "network": keras.saving.serialize_keras_object(self.network)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["network"] = keras.saving.deserialize_keras_object(config["network"])
        return cls(**config)


@keras.saving.register_keras_serializable(package="cvae_course")
class QuadrantCVAE(keras.Model):
    """Sohn et al.'s CVAE: recognition q(z|x,y), prior p(z|x) (N(0, I) when ``prior`` is None), generation p(y|x,z).

    Loss per image, in nats: ``alpha * (reconstruction + beta * kl) + (1 - alpha) * gsnn``, where reconstruction is
    -log p(y|x,z) with z ~ q(z|x,y), kl = KL(q(z|x,y) || p(z|x)) and gsnn is -log p(y|x,z) with z ~ p(z|x).
    ``alpha = 1`` is the plain CVAE (the negative ELBO); Sohn et al.'s hybrid uses 0 < alpha < 1, and alpha = 0 is
    their GSNN (the recognition network then learns nothing). ``beta``, the KL's weight, is a variable that is 1
    (the true bound) unless a KL warm-up (:class:`KLWarmup`) lowers it for the first steps of training. Metrics:
    loss, reconstruction, kl (unweighted; and gsnn when alpha < 1), in nats per image. Train with ``fit((x, y))``.

    ``baseline``: the frozen network (x -> logits, :func:`build_baseline`) whose completion of x the prior network
    reads (:meth:`guess`); None: the prior network reads x itself. The recognition network reads the whole digit.
    A recognition or prior network built with ``sees_quadrants=True`` (two inputs) also reads which quadrants x
    shows (:func:`visible_quadrants`); a network of one image input reads the image alone.
    """

    def __init__(
        self,
        recognition: keras.Model,
        prior: keras.Model | None,
        generation: keras.Model,
        alpha: float = 1.0,
        seed: int | None = None,
        baseline: keras.Model | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.recognition, self.prior, self.generation = recognition, prior, generation
        self.recognition_reads_quadrants = _reads_quadrants(recognition, "recognition")
        self.prior_reads_quadrants = prior is not None and _reads_quadrants(prior, "prior")
        if baseline is not None:
            baseline.trainable = False  # a frozen part: the CVAE's training leaves it as it is
        self.baseline = baseline
        self.alpha = check_in_range(alpha, "alpha", 0.0, 1.0)
        self.beta = keras.Variable(1.0, trainable=False, name="beta")  # the KL's weight; KLWarmup changes it
        self.seed = seed
        self.sampling = Sampling(seed=seed, name="sampling")
        self.prior_sampling = Sampling(seed=None if seed is None else seed + 1, name="prior_sampling")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self.gsnn_tracker = keras.metrics.Mean(name="gsnn")
        self.built = True

    @property
    def latent_dim(self) -> int:
        return int(self.generation.inputs[1].shape[-1])

    @property
    def learned_prior(self) -> bool:
        return self.prior is not None

    def guess(self, x):
        """The frozen baseline's completion of x: x's visible pixels, the baseline's pixel probabilities where x is
        hidden; no gradient flows into the baseline. What the prior network reads. (batch, 28, 28, 1)."""
        return _put_in(x, ops.sigmoid(ops.stop_gradient(self.baseline(x, training=False))))

    def prior_distribution(self, x, training=False):
        """(mean, log_var) of p(z | x): the prior network's, or zeros for the fixed N(0, I). The prior network
        reads x completed by the baseline when the model has one (:meth:`guess`), else x itself; and which
        quadrants x shows, if it was built to (:func:`build_prior`)."""
        if self.prior is None:
            zeros = ops.zeros((ops.shape(x)[0], self.latent_dim), dtype="float32")
            return zeros, zeros
        image = x if self.baseline is None else self.guess(x)
        if self.prior_reads_quadrants:  # built with sees_quadrants=True
            return self.prior([image, visible_quadrants(x)], training=training)
        return self.prior(image, training=training)

    def recognition_distribution(self, x, y, training=False):
        """(mean, log_var) of q(z | x, y): the recognition network reads the whole digit, x's visible pixels with
        y's hidden ones put in; and which quadrants x shows, if it was built to (:func:`build_recognition`)."""
        digit = _put_in(x, y)
        if self.recognition_reads_quadrants:  # built with sees_quadrants=True
            return self.recognition([digit, visible_quadrants(x)], training=training)
        return self.recognition(digit, training=training)

    def call(self, inputs, training=False):
        x, y = _split(inputs, type(self).__name__)
        q_mean, q_log_var = self.recognition_distribution(x, y, training=training)
        p_mean, p_log_var = self.prior_distribution(x, training=training)
        z = self.sampling([q_mean, q_log_var])
        out = {
            "logits": self.generation([x, z], training=training),
            "q_mean": q_mean,
            "q_log_var": q_log_var,
            "p_mean": p_mean,
            "p_log_var": p_log_var,
        }
        if self.alpha < 1.0:
            z_prior = self.prior_sampling([p_mean, p_log_var])
            out["prior_logits"] = self.generation([x, z_prior], training=training)
        return out

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        xs, ys = _split(x, type(self).__name__)
        reconstruction = ops.mean(hidden_reconstruction_loss(xs, ys, y_pred["logits"]))
        kl = ops.mean(gaussian_kl(y_pred["q_mean"], y_pred["q_log_var"], y_pred["p_mean"], y_pred["p_log_var"]))
        self.reconstruction_tracker.update_state(reconstruction)
        self.kl_tracker.update_state(kl)
        loss = reconstruction + ops.cast(self.beta, kl.dtype) * kl
        if self.alpha < 1.0:
            gsnn = ops.mean(hidden_reconstruction_loss(xs, ys, y_pred["prior_logits"]))
            self.gsnn_tracker.update_state(gsnn)
            loss = self.alpha * loss + (1.0 - self.alpha) * gsnn
        return loss

    # ------------------------------------------------------------------ NumPy helpers
    def distributions(self, x, y) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(q_mean, q_log_var, p_mean, p_log_var), each NumPy (N, latent_dim), for the pairs (x, y)."""
        x, y = _pair(x, y)
        q = [_in_batches(lambda a, b, i=i: self.recognition_distribution(a, b)[i], x, y) for i in (0, 1)]
        p = [_in_batches(lambda a, i=i: self.prior_distribution(a)[i], x) for i in (0, 1)]
        return q[0], q[1], p[0], p[1]

    def log_likelihood(self, x, y, z) -> np.ndarray:
        """log p(y | x, z) per row, nats (N,): minus the hidden-pixel cross-entropy of the generation network."""
        x, y = _pair(x, y)
        z = np.asarray(z, dtype=np.float32)
        return -_in_batches(
            lambda a, b, c: hidden_reconstruction_loss(a, b, self.generation([a, c], training=False)), x, y, z
        ).astype(np.float64)

    def importance_parts(self, y, x):
        """What :func:`cvae_course.evaluate.importance_log_weights` needs to estimate -log p(y | x): an
        :class:`~cvae_course.evaluate.ImportanceParts` with q(z | x, y), p(z | x), the arrays (x, y) and
        log p(y | x, z) for codes of shape (S, n, latent_dim) in Keras ops (the evaluation compiles it):
        :meth:`log_likelihood_of_codes`, or the same sums rearranged (:func:`_dense_log_likelihood`) when the
        generation network is :func:`build_generation`'s dense stack."""
        from cvae_course.evaluate import ImportanceParts

        x, y = _pair(x, y)
        q_mean, q_log_var, p_mean, p_log_var = self.distributions(x, y)
        stack = _dense_stack(self.generation)
        log_likelihood = (
            self.log_likelihood_of_codes if stack is None else lambda a, b, z: _dense_log_likelihood(stack, a, b, z)
        )
        return ImportanceParts(q_mean, q_log_var, p_mean, p_log_var, (x, y), log_likelihood)

    def log_likelihood_of_codes(self, x, y, z):
        """log p(y | x, z) for S codes per pair: x, y tensors (n, 28, 28, 1), z (S, n, latent_dim) -> (S, n), nats.

        Keras ops only (it runs compiled): x is repeated S times and decoded with each code.
        """
        n_samples, n = ops.shape(z)[0], ops.shape(z)[1]
        codes = ops.reshape(z, (-1, self.latent_dim))  # row s * n + i: code s of pair i
        logits = self.generation([ops.tile(x, (n_samples, 1, 1, 1)), codes], training=False)
        hidden = ops.cast(ops.less(ops.reshape(x, (n, -1)), 0.0), "float32")
        per_pixel = pixel_cross_entropy(ops.reshape(y, (1, n, -1)), ops.reshape(logits, (n_samples, n, -1)))
        return -ops.sum(per_pixel * hidden[None], axis=-1)

    def get_config(self):
        ser = keras.saving.serialize_keras_object
        return {
            **super().get_config(),
            "recognition": ser(self.recognition),
            "prior": None if self.prior is None else ser(self.prior),
            "generation": ser(self.generation),
            "alpha": self.alpha,
            "seed": self.seed,
            "baseline": None if self.baseline is None else ser(self.baseline),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        de = keras.saving.deserialize_keras_object
        config["recognition"] = de(config["recognition"])
        config["prior"] = None if config.get("prior") is None else de(config["prior"])
        config["generation"] = de(config["generation"])
        config["baseline"] = None if config.get("baseline") is None else de(config["baseline"])
        return cls(**config)


def build_quadrant_cvae(
    latent_dim: int = 16,
    hidden: Sequence[int] = (256, 256),
    *,
    learned_prior: bool = True,
    alpha: float = 1.0,
    seed: int | None = None,
    baseline: Baseline | None = None,
    sees_quadrants: bool = True,
) -> QuadrantCVAE:
    """A :class:`QuadrantCVAE` with dense networks of ``hidden`` units; ``learned_prior=False``: a fixed N(0, I).

    With a trained ``baseline`` (of the same hidden sizes), the CVAE is built on top of it: its prior network reads
    x completed by the baseline (:meth:`QuadrantCVAE.guess`), and its generation network starts as the baseline
    (:func:`start_from_baseline`). The baseline stays frozen inside the model (a copy of it). ``sees_quadrants``:
    the recognition and prior networks also read which quadrants x shows (:func:`visible_quadrants`).
    """
    generation = build_generation(latent_dim, hidden)
    frozen = None
    if baseline is not None:
        check_model(
            baseline, Baseline, kind="quadrants.Baseline", hint="Train one with recipes.train_quadrant_baseline."
        )
        start_from_baseline(generation, baseline.network)
        frozen = keras.models.clone_model(baseline.network)  # a copy: freezing it leaves the caller's baseline be
        frozen.set_weights(baseline.network.get_weights())
    return QuadrantCVAE(
        build_recognition(latent_dim, hidden, sees_quadrants=sees_quadrants),
        build_prior(latent_dim, hidden, sees_quadrants=sees_quadrants) if learned_prior else None,
        generation,
        alpha=alpha,
        seed=seed,
        baseline=frozen,
    )


class KLWarmup(keras.callbacks.Callback):
    """A KL warm-up by optimizer step: sets a :class:`QuadrantCVAE`'s ``beta`` (the KL's weight) to
    ``min(1, step / steps)`` before each step, so it rises linearly from 0 to 1 over the first ``steps`` steps of
    training and stays 1 after them (lesson 07's :class:`cvae_course.losses.KLAnnealing`, by step instead of by
    epoch: lesson 06 trains for a few epochs). While the KL weighs little, the codes are free to carry what the
    generation network needs; a CVAE that starts as its baseline would otherwise learn to use them slowly.
    With several steps per call into TensorFlow (``steps_per_execution``), ``beta`` is set at the first step of
    each call and holds for the call's steps. The step is counted from the epoch and the batch of this ``fit``
    call (not read from the optimizer, which would wait for the device at every call).

    Args:
        steps: optimizer steps of the warm-up (positive).
    """

    def __init__(self, steps: int):
        super().__init__()
        self.steps = check_positive_int(steps, "steps")
        self._epoch = 0

    def on_train_begin(self, logs=None):
        if not isinstance(self.model, QuadrantCVAE):  # a course VAE has a `beta` too, but not always 1 at the end
            raise ValueError(
                f"KLWarmup raises the KL weight `beta` of a quadrants.QuadrantCVAE from 0 to 1, not of a "
                f"{type(self.model).__name__}: for a course VAE or CVAE use losses.KLAnnealing (lesson 07), whose "
                "schedule says where beta ends"
            )
        if not self.params.get("steps"):
            raise ValueError(
                "KLWarmup counts optimizer steps from the steps per epoch, which fit does not know for this data: "
                "give fit arrays, or a dataset together with steps_per_epoch"
            )

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        step = self._epoch * self.params["steps"] + batch
        self.model.beta.assign(min(1.0, step / self.steps))

    def on_train_end(self, logs=None):
        self.model.beta.assign(1.0)


# ------------------------------------------------------------------------------------------- evaluation
def baseline_nll(baseline: Baseline, x, y) -> np.ndarray:
    """The baseline's -log p(y | x) per image, nats (N,): its cross-entropy over the hidden pixels."""
    check_model(baseline, Baseline, kind="quadrants.Baseline", hint="Train one with recipes.train_quadrant_baseline.")
    x, y = _pair(x, y)
    return _in_batches(lambda a, b: hidden_reconstruction_loss(a, b, baseline.network(a, training=False)), x, y).astype(
        np.float64
    )


def _check_cvae(model) -> QuadrantCVAE:
    return check_model(
        model, QuadrantCVAE, kind="quadrants.QuadrantCVAE", hint="Train one with recipes.train_quadrant_cvae."
    )


CODE_SOURCES = ("recognition", "prior")


def reconstruction(
    model: QuadrantCVAE, x, y, *, codes: str = "recognition", n_samples: int = 10, seed: int = 0
) -> np.ndarray:
    """-log p(y | x, z) per image, nats (N,), averaged over ``n_samples`` codes z drawn from the recognition network
    q(z | x, y) (``codes="recognition"``: the codes of training, which have seen y) or from the prior
    p(z | x) (``codes="prior"``: the codes of test time, which have not). Their difference is the train/test gap.
    Decoded as :func:`cvae_course.evaluate.sampled_log_likelihoods` decodes (compiled, the same draws)."""
    from cvae_course.evaluate import sampled_log_likelihoods

    _check_cvae(model)
    if codes not in CODE_SOURCES:
        raise ValueError(f"codes must be one of {CODE_SOURCES} (where z comes from), got {codes!r}")
    where = "proposal" if codes == "recognition" else "prior"
    return -sampled_log_likelihoods(model, y, x, codes=where, n_samples=n_samples, seed=seed).mean(axis=0)


def negative_elbo(model: QuadrantCVAE, x, y, *, n_samples: int = 10, seed: int = 0) -> np.ndarray:
    """-ELBO of log p(y | x) per image, nats (N,): the reconstruction averaged over ``n_samples`` codes z ~ q(z|x,y)
    (:func:`reconstruction`), plus the closed-form KL(q(z|x,y) || p(z|x)). Pyro's table reports this quantity
    (10 samples; its KL is the Monte Carlo estimate, whose mean is the same)."""
    rec = reconstruction(model, x, y, n_samples=n_samples, seed=seed)
    q_mean, q_log_var, p_mean, p_log_var = model.distributions(*_pair(x, y))
    return rec + ops.convert_to_numpy(gaussian_kl(q_mean, q_log_var, p_mean, p_log_var)).astype(np.float64)


def complete(model: QuadrantCVAE, x, n_samples: int = 8, *, seed: int = 0, paste: bool = True) -> np.ndarray:
    """``n_samples`` completions of each x: z ~ p(z | x), the mean image sigmoid(logits); (n_samples, N, 28, 28, 1).

    ``paste=True`` puts x's visible pixels back, so each completion is a whole digit.
    """
    _check_cvae(model)
    n_samples = check_positive_int(n_samples, "n_samples")
    x, _ = _pair(x, x)
    sampling = Sampling(seed=seed)
    p_mean, p_log_var = (_in_batches(lambda a, i=i: model.prior_distribution(a)[i], x) for i in (0, 1))
    out = np.stack(
        [
            sigmoid(
                _in_batches(
                    lambda a, m, v: model.generation([a, sampling([m, v])], training=False), x, p_mean, p_log_var
                )
            )
            for _ in range(n_samples)
        ]
    )
    return fill(x[None], out) if paste else out


def completion_spread(model: QuadrantCVAE, x, n_samples: int = 8, *, seed: int = 0) -> np.ndarray:
    """How different the completions of each x are, (N,): the Euclidean distance between the hidden parts of two of
    its ``n_samples`` completions, sqrt(sum over the hidden pixels of the squared difference of pixel values in
    [0, 1]), averaged over every pair. In pixel-value units: one pixel turned from black to white adds 1 under the
    root. 0 for a model that always draws the same one (the baseline)."""
    x, _ = _pair(x, x)
    c = (complete(model, x, n_samples, seed=seed, paste=False) * (x[None] < 0)).reshape(n_samples, len(x), -1)
    pairs = [np.linalg.norm(c[i] - c[j], axis=1) for i in range(n_samples) for j in range(i + 1, n_samples)]
    return np.mean(pairs, axis=0).astype(np.float64)


def judged_completions(model: QuadrantCVAE, judge, x, n_samples: int = 10, *, seed: int = 0) -> np.ndarray:
    """The judge's digit for each completed image, int (n_samples, N): how often a completion changes the digit."""
    from cvae_course.evaluate import classify

    c = complete(model, x, n_samples, seed=seed)
    return classify(judge, c.reshape(-1, 28, 28, 1)).reshape(n_samples, -1)


def completion_figure(
    model: QuadrantCVAE,
    baseline: Baseline,
    images,
    n_visible: int,
    n_samples: int = 8,
    *,
    seed: int = 0,
    judge=None,
    title: str | None = None,
):
    """One row per image: the digit, what the models see (hidden part dark grey), the baseline's completion and
    ``n_samples`` CVAE completions, titled with the judge's digit when a judge is given. Returns the Figure."""
    from cvae_course.evaluate import classify
    from cvae_course.plots import image_grid

    images = as_images(images)
    x, _ = make_task(images, n_visible)
    shown = np.where(x < 0, np.float32(0.25), x)
    base = fill(x, baseline.predict_hidden(x))
    samples = complete(model, x, n_samples, seed=seed)  # (S, N, 28, 28, 1)
    rows = np.concatenate(
        [
            np.concatenate([images[i : i + 1], shown[i : i + 1], base[i : i + 1], samples[:, i]])
            for i in range(len(images))
        ]
    )
    if judge is not None:
        read = classify(judge, rows).reshape(len(images), -1)
        titles = [t for r in read for t in [f"digit: {r[0]}", "visible", f"NN: {r[2]}", *map(str, r[3:])]]
    else:
        titles = [t for _ in images for t in ["digit", "visible", "NN", *[""] * n_samples]]
    return image_grid(
        rows,
        3 + n_samples,
        titles=titles,
        size=1.0,
        title=title or f"{n_visible} visible quadrant(s): baseline (NN) and CVAE completions",
    )
