"""Training: the course's learning-rate schedule and one compact progress line instead of Keras's per-batch output.

:func:`train` fits a model with Adam on a one-cycle schedule (:class:`OneCycle`): the learning rate warms up
from a tenth of its peak over the first tenth of the steps, then follows a cosine down to zero at the last step.
A high peak early and a small step at the end reach a given quality in far fewer epochs than a constant
learning rate: the course CVAE reached the benchmark's quality bar after 5 epochs of a 6-epoch cycle in batches
of 256, where Adam at a constant 3e-3 needed 9 (benchmarks/train_speed.py); starting its decoder at the average
training image (:func:`cvae_course.models.build_cvae`'s ``start_images``) it reached it after 4 of a 5-epoch cycle
(the constant rate with the same start: 6), and in batches of 128 after all 3 epochs of a 3-epoch cycle. So the lessons'
autoencoder, VAEs and beta sweep train for fewer epochs (:func:`cvae_course.settings.budget`; the course CVAE in
batches of 128 in full mode and 256 in fast mode, the held-out VAE at a constant rate: see :mod:`cvae_course.recipes`).

Keras's ``verbose=1`` writes a progress bar per batch, which floods a notebook (and nbgrader counts
anything on stderr against a cell). :class:`ProgressLine` shows a single line that updates in place:
epoch, loss, reconstruction and KL.

:func:`train_together` trains several models side by side in one step on the same batches (a beta sweep): the
same updates each would get alone, faster than one after the other (one step keeps both cores busier than
several small ones; benchmarks/train_speed.py). Dense CVAEs of one architecture, such as lesson 07's sweep, train as
one stacked network (:class:`_Stacked`: every weight array holds all the members' copies, every layer is one batched
product), whose step TensorFlow traces as one network instead of one per member. For the sweep's four CVAEs,
alternated in one process: one epoch of 2,048 images, most of it tracing, 4.1, 3.9 and 2.8 CPU s instead of 9.6, 9.7
and 9.4 (load 2.7-3.7); the whole sweep (full mode, 24,345 images, 8 epochs) 32.7 and 31.9 CPU s instead of 46.0
and 38.4 (load 6-7), and 23.9 and 22.7 instead of 31.3 and 29.2 (load 1.9-3.7).
"""

from __future__ import annotations

import math
import sys
import time

import numpy as np

from cvae_course._keras import keras, ops
from cvae_course.validation import (
    as_images,
    as_one_hot,
    check_positive_float,
    check_positive_int,
    check_same_length,
)

__all__ = [
    "BATCH_SIZE",
    "LEARNING_RATE",
    "OPTIMIZER_NAME",
    "SCHEDULES",
    "STEPS_PER_EXECUTION",
    "OneCycle",
    "format_logs",
    "ProgressLine",
    "train",
    "train_together",
]

BATCH_SIZE = 128
LEARNING_RATE = 1e-2  # the peak of the one-cycle schedule (Adam)
SCHEDULES = ("one-cycle", "constant")
OPTIMIZER_NAME = "course_adam"  # how train() knows a model it compiled itself

_SHOWN = ("loss", "reconstruction", "kl", "val_loss")

# Training steps run per call into TensorFlow. One Python round trip per batch costs about as much as
# the step itself for the course's small models on a CPU; 16 steps per call made the dense CVAE train
# 1.4-2x faster on 2 cores (benchmarks/train_speed.py) and changes nothing else: the same updates in
# the same order; epoch callbacks run as before, batch callbacks every 16 batches.
STEPS_PER_EXECUTION = 16


