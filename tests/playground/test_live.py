"""Watch it learn (cvae_course.playground.live): the callback redraws the latent space after every epoch."""

import numpy as np
import pytest

from cvae_course import playground as pg
from cvae_course.data import load_mnist
from cvae_course.models import build_cvae
from cvae_course.training import train


def test_the_live_view_keeps_one_picture_pair_per_epoch_and_they_change_as_the_model_learns():
    mnist = load_mnist(train_size=1000, test_size=200)
    live = pg.LiveView(mnist.x_test, mnist.y_test, n_points=200, show=False)
    train(build_cvae(2, seed=0), (mnist.x_train, mnist.y_train_one_hot), epochs=2, progress=False, callbacks=[live])
    assert [epoch for epoch, _, _ in live.frames] == [1, 2]
    (_, scatter1, digits1), (_, scatter2, digits2) = live.frames
    assert scatter1.startswith(b"\x89PNG") and digits1.startswith(b"\x89PNG")
    assert scatter1 != scatter2 and digits1 != digits2, "the pictures did not change between epochs"
    assert pg.png_to_array(digits1).shape == pg.png_to_array(digits2).shape


def test_the_live_view_refuses_images_and_labels_of_different_lengths():
    with pytest.raises(ValueError, match="images has 3 rows but labels has 2"):
        pg.LiveView(np.zeros((3, 28, 28, 1)), [1, 2])
