"""Draw a digit (cvae_course.playground.draw): strokes become an MNIST-like digit, which the CVAE reads."""

import itertools

import numpy as np
import pytest

from cvae_course import playground as pg
from cvae_course.applications import label_scores as lesson05_label_scores
from cvae_course.playground import draw


@pytest.fixture(scope="module")
def model(mnist):
    """A small CVAE trained on the mode's data for two epochs: good enough to read clear digits."""
    from cvae_course.models import build_cvae
    from cvae_course.training import train

    m = build_cvae(2, seed=0)
    train(m, (mnist.x_train[:3000], mnist.y_train_one_hot[:3000]), epochs=3, progress=False)
    return m


@pytest.fixture(scope="module")
def panel(model, mnist):
    return pg.DrawDigit(model, mnist.x_test[:100], mnist.y_test[:100])


def _centre_of_mass(image: np.ndarray) -> np.ndarray:
    x = image[..., 0]
    rows, cols = np.indices(x.shape)
    return np.array([(rows * x).sum(), (cols * x).sum()]) / x.sum()


@pytest.mark.parametrize("box", [(0.05, 0.05, 0.3, 0.6), (0.5, 0.6, 0.95, 0.7), (0.4, 0.1, 0.6, 0.9)])
def test_a_drawing_anywhere_is_scaled_to_fit_20_pixels_and_centred_by_mass_like_mnist(box):
    left, top, right, bottom = box
    strokes = [[[left, top], [right, top], [right, bottom], [left, bottom], [left, top]]]
    image = draw.mnist_like(draw.rasterize(strokes))
    rows, cols = np.nonzero(image[..., 0] > 0.05)
    extent = max(rows.max() - rows.min() + 1, cols.max() - cols.min() + 1)
    assert 19 <= extent <= 21, f"the ink spans {extent} pixels, MNIST's box is 20"
    np.testing.assert_allclose(_centre_of_mass(image), [13.5, 13.5], atol=0.6)


def test_a_blank_drawing_is_a_blank_digit_and_reads_as_nothing(panel):
    panel.clear()
    assert not panel.image.any() and panel.read() is None
    assert "Draw a digit" in panel.summary_html


def test_bad_ink_is_refused_with_what_to_fix():
    with pytest.raises(ValueError, match=r"values in \[0, 1\]"):
        draw.mnist_like(np.full((10, 10), 2.0))
    with pytest.raises(ValueError, match=r"2-D picture"):
        draw.mnist_like(np.zeros(10))
    with pytest.raises(ValueError, match=r"stroke 0 holds a point that is not a finite number"):
        draw.rasterize([[[0.1, float("nan")]]])


def test_the_batched_scores_are_lesson_05s_label_scores(model, mnist):
    x = mnist.x_test[:20]
    ours = draw.label_scores(model, x)
    theirs = lesson05_label_scores(model, x, n_samples=draw.N_SAMPLES)
    assert ours.shape == (20, 10)
    # different draws of z: the same -ELBO up to Monte Carlo noise (a few nats), same winner for most digits
    assert np.median(np.abs(ours - theirs)) < 3.0
    assert np.mean(ours.argmin(1) == theirs.argmin(1)) >= 0.8


def _trace(image: np.ndarray) -> list:
    """A real digit's ink as one-point strokes, pixel by pixel (what a very patient learner would draw)."""
    return [[[(c + 0.5) / 28, (r + 0.5) / 28]] for r, c in zip(*np.nonzero(image[..., 0] > 0.5))]


def test_real_test_digits_traced_as_strokes_are_mostly_read_with_their_own_label(panel, mnist):
    # measured: 19 of these 30 (3 per label) with this 3-epoch CVAE; chance is 3 of 30
    panel.pad.pen = 1 / 28  # one MNIST pixel per dot, as the digit was written
    right = 0
    for k in range(10):
        for i in np.flatnonzero(mnist.y_test == k)[:3]:
            panel.draw(_trace(mnist.x_test[i]))
            right += panel.read()["label"] == k
    panel.pad.pen = draw.STROKE_WIDTH
    assert right >= 15, f"only {right} of 30 traced test digits were read with their own label"