@keras.saving.register_keras_serializable(package="cvae_course")
class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """Learning rate per optimizer step: a linear warm-up, then a cosine decay to zero, over ``total_steps``.

    For step s of n (p = s / n), with warm-up fraction w:

    * p < w: ``peak * (0.1 + 0.9 * p / w)``, from a tenth of the peak up to the peak;
    * p >= w: ``peak * (1 + cos(pi * (p - w) / (1 - w))) / 2``, from the peak down to 0 at the last step.

    Steps past ``total_steps`` get the last value, 0. :func:`train` makes a new one for each call.

    Args:
        peak: the highest learning rate, reached after the warm-up.
        total_steps: optimizer steps (batches) of the whole training run.
        warmup_fraction: share of the steps spent warming up, in [0, 1).
    """

    def __init__(self, peak: float, total_steps: int, warmup_fraction: float = 0.1):
        super().__init__()
        self.peak = check_positive_float(peak, "peak")
        self.total_steps = check_positive_int(total_steps, "total_steps")
        if not 0.0 <= warmup_fraction < 1.0:
            raise ValueError(f"warmup_fraction must be in [0, 1), got {warmup_fraction!r}")
        self.warmup_fraction = float(warmup_fraction)

    def __call__(self, step):
        p = ops.minimum(ops.cast(step, "float32") / float(self.total_steps), 1.0)
        w = self.warmup_fraction
        warm = self.peak * (0.1 + 0.9 * p / w) if w > 0 else self.peak
        cool = self.peak * 0.5 * (1.0 + ops.cos(math.pi * ops.maximum(p - w, 0.0) / (1.0 - w)))
        return ops.where(p < w, warm, cool)

    def get_config(self):
        return {"peak": self.peak, "total_steps": self.total_steps, "warmup_fraction": self.warmup_fraction}


def _steps(x, epochs: int, batch_size: int) -> int:
    """Optimizer steps of ``epochs`` passes over ``x`` (arrays, a tuple of arrays or a batched dataset)."""
    if hasattr(x, "element_spec"):
        batches = int(x.cardinality())
        if batches <= 0:
            raise ValueError(
                "train needs a dataset of known, finite length for its learning-rate schedule; batch it from "
                "arrays (data.make_dataset) or pass schedule='constant'"
            )
        return epochs * batches
    first = x[0] if isinstance(x, (list, tuple)) else x
    return epochs * math.ceil(len(first) / batch_size)


def _compiled_by_train(model: keras.Model) -> bool:
    """True when ``model`` was compiled by :func:`train` (its Adam carries the course's name, also after saving
    and loading), False when it is not compiled or was compiled by someone else."""
    return model.compiled and getattr(model.optimizer, "name", None) == OPTIMIZER_NAME


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def _text(line: str) -> dict:
    """A plain-text display bundle: shown as the line itself, not as a quoted Python string."""
    return {"text/plain": line}


def format_logs(epoch: int, epochs: int, logs: dict, seconds: float) -> str:
    """'epoch 3/10  loss 151.2  reconstruction 144.0  kl 7.2  (4.1 s)'"""
    parts = [f"epoch {epoch}/{epochs}"]
    for key in _SHOWN:
        if key in (logs or {}):
            parts.append(f"{key} {float(logs[key]):.1f}")
    parts.append(f"({seconds:.1f} s)")
    return "  ".join(parts)


class ProgressLine(keras.callbacks.Callback):
    """One line that updates in place in a notebook (through a display handle), refreshed at most every
    ``interval`` seconds and at the end of each epoch. Outside a notebook it prints one line per epoch.
    """

    def __init__(self, interval: float = 0.5):
        super().__init__()
        self.interval = interval
        self._handle = None
        self._last = 0.0
        self.lines: list[str] = []

    def on_train_begin(self, logs=None):
        self._start = time.perf_counter()
        self._epochs = self.params.get("epochs", 0)
        self._epoch = 0
        if _in_notebook():
            from IPython.display import display

            self._handle = display(_text(f"epoch 0/{self._epochs}  starting..."), raw=True, display_id=True)

    def _show(self, text: str, end_of_epoch: bool = False):
        if self._handle is not None:
            self._handle.update(_text(text), raw=True)
        elif end_of_epoch:
            print(text, file=sys.stdout, flush=True)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        if now - self._last >= self.interval:
            self._last = now
            self._show(format_logs(self._epoch, self._epochs, logs, now - self._start))

    def on_epoch_end(self, epoch, logs=None):
        text = format_logs(epoch + 1, self._epochs, logs, time.perf_counter() - self._start)
        self.lines.append(text)
        self._show(text, end_of_epoch=True)


