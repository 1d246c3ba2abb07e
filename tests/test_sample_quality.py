"""The stricter sample-quality measures of cvae_course.evaluate: the judge's confidence and the Fréchet distance
between the judge's features of generated and real digits, per label.

The formula is checked on hand-made features with known answers; the measures are checked on real MNIST with the
course judge: real digits must score near the real floor, blurred and averaged digits clearly worse (margins
measured in fast mode, see each test).
"""

import numpy as np
import pytest

from cvae_course import evaluate, models


# ------------------------------------------------------------------------------------------- the formula
def _gaussian_cloud(n=400, dim=5, seed=0):
    return np.random.default_rng(seed).normal(size=(n, dim)) @ np.diag([3.0, 2.0, 1.0, 0.5, 0.2])


def test_frechet_distance_of_a_set_with_itself_is_zero():
    a = _gaussian_cloud()
    assert evaluate.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_of_a_shifted_set_is_the_squared_shift():
    a = _gaussian_cloud()
    shift = np.array([1.0, -2.0, 0.0, 0.5, 3.0])
    assert evaluate.frechet_distance(a, a + shift) == pytest.approx(np.sum(shift**2), rel=1e-6)


def test_frechet_distance_of_a_doubled_set_matches_the_closed_form():
    # b = 2a: S_b = 4 S_a and (S_a S_b)^(1/2) = 2 S_a, so the distance is ||mu_a||^2 + Tr(S_a)
    a = _gaussian_cloud() + 1.0
    expected = np.sum(a.mean(axis=0) ** 2) + np.trace(np.cov(a, rowvar=False))
    assert evaluate.frechet_distance(a, 2 * a) == pytest.approx(expected, rel=1e-6)


def test_frechet_distance_sees_a_set_without_spread():
    # the same mean, no variety: the distance is the spread the set lacks, Tr(S_a)
    a = _gaussian_cloud()
    same = np.repeat(a.mean(axis=0, keepdims=True), len(a), axis=0)
    assert evaluate.frechet_distance(a, same) == pytest.approx(np.trace(np.cov(a, rowvar=False)), rel=1e-6)


@pytest.mark.parametrize(
    "a, b, message",
    [
        (np.zeros((5, 3)), np.zeros((5, 4)), "same F"),
        (np.zeros((1, 3)), np.zeros((5, 3)), "at least 2"),
        (np.full((5, 3), np.nan), np.zeros((5, 3)), "finite"),
    ],
)
def test_frechet_distance_rejects_features_it_cannot_compare(a, b, message):
    with pytest.raises(ValueError, match=message):
        evaluate.frechet_distance(a, b)


# ----------------------------------------------------------------------------------- the judge's view
@pytest.fixture(scope="module")
def real(judge, mnist):
    return evaluate.RealDigits(judge, mnist.x_test, mnist.y_test, max_per_label=80)


def _blurred(images, passes=2):
    """Each image smoothed ``passes`` times with a 3 x 3 binomial kernel: strokes become soft, as a VAE's means."""
    x = np.pad(images[..., 0].astype(np.float64), ((0, 0), (1, 1), (1, 1)))
    kernel = np.array([0.25, 0.5, 0.25])
    for _ in range(passes):
        x = kernel[0] * x[:, :-2] + kernel[1] * x[:, 1:-1] + kernel[2] * x[:, 2:]
        x = kernel[0] * x[:, :, :-2] + kernel[1] * x[:, :, 1:-1] + kernel[2] * x[:, :, 2:]
        x = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    return x[:, 1:-1, 1:-1, None].astype(np.float32)


def _average_digits(mnist, n_per_label=80):
    """The mean training digit of each label, ``n_per_label`` times: always right, never varied."""
    means = np.stack([mnist.x_train[mnist.y_train == k].mean(axis=0) for k in range(10)])
    return np.repeat(means, n_per_label, axis=0), np.repeat(np.arange(10), n_per_label)


def test_judge_features_are_what_its_last_layer_turns_into_the_logits(judge, mnist):
    x = mnist.x_test[:50]
    features = evaluate.judge_features(judge, x)
    assert features.shape == (50, 128)
    logits = np.asarray(judge.layers[-1](features.astype(np.float32)))
    np.testing.assert_allclose(logits, np.asarray(judge(x, training=False)), rtol=1e-4, atol=1e-4)


