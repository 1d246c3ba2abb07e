"""The playground's generator and interpolation path, decoded in the browser (anywidget).

Every update of a kernel-decoded panel pays JupyterLab's widget round trip (input event -> kernel -> PNG -> page),
tens of milliseconds whatever the kernel does. The course's dense CVAE decoder is small (2 + 10 inputs -> 256 ->
512 -> 784, about 540,000 weights, 2.1 MB as float32), so the page can run it itself: these panels send the trained
decoder's weights to the page once, as float32 binary buffers, and the ES module ``static/decoder.js`` runs the
dense forward pass and the sigmoid on every input event and draws the picture into a canvas. No kernel message is
needed to see a new picture.

* :class:`DecoderWeights`: the weights of one decoder, one widget model per Keras model (shared by every panel of
  that model, so the 2.1 MB travel once). Made by :func:`decoder_weights`.
* :class:`BrowserGenerator`: digit buttons, a clickable (and keyboard) 2-D latent map, z sliders, temperature,
  "new random style", nearest-neighbour or smooth scaling.
* :class:`BrowserInterpolation`: the straight path between two (digit, style) end points with soft labels, a
  slider for t and the whole path as a strip with a marker at t.

Python stays the source of truth about the model: ``z``, ``label`` (10 probabilities, soft on the interpolation
path) and ``temperature`` are traitlets that follow the browser (synced once the learner rests for ``sync_ms``
milliseconds, and at once when a drag ends or a button is clicked: a message while the pointer moves would cost the
page frames), and :meth:`BrowserGenerator.decode_current` returns what
``model.generate`` draws for them. Only dense decoders can run in the page; a conv decoder is refused with a
ValueError (keep the kernel-decoded panels for it).
"""

from __future__ import annotations

import pathlib
import weakref
from collections.abc import Sequence

import anywidget  # noqa: E402, I001  (after cvae_course.models: TensorFlow is imported quietly first)
import ipywidgets  # noqa: E402
import numpy as np
import traitlets  # noqa: E402

from cvae_course.models import CVAE, sigmoid
from cvae_course.playground.pages import page_module
from cvae_course.playground.panels import MAX_SLIDERS, TEMPERATURE_RANGE, Z_LIMIT, Z_STEP
from cvae_course.validation import NUM_CLASSES, check_digit, check_in_range, check_model, check_positive_int

__all__ = [
    "BrowserGenerator",
    "BrowserInterpolation",
    "DecoderWeights",
    "decoder_weights",
    "forward",
    "pack_decoder",
    "runs_in_browser",
]

STATIC = pathlib.Path(__file__).resolve().parent / "static"
ESM = STATIC / "decoder.js"
CSS = STATIC / "playground.css"

ACTIVATIONS = ("relu", "linear")  # what decoder.js implements
PACK_TOLERANCE = 1e-4  # packed forward pass vs Keras on probe inputs: float32 noise is ~1e-6
SYNC_MS = 100  # browser -> kernel: one state message once the learner rests for 100 ms (and when a drag ends)
_HINT = (
    "Only a dense CVAE decoder (Dense layers with relu or no activation) can run in the browser: keep the "
    "kernel-decoded panels of cvae_course.playground.panels for this model, or build one with "
    "cvae_course.models.build_cvae(latent_dim, kind='dense')."
)


