"""The machinery every exercise check shares: calling the learner's code, failing with a hint, spying on models.

Used by :mod:`cvae_course.checks.lesson01`, ``lesson02`` and ``lesson03``; learners never call it. A failed check
raises :class:`CheckFailed` (an ``AssertionError``) through :func:`_fail`; a passed one prints a line starting with
:data:`TICK` through :func:`_passed`. :class:`_Spy` stands in for an encoder or decoder and records what the
learner's code gives it. The names start with an underscore: they are the checks' own, not the exercises'.

:func:`friendly_errors` is the one public helper: the exercises' setup cell calls it, so that every cell of an
unfinished exercise fails with a short message (what to write first) instead of a traceback, also outside the
test cells (training and picture cells).
"""

from __future__ import annotations

import contextlib
import io
import linecache
import re
import traceback
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from cvae_course import losses, models, settings
from cvae_course._keras import keras, ops, tf
from cvae_course.validation import IMAGE_SHAPE, NUM_CLASSES

TICK = "\u2714"
_RNG_NOT_SEEDED = "same seed, different results"

# The function (or class) each task asks for: messages name the task ("task 2") next to the name. Each lesson's
# module declares its own (``TASKS`` in lesson01.py ...); the package adds them here with :func:`add_tasks`.
TASKS: dict[str, str] = {}
_AMBIGUOUS: set[str] = set()


def add_tasks(tasks: dict[str, str]) -> None:
    """Add a lesson's ``{function name: "task N"}``. A name two lessons number differently gets no number (a
    message then names the function alone rather than the wrong task)."""
    for name, task in tasks.items():
        if name in _AMBIGUOUS or TASKS.get(name, task) != task:
            TASKS.pop(name, None)
            _AMBIGUOUS.add(name)
        else:
            TASKS[name] = task


# What Keras says when binary_crossentropy(..., from_logits=True) is given the output of a sigmoid: it then uses
# the logits behind that sigmoid, so the numbers come out right although the code applies the sigmoid twice.
_KERAS_DOUBLE_SIGMOID = "produced by a Sigmoid activation"


# ------------------------------------------------------------------------------------ plumbing
def _passed(message: str) -> None:
    print(f"{TICK} {message}")


class CheckFailed(AssertionError):
    """A failed check. In a notebook it shows as its message and hint alone: the traceback would only point
    into this module, which is not where the learner's mistake is. (Errors raised by the learner's own code
    are not wrapped and keep their full traceback.)"""

    def _render_traceback_(self) -> list[str]:  # IPython uses this instead of a traceback
        return [_strong("Check failed:") + f" {self}"]


def _strong(text: str) -> str:
    # Bold in the theme's own text colour: bold ANSI red on JupyterLab's dark error background was about 2:1
    # contrast; the theme's text colour on its own error background is readable in the light and the dark theme.
    return f"\x1b[1m{text}\x1b[0m"


def _some(values, decimals: int = 2, n: int = 3) -> str:
    """The first ``n`` of ``values`` (any shape, flattened) to ``decimals`` places, with "..." when there are more:
    "[1.37 1.40 1.35 ...]" for four values, so that a message never looks like it shows them all."""
    flat = np.asarray(values, dtype=np.float64).ravel()
    shown = " ".join(f"{v:.{decimals}f}" for v in flat[:n])
    return f"[{shown}{' ...' if flat.size > n else ''}]"


def _fail(what: str, hint: str | None = None) -> None:
    # "from None": the learner sees this message, not the check's internal exception chain.
    __tracebackhide__ = True  # and pytest hides this frame too
    raise CheckFailed(what + (f"\nHint: {hint}" if hint else "")) from None


def _task(name: str) -> str:
    """``name`` with its task number when it is one of the exercises' tasks: "kl_divergence (task 2)"."""
    return f"{name} ({TASKS[name]})" if name in TASKS else name


def _name_of(fn: Any) -> str:
    return getattr(fn, "__name__", None) or type(fn).__name__


