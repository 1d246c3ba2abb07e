"""The playground's panels (cvae_course.playground): every control, driven from Python, shows what the model
generates."""

import ipywidgets
import numpy as np
import pytest
import traitlets

from cvae_course import playground as pg
from cvae_course.data import load_mnist
from cvae_course.models import build_cvae, build_vae
from cvae_course.training import train

ATOL = 1e-5  # graph vs eager float noise; a wrong label or code differs by far more


@pytest.fixture(scope="module")
def mnist():
    return load_mnist(train_size=1000, test_size=40)


@pytest.fixture(scope="module")
def model(mnist):
    """A tiny CVAE, two quick epochs: enough for digits to differ, fast enough for a unit test."""
    m = build_cvae(2, seed=0)
    train(m, (mnist.x_train, mnist.y_train_one_hot), epochs=2, progress=False)
    return m


@pytest.fixture(scope="module")
def wide_model():
    """Untrained weights do for checks of the controls of a 6-D latent space."""
    return build_cvae(6, seed=1)


@pytest.fixture
def generator(model):
    return pg.Generator(model, seed=0)


@pytest.fixture
def playground(model, mnist):
    return pg.Playground(model, mnist.x_test, mnist.y_test, browser=False, seed=0)


def shown(png: bytes, n: int, ncols: int, scale: int, captioned: bool = False, gap: int = 3) -> np.ndarray:
    """The cells a picture displays, decoded from its PNG bytes."""
    return pg.untile(pg.png_to_array(png), n, ncols, scale=scale, gap=gap, captioned=captioned).astype(int)


def generator_cells(generator) -> np.ndarray:
    """The generator's cells, from its PNG (one pixel per image pixel, 1-pixel gaps; the page zooms it)."""
    return shown(generator.image.value, generator.window**2, generator.window, 1, gap=1)


def expected_pixels(probabilities) -> np.ndarray:
    return pg.ink(probabilities)[..., 0].astype(int)


# --------------------------------------------------------------------------------------------- generator
def test_clicking_a_digit_button_shows_that_digit_at_the_slider_code(generator, model):
    before = generator.image.value
    generator.digit.value = 7
    assert generator.image.value != before
    want = model.generate([7] * 25, z=generator.cell_codes(), temperature=1.0)
    np.testing.assert_allclose(generator.last_images, want, atol=ATOL)


def test_the_displayed_png_shows_the_generated_digits(generator, model):
    generator.digit.value = 4
    want = model.generate([4] * 25, z=generator.cell_codes())
    np.testing.assert_allclose(generator_cells(generator), expected_pixels(want), atol=1)


def test_the_centre_cell_is_exactly_the_slider_code(generator, model):
    generator.sliders[0].value, generator.sliders[1].value = 1.25, -0.5
    centre = generator.cell_codes()[12]
    np.testing.assert_allclose(centre, [1.25, -0.5])
    np.testing.assert_allclose(generator.last_images[12], model.generate(0, z=[1.25, -0.5])[0], atol=ATOL)


def test_moving_a_latent_slider_updates_the_image_to_the_new_code(generator, model):
    before = generator.image.value
    generator.sliders[1].value = 2.0
    assert generator.image.value != before
    assert generator.code.tolist() == [0.0, 2.0]
    want = model.generate([0] * 25, z=generator.cell_codes())
    np.testing.assert_allclose(generator_cells(generator), expected_pixels(want), atol=1)


def test_the_temperature_slider_scales_the_code_like_generate(generator, model):
    generator.sliders[0].value = 1.5
    before = generator.image.value
    generator.temperature.value = 0.3
    assert generator.image.value != before
    want = model.generate([0] * 25, z=generator.cell_codes(), temperature=0.3)
    np.testing.assert_allclose(generator.last_images, want, atol=ATOL)


def test_grid_neighbours_step_along_z0_across_and_z1_up(generator):
    codes = generator.cell_codes().reshape(5, 5, 2)
    np.testing.assert_allclose(codes[2, :, 0], [-1.0, -0.5, 0.0, 0.5, 1.0])
    np.testing.assert_allclose(codes[:, 2, 1], [1.0, 0.5, 0.0, -0.5, -1.0])


