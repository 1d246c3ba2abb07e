"""Lesson 03's checks (cvae_course.checks.lesson03): right answers pass with a tick, mistakes get the matching hint."""

import numpy as np

from cvae_course import checks, data
from cvae_course._keras import keras, layers, ops


# ------------------------------------------------------------------------ reference answers
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


# ------------------------------------------------------------------------ a right answer passes
def test_right_answers_of_lesson_03_pass_with_a_tick(capsys):
    checks.check_conditional_encoder(cond_encoder)
    checks.check_conditional_decoder(cond_decoder)
    checks.check_generate_digit(generate)
    checks.check_style_transfer(transfer)
    checks.check_interpolate(lambda a, b, steps: np.linspace(a, b, steps))
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 5 and all(line.startswith(checks.TICK) for line in lines)


# ------------------------------------------------------------------------ typical mistakes
def test_conditional_encoder_that_ignores_the_label_is_told_to_concatenate_it(fails_with):
    fails_with(checks.check_conditional_encoder, lambda d: cond_encoder(d, use_label=False), hint="Concatenate")


def test_generate_digit_with_integer_labels_is_told_to_one_hot_them(fails_with):
    fails_with(checks.check_generate_digit, lambda *a, **k: generate(*a, integer_labels=True, **k), hint="one-hot")


def test_generate_digit_with_the_wrong_digit_is_told_which_digit_was_asked(fails_with):
    wrong = lambda dec, digit, *a, **k: generate(dec, digit, *a, label_of=(digit + 1) % 10, **k)  # noqa: E731
    fails_with(checks.check_generate_digit, wrong, hint="expected [7]")


def test_generate_digit_mixing_tensors_and_numpy_is_told_to_pick_one(fails_with):
    def mixed(dec, digit, n, latent_dim, seed=None):
        return ops.sigmoid(dec([keras.random.normal((n, latent_dim), seed=seed), data.one_hot([digit] * n)]))

    fails_with(checks.check_generate_digit, mixed, hint="mix of NumPy arrays and tensors")


def test_style_transfer_encoding_with_the_new_label_is_told_to_use_the_own_label(fails_with):
    fails_with(checks.check_style_transfer, lambda *a: transfer(*a, encode_with_new=True), hint="own label")


def test_style_transfer_that_samples_z_is_told_to_decode_the_mean(fails_with):
    fails_with(checks.check_style_transfer, lambda *a: transfer(*a, sample=True), hint="z_mean")


def test_interpolation_without_the_end_point_is_told_to_include_both_ends(fails_with):
    fails_with(checks.check_interpolate, lambda a, b, s: np.linspace(a, b, s + 1)[:-1], hint="both ends")


def test_a_hard_coded_interpolation_passes_the_visible_check_but_not_the_hidden_one(fails_with):
    rng = np.random.default_rng(0)
    answer = np.linspace(rng.normal(size=2), rng.normal(size=2), 5)  # what the visible check uses
    checks.check_interpolate(lambda a, b, s: answer)
    fails_with(
        checks.check_interpolate, lambda a, b, s: answer, steps=9, latent_dim=3, seed=131, hint="expected (9, 3)"
    )


def test_transposed_interpolation_is_told_one_code_per_row(fails_with):
    fails_with(checks.check_interpolate, lambda a, b, s: np.linspace(a, b, s).T, hint="one code per row")
