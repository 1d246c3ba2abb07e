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


def test_a_vae_history_with_no_kl_fails_the_training_check(fails_with):
    history = keras.callbacks.History()
    history.history = {"loss": [200.0, 180.0], "reconstruction": [200.0, 180.0], "kl": [0.0, 0.0]}
    fails_with(checks.check_vae_trained, history, hint="sign and the terms of kl_divergence")