@contextlib.contextmanager
def _quiet():
    """Keep Keras's and NumPy's warnings off stderr while a learner's code runs (nbgrader scores a test cell that
    writes to stderr 0). The warnings are recorded, not dropped: the list it yields holds them, and
    :func:`_call` reads it (Keras's warning about a sigmoid given to a from_logits loss reveals a double sigmoid)."""
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        yield caught


def _check_double_sigmoid(caught: list, label: str) -> None:
    __tracebackhide__ = True
    if any(_KERAS_DOUBLE_SIGMOID in str(w.message) for w in caught):
        _fail(
            f"{label} gave binary_crossentropy(..., from_logits=True) the output of a sigmoid: the sigmoid is "
            'applied twice. Keras noticed, warned ("...produced by a Sigmoid activation and thus does not '
            'represent logits") and used the logits behind your sigmoid, so the numbers look right here; '
            "any other loss code would be wrong.",
            "pass the logits themselves: with from_logits=True the loss applies the sigmoid for you.",
        )


def _call(fn: Callable, label: str, *args, **kwargs):
    """Call the learner's code: a NotImplementedError becomes a clear 'not written yet', a result of None a
    forgotten ``return``, Keras's double-sigmoid warning a failure that says so."""
    __tracebackhide__ = True
    try:
        with _quiet() as caught:
            result = fn(*args, **kwargs)
    except NotImplementedError as err:
        name = _unwritten_name(err.__traceback__) or (None if str(err) else _name_of(fn))
        if name is None:  # raised by a library (e.g. TensorFlow), with its own message: an error like any other
            err.add_note(f"(raised while the check ran {label})")
            raise
        _fail(
            f"{_task(name)} is not written yet.",
            "replace `raise NotImplementedError()` with your code, run its cell, then rerun this one.",
        )
    except Exception as err:  # keep the learner's own traceback, add what the check was doing
        err.add_note(f"(raised while the check ran {label})")
        raise
    _check_double_sigmoid(caught, label)
    if result is None:
        _fail(
            f"{label} returned None: did you forget `return`?",
            "end the function with `return ...` (a function without one gives None).",
        )
    return result


def _numpy(value: Any, label: str) -> np.ndarray:
    """A learner's result (NumPy, tensor, number) as a float64 NumPy array."""
    __tracebackhide__ = True
    if value is None:
        _fail(f"{label} returned None: did you forget `return`?")
    if isinstance(value, (list, tuple)) and value and not np.isscalar(value[0]):
        _fail(f"{label} returned a {type(value).__name__} of {len(value)} items; expected a single array.")
    try:
        return np.asarray(ops.convert_to_numpy(value), dtype=np.float64)
    except Exception:
        _fail(
            f"{label} returned {type(value).__name__}, which is not an array of numbers.",
            "return a NumPy array or a tensor (keras.ops results are tensors).",
        )


def _loss_and_kl(history) -> tuple[list, list]:
    """Per-epoch ``loss`` and ``kl`` of a training history (``kl`` NaN if not logged); fails on an empty one."""
    __tracebackhide__ = True
    logs = history.history
    if not logs.get("loss"):
        _fail("the training history is empty.", "run the training cell above first.")
    return logs["loss"], logs.get("kl", [float("nan")])


def _close(a: np.ndarray, b: np.ndarray, rtol: float = 1e-3, atol: float = 1e-3) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=atol))


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _random_images(n: int, seed: int) -> np.ndarray:
    """Images in [0, 1]: half of the pixels exactly 0 or 1 (like MNIST), the rest grey."""
    rng = _rng(seed)
    x = rng.uniform(0.0, 1.0, size=(n, *IMAGE_SHAPE)).astype(np.float32)
    return np.where(rng.uniform(size=x.shape) < 0.5, np.round(x), x).astype(np.float32)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _last_line(message) -> str:
    """What an error says, without TensorFlow's "in user code:" preamble or Keras's list of the arguments a
    layer received: the last line that says something."""
    text = _ANSI.sub("", str(message)).split("Arguments received by")[0]
    lines = [
        ln.strip()
        for ln in text.splitlines()
        if ln.strip() and not ln.strip().startswith(("Exception encountered when calling", "in user code:"))
    ]
    return lines[-1] if lines else ""


