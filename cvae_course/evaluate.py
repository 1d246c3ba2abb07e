"""Measuring models: negative ELBO, what a judge classifier reads, conditional accuracy, diversity, and how close
generated digits come to real ones through the judge's eyes.

Metrics only: the models measured, and the judge (:func:`cvae_course.recipes.load_judge`, a small convolutional
digit classifier trained once and cached), come from elsewhere.

* :func:`negative_elbo_per_image` scores each image in nats (lower is better); its mean over the test
  set (:func:`mean_negative_elbo`) is the usual number to compare VAEs by, :func:`mean_elbo_terms` splits it
  into reconstruction and KL.
* :func:`classify` and :func:`accuracy`: what the judge reads.
* :func:`conditional_accuracy`: the share of digits generated for label k that the judge reads as k.
* :func:`diversity`: how varied the generated digits of each label are, relative to real digits of that
  label (about 0.6 for a healthy 2-D CVAE, near 0 when every sample of a label is the same average digit).
* :func:`same_label_neighbours`: how much a latent space is sorted by label (1: a region per label; about 0.1:
  labels mixed, as in a CVAE whose code holds the style and not the class).

Conditional accuracy is lenient: the judge reads a smudge as a 1 as long as it looks more like a 1 than like
anything else, and it reads one average digit per label perfectly. Stricter measures compare generated digits with
real ones through the judge's eyes. :class:`RealDigits` holds real digits of every label as the judge sees them
(computed once); :func:`sample_quality` (a CVAE's samples) and :func:`quality_of` (any images with the label each
should show, e.g. style transfers) return a :class:`SampleQuality`, per label, next to the same numbers for real
digits (the floor):

* :func:`judge_confidence`: the probability the judge gives the requested label. It drops for blurred digits and
  for some smudges, but it cannot see variety: an average digit, or samples at a low temperature, are read with
  *more* confidence than real handwriting.
* :func:`frechet_distance` between the judge's features (:func:`judge_features`, its penultimate layer) of
  generated and of real digits: the distance between two Gaussians fitted to the two sets (the recipe of the FID,
  with the judge in place of an Inception network). It grows when generated digits look unlike real ones *and* when
  they vary less or otherwise than real ones, so it sees blur and collapse; but it sees only what the judge's
  features encode, it is one number per set (it cannot say which samples are bad, nor whether quality or variety
  is to blame), and it is biased upwards for small sets: read it against the floor of real digits of the same count.
* :meth:`RealDigits.atypicality`: per image, how far it lies from every real digit of its label in the judge's
  features (1 = a typical real digit); it ranks samples, to find the smudges to look at.

Yardsticks and likelihoods (lessons 00 and 02):

* :func:`average_digit` and :func:`average_digit_nll`: the "model" that draws the average training digit for every
  image, and its reconstruction loss: the baseline every model must beat, computed one way for every lesson.
* :func:`entropy_floor`: the lowest binary cross-entropy any model can reach on grey (not binarized) pixels, the
  pixels' own entropy: about 45.5 nats per MNIST test image, under every model of the course.
* :func:`importance_sampled_nll`: an estimate of -log p(x) (or -log p(x | label), or lesson 06's -log p(y | x) for a
  model with a prior network) by importance sampling with S codes per image (the IWAE bound of Burda, Grosse and
  Salakhutdinov, 2016): never above the -ELBO on average, and closer to -log p(x) as S grows.
  :func:`importance_log_weights` and :func:`log_mean_exp` are its two halves.
* :func:`aggregate_posterior_variance` and :func:`aggregate_posterior_density`: the codes of all images together,
  q(z) = mean over x of q(z | x), which the ELBO pulls towards the prior N(0, I) but does not make equal to it.
"""

from __future__ import annotations

import contextvars
import time
import weakref
from dataclasses import dataclass, replace

import numpy as np

from cvae_course._keras import keras, ops, tf
from cvae_course.data import one_hot
from cvae_course.layers import Sampling
from cvae_course.losses import kl_divergence, pixel_cross_entropy, reconstruction_loss
from cvae_course.models import CVAE, PREDICT_BATCH, VAE
from cvae_course.training import _in_notebook
from cvae_course.validation import (
    NUM_CLASSES,
    as_images,
    as_labels,
    check_model,
    check_positive_int,
    check_same_length,
    check_text,
)

__all__ = [
    "Progress",
    "RealDigits",
    "SampleQuality",
    "accuracy",
    "classify",
    "conditional_accuracy",
    "diversity",
    "elbo_terms_per_image",
    "frechet_distance",
    "generate_per_label",
    "judge_confidence",
    "judge_features",
    "judge_probabilities",
    "mean_elbo_terms",
    "mean_negative_elbo",
    "mean_pairwise_distance",
    "negative_elbo_per_image",
    "quality_of",
    "same_label_neighbours",
    "sample_quality",
    # yardsticks and likelihoods (lessons 00 and 02)
    "aggregate_posterior_density",
    "aggregate_posterior_variance",
    "average_digit",
    "average_digit_nll",
    "entropy_floor",
    "gaussian_log_density",
    "hole_share",
    "ImportanceParts",
    "importance_log_weights",
    "importance_sampled_nll",
    "log_mean_exp",
    "masked_log_likelihood",
    "FUSE_MIN_CALLS",
    "sampled_log_likelihoods",
]