def test_the_reading_is_the_label_by_elbo_its_style_code_and_the_ten_redrawings(panel, model, mnist):
    panel.draw(_trace(mnist.x_test[0]))
    result = panel.read()
    label = result["label"]
    assert label == int(np.argmin(result["scores"]))
    assert result["probabilities"].sum() == pytest.approx(1.0) and result["probabilities"].argmax() == label
    np.testing.assert_allclose(result["code"], model.encode(panel.image[None], [label])[0], atol=1e-5)
    want = model.generate(np.arange(10), z=np.repeat(result["code"][None], 10, axis=0))
    np.testing.assert_allclose(result["redrawn"], want, atol=1e-5)
    assert 0.0 <= result["anomaly_share"] <= 1.0 and result["anomaly"] == pytest.approx(result["scores"].min())
    article = "an" if label == 8 else "a"
    assert f"Read as {article} <b>{label}</b>" in panel.summary_html and "nats" in panel.summary_html
    redrawn = pg.png_to_array(panel.redrawn_png)
    assert redrawn.shape[1] > 10 * 28 * panel.scale > redrawn.shape[0] > 28 * panel.scale  # one row of ten digits


def test_an_empty_pad_shows_no_scores_and_no_winner_but_asks_for_a_digit(panel):
    panel.draw([[[0.2, 0.2], [0.8, 0.8]]])
    panel.clear()
    bars = panel.bars_html
    assert bars.count('class="cvae-bar-row"') == 10 and "draw a digit" in bars
    assert "nan" not in bars.lower() and "%<" not in bars and "-ELBO" not in bars and "font-weight:700" not in bars
    assert "Draw a digit" in panel.summary_html and "Read as" not in panel.summary_html


def test_the_summary_says_an_8_and_a_for_the_other_digits():
    assert [draw._article(k) for k in range(10)] == ["a"] * 8 + ["an", "a"]


def test_the_one_graph_reading_gives_the_numbers_of_the_separate_python_calls(panel, model, mnist):
    for i in range(5):
        panel.draw(_trace(mnist.x_test[i]))
        x = panel.image
        scores, code, redrawn = panel.reader(x)
        np.testing.assert_allclose(scores, draw.label_scores(model, x[None])[0], rtol=1e-6, atol=1e-4)
        label = int(np.argmin(scores))
        np.testing.assert_allclose(code, model.encode(x[None], [label])[0], atol=1e-5)
        want = model.generate(np.arange(10), z=np.repeat(code[None], 10, axis=0))
        np.testing.assert_allclose(redrawn, want, atol=1e-5)


_PAGE = itertools.count(1)


def _from_page(panel, strokes) -> str:
    """What the page sends after a stroke, an undo or a clear: the strokes and a new revision in ONE update."""
    revision = f"testpg-{next(_PAGE)}"
    panel.pad.set_state({"strokes": strokes, "revision": revision})
    return revision


class _Wire(list):
    """The readings sent to the page, (content, buffers); ``all``: every kernel -> browser message of the pad, as
    ("update", state, buffers) or ("reading", content, buffers), so that an echo of the state would count too."""

    all: list


def _sent(panel, monkeypatch) -> _Wire:
    wire = _Wire()
    wire.all = []
    send = panel.pad._send  # below pad.send and pad.send_state: every message of the widget passes here

    def record(msg, buffers=None):
        if msg.get("method") == "update":
            wire.all.append(("update", msg["state"], buffers))
        else:
            content = msg.get("content", {})
            wire.all.append((content.get("kind"), content, buffers))
            wire.append((content, buffers))
        return send(msg, buffers)

    monkeypatch.setattr(panel.pad, "_send", record)
    return wire