def _graph_mode(fn: Callable, label: str, *args) -> None:
    """Run ``fn`` inside a tf.function whose batch size is unknown, as Keras traces it during training."""
    __tracebackhide__ = True
    specs = [tf.TensorSpec((None, *np.shape(a)[1:]), tf.float32) for a in args]
    try:
        with _quiet():
            tf.function(lambda *a: fn(*a), input_signature=specs)(*[tf.constant(a) for a in args])
    except Exception as err:  # NotImplementedError too: TensorFlow raises it for np.asarray(symbolic tensor)
        said = _last_line(err) or type(err).__name__
        if re.search(r"NoneType|None values|partially known|\bNone\b(?!,)", said):  # not just "shape=(None, 2)"
            hint = (
                "while Keras traces a training step it does not know the batch size yet: there a tensor's "
                ".shape[0] is None. Use ops.shape(x) (e.g. ops.shape(x)[0]), or average with ops.mean, "
                "instead of x.shape."
            )
        else:
            hint = "use keras.ops (ops.sum, ops.exp, ops.square, ops.mean ...) instead of NumPy functions."
        _fail(
            f"{label} works on NumPy arrays but fails on the symbolic tensors Keras uses while training "
            f"({type(err).__name__}: {said}).",
            hint,
        )


@contextlib.contextmanager
def _course_versions(fn: Callable, **references: Callable):
    """Run the learner's ``fn`` with the course's version of the functions it builds on (by name, in the
    notebook's namespace): a mistake in an earlier task then costs that task only, not this one too."""
    namespace = getattr(fn, "__globals__", None)
    saved, added = {}, []
    if isinstance(namespace, dict):
        for name, reference in references.items():
            if name in namespace:
                saved[name] = namespace[name]
            else:  # the earlier task's cell failed before defining it (e.g. a SyntaxError): the course's version too
                added.append(name)
            namespace[name] = reference
    try:
        yield
    finally:
        for name, original in saved.items():
            namespace[name] = original
        for name in added:
            namespace.pop(name, None)


def _requires(check: Callable, fn: Callable, name: str, why: str) -> None:
    """Fail at once, naming the task, when ``fn`` (an earlier task this one builds on) does not pass ``check``."""
    __tracebackhide__ = True
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            check(fn)
            return
        except CheckFailed as failed:
            said = " ".join(str(failed).split())
        except Exception as err:
            said = f"{type(err).__name__}: {_last_line(err)}"
    _fail(
        f"{why}, and your {_task(name)} does not pass its check yet: fix it first, then rerun the cells "
        f"from there. (Its check says: {said})"
    )


def _is_model(obj: Any) -> bool:
    return isinstance(obj, keras.Model)


def _input_shapes(model: keras.Model) -> list[tuple]:
    return [tuple(t.shape[1:]) for t in model.inputs]


# ------------------------------------------------------------------------------------ friendly errors
def _in_cell(filename: str) -> bool:
    """Is this the file name IPython gives a notebook cell's code?"""
    return bool(re.search(r"ipykernel_\d+|<ipython-input-", filename or ""))


_STUB = re.compile(r"raise NotImplementedError(\(\))?\s*(#.*)?$")  # nbgrader's stub, not an error with a message


def _unwritten_name(tb) -> str | None:
    """The name of the learner's function whose stub (``raise NotImplementedError()``) raised, if one did."""
    for frame, lineno in reversed(list(traceback.walk_tb(tb))):
        line = linecache.getline(frame.f_code.co_filename, lineno).strip()
        if _STUB.match(line):
            owner = frame.f_locals.get("self")
            if owner is not None and frame.f_code.co_name in {"call", "__call__", "__init__"}:
                return type(owner).__name__
            return frame.f_code.co_name
    return None


_USER_CODE_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<name>[\w.<>]+)')


