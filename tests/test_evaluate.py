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


# ------------------------------------------------------------------------------ yardsticks and likelihoods
def test_the_average_digit_baseline_is_the_cross_entropy_of_the_mean_training_image():
    rng = np.random.default_rng(2)
    train, test = rng.uniform(size=(50, 28, 28, 1)), rng.uniform(size=(7, 28, 28, 1))
    p = np.clip(train.mean(axis=0), 1e-4, 1 - 1e-4)
    direct = np.mean([-np.sum(x * np.log(p) + (1 - x) * np.log(1 - p)) for x in test])
    assert evaluate.average_digit_nll(train, test) == pytest.approx(direct, rel=1e-5)
    assert evaluate.average_digit(train).shape == (28, 28, 1)


def test_no_probabilities_score_below_the_entropy_floor_and_p_equal_to_x_reaches_it():
    rng = np.random.default_rng(3)
    x = rng.uniform(0.01, 0.99, size=(5, 28, 28, 1))
    x[0] = np.round(x[0])  # a binarized image: its floor is 0
    floor = evaluate.entropy_floor(x)
    assert floor[0] == 0 and np.all(floor[1:] > 0)

    def bce(p):
        p = np.clip(p, 1e-12, 1 - 1e-12)
        return -(x * np.log(p) + (1 - x) * np.log1p(-p)).reshape(5, -1).sum(axis=1)

    np.testing.assert_allclose(bce(x), floor, atol=1e-6)
    for scale in (0.5, 0.9, 1.1):
        assert np.all(bce(x * scale) > floor)


def test_the_entropy_floor_of_grey_mnist_is_far_above_zero():
    """Half a pixel of grey is worth up to log 2 nats: a stroke's edges add up to tens of nats per image."""
    edge = np.zeros((1, 28, 28, 1))
    edge[0, 10:18, 10:18] = 0.5
    assert evaluate.entropy_floor(edge)[0] == pytest.approx(64 * np.log(2))


def test_log_mean_exp_handles_log_likelihoods_far_below_zero():
    values = np.array([[-1000.0, -50.0], [-1000.0 + np.log(3.0), -50.0]])
    np.testing.assert_allclose(evaluate.log_mean_exp(values, axis=0), [-1000.0 + np.log(2.0), -50.0])


@pytest.fixture(scope="module")
def tiny_vae():
    """A VAE with a 1-D code, trained for a few steps so that its decoder uses z: small enough to integrate."""
    from cvae_course import settings, training

    settings.seed_everything(0)
    rng = np.random.default_rng(0)
    x = (rng.uniform(size=(64, 28, 28, 1)) < np.linspace(0.1, 0.9, 64)[:, None, None, None]).astype(np.float32)
    model = models.build_vae(1, seed=0, hidden=(16,))
    training.train(model, x, epochs=30, batch_size=32, learning_rate=1e-2, schedule="constant", progress=False)
    return model, x


def _brute_force_nll(model, x):
    """-log p(x) = -log integral p(x | z) N(z; 0, 1) dz by quadrature over a fine grid of the 1-D code."""
    grid = np.linspace(-10, 10, 4001, dtype=np.float32)
    step = float(grid[1] - grid[0])
    logits = model.decode_logits(grid[:, None])
    out = []
    for image in x:
        log_px_z = -np.asarray(losses.reconstruction_loss(np.repeat(image[None], len(grid), 0), logits), np.float64)
        log_joint = log_px_z - 0.5 * (grid.astype(np.float64) ** 2 + np.log(2 * np.pi)) + np.log(step)
        out.append(-evaluate.log_mean_exp(log_joint) - np.log(len(grid)))
    return np.array(out)


@pytest.fixture(scope="module")
def exact_nll(tiny_vae):
    model, x = tiny_vae
    return _brute_force_nll(model, x)


def test_the_importance_sampled_nll_agrees_with_brute_force_integration_on_a_tiny_model(tiny_vae, exact_nll):
    model, x = tiny_vae
    estimate = evaluate.importance_sampled_nll(model, x[:6], n_samples=50_000, seed=0)
    # measured with the one-cycle schedule: within 0.021 nats at seeds 0 and 1 (5,000 samples: up to 0.135)
    np.testing.assert_allclose(estimate, exact_nll[:6], atol=0.1)