def _build_optimizer(model: keras.Model) -> None:
    """Create the optimizer's state (Adam's two moments per weight) before ``fit`` traces the training step.

    Keras's TensorFlow trainer leaves it to the first trace of the step; a ``tf.function`` that creates variables
    on its first trace is traced a second time, so every ``train`` call traced its step twice. Built here, the
    step is traced once: the first epoch of the course CVAE cost about 1.3 CPU s less (2.7 -> 1.4 CPU s more than
    a later epoch, medians of 4 alternated pairs, load 5-6), with the same losses to the last bit. Models whose
    weights do not exist yet (never called) are left to Keras.
    """
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or optimizer.built or not model.built or not model.trainable_variables:
        return
    optimizer.build(model.trainable_variables)


def _a(noun: str) -> str:
    """``noun`` with its article: "an Autoencoder", "a VAE"."""
    return f"{'an' if noun[:1] in 'AEIOU' else 'a'} {noun}"


def _is_pair(x) -> bool:
    """True when ``x`` is two arrays side by side, (a, b) or [a, b], not a nested list of images."""
    if isinstance(x, tuple):
        return len(x) == 2
    return isinstance(x, list) and len(x) == 2 and np.ndim(x[0]) != np.ndim(x[1])


def _course_data(model: keras.Model, x, name: str):
    """``x`` checked and converted for one of the course's own models (the autoencoder, VAE and CVAE of
    :mod:`cvae_course.models`; lesson 06's ``Baseline`` and ``QuadrantCVAE``), with an error that says what to pass;
    anything else (a dataset, another Keras model's data) as it is."""
    from cvae_course.models import _CourseModel
    from cvae_course.quadrants import Baseline, QuadrantCVAE, _pair

    what = type(model).__name__
    if isinstance(model, (Baseline, QuadrantCVAE)):
        if not _is_pair(x):
            raise ValueError(
                f"{what} trains on (x, y) pairs (the visible and the hidden part): pass {name}=(x, y) from "
                f"quadrants.make_task or quadrants.make_mixed_task, got {type(x).__name__}"
            )
        pair, count = _pair(*x), len(x[0])
    elif isinstance(model, _CourseModel) and model.conditional:
        if not _is_pair(x):
            raise ValueError(
                f"{_a(what)} trains on (images, labels_one_hot): pass {name}=(mnist.x_train, mnist.y_train_one_hot) "
                f"(or (images, data.one_hot(digits))), got {type(x).__name__}"
            )
        images = as_images(x[0], f"{name}'s images")
        labels = as_one_hot(x[1], f"{name}'s labels")
        check_same_length(images, labels, f"{name}'s images", f"{name}'s labels")
        pair, count = (images, labels), len(images)
    elif isinstance(model, _CourseModel):
        if _is_pair(x):
            raise ValueError(
                f"{_a(what)} is not conditional: it trains on images alone (its target is its input); pass "
                f"{name}=mnist.x_train, one array, not a pair "
                "(a CVAE, models.build_cvae, is the model that takes (images, labels_one_hot))"
            )
        pair = as_images(x, name)
        count = len(pair)
    else:
        return x
    if count == 0:
        raise ValueError(f"{name} holds no images: pass at least one (e.g. mnist.x_train)")
    return pair


def _course_dataset(model: keras.Model, x, name: str) -> None:
    """A ``tf.data.Dataset`` for a course VAE or CVAE must yield what the model takes: (image, one_hot) pairs for a
    CVAE, images alone for the autoencoder and the VAE (as :func:`cvae_course.data.make_dataset` builds them)."""
    from cvae_course.models import _CourseModel

    if not isinstance(model, _CourseModel):
        return
    spec = x.element_spec
    first = spec[0] if isinstance(spec, tuple) and len(spec) == 1 else spec
    paired = isinstance(first, (tuple, list)) and len(first) == 2
    if model.conditional and not paired:
        raise ValueError(
            f"{_a(type(model).__name__)} trains on (image, one_hot) batches: build {name} with "
            "data.make_dataset(images, labels), with the labels"
        )
    if not model.conditional and (paired or isinstance(spec, tuple) and len(spec) > 1):
        raise ValueError(
            f"{_a(type(model).__name__)} is not conditional: build {name} with data.make_dataset(images), without "
            "labels"
        )


