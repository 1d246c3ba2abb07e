"""Lesson 06's checks (cvae_course.checks.lesson06): right answers pass with a tick, mistakes get the matching hint."""

import numpy as np
import pytest

from cvae_course import checks
from cvae_course._keras import keras, layers, ops


# ------------------------------------------------------------------------ reference answers
def make_kl(*, sign=1.0, half=0.5, reduce=ops.sum, swap=False, ignore_prior=False, no_mean=False, minus_one=1.0):
    def gaussian_kl(mu_q, lv_q, mu_p, lv_p):
        if swap:
            mu_q, lv_q, mu_p, lv_p = mu_p, lv_p, mu_q, lv_q
        if ignore_prior:
            mu_p, lv_p = ops.zeros_like(mu_p), ops.zeros_like(lv_p)
        shift = 0.0 if no_mean else ops.square(mu_q - mu_p)
        per_dim = lv_p - lv_q + (ops.exp(lv_q) + shift) / ops.exp(lv_p) - minus_one
        return sign * half * reduce(per_dim, axis=-1)

    return gaussian_kl


def make_prior(*, two_inputs=False, one_output=False, relu_log_var=False, constant=False):
    def build(latent_dim):
        x = keras.Input(shape=(28, 28, 1))
        inputs = [x, keras.Input(shape=(28, 28, 1))] if two_inputs else x
        h = layers.Flatten()(x)
        h = layers.Dense(32, activation="relu")(h)
        if constant:
            h = layers.Lambda(lambda t: ops.zeros_like(t))(h)
        mean = layers.Dense(latent_dim)(h)
        log_var = layers.Dense(
            latent_dim,
            activation="relu" if relu_log_var else None,
            bias_initializer="zeros",
            kernel_initializer="zeros" if relu_log_var else "glorot_uniform",
        )(h)
        return keras.Model(inputs, mean if one_output else [mean, log_var])

    return build


class History:
    def __init__(self, **logs):
        self.history = logs


# ------------------------------------------------------------------------ a right answer passes
def test_right_answers_of_lesson_06_pass_with_a_tick(capsys):
    checks.check_gaussian_kl(make_kl())
    checks.check_prior_network(make_prior())
    checks.check_quadrant_cvae_trained(History(loss=[300.0, 120.0], reconstruction=[290.0, 110.0], kl=[10.0, 10.0]))
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith(checks.TICK) for line in lines)


def test_hidden_test_sizes_pass_too():
    checks.check_gaussian_kl(make_kl(), batch=2, latent_dim=1, seed=62)
    checks.check_prior_network(make_prior(), latent_dim=1, seed=72)


# ------------------------------------------------------------------------ typical mistakes
@pytest.mark.parametrize(
    "mistake, hint",
    [
        (dict(sign=-1.0), "never negative"),
        (dict(half=1.0), "forgot the 1/2"),
        (dict(reduce=ops.mean), "averaged over the latent dimensions"),
        (dict(swap=True), "that is KL(p || q)"),
        (dict(ignore_prior=True), "lesson 02's KL to N(0, I)"),
        (dict(no_mean=True), "squared difference of the means"),
        (dict(minus_one=0.0), "the -1 inside the sum"),
    ],
)
def test_a_wrong_gaussian_kl_gets_the_hint_that_fixes_it(fails_with, mistake, hint):
    fails_with(checks.check_gaussian_kl, make_kl(**mistake), hint=hint)


def test_a_kl_summed_over_the_batch_is_told_which_axis(fails_with):
    wrong = lambda *a: ops.sum(make_kl(reduce=lambda t, axis: t)(*a), axis=0)  # noqa: E731
    fails_with(checks.check_gaussian_kl, wrong, hint="summed over the batch axis")


def test_a_kl_in_numpy_is_told_to_use_keras_ops(fails_with):
    def numpy_kl(mu_q, lv_q, mu_p, lv_p):
        mu_q, lv_q, mu_p, lv_p = (np.asarray(a) for a in (mu_q, lv_q, mu_p, lv_p))
        return 0.5 * np.sum(lv_p - lv_q + (np.exp(lv_q) + (mu_q - mu_p) ** 2) / np.exp(lv_p) - 1, axis=-1)

    fails_with(checks.check_gaussian_kl, numpy_kl, hint="keras.ops")


def test_an_unwritten_kl_is_told_to_replace_the_placeholder(fails_with):
    def unwritten(*args):
        raise NotImplementedError()

    fails_with(checks.check_gaussian_kl, unwritten, hint="replace `raise NotImplementedError()`")