def _user_code(message: str) -> tuple[str, str]:
    """From TensorFlow's "in user code:" report: (the innermost function of the learner's, what went wrong)."""
    frames = [m for m in _USER_CODE_FRAME.finditer(message)]
    mine = [m for m in frames if _in_cell(m.group("file"))] or frames
    return (mine[-1].group("name") if mine else ""), _last_line(message)


def _explain(etype: type, value: BaseException, tb) -> str | None:
    """A short message for an error an unfinished exercise raises, or None to show the usual traceback."""
    message = str(value)
    if message.startswith("in user code:"):  # raised while Keras traced a training step
        where, said = _user_code(message)
        if issubclass(etype, NotImplementedError) and where and "raise NotImplementedError()" in message:
            return _not_written(where)
        return (
            (
                f"{said}\n(raised in {where} while Keras trained the model: run that function's test cell above "
                "to see what to fix)"
            )
            if where
            else said
        )
    if issubclass(etype, NotImplementedError):
        name = _unwritten_name(tb)
        return _not_written(name) if name else None
    if issubclass(etype, NameError):
        frame, lineno = list(traceback.walk_tb(tb))[-1]
        if frame.f_code.co_name.startswith("<") and _in_cell(frame.f_code.co_filename):  # <module>, <listcomp>
            name = getattr(value, "name", None) or message
            return (
                f"`{name}` does not exist yet (line {lineno} of this cell). A cell above makes it but has not "
                "run, or stopped with an error: run the notebook from the top (Run > Run All Cells) and fix "
                f"the first cell that fails. If you typed `{name}` yourself, check its spelling."
            )
    return None


def _not_written(name: str) -> str:
    return (
        f"{_task(name)} is not written yet: replace `raise NotImplementedError()` in its cell with your "
        "code and run that cell, then run this one again."
    )


def _show_friendly(shell, etype, value, tb, tb_offset=None):
    """IPython's custom exception handler: the short message when there is one, else the usual traceback."""
    try:
        text = _explain(etype, value, tb)
    except Exception:  # never let the explanation hide the error itself
        text = None
    if hasattr(value, "_render_traceback_"):
        stb = value._render_traceback_()
    elif text is not None:
        stb = [_strong("Check failed:") + f" {text}"]
    else:
        stb = shell.InteractiveTB.structured_traceback(etype, value, tb, tb_offset=tb_offset)
    shell._showtraceback(etype, value, stb)  # the error message a notebook shows (ename and evalue unchanged)