def _course_validation_data(model: keras.Model, validation_data):
    """``validation_data`` checked for one of the course's own models: ``(x_test,)`` (or ``x_test``) for the
    autoencoder and the VAE, ``((x_test, y_test_one_hot),)`` for a CVAE, ``((x, y),)`` for lesson 06's models."""
    from cvae_course.models import _CourseModel
    from cvae_course.quadrants import Baseline, QuadrantCVAE

    if validation_data is None or hasattr(validation_data, "element_spec"):
        return validation_data
    paired = isinstance(model, (Baseline, QuadrantCVAE)) or (isinstance(model, _CourseModel) and model.conditional)
    if paired:
        if not (isinstance(validation_data, tuple) and len(validation_data) == 1 and _is_pair(validation_data[0])):
            example = "((x_test, y_test_one_hot),)" if isinstance(model, _CourseModel) else "((x_test, y_test),)"
            raise ValueError(
                f"validation_data for a {type(model).__name__} is {example}: a tuple holding the pair that the model "
                f"takes (Keras would read a bare pair as inputs and targets), got {type(validation_data).__name__}"
                + (f" of {len(validation_data)}" if isinstance(validation_data, (tuple, list)) else "")
            )
        return (_course_data(model, validation_data[0], "validation_data"),)
    if isinstance(model, _CourseModel):
        if isinstance(validation_data, tuple):
            if len(validation_data) != 1:
                raise ValueError(
                    f"validation_data for a {type(model).__name__} is (x_test,): a tuple holding the images alone, "
                    f"got a tuple of {len(validation_data)}"
                )
            validation_data = validation_data[0]
        return (_course_data(model, validation_data, "validation_data"),)
    return validation_data


def train(
    model: keras.Model,
    x,
    *,
    epochs: int,
    batch_size: int = BATCH_SIZE,
    learning_rate: float = LEARNING_RATE,
    schedule: str = "one-cycle",
    validation_data=None,
    callbacks=(),
    progress: bool = True,
    shuffle: bool = True,
) -> keras.callbacks.History:
    """Compile ``model`` with Adam on the course's learning-rate schedule, then ``fit`` it quietly.

    Every call compiles anew (a fresh Adam; with ``schedule="one-cycle"``, the default, a :class:`OneCycle` over
    exactly this call's steps), so calling ``train`` again on the same model, or on one loaded from the cache,
    trains it again with a fresh warm-up and decay. A model you compiled yourself is fitted as it is:
    ``learning_rate`` and ``schedule`` are then not used.

    Args:
        model: an autoencoder, VAE or CVAE from :mod:`cvae_course.models` (or any Keras model that computes
            its own loss).
        x: what the model takes: images (N, 28, 28, 1) in [0, 1] for the autoencoder and the VAE (also (N, 28, 28)
            or (N, 784)), ``(images, labels_one_hot)`` with one-hot rows (N, 10) for the CVAE, ``(x, y)`` from
            :func:`cvae_course.quadrants.make_task` for lesson 06's models, or a ``tf.data.Dataset`` from
            :func:`cvae_course.data.make_dataset`. For the course's own models it is checked once per call (pixels
            in [0, 1], finite, one-hot rows, one label per image): a ValueError says what to pass.
        epochs: passes over the training images.
        batch_size: images per training step (ignored for a dataset, which is batched already).
        learning_rate: Adam's step size: the peak of the one-cycle schedule, or the constant rate.
        schedule: "one-cycle" (warm-up, then cosine decay to zero over this call's steps) or "constant" (the
            rate stays ``learning_rate``).
        validation_data: ``(x_test,)`` (a CVAE: ``((x_test, y_test_one_hot),)``, a tuple holding the pair), scored
            after each epoch (``val_loss`` in the history); checked as ``x`` is.
        callbacks: extra Keras callbacks, e.g. :class:`cvae_course.losses.KLAnnealing`.
        progress: show one progress line (epoch, loss, reconstruction, KL in nats per image).
        shuffle: shuffle the images each epoch (a dataset shuffles itself).

    Returns Keras's ``History``: per-epoch ``loss``, ``reconstruction`` and ``kl`` in nats per image.
    """
    if not isinstance(model, keras.Model):
        raise ValueError(
            f"model must be a Keras model, e.g. models.build_vae() or models.build_cvae(), got {type(model).__name__}"
        )
    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_positive_int(batch_size, "batch_size")
    learning_rate = check_positive_float(learning_rate, "learning_rate")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    # Checked once per call, not per batch: one min/max pass over the images (and the labels), as encode() does.
    if hasattr(x, "element_spec"):
        _course_dataset(model, x, "x")
    else:
        x = _course_data(model, x, "x")
    validation_data = _course_validation_data(model, validation_data)
    if not model.compiled or _compiled_by_train(model):
        rate = OneCycle(learning_rate, _steps(x, epochs, batch_size)) if schedule == "one-cycle" else learning_rate
        model.compile(
            optimizer=keras.optimizers.Adam(rate, name=OPTIMIZER_NAME), steps_per_execution=STEPS_PER_EXECUTION
        )
    _build_optimizer(model)
    cbs = list(callbacks) + ([ProgressLine()] if progress else [])
    is_dataset = hasattr(x, "element_spec")
    return model.fit(
        x,
        epochs=epochs,
        batch_size=None if is_dataset else batch_size,
        validation_data=validation_data,
        callbacks=cbs,
        verbose=0,
        # A dataset shuffles itself (make_dataset does); Keras warns on stderr if asked to shuffle one.
        shuffle=shuffle and not is_dataset,
    )


