"""Autoencoder, VAE and CVAE: shapes, metrics, generation and the .keras round trip."""

import keras
import numpy as np
import pytest

from cvae_course import data, models, training

KINDS = ["dense", "conv"]


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(0)
    return rng.uniform(size=(32, 28, 28, 1)).astype(np.float32), np.arange(32) % 10


@pytest.mark.parametrize("kind", KINDS)
def test_vae_encoder_outputs_mean_and_log_variance_of_latent_width(kind, batch):
    z_mean, z_log_var = models.build_vae(3, kind).encode_distribution(batch[0])
    assert z_mean.shape == z_log_var.shape == (32, 3)


@pytest.mark.parametrize("kind", KINDS)
def test_cvae_decoder_turns_codes_and_labels_into_images_in_unit_interval(kind):
    images = models.build_cvae(4, kind, seed=0).decode(np.zeros((5, 4)), [0, 1, 2, 3, 4])
    assert images.shape == (5, 28, 28, 1) and images.min() >= 0 and images.max() <= 1


@pytest.mark.parametrize("kind", KINDS)
def test_autoencoder_reconstructs_images_of_the_input_shape(kind, batch):
    ae = models.build_autoencoder(2, kind)
    assert ae.encode(batch[0]).shape == (32, 2)
    assert ae.reconstruct(batch[0]).shape == (32, 28, 28, 1)


def test_cvae_encoder_and_decoder_both_take_the_one_hot_label():
    cvae = models.build_cvae(2)
    assert [tuple(i.shape) for i in cvae.encoder.inputs] == [(None, 28, 28, 1), (None, 10)]
    assert [tuple(i.shape) for i in cvae.decoder.inputs] == [(None, 2), (None, 10)]


def test_cvae_generate_gives_one_image_per_label(batch):
    assert models.build_cvae(2, seed=0).generate([7, 7, 1]).shape == (3, 28, 28, 1)


def test_cvae_generate_with_a_seed_is_repeatable():
    cvae = models.build_cvae(2, seed=0)
    np.testing.assert_array_equal(cvae.generate([1, 2], seed=5), cvae.generate([1, 2], seed=5))


def test_cvae_generate_with_given_codes_equals_decode_at_those_codes():
    cvae = models.build_cvae(2, seed=0)
    z = np.array([[0.5, -1.0], [2.0, 0.0]], np.float32)
    np.testing.assert_allclose(cvae.generate([3, 8], z=z), cvae.decode(z, [3, 8]), atol=1e-6)


def test_temperature_scales_the_given_codes():
    cvae = models.build_cvae(2, seed=0)
    z = np.array([[0.5, -1.0]], np.float32)
    np.testing.assert_allclose(cvae.generate([3], z=z, temperature=2.0), cvae.decode(2 * z, [3]), atol=1e-6)


def test_one_label_is_broadcast_over_many_codes():
    cvae = models.build_cvae(2, seed=0)
    assert cvae.decode(np.zeros((4, 2)), [5]).shape == (4, 28, 28, 1)


def test_vae_samples_from_the_prior():
    assert models.build_vae(2, seed=0).sample(6, seed=1).shape == (6, 28, 28, 1)


def test_fit_reports_loss_reconstruction_and_kl_where_loss_is_their_sum(batch):
    x, y = batch
    cvae = models.build_cvae(2, seed=0)
    history = training.train(cvae, (x, np.eye(10, dtype=np.float32)[y]), epochs=1, batch_size=32, progress=False)
    h = {k: v[0] for k, v in history.history.items()}
    assert set(h) == {"loss", "reconstruction", "kl"}
    assert h["loss"] == pytest.approx(h["reconstruction"] + h["kl"], rel=1e-4)
    assert 300 < h["reconstruction"] < 800  # ~784 * log 2 = 543 nats for an untrained decoder


def test_beta_weights_the_kl_in_the_loss(batch):
    x, _ = batch
    vae = models.build_vae(2, seed=0, beta=0.0)
    h = training.train(vae, x, epochs=1, batch_size=32, progress=False).history
    assert h["loss"][0] == pytest.approx(h["reconstruction"][0], rel=1e-5)
    assert h["kl"][0] > 0


