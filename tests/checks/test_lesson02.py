"""Lesson 02's checks (cvae_course.checks.lesson02): right answers pass with a tick, mistakes get the matching hint."""

import numpy as np

from cvae_course import checks
from cvae_course._keras import keras, ops
from cvae_course.checks.lesson02 import _latent_batch


# ------------------------------------------------------------------------ reference answers
def bce(x, logits):
    return ops.sum(ops.binary_crossentropy(x, logits, from_logits=True), axis=(1, 2, 3))


def kl(mu, log_var):
    return -0.5 * ops.sum(1.0 + log_var - ops.square(mu) - ops.exp(log_var), axis=-1)


def make_sampling(scale=0.5, numpy=False, seeded=True):
    class Sampling(keras.layers.Layer):
        def __init__(self, seed=None, **kwargs):
            super().__init__(**kwargs)
            self.seed_generator = keras.random.SeedGenerator(seed if seeded else None)

        def call(self, inputs):
            mu, log_var = inputs
            eps = keras.random.normal(ops.shape(mu), seed=self.seed_generator)
            if numpy:
                return np.asarray(mu) + np.exp(scale * np.asarray(log_var)) * np.asarray(eps)
            return mu + ops.exp(scale * log_var) * eps

    return Sampling


# ------------------------------------------------------------------------ a right answer passes
def test_right_answers_of_lesson_02_pass_with_a_tick(capsys):
    checks.check_sampling(make_sampling())
    checks.check_kl(kl)
    checks.check_elbo_terms(lambda x, l, m, v: (ops.mean(bce(x, l)), ops.mean(kl(m, v))))
    checks.check_sample_images(lambda dec, n, d, seed=None: ops.sigmoid(dec(keras.random.normal((n, d), seed=seed))))
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4 and all(line.startswith(checks.TICK) for line in lines)


# ------------------------------------------------------------------------ typical mistakes
def test_sampling_without_the_half_is_told_about_the_missing_half(fails_with):
    fails_with(checks.check_sampling, make_sampling(scale=1.0), hint="forgot the 0.5")


def test_sampling_in_numpy_is_told_that_gradients_need_keras_ops(fails_with):
    fails_with(checks.check_sampling, make_sampling(numpy=True), hint="keras.ops")


def test_unseeded_sampling_is_told_to_use_the_seed_generator(fails_with):
    fails_with(checks.check_sampling, make_sampling(seeded=False), hint="SeedGenerator(seed)")


def test_kl_with_the_wrong_sign_is_told_about_the_sign(fails_with):
    fails_with(checks.check_kl, lambda m, v: -kl(m, v), hint="sign is wrong")


def test_kl_without_the_half_is_told_about_the_half(fails_with):
    fails_with(checks.check_kl, lambda m, v: 2.0 * kl(m, v), hint="forgot the 0.5")


def test_kl_summed_over_the_batch_axis_is_told_which_axis(fails_with):
    wrong_axis = lambda m, v: -0.5 * ops.sum(1.0 + v - ops.square(m) - ops.exp(v), axis=0)  # noqa: E731
    fails_with(checks.check_kl, wrong_axis, hint="axis=-1")


def test_kl_written_in_numpy_is_told_to_use_keras_ops_for_training(fails_with):
    numpy_kl = lambda m, v: -0.5 * np.sum(1.0 + np.asarray(v) - np.asarray(m) ** 2 - np.exp(v), axis=-1)  # noqa: E731
    fails_with(checks.check_kl, numpy_kl, hint="keras.ops")


def test_a_hard_coded_kl_fails_even_the_visible_check(fails_with):
    answer = ops.convert_to_numpy(kl(*_latent_batch(8, 2, 0)))
    fails_with(checks.check_kl, lambda m, v: answer, hint="expected 0")


def test_elbo_terms_averaged_over_pixels_are_told_the_vae_collapses(fails_with):
    per_pixel = lambda x, l, m, v: (ops.mean(bce(x, l)) / 784.0, ops.mean(kl(m, v)))  # noqa: E731
    fails_with(checks.check_elbo_terms, per_pixel, hint="collapses")


def test_sample_images_returning_logits_are_told_to_apply_the_sigmoid(fails_with):
    logits = lambda dec, n, d, seed=None: dec(keras.random.normal((n, d), seed=seed))  # noqa: E731
    fails_with(checks.check_sample_images, logits, hint="sigmoid")


def test_sample_images_from_a_uniform_distribution_are_told_about_the_prior(fails_with):
    uniform = lambda dec, n, d, seed=None: ops.sigmoid(dec(keras.random.uniform((n, d), seed=seed)))  # noqa: E731
    fails_with(checks.check_sample_images, uniform, hint="N(0, I)")


def history_of(loss, kl):
    history = keras.callbacks.History()
    history.history = {"loss": [loss], "reconstruction": [loss - kl], "kl": [kl]}
    return history


