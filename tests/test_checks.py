"""The exercise checks: right answers pass with a tick, typical mistakes fail with the matching hint."""

import numpy as np
import pytest

from cvae_course import checks, data, models
from cvae_course._keras import keras, layers, ops


def fails_with(check, *args, hint: str, **kwargs):
    with pytest.raises(AssertionError) as info:
        check(*args, **kwargs)
    assert hint.lower() in str(info.value).lower(), str(info.value)
    return str(info.value)


# ------------------------------------------------------------------------ reference answers
def encoder(latent_dim, activation=None, flat_input=False):
    image = keras.Input(shape=(784,) if flat_input else (28, 28, 1))
    h = layers.Dense(32, activation="relu")(image if flat_input else layers.Flatten()(image))
    return keras.Model(image, layers.Dense(latent_dim, activation=activation)(h))


def decoder(latent_dim, activation=None):
    z = keras.Input(shape=(latent_dim,))
    h = layers.Dense(784, activation=activation)(layers.Dense(32, activation="relu")(z))
    return keras.Model(z, layers.Reshape((28, 28, 1))(h))


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


def cond_encoder(latent_dim, use_label=True):
    image, label = keras.Input(shape=(28, 28, 1)), keras.Input(shape=(10,))
    h = layers.Flatten()(image)
    h = layers.Dense(16, activation="relu")(layers.Concatenate()([h, label]) if use_label else h)
    heads = [layers.Dense(latent_dim)(h), layers.Dense(latent_dim)(h)]
    return keras.Model([image, label], heads if use_label else heads)


def cond_decoder(latent_dim):
    z, label = keras.Input(shape=(latent_dim,)), keras.Input(shape=(10,))
    h = layers.Dense(16, activation="relu")(layers.Concatenate()([z, label]))
    return keras.Model([z, label], layers.Reshape((28, 28, 1))(layers.Dense(784)(h)))


def generate(decoder, digit, n, latent_dim, seed=None, integer_labels=False, label_of=None):
    z = keras.random.normal((n, latent_dim), seed=seed)
    wanted = digit if label_of is None else label_of
    labels = ops.full((n,), wanted, dtype="int32")
    y = ops.cast(labels, "float32")[:, None] if integer_labels else ops.one_hot(labels, 10)
    return ops.sigmoid(decoder([z, y]))


def transfer(encoder, decoder, images, labels, new_label, encode_with_new=False, sample=False):
    y = ops.one_hot(ops.full((len(images),), new_label, dtype="int32") if encode_with_new else labels, 10)
    z_mean, z_log_var = encoder([ops.convert_to_tensor(images), y])
    z = z_mean + ops.exp(0.5 * z_log_var) * keras.random.normal(ops.shape(z_mean), seed=1) if sample else z_mean
    return ops.sigmoid(decoder([z, ops.one_hot(ops.full((len(images),), new_label, dtype="int32"), 10)]))


# ------------------------------------------------------------------------ every check accepts a right answer
def test_right_answers_pass_with_a_tick(capsys):
    checks.check_encoder(encoder)
    checks.check_decoder(decoder)
    checks.check_reconstruction_error(bce)
    checks.check_worst_reconstructions(lambda ae, x, k: np.argsort(-ops.convert_to_numpy(bce(x, ae(x))))[:k])
    checks.check_sampling(make_sampling())
    checks.check_kl(kl)
    checks.check_elbo_terms(lambda x, l, m, v: (ops.mean(bce(x, l)), ops.mean(kl(m, v))))
    checks.check_sample_images(lambda dec, n, d, seed=None: ops.sigmoid(dec(keras.random.normal((n, d), seed=seed))))
    checks.check_conditional_encoder(cond_encoder)
    checks.check_conditional_decoder(cond_decoder)
    checks.check_generate_digit(generate)
    checks.check_style_transfer(transfer)
    checks.check_interpolate(lambda a, b, steps: np.linspace(a, b, steps))
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 13 and all(line.startswith(checks.TICK) for line in lines)


def test_an_unsolved_task_says_it_is_not_written_yet():
    def unsolved(*args):
        raise NotImplementedError()

    fails_with(checks.check_kl, unsolved, hint="not written yet")