def test_a_finished_stroke_is_answered_with_one_message_holding_the_whole_reading(panel, monkeypatch):
    sent = _sent(panel, monkeypatch)
    _from_page(panel, [[[0.5, 0.2], [0.5, 0.8]]])
    assert len(sent.all) == len(sent) == 1, f"{sent.all} for one stroke"
    content, buffers = sent[0]
    assert content["kind"] == "reading" and content["strokes"] == 1 and content["label"] == panel.last["label"]
    assert content["summary"] == panel.summary_html and content["bars"] == panel.bars_html
    assert [pg.png_to_array(b).shape for b in buffers] == [
        pg.png_to_array(panel.preview_png).shape,
        pg.png_to_array(panel.redrawn_png).shape,
    ]
    panel._request(panel.pad, {"kind": "refresh"}, [])  # a new view asks for the reading it should show
    assert len(sent) == 2 and {k: v for k, v in sent[1][0].items() if k != "empty"} == content  # and clear's


def test_a_scribble_scores_as_more_anomalous_than_most_real_digits(panel):
    rng = np.random.default_rng(0)
    panel.draw([rng.uniform(0.05, 0.95, size=(40, 2)).tolist() for _ in range(3)])
    result = panel.read()
    assert result["anomaly_share"] >= 0.9, f"a scribble beats only {result['anomaly_share']:.0%} of real digits"


def test_undo_and_clear_in_the_page_reach_the_kernel_as_fewer_strokes(panel):
    panel.draw([[[0.5, 0.2], [0.5, 0.8]], [[0.3, 0.3], [0.7, 0.3]]])
    two = panel.image.copy()
    _from_page(panel, panel.pad.strokes[:1])  # undo
    assert not np.array_equal(panel.image, two) and panel.read() is not None


def test_the_draw_panel_ships_its_module_and_loads_nothing_from_the_network():
    source = (draw.STATIC / "draw.js").read_text()
    assert "export default" in source and "fetch(" not in source and "http" not in source
    assert "import " not in source.replace("// ", "#")
    assert "pointerdown" in source and "touch" in source


def test_undo_back_to_a_drawing_already_read_sends_its_reply_again_without_reading_it_again(panel, monkeypatch):
    sent, calls = _sent(panel, monkeypatch), []
    reader = panel.reader
    monkeypatch.setattr(panel, "reader", lambda x: calls.append(1) or reader(x))
    first, second = [[0.45, 0.15], [0.55, 0.85]], [[0.25, 0.35], [0.75, 0.4]]  # drawn by no other test
    revisions = [_from_page(panel, [first]), _from_page(panel, [first, second])]
    assert len(calls) == 2
    revisions.append(_from_page(panel, [first]))  # undo
    assert len(calls) == 2, "undo read a drawing the panel had read already"
    assert len(sent.all) == len(sent) == 3 and sent[2][1] == sent[0][1]
    assert [content["revision"] for content, _ in sent] == revisions
    assert {**sent[2][0], "revision": None} == {**sent[0][0], "revision": None}  # its reply again, a new revision
    fresh = panel.read()  # the reply it sent again is the reading of this drawing
    assert panel.last["label"] == fresh["label"]
    np.testing.assert_allclose(panel.last["scores"], fresh["scores"], rtol=1e-6)
    np.testing.assert_allclose(panel.last["code"], fresh["code"], atol=1e-6)


def test_the_panel_keeps_the_replies_of_a_limited_number_of_drawings(panel, monkeypatch):
    calls = []
    reader = panel.reader
    monkeypatch.setattr(panel, "reader", lambda x: calls.append(1) or reader(x))
    for k in range(draw.KEPT_READINGS + 1):
        panel.draw([[[0.2 + 0.6 * k / draw.KEPT_READINGS, 0.25], [0.5, 0.75]]])  # drawn by no other test
    assert len(panel._replies) == draw.KEPT_READINGS and len(calls) == draw.KEPT_READINGS + 1
    panel.draw([[[0.2, 0.25], [0.5, 0.75]]])  # the first of them: no longer kept, read again
    assert len(calls) == draw.KEPT_READINGS + 2