def test_a_custom_loss_terms_function_is_what_the_model_minimises(batch):
    x, _ = batch
    vae = models.build_vae(
        2, seed=0, loss_terms=lambda x, logits, m, lv: (keras.ops.mean(logits * 0) + 1.0, 2.0 + m[0, 0] * 0)
    )
    h = training.train(vae, x, epochs=1, batch_size=32, progress=False).history
    assert h["reconstruction"][0] == pytest.approx(1.0) and h["kl"][0] == pytest.approx(2.0)


@pytest.mark.parametrize("builder", [models.build_autoencoder, models.build_vae, models.build_cvae])
@pytest.mark.parametrize("kind", KINDS)
def test_a_saved_model_loads_with_its_class_and_gives_the_same_outputs(tmp_path, builder, kind, batch):
    x, y = batch
    model = builder(2, kind)
    labels = y if model.conditional else None
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is type(model)
    np.testing.assert_allclose(loaded.encode(x, labels), model.encode(x, labels), atol=1e-6)
    np.testing.assert_allclose(
        loaded.decode(np.ones((3, 2)), None if labels is None else [1, 2, 3]),
        model.decode(np.ones((3, 2)), None if labels is None else [1, 2, 3]),
        atol=1e-6,
    )


def test_a_trained_cvae_keeps_beta_and_weights_after_loading(tmp_path, batch):
    x, y = batch
    cvae = models.build_cvae(2, seed=0, beta=0.5)
    training.train(cvae, (x, np.eye(10, dtype=np.float32)[y]), epochs=1, batch_size=16, progress=False)
    cvae.save(tmp_path / "c.keras")
    loaded = keras.saving.load_model(tmp_path / "c.keras")
    assert float(loaded.beta.numpy()) == 0.5
    np.testing.assert_allclose(loaded.generate([4], z=[[0.3, 0.1]]), cvae.generate([4], z=[[0.3, 0.1]]), atol=1e-6)


def _output_bias(cvae):
    return [layer for layer in cvae.decoder.layers if isinstance(layer, keras.layers.Dense)][-1].bias.numpy()


def test_a_cvae_started_at_training_images_has_output_biases_at_the_logits_of_their_mean():
    images = np.zeros((4, 28, 28, 1), np.float32)
    images[:2, 10, 10] = 1.0  # half the images ink this pixel; every other pixel is blank in all of them
    images[:, 0, 0] = 0.25
    bias = _output_bias(models.build_cvae(2, seed=0, start_images=images)).reshape(28, 28)
    blank = np.log(models.START_CLIP / (1 - models.START_CLIP))  # clipped: no pixel starts at logit -inf
    assert bias[10, 10] == pytest.approx(0.0, abs=1e-6) and bias[0, 0] == pytest.approx(np.log(1 / 3), rel=1e-6)
    assert np.allclose(np.delete(bias.ravel(), [0, 10 * 28 + 10]), blank)


def test_starting_at_training_images_changes_the_output_biases_and_no_other_weight(batch):
    keras.utils.set_random_seed(3)
    plain = models.build_cvae(2, seed=0)
    keras.utils.set_random_seed(3)
    started = models.build_cvae(2, seed=0, start_images=batch[0])
    assert not np.allclose(_output_bias(started), _output_bias(plain))
    changed = [not np.array_equal(a, b) for a, b in zip(plain.get_weights(), started.get_weights(), strict=True)]
    assert sum(changed) == 1 and np.allclose(_output_bias(plain), 0.0)


def test_starting_a_convolutional_cvae_at_training_images_is_refused_with_what_to_do(batch):
    with pytest.raises(ValueError, match="needs the dense decoder.*Leave start_images out"):
        models.build_cvae(2, "conv", start_images=batch[0])


@pytest.mark.parametrize(
    ("images", "message"),
    [(np.zeros((0, 28, 28, 1)), "at least one image"), (np.full((2, 28, 28), 255.0), "Divide uint8 images by 255")],
)
def test_bad_start_images_are_refused_with_what_to_fix(images, message):
    with pytest.raises(ValueError, match=message):
        models.build_cvae(2, start_images=images)


