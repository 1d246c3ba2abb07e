"""The machinery every exercise check shares: calling the learner's code, failing with a hint, spying on models.

Used by :mod:`cvae_course.checks.lesson01`, ``lesson02`` and ``lesson03``; learners never call it. A failed check
raises :class:`CheckFailed` (an ``AssertionError``) through :func:`_fail`; a passed one prints a line starting with
:data:`TICK` through :func:`_passed`. :class:`_Spy` stands in for an encoder or decoder and records what the
learner's code gives it. The names start with an underscore: they are the checks' own, not the exercises'.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Any, Callable

import numpy as np

from cvae_course import losses, models, settings
from cvae_course._keras import keras, ops, tf
from cvae_course.validation import IMAGE_SHAPE, NUM_CLASSES

TICK = "\u2714"
_RNG_NOT_SEEDED = "same seed, different results"


# ------------------------------------------------------------------------------------ plumbing
def _passed(message: str) -> None:
    print(f"{TICK} {message}")


class CheckFailed(AssertionError):
    """A failed check. In a notebook it shows as its message and hint alone: the traceback would only point
    into this module, which is not where the learner's mistake is. (Errors raised by the learner's own code
    are not wrapped and keep their full traceback.)"""

    def _render_traceback_(self) -> list[str]:  # IPython uses this instead of a traceback
        return [f"\x1b[1;31mCheck failed:\x1b[0m {self}"]


def _fail(what: str, hint: str | None = None) -> None:
    # "from None": the learner sees this message, not the check's internal exception chain.
    __tracebackhide__ = True  # and pytest hides this frame too
    raise CheckFailed(what + (f"\nHint: {hint}" if hint else "")) from None


@contextlib.contextmanager
def _quiet():
    """Keep Keras's and NumPy's warnings off stderr while a learner's code runs (nbgrader counts stderr)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


def _call(fn: Callable, label: str, *args, **kwargs):
    """Call the learner's code; a NotImplementedError becomes a clear 'not written yet'."""
    __tracebackhide__ = True
    try:
        with _quiet():
            return fn(*args, **kwargs)
    except NotImplementedError:
        _fail(f"{label} is not written yet.", "replace `raise NotImplementedError()` with your code, then rerun.")
    except Exception as err:  # keep the learner's own traceback, add what the check was doing
        err.add_note(f"(raised while the check ran {label})")
        raise


def _numpy(value: Any, label: str) -> np.ndarray:
    """A learner's result (NumPy, tensor, number) as a float64 NumPy array."""
    __tracebackhide__ = True
    if isinstance(value, (list, tuple)) and value and not np.isscalar(value[0]):
        _fail(f"{label} returned a {type(value).__name__} of {len(value)} items; expected a single array.")
    try:
        return np.asarray(ops.convert_to_numpy(value), dtype=np.float64)
    except Exception:
        _fail(f"{label} returned {type(value).__name__}, which is not an array of numbers.",
              "return a NumPy array or a tensor (keras.ops results are tensors).")


def _close(a: np.ndarray, b: np.ndarray, rtol: float = 1e-3, atol: float = 1e-3) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=atol))


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _random_images(n: int, seed: int) -> np.ndarray:
    """Images in [0, 1]: half of the pixels exactly 0 or 1 (like MNIST), the rest grey."""
    rng = _rng(seed)
    x = rng.uniform(0.0, 1.0, size=(n, *IMAGE_SHAPE)).astype(np.float32)
    return np.where(rng.uniform(size=x.shape) < 0.5, np.round(x), x).astype(np.float32)


def _graph_mode(fn: Callable, label: str, *args) -> None:
    """Run ``fn`` inside a tf.function, as Keras does during training."""
    __tracebackhide__ = True
    try:
        with _quiet():
            tf.function(lambda *a: fn(*a))(*[tf.constant(a) for a in args])
    except Exception as err:  # NotImplementedError too: TensorFlow raises it for np.asarray(symbolic tensor)
        _fail(f"{label} works on NumPy arrays but fails on the symbolic tensors Keras uses while training "
              f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}).",
              "use keras.ops (ops.sum, ops.exp, ops.square, ops.mean ...) instead of NumPy functions.")


def _is_model(obj: Any) -> bool:
    return isinstance(obj, keras.Model)


def _input_shapes(model: keras.Model) -> list[tuple]:
    return [tuple(t.shape[1:]) for t in model.inputs]