def test_the_importance_sampled_nll_is_below_the_negative_elbo_on_average_and_converges(tiny_vae, exact_nll):
    model, x = tiny_vae
    neg_elbo = evaluate.negative_elbo_per_image(model, x, n_samples=200).mean()
    excess = [
        evaluate.importance_sampled_nll(model, x, n_samples=s, seed=1).mean() - exact_nll.mean()
        for s in (1, 10, 100, 1000)
    ]  # measured: 4.9, 2.6, 1.9, 1.5 nats above -log p(x)
    assert excess[0] == pytest.approx(neg_elbo - exact_nll.mean(), abs=1.5)  # S = 1: a one-sample -ELBO
    assert exact_nll.mean() + excess[1] < neg_elbo  # the IWAE bound is tighter than the ELBO ...
    steps = -np.diff(excess)
    assert np.all(steps > 0) and np.all(np.diff(steps) < 0) and excess[-1] > -0.1  # ... and closes in from above


def test_the_importance_sampled_nll_of_a_cvae_is_conditioned_on_the_label(cvae, images):
    x, y = images
    right = evaluate.importance_sampled_nll(cvae, x[:5], y[:5], n_samples=20)
    other = evaluate.importance_sampled_nll(cvae, x[:5], (y[:5] + 1) % 10, n_samples=20)
    assert right.shape == (5,) and np.all(np.isfinite(right)) and not np.allclose(right, other)
    with pytest.raises(ValueError, match="labels"):
        evaluate.importance_sampled_nll(cvae, x[:5], n_samples=2)


def test_where_xla_cannot_compile_the_unfused_cross_entropy_gives_the_same_nll(monkeypatch):
    monkeypatch.setattr(evaluate, "FUSE_MIN_CALLS", 1)  # fuse even this one-call scoring
    model = models.build_vae(2, seed=3, hidden=(8,))  # its own compiled scoring: traced under the patch below
    x = (np.random.default_rng(3).uniform(size=(5, 28, 28, 1)) < 0.3).astype(np.float32)
    fused = evaluate.importance_sampled_nll(model, x, n_samples=9, seed=2)

    def no_xla(*args):
        raise RuntimeError("this device has no XLA")

    monkeypatch.setattr(evaluate, "_fused", no_xla)
    monkeypatch.setattr(evaluate, "_XLA_WORKS", [])
    other = models.build_vae(2, seed=3, hidden=(8,))
    other.set_weights(model.get_weights())
    np.testing.assert_allclose(evaluate.importance_sampled_nll(other, x, n_samples=9, seed=2), fused, atol=1e-3)
    assert evaluate._XLA_WORKS == [False]


def test_only_a_scoring_of_many_compiled_calls_pays_for_fusing_by_xla(monkeypatch):
    fused_traces = []
    real = evaluate._fused

    def spy(*args):
        fused_traces.append(args[1].shape)
        return real(*args)

    monkeypatch.setattr(evaluate, "_fused", spy)
    monkeypatch.setattr(evaluate, "_XLA_WORKS", [True])  # no probe through the spy, whichever test ran first
    monkeypatch.setattr(evaluate, "IMPORTANCE_ROWS", 40)  # S = 10: 4 images per compiled call
    x = (np.random.default_rng(5).uniform(size=(40, 28, 28, 1)) < 0.3).astype(np.float32)
    few = models.build_vae(2, seed=5, hidden=(8,))
    short = evaluate.importance_sampled_nll(few, x[:12], n_samples=10, seed=1)  # 3 calls: not worth a compile
    assert fused_traces == []
    many = models.build_vae(2, seed=5, hidden=(8,))
    many.set_weights(few.get_weights())
    long = evaluate.importance_sampled_nll(many, x, n_samples=10, seed=1)  # 10 calls: fused
    assert [tuple(s) for s in fused_traces] == [(10, 4, 784)]
    np.testing.assert_allclose(long[:12], short, atol=1e-3)  # the same draws for the first 12 images


def test_the_importance_sampled_nll_is_repeatable_with_a_seed(tiny_vae):
    model, x = tiny_vae
    a, b = (evaluate.importance_sampled_nll(model, x, n_samples=7, seed=4) for _ in range(2))
    np.testing.assert_array_equal(a, b)


def test_sampled_log_likelihoods_from_the_proposal_average_to_the_elbos_reconstruction_term(tiny_vae):
    model, x = tiny_vae
    sampled = -evaluate.sampled_log_likelihoods(model, x, n_samples=200, seed=2).mean(axis=0)
    rec, _ = evaluate.elbo_terms_per_image(model, x, n_samples=200, seed=3)
    assert sampled.shape == (len(x),)
    # other draws, the same expectation: measured 4e-5 apart (relative)
    np.testing.assert_allclose(sampled.mean(), rec.mean(), rtol=2e-3)
    from_prior = -evaluate.sampled_log_likelihoods(model, x, codes="prior", n_samples=50).mean()
    assert from_prior > sampled.mean()  # codes that have not seen the image reconstruct it worse
    with pytest.raises(ValueError, match="codes must be one of"):
        evaluate.sampled_log_likelihoods(model, x, codes="posterior")