class _Together(keras.Model):
    """Models trained side by side: one step runs them all on the same batch; the loss is the sum of theirs.

    No weight is shared, so the gradient of the sum with respect to a model's weights is the gradient of that
    model's own loss, and Adam (per weight) updates each exactly as if it trained alone on the same batches.
    """

    def __init__(self, members, **kwargs):
        super().__init__(**kwargs)
        self.members = list(members)
        self.built = True

    def call(self, inputs, training=False):
        return [member(inputs, training=training) for member in self.members]

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return ops.sum(
            ops.stack(
                [member.compute_loss(x, y, pred, training=training) for member, pred in zip(self.members, y_pred)]
            )
        )


_DENSE_CVAE_LAYERS = {"InputLayer", "Flatten", "Concatenate", "Dense", "Reshape"}


def _dense_cvae_layers(model) -> tuple[list, list] | None:
    """(encoder Dense layers: hidden ..., z_mean, z_log_var; decoder Dense layers, first to last) of a dense CVAE
    built by :func:`cvae_course.models.build_cvae` with the course's negative ELBO, or None for any other model."""
    from cvae_course.losses import elbo_terms
    from cvae_course.models import CVAE

    if not isinstance(model, CVAE) or model.loss_terms is not elbo_terms or model.losses:
        return None
    if any(type(layer).__name__ not in _DENSE_CVAE_LAYERS for layer in model.encoder.layers + model.decoder.layers):
        return None
    encoder = [layer for layer in model.encoder.layers if isinstance(layer, keras.layers.Dense)]
    heads = [layer for layer in encoder if layer.name in ("z_mean", "z_log_var")]
    hidden = [layer for layer in encoder if layer not in heads]
    decoder = [layer for layer in model.decoder.layers if isinstance(layer, keras.layers.Dense)]
    if sorted(layer.name for layer in heads) != ["z_log_var", "z_mean"] or not hidden or not decoder:
        return None
    heads.sort(key=lambda layer: layer.name != "z_mean")
    return hidden + heads, decoder


