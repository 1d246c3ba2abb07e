"""The browser decoder's Python side (cvae_course.playground.browser): packing, refusals, state and messages.

The page's own arithmetic is checked in Chromium by tests/browser/test_browser_decoder.py; here ``forward`` (the NumPy twin
of decoder.js) shows that the packed layout is the decoder, and the widgets are driven from Python.
"""

import keras
import numpy as np
import pytest
from keras import layers

from cvae_course.data import load_mnist
from cvae_course.models import CVAE, build_cvae, build_encoder, build_vae, sigmoid
from cvae_course.playground import browser as bd
from cvae_course.training import train


@pytest.fixture(scope="module")
def model():
    mnist = load_mnist(train_size=1000, test_size=10)
    m = build_cvae(2, seed=0)
    train(m, (mnist.x_train, mnist.y_train_one_hot), epochs=2, progress=False)
    return m


def _cvae_with_decoder(decoder: keras.Model, latent_dim: int = 2) -> CVAE:
    return CVAE(build_encoder(latent_dim, conditional=True), decoder)


def _decoder(hidden_activation: str = "relu", skip: bool = False) -> keras.Model:
    z, y = keras.Input((2,), name="z"), keras.Input((10,), name="label")
    x = layers.Concatenate()([z, y])
    h = layers.Dense(16, activation=hidden_activation)(x)
    if skip:
        h = layers.Add()([h, layers.Dense(16)(x)])
    logits = layers.Reshape((28, 28, 1))(layers.Dense(784)(h))
    return keras.Model([z, y], logits)


# --------------------------------------------------------------------------------------------- packing
def test_the_packed_decoder_computes_model_decode_for_every_label_and_temperature(model):
    spec, weights = bd.pack_decoder(model)
    z = np.random.default_rng(0).uniform(-3, 3, size=(30, 2))
    for temperature in (0.3, 1.0, 2.0):
        for digit in range(10):
            got = bd.forward(spec, weights, z, np.eye(10)[[digit] * 30], temperature)
            want = model.generate([digit] * 30, z=z, temperature=temperature)
            assert np.abs(got - want).max() <= 1e-5


def test_the_packed_decoder_computes_soft_labels_as_the_keras_decoder(model):
    spec, weights = bd.pack_decoder(model)
    rng = np.random.default_rng(1)
    z, y = rng.uniform(-3, 3, size=(20, 2)).astype(np.float32), rng.dirichlet(np.ones(10), 20).astype(np.float32)
    want = sigmoid(np.asarray(model.decoder([z, y], training=False)))
    assert np.abs(bd.forward(spec, weights, z, y) - want).max() <= 1e-5


def test_the_weights_are_float32_in_the_layout_the_page_reads(model):
    spec, weights = bd.pack_decoder(model)
    assert [(layer["n_in"], layer["n_out"], layer["activation"]) for layer in spec["layers"]] == [
        (12, 256, "relu"),
        (256, 512, "relu"),
        (512, 784, "linear"),
    ]
    assert len(weights) == 4 * spec["floats"] == 4 * model.decoder.count_params()
    first = spec["layers"][0]
    kernel = np.frombuffer(weights, "<f4")[first["w"] : first["w"] + 12 * 256].reshape(12, 256)
    np.testing.assert_array_equal(kernel, model.decoder.layers[3].kernel.numpy())


def test_a_conv_decoder_is_refused_with_what_to_do_instead():
    with pytest.raises(ValueError, match=r"convolutional decoder.*kernel-decoded panels"):
        bd.BrowserGenerator(build_cvae(2, "conv", seed=0))


def test_a_decoder_with_an_activation_the_page_lacks_is_refused():
    with pytest.raises(ValueError, match=r"activation 'tanh'.*relu and linear"):
        bd.pack_decoder(_cvae_with_decoder(_decoder("tanh")))


def test_a_decoder_that_is_not_a_chain_of_dense_layers_is_refused():
    with pytest.raises(ValueError, match=r"cannot run: Add"):
        bd.pack_decoder(_cvae_with_decoder(_decoder(skip=True)))


def test_a_vae_is_refused_because_the_panels_need_labels():
    with pytest.raises(ValueError, match=r"must be a trained CVAE"):
        bd.BrowserGenerator(build_vae(2, seed=0))


def test_two_panels_of_one_model_share_one_copy_of_the_weights(model):
    generator, path = bd.BrowserGenerator(model), bd.BrowserInterpolation(model)
    assert generator.decoder is path.decoder
    assert len(generator.decoder.weights) == 4 * 537_104  # ~2.1 MB, sent to the page once