@pytest.mark.parametrize(
    "mistake, hint",
    [
        (dict(two_inputs=True), "sees only the visible part x"),
        (dict(one_output=True), "two outputs"),
        (dict(constant=True), "same distribution"),
    ],
)
def test_a_wrong_prior_network_gets_the_hint_that_fixes_it(fails_with, mistake, hint):
    fails_with(checks.check_prior_network, make_prior(**mistake), hint=hint)


def test_a_cvae_whose_kl_stays_at_zero_or_whose_loss_rises_fails(fails_with):
    fails_with(
        checks.check_quadrant_cvae_trained,
        History(loss=[300.0, 120.0], reconstruction=[300.0, 120.0], kl=[0.0, 0.0]),
        hint="sign of gaussian_kl",
    )
    fails_with(
        checks.check_quadrant_cvae_trained,
        History(loss=[120.0, 300.0], reconstruction=[110.0, 290.0], kl=[10.0, 10.0]),
        hint="did not go down",
    )
    fails_with(checks.check_quadrant_cvae_trained, History(), hint="run the training cell")


def make_complete(*, sigmoid=True, paste=True, standard_normal=False, same_noise=False):
    def complete(prior, generation, x, n_samples, seed=None):
        x = ops.convert_to_tensor(x)
        mean, log_var = prior(x)
        eps = keras.random.normal((n_samples, *ops.shape(mean)), seed=seed)
        out = []
        for i in range(n_samples):
            e = eps[0] if same_noise else eps[i]
            z = e if standard_normal else mean + ops.exp(0.5 * log_var) * e
            logits = generation([x, z])
            out.append(ops.sigmoid(logits) if sigmoid else logits)
        out = ops.stack(out)
        return ops.where(x < 0, out, x) if paste else out

    return complete


def test_a_right_completion_passes_also_on_the_hidden_sizes(capsys):
    checks.check_complete(make_complete())
    checks.check_complete(make_complete(), n_samples=2, n_images=1, latent_dim=1, seed=82)
    assert capsys.readouterr().out.count(checks.TICK) == 2


@pytest.mark.parametrize(
    "mistake, hint",
    [
        (dict(sigmoid=False), "apply ops.sigmoid"),
        (dict(paste=False), "put x's own pixels back"),
        (dict(standard_normal=True), "N(0, I) is not the prior here"),
        (dict(same_noise=True), "draw new noise for every completion"),
    ],
)
def test_a_wrong_completion_gets_the_hint_that_fixes_it(fails_with, mistake, hint):
    fails_with(checks.check_complete, make_complete(**mistake), hint=hint)


def make_hidden_loss(*, mask="hidden", reduce=ops.sum):
    def hidden_loss(x, y, logits):
        per_pixel = ops.relu(logits) - logits * y + ops.log1p(ops.exp(-ops.abs(logits)))
        if mask == "hidden":
            per_pixel = per_pixel * ops.cast(x < 0, "float32")
        elif mask == "visible":
            per_pixel = per_pixel * ops.cast(x >= 0, "float32")
        else:  # every pixel, against the whole digit
            whole = ops.where(x < 0, y, x)
            per_pixel = ops.relu(logits) - logits * whole + ops.log1p(ops.exp(-ops.abs(logits)))
        return reduce(per_pixel, axis=(1, 2, 3))

    return hidden_loss


def test_a_right_hidden_loss_passes_also_on_the_hidden_sizes(capsys):
    checks.check_hidden_loss(make_hidden_loss())
    checks.check_hidden_loss(make_hidden_loss(), batch=3, seed=51)
    assert capsys.readouterr().out.count(checks.TICK) == 2


@pytest.mark.parametrize(
    "mistake, hint",
    [
        (dict(mask="all"), "count only the hidden pixels"),
        (dict(mask="visible"), "those are the visible pixels"),
        (dict(reduce=ops.mean), "averages over all 784 pixels"),
    ],
)
def test_a_wrong_hidden_loss_gets_the_hint_that_fixes_it(fails_with, mistake, hint):
    fails_with(checks.check_hidden_loss, make_hidden_loss(**mistake), hint=hint)


def test_a_hidden_loss_for_the_whole_batch_is_told_to_keep_one_per_image(fails_with):
    fails_with(
        checks.check_hidden_loss, lambda x, y, l: ops.sum(make_hidden_loss()(x, y, l)), hint="one loss per image"
    )