class _Stacked(keras.Model):
    """Dense CVAEs of one architecture trained as one network: each weight array holds every member's copy
    stacked on a first axis of length K, and every layer is one batched product for all K members.

    The step computes what :class:`_Together` computes (each member's -ELBO with its own ``beta`` on the same batch,
    its codes drawn from its own ``Sampling`` seed stream; the loss is their sum), but it is traced as one
    network instead of K: tracing the step cost about 2 CPU s per member of the beta sweep. Adam is per weight,
    so each member's slice gets the updates it would get alone. The members' weights are copied in before
    training and back out after it (:meth:`write_back`); until then the members keep their initial weights.
    """

    def __init__(self, members, layer_lists, **kwargs):
        super().__init__(**{"name": "stacked", **kwargs})  # Keras's default, "_stacked", is no valid scope name
        # A plain holder, so that Keras does not track the members' own weights as this model's.
        self._group = _Members(list(members), layer_lists)
        first_encoder, first_decoder = layer_lists[0]
        self.n_hidden = len(first_encoder) - 2
        self.encoder_weights = [self._stack(i, 0, layer) for i, layer in enumerate(first_encoder)]
        self.decoder_weights = [self._stack(i, 1, layer) for i, layer in enumerate(first_decoder)]
        self.built = True

    def _stack(self, index: int, half: int, layer) -> tuple:
        """The stacked (kernel, bias) of layer ``index`` of the encoder (half 0) or the decoder (half 1)."""
        arrays = []
        for attribute in ("kernel", "bias"):
            values = np.stack(
                [ops.convert_to_numpy(getattr(layers[half][index], attribute)) for layers in self._group.layer_lists]
            )
            weight = self.add_weight(
                shape=tuple(values.shape),
                initializer="zeros",
                name=f"{('encoder', 'decoder')[half]}_{index}_{attribute}",
            )
            weight.assign(values)
            arrays.append(weight)
        return tuple(arrays)

    def forward(self, x, label_rows, eps):
        """(z_mean, z_log_var, logits) for images x (n, 28, 28, 1), label rows (n, 10) and noise eps (K, n, d):
        shapes (K, n, d), (K, n, d), (K, n, 784)."""
        n = ops.shape(x)[0]
        h = ops.concatenate([ops.reshape(ops.cast(x, "float32"), (n, -1)), label_rows], axis=-1)
        (kernel, bias), *rest = self.encoder_weights[: self.n_hidden]
        h = ops.relu(ops.einsum("ni,kio->kno", h, kernel) + bias[:, None])  # the shared input, once
        for kernel, bias in rest:
            h = ops.relu(ops.matmul(h, kernel) + bias[:, None])
        (mean_kernel, mean_bias), (var_kernel, var_bias) = self.encoder_weights[self.n_hidden :]
        z_mean = ops.matmul(h, mean_kernel) + mean_bias[:, None]
        z_log_var = ops.matmul(h, var_kernel) + var_bias[:, None]
        z = z_mean + ops.exp(0.5 * z_log_var) * eps
        k = ops.shape(z)[0]
        h = ops.concatenate([z, ops.broadcast_to(label_rows[None], (k, n, ops.shape(label_rows)[-1]))], axis=-1)
        *hidden, (kernel, bias) = self.decoder_weights
        for hidden_kernel, hidden_bias in hidden:
            h = ops.relu(ops.matmul(h, hidden_kernel) + hidden_bias[:, None])
        return z_mean, z_log_var, ops.matmul(h, kernel) + bias[:, None]

    def call(self, inputs, training=False):
        x, label_rows = inputs
        shape = (ops.shape(x)[0], self._group.models[0].latent_dim)
        eps = ops.stack([keras.random.normal(shape, seed=m.sampling.seed_generator) for m in self._group.models])
        z_mean, z_log_var, logits = self.forward(x, ops.cast(label_rows, "float32"), eps)
        return {"logits": logits, "z_mean": z_mean, "z_log_var": z_log_var}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        from cvae_course.losses import kl_divergence, pixel_cross_entropy

        images = ops.reshape(ops.cast(x[0], "float32"), (1, ops.shape(x[0])[0], -1))
        reconstruction = ops.mean(ops.sum(pixel_cross_entropy(images, y_pred["logits"]), axis=-1), axis=-1)
        kl = ops.mean(kl_divergence(y_pred["z_mean"], y_pred["z_log_var"]), axis=-1)
        betas = ops.stack([ops.cast(m.beta, "float32") for m in self._group.models])
        return ops.sum(reconstruction + betas * kl)

    def write_back(self) -> None:
        """Copy each member's slice of the stacked weights into the member's own layers."""
        for half, stacked in enumerate((self.encoder_weights, self.decoder_weights)):
            for index, (kernel, bias) in enumerate(stacked):
                kernels, biases = ops.convert_to_numpy(kernel), ops.convert_to_numpy(bias)
                for k, layers in enumerate(self._group.layer_lists):
                    layers[half][index].kernel.assign(kernels[k])
                    layers[half][index].bias.assign(biases[k])


