"""The course's shared trained CVAE: lesson 03 trains and saves it; the playground and lesson 05 reuse it.

If it is missing (a lesson run on its own) or cannot be loaded, :func:`load_cvae` trains a fresh one
with the same recipe and caches it, so every notebook also works alone.
"""

from __future__ import annotations

from cvae_course import cache, settings
from cvae_course.data import MNIST, load_mnist
from cvae_course.models import CVAE, build_cvae
from cvae_course.validation import check_model
from cvae_course.training import train

CVAE_NAME = "cvae-dense-2d"
# Batches of 256 with Adam at 3e-3 reach the benchmark's quality bar (test -ELBO <= 135, conditional accuracy
# >= 0.98, diversity >= 0.55) in 8 epochs instead of 10 at 128 / 1e-3 (benchmarks/train_speed.py).
BATCH_SIZE = 256
LEARNING_RATE = 3e-3


def train_cvae(mnist: MNIST | None = None, *, latent_dim: int = 2, kind: str = "dense", epochs: int | None = None,
               seed: int = settings.DEFAULT_SEED, progress: bool = True) -> CVAE:
    """Train the course CVAE recipe: dense, 2-D latent space, Adam 3e-3, batches of 256, seed 42."""
    settings.seed_everything(seed)
    mnist = mnist or load_mnist()
    model = build_cvae(latent_dim, kind, seed=seed)
    train(model, (mnist.x_train, mnist.y_train_one_hot), epochs=epochs or settings.budget().cvae_epochs, batch_size=BATCH_SIZE,
          learning_rate=LEARNING_RATE, progress=progress)
    return model


def save_cvae(model: CVAE) -> str:
    """Save ``model`` as the course CVAE for the later lessons; returns the file path."""
    check_model(model, CVAE)
    return str(cache.save_model(model, CVAE_NAME))


def load_cvae(*, train_if_missing: bool = True) -> CVAE | None:
    """The CVAE saved by lesson 03; trained and cached now if it is missing or unreadable."""
    if not train_if_missing:
        return cache.load_model(CVAE_NAME, CVAE)
    return cache.load_or_train(CVAE_NAME, train_cvae, CVAE)
