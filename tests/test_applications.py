"""Lesson 05's tools (cvae_course.applications): style transfer, ROC/AUROC, anomaly scores and the ELBO classifier.

Unit behaviour is checked on hand-made inputs; the quality tests train small fast-mode models with the
course seed and hold them to thresholds measured with a margin (see each test for the measured value).
"""

import numpy as np
import pytest

from cvae_course import applications as app
from cvae_course import evaluate, recipes
from cvae_course.models import build_cvae, build_vae


@pytest.fixture(scope="module")
def cvae(mnist):
    return recipes.load_cvae()


# --------------------------------------------------------------------------------------------------- AUROC
def test_auroc_matches_the_hand_computed_pair_count():
    # anomalies 0.35 and 0.8 against normals 0.1 and 0.4: the anomaly wins 3 of the 4 pairs
    assert app.auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(0.75)


def test_auroc_counts_ties_as_half_a_win():
    # pairs: (2 vs 1) win, (2 vs 2) tie, (3 vs 1) win, (3 vs 2) win -> 3.5 / 4
    assert app.auroc([1, 2, 2, 3], [0, 0, 1, 1]) == pytest.approx(0.875)


def test_auroc_is_one_for_perfect_scores_and_zero_for_reversed_ones():
    flags = np.array([0, 0, 0, 1, 1])
    scores = np.arange(5.0)
    assert app.auroc(scores, flags) == 1.0
    assert app.auroc(-scores, flags) == 0.0


def test_auroc_equals_the_area_under_the_roc_curve():
    rng = np.random.default_rng(0)
    scores = np.round(rng.normal(size=300), 1)  # rounded: many ties
    flags = rng.random(300) < 0.3
    fpr, tpr, _ = app.roc_curve(scores, flags)
    area = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
    assert app.auroc(scores, flags) == pytest.approx(area)


