"""Custom Keras layers of the course."""

from __future__ import annotations

from cvae_course._keras import keras, ops

__all__ = ["Sampling"]


@keras.saving.register_keras_serializable(package="cvae_course")
class Sampling(keras.layers.Layer):
    """The reparameterization trick: z = mu + sigma * eps with eps ~ N(0, I) and sigma = exp(0.5 * log_var).

    The randomness sits in eps, outside the path from (mu, log_var) to z, so gradients flow to the
    encoder. A ``seed`` makes the draws repeatable.
    """

    def __init__(self, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        eps = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * eps

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}
