// "Draw a digit" (cvae_course.playground.draw): a canvas for the mouse, a pen or a finger, with clear and undo.
//
// Pointer events cover all three (touch-action: none keeps a finger from scrolling the page). Each stroke is a list
// of [x, y] points in [0, 1] (0, 0 the top left); the strokes go to the kernel once per finished stroke (and after
// clear or undo), where the CVAE reads the drawing and answers with ONE custom message: the summary and the bars as
// HTML (made by the kernel), the preview and the ten redrawn digits as two PNG buffers. This module renders them.
//
// Undo and clear are instant once the view has a reading of the drawing they go back to: the view keeps the last
// KEPT readings it got, keyed by the drawing they answer, and shows the kept one in the click's own handler (the
// pictures stay decoded: their blob URLs and an Image of each are kept). The empty pad's reading is kept apart (it
// comes with the answer to the view's first request), so clear is instant however much was drawn since. Undo right
// after a stroke whose own reading has not come back yet, or in a view that never got the reading of that drawing,
// waits for the kernel as a stroke does. The strokes still go to the kernel, whose state follows the page. Each
// drawing carries a `revision` that names it (the view's random prefix and a count: "k3f9x2-4"; the kernel names a
// drawing set from Python "py-N"), sent in the same update as the strokes and echoed by the kernel's reading, so a
// reading is paired with the drawing it answers (two views share a name only if their six-character random prefixes
// collide: unlikely, not impossible). A reading of the drawing already on screen changes nothing, and one of a
// drawing that is no longer the current one is only kept, never shown. When Python sets a drawing while a stroke of
// this view is on its way, the kernel may read the stroke's drawing after Python's: the view then sends the drawing
// on screen (Python's) again, so that the kernel ends on what the page shows.
// Nothing here reaches the network: this file ships with the package. The canvas counts its finished strokes in
// `data-strokes`; the view counts the readings it showed in `data-reading` and says where the one on screen came
// from in `data-shown` ("kernel" or "kept": for the browser test).

// readings a view keeps besides the empty pad's (the oldest goes first; its blob URLs are revoked): fewer than the
// kernel's KEPT_READINGS (draw.py, 32 replies it can send again without the CVAE), since each kept here holds two
// decoded pictures in the page
const KEPT = 20;
const OWN_KEYS = { "data-lm-suppress-shortcuts": "true" };

function make(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("aria-") || key.startsWith("data-") || key === "role") node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) node.append(child);
  return node;
}