class _Members:
    """The members of a :class:`_Stacked` group and their Dense layers, out of Keras's sight."""

    def __init__(self, models, layer_lists):
        self.models = models
        self.layer_lists = layer_lists


def _stackable(models) -> _Stacked | None:
    """The models as one :class:`_Stacked` network when all are dense CVAEs of one architecture and the stacked
    network computes exactly what each of them computes (checked on random inputs, member by member: two members may
    look alike and differ, e.g. in an activation); otherwise None. The network checked is the one to train."""
    layer_lists = [_dense_cvae_layers(m) for m in models]
    if any(lists is None for lists in layer_lists):
        return None
    shapes = {tuple(tuple(w.shape) for w in m.weights if w.trainable) for m in models}
    if len(shapes) != 1 or len({m.latent_dim for m in models}) != 1:
        return None
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(3, 28, 28, 1)).astype(np.float32)
    rows = np.eye(10, dtype=np.float32)[[1, 4, 7]]
    stacked = _Stacked(models, layer_lists, name="stacked")
    eps = np.zeros((len(models), 3, models[0].latent_dim), np.float32)
    z_means, z_log_vars, all_logits = (ops.convert_to_numpy(a) for a in stacked.forward(x, rows, eps))
    for k, model in enumerate(models):
        want_mean, want_log_var = (ops.convert_to_numpy(a) for a in model.encoder([x, rows], training=False))
        want_logits = ops.convert_to_numpy(model.decoder([want_mean, rows], training=False)).reshape(3, -1)
        pairs = ((z_means[k], want_mean), (z_log_vars[k], want_log_var), (all_logits[k], want_logits))
        if not all(np.allclose(a, b, rtol=1e-4, atol=1e-4) for a, b in pairs):
            return None
    return stacked


def train_together(
    models,
    x,
    *,
    epochs: int,
    batch_size: int = BATCH_SIZE,
    learning_rate: float = LEARNING_RATE,
    schedule: str = "one-cycle",
    callbacks=(),
    progress: bool = True,
    shuffle: bool = True,
) -> keras.callbacks.History:
    """Train several models of the same input side by side, as :func:`train` would train each alone.

    Every step draws one batch and updates every model on it with its own loss (see :class:`_Together`): the same
    data order, schedule and Adam updates as separate :func:`train` calls with the same seed, in one step instead
    of one per model, up to float32 rounding. Use it for a sweep (e.g. CVAEs that differ only in their KL weight).
    Dense course CVAEs of one architecture and the course's loss train as one stacked network (:class:`_Stacked`),
    traced once instead of once per model; their weights are written back into the models when training ends, so
    a callback sees their ``beta`` change (KL annealing) but not their weights change during training.

    Args:
        models: two or more models that take the same ``x`` and share no weights (a list or tuple).
        x: their common input, as for :func:`train`.
        epochs, batch_size, learning_rate, schedule, progress, shuffle: as for :func:`train`.
        callbacks: extra Keras callbacks; their ``model`` is the group, not a member (for a member's KL
            annealing, see :func:`cvae_course.recipes.train_beta_cvaes`).

    Returns the group's ``History``: ``loss`` per epoch is the sum of the models' losses.
    """
    models = list(models)
    if len(models) < 2 or not all(isinstance(m, keras.Model) for m in models):
        raise ValueError(
            f"train_together needs two or more Keras models, got {len(models)} item(s); "
            "train a single model with train()"
        )
    seen: dict[int, int] = {}
    for i, model in enumerate(models):
        for weight in model.weights:
            j = seen.setdefault(id(weight), i)
            if j != i:
                raise ValueError(
                    f"models {j} and {i} share the weight {weight.path!r}: train them one at a time "
                    "(trained together, each would also follow the other's loss)"
                )
    if not hasattr(x, "element_spec"):
        for model in models:  # each member checks the common x as train() would (the first to object says why)
            x = _course_data(model, x, "x")
    stacked = _stackable(models)
    group = _Together(models, name="together") if stacked is None else stacked
    try:
        return train(
            group,
            x,
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            schedule=schedule,
            callbacks=callbacks,
            progress=progress,
            shuffle=shuffle,
        )
    finally:  # interrupted too: the members hold what was trained so far, not their initial weights
        if stacked is not None:
            stacked.write_back()
