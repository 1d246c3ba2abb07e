"""The ELBO's two terms, checked against direct computations and Monte Carlo estimates."""

import numpy as np
import pytest

from cvae_course import losses


def _np(t):
    return np.asarray(t)


def test_reconstruction_loss_equals_bernoulli_negative_log_likelihood_summed_over_pixels():
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(3, 28, 28, 1)).astype(np.float32)
    logits = rng.normal(size=(3, 28, 28, 1)).astype(np.float32)
    p = 1 / (1 + np.exp(-logits.astype(np.float64)))
    direct = -(x * np.log(p) + (1 - x) * np.log(1 - p)).reshape(3, -1).sum(axis=1)
    np.testing.assert_allclose(_np(losses.reconstruction_loss(x, logits)), direct, rtol=1e-5)


def test_reconstruction_loss_is_finite_for_extreme_logits():
    x = np.array([[0.0, 1.0, 0.0, 1.0]], dtype=np.float32).reshape(1, 2, 2, 1)
    logits = np.array([[-1e4, 1e4, 1e4, -1e4]], dtype=np.float32).reshape(1, 2, 2, 1)
    value = _np(losses.reconstruction_loss(x, logits))
    assert np.all(np.isfinite(value))
    np.testing.assert_allclose(value, [2e4], rtol=1e-6)  # two confident mistakes of 1e4 nats each


def test_kl_divergence_matches_a_monte_carlo_estimate():
    rng = np.random.default_rng(1)
    mu = np.array([[0.5, -1.0, 2.0]], dtype=np.float64)
    log_var = np.array([[-0.5, 0.3, -2.0]], dtype=np.float64)
    sigma = np.exp(0.5 * log_var)
    z = mu + sigma * rng.normal(size=(400_000, 3))
    log_q = -0.5 * (((z - mu) / sigma) ** 2 + log_var + np.log(2 * np.pi)).sum(axis=1)
    log_p = -0.5 * (z**2 + np.log(2 * np.pi)).sum(axis=1)
    monte_carlo = np.mean(log_q - log_p)
    closed_form = float(_np(losses.kl_divergence(mu.astype(np.float32), log_var.astype(np.float32)))[0])
    assert closed_form == pytest.approx(monte_carlo, abs=0.02)


def test_kl_divergence_is_zero_exactly_at_the_prior():
    zeros = np.zeros((4, 2), dtype=np.float32)
    np.testing.assert_allclose(_np(losses.kl_divergence(zeros, zeros)), 0.0, atol=1e-7)


def test_kl_per_dimension_sums_to_the_kl():
    rng = np.random.default_rng(2)
    mu, lv = rng.normal(size=(5, 4)).astype(np.float32), rng.normal(size=(5, 4)).astype(np.float32)
    np.testing.assert_allclose(
        _np(losses.kl_per_dimension(mu, lv)).sum(axis=1), _np(losses.kl_divergence(mu, lv)), rtol=1e-5
    )


def test_negative_elbo_is_reconstruction_plus_beta_times_kl():
    rng = np.random.default_rng(3)
    x = rng.uniform(size=(4, 28, 28, 1)).astype(np.float32)
    logits = rng.normal(size=(4, 28, 28, 1)).astype(np.float32)
    mu, lv = rng.normal(size=(4, 2)).astype(np.float32), rng.normal(size=(4, 2)).astype(np.float32)
    rec, kl = (float(_np(t)) for t in losses.elbo_terms(x, logits, mu, lv))
    assert float(_np(losses.negative_elbo(x, logits, mu, lv, beta=0.25))) == pytest.approx(rec + 0.25 * kl, rel=1e-5)


def test_linear_kl_schedule_warms_beta_up_from_start_to_end():
    assert [losses.linear_kl_schedule(e, 4) for e in range(6)] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]


def test_linear_kl_schedule_without_warmup_is_the_end_value():
    assert losses.linear_kl_schedule(0, 0, end=0.5) == 0.5