def test_strokes_and_a_revision_from_the_page_are_answered_once_with_that_revision(panel, monkeypatch):
    sent = _sent(panel, monkeypatch)  # every kernel -> browser message: an echo of the state would count too
    first, second = [[0.4, 0.2], [0.45, 0.8]], [[0.2, 0.5], [0.8, 0.55]]  # drawn by no other test
    for k, strokes in enumerate([[first], [first, second], [first]], start=1):  # a stroke, a stroke, undo
        revision = _from_page(panel, strokes)
        assert len(sent.all) == len(sent) == k, f"{sent.all[k - 1 :]} for one update"
        assert sent[-1][0]["revision"] == panel.pad.revision == revision
    assert panel.pad.strokes == [first] and sent[2][1] == sent[0][1]  # undo: the first stroke's pictures again
    fresh = panel.read()
    assert panel.last["label"] == fresh["label"]
    np.testing.assert_allclose(panel.last["code"], fresh["code"], atol=1e-6)


def test_a_drawing_set_from_python_is_named_py_n_so_no_page_drawing_shares_its_revision(panel, monkeypatch):
    wire = _sent(panel, monkeypatch).all
    n = panel._from_python
    page = _from_page(panel, [[[0.3, 0.1], [0.35, 0.9]]])
    panel.draw([[[0.5, 0.1], [0.55, 0.9]]])  # one update with the strokes and their revision, then the reading
    panel.clear()
    panel.pad.strokes = [[[0.5, 0.1], [0.55, 0.9]]]  # a plain assignment: the strokes, then their revision
    kinds = [(kind, sorted(body) if kind == "update" else body["revision"]) for kind, body, _ in wire]
    py = [f"py-{n + k}" for k in (1, 2, 3)]
    assert kinds == [
        ("reading", page),
        ("update", ["revision", "strokes"]),
        ("reading", py[0]),
        ("update", ["revision", "strokes"]),
        ("reading", py[1]),
        ("update", ["strokes"]),
        ("update", ["revision"]),
        ("reading", py[2]),
    ], kinds
    assert [wire[k][1]["revision"] for k in (1, 3, 6)] == py and wire[4][1]["label"] is None
    assert panel.pad.revision == py[2] and page not in py


def test_a_page_stroke_that_comes_after_a_python_drawing_is_read_and_answered_under_the_pages_revision(
    panel, monkeypatch
):
    # the kernel's half of the race draw.js settles: the page's stroke, sent while the kernel ran draw(...), replaces
    # Python's drawing and its reading names the page's revision, by which the page sees that the kernel holds its
    # older drawing (and sends the one it shows again: tests/playground/test_draw_page.py)
    sent = _sent(panel, monkeypatch)
    mine = [[[0.6, 0.1], [0.6, 0.9]]]  # drawn by no other test
    panel.draw([[[0.1, 0.5], [0.9, 0.5]]])
    python = panel.pad.revision
    page = _from_page(panel, mine)
    assert [content["revision"] for content, _ in sent[-2:]] == [python, page]
    assert sent[-1][0]["strokes"] == 1 and panel.pad.strokes == mine
    assert sent[-1][1] != sent[-2][1]  # the pictures of the page's drawing, not Python's sent again
    np.testing.assert_allclose(panel.last["code"], panel.read()["code"], atol=1e-6)  # the kernel reads the page's


def test_a_views_first_request_brings_the_empty_pads_reading_for_clear_too(panel, monkeypatch):
    sent = _sent(panel, monkeypatch)
    panel.draw([[[0.1, 0.1], [0.2, 0.2]]])
    panel.clear()
    blank = sent[-1]
    panel.draw([[[0.3, 0.2], [0.6, 0.8]]])
    panel._request(panel.pad, {"kind": "refresh"}, [])
    content, buffers = sent[-1]
    assert content["revision"] == panel.pad.revision and content["summary"] == panel.summary_html
    assert content["empty"] == {"summary": blank[0]["summary"], "bars": blank[0]["bars"]}
    assert buffers == [panel.preview_png, panel.redrawn_png, *blank[1]]
    panel.clear()
    panel._request(panel.pad, {"kind": "refresh"}, [])
    assert "empty" not in sent[-1][0] and len(sent[-1][1]) == 2  # the empty pad is the reading itself