# --------------------------------------------------------------------------------------------- packing
def pack_decoder(model: CVAE) -> tuple[dict, bytes]:
    """The CVAE's decoder as (layout, float32 bytes) for ``decoder.js``; ValueError if the page cannot run it.

    The decoder must be ``[z (latent_dim), one-hot label (10)] -> Concatenate -> Dense ... -> Dense (28 * 28)
    -> Reshape (28, 28, 1)`` with relu or linear activations. Each Dense layer is stored as its kernel W
    (n_in, n_out, row-major, so ``x @ W``) then its bias (n_out); ``layout["layers"][k]`` gives the float offsets
    ``w`` and ``b``, the sizes ``n_in`` and ``n_out`` and the ``activation``. The packed network is checked
    against the Keras decoder on random inputs before it is returned (max |logit difference| <= 1e-4).
    """
    check_model(model, CVAE, kind="trained CVAE", hint="The browser decoder draws a conditional VAE's digits.")
    decoder = model.decoder
    names = [type(layer).__name__ for layer in decoder.layers]
    conv = [n for n in names if n.startswith("Conv")]
    if conv:
        raise ValueError(
            f"this CVAE has a convolutional decoder ({', '.join(sorted(set(conv)))}) and the browser "
            f"decoder runs only dense ones. {_HINT}"
        )
    unknown = sorted({n for n in names if n not in ("InputLayer", "Concatenate", "Dense", "Reshape")})
    if unknown:
        raise ValueError(f"the decoder has layers the browser decoder cannot run: {', '.join(unknown)}. {_HINT}")
    if len(decoder.inputs) != 2 or int(decoder.inputs[1].shape[-1]) != NUM_CLASSES:
        raise ValueError(
            f"the decoder must take [z, one-hot label of {NUM_CLASSES}] as inputs, got "
            f"{len(decoder.inputs)} input(s). {_HINT}"
        )
    if tuple(decoder.outputs[0].shape[1:]) != (28, 28, 1):
        raise ValueError(f"the decoder must return (28, 28, 1) logits, got {tuple(decoder.outputs[0].shape[1:])}")
    layers, chunks, offset = [], [], 0
    n_in = model.latent_dim + NUM_CLASSES
    for layer in (layer for layer in decoder.layers if type(layer).__name__ == "Dense"):
        activation = getattr(layer.activation, "__name__", str(layer.activation))
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"Dense layer {layer.name!r} uses activation {activation!r}; the browser decoder "
                f"implements {' and '.join(ACTIVATIONS)}. {_HINT}"
            )
        kernel = np.asarray(layer.kernel.numpy(), dtype=np.float32)
        bias = (
            np.asarray(layer.bias.numpy(), dtype=np.float32)
            if layer.use_bias
            else np.zeros(kernel.shape[1], np.float32)
        )
        if kernel.shape[0] != n_in:
            raise ValueError(
                f"Dense layer {layer.name!r} takes {kernel.shape[0]} inputs where {n_in} were expected: "
                f"the decoder is not a plain chain of Dense layers. {_HINT}"
            )
        layers.append(
            {
                "name": layer.name,
                "n_in": int(kernel.shape[0]),
                "n_out": int(kernel.shape[1]),
                "activation": activation,
                "w": offset,
                "b": offset + kernel.size,
            }
        )
        chunks += [kernel.ravel(), bias]
        offset += kernel.size + bias.size
        n_in = kernel.shape[1]
    if not layers or n_in != 28 * 28 or layers[-1]["activation"] != "linear":
        raise ValueError(f"the decoder's last Dense layer must give 784 logits with no activation. {_HINT}")
    layout = {"latent_dim": model.latent_dim, "num_labels": NUM_CLASSES, "layers": layers, "floats": offset}
    weights = np.concatenate(chunks).astype("<f4").tobytes()
    _check_packing(model, layout, weights)
    return layout, weights


def runs_in_browser(model: CVAE) -> bool:
    """Whether the page can run this CVAE's decoder (a plain chain of dense layers with relu or no activation)."""
    try:
        pack_decoder(model)
    except ValueError:
        return False
    return True


def forward(layout: dict, weights: bytes, z, labels, temperature: float = 1.0) -> np.ndarray:
    """What ``decoder.js`` computes, in NumPy: pixel probabilities (N, 28, 28, 1) for codes (N, latent_dim),
    label vectors (N, 10) (one-hot or soft) and a temperature that scales the codes before decoding."""
    z = np.asarray(z, dtype=np.float64).reshape(-1, layout["latent_dim"])
    y = np.asarray(labels, dtype=np.float64).reshape(-1, layout["num_labels"])
    logits = _logits(layout, weights, np.concatenate([temperature * z, y], axis=1))
    return sigmoid(logits).reshape(-1, 28, 28, 1)