def test_the_grid_window_must_be_odd_to_have_a_centre(model):
    with pytest.raises(ValueError, match="window must be odd.*got 4; try 5"):
        pg.Generator(model, window=4)


def test_latent_sliders_clamp_values_beyond_their_range(generator, model):
    generator.sliders[0].value = 99
    assert generator.sliders[0].value == pg.Z_LIMIT
    np.testing.assert_allclose(generator.last_images[12], model.generate(0, z=[pg.Z_LIMIT, 0.0])[0], atol=ATOL)


def test_the_temperature_slider_cannot_reach_zero(generator):
    generator.temperature.value = 0
    assert generator.temperature.value == pg.TEMPERATURE_RANGE[0] > 0


def test_the_digit_buttons_offer_only_0_to_9(generator):
    with pytest.raises(traitlets.TraitError, match="digits 0-9, got 11"):
        generator.digit.value = 11
    assert generator.digit.value == 0


def test_set_latent_rejects_a_value_outside_the_slider_range(playground):
    with pytest.raises(ValueError, match=r"z must stay within \[-3, 3\].*z\[0\] = 99"):
        playground.set_latent([99, 0])


def test_set_latent_rejects_the_wrong_number_of_values(playground):
    with pytest.raises(ValueError, match=r"z must hold 2 values \(one per slider\) or 2 \(the whole code\), got 3"):
        playground.set_latent([0.1, 0.2, 0.3])


def test_set_label_rejects_a_digit_outside_0_to_9(playground):
    with pytest.raises(ValueError, match=r"digit must be a digit 0-9, got 11"):
        playground.set_label(11)


def test_set_temperature_rejects_zero(playground):
    with pytest.raises(ValueError, match=r"temperature must be in \[0.1, 2\].*got 0"):
        playground.set_temperature(0)


def test_a_rejected_value_leaves_the_picture_unchanged(playground):
    before = playground.generator.image.value
    with pytest.raises(ValueError):
        playground.set_latent([0.5, 99])
    assert playground.generator.image.value == before
    assert playground.generator.code.tolist() == [0.0, 0.0]


def test_the_python_api_drives_the_generator(playground, model):
    playground.set_label(2)
    playground.set_latent([-1.0, 0.5])
    playground.set_temperature(1.5)
    gen = playground.generator
    assert gen.describe() == "digit 2, z = [-1.00, 0.50], temperature 1.50"
    np.testing.assert_allclose(gen.last_images, model.generate(2, z=gen.cell_codes(), temperature=1.5), atol=ATOL)


def test_set_latent_renders_once_for_all_its_values(generator, monkeypatch):
    renders = []
    monkeypatch.setattr(generator, "_render", lambda: renders.append(generator.code.tolist()))
    generator.set_latent([1.0, -1.0])
    assert renders == [[1.0, -1.0]]


def test_a_wide_latent_space_gets_sliders_for_the_first_four_dimensions(wide_model):
    gen = pg.Generator(wide_model)
    assert [s.description for s in gen.sliders] == ["z[0]", "z[1]", "z[2]", "z[3]"]


def test_new_random_style_redraws_every_dimension_and_the_picture(wide_model):
    gen = pg.Generator(wide_model, seed=3)
    before_code, before_image = gen.code.copy(), gen.image.value
    gen.new_style_button.click()
    assert np.all(gen.code != before_code)
    assert gen.image.value != before_image
    np.testing.assert_allclose(gen.last_images, wide_model.generate(0, z=gen.cell_codes()), atol=ATOL)


def test_new_random_style_is_repeatable_with_the_same_seed(wide_model):
    a, b = pg.Generator(wide_model, seed=5), pg.Generator(wide_model, seed=5)
    a.new_style()
    b.new_style()
    assert a.code.tolist() == b.code.tolist()


def test_new_random_style_never_repeats_the_current_code(generator):
    class Repeating:
        """Draws the current code (0, 0) once, then (1, 1)."""

        def __init__(self):
            self.draws = iter([np.zeros(2), np.ones(2)])

        def standard_normal(self, _size):
            return next(self.draws)

    generator._rng = Repeating()
    generator.new_style()
    assert generator.code.tolist() == [1.0, 1.0]