# ------------------------------------------------------------------------ lesson 01 mistakes
def test_encoder_with_a_relu_code_layer_is_told_to_stay_linear():
    fails_with(checks.check_encoder, lambda d: encoder(d, activation="relu"), hint="leave the last Dense layer linear")


def test_encoder_taking_flat_vectors_is_told_to_flatten_inside():
    fails_with(checks.check_encoder, lambda d: encoder(d, flat_input=True), hint="layers.Flatten()")


def test_decoder_ending_in_a_sigmoid_is_told_to_return_logits():
    fails_with(checks.check_decoder, lambda d: decoder(d, activation="sigmoid"), hint="return logits")


def test_reconstruction_error_averaged_over_pixels_is_told_to_sum():
    mean_bce = lambda x, l: ops.mean(ops.binary_crossentropy(x, l, from_logits=True), axis=(1, 2, 3))  # noqa: E731
    fails_with(checks.check_reconstruction_error, mean_bce, hint="sum over the 784 pixels")


def test_reconstruction_error_for_the_whole_batch_is_told_one_per_image():
    fails_with(checks.check_reconstruction_error, lambda x, l: ops.sum(bce(x, l)), hint="one per image")


def test_reconstruction_error_with_the_wrong_sign_is_told_so():
    fails_with(checks.check_reconstruction_error, lambda x, l: -bce(x, l), hint="wrong sign")


def test_reconstruction_error_taking_logits_as_probabilities_is_told_about_logits():
    naive = lambda x, l: -ops.sum(x * ops.log(l) + (1 - x) * ops.log(1 - l), axis=(1, 2, 3))  # noqa: E731
    fails_with(checks.check_reconstruction_error, naive, hint="logits")


def test_worst_reconstructions_sorted_the_wrong_way_is_told_to_sort_by_decreasing_error():
    best = lambda ae, x, k: np.argsort(ops.convert_to_numpy(bce(x, ae(x))))[:k]  # noqa: E731
    fails_with(checks.check_worst_reconstructions, best, hint="decreasing error")


def test_autoencoder_that_did_not_learn_fails_the_learning_check():
    untrained = models.build_autoencoder(2)
    images = data.load_mnist(50, 10, fast=True).x_test
    fails_with(checks.check_autoencoder_learned, untrained, images, hint="check build_encoder and build_decoder")


# ------------------------------------------------------------------------ lesson 02 mistakes
def test_sampling_without_the_half_is_told_about_the_missing_half():
    fails_with(checks.check_sampling, make_sampling(scale=1.0), hint="forgot the 0.5")


def test_sampling_in_numpy_is_told_that_gradients_need_keras_ops():
    fails_with(checks.check_sampling, make_sampling(numpy=True), hint="keras.ops")


def test_unseeded_sampling_is_told_to_use_the_seed_generator():
    fails_with(checks.check_sampling, make_sampling(seeded=False), hint="SeedGenerator(seed)")


def test_kl_with_the_wrong_sign_is_told_about_the_sign():
    fails_with(checks.check_kl, lambda m, v: -kl(m, v), hint="sign is wrong")


def test_kl_without_the_half_is_told_about_the_half():
    fails_with(checks.check_kl, lambda m, v: 2.0 * kl(m, v), hint="forgot the 0.5")


def test_kl_summed_over_the_batch_axis_is_told_which_axis():
    wrong_axis = lambda m, v: -0.5 * ops.sum(1.0 + v - ops.square(m) - ops.exp(v), axis=0)  # noqa: E731
    fails_with(checks.check_kl, wrong_axis, hint="axis=-1")


def test_kl_written_in_numpy_is_told_to_use_keras_ops_for_training():
    numpy_kl = lambda m, v: -0.5 * np.sum(1.0 + np.asarray(v) - np.asarray(m) ** 2 - np.exp(v), axis=-1)  # noqa: E731
    fails_with(checks.check_kl, numpy_kl, hint="keras.ops")


def test_a_hard_coded_kl_fails_even_the_visible_check():
    answer = ops.convert_to_numpy(kl(*checks._latent_batch(8, 2, 0)))
    fails_with(checks.check_kl, lambda m, v: answer, hint="expected 0")


def test_elbo_terms_averaged_over_pixels_are_told_the_vae_collapses():
    per_pixel = lambda x, l, m, v: (ops.mean(bce(x, l)) / 784.0, ops.mean(kl(m, v)))  # noqa: E731
    fails_with(checks.check_elbo_terms, per_pixel, hint="collapses")


