"""Autoencoder, VAE and CVAE models with dense or convolutional encoders and decoders.

All three are Keras models trained with ``model.fit(...)``. The VAE and CVAE compute the negative ELBO
in ``compute_loss`` and report ``loss``, ``reconstruction`` and ``kl`` (nats per image) as metrics.
Outside training, ``encode``, ``decode``, ``reconstruct`` and (CVAE) ``generate`` take and return NumPy
arrays; images are float32 (N, 28, 28, 1) in [0, 1] and labels are digits 0-9.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from cvae_course._keras import keras, layers, ops
from cvae_course.data import one_hot
from cvae_course.layers import Sampling
from cvae_course.losses import elbo_terms, reconstruction_loss
from cvae_course.validation import (
    NUM_CLASSES,
    as_images,
    as_labels,
    as_latent,
    as_soft_labels,
    check_beta,
    check_positive_float,
    check_positive_int,
    check_same_length,
)

__all__ = [
    "KINDS",
    "DEFAULT_HIDDEN",
    "DEFAULT_FILTERS",
    "PREDICT_BATCH",
    "build_encoder",
    "build_decoder",
    "sigmoid",
    "Autoencoder",
    "LossTerms",
    "VAE",
    "CVAE",
    "build_autoencoder",
    "build_vae",
    "build_cvae",
    "START_CLIP",
]

KINDS = ("dense", "conv")
DEFAULT_HIDDEN = (512, 256)
DEFAULT_FILTERS = (32, 64)
PREDICT_BATCH = 2048
# The pixel probabilities of the average image are clipped to [START_CLIP, 1 - START_CLIP] before taking logits when a
# decoder starts at it (build_cvae's start_images): a pixel blank in every image would otherwise start at logit -inf.
START_CLIP = 1e-3


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    return kind


# --------------------------------------------------------------------------------------------- builders
def build_encoder(
    latent_dim: int = 2,
    kind: str = "dense",
    *,
    conditional: bool = False,
    variational: bool = True,
    hidden: Sequence[int] = DEFAULT_HIDDEN,
    filters: Sequence[int] = DEFAULT_FILTERS,
) -> keras.Model:
    """Image (and one-hot label) -> (z_mean, z_log_var), or -> z when ``variational=False``.

    Args:
        latent_dim: size of the code, so each output has shape (batch, latent_dim).
        kind: "dense" (flatten, then Dense layers of ``hidden`` units) or "conv" (stride-2 3x3 convolutions of
            ``filters`` channels, then one Dense layer of ``hidden[-1]`` units).
        conditional: also take a one-hot label (batch, 10), concatenated in before the Dense layers.
        variational: output (z_mean, z_log_var) for a VAE; False outputs one code z (autoencoder).
        hidden: units of the ReLU Dense layers.
        filters: channels of the convolutions ("conv" only).

    Returns a functional ``keras.Model`` taking images (batch, 28, 28, 1) in [0, 1] (and labels).
    """
    latent_dim = check_positive_int(latent_dim, "latent_dim")
    image = keras.Input(shape=(28, 28, 1), name="image")
    inputs = [image]
    if _check_kind(kind) == "dense":
        h = layers.Flatten()(image)
        units = list(hidden)
    else:
        h = image
        for f in filters:
            h = layers.Conv2D(f, 3, strides=2, padding="same", activation="relu")(h)
        h = layers.Flatten()(h)
        units = [hidden[-1]]
    if conditional:
        label = keras.Input(shape=(NUM_CLASSES,), name="label")
        inputs.append(label)
        h = layers.Concatenate()([h, label])
    for u in units:
        h = layers.Dense(u, activation="relu")(h)
    if not variational:
        code = layers.Dense(latent_dim, name="code")(h)
        return keras.Model(inputs if conditional else image, code, name="encoder")
    z_mean = layers.Dense(latent_dim, name="z_mean")(h)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(h)
    return keras.Model(inputs if conditional else image, [z_mean, z_log_var], name="encoder")


def build_decoder(
    latent_dim: int = 2,
    kind: str = "dense",
    *,
    conditional: bool = False,
    hidden: Sequence[int] = DEFAULT_HIDDEN,
    filters: Sequence[int] = DEFAULT_FILTERS,
) -> keras.Model:
    """z (and one-hot label) -> Bernoulli logits of shape (28, 28, 1); sigmoid(logits) is the mean image.

    Args:
        latent_dim: size of the code z, shape (batch, latent_dim).
        kind: "dense" (Dense layers of ``hidden`` units in reverse, then 784 logits) or "conv" (Dense to 7 x 7 x
            ``filters[-1]``, then stride-2 transposed convolutions mirroring the encoder's).
        conditional: also take a one-hot label (batch, 10), concatenated to z.
        hidden: units of the ReLU Dense layers (the encoder's, mirrored).
        filters: channels of the encoder's convolutions, mirrored ("conv" only).

    Returns a functional ``keras.Model`` giving logits (batch, 28, 28, 1): any real number per pixel.
    """
    latent_dim = check_positive_int(latent_dim, "latent_dim")
    z = keras.Input(shape=(latent_dim,), name="z")
    inputs = [z]
    h = z
    if conditional:
        label = keras.Input(shape=(NUM_CLASSES,), name="label")
        inputs.append(label)
        h = layers.Concatenate()([z, label])
    if _check_kind(kind) == "dense":
        for u in reversed(list(hidden)):
            h = layers.Dense(u, activation="relu")(h)
        h = layers.Dense(28 * 28)(h)
        logits = layers.Reshape((28, 28, 1), name="logits")(h)
    else:
        h = layers.Dense(hidden[-1], activation="relu")(h)
        h = layers.Dense(7 * 7 * filters[-1], activation="relu")(h)
        h = layers.Reshape((7, 7, filters[-1]))(h)
        # The mirror image of the encoder: one stride-2 transposed convolution per encoder convolution,
        # the last one straight to the logits. (An extra 3x3 convolution at 28 x 28 would triple the
        # training time on a CPU for no measurable gain in test ELBO.)
        for f in reversed(list(filters)[:-1]):
            h = layers.Conv2DTranspose(f, 3, strides=2, padding="same", activation="relu")(h)
        logits = layers.Conv2DTranspose(1, 3, strides=2, padding="same", name="logits")(h)
    return keras.Model(inputs if conditional else z, logits, name="decoder")


# --------------------------------------------------------------------------------------------- models
def _batched(fn, *arrays, batch_size: int = PREDICT_BATCH):
    """Apply a Keras callable to NumPy arrays in batches; returns NumPy (a tuple for several outputs)."""
    n = len(arrays[0])
    outs = []
    for start in range(0, max(n, 1), batch_size):
        chunk = [a[start : start + batch_size] for a in arrays]
        res = fn(*chunk)
        res = res if isinstance(res, (list, tuple)) else (res,)
        outs.append([ops.convert_to_numpy(r) for r in res])
    merged = tuple(np.concatenate([o[i] for o in outs]) for i in range(len(outs[0])))
    return merged if len(merged) > 1 else merged[0]


def sigmoid(logits) -> np.ndarray:
    """Pixel probabilities from decoder logits, in NumPy, without overflow.

    ``1 / (1 + exp(-l))`` overflows in float32 for l < -88.7 and NumPy then warns on stderr (which a
    notebook shows in red and nbgrader scores as a failure); ``exp(-logaddexp(0, -l))`` never does.
    """
    return np.exp(-np.logaddexp(0.0, -np.asarray(logits, dtype=np.float32))).astype(np.float32)


class _CourseModel(keras.Model):
    """What the three models share: an encoder, a decoder, optional conditioning and NumPy helpers."""

    conditional = False
    WANTED: str | None = None  # what validation.check_model asks for when this class is expected
    HINT = ""  # and how to get one

    def __init__(self, encoder: keras.Model, decoder: keras.Model, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        # Every weight already exists in the functional encoder and decoder, so the model is built now;
        # otherwise Keras warns (on stderr) when an untrained model is saved.
        self.built = True

    @property
    def latent_dim(self) -> int:
        return int(self.decoder.inputs[0].shape[-1])

    def _split(self, inputs):
        """(images, one_hot) for a conditional model, (images, None) otherwise."""
        if self.conditional:
            if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
                raise ValueError(
                    f"{type(self).__name__} takes (images, labels_one_hot) as input, got {type(inputs).__name__}: "
                    "pass a tuple, e.g. cvae((x, data.one_hot(y))), cvae.predict((x, y_one_hot)) or "
                    "fit((x_train, y_train_one_hot)); fit's validation_data is ((x_test, y_test_one_hot),), a tuple "
                    "holding the pair (training.train checks it for you)"
                )
            return inputs[0], inputs[1]
        return inputs, None

    def _enc(self, x, y):
        x = ops.convert_to_tensor(x)
        return self.encoder([x, ops.convert_to_tensor(y)] if self.conditional else x, training=False)

    def _dec(self, z, y):
        z = ops.convert_to_tensor(z)
        return self.decoder([z, ops.convert_to_tensor(y)] if self.conditional else z, training=False)

    def _inputs(self, images, labels):
        """Validate NumPy inputs; returns (images, one_hot or None)."""
        x = as_images(images)
        if not self.conditional:
            if labels is not None:
                raise ValueError(f"{type(self).__name__} is not conditional; do not pass labels")
            return x, None
        if labels is None:
            raise ValueError(f"{type(self).__name__} needs labels (digits 0-9), one per image")
        y = as_labels(labels)
        check_same_length(x, y, "images", "labels")
        return x, one_hot(y)

    def encode(self, images, labels=None) -> np.ndarray:
        """Latent codes of the images (the mean of q(z|x) for the VAE and CVAE)."""
        x, y = self._inputs(images, labels)
        out = _batched(lambda *a: self._enc(a[0], a[1] if len(a) > 1 else None), *([x, y] if y is not None else [x]))
        return out[0] if isinstance(out, tuple) else out

    def _label_rows(self, labels, z: np.ndarray) -> np.ndarray:
        """Label rows (N, 10) for the N codes ``z``: from digits (one, or one per code) or from soft label rows."""
        if labels is None:
            raise ValueError(f"{type(self).__name__}.decode needs labels (digits 0-9), one per code")
        if np.ndim(labels) == 2:
            rows = as_soft_labels(labels)
        else:
            rows = one_hot(as_labels(labels))
        if len(rows) == 1 and len(z) > 1:
            rows = np.repeat(rows, len(z), axis=0)
        check_same_length(z, rows, "z", "labels")
        return rows

    def decode_logits(self, z, labels=None) -> np.ndarray:
        """Decoder logits, shape (N, 28, 28, 1), for the codes ``z`` of shape (N, latent_dim).

        For the CVAE, ``labels`` are digits 0-9 (one for all codes, or one per code) or label rows of shape (N, 10):
        one-hot rows, or soft ones such as ``0.3 * one_hot(3) + 0.7 * one_hot(8)`` that blend two digits.
        """
        z = as_latent(z, self.latent_dim)
        if not self.conditional:
            if labels is not None:
                raise ValueError(f"{type(self).__name__} is not conditional; do not pass labels")
            return _batched(lambda a: self._dec(a, None), z)
        return _batched(lambda a, b: self._dec(a, b), z, self._label_rows(labels, z))

    def decode(self, z, labels=None) -> np.ndarray:
        """Mean images sigmoid(decoder(z)) in [0, 1], shape (N, 28, 28, 1), for the codes ``z`` (N, latent_dim).

        ``labels`` (CVAE only) as in :meth:`decode_logits`: digits or (soft) label rows.
        """
        return sigmoid(self.decode_logits(z, labels))

    def reconstruct(self, images, labels=None) -> np.ndarray:
        """Decode the code of each image: what the model makes of it."""
        return self.decode(self.encode(images, labels), labels)

    def get_config(self):
        return {
            **super().get_config(),
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        config["decoder"] = keras.saving.deserialize_keras_object(config["decoder"])
        return cls(**config)


@keras.saving.register_keras_serializable(package="cvae_course")
class Autoencoder(_CourseModel):
    """A plain autoencoder: image -> code -> image, trained on the Bernoulli reconstruction loss."""

    def call(self, inputs, training=False):
        return self.decoder(self.encoder(inputs, training=training), training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return ops.mean(reconstruction_loss(x, y_pred))


LossTerms = Callable[..., tuple]


@keras.saving.register_keras_serializable(package="cvae_course")
class VAE(_CourseModel):
    """A variational autoencoder trained on the negative ELBO = reconstruction + beta * KL.

    ``loss_terms(x, logits, z_mean, z_log_var) -> (reconstruction, kl)`` computes the two batch-mean terms;
    the default is :func:`cvae_course.losses.elbo_terms`. Lessons pass their own to see what a wrong one does.
    ``beta`` weights the KL (1.0 is the true ELBO); :class:`cvae_course.losses.KLAnnealing` changes it.
    """

    WANTED = "VAE or CVAE"

    def __init__(
        self,
        encoder: keras.Model,
        decoder: keras.Model,
        beta: float = 1.0,
        seed: int | None = None,
        loss_terms: LossTerms | None = None,
        **kwargs,
    ):
        super().__init__(encoder, decoder, **kwargs)
        beta = check_beta(beta)
        self.seed = seed
        self.sampling = Sampling(seed=seed, name="sampling")
        self.beta = keras.Variable(beta, trainable=False, name="beta")
        self.loss_terms = loss_terms or elbo_terms
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self._prior_seed = keras.random.SeedGenerator(None if seed is None else seed + 1)

    def call(self, inputs, training=False):
        x, y = self._split(inputs)
        z_mean, z_log_var = self.encoder([x, y] if self.conditional else x, training=training)
        z = self.sampling([z_mean, z_log_var])
        logits = self.decoder([z, y] if self.conditional else z, training=training)
        return {"logits": logits, "z_mean": z_mean, "z_log_var": z_log_var}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        images, _ = self._split(x)
        reconstruction, kl = self.loss_terms(images, y_pred["logits"], y_pred["z_mean"], y_pred["z_log_var"])
        self.reconstruction_tracker.update_state(reconstruction)
        self.kl_tracker.update_state(kl)
        loss = reconstruction + ops.cast(self.beta, reconstruction.dtype) * kl
        if self.losses:
            loss = loss + ops.sum(self.losses)
        return loss

    def encode_distribution(self, images, labels=None) -> tuple[np.ndarray, np.ndarray]:
        """(z_mean, z_log_var) of q(z|x) for each image."""
        x, y = self._inputs(images, labels)
        return _batched(lambda *a: self._enc(a[0], a[1] if len(a) > 1 else None), *([x, y] if y is not None else [x]))

    def sample_prior(self, n: int, temperature: float = 1.0, seed: int | None = None) -> np.ndarray:
        """n codes from N(0, temperature^2 I); ``seed`` makes them repeatable."""
        n = check_positive_int(n, "n")
        temperature = check_positive_float(temperature, "temperature")
        eps = keras.random.normal((n, self.latent_dim), seed=seed if seed is not None else self._prior_seed)
        return ops.convert_to_numpy(eps) * np.float32(temperature)

    def sample(self, n: int, temperature: float = 1.0, seed: int | None = None) -> np.ndarray:
        """n new images decoded from codes drawn from the prior."""
        return self.decode(self.sample_prior(n, temperature, seed))

    def get_config(self):
        return {**super().get_config(), "beta": float(ops.convert_to_numpy(self.beta)), "seed": self.seed}


@keras.saving.register_keras_serializable(package="cvae_course")
class CVAE(VAE):
    """A conditional VAE: the one-hot label goes into both the encoder and the decoder.

    Train with ``fit((images, labels_one_hot), ...)``; ``generate(labels)`` draws the requested digits.
    """

    conditional = True
    WANTED = "CVAE"
    HINT = "Load the course CVAE with cvae_course.recipes.load_cvae()."

    def sample(self, n: int, temperature: float = 1.0, seed: int | None = None) -> np.ndarray:
        """A CVAE draws digits of the labels it is given: use :meth:`generate` (this raises a ValueError saying so)."""
        raise ValueError(
            f"a CVAE draws the digits you ask for: use generate(labels), e.g. cvae.generate([3] * {n!r}) or "
            "cvae.generate(np.arange(10)), not sample(n)"
        )

    def generate(self, labels, z=None, temperature: float = 1.0, seed: int | None = None) -> np.ndarray:
        """One image per label: mean images (N, 28, 28, 1) in [0, 1].

        Args:
            labels: the digits 0-9 to draw, shape (N,).
            z: codes (N, latent_dim), or one code, (latent_dim,) or (1, latent_dim), for all labels (default: draws
                from the prior).
            temperature: scales the codes: the decoder sees ``temperature * z``, and drawn codes come from
                N(0, temperature^2 I).
            seed: makes the drawn codes repeatable.
        """
        y = as_labels(labels)
        if not len(y):
            raise ValueError("labels must name at least one digit 0-9 to draw, got none; e.g. generate([3, 3, 8])")
        if z is None:
            z = self.sample_prior(len(y), temperature, seed)
        else:
            temperature = check_positive_float(temperature, "temperature")
            z = as_latent(z, self.latent_dim) * np.float32(temperature)
            if len(z) == 1 and len(y) > 1:  # one code serves every label
                z = np.repeat(z, len(y), axis=0)
        return self.decode(z, y)


def build_autoencoder(latent_dim: int = 2, kind: str = "dense", **arch) -> Autoencoder:
    """A plain autoencoder with a dense or convolutional encoder and decoder.

    Args:
        latent_dim: size of the code.
        kind: "dense" or "conv" (see :func:`build_encoder`).
        **arch: ``hidden`` and ``filters`` for both halves.
    """
    return Autoencoder(
        build_encoder(latent_dim, kind, variational=False, **arch), build_decoder(latent_dim, kind, **arch)
    )


def build_vae(
    latent_dim: int = 2,
    kind: str = "dense",
    *,
    beta: float = 1.0,
    seed: int | None = None,
    loss_terms: LossTerms | None = None,
    **arch,
) -> VAE:
    """A VAE with a dense or convolutional encoder and decoder.

    Args:
        latent_dim: size of the code z.
        kind: "dense" or "conv" (see :func:`build_encoder`).
        beta: weight of the KL term (1 is the true negative ELBO).
        seed: makes the sampling of z (and of prior codes) repeatable.
        loss_terms: ``(x, logits, z_mean, z_log_var) -> (reconstruction, kl)``, batch means in nats per image
            (default :func:`cvae_course.losses.elbo_terms`).
        **arch: ``hidden`` and ``filters`` for both halves.
    """
    return VAE(
        build_encoder(latent_dim, kind, **arch),
        build_decoder(latent_dim, kind, **arch),
        beta=beta,
        seed=seed,
        loss_terms=loss_terms,
    )


def build_cvae(
    latent_dim: int = 2,
    kind: str = "dense",
    *,
    beta: float = 1.0,
    seed: int | None = None,
    loss_terms: LossTerms | None = None,
    start_images=None,
    **arch,
) -> CVAE:
    """A CVAE: the one-hot label is concatenated into both encoder and decoder.

    Args: the same as :func:`build_vae`'s, and
        start_images: opt-in, data-dependent initialisation (dense decoder only): training images (N, 28, 28, 1)
            in [0, 1]. The decoder's 784 output biases start at the logits of their per-pixel mean (clipped to
            [``START_CLIP``, 1 - ``START_CLIP``]), so the untrained decoder already draws the average training
            image (0.004 from it per pixel on average, measured at seed 42 for 1,000 codes; Keras's start: 0.37, a
            grey 0.5 everywhere), and training does not spend its first steps learning it. The
            course CVAE's recipe starts this way (:func:`cvae_course.recipes.train_cvae`; the time it saves is
            measured by benchmarks/train_speed.py). Default None: Keras's initialisation (zero biases).
    """
    encoder = build_encoder(latent_dim, kind, conditional=True, **arch)  # first: the seeded weights come in order
    decoder = build_decoder(latent_dim, kind, conditional=True, **arch)
    if start_images is not None:
        _start_at_average(decoder, start_images, kind)
    return CVAE(
        encoder,
        decoder,
        beta=beta,
        seed=seed,
        loss_terms=loss_terms,
    )


def _start_at_average(decoder: keras.Model, images, kind: str) -> None:
    """Set a dense decoder's output biases to the logits of the per-pixel mean of ``images`` (see build_cvae)."""
    if kind != "dense":
        raise ValueError(
            f"start_images needs the dense decoder (kind='dense'): the {kind!r} decoder's last layer has one bias for "
            "all pixels. Leave start_images out for this kind."
        )
    x = as_images(images, "start_images")
    if len(x) == 0:
        raise ValueError("start_images must hold at least one image (the training images whose average to start at)")
    mean = np.clip(x.reshape(len(x), -1).mean(axis=0, dtype=np.float64), START_CLIP, 1.0 - START_CLIP)
    output = [layer for layer in decoder.layers if isinstance(layer, layers.Dense)][-1]
    output.bias.assign(np.log(mean / (1.0 - mean)).astype(np.float32))