def test_sigmoid_of_extreme_logits_gives_probabilities_without_a_warning(recwarn):
    p = models.sigmoid(np.array([-1e4, -100.0, 0.0, 100.0, 1e4], np.float32))
    np.testing.assert_allclose(p, [0.0, 0.0, 0.5, 1.0, 1.0], atol=1e-7)
    assert len(recwarn) == 0


def test_decoding_far_from_the_prior_writes_no_warning(capfd):
    cvae = models.build_cvae(2, seed=0)
    cvae.decode(np.full((2, 2), 1e4, np.float32), [1, 2])
    assert capfd.readouterr().err == ""


def test_decode_takes_one_hot_rows_as_well_as_digits():
    model = models.build_cvae(2, seed=0)
    z = np.array([[0.1, -0.2], [0.5, 0.3]], np.float32)
    np.testing.assert_allclose(
        model.decode(z, np.eye(10, dtype=np.float32)[[3, 8]]), model.decode(z, [3, 8]), atol=1e-6
    )


def test_decode_of_a_soft_label_row_blends_two_digits_as_the_decoder_does():
    model = models.build_cvae(2, seed=0)
    z = np.zeros((1, 2), np.float32)
    row = data.blend_labels(3, 8, 0.25)
    want = model.decoder([z, row], training=False)
    np.testing.assert_allclose(model.decode_logits(z, row), np.asarray(want), atol=1e-5)
    np.testing.assert_allclose(model.decode(z, row), models.sigmoid(model.decode_logits(z, row)), atol=1e-7)


def test_soft_label_rows_must_sum_to_one():
    with pytest.raises(ValueError, match="labels rows must hold weights >= 0 that sum to 1"):
        models.build_cvae(2, seed=0).decode(np.zeros((1, 2)), [[0.5] * 10])


# --------------------------------------------------------------------------------- generate: codes and labels
def test_one_code_serves_every_label_as_generate_documents():
    cvae = models.build_cvae(2, seed=0)
    for z in ([0.3, -0.2], [[0.3, -0.2]]):
        images = cvae.generate([1, 2, 3], z=z)
        assert images.shape == (3, 28, 28, 1)
        np.testing.assert_allclose(images[1], cvae.generate([2], z=z)[0], atol=1e-6)


def test_a_one_hot_row_given_as_labels_is_refused_with_np_argmax():
    cvae = models.build_cvae(2, seed=0)
    row = data.one_hot([3])[0]
    with pytest.raises(ValueError, match=r"one-hot row.*np\.argmax\(row\) \(here 3\).*\(1, 10\)"):
        cvae.generate(row)
    with pytest.raises(ValueError, match="one-hot row"):
        cvae.decode(np.zeros((10, 2)), row)
    assert cvae.generate([0, 0, 0, 1, 0, 0, 0, 0, 0, 0]).shape == (10, 28, 28, 1)  # Python ints: ten digits
    assert cvae.decode(np.zeros((1, 2)), row[None]).shape == (1, 28, 28, 1)  # a (1, 10) batch


def test_generate_without_labels_and_sample_on_a_cvae_say_what_to_call():
    cvae = models.build_cvae(2, seed=0)
    with pytest.raises(ValueError, match="at least one digit"):
        cvae.generate([])
    with pytest.raises(ValueError, match=r"use generate\(labels\)"):
        cvae.sample(2)


def test_a_cvae_called_with_bare_images_says_to_pass_the_pair_and_how_for_validation_data():
    cvae = models.build_cvae(2, seed=0)
    x = np.zeros((4, 28, 28, 1), np.float32)
    with pytest.raises(ValueError, match=r"pass a tuple.*\(\(x_test, y_test_one_hot\),\)"):
        cvae(x)
    cvae.compile(optimizer="adam")
    with pytest.raises(ValueError, match=r"\(\(x_test, y_test_one_hot\),\)"):
        cvae.fit((x, data.one_hot([1, 2, 3, 4])), epochs=1, verbose=0, validation_data=(x, data.one_hot([1, 2, 3, 4])))
