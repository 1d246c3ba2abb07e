// "Draw a digit" (cvae_course.playground.draw): a canvas for the mouse, a pen or a finger, with clear and undo.
//
// Pointer events cover all three (touch-action: none keeps a finger from scrolling the page). Each stroke is a list
// of [x, y] points in [0, 1] (0, 0 the top left); the strokes go to the kernel once per finished stroke (and after
// clear or undo), where the CVAE reads the drawing and answers with ONE custom message: the summary and the bars as
// HTML (made by the kernel), the preview and the ten redrawn digits as two PNG buffers. This module renders them.
// Nothing here reaches the network: this file ships with the package. The canvas counts its finished strokes in
// `data-strokes` (for the browser test).

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
    const urls = new Map(); // img -> its current blob URL (revoked when replaced)
    const showPng = (img, buffer) => {
      const bytes = buffer instanceof DataView ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
        : new Uint8Array(buffer.buffer ?? buffer);
      const url = URL.createObjectURL(new Blob([bytes], { type: "image/png" }));
      img.src = url;
      if (urls.has(img)) URL.revokeObjectURL(urls.get(img));
      urls.set(img, url);
    };
    model.on("msg:custom", (msg, buffers) => {
      if (!msg || msg.kind !== "reading") return;
      summary.innerHTML = msg.summary; // HTML made by the kernel from numbers (draw.py), no learner text in it
      bars.innerHTML = msg.bars;
      showPng(preview, buffers[0]);
      showPng(redrawn, buffers[1]);
      el.dataset.reading = String(Number(el.dataset.reading || 0) + 1);
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

    function send() {
      model.set("strokes", strokes.map((s) => s.map((p) => p.slice())));
      model.save_changes();
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
      send();
    });
    undo.addEventListener("click", () => {
      strokes.pop();
      paint();
      send();
    });
    model.on("change:strokes", () => {
      strokes = model.get("strokes").map((s) => s.map((p) => p.slice()));
      paint();
    });
    paint();
    model.send({ kind: "refresh" }); // the current reading for this view
    return () => { for (const url of urls.values()) URL.revokeObjectURL(url); };
  },
};