def _logits(layout: dict, weights: bytes, x: np.ndarray) -> np.ndarray:
    """The packed dense chain on inputs x (N, latent_dim + 10), in float64: (N, 784) logits."""
    floats = np.frombuffer(weights, dtype="<f4").astype(np.float64)
    h = np.asarray(x, dtype=np.float64)
    for layer in layout["layers"]:
        w = floats[layer["w"] : layer["w"] + layer["n_in"] * layer["n_out"]].reshape(layer["n_in"], layer["n_out"])
        h = h @ w + floats[layer["b"] : layer["b"] + layer["n_out"]]
        if layer["activation"] == "relu":
            h = np.maximum(h, 0.0)
    return h


def _check_packing(model: CVAE, layout: dict, weights: bytes) -> None:
    """Refuse a decoder whose graph is not the chain the layout describes (a skip connection, a custom op ...)."""
    rng = np.random.default_rng(0)
    z = rng.uniform(-Z_LIMIT, Z_LIMIT, size=(16, model.latent_dim)).astype(np.float32)
    y = np.eye(NUM_CLASSES, dtype=np.float32)[rng.integers(NUM_CLASSES, size=16)]
    y[:4] = rng.dirichlet(np.ones(NUM_CLASSES), size=4)  # soft labels too
    keras_logits = np.asarray(model.decoder([z, y], training=False)).reshape(16, -1)
    worst = float(np.max(np.abs(_logits(layout, weights, np.concatenate([z, y], axis=1)) - keras_logits)))
    if not worst <= PACK_TOLERANCE * max(1.0, float(np.max(np.abs(keras_logits)))):
        raise ValueError(
            f"the decoder's layers, run one after the other, differ from the decoder itself by up to "
            f"{worst:.3g} in the logits: it is not a plain chain of Dense layers. {_HINT}"
        )


# --------------------------------------------------------------------------------------------- widgets
class DecoderWeights(anywidget.AnyWidget):
    """The packed weights of one CVAE decoder in the page: a widget model without a view, shared by the panels."""

    _esm = "export default {};"
    spec = traitlets.Dict().tag(sync=True)  # pack_decoder's layout: sizes, activations, float offsets
    weights = traitlets.Bytes().tag(sync=True)  # float32 little-endian, sent once as a binary buffer


_WEIGHTS: weakref.WeakKeyDictionary[CVAE, DecoderWeights] = weakref.WeakKeyDictionary()


def decoder_weights(model: CVAE) -> DecoderWeights:
    """The :class:`DecoderWeights` of ``model``: packed and sent once, then reused by every panel of that model.

    Re-packed if the model's weights changed since (e.g. after more training)."""
    layout, weights = pack_decoder(model)
    cached = _WEIGHTS.get(model)
    if cached is not None and cached.weights == weights and cached.comm is not None:
        return cached
    widget = DecoderWeights(spec=layout, weights=weights)
    _WEIGHTS[model] = widget
    return widget