def elbo_terms_per_image(
    model: VAE, images, labels=None, *, n_samples: int = 1, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
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
    if not len(x):
        raise ValueError("images holds no images: pass at least one (e.g. mnist.x_test) to score")
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


def mean_elbo_terms(
    model: VAE, images, labels=None, *, n_samples: int = 1, seed: int = 0
) -> tuple[float, float, float]:
    """Mean (reconstruction, KL, negative ELBO) over a set of images, in nats per image, for a results table."""
    rec, kl = elbo_terms_per_image(model, images, labels, n_samples=n_samples, seed=seed)
    return float(np.mean(rec)), float(np.mean(kl)), float(np.mean(rec + kl))


def _check_classifier(judge):
    """A classifier: a model (or callable) mapping images to 10 logits, not one of the course's generative models."""
    from cvae_course.models import _CourseModel

    if not callable(judge) or isinstance(judge, _CourseModel):
        raise ValueError(
            f"judge must be a classifier (images -> 10 logits), e.g. recipes.load_judge(), got {type(judge).__name__}"
            + (": a generative model does not read digits" if isinstance(judge, _CourseModel) else "")
        )
    return judge


def classify(judge: keras.Model, images) -> np.ndarray:
    """The judge's label for each image (judge: a classifier such as :func:`cvae_course.recipes.load_judge`)."""
    _check_classifier(judge)
    x = as_images(images)
    if not len(x):
        raise ValueError("images holds no images: pass at least one to classify")
    logits = np.concatenate(
        [ops.convert_to_numpy(judge(x[i : i + PREDICT_BATCH], training=False)) for i in range(0, len(x), PREDICT_BATCH)]
    )
    if logits.ndim != 2 or logits.shape[1] != NUM_CLASSES:
        raise ValueError(
            f"judge must output {NUM_CLASSES} logits per image, got shape {logits.shape[1:]}: use recipes.load_judge()"
        )
    return logits.argmax(axis=1)


def accuracy(judge: keras.Model, images, labels) -> float:
    """Share of images the judge labels correctly."""
    predicted, y = classify(judge, images), as_labels(labels)
    check_same_length(predicted, y, "images", "labels")
    return float(np.mean(predicted == y))


# ------------------------------------------------------------------------------------- generation quality
def generate_per_label(model: CVAE, n_per_label: int = 200, *, temperature: float = 1.0, seed: int = 0):
    """``n_per_label`` generated digits for each label 0-9: (images, labels), labels in blocks."""
    check_model(model, CVAE)
    n = check_positive_int(n_per_label, "n_per_label")
    labels = np.repeat(np.arange(NUM_CLASSES), n)
    return model.generate(labels, temperature=temperature, seed=seed), labels


def conditional_accuracy(
    model: CVAE, judge: keras.Model, n_per_label: int = 200, *, temperature: float = 1.0, seed: int = 0
) -> tuple[float, np.ndarray]:
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
    t = tf.constant(x)  # in TensorFlow: see _covariance
    sq = tf.reduce_sum(t * t, axis=1)
    d2 = np.maximum((sq[:, None] + sq[None, :] - 2.0 * tf.matmul(t, t, transpose_b=True)).numpy(), 0.0)
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


# ------------------------------------------------------------------------------------------------------ progress
class Progress:
    """One line that says how far a long measurement has come (a lesson must not sit silent for long): updated in
    place in a notebook, one line at the end elsewhere.

    Use as ``with Progress("scoring under each label", total=10) as step: ... step(k + 1)``.
    """

    def __init__(self, what: str, total: int, *, show: bool = True):
        self.what, self.total, self.show = check_text(what, "what"), check_positive_int(total, "total"), show
        self._handle, self._start = None, 0.0

    def _line(self, done: int) -> str:
        return f"{self.what}: {done}/{self.total} ({time.perf_counter() - self._start:.1f} s)"

    def __enter__(self):
        self._start = time.perf_counter()
        if self.show and _in_notebook():
            from IPython.display import display

            self._handle = display({"text/plain": self._line(0)}, raw=True, display_id=True)
        return self.step

    def step(self, done: int) -> None:
        """Say that ``done`` of ``total`` steps are finished."""
        if self._handle is not None:
            self._handle.update({"text/plain": self._line(done)}, raw=True)

    def __exit__(self, *exc):
        if self.show and self._handle is None and exc[0] is None:
            print(self._line(self.total), flush=True)
        return False


# ----------------------------------------------------------------------------------------------- the latent space
def same_label_neighbours(codes, labels, k: int = 10, *, max_points: int = 2000, seed: int = 0) -> float:
    """How much a latent space is sorted by label: the share of each code's ``k`` nearest other codes (Euclidean)
    that carry the same label, averaged over up to ``max_points`` codes drawn at random.

    About 1 when each label has a region of its own; about sum_k p_k^2 (0.1 for ten equally common labels) when the
    labels are mixed, as if the codes said nothing about the label.

    Args:
        codes: (N, latent_dim), e.g. ``model.encode(images, labels)``.
        labels: the label of each code, shape (N,).
        k: neighbours per code.
        max_points: use at most this many codes (the distances are N x N).
        seed: which codes, when there are more.
    """
    z = np.asarray(codes, dtype=np.float64)
    y = as_labels(labels)
    if z.ndim != 2 or len(z) != len(y):
        raise ValueError(f"codes must have shape (N, latent_dim) with N = len(labels) = {len(y)}, got {z.shape}")
    k = check_positive_int(k, "k")
    keep = np.random.default_rng(seed).permutation(len(z))[: check_positive_int(max_points, "max_points")]
    z, y = z[keep], y[keep]
    if len(z) <= k:
        raise ValueError(f"need more than k={k} codes to find k neighbours of each, got {len(z)}")
    t = tf.constant(z)  # in TensorFlow: see _covariance
    sq = tf.reduce_sum(t * t, axis=1)
    d2 = (sq[:, None] + sq[None, :] - 2.0 * tf.matmul(t, t, transpose_b=True)).numpy()
    np.fill_diagonal(d2, np.inf)  # a code is not its own neighbour
    nearest = np.argsort(d2, axis=1, kind="stable")[:, :k]
    return float(np.mean(y[nearest] == y[:, None]))


# ------------------------------------------------------------------------ stricter: the judge's confidence and its eyes
_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # judge -> its compiled pass


def _check_judge(judge):
    layers = getattr(judge, "layers", None)
    if not callable(judge) or not layers or len(layers) < 2:
        raise ValueError(
            "judge must be the course's classifier, a Keras Sequential model (image -> 10 logits) with "
            f"a layer before its last; get it with cvae_course.recipes.load_judge(), got {judge!r}"
        )
    return judge


def _features_and_logits(judge, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(penultimate features (N, F), logits (N, 10)) in one compiled pass over the judge, in batches."""
    judge = _check_judge(judge)
    if judge not in _COMPILED:

        def both(batch):
            h = batch
            for layer in judge.layers[:-1]:
                h = layer(h, training=False)
            return h, judge.layers[-1](h, training=False)

        _COMPILED[judge] = tf.function(both, reduce_retracing=True, autograph=False)  # plain Python: no AutoGraph
    fn = _COMPILED[judge]
    parts = [fn(ops.convert_to_tensor(x[i : i + PREDICT_BATCH])) for i in range(0, len(x), PREDICT_BATCH)]
    return (
        np.concatenate([ops.convert_to_numpy(f) for f, _ in parts]).astype(np.float64),
        np.concatenate([ops.convert_to_numpy(g) for _, g in parts]).astype(np.float64),
    )


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


def judge_probabilities(judge: keras.Model, images) -> np.ndarray:
    """The judge's probability of each digit 0-9 for each image (softmax of its logits): shape (N, 10)."""
    return _softmax(_features_and_logits(judge, as_images(images))[1])


def judge_confidence(judge: keras.Model, images, labels) -> np.ndarray:
    """The probability the judge gives to ``labels[i]`` for image i, shape (N,): 1 = sure it shows that digit."""
    x, y = as_images(images), as_labels(labels)
    check_same_length(x, y, "images", "labels")
    return judge_probabilities(judge, x)[np.arange(len(y)), y]


def judge_features(judge: keras.Model, images) -> np.ndarray:
    """What the judge sees in each image: the output of its penultimate layer, shape (N, F) (F = 128 for the
    course judge), the features its last layer turns into the ten digit scores."""
    return _features_and_logits(judge, as_images(images))[0]


# The small dense linear algebra below runs in TensorFlow, not NumPy: NumPy's multithreaded OpenBLAS competes with
# TensorFlow's own threads and was measured 17x slower for one 128 x 128 eigendecomposition (2 busy cores).
def _covariance(features: np.ndarray):
    f = tf.constant(features, tf.float64)
    centred = f - tf.reduce_mean(f, axis=0, keepdims=True)
    return tf.matmul(centred, centred, transpose_a=True) / float(len(features) - 1)


def _psd_sqrt(matrix):
    w, v = tf.linalg.eigh((matrix + tf.transpose(matrix)) / 2.0)
    return tf.matmul(v * tf.sqrt(tf.maximum(w, 0.0)), v, transpose_b=True)


def frechet_distance(features_a, features_b) -> float:
    """Fréchet distance between Gaussians fitted to two sets of feature vectors (the FID's formula):

    ``||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))``, in squared feature units; 0 for identical sets.

    Args:
        features_a: (N_a, F), e.g. :func:`judge_features` of generated digits; N_a >= 2.
        features_b: (N_b, F), the same features of real digits; N_b >= 2.

    It is biased upwards for small sets (two samples of the same distribution score above 0), so compare it only
    with a distance computed from sets of the same sizes, e.g. real digits against real digits.
    """
    a, b = (np.asarray(f, dtype=np.float64) for f in (features_a, features_b))
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(
            f"features_a and features_b must be (N, F) arrays with the same F, got {a.shape} and {b.shape}"
        )
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"each set needs at least 2 feature vectors to fit a covariance, got {len(a)} and {len(b)}")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError("features must be finite numbers; drop or fix the NaN/inf rows first")
    cov_a, cov_b = _covariance(a), _covariance(b)
    root_a = _psd_sqrt(cov_a)
    cross = tf.linalg.eigvalsh(root_a @ cov_b @ root_a)  # the eigenvalues of S_a S_b, all >= 0
    trace_sqrt = float(tf.reduce_sum(tf.sqrt(tf.maximum(cross, 0.0))))
    traces = float(tf.linalg.trace(cov_a) + tf.linalg.trace(cov_b))
    distance = float(np.sum((a.mean(axis=0) - b.mean(axis=0)) ** 2)) + traces - 2.0 * trace_sqrt
    return max(distance, 0.0)


MIN_PER_LABEL = 10


def _nearest_distance(features: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Euclidean distance from each row of ``features`` to its nearest row of ``reference`` (in TensorFlow, see
    :func:`_covariance`)."""
    f, r = tf.constant(features, tf.float64), tf.constant(reference, tf.float64)
    sq = (
        tf.reduce_sum(f * f, axis=1)[:, None]
        + tf.reduce_sum(r * r, axis=1)[None]
        - 2.0 * tf.matmul(f, r, transpose_b=True)
    )
    return np.sqrt(np.maximum(tf.reduce_min(sq, axis=1).numpy(), 0.0))


class RealDigits:
    """Real digits of every label as the judge sees them, computed once and compared against by :func:`quality_of`.

    For each label k the real digits are shuffled and split in two: up to ``max_per_label`` (at most half of them)
    are *held aside*, and the rest are the *reference*. Generated digits are compared with the reference, and so
    are held-aside real digits, in sets of the same size: they give the floor, what real handwriting scores.

    Args:
        judge: the course's classifier (:func:`cvae_course.recipes.load_judge`).
        images: real digits (M, 28, 28, 1) in [0, 1], e.g. the test set; at least 20 of every label.
        labels: their digits 0-9, shape (M,).
        max_per_label: real digits held aside per label (so at most this many generated digits are compared).
        seed: makes the split repeatable.
    """

    def __init__(self, judge: keras.Model, images, labels, *, max_per_label: int = 200, seed: int = 0):
        x, y = as_images(images), as_labels(labels)
        check_same_length(x, y, "images", "labels")
        cap = check_positive_int(max_per_label, "max_per_label")
        rng = np.random.default_rng(seed)
        self.judge = _check_judge(judge)
        self.held, self.held_probabilities, self.held_correct, self.reference = [], [], [], []
        self.typical_distance = np.zeros(NUM_CLASSES)  # per label: a median real digit's distance to the reference
        for k in range(NUM_CLASSES):
            idx = rng.permutation(np.flatnonzero(y == k))
            if len(idx) < 2 * MIN_PER_LABEL:
                raise ValueError(
                    f"images hold {len(idx)} real digit(s) with label {k}; RealDigits needs at least "
                    f"{2 * MIN_PER_LABEL} of every label (pass the test set)"
                )
            n = min(cap, len(idx) // 2)
            feats, logits = _features_and_logits(judge, x[idx])
            probs = _softmax(logits[:n])
            self.held.append(feats[:n])
            self.held_probabilities.append(probs[:, k])
            self.held_correct.append(probs.argmax(axis=1) == k)
            self.reference.append(feats[n:])
            self.typical_distance[k] = np.median(_nearest_distance(feats[:n], feats[n:]))
        self.max_per_label = cap

    def __repr__(self) -> str:
        held = [len(h) for h in self.held]
        ref = [len(r) for r in self.reference]
        return (
            f"RealDigits: {min(held)}-{max(held)} real digits held aside and {min(ref)}-{max(ref)} as the "
            "reference, per label"
        )

    def atypicality(self, images, labels) -> np.ndarray:
        """How far each image lies from every real digit of its label, through the judge's eyes, shape (N,).

        The distance of its judge features to the nearest reference digit of ``labels[i]``, over the same distance
        for a median held-aside real digit: 1 for a typical real digit, larger the farther out it lies. It ranks
        digits (which generated digits look least like any real one?) rather than judging one alone: how far real
        digits themselves spread differs from label to label (the real 1s are the most alike).
        """
        x, y = as_images(images), as_labels(labels)
        check_same_length(x, y, "images", "labels")
        feats, _ = _features_and_logits(self.judge, x)
        out = np.empty(len(y))
        for k in np.unique(y):
            out[y == k] = _nearest_distance(feats[y == k], self.reference[k]) / self.typical_distance[k]
        return out


@dataclass(frozen=True)
class SampleQuality:
    """Generated digits against real ones, per label 0-9, through the judge (see :func:`quality_of`).

    Every array has shape (10,). ``n``: generated digits (and held-aside real digits) compared per label.
    ``accuracy``: the share the judge reads as the label. ``confidence``: the judge's mean probability of the label.
    ``frechet``: the Fréchet distance between the judge's features and the real reference's (squared feature units).
    Each ``*_real`` is the same for the real digits held aside: the floor.
    """

    n: np.ndarray
    accuracy: np.ndarray
    accuracy_real: np.ndarray
    confidence: np.ndarray
    confidence_real: np.ndarray
    frechet: np.ndarray
    frechet_real: np.ndarray

    @property
    def frechet_ratio(self) -> np.ndarray:
        """Fréchet distance of the generated digits over the real floor, per label: 1 = as close as real digits."""
        return self.frechet / self.frechet_real

    def _count(self) -> str:
        low, high = int(self.n.min()), int(self.n.max())
        return str(low) if low == high else f"{low} to {high}"

    def table(self, title: str = "generated vs real digits") -> str:
        """The numbers as a text table: one row per label and a row of means."""
        head = (
            f"{title}: {self._count()} generated and as many real digits per label\n"
            f"{'label':>5}  {'read as label':>15}  {'judge confidence':>17}  {'Fréchet distance':>22}\n"
            f"{'':>5}  {'gen':>7} {'real':>7}  {'gen':>8} {'real':>8}  {'gen':>8} {'real':>6} {'ratio':>6}"
        )
        cells = [
            (
                str(k),
                self.accuracy[k],
                self.accuracy_real[k],
                self.confidence[k],
                self.confidence_real[k],
                self.frechet[k],
                self.frechet_real[k],
                self.frechet_ratio[k],
            )
            for k in range(NUM_CLASSES)
        ]
        cells.append(
            (
                "mean",
                *(
                    np.mean(v)
                    for v in (
                        self.accuracy,
                        self.accuracy_real,
                        self.confidence,
                        self.confidence_real,
                        self.frechet,
                        self.frechet_real,
                        self.frechet_ratio,
                    )
                ),
            )
        )
        rows = [
            f"{k:>5}  {a:>7.1%} {ar:>7.1%}  {c:>8.3f} {cr:>8.3f}  {f:>8.1f} {fr:>6.1f} {r:>6.1f}"
            for k, a, ar, c, cr, f, fr, r in cells
        ]
        return "\n".join([head, *rows])

    def __repr__(self) -> str:
        return self.table()


def quality_of(images, labels, real: RealDigits, *, seed: int = 0) -> SampleQuality:
    """How generated digits compare with real ones of the same label, through the judge, per label.

    For each label k, n_k = min(generated digits of k, real digits of k held aside) of each are compared with the
    real reference: the share the judge reads as k, the judge's mean probability of k, the Fréchet distance between
    the judge's features and the reference's.

    Args:
        images: generated digits (N, 28, 28, 1) in [0, 1].
        labels: the digit each was meant to show, shape (N,); at least 10 of every digit 0-9.
        real: the real digits to compare with (:class:`RealDigits`, which also holds the judge).
        seed: which generated digits are compared when there are more than the real ones held aside.
    """
    x, y = as_images(images), as_labels(labels)
    check_same_length(x, y, "images", "labels")
    if not isinstance(real, RealDigits):
        raise ValueError(
            f"real must be evaluate.RealDigits(judge, real_images, real_labels), got {type(real).__name__}"
        )
    rng = np.random.default_rng(seed)
    picks = []
    for k in range(NUM_CLASSES):
        gen_k = np.flatnonzero(y == k)
        if len(gen_k) < MIN_PER_LABEL:
            raise ValueError(
                f"images hold {len(gen_k)} digit(s) meant to be {k}; quality_of needs at least "
                f"{MIN_PER_LABEL} of every label"
            )
        picks.append(np.sort(rng.choice(gen_k, min(len(gen_k), len(real.held[k])), replace=False)))
    idx = np.concatenate(picks)
    feats, logits = _features_and_logits(real.judge, x[idx])
    probs, yg = _softmax(logits), y[idx]
    out = {name: np.zeros(NUM_CLASSES) for name in ("n", "acc", "acc_r", "conf", "conf_r", "fd", "fd_r")}
    for k in range(NUM_CLASSES):
        g = yg == k
        n = int(g.sum())
        out["n"][k] = n
        out["acc"][k] = np.mean(probs[g].argmax(axis=1) == k)
        out["acc_r"][k] = np.mean(real.held_correct[k][:n])
        out["conf"][k] = probs[g, k].mean()
        out["conf_r"][k] = real.held_probabilities[k][:n].mean()
        out["fd"][k] = frechet_distance(feats[g], real.reference[k])
        out["fd_r"][k] = frechet_distance(real.held[k][:n], real.reference[k])
    return SampleQuality(
        out["n"].astype(int), out["acc"], out["acc_r"], out["conf"], out["conf_r"], out["fd"], out["fd_r"]
    )


def sample_quality(
    model: CVAE, real: RealDigits, n_per_label: int = 200, *, temperature: float = 1.0, seed: int = 0
) -> SampleQuality:
    """:func:`quality_of` for ``n_per_label`` digits of each label generated by a CVAE (z ~ N(0, temperature^2 I)).

    At most as many generated digits per label are compared as ``real`` holds aside.
    """
    images, labels = generate_per_label(model, n_per_label, temperature=temperature, seed=seed)
    return quality_of(images, labels, real, seed=seed)


# ------------------------------------------------------------------------------ yardsticks and likelihoods
AVERAGE_DIGIT_CLIP = 1e-4  # keeps log p and log(1 - p) finite where no training image has ink (or all have)


def average_digit(train_images) -> np.ndarray:
    """The mean of the training images, pixel by pixel, clipped to [1e-4, 1 - 1e-4]: shape (28, 28, 1).

    Read as Bernoulli probabilities of ink, it is the "model" that ignores its input and draws this one picture
    for every image.
    """
    x = as_images(train_images, "train_images")
    return np.clip(x.mean(axis=0, dtype=np.float64), AVERAGE_DIGIT_CLIP, 1 - AVERAGE_DIGIT_CLIP).astype(np.float32)


def _bernoulli_nll(images: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """-sum_i [x_i log p_i + (1 - x_i) log(1 - p_i)] per image, in float64 nats, for one picture of probabilities
    p (the shape of one image) shared by all images; p must lie inside (0, 1). The logs are taken once per pixel,
    and the sum over pixels is a matrix product."""
    x = images.reshape(len(images), -1).astype(np.float64)
    p = probabilities.reshape(-1).astype(np.float64)
    return -(x @ np.log(p) + (1 - x) @ np.log1p(-p))


def average_digit_nll(train_images, images) -> float:
    """The average-digit baseline: mean reconstruction loss (nats per image) of ``images`` under the average digit.

    Args:
        train_images: the images the average is taken over (N, 28, 28, 1) in [0, 1] (the lessons' training set).
        images: the images scored (M, 28, 28, 1) in [0, 1] (the lessons' whole test set).

    Returns the mean over ``images`` of the binary cross-entropy summed over the 784 pixels, the reconstruction loss
    of every model of the course: a model that looks at its input must score below it.
    """
    x = as_images(images)
    return float(np.mean(_bernoulli_nll(x, average_digit(train_images))))


def entropy_floor(images) -> np.ndarray:
    """The lowest reconstruction loss any model can reach on each image: its pixels' entropy, nats, shape (N,).

    The binary cross-entropy -[x log p + (1 - x) log(1 - p)] of a pixel of grey value x is smallest at p = x, where
    it equals the entropy of a coin with probability x: 0 for pixels of exactly 0 or 1, up to log 2 = 0.69 nats for
    x = 0.5. Summed over the pixels, that floor lies under every model scored on grey targets (about 45.5 nats per
    MNIST test image); on binarized images it is 0.
    """
    x = as_images(images).astype(np.float64)
    inside = (x > 0) & (x < 1)
    safe = np.where(inside, x, 0.5)
    per_pixel = np.where(inside, -(safe * np.log(safe) + (1 - safe) * np.log1p(-safe)), 0.0)
    return per_pixel.reshape(len(x), -1).sum(axis=1)


def log_mean_exp(values, axis: int = 0) -> np.ndarray:
    """log(mean(exp(values), axis)), computed without overflow or underflow (float64).

    Log-likelihoods of images are a few hundred nats below 0, where exp underflows to 0; subtracting the largest
    value first keeps every term representable.
    """
    v = np.asarray(values, dtype=np.float64)
    top = np.max(v, axis=axis, keepdims=True)
    return np.squeeze(top, axis=axis) + np.log(np.mean(np.exp(v - top), axis=axis))


def gaussian_log_density(z, mean, log_var) -> np.ndarray:
    """log N(z; mean, diag(exp(log_var))), summed over the last axis (the latent dimensions); float64."""
    z, mean, log_var = (np.asarray(a, dtype=np.float64) for a in (z, mean, log_var))
    return -0.5 * np.sum(np.log(2 * np.pi) + log_var + (z - mean) ** 2 * np.exp(-log_var), axis=-1)


IMPORTANCE_ROWS = 16_384  # codes decoded per compiled call: a few tens of MB of logits
LOG_2PI = float(np.log(2 * np.pi))


def _masked_log_likelihood(targets, logits, mask):
    """log p(targets | logits) of Bernoulli pixels, summed over the last axis where ``mask`` is 1: nats.

    Broadcasting shapes, e.g. targets (1, n, P), logits (S, n, P), mask (1, n, P) -> (S, n).
    """
    return -ops.sum(pixel_cross_entropy(targets, logits) * mask, axis=-1)


# The cross-entropy of S codes x n images x P pixels is nine elementwise passes over tens of MB of logits when
# TensorFlow runs them one by one; XLA fuses them into one (compiled once per shape: 0.15-0.30 CPU s, measured by a
# review): for 163 images x 100 codes x 588 pixels 60.7 -> 37.7 ms CPU, and lesson 06's scoring of one CVAE in three
# settings 29.4 -> 26.8 CPU s (benchmarks/importance_speed.py, load 4-6.5); the sums differ from the unfused ones by
# float32 rounding (at most 3e-5 nats per image). Where XLA cannot compile (a device plugin without it), the
# unfused function computes the same.
_fused = tf.function(_masked_log_likelihood, jit_compile=True, reduce_retracing=True, autograph=False)
_unfused = tf.function(_masked_log_likelihood, reduce_retracing=True, autograph=False)
_XLA_WORKS: list[bool] = []  # filled by the first call: can this TensorFlow compile the fused function?
# The compile is paid once per shape and a call saves tens of ms, so a scoring fuses only when it makes at least this
# many compiled calls: lesson 06's 10,000 test images in calls of 163 do (62 per setting); lesson 02's 500 images
# with S = 1 / 10 / 100 (1, 1 and 4 calls, 3 shapes) do not: fused, that loop took 2.05-2.17 CPU s against
# 1.25-1.72 unfused (a random-weight 2-D VAE, fresh processes alternated, load 4-6).
FUSE_MIN_CALLS = 8
_FUSE = contextvars.ContextVar("cvae_course_fuse", default=True)  # read while a scoring's function is traced


def masked_log_likelihood(targets, logits, mask):
    """:func:`_masked_log_likelihood` fused by XLA where XLA compiles, else unfused (the same values up to float32
    rounding); unfused also inside a scoring too short to pay for the compile (``FUSE_MIN_CALLS``). Called inside
    a compiled function it decides once, eagerly, on a tiny input."""
    if not _FUSE.get():
        return _unfused(targets, logits, mask)
    if not _XLA_WORKS:
        with tf.init_scope():  # run the probe now, not as part of the graph being traced
            one = np.ones((1, 1, 2), np.float32)
            try:
                _fused(one, one, one)
                _XLA_WORKS.append(True)
            except Exception:  # e.g. "XLA compilation requires a fixed tensor list size" or no XLA on the device
                _XLA_WORKS.append(False)
    return (_fused if _XLA_WORKS[0] else _unfused)(targets, logits, mask)


@dataclass(frozen=True)
class ImportanceParts:
    """What :func:`importance_log_weights` needs from a model, for N images and a d-dimensional code.

    Attributes:
        q_mean, q_log_var: the proposal q(z | ...), NumPy float32 (N, d).
        p_mean, p_log_var: the prior p(z [| condition]), NumPy float32 (N, d) (zeros for N(0, I)).
        arrays: per-image NumPy arrays (N, ...) that ``log_likelihood`` reads, sliced into the same batches.
        log_likelihood: ``log_likelihood(*batch_of_arrays, z)`` -> log p(image | z [, condition]) in nats,
            shape (S, n), for codes z of shape (S, n, d): Keras ops only, so that it runs compiled.
    """

    q_mean: np.ndarray
    q_log_var: np.ndarray
    p_mean: np.ndarray
    p_log_var: np.ndarray
    arrays: tuple
    log_likelihood: object


def _vae_importance_parts(model: VAE, images, labels) -> ImportanceParts:
    """A course VAE's (CVAE's) terms for :func:`importance_log_weights`: q(z | x [, y]), the prior N(0, I) and
    log p(x | z [, y])."""
    x = as_images(images)
    means, log_vars = model.encode_distribution(x, labels)  # checks the labels: digits, one per image, CVAE only
    arrays = (x,) if labels is None else (x, one_hot(as_labels(labels)))

    def log_likelihood(x, *rest):
        *label_rows, z = rest
        n_samples, n = ops.shape(z)[0], ops.shape(z)[1]
        codes = ops.reshape(z, (-1, ops.shape(z)[2]))
        inputs = codes if not label_rows else [codes, ops.tile(label_rows[0], (n_samples, 1))]
        logits = ops.reshape(model.decoder(inputs, training=False), (n_samples, n, -1))
        return masked_log_likelihood(ops.reshape(x, (1, n, -1)), logits, ops.ones_like(logits[:1]))

    zeros = np.zeros_like(means)
    return ImportanceParts(means, log_vars, zeros, zeros, arrays, log_likelihood)


def _importance_parts(model, images, condition) -> ImportanceParts:
    if isinstance(model, VAE):
        return _vae_importance_parts(model, images, condition)
    if callable(getattr(model, "importance_parts", None)):
        if condition is None:
            raise ValueError(
                f"a {type(model).__name__} scores images given a condition: "
                "importance_sampled_nll(model, y, x) for -log p(y | x)"
            )
        return model.importance_parts(images, condition)
    raise ValueError(
        f"model must be a VAE or CVAE from cvae_course.models, or a model with a prior network "
        f"(quadrants.QuadrantCVAE), got {type(model).__name__}"
    )


def _log_weights(log_likelihood, eps, q_mean, q_log_var, p_mean, p_log_var, *arrays):
    """(log p(image | z), log w) for z = q_mean + sigma_q * eps, log w = log p(image | z) + log p(z) - log q(z);
    eps (S, n, d) -> (2, S, n).

    float32 throughout. log q(z) uses eps directly ((z - mean)^2 / sigma^2 = eps^2), which is exact and cheaper.
    """
    z = q_mean[None] + ops.exp(0.5 * q_log_var)[None] * eps
    log_q = -0.5 * ops.sum(LOG_2PI + q_log_var[None] + ops.square(eps), axis=-1)
    log_p = -0.5 * ops.sum(
        LOG_2PI + p_log_var[None] + ops.square(z - p_mean[None]) * ops.exp(-p_log_var)[None], axis=-1
    )
    log_likelihoods = log_likelihood(*arrays, z)
    return ops.stack([log_likelihoods, log_likelihoods + log_p - log_q])


_IMPORTANCE_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> its compiled weights


def _compiled_log_weights(model, log_likelihood, fused: bool):
    """:func:`_log_weights` for this model's ``log_likelihood``, traced once per choice of ``fused`` (trace it
    with :data:`_FUSE` set to the same; reduce_retracing: a last, shorter batch or another number of codes reuses
    the graph)."""
    compiled = _IMPORTANCE_COMPILED.setdefault(model, {})
    if fused not in compiled:
        compiled[fused] = tf.function(
            lambda *a: _log_weights(log_likelihood, *a), reduce_retracing=True, autograph=False
        )
    return compiled[fused]


def _sampled_terms(model, parts: ImportanceParts, n_samples: int, seed: int) -> np.ndarray:
    """(log p(image | z_s), log w_s) for S codes z_s ~ q per image (q: ``parts.q_*``): float64 (2, S, N)."""
    n_samples = check_positive_int(n_samples, "n_samples")
    noise = keras.random.SeedGenerator(seed)
    n_images, latent_dim = parts.q_mean.shape
    per_call = max(1, IMPORTANCE_ROWS // n_samples)
    fused = -(-n_images // per_call) >= FUSE_MIN_CALLS
    weigh = _compiled_log_weights(model, parts.log_likelihood, fused)
    out = np.empty((2, n_samples, n_images), dtype=np.float64)
    token = _FUSE.set(fused)
    try:
        for start in range(0, n_images, per_call):
            batch = slice(start, min(start + per_call, n_images))
            n = batch.stop - start
            eps = ops.reshape(keras.random.normal((n_samples * n, latent_dim), seed=noise), (n_samples, n, latent_dim))
            arrays = (parts.q_mean, parts.q_log_var, parts.p_mean, parts.p_log_var, *parts.arrays)
            out[:, :, batch] = ops.convert_to_numpy(weigh(eps, *(ops.convert_to_tensor(a[batch]) for a in arrays)))
    finally:
        _FUSE.reset(token)
    return out


def importance_log_weights(model, images, condition=None, *, n_samples: int = 100, seed: int = 0) -> np.ndarray:
    """log w_s = log p(x | z_s) + log p(z_s) - log q(z_s | x) for S codes z_s ~ q(z | x) per image: shape (S, N).

    Each weight is an unbiased estimate of p(x); its log averages to the ELBO. Conditional models condition every
    term:

    * a VAE of the course: ``condition`` None; the prior p(z) is N(0, I).
    * a label CVAE (lesson 03): ``condition`` = the digits 0-9, shape (N,): p(x | z, y), q(z | x, y), N(0, I).
    * a model with a **prior network** p(z | condition), e.g. lesson 06's
      :class:`~cvae_course.quadrants.QuadrantCVAE`: ``images`` = what is scored (the hidden part y),
      ``condition`` = what the model is given (the visible part x); the weights are
      log p(y | x, z_s) + log p(z_s | x) - log q(z_s | x, y). Such a model supplies its terms through
      ``model.importance_parts(images, condition)``, an :class:`ImportanceParts`.

    The codes are drawn with the reparameterization trick, z = mean + sigma * eps, with eps from
    ``keras.random.normal`` seeded by ``seed``: shape (S * n, d) for each batch of n = IMPORTANCE_ROWS // S images,
    row s * n + i for image i. All S codes of a batch of images are decoded and weighed in one compiled call
    (float32); the weights come back as float64 for :func:`log_mean_exp`.

    Args:
        model: one of the above.
        images: what is scored: (N, 28, 28, 1) images (for a prior-network model: its targets).
        condition: see above.
        n_samples: S, codes per image.
        seed: makes the draws repeatable.
    """
    return _sampled_terms(model, _importance_parts(model, images, condition), n_samples, seed)[1]


CODE_SOURCES = ("proposal", "prior")


def sampled_log_likelihoods(
    model, images, condition=None, *, codes: str = "proposal", n_samples: int = 10, seed: int = 0
) -> np.ndarray:
    """log p(image | z_s [, condition]) in nats for S codes z_s per image, shape (S, N): drawn from the proposal
    q (``codes="proposal"``: the encoder, or lesson 06's recognition network, which has seen the image) or from the
    prior (``codes="prior"``: N(0, I), or lesson 06's prior network p(z | condition)). Models and arguments as in
    :func:`importance_log_weights`, with the same draws and the same compiled decoding. Minus its mean over the
    codes is the reconstruction term of the -ELBO (proposal codes) or the loss at test time (prior codes)."""
    if codes not in CODE_SOURCES:
        raise ValueError(f"codes must be one of {CODE_SOURCES} (where z comes from), got {codes!r}")
    parts = _importance_parts(model, images, condition)
    if codes == "prior":
        parts = replace(parts, q_mean=parts.p_mean, q_log_var=parts.p_log_var)
    return _sampled_terms(model, parts, n_samples, seed)[0]


def importance_sampled_nll(model, images, condition=None, *, n_samples: int = 100, seed: int = 0) -> np.ndarray:
    """-log p(x) per image, nats, estimated by importance sampling: -log mean_s w_s (shape (N,)).

    This is the IWAE bound (Burda, Grosse and Salakhutdinov, 2016): for S = 1 it is a one-sample -ELBO; as S grows
    it decreases on average and approaches -log p(x) from above (the ELBO's gap, KL(q(z | x) || p(z | x)), is
    closed by the averaging). For a label CVAE pass the labels: it then estimates -log p(x | label); for a model
    with a prior network pass its target and its input, ``importance_sampled_nll(model, y, x)``: -log p(y | x)
    (Sohn et al.'s importance-sampled conditional log-likelihood, with S = 100 in their paper).

    Args and draws as in :func:`importance_log_weights`.
    """
    return -log_mean_exp(importance_log_weights(model, images, condition, n_samples=n_samples, seed=seed), axis=0)


def aggregate_posterior_variance(means, log_vars) -> np.ndarray:
    """Var(mu) + E[sigma^2] per latent dimension: the variance of the codes z of all images together.

    A code is z = mu(x) + sigma(x) * eps, so over images and noise its variance is the spread of the means plus the
    average variance around them (the law of total variance). It is 1 in every dimension when the aggregate
    posterior has the prior's variance; the ELBO pulls it towards 1 but does not force it there.

    Args:
        means: mu(x) of q(z | x), shape (N, latent_dim).
        log_vars: log sigma^2(x), shape (N, latent_dim).
    """
    mu, log_var = np.asarray(means, dtype=np.float64), np.asarray(log_vars, dtype=np.float64)
    if mu.ndim != 2 or mu.shape != log_var.shape:
        raise ValueError(f"means and log_vars must both have shape (N, latent_dim), got {mu.shape} and {log_var.shape}")
    if len(mu) < 2:
        raise ValueError(f"means must hold the codes of at least 2 images (a variance across images), got {len(mu)}")
    return mu.var(axis=0) + np.exp(log_var).mean(axis=0)


def aggregate_posterior_density(z, means, log_vars, *, chunk: int = 512) -> np.ndarray:
    """q(z) = (1/N) sum_n N(z; mu_n, diag sigma_n^2) at each code ``z``: the density of the codes of all images.

    Args:
        z: where to evaluate, shape (M, latent_dim).
        means, log_vars: the N images' q(z | x), shape (N, latent_dim) each.
        chunk: codes evaluated at once (memory: chunk * N floats).

    Returns float64 of shape (M,). Compare with the prior N(0, I) (:func:`gaussian_log_density` at 0, 0): where the
    prior puts mass and q(z) does not, the decoder was never trained ("holes").
    """
    z = np.asarray(z, dtype=np.float64)
    mu, log_var = np.asarray(means, dtype=np.float64), np.asarray(log_vars, dtype=np.float64)
    if z.ndim != 2 or mu.ndim != 2 or z.shape[1] != mu.shape[1] or mu.shape != log_var.shape:
        raise ValueError(
            f"z must have shape (M, latent_dim) and means, log_vars (N, latent_dim); got {z.shape}, "
            f"{mu.shape}, {log_var.shape}"
        )
    # log N(z; mu_n, sigma_n^2) = const_n - 1/2 sum_d z^2 / sigma^2 + sum_d z mu / sigma^2: two matrix products
    inv = np.exp(-log_var)
    const = -0.5 * (mu.shape[1] * np.log(2 * np.pi) + log_var.sum(axis=1) + (mu**2 * inv).sum(axis=1))
    out = np.empty(len(z))
    for start in range(0, len(z), chunk):
        block = z[start : start + chunk]
        log_density = const[None] - 0.5 * (block**2) @ inv.T + block @ (mu * inv).T
        out[start : start + chunk] = np.exp(log_density).mean(axis=1)  # far from every image: 0, a hole
    return out


def hole_share(means, log_vars, *, ratio: float = 0.1, n_codes: int = 2000, seed: int = 0) -> float:
    """Share of codes drawn from the prior N(0, I) that land in a "hole": where q(z) < ``ratio`` * p(z).

    q(z) is the aggregate posterior of the images (:func:`aggregate_posterior_density`). A prior code in a hole is
    one the decoder met rarely or never in training (less than ``ratio`` times as often as the prior draws it), so
    what it decodes there was hardly checked against a real digit.

    Args:
        means, log_vars: the images' q(z | x), shape (N, latent_dim) each.
        ratio: q(z) / p(z) below which a code counts as a hole.
        n_codes: prior codes drawn.
        seed: makes the draws repeatable.
    """
    mu = np.asarray(means, dtype=np.float64)
    if mu.ndim != 2:
        raise ValueError(f"means must have shape (N, latent_dim), got {mu.shape}")
    z = np.random.default_rng(seed).standard_normal((check_positive_int(n_codes, "n_codes"), mu.shape[1]))
    q = aggregate_posterior_density(z, mu, log_vars)
    return float(np.mean(q < ratio * np.exp(gaussian_log_density(z, 0.0, 0.0))))
