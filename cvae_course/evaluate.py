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
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from cvae_course._keras import keras, ops, tf
from cvae_course.layers import Sampling
from cvae_course.losses import kl_divergence, reconstruction_loss
from cvae_course.models import CVAE, PREDICT_BATCH, VAE
from cvae_course.validation import (
    NUM_CLASSES,
    as_images,
    as_labels,
    check_model,
    check_positive_int,
    check_same_length,
)

__all__ = [
    "RealDigits", "SampleQuality", "accuracy", "classify", "conditional_accuracy", "diversity", "elbo_terms_per_image",
    "frechet_distance", "generate_per_label", "judge_confidence", "judge_features", "judge_probabilities",
    "mean_elbo_terms", "mean_negative_elbo", "mean_pairwise_distance", "negative_elbo_per_image", "quality_of",
    "sample_quality",
]


def elbo_terms_per_image(model: VAE, images, labels=None, *, n_samples: int = 1,
                         seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
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


def mean_elbo_terms(model: VAE, images, labels=None, *, n_samples: int = 1,
                    seed: int = 0) -> tuple[float, float, float]:
    """Mean (reconstruction, KL, negative ELBO) over a set of images, in nats per image, for a results table."""
    rec, kl = elbo_terms_per_image(model, images, labels, n_samples=n_samples, seed=seed)
    return float(np.mean(rec)), float(np.mean(kl)), float(np.mean(rec + kl))


def classify(judge: keras.Model, images) -> np.ndarray:
    """The judge's label for each image."""
    x = as_images(images)
    logits = np.concatenate(
        [ops.convert_to_numpy(judge(x[i : i + PREDICT_BATCH], training=False)) for i in range(0, len(x), PREDICT_BATCH)]
    )
    return logits.argmax(axis=1)


def accuracy(judge: keras.Model, images, labels) -> float:
    """Share of images the judge labels correctly."""
    return float(np.mean(classify(judge, images) == as_labels(labels)))


# ------------------------------------------------------------------------------------- generation quality
def generate_per_label(model: CVAE, n_per_label: int = 200, *, temperature: float = 1.0, seed: int = 0):
    """``n_per_label`` generated digits for each label 0-9: (images, labels), labels in blocks."""
    check_model(model, CVAE)
    n = check_positive_int(n_per_label, "n_per_label")
    labels = np.repeat(np.arange(NUM_CLASSES), n)
    return model.generate(labels, temperature=temperature, seed=seed), labels


def conditional_accuracy(model: CVAE, judge: keras.Model, n_per_label: int = 200, *, temperature: float = 1.0,
                         seed: int = 0) -> tuple[float, np.ndarray]:
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
    sq = np.sum(x * x, axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * x @ x.T, 0.0)
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


# ------------------------------------------------------------------------ stricter: the judge's confidence and its eyes
_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # judge -> its compiled pass


def _check_judge(judge):
    layers = getattr(judge, "layers", None)
    if not callable(judge) or not layers or len(layers) < 2:
        raise ValueError("judge must be the course's classifier, a Keras Sequential model (image -> 10 logits) with "
                         f"a layer before its last; get it with cvae_course.recipes.load_judge(), got {judge!r}")
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

        _COMPILED[judge] = tf.function(both, reduce_retracing=True)
    fn = _COMPILED[judge]
    parts = [fn(ops.convert_to_tensor(x[i : i + PREDICT_BATCH])) for i in range(0, len(x), PREDICT_BATCH)]
    return (np.concatenate([ops.convert_to_numpy(f) for f, _ in parts]).astype(np.float64),
            np.concatenate([ops.convert_to_numpy(g) for _, g in parts]).astype(np.float64))


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
        raise ValueError(f"features_a and features_b must be (N, F) arrays with the same F, got {a.shape} and "
                         f"{b.shape}")
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"each set needs at least 2 feature vectors to fit a covariance, got {len(a)} and {len(b)}")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError("features must be finite numbers; drop or fix the NaN/inf rows first")
    cov_a, cov_b = _covariance(a), _covariance(b)
    root_a = _psd_sqrt(cov_a)
    cross = tf.linalg.eigvalsh(root_a @ cov_b @ root_a)       # the eigenvalues of S_a S_b, all >= 0
    trace_sqrt = float(tf.reduce_sum(tf.sqrt(tf.maximum(cross, 0.0))))
    traces = float(tf.linalg.trace(cov_a) + tf.linalg.trace(cov_b))
    distance = float(np.sum((a.mean(axis=0) - b.mean(axis=0)) ** 2)) + traces - 2.0 * trace_sqrt
    return max(distance, 0.0)


