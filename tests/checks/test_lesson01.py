"""Lesson 01's checks (cvae_course.checks.lesson01): right answers pass with a tick, mistakes get the matching hint."""

import numpy as np
import pytest

from cvae_course import checks, data, models, settings, training
from cvae_course._keras import keras, layers, ops


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


# ------------------------------------------------------------------------ a right answer passes
def test_right_answers_of_lesson_01_pass_with_a_tick(capsys):
    checks.check_encoder(encoder)
    checks.check_decoder(decoder)
    checks.check_reconstruction_error(bce)
    checks.check_worst_reconstructions(lambda ae, x, k: np.argsort(-ops.convert_to_numpy(bce(x, ae(x))))[:k])
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4 and all(line.startswith(checks.TICK) for line in lines)


# ------------------------------------------------------------------------ typical mistakes
def test_encoder_with_a_relu_code_layer_is_told_to_stay_linear(fails_with):
    fails_with(checks.check_encoder, lambda d: encoder(d, activation="relu"), hint="leave the last Dense layer linear")


def test_encoder_taking_flat_vectors_is_told_to_flatten_inside(fails_with):
    fails_with(checks.check_encoder, lambda d: encoder(d, flat_input=True), hint="layers.Flatten()")


def test_decoder_ending_in_a_sigmoid_is_told_to_return_logits(fails_with):
    fails_with(checks.check_decoder, lambda d: decoder(d, activation="sigmoid"), hint="return logits")


def test_reconstruction_error_averaged_over_pixels_is_told_to_sum(fails_with):
    mean_bce = lambda x, l: ops.mean(ops.binary_crossentropy(x, l, from_logits=True), axis=(1, 2, 3))  # noqa: E731
    said = fails_with(checks.check_reconstruction_error, mean_bce, hint="sum over the 784 pixels")
    # four images, three values shown: the message says there are more
    assert "for 4 images" in said and said.count(" ...]") == 2, said


def test_the_textbook_formula_is_told_it_is_right_but_takes_log_of_zero_and_to_use_the_logits_form(fails_with):
    def textbook(x, logits):
        p = ops.sigmoid(logits)
        return -ops.sum(x * ops.log(p) + (1 - x) * ops.log(1 - p), axis=(1, 2, 3))

    said = fails_with(checks.check_reconstruction_error, textbook, hint="log(0)")
    assert "max(l, 0) - l * x + log(1 + exp(-|l|))" in said and "check the formula" not in said, said


def test_reconstruction_error_for_the_whole_batch_is_told_one_per_image(fails_with):
    fails_with(checks.check_reconstruction_error, lambda x, l: ops.sum(bce(x, l)), hint="one per image")


def test_reconstruction_error_with_the_wrong_sign_is_told_so(fails_with):
    fails_with(checks.check_reconstruction_error, lambda x, l: -bce(x, l), hint="wrong sign")


def test_reconstruction_error_taking_logits_as_probabilities_is_told_about_logits(fails_with):
    naive = lambda x, l: -ops.sum(x * ops.log(l) + (1 - x) * ops.log(1 - l), axis=(1, 2, 3))  # noqa: E731
    fails_with(checks.check_reconstruction_error, naive, hint="logits")


def test_worst_reconstructions_sorted_the_wrong_way_is_told_to_sort_by_decreasing_error(fails_with):
    best = lambda ae, x, k: np.argsort(ops.convert_to_numpy(bce(x, ae(x))))[:k]  # noqa: E731
    fails_with(checks.check_worst_reconstructions, best, hint="decreasing error")


def test_autoencoder_that_did_not_learn_fails_the_learning_check(fails_with):
    untrained = models.build_autoencoder(2)
    images = data.load_mnist(50, 10, fast=True).x_test
    fails_with(checks.check_autoencoder_learned, untrained, images, hint="check build_encoder and build_decoder")


def test_an_autoencoder_whose_decoder_ends_in_a_sigmoid_fails_the_learning_check_however_well_it_fits(fails_with):
    """The best such a decoder can do: output the image itself (probabilities where logits belong)."""
    images = data.load_mnist(50, 10, fast=True).x_test
    x = keras.Input(shape=(28, 28, 1))
    perfect = keras.Model(x, keras.layers.Activation("sigmoid")(x * 60.0 - 30.0))
    fails_with(checks.check_autoencoder_learned, perfect, images, hint="check build_encoder and build_decoder")


def test_a_right_convolutional_decoder_passes_the_learning_check_after_the_exercises_short_training():
    """A valid alternative style must not lose the point: a transposed-convolution decoder learns more slowly than
    the dense one in the exercise's two fast-mode epochs (349 nats measured in a graded class)."""
    settings.seed_everything(42)

    def conv_decoder(latent_dim):
        z = keras.Input(shape=(latent_dim,))
        h = keras.layers.Reshape((7, 7, 16))(keras.layers.Dense(7 * 7 * 16, activation="relu")(z))
        h = keras.layers.Conv2DTranspose(16, 3, strides=2, padding="same", activation="relu")(h)
        return keras.Model(z, keras.layers.Conv2DTranspose(1, 3, strides=2, padding="same")(h))

    mnist = checks.exercise_data()
    autoencoder = models.Autoencoder(models.build_encoder(2, variational=False), conv_decoder(2))
    training.train(autoencoder, mnist.x_train, epochs=checks.exercise_epochs(), progress=False)
    checks.check_autoencoder_learned(autoencoder, mnist.x_test)


