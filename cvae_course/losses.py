"""The VAE's loss: the negative evidence lower bound (ELBO), in nats per image.

    -ELBO(x) = E_q[-log p(x | z)]  +  KL(q(z | x) || N(0, I))
             = reconstruction      +  KL

Both terms are summed over their own axes (784 pixels, latent_dim dimensions) and only then averaged
over the batch. Averaging the cross-entropy over the 784 pixels divides the reconstruction term by 784:
if the KL is summed over latent dimensions it then weighs 784 times too much, and if it is averaged over
them, 784 / latent_dim times too much. Either way the model is pushed into posterior collapse.
"""

from __future__ import annotations

from cvae_course._keras import keras, ops

__all__ = [
    "pixel_cross_entropy",
    "reconstruction_loss",
    "kl_divergence",
    "kl_per_dimension",
    "elbo_terms",
    "negative_elbo",
    "linear_kl_schedule",
    "KLAnnealing",
]


def pixel_cross_entropy(x, logits):
    """The Bernoulli cross-entropy of each pixel, same shape as ``logits``: -x log p - (1 - x) log(1 - p).

    Computed from logits as max(l, 0) - l * x + log(1 + exp(-|l|)), which never overflows.
    """
    x = ops.cast(x, logits.dtype)
    return ops.relu(logits) - logits * x + ops.log1p(ops.exp(-ops.abs(logits)))


def reconstruction_loss(x, logits):
    """Bernoulli negative log-likelihood -log p(x | z), summed over pixels; one value per image.

    Per pixel it is :func:`pixel_cross_entropy`, which never overflows.
    """
    per_pixel = pixel_cross_entropy(x, logits)
    return ops.sum(ops.reshape(per_pixel, (ops.shape(per_pixel)[0], -1)), axis=1)


def kl_divergence(z_mean, z_log_var):
    """KL(N(mu, diag(sigma^2)) || N(0, I)) in closed form, summed over latent dimensions; one per image.

    KL = -1/2 * sum(1 + log sigma^2 - mu^2 - sigma^2)
    """
    return -0.5 * ops.sum(1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=-1)


def kl_per_dimension(z_mean, z_log_var):
    """The KL of each latent dimension separately, shape (batch, latent_dim); for spotting collapse."""
    return -0.5 * (1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))


def elbo_terms(x, logits, z_mean, z_log_var):
    """Batch means of the two terms of the negative ELBO: (reconstruction, KL), each in nats per image."""
    return ops.mean(reconstruction_loss(x, logits)), ops.mean(kl_divergence(z_mean, z_log_var))


def negative_elbo(x, logits, z_mean, z_log_var, beta: float = 1.0):
    """Reconstruction + beta * KL, averaged over the batch (beta = 1 is the true negative ELBO)."""
    reconstruction, kl = elbo_terms(x, logits, z_mean, z_log_var)
    return reconstruction + beta * kl


def linear_kl_schedule(epoch: int, warmup_epochs: int, start: float = 0.0, end: float = 1.0) -> float:
    """KL annealing: beta grows linearly from ``start`` to ``end`` over ``warmup_epochs`` epochs."""
    if warmup_epochs <= 0:
        return float(end)
    return float(start + (end - start) * min(1.0, epoch / warmup_epochs))


class KLAnnealing(keras.callbacks.Callback):
    """Sets ``model.beta`` at the start of each epoch from a schedule ``epoch -> beta``.

    The default schedule warms beta up linearly from 0 to 1 over ``warmup_epochs``: the decoder first
    learns to use z, then the KL term pulls the codes towards the prior. A remedy for posterior collapse.
    """

    def __init__(self, warmup_epochs: int = 5, schedule=None):
        super().__init__()
        self.warmup_epochs = warmup_epochs
        self.schedule = schedule or (lambda epoch: linear_kl_schedule(epoch, warmup_epochs))
        self.history: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        beta = float(self.schedule(epoch))
        if not beta >= 0:
            raise ValueError(f"the KL schedule gave beta={beta!r} at epoch {epoch}; beta must be >= 0")
        self.model.beta.assign(beta)
        self.history.append(beta)
