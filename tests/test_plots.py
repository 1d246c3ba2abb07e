"""Every plot helper returns a figure with the panels it promises."""

import numpy as np
import pytest
from matplotlib.figure import Figure

from cvae_course import models, plots


@pytest.fixture(scope="module")
def cvae():
    return models.build_cvae(2, seed=0)


def _n_images(fig):
    """Images pasted into an image grid: its one picture's pixels that are not background, 784 per image."""
    (ax,) = fig.axes
    return int(np.sum(~np.ma.getmaskarray(ax.images[0].get_array()))) // (28 * 28)


def _texts(fig):
    return [t.get_text() for t in fig.axes[0].texts]


def test_image_grid_pastes_each_image_in_its_place_in_one_picture_with_white_gaps():
    x = (np.arange(1, 13, dtype=np.float32) / 20)[:, None, None] * np.ones((12, 28, 28), np.float32)
    fig = plots.image_grid(x, ncols=5)
    assert isinstance(fig, Figure) and len(fig.axes) == 1 and _n_images(fig) == 12
    canvas = fig.axes[0].images[0].get_array()
    cell = 28 + plots.GRID_GAP
    assert canvas.shape == (3 * cell - plots.GRID_GAP, 5 * cell - plots.GRID_GAP)
    for i in range(12):
        r, c = divmod(i, 5)
        np.testing.assert_allclose(canvas[r * cell : r * cell + 28, c * cell : c * cell + 28], x[i])
    assert canvas.mask[28:cell].all() and canvas.mask[2 * cell :, 2 * cell :].all()  # a gap; the 3 empty places


def test_image_grid_writes_each_title_above_its_image_and_each_row_label_left_of_its_row():
    titles = ["a", "", "two\nlines", "d", "e"]
    fig = plots.image_grid(np.zeros((5, 28, 28)), ncols=3, titles=titles, row_labels=["first", "second"])
    assert _texts(fig) == ["a", "two\nlines", "d", "e", "first", "second"]
    (ax,) = fig.axes
    a, two, d = (t.get_position()[1] for t in ax.texts[:3])  # image rows, counted down from the top
    canvas = ax.images[0].get_array()
    assert a == two and a > 0 and canvas.mask[: int(a)].all()  # two lines of room above the first row
    assert d > a + 28 and canvas.mask[int(d) - 1].all()  # the second row's titles below the first row's images


def test_image_grid_asks_for_a_title_per_image_and_a_label_per_row():
    with pytest.raises(ValueError, match="titles holds 2 titles for 3 images"):
        plots.image_grid(np.zeros((3, 28, 28)), titles=["a", "b"])
    with pytest.raises(ValueError, match="row_labels holds 1 labels for 2 rows"):
        plots.image_grid(np.zeros((3, 28, 28)), ncols=2, row_labels=["a"])


def test_digits_by_class_draws_a_row_per_digit():
    x = np.zeros((100, 28, 28, 1), np.float32)
    fig = plots.digits_by_class(x, np.arange(100) % 10, per_class=3)
    assert _n_images(fig) == 30 and _texts(fig) == [str(k) for k in range(10)]


def test_reconstructions_pair_each_original_with_its_reconstruction():
    fig = plots.reconstructions(np.zeros((4, 28, 28)), np.ones((4, 28, 28)))
    assert _n_images(fig) == 8 and _texts(fig) == ["original", "model"]


def test_latent_scatter_colours_points_by_digit():
    fig = plots.latent_scatter(np.random.default_rng(0).normal(size=(50, 2)), np.arange(50) % 10)
    assert fig.axes[0].collections[0].get_offsets().shape == (50, 2)


def test_manifold_grid_decodes_an_n_by_n_canvas(cvae):
    fig = plots.manifold_grid(cvae, n=4, label=3)
    assert fig.axes[0].images[0].get_array().shape == (4 * 28, 4 * 28)