def test_a_negative_kl_after_training_is_called_impossible(fails_with):
    said = fails_with(checks.check_vae_trained, history_of(150.0, -4.0), hint="check the sign of kl_divergence")
    assert "below 0, which a KL divergence never is" in said


def test_a_nan_loss_after_training_is_explained(fails_with):
    said = fails_with(checks.check_vae_trained, history_of(float("nan"), float("nan")), hint="never take a log")
    assert "NaN (not a number)" in said


def test_a_collapsed_vae_passes_with_a_remark_when_its_functions_are_right(capsys):
    checks.check_vae_trained(
        history_of(200.0, 0.02),
        kl_divergence=kl,
        elbo_terms=lambda x, l, m, v: (ops.mean(bce(x, l)), ops.mean(kl(m, v))),
    )
    out = capsys.readouterr().out
    assert out.startswith(checks.TICK) and "posterior collapse" in out


def test_a_training_broken_by_a_wrong_kl_names_kl_divergence_at_once(fails_with):
    wrong_sign = lambda m, v: -kl(m, v)  # noqa: E731
    said = fails_with(
        checks.check_vae_trained,
        history_of(150.0, -4.0),
        kl_divergence=wrong_sign,
        elbo_terms=lambda x, l, m, v: (ops.mean(bce(x, l)), ops.mean(wrong_sign(m, v))),
        hint="your kl_divergence (task 2) does not pass its check yet: fix it first",
    )
    assert "sign is wrong" in said


def test_elbo_terms_are_graded_with_the_course_kl_divergence(capsys):
    """A wrong kl_divergence (task 2) costs task 2 only: elbo_terms (task 3) runs on the course's version."""
    namespace = {"ops": ops, "bce": bce, "kl_divergence": lambda m, v: 2.0 * kl(m, v)}  # task 2 wrong (no 0.5)
    exec(
        "def elbo_terms(x, logits, z_mean, z_log_var):\n"
        "    return ops.mean(bce(x, logits)), ops.mean(kl_divergence(z_mean, z_log_var))\n",
        namespace,
    )
    checks.check_elbo_terms(namespace["elbo_terms"])
    assert capsys.readouterr().out.startswith(checks.TICK)
    ones = ops.ones((1, 2))
    assert np.allclose(namespace["kl_divergence"](ones, ones), 2.0 * kl(ones, ones))  # the learner's is back


def test_elbo_terms_are_graded_with_the_course_kl_divergence_when_task_2_never_defined_it(capsys):
    """Task 2's cell raised before defining kl_divergence: elbo_terms still runs on the course's version."""
    namespace = {"ops": ops, "bce": bce}
    exec(
        "def elbo_terms(x, logits, z_mean, z_log_var):\n"
        "    return ops.mean(bce(x, logits)), ops.mean(kl_divergence(z_mean, z_log_var))\n",
        namespace,
    )
    checks.check_elbo_terms(namespace["elbo_terms"])
    assert capsys.readouterr().out.startswith(checks.TICK)
    assert "kl_divergence" not in namespace


def test_elbo_terms_with_a_squared_error_are_told_it_is_mse(fails_with):
    mse = lambda x, l, m, v: (ops.mean(ops.sum(ops.square(x - ops.sigmoid(l)), axis=(1, 2, 3))), ops.mean(kl(m, v)))  # noqa: E731
    fails_with(checks.check_elbo_terms, mse, hint="squared error (MSE)")


def test_a_loss_dividing_by_x_shape_0_is_told_about_the_unknown_batch_size(fails_with):
    """Keras traces a training step with an unknown batch size: x.shape[0] is None there."""
    by_shape = lambda x, l, m, v: (ops.sum(bce(x, l)) / x.shape[0], ops.sum(kl(m, v)) / m.shape[0])  # noqa: E731
    said = fails_with(checks.check_elbo_terms, by_shape, hint="ops.shape(x)")
    assert "in user code" not in said and "None" in said


def test_sampling_with_z_mean_shape_is_told_about_the_unknown_batch_size(fails_with):
    class Sampling(keras.layers.Layer):
        def __init__(self, seed=None, **kwargs):
            super().__init__(**kwargs)
            self.seed_generator = keras.random.SeedGenerator(seed)

        def call(self, inputs):
            mu, log_var = inputs
            return mu + ops.exp(0.5 * log_var) * keras.random.normal(mu.shape, seed=self.seed_generator)

    fails_with(checks.check_sampling, Sampling, hint="ops.shape(x)")


def test_an_unwritten_sampling_layer_is_named_with_its_task(fails_with):
    class Sampling(keras.layers.Layer):
        def call(self, inputs):
            raise NotImplementedError()

        def __init__(self, seed=None, **kwargs):
            super().__init__(**kwargs)

    fails_with(checks.check_sampling, Sampling, hint="Sampling (task 1) is not written yet")
