"""The playground's pictures (cvae_course.playground.pictures): probabilities to grey PNGs and back."""

import numpy as np

from cvae_course.playground import pictures


def test_ink_is_dark_where_the_pixel_probability_is_high():
    assert pictures.ink([0.0, 0.5, 1.0]).tolist() == [255, 128, 0]


def test_untile_recovers_each_cell_of_a_tiled_picture():
    probs = np.random.default_rng(0).uniform(size=(5, 28, 28, 1)).astype(np.float32)
    picture = pictures.tile(probs, 3, scale=2, highlight=4)
    np.testing.assert_array_equal(pictures.untile(picture, 5, 3, scale=2), pictures.ink(probs)[..., 0])


def test_a_picture_survives_the_png_round_trip():
    picture = pictures.tile(np.linspace(0, 1, 2 * 784).reshape(2, 28, 28), 2)
    np.testing.assert_array_equal(pictures.png_to_array(pictures.to_png(picture)), picture)


def test_the_highlighted_cell_gets_a_dark_frame():
    picture = pictures.tile(np.zeros((2, 28, 28)), 2, gap=3, highlight=1)
    assert picture[0, 3 + 56 + 3] == pictures.HIGHLIGHT and picture[0, 0] == 255


def test_captions_are_written_above_their_cells_and_leave_the_cells_untouched():
    probs = np.random.default_rng(1).uniform(size=(4, 28, 28, 1)).astype(np.float32)
    captioned = pictures.tile(probs, 2, scale=2, highlight=3, captions=["0", "1", "22", "3"])
    np.testing.assert_array_equal(
        pictures.untile(captioned, 4, 2, scale=2, captioned=True), pictures.ink(probs)[..., 0]
    )
    cell, band, gap = 56, pictures.CAPTION_HEIGHT, 3
    for i in range(4):
        top, left = gap + (i // 2) * (band + cell + gap), gap + (i % 2) * (cell + gap)
        assert captioned[top : top + band - gap, left : left + cell].min() < 128, f"no caption ink above cell {i}"
    again = pictures.tile(probs, 2, scale=2, highlight=3, captions=["0", "1", "22", "3"])
    np.testing.assert_array_equal(captioned, again)  # the cached caption layer is not drawn into