MIN_PER_LABEL = 10


def _nearest_distance(features: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Euclidean distance from each row of ``features`` to its nearest row of ``reference`` (in TensorFlow, see
    :func:`_covariance`)."""
    f, r = tf.constant(features, tf.float64), tf.constant(reference, tf.float64)
    sq = (tf.reduce_sum(f * f, axis=1)[:, None] + tf.reduce_sum(r * r, axis=1)[None]
          - 2.0 * tf.matmul(f, r, transpose_b=True))
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
                raise ValueError(f"images hold {len(idx)} real digit(s) with label {k}; RealDigits needs at least "
                                 f"{2 * MIN_PER_LABEL} of every label (pass the test set)")
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
        return (f"RealDigits: {min(held)}-{max(held)} real digits held aside and {min(ref)}-{max(ref)} as the "
                "reference, per label")

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

    def table(self, title: str = "generated vs real digits") -> str:
        """The numbers as a text table: one row per label and a row of means."""
        head = (f"{title}: {int(self.n.min())}-{int(self.n.max())} of each per label\n"
                f"{'label':>5}  {'read as label':>15}  {'judge confidence':>17}  {'Fréchet distance':>22}\n"
                f"{'':>5}  {'gen':>7} {'real':>7}  {'gen':>8} {'real':>8}  {'gen':>8} {'real':>6} {'ratio':>6}")
        cells = [(str(k), self.accuracy[k], self.accuracy_real[k], self.confidence[k], self.confidence_real[k],
                  self.frechet[k], self.frechet_real[k], self.frechet_ratio[k])
                 for k in range(NUM_CLASSES)]
        cells.append(("mean", *(np.mean(v) for v in (self.accuracy, self.accuracy_real, self.confidence,
                                                       self.confidence_real, self.frechet, self.frechet_real,
                                                       self.frechet_ratio))))
        rows = [f"{k:>5}  {a:>7.1%} {ar:>7.1%}  {c:>8.3f} {cr:>8.3f}  {f:>8.1f} {fr:>6.1f} {r:>6.1f}"
                for k, a, ar, c, cr, f, fr, r in cells]
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
        raise ValueError("real must be evaluate.RealDigits(judge, real_images, real_labels), got "
                         f"{type(real).__name__}")
    rng = np.random.default_rng(seed)
    picks = []
    for k in range(NUM_CLASSES):
        gen_k = np.flatnonzero(y == k)
        if len(gen_k) < MIN_PER_LABEL:
            raise ValueError(f"images hold {len(gen_k)} digit(s) meant to be {k}; quality_of needs at least "
                             f"{MIN_PER_LABEL} of every label")
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
    return SampleQuality(out["n"].astype(int), out["acc"], out["acc_r"], out["conf"], out["conf_r"], out["fd"],
                         out["fd_r"])


def sample_quality(model: CVAE, real: RealDigits, n_per_label: int = 200, *, temperature: float = 1.0,
                   seed: int = 0) -> SampleQuality:
    """:func:`quality_of` for ``n_per_label`` digits of each label generated by a CVAE (z ~ N(0, temperature^2 I)).

    At most as many generated digits per label are compared as ``real`` holds aside.
    """
    images, labels = generate_per_label(model, n_per_label, temperature=temperature, seed=seed)
    return quality_of(images, labels, real, seed=seed)