def _check_code(values, latent_dim: int, name: str) -> list[float]:
    """One code of ``latent_dim`` finite values in [-3, 3], returned as Python floats *unchanged*: a validator that
    rounded (e.g. to float32) would make ipywidgets send the rounded value back to the page on every sync."""
    try:
        z = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be {latent_dim} numbers, got {values!r}") from err
    if z.shape != (latent_dim,):
        raise ValueError(f"{name} must hold {latent_dim} values (one per latent dimension), got shape {z.shape}")
    if not np.all(np.isfinite(z)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    bad = np.flatnonzero(np.abs(z) > Z_LIMIT)
    if bad.size:
        raise ValueError(
            f"{name} must stay within [-{Z_LIMIT:g}, {Z_LIMIT:g}] (the map's and sliders' range), got "
            f"{name}[{bad[0]}] = {z[bad[0]]:g}. Use values between -{Z_LIMIT:g} and {Z_LIMIT:g}."
        )
    return [float(v) for v in z]


def _check_label_vector(values, name: str = "label") -> list[float]:
    """10 non-negative weights summing to 1 (a one-hot row, or a soft label between digits)."""
    y = np.asarray(values, dtype=np.float64)
    if y.shape != (NUM_CLASSES,) or not np.all(np.isfinite(y)) or np.any(y < 0) or abs(y.sum() - 1.0) > 1e-4:
        raise ValueError(
            f"{name} must be {NUM_CLASSES} non-negative weights that sum to 1 (one per digit), got "
            f"{values!r}. For digit d use set_label(d)."
        )
    return [float(v) for v in y]


def _one_hot(digit: int) -> list[float]:
    return [1.0 if k == digit else 0.0 for k in range(NUM_CLASSES)]


def _snap(z: np.ndarray) -> list[float]:
    """A code rounded to the sliders' step (as the kernel generator does), inside [-3, 3]."""
    return [float(v) for v in np.clip(np.round(np.asarray(z) / Z_STEP) * Z_STEP, -Z_LIMIT, Z_LIMIT)]


class _BrowserPanel(anywidget.AnyWidget):
    """What the browser-decoded panels share: the decoder, the picture's scale and how the page syncs back."""

    _esm = page_module("decoder.js")  # ESM with kernel.js in front: "run this cell again" after a kernel restart
    _css = CSS
    panel = traitlets.Unicode().tag(sync=True)  # which panel decoder.js draws
    decoder = traitlets.Instance(DecoderWeights).tag(sync=True, **ipywidgets.widget_serialization)
    latent_dim = traitlets.Int().tag(sync=True)
    scale = traitlets.Int(8).tag(sync=True)  # screen pixels per MNIST pixel of the large picture
    smooth = traitlets.Bool(False).tag(sync=True)  # False: nearest-neighbour scaling (square pixels)
    sync_ms = traitlets.Int(SYNC_MS).tag(sync=True)
    # State the page writes. No echo: the page is ahead of the kernel while the learner drags, and an echoed older
    # value would pull the controls back (and cost a kernel-to-browser message per update).
    z = traitlets.List(traitlets.Float()).tag(sync=True, echo_update=False)
    label = traitlets.List(traitlets.Float()).tag(sync=True, echo_update=False)
    temperature = traitlets.Float(1.0).tag(sync=True, echo_update=False)

    def __init__(self, model: CVAE, *, scale: int = 8, smooth: bool = False, sync_ms: int = SYNC_MS, **state):
        self.model = check_model(
            model, CVAE, kind="trained CVAE", hint="Load the course CVAE with cvae_course.recipes.load_cvae()."
        )
        weights = decoder_weights(model)  # ValueError for a decoder the page cannot run
        check_positive_int(scale, "scale")
        check_positive_int(sync_ms, "sync_ms")
        super().__init__(
            decoder=weights, latent_dim=model.latent_dim, scale=scale, smooth=bool(smooth), sync_ms=sync_ms, **state
        )

    @traitlets.validate("z")
    def _valid_z(self, proposal):
        return _check_code(proposal["value"], self.latent_dim, "z")

    @traitlets.validate("label")
    def _valid_label(self, proposal):
        return _check_label_vector(proposal["value"])

    @traitlets.validate("temperature")
    def _valid_temperature(self, proposal):
        return check_in_range(proposal["value"], "temperature", *TEMPERATURE_RANGE)

    @property
    def code(self) -> np.ndarray:
        """The current code z (latent_dim,), before temperature, as float32."""
        return np.asarray(self.z, dtype=np.float32)

    @property
    def label_vector(self) -> np.ndarray:
        """The current label as 10 float32 weights (one-hot, or soft on an interpolation path)."""
        return np.asarray(self.label, dtype=np.float32)

    def decode_current(self) -> np.ndarray:
        """What the page shows, computed by the Keras model: sigmoid(decoder(temperature * z, label)),
        (1, 28, 28, 1) probabilities. For a one-hot label it equals ``model.generate(digit, z, temperature)``."""
        z = self.code[None] * np.float32(self.temperature)
        logits = self.model.decoder([z, self.label_vector[None]], training=False)
        return sigmoid(np.asarray(logits))


class BrowserGenerator(_BrowserPanel):
    """Digit buttons, a 2-D latent map, z sliders and temperature over one large digit, all decoded in the page.

    The map shows the decoded manifold of the chosen digit over z[0] (left to right) and z[1] (bottom to top) in
    [-3, 3]; click or drag on it (or focus it and use the arrow keys, Shift for larger steps) to set the code. The
    decoder sees ``temperature * z``, as in ``model.generate``.
    """

    map_cells = traitlets.Int(9).tag(sync=True)  # the latent map is map_cells x map_cells decoded digits

    def __init__(
        self,
        model: CVAE,
        *,
        digit: int = 0,
        z: Sequence[float] | None = None,
        temperature: float = 1.0,
        map_cells: int = 9,
        scale: int = 8,
        smooth: bool = False,
        sync_ms: int = SYNC_MS,
        seed: int = 0,
    ):
        self._rng = np.random.default_rng(seed)
        latent_dim = check_model(model, CVAE, kind="trained CVAE").latent_dim
        code = [0.0] * latent_dim if z is None else _check_code(z, latent_dim, "z")
        super().__init__(
            model,
            scale=scale,
            smooth=smooth,
            sync_ms=sync_ms,
            panel="generator",
            map_cells=check_positive_int(map_cells, "map_cells"),
            z=code,
            label=_one_hot(check_digit(digit, "digit")),
            temperature=check_in_range(temperature, "temperature", *TEMPERATURE_RANGE),
        )

    @property
    def n_sliders(self) -> int:
        return min(self.latent_dim, MAX_SLIDERS)

    @property
    def digit(self) -> int:
        """The digit whose weight in :attr:`label` is largest (the pressed button)."""
        return int(np.argmax(self.label))

    def set_label(self, digit: int) -> None:
        """Show ``digit`` (0-9): the same as pressing its button."""
        self.label = _one_hot(check_digit(digit, "digit"))

    def set_latent(self, values: Sequence[float]) -> None:
        """Set the code: all ``latent_dim`` values, or the first ``n_sliders`` (the rest stay), each in [-3, 3]."""
        size = np.size(values)
        if size not in (self.n_sliders, self.latent_dim):
            raise ValueError(
                f"z must hold {self.n_sliders} values (one per slider) or {self.latent_dim} (the whole "
                f"code), got {size}: {values!r}"
            )
        new = _check_code(values, size, "z")
        self.z = new + list(self.z[size:])

    def set_temperature(self, temperature: float) -> None:
        """Set the temperature (0.1-2.0) that scales the code before decoding."""
        self.temperature = check_in_range(temperature, "temperature", *TEMPERATURE_RANGE)

    def new_style(self) -> None:
        """A new code from the prior N(0, I), snapped to the sliders' step: the "new random style" button."""
        self.z = _snap(self._rng.standard_normal(self.latent_dim))

    def describe(self) -> str:
        """The current settings in one line (what the learner is looking at)."""
        z = ", ".join(f"{v:.2f}" for v in self.z)
        return f"digit {self.digit}, z = [{z}], temperature {self.temperature:.2f} (decoded in the browser)"


class BrowserInterpolation(_BrowserPanel):
    """The path from (digit a, style a) to (digit b, style b), decoded in the page.

    At position t the decoder gets the code ``(1 - t) z_a + t z_b`` and the soft label ``(1 - t) onehot(a) +
    t onehot(b)`` (as the kernel panel); ``z`` and ``label`` hold that point, ``t`` the position. The strip shows
    ``steps`` points of the path with a marker at t.
    """

    start_digit = traitlets.Int(3).tag(sync=True, echo_update=False)
    end_digit = traitlets.Int(8).tag(sync=True, echo_update=False)
    start_z = traitlets.List(traitlets.Float()).tag(sync=True, echo_update=False)
    end_z = traitlets.List(traitlets.Float()).tag(sync=True, echo_update=False)
    same_style = traitlets.Bool(False).tag(sync=True, echo_update=False)
    t = traitlets.Float(0.5).tag(sync=True, echo_update=False)
    steps = traitlets.Int(9).tag(sync=True)

    def __init__(
        self,
        model: CVAE,
        *,
        start_digit: int = 3,
        end_digit: int = 8,
        t: float = 0.5,
        steps: int = 9,
        scale: int = 8,
        smooth: bool = False,
        sync_ms: int = SYNC_MS,
        seed: int = 0,
    ):
        self._rng = np.random.default_rng(seed)
        latent_dim = check_model(model, CVAE, kind="trained CVAE").latent_dim
        a, b = check_digit(start_digit, "start_digit"), check_digit(end_digit, "end_digit")
        za, zb = self._draw(latent_dim), self._draw(latent_dim)
        t = check_in_range(t, "t", 0.0, 1.0)
        z, y = _point(za, zb, a, b, t)
        super().__init__(
            model,
            scale=scale,
            smooth=smooth,
            sync_ms=sync_ms,
            panel="interpolation",
            steps=check_positive_int(steps, "steps"),
            start_digit=a,
            end_digit=b,
            start_z=za,
            end_z=zb,
            t=t,
            z=z,
            label=y,
            temperature=1.0,
        )

    def _draw(self, latent_dim: int) -> list[float]:
        return [float(v) for v in np.clip(self._rng.standard_normal(latent_dim), -Z_LIMIT, Z_LIMIT)]

    @traitlets.validate("start_digit", "end_digit")
    def _valid_digit(self, proposal):
        return check_digit(proposal["value"], proposal["trait"].name)

    @traitlets.validate("start_z", "end_z")
    def _valid_end(self, proposal):
        return _check_code(proposal["value"], self.latent_dim, proposal["trait"].name)

    @traitlets.validate("t")
    def _valid_t(self, proposal):
        return check_in_range(proposal["value"], "t", 0.0, 1.0)

    def point(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """(code, soft label) at position ``t`` of the path, float32."""
        t = check_in_range(t, "t", 0.0, 1.0)
        end = self.start_z if self.same_style else self.end_z
        z, y = _point(self.start_z, end, self.start_digit, self.end_digit, t)
        return np.asarray(z, np.float32), np.asarray(y, np.float32)

    def _move(self, **changes) -> None:
        """Change the path or the position and the point (z, label) with it, in one message to the page."""
        with self.hold_sync():
            for name, value in changes.items():
                setattr(self, name, value)
            z, y = self.point(self.t)
            self.z, self.label = [float(v) for v in z], [float(v) for v in y]

    def set_position(self, t: float) -> None:
        """Move along the path: 0 is the start, 1 the end."""
        self._move(t=check_in_range(t, "t", 0.0, 1.0))

    def set_labels(self, start: int, end: int) -> None:
        """The digits at the two ends of the path."""
        self._move(start_digit=check_digit(start, "start"), end_digit=check_digit(end, "end"))

    def set_styles(self, start: Sequence[float], end: Sequence[float]) -> None:
        """The codes at the two ends of the path (each value in [-3, 3])."""
        self._move(start_z=_check_code(start, self.latent_dim, "start"), end_z=_check_code(end, self.latent_dim, "end"))

    def new_styles(self) -> None:
        """Two new end styles from the prior: the "new styles" button."""
        self.set_styles(self._draw(self.latent_dim), self._draw(self.latent_dim))


def _point(start_z, end_z, start_digit: int, end_digit: int, t: float) -> tuple[list[float], list[float]]:
    z = [(1 - t) * a + t * b for a, b in zip(start_z, end_z)]
    y = [(1 - t) * a + t * b for a, b in zip(_one_hot(start_digit), _one_hot(end_digit))]
    return z, y
