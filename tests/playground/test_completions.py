"""Specification of lesson 06's playground panel (cvae_course.playground.completions)."""

import numpy as np
import pytest

from cvae_course import quadrants
from cvae_course.playground.completions import Completions
from cvae_course.playground.pictures import png_to_array, untile


@pytest.fixture(scope="module")
def panel(mnist):
    cvae = quadrants.build_quadrant_cvae(latent_dim=3, hidden=(16,), seed=0)
    baseline = quadrants.Baseline(quadrants.build_baseline((16,)))
    return Completions(cvae, baseline, mnist.x_test[:10], n_samples=4)


def test_the_panel_shows_the_digit_what_is_visible_the_baseline_and_the_completions(panel, mnist):
    shown = panel.last_images
    assert shown.shape == (3 + 4, 28, 28, 1)
    np.testing.assert_array_equal(shown[0], mnist.x_test[0])
    x, _ = quadrants.make_task(mnist.x_test[:1], 1)
    np.testing.assert_allclose(shown[3:], quadrants.complete(panel.model, x, 4, seed=0)[:, 0])
    cells = untile(png_to_array(panel.picture.value), 7, 7)
    assert cells.shape == (7, 28, 28)


def test_sample_draws_new_completions_and_keeps_the_baseline(panel):
    before = panel.last_images.copy()
    panel.sample.click()
    np.testing.assert_array_equal(panel.last_images[:3], before[:3])
    assert not np.allclose(panel.last_images[3:], before[3:])


def test_changing_the_visible_quadrants_or_the_digit_redraws(panel, mnist):
    panel.visible.value = 3
    x, _ = quadrants.make_task(mnist.x_test[:1], 3)
    np.testing.assert_array_equal(panel.last_images[1][x[0] >= 0], x[0][x[0] >= 0])
    panel.index.value = 4
    np.testing.assert_array_equal(panel.last_images[0], mnist.x_test[4])


def test_the_panel_refuses_a_model_that_is_not_a_quadrant_cvae(mnist):
    baseline = quadrants.Baseline(quadrants.build_baseline((8,)))
    with pytest.raises(ValueError, match="QuadrantCVAE"):
        Completions(baseline, baseline, mnist.x_test[:3])