def test_sample_images_returning_logits_are_told_to_apply_the_sigmoid():
    logits = lambda dec, n, d, seed=None: dec(keras.random.normal((n, d), seed=seed))  # noqa: E731
    fails_with(checks.check_sample_images, logits, hint="sigmoid")


def test_sample_images_from_a_uniform_distribution_are_told_about_the_prior():
    uniform = lambda dec, n, d, seed=None: ops.sigmoid(dec(keras.random.uniform((n, d), seed=seed)))  # noqa: E731
    fails_with(checks.check_sample_images, uniform, hint="N(0, I)")


def test_a_vae_history_with_no_kl_fails_the_training_check():
    history = keras.callbacks.History()
    history.history = {"loss": [200.0, 180.0], "reconstruction": [200.0, 180.0], "kl": [0.0, 0.0]}
    fails_with(checks.check_vae_trained, history, hint="sign and the terms of kl_divergence")


# ------------------------------------------------------------------------ lesson 03 mistakes
def test_conditional_encoder_that_ignores_the_label_is_told_to_concatenate_it():
    fails_with(checks.check_conditional_encoder, lambda d: cond_encoder(d, use_label=False), hint="Concatenate")


def test_generate_digit_with_integer_labels_is_told_to_one_hot_them():
    fails_with(checks.check_generate_digit, lambda *a, **k: generate(*a, integer_labels=True, **k), hint="one-hot")


def test_generate_digit_with_the_wrong_digit_is_told_which_digit_was_asked():
    wrong = lambda dec, digit, *a, **k: generate(dec, digit, *a, label_of=(digit + 1) % 10, **k)  # noqa: E731
    fails_with(checks.check_generate_digit, wrong, hint="expected [7]")


def test_generate_digit_mixing_tensors_and_numpy_is_told_to_pick_one():
    def mixed(dec, digit, n, latent_dim, seed=None):
        return ops.sigmoid(dec([keras.random.normal((n, latent_dim), seed=seed), data.one_hot([digit] * n)]))

    fails_with(checks.check_generate_digit, mixed, hint="mix of NumPy arrays and tensors")


def test_style_transfer_encoding_with_the_new_label_is_told_to_use_the_own_label():
    fails_with(checks.check_style_transfer, lambda *a: transfer(*a, encode_with_new=True), hint="own label")


def test_style_transfer_that_samples_z_is_told_to_decode_the_mean():
    fails_with(checks.check_style_transfer, lambda *a: transfer(*a, sample=True), hint="z_mean")


def test_interpolation_without_the_end_point_is_told_to_include_both_ends():
    fails_with(checks.check_interpolate, lambda a, b, s: np.linspace(a, b, s + 1)[:-1], hint="both ends")


def test_a_hard_coded_interpolation_passes_the_visible_check_but_not_the_hidden_one():
    rng = np.random.default_rng(0)
    answer = np.linspace(rng.normal(size=2), rng.normal(size=2), 5)  # what the visible check uses
    checks.check_interpolate(lambda a, b, s: answer)
    fails_with(checks.check_interpolate, lambda a, b, s: answer, steps=9, latent_dim=3, seed=131, hint="expected (9, 3)")


def test_transposed_interpolation_is_told_one_code_per_row():
    fails_with(checks.check_interpolate, lambda a, b, s: np.linspace(a, b, s).T, hint="one code per row")


def test_exercise_budget_is_small_in_fast_mode():
    assert checks.exercise_epochs() <= 2
    mnist = checks.exercise_data()
    assert len(mnist.x_train) <= 2000 and len(mnist.x_test) <= 500


def test_a_failed_check_shows_in_a_notebook_as_its_message_and_hint_without_a_traceback():
    with pytest.raises(checks.CheckFailed) as info:
        checks._fail("build_encoder(2) is not written yet.", "replace the raise with your code")
    shown = "\n".join(info.value._render_traceback_())
    assert shown.endswith("build_encoder(2) is not written yet.\nHint: replace the raise with your code")
    assert "Check failed:" in shown and "checks.py" not in shown
    assert isinstance(info.value, AssertionError)  # nbgrader and pytest still see a failed assertion