def test_judge_confidence_is_the_softmax_probability_of_the_given_label(judge, mnist):
    x, y = mnist.x_test[:50], mnist.y_test[:50]
    probs = evaluate.judge_probabilities(judge, x)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-9)
    np.testing.assert_allclose(evaluate.judge_confidence(judge, x, y), probs[np.arange(50), y])
    assert np.all(probs.argmax(axis=1) == evaluate.classify(judge, x))


def test_real_digits_score_near_the_real_floor(real, mnist):
    # unseen real digits (training images) against the test set's reference. Measured in fast mode: Fréchet ratio
    # 1.09, confidence 0.982 against 0.974 (full mode, 80 per label: 1.43, 0.977 against 0.980)
    quality = evaluate.quality_of(mnist.x_train[:3000], mnist.y_train[:3000], real)
    assert quality.frechet_ratio.mean() < 2.5
    assert abs(quality.confidence.mean() - quality.confidence_real.mean()) < 0.02


def test_blurred_digits_score_clearly_worse_than_real_ones(real, mnist):
    # the judge still reads most of them right; the stricter measures do not let them pass. Measured in fast mode:
    # accuracy 96.9 %, Fréchet ratio 9.9, confidence 0.932 against real 0.974 (full mode: 14.2, 0.934 against 0.980)
    x, y = mnist.x_train[:3000], mnist.y_train[:3000]
    quality = evaluate.quality_of(_blurred(x), y, real)
    assert quality.accuracy.mean() > 0.9
    assert quality.frechet_ratio.mean() > 5
    assert quality.confidence.mean() < quality.confidence_real.mean() - 0.02


def test_average_digits_fool_accuracy_and_confidence_but_not_the_frechet_distance(real, mnist):
    # what each measure cannot see: one average digit per label is read right and with confidence, but it has no
    # variety. Measured in fast mode: accuracy 100 %, confidence 0.977 (real 0.974), Fréchet ratio 21.5
    images, labels = _average_digits(mnist)
    quality = evaluate.quality_of(images, labels, real)
    assert quality.accuracy.mean() == 1.0
    assert quality.confidence.mean() > quality.confidence_real.mean() - 0.01
    assert quality.frechet_ratio.mean() > 10


def test_atypicality_is_about_one_for_real_digits_and_higher_for_smudges(real, mnist):
    # a smudge: two digits overlaid, meant to be the first. Measured in fast mode: median 1.00 for unseen real
    # digits, 1.52 for smudges; a blurred digit lies farther out than its sharp original in 70 % of cases
    x, y = mnist.x_train[:1000], mnist.y_train[:1000]
    own = real.atypicality(x, y)
    smudges = np.clip(0.5 * x[:500] + 0.5 * x[500:], 0, 1)
    assert np.median(own) == pytest.approx(1.0, abs=0.2)
    assert np.median(real.atypicality(smudges, y[:500])) > 1.3
    assert np.mean(real.atypicality(_blurred(x), y) > own) > 0.6


def test_quality_of_compares_at_most_as_many_digits_as_real_ones_held_aside(real, mnist):
    quality = evaluate.quality_of(mnist.x_train[:3000], mnist.y_train[:3000], real)
    assert quality.n.tolist() == [len(h) for h in real.held]
    assert "Fréchet distance" in quality.table() and len(quality.table().splitlines()) == 3 + 10 + 1


def test_sample_quality_measures_a_cvae_from_its_own_samples(real):
    quality = evaluate.sample_quality(models.build_cvae(2, seed=0), real, n_per_label=20)
    assert quality.n.tolist() == [20] * 10
    assert quality.frechet_ratio.mean() > 10  # an untrained decoder draws grey noise


def test_quality_of_needs_digits_of_every_label(real, mnist):
    x, y = mnist.x_train[:3000], mnist.y_train[:3000]
    with pytest.raises(ValueError, match="meant to be 9"):
        evaluate.quality_of(x[y != 9], y[y != 9], real)


def test_real_digits_need_enough_of_every_label(judge, mnist):
    fours = np.flatnonzero(mnist.y_test == 4)
    keep = np.r_[np.flatnonzero(mnist.y_test != 4), fours[:5]]
    with pytest.raises(ValueError, match="5 real digit"):
        evaluate.RealDigits(judge, mnist.x_test[keep], mnist.y_test[keep])


def test_quality_of_needs_real_digits_as_the_judge_sees_them(mnist):
    with pytest.raises(ValueError, match="RealDigits"):
        evaluate.quality_of(mnist.x_train[:100], mnist.y_train[:100], mnist.x_test)
