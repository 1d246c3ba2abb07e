"""The quality measures: negative ELBO, conditional accuracy and diversity."""

import keras
import numpy as np
import pytest

from cvae_course import evaluate, losses, models, recipes


@pytest.fixture(scope="module")
def cvae():
    return models.build_cvae(2, seed=0)


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return rng.uniform(size=(40, 28, 28, 1)).astype(np.float32), np.arange(40) % 10


def test_mean_pairwise_distance_matches_a_direct_computation():
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(6, 28, 28, 1)).astype(np.float32)
    flat = x.reshape(6, -1).astype(np.float64)
    direct = np.mean([np.linalg.norm(flat[i] - flat[j]) for i in range(6) for j in range(i + 1, 6)])
    assert evaluate.mean_pairwise_distance(x) == pytest.approx(direct, rel=1e-6)


def test_negative_elbo_per_image_is_reconstruction_plus_kl_at_a_sampled_code(cvae, images):
    x, y = images
    scores = evaluate.negative_elbo_per_image(cvae, x, y, seed=3)
    z_mean, z_log_var = cvae.encode_distribution(x, y)
    eps = np.asarray(keras.random.normal(z_mean.shape, seed=keras.random.SeedGenerator(3)))
    z = z_mean + np.exp(0.5 * z_log_var) * eps  # the same draw: one batch, the same seed
    logits = cvae.decoder([z, np.eye(10, dtype=np.float32)[y]], training=False)
    expected = np.asarray(losses.reconstruction_loss(x, logits)) + np.asarray(losses.kl_divergence(z_mean, z_log_var))
    np.testing.assert_allclose(scores, expected, rtol=1e-4)
    at_the_mean = np.asarray(losses.reconstruction_loss(x, cvae.decoder([z_mean, np.eye(10, dtype=np.float32)[y]])))
    assert not np.allclose(scores, at_the_mean + np.asarray(losses.kl_divergence(z_mean, z_log_var)), rtol=1e-4)


def test_negative_elbo_with_more_samples_averages_the_reconstruction(cvae, images):
    x, y = images
    one = evaluate.negative_elbo_per_image(cvae, x, y, n_samples=1, seed=1)
    many = evaluate.negative_elbo_per_image(cvae, x, y, n_samples=8, seed=1)
    assert not np.allclose(one, many) and np.allclose(one.mean(), many.mean(), rtol=0.05)


def test_negative_elbo_needs_a_vae(images):
    with pytest.raises(ValueError, match="model must be a VAE or CVAE"):
        evaluate.negative_elbo_per_image(models.build_autoencoder(2), images[0])


class _FakeJudge:
    """Says 3 for every image."""

    def __call__(self, x, training=False):
        return keras.ops.one_hot(keras.ops.full((keras.ops.shape(x)[0],), 3, dtype="int32"), 10)


def test_conditional_accuracy_counts_the_judge_agreeing_with_the_requested_label(cvae):
    overall, per_class = evaluate.conditional_accuracy(cvae, _FakeJudge(), n_per_label=5)
    assert overall == pytest.approx(0.1)
    assert per_class.tolist() == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0]


def _collapsed_cvae():
    """A CVAE whose decoder ignores z: the weights from z into the first layer are zero."""
    model = models.build_cvae(2, seed=0)
    dense = next(layer for layer in model.decoder.layers if isinstance(layer, keras.layers.Dense))
    kernel, bias = dense.get_weights()
    kernel[:2] = 0.0
    dense.set_weights([kernel, bias])
    return model


def test_diversity_is_zero_when_the_decoder_ignores_the_code(images):
    rng = np.random.default_rng(0)
    real = rng.uniform(size=(50, 28, 28, 1)).astype(np.float32)
    assert evaluate.diversity(_collapsed_cvae(), real, np.arange(50) % 10, n_per_label=5) == pytest.approx(0, abs=1e-6)


def test_diversity_is_positive_when_the_decoder_uses_the_code(cvae):
    rng = np.random.default_rng(0)
    real = rng.uniform(size=(50, 28, 28, 1)).astype(np.float32)
    assert evaluate.diversity(cvae, real, np.arange(50) % 10, n_per_label=5) > 0.001


def test_the_judge_classifies_digits_into_ten_classes():
    judge = recipes.build_judge()
    assert judge.output_shape == (None, 10)
    assert evaluate.classify(judge, np.zeros((3, 28, 28))).shape == (3,)


def test_elbo_terms_are_the_closed_form_kl_and_add_up_to_the_negative_elbo(cvae, images):
    x, y = images
    rec, kl, total = evaluate.mean_elbo_terms(cvae, x, y, seed=3)
    z_mean, z_log_var = cvae.encode_distribution(x, y)
    assert kl == pytest.approx(float(np.mean(losses.kl_divergence(z_mean, z_log_var))), rel=1e-5)
    assert rec + kl == pytest.approx(total, rel=1e-9)
    assert total == pytest.approx(evaluate.mean_negative_elbo(cvae, x, y, seed=3), rel=1e-9)


def test_elbo_terms_per_image_give_one_reconstruction_and_one_kl_per_image(cvae, images):
    x, y = images
    rec, kl = evaluate.elbo_terms_per_image(cvae, x, y)
    assert rec.shape == kl.shape == (40,) and np.all(rec > 0) and np.all(kl >= 0)