def friendly_errors() -> None:
    """Show the errors of an unfinished exercise as one short message each, not as tracebacks.

    Called by the exercises' setup cell. In IPython (Jupyter), a ``NotImplementedError`` from a task not written
    yet names the task, a ``NameError`` for something an earlier cell failed to make says to fix that cell first,
    and an error TensorFlow reports "in user code" while training shows its last line and the function it came
    from. The error itself is unchanged (a notebook still counts the cell as failed); everything else keeps its
    usual traceback. Outside IPython this does nothing.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        shell.set_custom_exc((NotImplementedError, NameError, ValueError, TypeError), _show_friendly)


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
            _fail(
                "the model was called with a mix of NumPy arrays and tensors; a Keras model refuses that.",
                "make every input a tensor (ops.one_hot(...), ops.convert_to_tensor(images)) or every input "
                "a NumPy array (data.one_hot(...), ops.convert_to_numpy(z)).",
            )
        expected = len(self.model.inputs)
        if len(parts) != expected:
            names = ", ".join(t.name for t in self.model.inputs)
            _fail(
                f"the model was called with {len(parts)} input(s); it takes {expected}: [{names}].",
                "pass a list, e.g. decoder([z, labels_one_hot]).",
            )
        for part, t in zip(parts, self.model.inputs):
            if tuple(part.shape[1:]) != tuple(t.shape[1:]):
                hint = (
                    "labels go in as one-hot rows: ops.one_hot(labels, 10) or data.one_hot(labels)."
                    if t.shape[-1] == NUM_CLASSES
                    else None
                )
                _fail(
                    f"the model's input '{t.name}' got shape {part.shape}; expected (n, "
                    f"{', '.join(str(d) for d in t.shape[1:])}).",
                    hint,
                )
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
        _fail(
            f"{name}({latent_dim}) returned {type(model).__name__}; expected a keras.Model.",
            "finish with `return keras.Model(inputs, outputs)` (or a keras.Sequential).",
        )
    if not model.built or not model.inputs:
        _fail(
            f"{name}({latent_dim}) returned a model that does not know its input shape.",
            "start from `keras.Input(shape=...)` so that the model is built.",
        )
    return model


def _reference_reconstruction(x: np.ndarray, logits: np.ndarray) -> np.ndarray:
    return ops.convert_to_numpy(losses.reconstruction_loss(ops.convert_to_tensor(x), ops.convert_to_tensor(logits)))


def _reference_decoder(latent_dim: int, seed: int, conditional: bool = False) -> keras.Model:
    settings.seed_everything(seed)
    return models.build_decoder(latent_dim, conditional=conditional, hidden=(32,))


def _check_images(got: np.ndarray, logits: np.ndarray, n: int, label: str) -> None:
    __tracebackhide__ = True
    if got.shape in {(n, 784), (n, 28, 28)}:
        _fail(
            f"{label} returned shape {got.shape}; expected (n, 28, 28, 1) = ({n}, 28, 28, 1).",
            "return the decoder's output shape unchanged.",
        )
    if got.shape != (n, *IMAGE_SHAPE):
        _fail(f"{label} returned shape {got.shape}; expected ({n}, 28, 28, 1).")
    probs = models.sigmoid(logits)
    if _close(got, logits, atol=1e-4):
        _fail(
            f"{label} returned logits (values from {got.min():.1f} to {got.max():.1f}); expected pixel "
            "probabilities in [0, 1].",
            "the decoder returns logits: apply keras.ops.sigmoid to them.",
        )
    if not _close(got, probs, atol=1e-4):
        _fail(
            f"{label} returned images that are not sigmoid(decoder(...)) of the codes it decoded.",
            "return keras.ops.sigmoid(decoder(...)) for the codes you drew, without other changes.",
        )


def _squared_errors(x: np.ndarray, logits: np.ndarray) -> list[np.ndarray]:
    """Per-image squared errors a learner may write instead of the cross-entropy (MSE and its relatives)."""
    probs = models.sigmoid(logits).astype(np.float64)
    axes = tuple(range(1, x.ndim))
    out = []
    for target in (probs, logits.astype(np.float64)):
        squared = np.square(x - target)
        out += [np.sum(squared, axis=axes), np.mean(squared, axis=axes)]
    return out


def _is_squared_error(got: np.ndarray, x: np.ndarray, logits: np.ndarray, batch_mean: bool = False) -> bool:
    return any(
        _close(got, np.asarray(v.mean()) if batch_mean else v, rtol=1e-3, atol=1e-4) for v in _squared_errors(x, logits)
    )


_MSE_HINT = (
    "that is a squared error (MSE), the loss for real-valued pixels. Here each pixel is a coin flip "
    "with probability sigmoid(logit): its cost is the binary cross-entropy, "
    "ops.binary_crossentropy(x, logits, from_logits=True), summed over the pixels."
)


def _check_prior_codes(z: np.ndarray, n: int, latent_dim: int, label: str) -> None:
    __tracebackhide__ = True
    if z.shape != (n, latent_dim):
        _fail(
            f"{label} passed codes of shape {z.shape} to the decoder; expected ({n}, {latent_dim}).",
            "draw one code of latent_dim numbers per image.",
        )
    if np.allclose(z, 0.0):
        _fail(f"{label} decoded only zero codes.", "draw the codes from the prior N(0, I): keras.random.normal.")
    if n >= 500 and (abs(z.mean()) > 0.15 or not 0.85 < z.std() < 1.15):
        _fail(
            f"{label}: the codes have mean {z.mean():.2f} and spread {z.std():.2f}; the prior N(0, I) has 0 and 1.",
            "use keras.random.normal((n, latent_dim), seed=seed) (standard normal, not uniform).",
        )