# ------------------------------------------------------------------------------------ spying on models
class _Spy:
    """Stands in for an encoder or decoder: records what it is given, answers like a reference model."""

    def __init__(self, model: keras.Model):
        self.model = model
        self.calls: list[list[np.ndarray]] = []

    def _record(self, inputs):
        parts = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        self.calls.append([np.asarray(ops.convert_to_numpy(p), dtype=np.float32) for p in parts])
        return self.calls[-1]

    def _run(self, parts, raw):
        kinds = {isinstance(p, np.ndarray) for p in raw}
        if len(kinds) > 1:
            _fail("the model was called with a mix of NumPy arrays and tensors; a Keras model refuses that.",
                  "make every input a tensor (ops.one_hot(...), ops.convert_to_tensor(images)) or every input "
                  "a NumPy array (data.one_hot(...), ops.convert_to_numpy(z)).")
        expected = len(self.model.inputs)
        if len(parts) != expected:
            names = ", ".join(t.name for t in self.model.inputs)
            _fail(f"the model was called with {len(parts)} input(s); it takes {expected}: [{names}].",
                  "pass a list, e.g. decoder([z, labels_one_hot]).")
        for part, t in zip(parts, self.model.inputs):
            if tuple(part.shape[1:]) != tuple(t.shape[1:]):
                hint = ("labels go in as one-hot rows: ops.one_hot(labels, 10) or data.one_hot(labels)."
                        if t.shape[-1] == NUM_CLASSES else None)
                _fail(f"the model's input '{t.name}' got shape {part.shape}; expected (n, "
                      f"{', '.join(str(d) for d in t.shape[1:])}).", hint)
        return self.model(parts if len(parts) > 1 else parts[0], training=False)

    def __call__(self, inputs, training=False):
        raw = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        return self._run(self._record(inputs), raw)

    def predict(self, inputs, verbose=0, **kwargs):
        out = self._run(self._record(inputs), [])
        return [ops.convert_to_numpy(o) for o in out] if isinstance(out, (list, tuple)) else ops.convert_to_numpy(out)


def _decoded_calls(spy: _Spy, label: str) -> tuple[np.ndarray, ...]:
    __tracebackhide__ = True
    if not spy.calls:
        _fail(f"{label} never called the decoder.", "decode the codes with decoder(...) or decoder.predict(...).")
    return tuple(np.concatenate([c[i] for c in spy.calls]) for i in range(len(spy.calls[0])))


# ------------------------------------------------------------------------------------ shared by the lessons
def _check_built_model(build: Callable, name: str, latent_dim: int) -> keras.Model:
    __tracebackhide__ = True
    model = _call(build, f"{name}({latent_dim})", latent_dim)
    if not _is_model(model):
        _fail(f"{name}({latent_dim}) returned {type(model).__name__}; expected a keras.Model.",
              "finish with `return keras.Model(inputs, outputs)` (or a keras.Sequential).")
    if not model.built or not model.inputs:
        _fail(f"{name}({latent_dim}) returned a model that does not know its input shape.",
              "start from `keras.Input(shape=...)` so that the model is built.")
    return model


def _reference_reconstruction(x: np.ndarray, logits: np.ndarray) -> np.ndarray:
    return ops.convert_to_numpy(losses.reconstruction_loss(ops.convert_to_tensor(x), ops.convert_to_tensor(logits)))


def _reference_decoder(latent_dim: int, seed: int, conditional: bool = False) -> keras.Model:
    settings.seed_everything(seed)
    return models.build_decoder(latent_dim, conditional=conditional, hidden=(32,))


def _check_images(got: np.ndarray, logits: np.ndarray, n: int, label: str) -> None:
    __tracebackhide__ = True
    if got.shape in {(n, 784), (n, 28, 28)}:
        _fail(f"{label} returned shape {got.shape}; expected (n, 28, 28, 1) = ({n}, 28, 28, 1).",
              "return the decoder's output shape unchanged.")
    if got.shape != (n, *IMAGE_SHAPE):
        _fail(f"{label} returned shape {got.shape}; expected ({n}, 28, 28, 1).")
    probs = models.sigmoid(logits)
    if _close(got, logits, atol=1e-4):
        _fail(f"{label} returned logits (values from {got.min():.1f} to {got.max():.1f}); expected pixel "
              "probabilities in [0, 1].", "the decoder returns logits: apply keras.ops.sigmoid to them.")
    if not _close(got, probs, atol=1e-4):
        _fail(f"{label} returned images that are not sigmoid(decoder(...)) of the codes it decoded.",
              "return keras.ops.sigmoid(decoder(...)) for the codes you drew, without other changes.")


def _check_prior_codes(z: np.ndarray, n: int, latent_dim: int, label: str) -> None:
    __tracebackhide__ = True
    if z.shape != (n, latent_dim):
        _fail(f"{label} passed codes of shape {z.shape} to the decoder; expected ({n}, {latent_dim}).",
              "draw one code of latent_dim numbers per image.")
    if np.allclose(z, 0.0):
        _fail(f"{label} decoded only zero codes.", "draw the codes from the prior N(0, I): keras.random.normal.")
    if n >= 500 and (abs(z.mean()) > 0.15 or not 0.85 < z.std() < 1.15):
        _fail(f"{label}: the codes have mean {z.mean():.2f} and spread {z.std():.2f}; the prior N(0, I) has 0 and 1.",
              "use keras.random.normal((n, latent_dim), seed=seed) (standard normal, not uniform).")
