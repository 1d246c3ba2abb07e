// "Draw a digit" (cvae_course.playground.draw): a canvas for the mouse, a pen or a finger, with clear and undo.
//
// Pointer events cover all three (touch-action: none keeps a finger from scrolling the page). Each stroke is a list
// of [x, y] points in [0, 1] (0, 0 the top left); the strokes go to the kernel once per finished stroke (and after
// clear or undo), where the CVAE reads the drawing. Nothing here reaches the network: this file ships with the
// package. The canvas counts its finished strokes in `data-strokes` (for the browser test).

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
    el.classList.add("cvae-b", "cvae-draw-pad");
    el.replaceChildren(canvas, make("div", { class: "cvae-b-row" }, [clear, undo]));

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
  },
};