def test_set_latent_accepts_a_full_code_for_a_wide_latent_space(wide_model):
    gen = pg.Generator(wide_model)
    gen.set_latent([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    np.testing.assert_allclose(gen.code, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], rtol=1e-6)


def test_set_latent_in_a_wide_latent_space_takes_the_slider_values_or_the_whole_code(wide_model):
    gen = pg.Generator(wide_model)
    with pytest.raises(ValueError, match=r"z must hold 4 values \(one per slider\) or 6 \(the whole code\), got 5"):
        gen.set_latent([0.1, 0.2, 0.3, 0.4, 0.5])


def test_a_convolutional_cvae_drives_the_generator_too():
    conv = build_cvae(2, "conv", seed=0)
    gen = pg.Generator(conv)
    gen.set_label(6)
    np.testing.assert_allclose(gen.last_images, conv.generate(6, z=gen.cell_codes()), atol=ATOL)


def test_controls_carry_the_descriptions_the_browser_test_looks_for(generator):
    assert [(text, value) for text, value in generator.digit.options] == [(str(k), k) for k in range(10)]
    assert [s.description for s in generator.sliders] == ["z[0]", "z[1]"]
    assert generator.temperature.description == "temperature"
    assert generator.image.classes[1] == "cvae-generator-image"  # the <img> of the picture (picture.js)


def test_updates_never_call_predict(generator, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("the playground must call the decoder directly, not predict")

    monkeypatch.setattr(generator.model, "predict", forbidden)
    monkeypatch.setattr(generator.model.decoder, "predict", forbidden)
    generator.digit.value = 5
    generator.sliders[0].value = 0.7


def test_the_generator_refuses_a_model_that_is_not_a_cvae():
    with pytest.raises(ValueError, match="model must be a trained CVAE"):
        pg.Generator(build_vae(2))


# --------------------------------------------------------------------------------------------- style transfer
def test_style_transfer_shows_the_chosen_test_digit_and_its_reconstruction(playground, model, mnist):
    panel = playground.style_transfer
    before = panel.image.before
    panel.index.value = 7
    assert panel.image.before != before
    x, y = mnist.x_test[7:8], mnist.y_test[7:8]
    np.testing.assert_allclose(panel.last_reconstruction, model.reconstruct(x, y)[0], atol=ATOL)
    want = np.concatenate([x, model.reconstruct(x, y)])
    np.testing.assert_allclose(shown(panel.image.before, 2, 2, panel.scale, True), expected_pixels(want), atol=1)


def test_style_transfer_draws_the_style_as_every_digit(playground, model, mnist):
    panel = playground.style_transfer
    panel.show(3)
    style = model.encode(mnist.x_test[3:4], mnist.y_test[3:4])
    want = model.generate(np.arange(10), z=np.repeat(style, 10, axis=0))
    np.testing.assert_allclose(panel.last_images, want, atol=ATOL)
    np.testing.assert_allclose(shown(panel.image.value, 10, 10, panel.scale, True), expected_pixels(want), atol=1)


def test_the_random_digit_button_picks_another_test_image(playground):
    panel = playground.style_transfer
    seen = set()
    for _ in range(5):
        panel.random_button.click()
        seen.add(panel.index.value)
    assert len(seen) > 1


def test_style_transfer_rejects_an_index_outside_the_test_set(playground):
    with pytest.raises(ValueError, match=r"index must be an int in \[0, 39\].*got 40"):
        playground.style_transfer.show(40)


def test_the_test_image_slider_stops_at_the_last_image(playground):
    playground.style_transfer.index.value = 10_000
    assert playground.style_transfer.index.value == 39


# --------------------------------------------------------------------------------------------- interpolation
def test_the_t_slider_moves_along_a_path_between_two_styles(model):
    panel = pg.Interpolation(model)
    start, end = np.array([-2.0, 1.0]), np.array([2.0, -1.0])
    panel.set_labels(6, 6)
    panel.set_styles(start, end)
    before = panel.image.value
    panel.position.value = 0.25
    assert panel.image.value != before
    want = model.generate(6, z=0.75 * start + 0.25 * end)
    np.testing.assert_allclose(panel.last_images, want, atol=ATOL)
    np.testing.assert_allclose(shown(panel.image.value, 1, 1, 2 * panel.scale)[:, :, :], expected_pixels(want), atol=1)


def test_a_path_between_two_labels_starts_and_ends_at_each_label(model):
    panel = pg.Interpolation(model)
    panel.set_labels(1, 9)
    panel.same_style.value = True
    style = panel.start_style
    panel.set_position(0.0)
    np.testing.assert_allclose(panel.last_images, model.generate(1, z=style), atol=ATOL)
    panel.set_position(1.0)
    np.testing.assert_allclose(panel.last_images, model.generate(9, z=style), atol=ATOL)


def test_halfway_between_two_labels_the_decoder_gets_a_half_and_half_label(model):
    panel = pg.Interpolation(model)
    panel.set_labels(3, 8)
    panel.set_position(0.5)
    z = (panel.start_style + panel.end_style) / 2
    label = np.zeros((1, 10), np.float32)
    label[0, [3, 8]] = 0.5
    logits = model.decoder.predict([z[None], label], verbose=0)
    np.testing.assert_allclose(panel.last_images, 1 / (1 + np.exp(-logits)), atol=ATOL)


def test_the_path_strip_shows_every_step_from_start_to_end(model):
    panel = pg.Interpolation(model, steps=5)
    panel.set_labels(2, 2)
    ts = np.linspace(0, 1, 5)[:, None]
    want = model.generate(2, z=(1 - ts) * panel.start_style + ts * panel.end_style)
    np.testing.assert_allclose(panel.path_images, want, atol=ATOL)


def test_new_styles_change_both_ends_of_the_path(model):
    panel = pg.Interpolation(model, seed=0)
    start, end, before = panel.start_style.copy(), panel.end_style.copy(), panel.image.after
    panel.new_styles_button.click()
    assert not np.allclose(panel.start_style, start) and not np.allclose(panel.end_style, end)
    assert panel.image.after != before


def test_set_position_rejects_a_point_off_the_path(model):
    with pytest.raises(ValueError, match=r"t must be in \[0, 1\].*got 1.5"):
        pg.Interpolation(model).set_position(1.5)


def test_set_styles_rejects_codes_outside_the_slider_range(model):
    with pytest.raises(ValueError, match=r"end must stay within \[-3, 3\]"):
        pg.Interpolation(model).set_styles([0, 0], [0, -7])


# --------------------------------------------------------------------------------------------- the browser review's fixes
def test_the_generator_sends_its_grid_at_one_pixel_per_image_pixel_and_asks_for_it_shown_scale_times_larger(
    model,
):
    """A ninth of the pixels to encode, send and decode; zoomed by whole pixels, as `sizes` asks the page to show it
    (picture.js sets the image's width and height from it, the CSS renders it pixelated), the same picture as the grid
    tiled at its scale. What the browser then draws is not checked here."""
    gen = pg.Generator(model, scale=3)
    gen.set_latent([0.5, -1.0])
    sent = pg.png_to_array(gen.image.value)
    assert gen.image.sizes[1] == [3 * sent.shape[1], 3 * sent.shape[0]]
    on_screen = sent.repeat(3, axis=0).repeat(3, axis=1)
    np.testing.assert_array_equal(on_screen, pg.tile(gen.last_images, 5, scale=3, highlight=12))


def test_every_picture_is_shown_at_its_own_width_and_height_so_nothing_is_stretched(model):
    panel = pg.Interpolation(model, steps=9)
    for k, png in enumerate((panel.image.before, panel.image.value, panel.image.after)):
        if png:
            picture = pg.png_to_array(png)
            assert panel.image.sizes[k] == [picture.shape[1], picture.shape[0]]
    assert panel.image.value and panel.image.after


def test_the_path_strip_marks_t_under_the_picture_at_t(model):
    panel = pg.Interpolation(model, steps=9, scale=2)
    cell = 28 * 2 + 3
    for t in (0.0, 0.5, 1.0):
        panel.set_position(t)
        band = pg.png_to_array(panel.image.after)[-pg.pictures.MARKER_HEIGHT :]
        columns = np.flatnonzero((band < 128).any(axis=0))
        centre = 3 + cell * t * 8 + 28
        assert abs(columns.mean() - centre) <= 1.0, f"t = {t}: marker at column {columns.mean()}, want {centre}"


def test_style_transfer_pictures_are_labelled_and_three_times_mnist_size(playground):
    panel = playground.style_transfer
    assert panel.scale == 3
    band = pg.png_to_array(panel.image.value)[: pg.pictures.CAPTION_HEIGHT]
    assert (band < 128).any(), "the digit captions above the ten pictures are missing"


def test_every_slider_is_wide_and_every_label_equally_wide(playground):
    gen = playground.generator
    for control in [*gen.sliders, gen.temperature, playground.style_transfer.index, playground.interpolation.position]:
        assert control.layout.width == pg.panels.SLIDER_WIDTH
    for control in [*gen.sliders, gen.temperature]:
        assert control.style.description_width == "6.5em"
    assert gen.digit.description_width == "6.5em"  # the digit row's label (digits.js)


def test_each_panel_says_on_screen_where_its_pictures_are_computed(playground):
    for panel, path in [
        (playground.generator, "kernel"),
        (playground.style_transfer, "kernel"),
        (playground.interpolation, "kernel"),
        (playground.draw, "kernel"),
    ]:
        notes = [child.value for child in panel.children if isinstance(child, ipywidgets.HTML)]
        assert any(f">{path}</span>" in note for note in notes), f"{type(panel).__name__} names no path: {notes}"


# --------------------------------------------------------------------------------------------- one message per update
@pytest.fixture
def sent(monkeypatch):
    """Every kernel-to-browser widget message from now on, as (widget, method)."""
    messages = []
    original = ipywidgets.Widget._send

    def record(self, msg, buffers=None):
        messages.append((self, msg["method"]))
        return original(self, msg, buffers)

    monkeypatch.setattr(ipywidgets.Widget, "_send", record)
    return messages


def test_a_control_moved_in_the_page_is_answered_with_one_message_the_panels_picture(playground, sent):
    gen, style, path = playground.generator, playground.style_transfer, playground.interpolation
    moves = [
        (gen.sliders[0], {"value": 1.25}, gen),
        (gen.sliders[1], {"value": -0.5}, gen),
        (gen.temperature, {"value": 0.6}, gen),
        (gen.digit, {"value": 8}, gen),  # a press: the one update digits.js sends
        (style.index, {"value": 5}, style),
        (path.position, {"value": 0.8}, path),
    ]
    for control, state, panel in moves:
        sent.clear()
        control.set_state(state)  # what the page's update message does in the kernel
        assert [(w, m) for w, m in sent] == [(panel.image, "update")], f"{control.description}: {sent}"


def test_a_digit_press_is_one_request_answered_by_one_message_the_picture(generator, sent):
    """The page's request, as the comm delivers it: digits.js saves the new value, one update message (ipywidgets'
    ToggleButtons sent two per press: a click event and the index)."""
    for digit in (3, 9, 0):
        sent.clear()
        before = generator.image.value
        generator.digit.comm.handle_msg(
            {"content": {"data": {"method": "update", "state": {"value": digit}, "buffer_paths": []}}, "buffers": []}
        )
        assert generator.label == digit and generator.image.value != before
        assert [(w, m) for w, m in sent] == [(generator.image, "update")], f"digit {digit}: {sent}"
    source = (pg.panels.PLAYGROUND_CSS.parent / "digits.js").read_text()
    assert source.count("save_changes()") == 1 and "model.send(" not in source  # the page's one request per press


def test_a_button_that_moves_controls_is_answered_with_one_message_carrying_their_new_values(playground, sent):
    gen, style = playground.generator, playground.style_transfer
    for button, panel, controls in (
        (gen.new_style_button, gen, gen.sliders),
        (style.random_button, style, [style.index]),
    ):
        before = [c.value for c in controls]
        sent.clear()
        button.click()  # what the page's click message does in the kernel
        assert [(w, m) for w, m in sent] == [(panel.image, "update")], f"{button.description}: {sent}"
        moved = {model_id: (name, old, new) for model_id, name, old, new in panel.image.controls["set"]}
        changed = [(c, b) for c, b in zip(controls, before) if c.value != b]
        assert changed, f"{button.description} moved no control"
        assert moved == {c.model_id: ("value", b, c.value) for c, b in changed}, moved


def test_python_moving_a_slider_sends_its_value_with_the_picture_and_each_value_once(playground, sent):
    gen = playground.generator
    gen.set_latent([1.5, -2.0])
    assert [m for _w, m in sent] == ["update"] and sent[0][0] is gen.image
    first = gen.image.controls
    assert first["set"] == [
        [gen.sliders[0].model_id, "value", 0.0, 1.5],
        [gen.sliders[1].model_id, "value", 0.0, -2.0],
    ]
    sent.clear()
    gen.sliders[0].set_state({"value": 0.5})  # the learner moves a slider: the picture only, no stale values
    assert gen.image.controls == first and [(w, m) for w, m in sent] == [(gen.image, "update")]
    sent.clear()
    gen.set_latent([1.5, -2.0])  # the same values again still reach the page (the learner moved the slider since)
    assert gen.image.controls["n"] == first["n"] + 1
    assert [c[1:] for c in gen.image.controls["set"]] == [["value", 0.5, 1.5]]  # z[1] did not change


def test_a_moved_control_carries_the_value_the_kernel_saw_before_the_move_so_the_page_can_keep_a_newer_one(
    playground, sent
):
    """The page applies a move only to a control that still shows ``old`` (picture.js): the learner may have moved
    it while the reply was on its way. Several moves before one picture keep the first ``old``; a control moved
    back to where it was is not sent at all."""
    gen, style = playground.generator, playground.style_transfer
    z0, z1 = (s.model_id for s in gen.sliders)
    gen.sliders[0].set_state({"value": 0.75})  # the learner's last move, which the kernel saw
    gen.set_latent([1.0, -1.0])
    assert gen.image.controls["set"] == [[z0, "value", 0.75, 1.0], [z1, "value", 0.0, -1.0]]
    with gen.hold():
        gen.set_latent([2.0, 1.5])
        gen.set_latent([2.5, -1.0])  # z[1] back where it was: nothing to move
    assert gen.image.controls["set"] == [[z0, "value", 1.0, 2.5]]
    gen.set_label(6)
    assert gen.image.controls["set"] == [[gen.digit.model_id, "value", 0, 6]]
    style.show(4)
    assert style.image.controls["set"] == [[style.index.model_id, "value", 0, 4]]
    # one picture per change: the learner's move, set_latent, the hold, set_label; then style transfer's
    assert [(w, m) for w, m in sent] == [(gen.image, "update")] * 4 + [(style.image, "update")]


def test_one_update_of_a_picture_sends_its_pictures_and_caption_together(playground, sent):
    panel = playground.style_transfer
    panel.show(11)
    updates = [w for w, m in sent if w is panel.image]
    assert len(updates) == 1 and "11" in panel.image.caption and panel.image.before and panel.image.value


def test_the_picture_module_ships_with_the_package_and_loads_nothing_from_the_network():
    source = (pg.panels.PLAYGROUND_CSS.parent / "picture.js").read_text()
    assert "export default" in source and "msg:custom" not in source  # one state update, no custom messages
    assert "change:controls" in source and "set_state" in source  # and the controls Python moved
    assert "moveControl(control, name, old, value)" in source  # only if the control still shows the old value
    assert "fetch(" not in source and "http" not in source and "import " not in source.replace("// ", "#")


def test_a_change_that_fails_inside_a_hold_renders_nothing_then_or_at_the_next_hold(playground, sent):
    gen = playground.generator
    calls = []
    with pytest.raises(RuntimeError, match="learner's cell failed"):
        with gen.hold():
            with gen.hold(lambda: calls.append("stale")):
                gen.set_latent([1.0, 0.5])
            raise RuntimeError("learner's cell failed")
    assert calls == [] and sent == []
    with gen.hold():
        gen.set_latent([0.5, 0.5])
    assert calls == []  # the failed hold's renderer does not run at this one
    assert [(w, m) for w, m in sent] == [(gen.image, "update")]