def test_reconstruction_error_written_as_a_squared_error_is_told_it_is_mse(fails_with):
    mse = lambda x, l: ops.sum(ops.square(x - ops.sigmoid(l)), axis=(1, 2, 3))  # noqa: E731
    fails_with(checks.check_reconstruction_error, mse, hint="squared error (MSE)")
    mean_mse = lambda x, l: ops.mean(ops.square(x - ops.sigmoid(l)), axis=(1, 2, 3))  # noqa: E731
    fails_with(checks.check_reconstruction_error, mean_mse, hint="binary cross-entropy")


def test_a_double_sigmoid_is_caught_although_keras_makes_its_numbers_right(fails_with):
    """Keras uses the logits behind ops.sigmoid for a from_logits loss (and warns): the numbers come out right."""
    double = lambda x, l: bce(x, ops.sigmoid(l))  # noqa: E731
    x = np.random.default_rng(0).uniform(size=(2, 28, 28, 1)).astype("float32")
    logits = np.random.default_rng(1).normal(size=x.shape).astype("float32")
    with pytest.warns(UserWarning, match="produced by a Sigmoid activation"):  # Keras warns, and the numbers ...
        assert np.allclose(ops.convert_to_numpy(double(x, logits)), ops.convert_to_numpy(bce(x, logits)))
    said = fails_with(checks.check_reconstruction_error, double, hint="sigmoid is applied twice")
    assert "warned" in said and "pass the logits themselves" in said


def test_a_function_without_return_is_asked_whether_it_forgot_return(fails_with):
    def forgot(x, logits):
        ops.sum(ops.binary_crossentropy(x, logits, from_logits=True), axis=(1, 2, 3))

    fails_with(checks.check_reconstruction_error, forgot, hint="did you forget `return`?")
    fails_with(checks.check_encoder, lambda d: None, hint="did you forget `return`?")


def test_the_encoder_hint_names_latent_dim_not_the_number_the_check_used(fails_with):
    def fixed_size(latent_dim):
        return encoder(2)

    said = fails_with(checks.check_encoder, fixed_size, latent_dim=5, seed=11, hint="layers.Dense(latent_dim)")
    assert "Dense(5)" not in said


def test_worst_reconstructions_is_graded_with_the_course_reconstruction_error(fails_with):
    """A wrong reconstruction_error (task 3) costs task 3 only: task 4 runs on the course's version."""
    namespace = {"np": np, "ops": ops, "reconstruction_error": lambda x, l: -bce(x, l)}  # task 3 wrong (sign)
    exec(
        "def worst_reconstructions(autoencoder, images, k):\n"
        "    errors = ops.convert_to_numpy(reconstruction_error(images, autoencoder(images)))\n"
        "    return np.argsort(-errors)[:k]\n",
        namespace,
    )
    checks.check_worst_reconstructions(namespace["worst_reconstructions"])
    assert namespace["reconstruction_error"](np.ones((1, 28, 28, 1), "float32"), np.ones((1, 28, 28, 1), "float32")) < 0


def test_worst_reconstructions_is_graded_with_the_course_reconstruction_error_when_task_3_never_defined_it():
    """Task 3's cell raised (a SyntaxError) before defining reconstruction_error: task 4 still runs on the course's
    version, and the name is gone again afterwards."""
    namespace = {"np": np, "ops": ops}
    exec(
        "def worst_reconstructions(autoencoder, images, k):\n"
        "    errors = ops.convert_to_numpy(reconstruction_error(images, autoencoder(images)))\n"
        "    return np.argsort(-errors)[:k]\n",
        namespace,
    )
    checks.check_worst_reconstructions(namespace["worst_reconstructions"])
    assert "reconstruction_error" not in namespace


def test_worst_reconstructions_scoring_probabilities_is_told_to_pass_logits(fails_with):
    namespace = {"np": np, "ops": ops, "reconstruction_error": bce}
    exec(
        "def worst_reconstructions(autoencoder, images, k):\n"
        "    errors = reconstruction_error(images, ops.sigmoid(autoencoder(images)))\n"
        "    return np.argsort(-ops.convert_to_numpy(errors))[:k]\n",
        namespace,
    )
    fails_with(checks.check_worst_reconstructions, namespace["worst_reconstructions"], hint="already logits")


def test_an_autoencoder_that_did_not_learn_names_the_task_to_fix_first(fails_with):
    untrained = models.build_autoencoder(2)
    images = data.load_mnist(50, 10, fast=True).x_test
    said = fails_with(
        checks.check_autoencoder_learned,
        untrained,
        images,
        build_encoder=lambda d: encoder(d, "relu"),
        build_decoder=decoder,
        hint="your build_encoder (task 1) does not pass its check yet",
    )
    assert "fix it first" in said and "linear" in said  # and what its own check says
