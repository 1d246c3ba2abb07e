"""The Sampling layer: the reparameterization trick z = mu + sigma * eps."""

import numpy as np
import pytest
import tensorflow as tf

from cvae_course.layers import Sampling


def test_sampling_has_the_requested_mean_and_variance():
    n = 200_000
    mu = np.tile(np.array([[1.5, -2.0]], dtype=np.float32), (n, 1))
    log_var = np.tile(np.array([[np.log(0.25), np.log(4.0)]], dtype=np.float32), (n, 1))
    z = np.asarray(Sampling(seed=0)([mu, log_var]))
    np.testing.assert_allclose(z.mean(axis=0), [1.5, -2.0], atol=0.02)
    np.testing.assert_allclose(z.var(axis=0), [0.25, 4.0], rtol=0.02)


def test_sampling_with_the_same_seed_repeats_its_draws():
    mu, lv = np.zeros((5, 3), np.float32), np.zeros((5, 3), np.float32)
    np.testing.assert_array_equal(np.asarray(Sampling(seed=7)([mu, lv])), np.asarray(Sampling(seed=7)([mu, lv])))


def test_sampling_draws_new_noise_on_each_call():
    layer = Sampling(seed=7)
    mu, lv = np.zeros((5, 3), np.float32), np.zeros((5, 3), np.float32)
    assert not np.allclose(np.asarray(layer([mu, lv])), np.asarray(layer([mu, lv])))


def test_gradients_flow_through_sampling_to_mean_and_log_variance():
    mu = tf.Variable(np.ones((4, 2), np.float32))
    lv = tf.Variable(np.zeros((4, 2), np.float32))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(Sampling(seed=1)([mu, lv]) ** 2)
    g_mu, g_lv = tape.gradient(loss, [mu, lv])
    assert g_mu is not None and g_lv is not None
    assert np.all(np.asarray(g_mu) != 0) and np.any(np.asarray(g_lv) != 0)


def test_sampling_config_round_trips_its_seed():
    assert Sampling.from_config(Sampling(seed=3).get_config()).seed == 3


@pytest.mark.parametrize("shape", [(1, 1), (7, 16)])
def test_sampling_output_shape_equals_the_mean_shape(shape):
    mu = np.zeros(shape, np.float32)
    assert tuple(Sampling(seed=0)([mu, mu]).shape) == shape