def test_the_aggregate_posterior_variance_is_the_spread_of_means_plus_the_mean_variance():
    rng = np.random.default_rng(5)
    means, log_vars = rng.normal(size=(400, 2)) * [0.5, 1.0], np.log(np.full((400, 2), 0.25))
    np.testing.assert_allclose(evaluate.aggregate_posterior_variance(means, log_vars), means.var(0) + 0.25)
    z = means + 0.5 * rng.normal(size=means.shape)  # codes drawn from the aggregate posterior
    np.testing.assert_allclose(evaluate.aggregate_posterior_variance(means, log_vars), z.var(0), rtol=0.15)


def test_the_aggregate_posterior_density_is_the_mixture_of_the_images_posteriors():
    means, log_vars = np.array([[0.0, 0.0], [3.0, 0.0]]), np.zeros((2, 2))
    z = np.array([[0.0, 0.0], [1.5, 0.0], [3.0, 0.0]])
    direct = 0.5 * (np.exp(-0.5 * np.sum(z**2, 1)) + np.exp(-0.5 * np.sum((z - [3, 0]) ** 2, 1))) / (2 * np.pi)
    np.testing.assert_allclose(evaluate.aggregate_posterior_density(z, means, log_vars), direct)
    with pytest.raises(ValueError, match="latent_dim"):
        evaluate.aggregate_posterior_density(np.zeros((3, 3)), means, log_vars)


def test_same_label_neighbours_is_one_when_each_label_has_its_own_region():
    labels = np.repeat(np.arange(10), 30)
    codes = np.c_[labels * 10.0, np.zeros(300)] + np.random.default_rng(0).normal(scale=0.5, size=(300, 2))
    assert evaluate.same_label_neighbours(codes, labels, k=5) == 1.0


def test_same_label_neighbours_is_near_chance_when_codes_say_nothing_about_the_label():
    rng = np.random.default_rng(0)
    share = evaluate.same_label_neighbours(rng.normal(size=(2000, 2)), rng.integers(0, 10, 2000), k=10)
    assert share == pytest.approx(0.1, abs=0.02)


def test_same_label_neighbours_never_counts_a_code_as_its_own_neighbour():
    # two far-apart pairs with different labels inside each pair: every nearest other code has the other label
    codes, labels = np.array([[0.0, 0.0], [0.1, 0.0], [9.0, 9.0], [9.1, 9.0]]), np.array([0, 1, 0, 1])
    assert evaluate.same_label_neighbours(codes, labels, k=1) == 0.0


def test_progress_prints_one_line_when_done_outside_a_notebook(capsys):
    with evaluate.Progress("scoring", total=3) as step:
        for i in range(3):
            step(i + 1)
    out = capsys.readouterr().out
    assert out.startswith("scoring: 3/3 (") and out.count("\n") == 1


def test_progress_that_is_not_shown_prints_nothing(capsys):
    with evaluate.Progress("scoring", total=3, show=False) as step:
        step(3)
    assert capsys.readouterr().out == ""


# ------------------------------------------------------------------------------- clear errors on odd arguments
@pytest.mark.parametrize("judge", [lambda: models.build_vae(2, seed=0), lambda: "judge"])
def test_classify_and_accuracy_say_the_judge_must_be_a_classifier(judge, images):
    with pytest.raises(ValueError, match=r"judge must be a classifier.*recipes.load_judge\(\)"):
        evaluate.classify(judge(), images[0])
    with pytest.raises(ValueError, match="judge must be a classifier"):
        evaluate.accuracy(judge(), *images)


def test_classify_rejects_an_empty_batch_and_a_judge_without_ten_logits(images):
    with pytest.raises(ValueError, match="holds no images"):
        evaluate.classify(_FakeJudge(), images[0][:0])
    with pytest.raises(ValueError, match="10 logits per image"):
        evaluate.classify(lambda x, training=False: keras.ops.zeros((keras.ops.shape(x)[0], 3)), images[0])


def test_empty_images_and_one_code_are_refused_instead_of_giving_nan(images):
    vae = models.build_vae(2, seed=0)
    with pytest.raises(ValueError, match="holds no images"):
        evaluate.mean_negative_elbo(vae, images[0][:0])
    with pytest.raises(ValueError, match="at least 2 images"):
        evaluate.aggregate_posterior_variance(np.zeros((0, 2)), np.zeros((0, 2)))
    with pytest.raises(ValueError, match="at least 2 images"):
        evaluate.aggregate_posterior_variance(np.zeros((1, 2)), np.zeros((1, 2)))