# --------------------------------------------------------------------------------------------- state
def test_the_generator_state_is_what_model_generate_draws(model):
    generator = bd.BrowserGenerator(model)
    generator.set_label(7)
    generator.set_latent([0.5, -1.25])
    generator.set_temperature(0.8)
    assert (generator.digit, generator.z, generator.temperature) == (7, [0.5, -1.25], 0.8)
    np.testing.assert_allclose(
        generator.decode_current(), model.generate(7, z=[0.5, -1.25], temperature=0.8), atol=1e-6
    )
    assert generator.describe() == "digit 7, z = [0.50, -1.25], temperature 0.80 (decoded in the browser)"


def test_new_style_draws_a_code_on_the_slider_grid(model):
    generator = bd.BrowserGenerator(model, seed=3)
    generator.new_style()
    z = np.asarray(generator.z)
    assert np.all(np.abs(z) <= 3) and np.allclose(z / 0.05, np.round(z / 0.05)) and not np.all(z == 0)


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("z", [4.0, 0.0], r"within \[-3, 3\]"),
        ("z", [0.0], r"must hold 2 values"),
        ("z", [np.nan, 0.0], r"NaN"),
        ("label", [0.5] * 10, r"sum to 1"),
        ("label", [1.0] + [0.0] * 8, r"10 non-negative weights"),
        ("temperature", 5.0, r"temperature must be in \[0.1, 2\]"),
    ],
)
def test_bad_state_is_refused_with_a_message(model, name, value, message):
    generator = bd.BrowserGenerator(model)
    with pytest.raises(ValueError, match=message):
        setattr(generator, name, value)


def test_values_from_the_page_are_kept_exactly_so_nothing_is_sent_back(model):
    """A validator that rounded 1.8 to float32 would send 1.7999999523 back to the page after every sync."""
    generator = bd.BrowserGenerator(model)
    sent = []
    generator._send = lambda msg, buffers=None: sent.append(msg)
    generator.set_state({"z": [1.8, 1.2000000000000002], "temperature": 1.15})
    assert generator.z == [1.8, 1.2000000000000002] and generator.temperature == 1.15
    assert sent == [], f"the kernel answered a page update with {sent}"


def test_the_interpolation_point_is_the_soft_label_and_mixed_code_at_t(model):
    path = bd.BrowserInterpolation(model, start_digit=2, end_digit=6, t=0.0, seed=1)
    sent = []
    path._send = lambda msg, buffers=None: sent.append(msg)
    path.set_position(0.25)
    assert len(sent) == 1 and set(sent[0]["state"]) == {"t", "z", "label"}, "one message: t with its point"
    z, y = path.point(0.25)
    np.testing.assert_allclose(path.z, 0.75 * np.asarray(path.start_z) + 0.25 * np.asarray(path.end_z), atol=1e-6)
    np.testing.assert_allclose(path.label, np.eye(10)[2] * 0.75 + np.eye(10)[6] * 0.25)
    np.testing.assert_allclose(z, path.z, atol=1e-6)
    np.testing.assert_allclose(y, path.label, atol=1e-7)
    path.same_style = True
    np.testing.assert_allclose(path.point(0.7)[0], path.start_z, atol=1e-6)


def test_the_es_module_ships_with_the_package_and_loads_nothing_from_the_network():
    source = bd.ESM.read_text()
    assert "export default" in source
    assert "import " not in source.replace("// ", "#"), "decoder.js must not import anything (no CDN, offline)"
    assert "http" not in source and "fetch(" not in source
    assert bd.BrowserGenerator._esm.endswith(source) and "function watchKernel" in bd.BrowserGenerator._esm
    assert "import " not in bd.BrowserGenerator._esm.replace("// ", "#") and "http" not in bd.BrowserGenerator._esm
    assert bd.CSS.is_file()


def test_the_path_note_names_the_path_and_refuses_any_other():
    from cvae_course.playground.panels import path_note

    assert "computed in the Python kernel" in path_note("kernel").value
    assert "decoded in your browser" in path_note("browser").value
    with pytest.raises(ValueError, match="'browser' or 'kernel'"):
        path_note("gpu")


def test_only_a_dense_decoder_runs_in_the_browser(model):
    assert bd.runs_in_browser(model) and not bd.runs_in_browser(build_cvae(2, "conv", seed=0))