def test_roc_curve_runs_monotonically_from_origin_to_one_one():
    fpr, tpr, thresholds = app.roc_curve([0.2, 0.9, 0.4, 0.4, 0.7], [False, True, False, True, True])
    assert (fpr[0], tpr[0]) == (0.0, 0.0)
    assert (fpr[-1], tpr[-1]) == (1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    assert np.all(np.diff(thresholds) < 0)


@pytest.mark.parametrize(
    "scores, flags, message",
    [
        ([0.1, 0.2], [1, 1], "both positives and negatives"),
        ([0.1, 0.2, 0.3], [0, 1], "same length"),
        ([0.1, 0.2], [0, 2], "0/1"),
        ([0.1, np.nan], [0, 1], "finite"),
    ],
)
def test_auroc_rejects_inputs_it_cannot_rank(scores, flags, message):
    with pytest.raises(ValueError, match=message):
        app.auroc(scores, flags)


# ------------------------------------------------------------------------------------ labels and samples
def test_corrupt_labels_changes_exactly_the_flagged_labels_to_other_digits():
    y = np.arange(1000) % 10
    given, wrong = app.corrupt_labels(y, 0.3, seed=1)
    assert np.all(given[wrong] != y[wrong])
    assert np.all(given[~wrong] == y[~wrong])
    assert 0.25 < wrong.mean() < 0.35


@pytest.mark.parametrize("fraction", [0.0, 1.0, 1.5])
def test_corrupt_labels_rejects_a_fraction_outside_zero_one(fraction):
    with pytest.raises(ValueError, match="fraction"):
        app.corrupt_labels([1, 2, 3], fraction)


def test_label_gap_is_zero_for_the_best_label_and_the_distance_to_it_otherwise():
    scores = np.tile(np.arange(10.0), (2, 1))  # label 0 fits best (lowest -ELBO)
    assert app.label_gap(scores, [0, 7]).tolist() == [0.0, 7.0]


def test_label_gap_rejects_a_score_matrix_without_ten_columns():
    with pytest.raises(ValueError, match=r"shape \(N, 10\)"):
        app.label_gap(np.zeros((3, 9)), [0, 1, 2])


def test_bernoulli_sample_is_binary_with_the_decoder_probabilities():
    p = np.full((200, 28, 28, 1), 0.3, dtype=np.float32)
    p[:, 0, 0, 0], p[:, 0, 1, 0] = 0.0, 1.0
    s = app.bernoulli_sample(p, seed=0)
    assert set(np.unique(s)) <= {0.0, 1.0}
    assert np.all(s[:, 0, 0, 0] == 0) and np.all(s[:, 0, 1, 0] == 1)
    assert s.mean() == pytest.approx(0.3, abs=0.01)


def test_bernoulli_sample_rejects_logits():
    with pytest.raises(ValueError, match="probabilities"):
        app.bernoulli_sample(np.full((1, 28, 28, 1), 3.0, dtype=np.float32))


def _line(slope: float, width: int = 1) -> np.ndarray:
    """A straight stroke through the centre: column = 14 + slope * (14 - row)."""
    img = np.zeros((28, 28, 1), dtype=np.float32)
    for r in range(4, 24):
        c = int(round(14 + slope * (14 - r)))
        img[r, c : c + width, 0] = 1.0
    return img


def test_stroke_features_read_slant_direction_and_stroke_width():
    ink, slant = app.stroke_features(np.stack([_line(0.5), _line(-0.5), _line(0.5, width=3)]))
    assert slant[0] == pytest.approx(0.5, abs=0.05)  # leaning right, like /
    assert slant[1] == pytest.approx(-0.5, abs=0.05)  # leaning left, like \
    assert ink[2] > 2.5 * ink[0]


def test_stroke_features_reject_a_blank_image():
    with pytest.raises(ValueError, match="ink"):
        app.stroke_features(np.zeros((1, 28, 28, 1), dtype=np.float32))


# ------------------------------------------------------------------------------------- models, untrained
def test_style_transfer_needs_a_cvae():
    vae = build_vae(2, seed=0)
    with pytest.raises(ValueError, match="CVAE"):
        app.transfer_style(vae, np.zeros((1, 28, 28, 1), np.float32), [3], [5])


def test_style_grid_holds_each_writer_as_every_digit_and_its_own_column_is_the_reconstruction(few):
    model = build_cvae(2, seed=0)
    x, y = few
    grid = app.style_grid(model, x, y)
    assert grid.shape == (len(x), 10, 28, 28, 1)
    np.testing.assert_allclose(grid[np.arange(len(x)), y], model.reconstruct(x, y), atol=1e-5)


def test_elbo_classify_picks_the_label_with_the_lowest_negative_elbo(few):
    model = build_cvae(2, seed=0)
    x, _ = few
    scores = app.label_scores(model, x, seed=3)
    assert scores.shape == (len(x), 10)
    np.testing.assert_array_equal(app.elbo_classify(model, x, seed=3), scores.argmin(axis=1))


def test_neighbour_average_never_counts_the_image_itself(few):
    model = build_cvae(2, seed=0)
    x, y = few
    # ``few`` holds two digits of each label (indices 4 and 5 are the 2s): the one neighbour of 5 is 4
    assert y[5] == y[4] and not np.allclose(x[4], x[5])
    np.testing.assert_allclose(app.neighbour_average(model, x, y, index=5, k=1), x[4])


def test_neighbour_average_needs_enough_other_digits_of_the_label(few):
    x, y = few
    with pytest.raises(ValueError, match="only 1 other image"):
        app.neighbour_average(build_cvae(2, seed=0), x, y, index=5, k=2)


def test_blur_figure_shows_the_digit_its_mean_its_neighbours_and_samples(few):
    x, y = few
    fig = app.blur_figure(build_cvae(2, seed=0), x, y, index=5, k=1, n_samples=3)
    titles = [t.get_text() for t in fig.axes[0].texts]  # image_grid: one picture, the titles written above it
    assert titles[:3] == ["real digit", "decoder mean", "average of its\n1 neighbours"] and len(titles) == 6


# ----------------------------------------------------------------------------- quality, fast mode, seeded
@pytest.fixture(scope="module")
def scores_without_0_and_1(mnist):
    """Lesson 05's anomaly detector: negative ELBO of every test digit under a VAE trained without 0s and 1s."""
    vae = recipes.train_vae_without((0, 1), mnist, progress=False)
    return evaluate.negative_elbo_per_image(vae, mnist.x_test)


def test_vae_trained_without_zeros_flags_them_by_negative_elbo(mnist, scores_without_0_and_1):
    # the held-out 0s against the normal digits 2-9. Measured in fast mode (seed 42): 0.896 (full mode 0.938)
    keep = mnist.y_test != 1
    assert app.auroc(scores_without_0_and_1[keep], mnist.y_test[keep] == 0) >= 0.85


def test_vae_trained_without_ones_fails_to_flag_them(mnist, scores_without_0_and_1):
    # the documented failure: unseen 1s cost few nats. Measured in fast mode: 0.204 (full mode 0.117)
    keep = mnist.y_test != 0
    assert app.auroc(scores_without_0_and_1[keep], mnist.y_test[keep] == 1) < 0.4


def test_translated_digits_read_as_the_target_label(cvae, judge, mnist):
    # measured in fast mode: 0.78 (full mode: 0.99)
    overall, per_target = app.translation_accuracy(cvae, judge, mnist.x_test[:200], mnist.y_test[:200])
    assert per_target.shape == (10,)
    assert overall >= 0.65


def test_translation_keeps_the_writers_ink_and_slant(cvae, mnist):
    # measured in fast mode: ink 0.48, slant 0.52
    style = app.style_correlation(cvae, mnist.x_test[:200], mnist.y_test[:200])
    assert style["ink"] > 0.25 and style["slant"] > 0.25


def test_elbo_classifier_reads_most_test_digits(cvae, mnist):
    # measured in fast mode: 0.823 (full mode: 0.921)
    pred = app.elbo_classify(cvae, mnist.x_test)
    assert np.mean(pred == mnist.y_test) >= 0.7


def test_label_gap_flags_corrupted_labels(cvae, mnist):
    # measured in fast mode: 0.968
    given, wrong = app.corrupt_labels(mnist.y_test, 0.5, seed=0)
    gap = app.label_gap(app.label_scores(cvae, mnist.x_test), given)
    assert app.auroc(gap, wrong) >= 0.9


def test_total_ink_sums_the_pixel_values_of_each_image():
    x = np.zeros((2, 28, 28, 1), dtype=np.float32)
    x[0, :3, :4] = 1.0  # 12 black pixels
    x[1, 0, :10] = 0.5  # 10 half-grey pixels
    assert app.total_ink(x).tolist() == [12.0, 5.0]


def test_per_class_mean_averages_the_values_of_each_label():
    labels = np.r_[np.arange(10), np.arange(10)]
    values = np.r_[np.arange(10.0), np.arange(10.0) + 2]
    np.testing.assert_allclose(app.per_class_mean(values, labels), np.arange(10.0) + 1)


def test_per_class_mean_rejects_labels_that_miss_a_digit():
    with pytest.raises(ValueError, match=r"missing \[9\]"):
        app.per_class_mean(np.ones(9), np.arange(9))


# ------------------------------------------------------------------------------------------------- figures
def test_roc_figure_labels_each_curve_with_its_auroc():
    fig = app.roc_figure({"score": ([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])})
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels[0] == "score (AUROC 0.750)"


def test_blur_distances_compare_the_mean_image_with_the_digit_and_with_its_neighbours(few):
    model = build_cvae(2, seed=0)
    x, y = few
    to_digit, to_neighbours = app.blur_distances(model, x, y, n=6, k=1, seed=0)
    assert to_digit.shape == to_neighbours.shape == (6,)
    picked = np.random.default_rng(0).choice(len(x), size=6, replace=False)
    mean = model.reconstruct(x[picked[:1]], y[picked[:1]])[0]
    assert to_digit[0] == pytest.approx(float(np.linalg.norm((mean - x[picked[0]]).ravel())), rel=1e-5)
    # with k=1 the neighbour is the other digit of the same label in ``few``
    other = [i for i in np.flatnonzero(y == y[picked[0]]) if i != picked[0]][0]
    assert to_neighbours[0] == pytest.approx(float(np.linalg.norm((mean - x[other]).ravel())), rel=1e-5)


def test_style_correlation_says_how_many_images_it_needs(few):
    cvae = build_cvae(2, seed=0)
    x, y = few
    with pytest.raises(ValueError, match="at least 10 images, two or more of some digit.*got 1"):
        app.style_correlation(cvae, x[:1], y[:1])
    with pytest.raises(ValueError, match="two or more of some digit.*got 10"):
        app.style_correlation(cvae, x[::2], y[::2])  # ten writers, one per digit