def test_manifold_grid_needs_a_2d_latent_space():
    with pytest.raises(ValueError, match="needs a 2-D latent space"):
        plots.manifold_grid(models.build_vae(3))


def test_interpolation_strip_morphs_between_two_labels(cvae):
    assert _n_images(plots.interpolation_strip(cvae, [0, 0], [1, 1], steps=6, labels=(1, 7))) == 6


def test_generation_grid_has_one_row_per_label(cvae):
    fig = plots.generation_grid(cvae, n_per_label=3)
    assert _n_images(fig) == 30 and _texts(fig) == [str(k) for k in range(10)]


def test_training_curves_draw_one_panel_per_metric_with_the_test_curve():
    hist = {"loss": [3, 2], "val_loss": [3.5, 2.5], "kl": [1, 1], "reconstruction": [2, 1]}
    fig = plots.training_curves(hist)
    assert [ax.get_title() for ax in fig.axes] == ["loss", "reconstruction", "kl"]
    assert len(fig.axes[0].lines) == 2
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["training", "test"]


def test_training_curves_draw_one_legend_so_it_covers_no_later_panel():
    hist = {"loss": [3, 2], "val_loss": [3.5, 2.5], "kl": [1, 1], "val_kl": [1, 1.2]}
    fig = plots.training_curves(hist)
    assert fig.axes[0].get_legend() is not None and fig.axes[1].get_legend() is None


def test_training_curves_give_units_and_start_the_kl_axis_at_zero():
    fig = plots.training_curves({"loss": [160, 150], "kl": [5.5, 6.0]})
    assert [ax.get_ylabel() for ax in fig.axes] == ["nats per image", "nats per image"]
    assert fig.axes[1].get_ylim()[0] == 0 and fig.axes[0].get_ylim()[0] > 100


def test_training_curves_name_the_missing_metrics():
    with pytest.raises(ValueError, match="history has none of"):
        plots.training_curves({"accuracy": [1]})


def test_latent_scatter_marks_other_codes_with_crosses():
    rng = np.random.default_rng(0)
    fig = plots.latent_scatter(rng.normal(size=(50, 2)), np.arange(50) % 10, marks=rng.normal(size=(7, 2)))
    assert [len(c.get_offsets()) for c in fig.axes[0].collections] == [50, 7]


def test_manifold_grid_covers_the_box_it_is_given(cvae):
    fig = plots.manifold_grid(cvae, n=3, box=[[-1.0, 2.0], [3.0, 4.0]], label=1)
    assert fig.axes[0].images[0].get_extent() == [-1.0, 3.0, 2.0, 4.0]
    with pytest.raises(ValueError, match="each high above its low"):
        plots.manifold_grid(cvae, n=3, box=[[1.0, 1.0], [0.0, 2.0]], label=1)


def test_aggregate_posterior_shows_the_codes_next_to_the_prior_and_outlines_the_holes():
    rng = np.random.default_rng(0)
    means = np.concatenate([rng.normal(-1.5, 0.2, size=(100, 2)), rng.normal(1.5, 0.2, size=(100, 2))])
    fig = plots.aggregate_posterior(means, np.full((200, 2), np.log(0.05)), n=41)
    assert [ax.get_title() for ax in fig.axes[:2]] == ["aggregate posterior q(z)", "prior p(z) = N(0, I)"]
    assert fig.axes[0].collections, "two clumps leave holes inside the prior's 2-sigma circle: outlined in red"


def test_generation_grid_of_a_vae_says_it_needs_a_cvae_and_how_to_show_a_vaes_samples():
    with pytest.raises(ValueError, match=r"model must be a CVAE.*image_grid\(vae.sample"):
        plots.generation_grid(models.build_vae(2, seed=0))


@pytest.mark.parametrize("history", [None, "a model"])
def test_training_curves_of_something_else_than_a_history_says_what_to_pass(history):
    history = models.build_cvae(2, seed=0) if history == "a model" else history
    with pytest.raises(ValueError, match=r"History that training.train returns.*model.history"):
        plots.training_curves(history)
