"""Bad input to public helpers is rejected with a ValueError naming the argument, the expectation and the value."""

import numpy as np
import pytest

from cvae_course import data, evaluate, models, plots, validation


@pytest.fixture(scope="module")
def cvae():
    return models.build_cvae(2, seed=0)


def test_images_of_the_wrong_shape_are_rejected_with_the_shape_given(cvae):
    with pytest.raises(ValueError, match=r"images must have shape \(N, 28, 28\).*got \(3, 32, 32\)"):
        cvae.encode(np.zeros((3, 32, 32)), [1, 2, 3])


def test_a_single_image_without_batch_axis_gets_a_hint():
    with pytest.raises(ValueError, match=r"got \(28, 28, 1\).*images\[None\]"):
        validation.as_images(np.zeros((28, 28, 1)))


def test_images_with_nan_are_rejected():
    x = np.zeros((2, 28, 28))
    x[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="images contains NaN or infinite values"):
        validation.as_images(x)


def test_images_in_0_255_are_rejected_with_the_fix():
    with pytest.raises(
        ValueError, match=r"pixel values in \[0, 1\], got values in \[0, 255\].*Divide uint8 images by 255"
    ):
        validation.as_images(np.arange(784).reshape(1, 28, 28) % 256)


def test_logits_given_as_images_are_told_to_take_the_sigmoid_not_to_divide_by_255():
    with pytest.raises(ValueError, match=r"apply keras.ops.sigmoid first") as info:
        validation.as_images(np.linspace(-6.0, 6.0, 784).reshape(1, 28, 28))
    assert "255" not in str(info.value)


def test_flat_784_pixel_images_are_accepted():
    assert validation.as_images(np.zeros((2, 784))).shape == (2, 28, 28, 1)


@pytest.mark.parametrize("labels", [[0, 10], [-1], [3.5]])
def test_labels_outside_0_to_9_are_rejected(cvae, labels):
    with pytest.raises(ValueError, match="labels must be (digits|whole numbers) 0-9"):
        cvae.generate(labels)


def test_one_hot_labels_where_ints_are_expected_get_a_hint(cvae):
    with pytest.raises(ValueError, match=r"labels must be a 1-D sequence.*np.argmax"):
        cvae.generate(np.eye(10)[:3])


def test_a_one_hot_of_the_wrong_width_is_rejected():
    with pytest.raises(ValueError, match=r"labels_one_hot must have shape \(N, 10\).*got \(4, 9\)"):
        validation.as_one_hot(np.eye(9)[:4])


def test_a_one_hot_with_two_ones_in_a_row_is_rejected():
    with pytest.raises(ValueError, match="exactly one 1 per row"):
        validation.as_one_hot([[1, 1, 0, 0, 0, 0, 0, 0, 0, 0]])


def test_latent_codes_of_the_wrong_width_are_rejected(cvae):
    with pytest.raises(ValueError, match=r"z must have shape \(N, 2\), got \(3, 5\)"):
        cvae.decode(np.zeros((3, 5)), [1, 2, 3])


def test_non_finite_latent_codes_are_rejected(cvae):
    with pytest.raises(ValueError, match="z contains NaN or infinite values"):
        cvae.generate([1], z=[[np.inf, 0.0]])


@pytest.mark.parametrize("temperature", [0, -1, float("nan")])
def test_a_non_positive_temperature_is_rejected(cvae, temperature):
    with pytest.raises(ValueError, match="temperature must be a positive"):
        cvae.generate([1, 2], temperature=temperature)


def test_images_and_labels_of_different_lengths_are_rejected(cvae):
    with pytest.raises(ValueError, match="images has 3 rows but labels has 2"):
        cvae.encode(np.zeros((3, 28, 28)), [1, 2])


def test_a_conditional_model_without_labels_says_it_needs_them(cvae):
    with pytest.raises(ValueError, match="CVAE needs labels"):
        cvae.encode(np.zeros((1, 28, 28)))


def test_an_unconditional_model_given_labels_says_not_to_pass_them():
    with pytest.raises(ValueError, match="VAE is not conditional; do not pass labels"):
        models.build_vae(2).encode(np.zeros((1, 28, 28)), [1])


def test_an_unknown_model_kind_lists_the_choices():
    with pytest.raises(ValueError, match=r"kind must be one of \('dense', 'conv'\), got 'mlp'"):
        models.build_cvae(2, "mlp")


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_latent_dim_must_be_a_positive_integer(bad):
    with pytest.raises(ValueError, match="latent_dim must be a positive integer"):
        models.build_vae(bad)


def test_plot_helpers_validate_their_images():
    with pytest.raises(ValueError, match="images must have shape"):
        plots.image_grid(np.zeros((4, 10, 10)))


def test_diversity_needs_real_examples_of_every_label(cvae):
    x = np.zeros((20, 28, 28, 1), np.float32)
    with pytest.raises(ValueError, match="label 9; need at least 2 per label"):
        evaluate.diversity(cvae, x, np.arange(20) % 9, n_per_label=5)


def test_load_mnist_rejects_a_non_positive_subset_size():
    with pytest.raises(ValueError, match="train_size must be a positive integer, got 0"):
        data.load_mnist(train_size=0)


@pytest.mark.parametrize("beta", [-1.0, float("nan"), float("inf"), "1"])
def test_a_negative_or_non_finite_kl_weight_is_rejected(beta):
    with pytest.raises(ValueError, match="beta must be a finite number >= 0"):
        models.build_cvae(2, beta=beta)


def test_a_non_positive_manifold_span_is_rejected(cvae):
    with pytest.raises(ValueError, match="span must be a positive"):
        plots.manifold_grid(cvae, n=3, span=0)


def test_a_wrong_model_is_told_what_to_use_and_how_to_get_one():
    with pytest.raises(
        ValueError, match=r"model must be a CVAE from cvae_course.models, got VAE\. Load the course CVAE"
    ):
        validation.check_model(models.build_vae(2), models.CVAE)


@pytest.mark.parametrize("beta", [-1.0, float("inf"), "4", True])
def test_the_beta_sweep_rejects_a_bad_kl_weight_as_the_models_do(beta):
    from cvae_course import recipes

    with pytest.raises(ValueError, match="beta must be a finite number >= 0"):
        recipes.train_beta_cvae(beta)