export default {
  render({ model, el }) {
    watchKernel(model, el); // kernel.js: "run this cell again" once the kernel is gone
    const size = model.get("size");
    const dpr = window.devicePixelRatio || 1;
    const canvas = make("canvas", {
      class: "cvae-draw-canvas", role: "img", width: Math.round(size * dpr), height: Math.round(size * dpr),
      "aria-label": "drawing area: draw a digit with the mouse, a pen or a finger", ...OWN_KEYS,
    });
    canvas.style.width = canvas.style.height = `${size}px`;
    const clear = make("button", { class: "cvae-b-button cvae-draw-clear", type: "button", text: "clear" });
    const undo = make("button", { class: "cvae-b-button cvae-draw-undo", type: "button", text: "undo" });
    // the reading, filled by the kernel's reply
    const note = make("div", { class: "cvae-caption" }, [
      "What the CVAE sees: your drawing ", make("b", { text: "scaled to fit 20 x 20 pixels and centred by its "
        + "centre of mass in 28 x 28" }), ", as MNIST's digits were made."]);
    const preview = make("img", { class: "cvae-draw-preview", alt: "your drawing as the CVAE sees it, 28 x 28" });
    const summary = make("div", { class: "cvae-draw-summary", role: "status" });
    const bars = make("div", { class: "cvae-draw-bars" });
    const redrawn = make("img", { class: "cvae-draw-redrawn", alt: "your handwriting redrawn as every digit 0-9" });
    el.classList.add("cvae-b", "cvae-draw-view");
    el.replaceChildren(
      make("div", { class: "cvae-draw-row" }, [
        make("div", { class: "cvae-draw-pad" }, [canvas, make("div", { class: "cvae-b-row" }, [clear, undo])]),
        make("div", { class: "cvae-draw-middle" }, [note, preview, summary]),
        bars,
      ]),
      redrawn,
    );
    // The readings this view keeps: drawing (the pen and the strokes as JSON) -> {summary, bars, urls, images, ready},
    // oldest first, and the empty pad's apart. `sent` pairs a revision with the drawing it names.
    const kept = new Map();
    let empty = null; // the empty pad's reading: never pushed out by newer ones
    const sent = new Map();
    const prefix = Math.random().toString(36).slice(2, 8).padEnd(6, "0"); // this view's drawings: `${prefix}-${count}`
    let count = 0;
    let revision = model.get("revision"); // the current drawing: this view's last, or the last set from Python
    let shownRevision = null; // the drawing whose reading is on screen
    let onScreen = null; // that reading
    const keyOf = (list) => JSON.stringify([model.get("pen"), list]);
    const isEmpty = (key) => key === keyOf([]);
    const lookup = (key) => (isEmpty(key) ? empty : kept.get(key));
    const remember = (rev, list) => {
      sent.set(rev, keyOf(list));
      if (sent.size > 4 * KEPT) sent.delete(sent.keys().next().value);
    };
    remember(revision, model.get("strokes"));

    let closed = false; // the view was removed: its readings are revoked, nothing is shown any more
    let pyAt = -1; // this view's count when the last drawing set from Python ("py-N") came
    const ownCount = (rev) => (rev.startsWith(`${prefix}-`) ? Number(rev.slice(prefix.length + 1)) : null);

    // Revoke a reading's pictures; not the one on screen (revoked when it is replaced) nor one a handler awaits
    // (that handler shows it, or forgets it when it is no longer kept).
    const forget = (entry) => {
      if (entry === onScreen || entry.gone || entry.waiting) return;
      entry.gone = true;
      for (const url of entry.urls) URL.revokeObjectURL(url);
    };
    function reading(content, pngs) {
      const urls = pngs.map((buffer) => {
        const bytes = buffer instanceof DataView ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
          : new Uint8Array(buffer.buffer ?? buffer);
        return URL.createObjectURL(new Blob([bytes], { type: "image/png" }));
      });
      const images = urls.map((url) => Object.assign(new Image(), { src: url })); // decoded once, kept decoded
      const ready = Promise.all(images.map((image) => image.decode().catch(() => {})));
      return { summary: content.summary, bars: content.bars, urls, images, ready, gone: false, waiting: 0 };
    }
    // The reading kept for `key`: the one already kept (a drawing reads the same every time), else `create()`'s.
    function keep(key, create) {
      if (isEmpty(key)) return (empty ??= create());
      const entry = kept.get(key) ?? create();
      kept.delete(key);
      kept.set(key, entry);
      while (kept.size > KEPT) {
        const [oldest, pushedOut] = kept.entries().next().value;
        kept.delete(oldest);
        forget(pushedOut);
      }
      return entry;
    }
    const held = (entry) => entry === empty || [...kept.values()].includes(entry);
    function show(entry, rev, source) {
      summary.innerHTML = entry.summary; // HTML made by the kernel from numbers (draw.py), no learner text in it
      bars.innerHTML = entry.bars;
      preview.src = entry.urls[0];
      redrawn.src = entry.urls[1];
      const old = onScreen;
      onScreen = entry;
      if (old && old !== entry && !held(old)) forget(old);
      shownRevision = rev;
      el.dataset.reading = String(Number(el.dataset.reading || 0) + 1);
      el.dataset.shown = source;
    }

    model.on("msg:custom", async (msg, buffers) => {
      if (closed || !msg || msg.kind !== "reading") return;
      if (msg.empty) keep(keyOf([]), () => reading(msg.empty, buffers.slice(2, 4)));
      const key = sent.get(msg.revision);
      // a reading of the current drawing (or of an earlier drawing of the same strokes, e.g. before an undo) is
      // shown; one of a drawing no longer current (or not this view's) is only kept, for undo
      const rev = revision;
      if (msg.revision !== rev && (key === undefined || key !== sent.get(rev))) {
        if (key !== undefined) keep(key, () => reading(msg, buffers.slice(0, 2)));
        // A drawing this view sent before Python's drawing came, read after it (the kernel's messages come in the
        // order it sent them): the kernel now holds that older drawing while the page shows Python's. Send the
        // drawing on screen again, unless this view sent one since (the kernel ends on that one). Only after a "py-N":
        // another view of the model in this page sends its drawings itself.
        const n = ownCount(msg.revision);
        if (n !== null && n <= pyAt && count === pyAt && rev.startsWith("py-")) resend();
        return;
      }
      if (shownRevision === rev) return; // already on screen, from the kept readings: nothing to repaint
      const entry = key !== undefined ? keep(key, () => reading(msg, buffers.slice(0, 2)))
        : reading(msg, buffers.slice(0, 2));
      entry.waiting += 1; // not revoked while it decodes, even if pushed out of the kept readings meanwhile
      await entry.ready; // both pictures decoded: they change in one frame
      entry.waiting -= 1;
      if (!closed && revision === rev && shownRevision !== rev) show(entry, rev, "kernel");
      else if (closed || !held(entry)) forget(entry);
    });

    let strokes = model.get("strokes").map((s) => s.map((p) => p.slice()));
    let current = null;
    const ctx = canvas.getContext("2d");

    function paint() {
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      const scale = canvas.width;
      ctx.strokeStyle = ctx.fillStyle = "#000";
      ctx.lineWidth = model.get("pen") * scale;
      ctx.lineCap = ctx.lineJoin = "round";
      for (const stroke of current ? [...strokes, current] : strokes) {
        if (!stroke.length) continue;
        ctx.beginPath();
        ctx.moveTo(stroke[0][0] * scale, stroke[0][1] * scale);
        if (stroke.length === 1) ctx.lineTo(stroke[0][0] * scale + 0.01, stroke[0][1] * scale);
        for (const [x, y] of stroke.slice(1)) ctx.lineTo(x * scale, y * scale);
        ctx.stroke();
      }
      canvas.dataset.strokes = String(strokes.length);
      undo.disabled = clear.disabled = strokes.length === 0;
    }

    // A new drawing: a new revision, sent with the strokes in one update. Undo and clear show a kept reading of it
    // at once (in the click's handler); a new stroke waits for the kernel's.
    function send({ instant = false } = {}) {
      count += 1;
      revision = `${prefix}-${count}`;
      remember(revision, strokes);
      const key = keyOf(strokes);
      const entry = instant ? lookup(key) : undefined;
      if (entry) {
        if (!isEmpty(key)) keep(key, () => entry); // the newest again
        show(entry, revision, "kept");
      }
      model.set("strokes", strokes.map((s) => s.map((p) => p.slice())));
      model.set("revision", revision);
      model.save_changes();
    }
    // The drawing on screen again, under a new revision, for a kernel that holds an older one: when the reading on
    // screen is that drawing's, the kernel's answer changes nothing.
    function resend() {
      const showing = shownRevision !== null && sent.get(shownRevision) === keyOf(strokes);
      send();
      if (showing) shownRevision = revision;
    }

    const point = (event) => {
      const box = canvas.getBoundingClientRect();
      const clamp = (v) => Math.min(1, Math.max(0, v));
      return [clamp((event.clientX - box.left) / box.width), clamp((event.clientY - box.top) / box.height)];
    };
    canvas.addEventListener("pointerdown", (event) => {
      event.preventDefault();
      try {
        canvas.setPointerCapture(event.pointerId); // keep the stroke when the pointer leaves the canvas
      } catch (error) {
        // a synthetic event has no active pointer to capture
      }
      current = [point(event)];
      paint();
    });
    canvas.addEventListener("pointermove", (event) => {
      if (!current) return;
      const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
      for (const e of events.length ? events : [event]) current.push(point(e));
      paint();
    });
    const finish = () => {
      if (!current) return;
      strokes.push(current);
      current = null;
      paint();
      send();
    };
    canvas.addEventListener("pointerup", finish);
    canvas.addEventListener("pointercancel", finish);
    clear.addEventListener("click", () => {
      strokes = [];
      paint();
      send({ instant: true });
    });
    undo.addEventListener("click", () => {
      strokes.pop();
      paint();
      send({ instant: true });
    });
    model.on("change:strokes", () => { // set from Python, or by another view of this pad
      strokes = model.get("strokes").map((s) => s.map((p) => p.slice()));
      paint();
    });
    model.on("change:revision", () => { // a drawing set from Python ("py-N", after its strokes), or by another view
      revision = model.get("revision");
      if (!sent.has(revision)) remember(revision, model.get("strokes"));
      if (revision.startsWith("py-")) pyAt = count;
    });
    paint();
    model.send({ kind: "refresh" }); // the current reading for this view (and the empty pad's, for clear)
    return () => {
      closed = true; // a reading still decoding forgets itself when it is decoded
      const all = new Set([...kept.values(), empty, onScreen]);
      onScreen = null;
      for (const entry of all) if (entry) forget(entry);
    };
  },
};
