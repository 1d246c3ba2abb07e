// One picture of a kernel-decoded panel (cvae_course.playground.panels.Picture): a caption, an optional picture
// before the main one, the main picture and an optional one after it, all from ONE widget.
//
// The kernel sets every changed part (PNG bytes, sizes, caption HTML) in one state update, so that one update of a
// panel is one kernel-to-browser message; the PNGs arrive as binary buffers and are shown through blob URLs on the
// same <img> elements (a new `src` per picture). Nothing here reaches the network: this file ships with the package.
//
// A control of the panel that Python moved ("new random style" moves the z sliders, "random digit" the test image
// slider) sends no message of its own: its move comes in the same update (`controls`: {n, set: [[model id, trait,
// old, new], ...]}) and is made on that control's model here, after the frame that shows the picture (once the new
// PNGs are decoded: the decode takes longer than a frame, and a move made before it - a slider's DOM, its readout, a
// layout - ran on the main thread while the learner still waited for the picture), as ipywidgets sets a value the
// kernel sent (set_state: the page does not send it back). Only on a control that still shows
// `old`, the value the kernel saw before the move, and whose own requests have all been answered: a learner who
// moved the same control while the reply was on its way keeps the value they chose (its request reaches the kernel
// after the move, and the kernel follows it).
// A float slider reports a value set on it through its own float arithmetic (noUiSlider's steps), which can differ
// from `new` in the last bits and would go back to the kernel as a change; that report is not sent (sameValue).

// Equal, or two floats equal but for rounding: the kernel's float32 codes (1.15 is 1.149999976158142) and a
// slider's own arithmetic on them (noUiSlider puts it at 1.1500000000000004) differ by ~1e-8; a slider step is 0.01.
export function sameValue(a, b) {
  if (typeof a === "number" && typeof b === "number") return Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(a), Math.abs(b));
  return a === b;
}

// Make one move [trait, old, new] on a control's model, if the control still shows `old` and has no request of its
// own on the way to the kernel (ipywidgets counts them: _pending_msgs): a learner who moved it away and back since
// the kernel made its move shows `old` again, but the kernel will take the learner's value last; true if it was made.
export function moveControl(control, name, old, value) {
  if (control._pending_msgs > 0 || !sameValue(control.get(name), old)) return false;
  // the views redraw inside set_state; a slider's report of `value` in its own float steps is no change to send
  const save = control.save_changes;
  control.save_changes = function (...args) {
    const diff = this._buffered_state_diff;
    if (diff && name in diff && sameValue(diff[name], value)) delete diff[name];
    if (!diff || Object.keys(diff).length) return save.apply(this, args);
  };
  try {
    control.set_state({ [name]: value });
  } finally {
    control.save_changes = save;
  }
  return true;
}

function bytesOf(value) {
  if (!value) return null;
  if (value instanceof DataView) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  return new Uint8Array(value.buffer ?? value);
}

export default {
  render({ model, el }) {
    watchKernel(model, el); // kernel.js: "run this cell again" once the kernel is gone
    const caption = document.createElement("div");
    caption.className = "cvae-picture-caption";
    const row = document.createElement("div");
    row.className = "cvae-picture-row";
    const parts = ["before", "value", "after"].map((name) => {
      const img = document.createElement("img");
      img.setAttribute("role", "img");
      row.append(img);
      return { name, img, url: null, shown: null };
    });
    el.classList.add("cvae-picture");
    el.replaceChildren(caption, row);

    let decoded = Promise.resolve(); // settles once the pictures set last are decoded (ready for their frame)
    const update = () => {
      const decodes = [];
      const html = model.get("caption");
      if (caption.innerHTML !== html) caption.innerHTML = html; // made by the kernel from numbers (panels.py)
      caption.hidden = !html;
      const classes = model.get("classes");
      const sizes = model.get("sizes");
      const alts = model.get("alts");
      parts.forEach((part, k) => {
        const value = model.get(part.name);
        const bytes = bytesOf(value);
        part.img.hidden = !bytes || !bytes.length;
        if (classes[k] && part.img.className !== classes[k]) part.img.className = classes[k];
        if (alts[k] && part.img.alt !== alts[k]) part.img.alt = alts[k];
        const [width, height] = sizes[k] || [0, 0];
        if (width && part.img.width !== width) part.img.width = width;
        if (height && part.img.height !== height) part.img.height = height;
        if (part.img.hidden || value === part.shown) return;
        part.shown = value;
        const url = URL.createObjectURL(new Blob([bytes], { type: "image/png" }));
        part.img.src = url;
        decodes.push(part.img.decode().catch(() => {})); // a newer picture replaced it: its own decode follows
        if (part.url) URL.revokeObjectURL(part.url);
        part.url = url;
      });
      if (decodes.length) decoded = Promise.all(decodes);
    };
    // the controls Python moved (only on a change: a new view shows the controls' own current state already), made
    // after the frame that shows the pictures of the same message
    let moves = null;
    const moveControls = (set) => {
      if (!model.widget_manager) return;
      decoded.then(() =>
        requestAnimationFrame(() =>
          setTimeout(() => {
            for (const [id, name, old, value] of set) {
              model.widget_manager
                .get_model(id)
                .then((control) => moveControl(control, name, old, value))
                .catch((error) => console.warn("cvae playground: cannot move a control", id, error));
            }
          }, 0),
        ),
      );
    };
    // one update for the several attributes one state message changes, then its moves
    let queued = false;
    const schedule = () => {
      if (queued) return;
      queued = true;
      queueMicrotask(() => {
        queued = false;
        update();
        if (moves) moveControls(moves);
        moves = null;
      });
    };
    const names = ["value", "before", "after", "caption", "classes", "sizes", "alts"];
    for (const name of names) model.on(`change:${name}`, schedule);
    const controlsChanged = () => {
      const { set } = model.get("controls") || {};
      if (!set || !set.length) return;
      moves = set;
      schedule();
    };
    model.on("change:controls", controlsChanged);
    update();
    return () => {
      model.off("change:controls", controlsChanged);
      for (const name of names) model.off(`change:${name}`, schedule);
      for (const part of parts) if (part.url) URL.revokeObjectURL(part.url);
    };
  },
};
