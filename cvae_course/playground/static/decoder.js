// The CVAE decoder, run in the page: the playground's generator and interpolation path (cvae_course.browser_decoder).
//
// The kernel sends the dense decoder's weights once (a DecoderWeights widget: float32 binary buffer + layout); every
// input event then runs the forward pass and the sigmoid here and draws the picture into a canvas, without a kernel
// message. The Python object follows the page: z, label and temperature are written back once the learner rests
// for `sync_ms` milliseconds, and at once when a drag ends or a button is clicked. No network access: this file
// ships with the Python package and reaches the page through the widget's own comm.
//
// An input handler does only what the next frame must show: the forward pass and the picture (and the map's ring).
// Everything else - the write-back to Python, the readouts and labels, the latent map's slices, the interpolation
// strip - runs after that frame (afterFrame) or when the page is idle, so that the picture is painted in the frame
// that follows the input.
//
// For tests and benchmarks the root element carries `el.cvaeDecoder` (decode arbitrary codes, read the last
// probabilities and the state) and the large picture's canvas counts its draws in `data-frame`.

const DIGITS = 10;
const SIDE = 28;
const PIXELS = SIDE * SIDE;
const Z_LIMIT = 3;
const Z_STEP = 0.05;
const MAP_SLICE_MS = 3; // the latent map is decoded in idle slices at most this long: input never waits behind it
const AFTER_FRAME_FALLBACK_MS = 100; // deferred work runs even where no frame comes (a hidden tab runs no frames)
const MAP_DEBOUNCE_MS = 150; // after a temperature change: redraw the map once the slider rests
// Element ids (label for=...) are unique on the page: every panel may load its own copy of this module, so a counter
// alone would restart at 1 in each and two panels would share ids (a label would tick another panel's box).
const ID_PREFIX = `cvae-b-${Math.random().toString(36).slice(2, 10)}-`;
let uid = 0;
const newId = () => `${ID_PREFIX}${++uid}`;
// JupyterLab's keyboard shortcuts (arrow keys move between cells in command mode) would otherwise swallow the arrow
// keys of a focused range input or the latent map; this attribute tells Lumino to leave them to the control.
const OWN_KEYS = { "data-lm-suppress-shortcuts": "true" };

// ------------------------------------------------------------------------------------------------ the network
class Net {
  constructor(spec, buffer) {
    // Copy the bytes: the buffer's offset inside the message need not be 4-byte aligned for a Float32Array view.
    const bytes = buffer instanceof DataView
      ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
      : new Uint8Array(buffer.buffer ?? buffer);
    const floats = new Float32Array(bytes.slice().buffer);
    if (floats.length !== spec.floats) {
      throw new Error(`decoder weights: expected ${spec.floats} floats, got ${floats.length}`);
    }
    this.latentDim = spec.latent_dim;
    this.numLabels = spec.num_labels;
    this.layers = spec.layers.map((l) => ({
      nIn: l.n_in, nOut: l.n_out, relu: l.activation === "relu",
      W: floats.subarray(l.w, l.w + l.n_in * l.n_out), b: floats.subarray(l.b, l.b + l.n_out),
      out: new Float64Array(l.n_out),
    }));
    this.input = new Float64Array(this.latentDim + this.numLabels);
  }

  /** Pixel probabilities sigmoid(decoder(temperature * z, label)) into `out` (784 values, row by row). */
  forward(z, label, temperature, out) {
    const x = this.input;
    for (let i = 0; i < this.latentDim; i++) x[i] = temperature * z[i];
    for (let k = 0; k < this.numLabels; k++) x[this.latentDim + k] = label[k];
    let h = x;
    for (const layer of this.layers) {
      const { nIn, nOut, W, b, out: y } = layer;
      for (let j = 0; j < nOut; j++) y[j] = b[j];
      for (let i = 0; i < nIn; i++) {
        const hi = h[i];
        if (hi === 0) continue; // relu zeros and the nine zeros of a one-hot label cost nothing
        const row = i * nOut;
        for (let j = 0; j < nOut; j++) y[j] += hi * W[row + j];
      }
      if (layer.relu) for (let j = 0; j < nOut; j++) if (y[j] < 0) y[j] = 0;
      h = y;
    }
    for (let p = 0; p < PIXELS; p++) out[p] = 1 / (1 + Math.exp(-h[p]));
    return out;
  }
}

const nets = new WeakMap(); // DecoderWeights model -> Net: several panels of one CVAE share one copy

async function netOf(model) {
  const ref = model.get("decoder");
  const weights = await model.widget_manager.get_model(String(ref).replace(/^IPY_MODEL_/, ""));
  if (!nets.has(weights)) nets.set(weights, new Net(weights.get("spec"), weights.get("weights")));
  return nets.get(weights);
}

// ------------------------------------------------------------------------------------------------ helpers
function make(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("aria-") || key.startsWith("data-") || key === "role" || key === "for") {
      node.setAttribute(key, value);
    } else node[key] = value;
  }
  for (const child of children) node.append(child);
  return node;
}

function slider(name, min, max, step, value, cls) {
  const id = newId();
  const input = make("input", { type: "range", id, min, max, step, value, class: cls, ...OWN_KEYS });
  const out = make("output", { class: "cvae-b-readout", for: id, text: Number(value).toFixed(2) });
  const row = make("div", { class: "cvae-b-row" }, [make("label", { for: id, text: name }), input, out]);
  return { row, input, out };
}

// DOM writes only when something changed: an unchanged text or attribute written again still costs a style and
// layout pass in the next frame, on the latency path of every input.
const setText = (node, text) => { if (node.textContent !== text) node.textContent = text; };
const setAttr = (node, name, value) => { if (node.getAttribute(name) !== value) node.setAttribute(name, value); };

const snap = (v) => Math.min(Z_LIMIT, Math.max(-Z_LIMIT, Math.round(v / Z_STEP) * Z_STEP));
const clampZ = (v) => Math.min(Z_LIMIT, Math.max(-Z_LIMIT, v));
const oneHot = (d) => Array.from({ length: DIGITS }, (_, k) => (k === d ? 1 : 0));
const same = (a, b) => a.length === b.length && a.every((v, i) => Math.abs(v - b[i]) < 1e-9);

function gaussian() {
  let u = 0;
  while (u === 0) u = Math.random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * Math.random());
}

/** The theme's paper and ink colours as [r, g, b] and its accent colour (JupyterLab's variables; white, black and
 * blue elsewhere). Read once per theme: reading styles on every input would force a style recalculation. */
function themeColours(root) {
  const probe = make("span", { class: "cvae-b-probe" });
  root.append(probe);
  const read = (css) => {
    probe.style.color = css;
    const m = getComputedStyle(probe).color.match(/[\d.]+/g) || ["0", "0", "0"];
    return m.slice(0, 3).map(Number);
  };
  const colours = { paper: read("var(--jp-layout-color0, #fff)"), ink: read("var(--jp-content-font-color0, #000)"),
    accent: `rgb(${read("var(--jp-brand-color1, #1976d2)").join(",")})` };
  probe.remove();
  return colours;
}

/** Draws 28 x 28 probabilities, ink on paper, into a canvas of `size` CSS pixels per side (or width x height). */
class Picture {
  constructor(cls, width, height = width) {
    this.canvas = make("canvas", { class: cls, role: "img" });
    this.small = document.createElement("canvas");
    this.frame = 0;
    this.resize(width, height);
  }

  resize(width, height = width) {
    const dpr = window.devicePixelRatio || 1;
    this.width = width;
    this.height = height;
    this.canvas.width = Math.round(width * dpr);
    this.canvas.height = Math.round(height * dpr);
    this.canvas.style.width = `${width}px`; // the height follows the canvas's own shape (playground.css: a narrow
    // cell shrinks the picture, max-width 100%, and the height with it)
  }

  /** `cells`: probability arrays (784 each) drawn side by side, `cols` per row. */
  draw(cells, colours, smooth, cols = 1) {
    const rows = Math.ceil(cells.length / cols);
    if (this.small.width !== cols * SIDE || this.small.height !== rows * SIDE) {
      this.small.width = cols * SIDE;
      this.small.height = rows * SIDE;
      this.image = null;
    }
    const ctx = this.small.getContext("2d");
    this.image = this.image || ctx.createImageData(cols * SIDE, rows * SIDE);
    paint(this.image, cells, colours, cols);
    ctx.putImageData(this.image, 0, 0);
    const out = this.canvas.getContext("2d");
    out.imageSmoothingEnabled = !!smooth;
    out.imageSmoothingQuality = "high";
    out.clearRect(0, 0, this.canvas.width, this.canvas.height);
    out.drawImage(this.small, 0, 0, this.canvas.width, this.canvas.height);
    this.canvas.dataset.frame = String(++this.frame);
  }
}

function paint(image, cells, { paper, ink }, cols, first = 0) {
  const data = image.data;
  const width = image.width;
  for (let c = 0; c < cells.length; c++) {
    const probs = cells[c];
    if (!probs) continue;
    const k = first + c;
    const left = (k % cols) * SIDE;
    const top = Math.floor(k / cols) * SIDE;
    for (let r = 0; r < SIDE; r++) {
      let o = ((top + r) * width + left) * 4;
      for (let q = 0; q < SIDE; q++, o += 4) {
        const p = probs[r * SIDE + q];
        data[o] = paper[0] + p * (ink[0] - paper[0]);
        data[o + 1] = paper[1] + p * (ink[1] - paper[1]);
        data[o + 2] = paper[2] + p * (ink[2] - paper[2]);
        data[o + 3] = 255;
      }
    }
  }
}

/** Browser -> kernel sync, once the learner rests: a state message `sync_ms` after the last change (a drag sends
 * nothing while it moves: every message makes the kernel busy and idle, and JupyterLab's status updates cost the
 * page frames), and at once when a drag ends or a button is clicked (now()). */
function syncer(model) {
  let timer = null;
  const send = () => {
    timer = null;
    model.save_changes();
  };
  return {
    later() {
      if (timer !== null) clearTimeout(timer);
      timer = setTimeout(send, model.get("sync_ms"));
    },
    now() {
      if (timer !== null) clearTimeout(timer);
      send();
    },
    cancel() {
      if (timer !== null) clearTimeout(timer);
      timer = null;
    },
  };
}

/** Runs `fn` once, right after the next frame has been produced (requestAnimationFrame, then a task), or after
 * AFTER_FRAME_FALLBACK_MS when no frame comes. Work that the next frame need not show goes here, off the latency
 * path of the input that caused it. Returns a function that runs `fn` at once if it is still pending. */
function afterFrame(fn) {
  let done = false;
  const run = () => {
    if (done) return;
    done = true;
    clearTimeout(fallback);
    fn();
  };
  const fallback = setTimeout(run, AFTER_FRAME_FALLBACK_MS);
  requestAnimationFrame(() => setTimeout(run, 0));
  return run;
}

/** Coalesced afterFrame: `schedule()` many times per frame, `fn` runs once after the frame. */
function deferred(fn) {
  let pending = null;
  return {
    schedule() {
      if (pending === null) pending = afterFrame(() => { pending = null; fn(); });
    },
    flush() {
      if (pending !== null) pending();
    },
  };
}

/** Calls `fn(deadline)` when the page is idle (requestIdleCallback where there is one); `deadline()` is the time left
 * in ms. Long work sliced this way never delays an input or a frame by more than its slice. */
function whenIdle(fn) {
  const slice = (idleLeft) => {
    const end = performance.now() + MAP_SLICE_MS;
    fn(() => Math.min(idleLeft(), end - performance.now()));
  };
  if (typeof requestIdleCallback === "function") {
    requestIdleCallback((d) => slice(() => d.timeRemaining()), { timeout: 500 });
  } else setTimeout(() => slice(() => Infinity), 0);
}

function pathNote() {
  return make("div", { class: "cvae-b-path", role: "note" }, [
    make("span", { class: "cvae-b-badge", text: "browser" }),
    " decoded in your browser: the picture follows every move without a round trip to the Python kernel",
  ]);
}

function themeWatcher(onChange) {
  const observer = new MutationObserver(onChange);
  observer.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-light", "data-jp-theme-name"] });
  return () => observer.disconnect();
}

// ------------------------------------------------------------------------------------------------ generator
function renderGenerator(model, el, net) {
  const latentDim = net.latentDim;
  const st = { z: model.get("z").slice(), label: model.get("label").slice(), temperature: model.get("temperature") };
  const probs = new Float64Array(PIXELS);
  const sync = syncer(model);
  let colours = themeColours(el);
  let decodeMs = 0;

  // controls
  const buttons = Array.from({ length: DIGITS }, (_, d) =>
    make("button", { class: "cvae-b-digit", type: "button", text: String(d), "aria-pressed": "false" }));
  const digitRow = make("div", { class: "cvae-b-digits", role: "group", "aria-label": "digit" },
    [make("span", { class: "cvae-b-name", text: "digit" }), ...buttons]);
  const sliders = Array.from({ length: Math.min(latentDim, 4) }, (_, i) =>
    slider(`z[${i}]`, -Z_LIMIT, Z_LIMIT, Z_STEP, st.z[i], `cvae-b-z${i}`));
  const temp = slider("temperature", 0.1, 2, 0.05, st.temperature, "cvae-b-temperature");
  const newStyle = make("button", { class: "cvae-b-button cvae-b-new-style", type: "button", text: "new random style" });
  const smooth = make("input", { type: "checkbox", id: newId(), checked: model.get("smooth") });
  const smoothLabel = make("label", { class: "cvae-b-check", for: smooth.id }, [smooth, " smooth scaling"]);

  // picture and map
  const size = SIDE * model.get("scale");
  const picture = new Picture("cvae-b-picture", size);
  const readout = make("div", { class: "cvae-b-caption" });
  const cells = model.get("map_cells");
  const mapSize = cells * SIDE;
  const hasMap = latentDim >= 2;
  const mapPicture = new Picture("cvae-b-map-image", mapSize);
  const marker = make("canvas", { class: "cvae-b-map-marker", width: mapSize, height: mapSize });
  const map = make("div", {
    class: "cvae-b-map", tabIndex: 0, role: "slider", "aria-roledescription": "2-D latent map", ...OWN_KEYS,
    "aria-label": "latent code z[0], z[1]: click or drag, or use the arrow keys (Shift: larger steps)",
  }, [mapPicture.canvas, marker]);
  map.style.width = map.style.height = `${mapSize}px`;
  const mapCaption = make("div", { class: "cvae-b-caption" });

  const left = make("div", { class: "cvae-b-col" }, hasMap ? [map, mapCaption] : []);
  const right = make("div", { class: "cvae-b-col" }, [picture.canvas, readout]);
  el.classList.add("cvae-b", "cvae-browser-generator");
  el.replaceChildren(pathNote(), digitRow, make("div", { class: "cvae-b-panes" }, [left, right]),
    ...sliders.map((s) => s.row), temp.row, make("div", { class: "cvae-b-row" }, [newStyle, smoothLabel]));

  // drawing
  const digitOf = () => {
    let best = 0;
    for (let k = 1; k < DIGITS; k++) if (st.label[k] > st.label[best]) best = k;
    return best;
  };
  const isOneHot = () => st.label.filter((v) => v > 0).length === 1;

  /** The picture and the map's ring: what the next frame shows. The rest follows after the frame. */
  function show() {
    const t0 = performance.now();
    net.forward(st.z, st.label, st.temperature, probs);
    picture.draw([probs], colours, smooth.checked);
    decodeMs = performance.now() - t0;
    drawMarker();
    after.schedule();
  }

  /** Readouts, labels, the sliders' positions, the latent map and the write-back: after the frame. */
  let disposed = false;
  function readouts() {
    if (disposed) return;
    picture.canvas.dataset.decodeMs = decodeMs.toFixed(3);
    const labelText = isOneHot() ? `digit ${digitOf()}`
      : "label " + st.label.map((v, k) => (v > 0 ? `${v.toFixed(2)}·${k}` : "")).filter(Boolean).join(" + ");
    const zText = st.z.map((v) => v.toFixed(2)).join(", ");
    setText(readout, `${labelText}, z = [${zText}], temperature ${st.temperature.toFixed(2)}`);
    setAttr(picture.canvas, "aria-label", `generated ${readout.textContent}`);
    buttons.forEach((b, d) => setAttr(b, "aria-pressed", String(isOneHot() && d === digitOf())));
    sliders.forEach((s, i) => {
      if (Number(s.input.value) !== st.z[i]) s.input.value = st.z[i];
      setText(s.out, st.z[i].toFixed(2));
    });
    if (Number(temp.input.value) !== st.temperature) temp.input.value = st.temperature;
    setText(temp.out, st.temperature.toFixed(2));
    setAttr(map, "aria-valuetext", `z[0] = ${st.z[0].toFixed(2)}, z[1] = ${st.z[1].toFixed(2)}`);
    scheduleMap(mapDelay);
    mapDelay = 0;
    writeBack();
  }
  const after = deferred(readouts);
  let mapDelay = 0; // a temperature or hidden-dimension change redraws the map only once the slider rests

  // the latent map: decoded in slices between input events, restarted when label, temperature or hidden dims change
  let mapJob = 0;
  let mapKey = "";
  function scheduleMap(delay = 0) {
    if (!hasMap) return;
    const key = JSON.stringify([st.label, st.temperature, st.z.slice(2), colours]);
    if (key === mapKey) return;
    mapKey = key;
    const job = ++mapJob;
    const label = st.label.slice();
    const temperature = st.temperature;
    const code = st.z.slice();
    const out = new Float64Array(PIXELS);
    let k = 0;
    setText(mapCaption, "drawing the latent map ...");
    const step = (left) => {
      if (job !== mapJob) return;
      const first = k;
      const slice = [];
      while (k < cells * cells && (k === first || left() > 0)) {
        const row = Math.floor(k / cells);
        const col = k % cells;
        code[0] = -Z_LIMIT + ((col + 0.5) * 2 * Z_LIMIT) / cells;
        code[1] = Z_LIMIT - ((row + 0.5) * 2 * Z_LIMIT) / cells;
        slice.push(Float64Array.from(net.forward(code, label, temperature, out)));
        k++;
      }
      mapPicture.drawSlice(slice, first, cells, colours);
      if (k < cells * cells) whenIdle(step);
      else mapCaption.textContent = `the decoded ${isOneHot() ? `digit ${digitOf()}` : "label mix"} over z[0] `
        + `(left to right) and z[1] (bottom to top), -3 to 3; the ring is your code`;
    };
    if (delay > 0) setTimeout(() => whenIdle(step), delay);
    else whenIdle(step);
  }
  mapPicture.drawSlice = function (slice, first, cols, cs) {
    if (this.small.width !== cols * SIDE) {
      this.small.width = this.small.height = cols * SIDE;
      this.image = this.small.getContext("2d").createImageData(cols * SIDE, cols * SIDE);
    }
    paint(this.image, slice, cs, cols, first);
    this.small.getContext("2d").putImageData(this.image, 0, 0);
    const out = this.canvas.getContext("2d");
    out.imageSmoothingEnabled = false;
    out.drawImage(this.small, 0, 0, this.canvas.width, this.canvas.height);
  };

  function drawMarker() {
    if (!hasMap) return;
    const ctx = marker.getContext("2d");
    ctx.clearRect(0, 0, mapSize, mapSize);
    const x = ((st.z[0] + Z_LIMIT) / (2 * Z_LIMIT)) * mapSize;
    const y = ((Z_LIMIT - st.z[1]) / (2 * Z_LIMIT)) * mapSize;
    for (const [width, colour] of [[5, `rgb(${colours.paper})`], [2.5, colours.accent]]) {
      ctx.beginPath();
      ctx.lineWidth = width;
      ctx.strokeStyle = colour;
      ctx.arc(x, y, 9, 0, 2 * Math.PI);
      ctx.stroke();
    }
  }

  // state -> model: after the frame (readouts calls writeBack), coalesced while dragging, at once when flushed
  let flushWanted = false;
  let dirty = false;
  function writeBack() {
    if (!dirty) return;
    dirty = false;
    model.set("z", st.z.slice());
    model.set("label", st.label.slice());
    model.set("temperature", st.temperature);
    if (flushWanted) sync.now();
    else sync.later();
    flushWanted = false;
  }
  function changed(flush) {
    dirty = true;
    flushWanted = flushWanted || flush;
    after.schedule();
  }

  // events
  buttons.forEach((b, d) => b.addEventListener("click", () => {
    st.label = oneHot(d);
    show();
    changed(true);
  }));
  sliders.forEach((s, i) => {
    s.input.addEventListener("input", () => {
      st.z[i] = Number(s.input.value);
      if (i >= 2) mapDelay = MAP_DEBOUNCE_MS;
      show();
      changed(false);
    });
    s.input.addEventListener("change", () => changed(true));
  });
  temp.input.addEventListener("input", () => {
    st.temperature = Number(temp.input.value);
    mapDelay = MAP_DEBOUNCE_MS;
    show();
    changed(false);
  });
  temp.input.addEventListener("change", () => changed(true));
  newStyle.addEventListener("click", () => {
    st.z = st.z.map(() => snap(gaussian()));
    show();
    changed(true);
  });
  smooth.addEventListener("change", () => {
    model.set("smooth", smooth.checked);
    model.save_changes();
    show();
  });

  let dragging = false;
  const fromPointer = (event) => {
    const box = map.getBoundingClientRect();
    st.z[0] = snap(-Z_LIMIT + (2 * Z_LIMIT * (event.clientX - box.left)) / box.width);
    st.z[1] = snap(Z_LIMIT - (2 * Z_LIMIT * (event.clientY - box.top)) / box.height);
  };
  map.addEventListener("pointerdown", (event) => {
    dragging = true;
    try {
      map.setPointerCapture(event.pointerId); // keep the drag when the pointer leaves the map
    } catch (error) {
      // a synthetic event has no active pointer to capture; the drag still works inside the map
    }
    map.focus();
    fromPointer(event);
    show();
    changed(false);
  });
  map.addEventListener("pointermove", (event) => {
    if (!dragging) return;
    fromPointer(event);
    show();
    changed(false);
  });
  const release = () => {
    if (!dragging) return;
    dragging = false;
    changed(true);
  };
  map.addEventListener("pointerup", release);
  map.addEventListener("pointercancel", release);
  map.addEventListener("keydown", (event) => {
    const step = event.shiftKey ? 10 * Z_STEP : Z_STEP;
    const moves = { ArrowLeft: [0, -step], ArrowRight: [0, step], ArrowDown: [1, -step], ArrowUp: [1, step] };
    if (event.key === "Home") {
      st.z[0] = 0;
      st.z[1] = 0;
    } else if (moves[event.key]) {
      const [i, d] = moves[event.key];
      st.z[i] = snap(st.z[i] + d);
    } else return;
    event.preventDefault();
    show();
    changed(false);
  });
  map.addEventListener("keyup", (event) => {
    if (event.key.startsWith("Arrow") || event.key === "Home") changed(true);
  });

  // model -> state (Python set_label / set_latent / set_temperature, or another view of the same widget)
  const fromModel = () => {
    const z = model.get("z");
    const label = model.get("label");
    const temperature = model.get("temperature");
    if (same(z, st.z) && same(label, st.label) && temperature === st.temperature) return;
    st.z = z.slice();
    st.label = label.slice();
    st.temperature = temperature;
    show();
  };
  model.on("change:z", fromModel);
  model.on("change:label", fromModel);
  model.on("change:temperature", fromModel);
  model.on("change:smooth", () => {
    smooth.checked = model.get("smooth");
    show();
  });
  const unwatch = themeWatcher(() => {
    colours = themeColours(el);
    show();
  });

  el.cvaeDecoder = hooks(net, () => probs, () => ({ ...st, decodeMs, frame: picture.frame }));
  show();
  after.flush();
  return () => {
    disposed = true;
    mapJob++;
    sync.cancel();
    unwatch();
  };
}

// ------------------------------------------------------------------------------------------------ interpolation
function renderInterpolation(model, el, net) {
  const st = {
    a: model.get("start_digit"), b: model.get("end_digit"), za: model.get("start_z").slice(),
    zb: model.get("end_z").slice(), same: model.get("same_style"), t: model.get("t"),
  };
  const steps = model.get("steps");
  const probs = new Float64Array(PIXELS);
  const sync = syncer(model);
  let colours = themeColours(el);
  let decodeMs = 0;

  const select = (name, value) => {
    const id = newId();
    const node = make("select", { id, class: `cvae-b-${name.replace(/ /g, "-")}`, ...OWN_KEYS },
      Array.from({ length: DIGITS }, (_, d) => make("option", { value: d, text: String(d) })));
    node.value = String(value);
    return { node, label: make("label", { for: id, text: name }) };
  };
  const from = select("from digit", st.a);
  const to = select("to digit", st.b);
  const sameBox = make("input", { type: "checkbox", id: newId(), checked: st.same });
  const sameLabel = make("label", { class: "cvae-b-check", for: sameBox.id }, [sameBox, " same style at both ends"]);
  const newStyles = make("button", { class: "cvae-b-button cvae-b-new-styles", type: "button", text: "new styles" });
  const tSlider = slider("t", 0, 1, 0.01, st.t, "cvae-b-t");
  const picture = new Picture("cvae-b-picture", SIDE * model.get("scale"));
  const stripCell = 2 * SIDE;
  const strip = new Picture("cvae-b-strip", steps * stripCell, stripCell);
  const tMarker = make("canvas", { class: "cvae-b-strip-marker", width: steps * stripCell, height: 12 });
  const readout = make("div", { class: "cvae-b-caption" });
  el.classList.add("cvae-b", "cvae-browser-interpolation");
  el.replaceChildren(pathNote(),
    make("div", { class: "cvae-b-row" }, [from.label, from.node, to.label, to.node, sameLabel, newStyles]),
    tSlider.row,
    make("div", { class: "cvae-b-panes" }, [
      make("div", { class: "cvae-b-col" }, [picture.canvas, readout]),
      make("div", { class: "cvae-b-col" }, [strip.canvas, tMarker,
        make("div", { class: "cvae-b-caption", text: `the path at t = 0, ${(1 / (steps - 1)).toFixed(3)}, ..., 1; `
          + "the mark is t" })]),
    ]));

  const point = (t) => {
    const end = st.same ? st.za : st.zb;
    const z = st.za.map((v, i) => (1 - t) * v + t * end[i]);
    const label = oneHot(st.a).map((v, k) => (1 - t) * v + t * oneHot(st.b)[k]);
    return { z, label };
  };

  function drawStrip() {
    const cellsProbs = [];
    const out = new Float64Array(PIXELS);
    for (let k = 0; k < steps; k++) {
      const { z, label } = point(steps > 1 ? k / (steps - 1) : 0);
      cellsProbs.push(Float64Array.from(net.forward(z, label, 1, out)));
    }
    strip.draw(cellsProbs, colours, model.get("smooth"), steps);
  }

  /** The picture and the mark for t: what the next frame shows. The rest follows after the frame. */
  function show() {
    const t0 = performance.now();
    const { z, label } = point(st.t);
    net.forward(z, label, 1, probs);
    picture.draw([probs], colours, model.get("smooth"));
    decodeMs = performance.now() - t0;
    const ctx = tMarker.getContext("2d");
    ctx.clearRect(0, 0, tMarker.width, tMarker.height);
    const x = (0.5 + st.t * (steps - 1)) * stripCell;
    ctx.fillStyle = colours.accent;
    ctx.beginPath();
    ctx.moveTo(x, 0);
    ctx.lineTo(x - 7, 12);
    ctx.lineTo(x + 7, 12);
    ctx.fill();
    after.schedule();
  }

  /** The strip (when the path changed), readouts, the slider's position and the write-back: after the frame. */
  let stripWanted = false;
  function readouts() {
    if (disposed) return;
    if (stripWanted) {
      stripWanted = false;
      drawStrip();
    }
    picture.canvas.dataset.decodeMs = decodeMs.toFixed(3);
    const { z } = point(st.t);
    const mix = st.a === st.b ? `digit ${st.a}` : `label ${(1 - st.t).toFixed(2)}·${st.a} + ${st.t.toFixed(2)}·${st.b}`;
    setText(readout, `t = ${st.t.toFixed(2)}: ${mix}, z = [${z.map((v) => v.toFixed(2)).join(", ")}]`);
    setAttr(picture.canvas, "aria-label", `interpolated ${readout.textContent}`);
    if (Number(tSlider.input.value) !== st.t) tSlider.input.value = st.t;
    setText(tSlider.out, st.t.toFixed(2));
    writeBack();
  }
  const after = deferred(readouts);
  let disposed = false;

  // state -> model: after the frame (readouts calls writeBack), coalesced while dragging, at once when flushed
  let dirty = false;
  let flushWanted = false;
  let allWanted = false;
  function changed(flush, all = false) {
    dirty = true;
    flushWanted = flushWanted || flush;
    allWanted = allWanted || all;
    after.schedule();
  }
  function writeBack() {
    if (!dirty) return;
    const flush = flushWanted;
    const all = allWanted;
    dirty = flushWanted = allWanted = false;
    const { z, label } = point(st.t);
    model.set("t", st.t);
    model.set("z", z);
    model.set("label", label);
    if (all) {
      model.set("start_digit", st.a);
      model.set("end_digit", st.b);
      model.set("start_z", st.za.slice());
      model.set("end_z", st.zb.slice());
      model.set("same_style", st.same);
    }
    if (flush) sync.now();
    else sync.later();
  }

  const pathChanged = () => {
    stripWanted = true; // the picture first; the strip (steps forward passes) after the frame
    show();
    changed(true, true);
  };
  from.node.addEventListener("change", () => { st.a = Number(from.node.value); pathChanged(); });
  to.node.addEventListener("change", () => { st.b = Number(to.node.value); pathChanged(); });
  sameBox.addEventListener("change", () => { st.same = sameBox.checked; pathChanged(); });
  newStyles.addEventListener("click", () => {
    st.za = st.za.map(() => clampZ(gaussian()));
    st.zb = st.zb.map(() => clampZ(gaussian()));
    pathChanged();
  });
  tSlider.input.addEventListener("input", () => {
    st.t = Number(tSlider.input.value);
    show();
    changed(false);
  });
  tSlider.input.addEventListener("change", () => changed(true));

  const fromModel = () => {
    const next = {
      a: model.get("start_digit"), b: model.get("end_digit"), za: model.get("start_z").slice(),
      zb: model.get("end_z").slice(), same: model.get("same_style"), t: model.get("t"),
    };
    const pathSame = next.a === st.a && next.b === st.b && same(next.za, st.za) && same(next.zb, st.zb)
      && next.same === st.same;
    if (pathSame && next.t === st.t) return;
    Object.assign(st, next);
    from.node.value = String(st.a);
    to.node.value = String(st.b);
    sameBox.checked = st.same;
    if (!pathSame) stripWanted = true;
    show();
  };
  for (const name of ["start_digit", "end_digit", "start_z", "end_z", "same_style", "t"]) {
    model.on(`change:${name}`, fromModel);
  }
  model.on("change:smooth", () => { stripWanted = true; show(); });
  const unwatch = themeWatcher(() => {
    colours = themeColours(el);
    stripWanted = true;
    show();
  });

  el.cvaeDecoder = hooks(net, () => probs, () => ({ ...st, ...point(st.t), temperature: 1, decodeMs,
    frame: picture.frame }));
  drawStrip();
  show();
  after.flush();
  return () => {
    disposed = true;
    sync.cancel();
    unwatch();
  };
}

/** What tests and benchmarks read from the page (never used by the panels themselves). */
function hooks(net, lastProbs, state) {
  return {
    /** Probabilities (one array of 784 per code) for codes (N x latent_dim) and label vectors (N x 10). */
    decode(codes, labels, temperature = 1) {
      const out = new Float64Array(PIXELS);
      return codes.map((z, i) => Array.from(net.forward(z, labels[i], temperature, out)));
    },
    last: () => Array.from(lastProbs()),
    state,
    latentDim: net.latentDim,
  };
}

export default {
  async render({ model, el }) {
    watchKernel(model, el); // kernel.js: "run this cell again" once the kernel is gone
    let net;
    try {
      net = await netOf(model);
    } catch (error) {
      el.textContent = `The browser decoder could not start: ${error}. Re-run the cell; if it persists, use the `
        + "kernel-decoded panels (cvae_course.playground.panels).";
      el.classList.add("cvae-b", "cvae-b-error");
      return undefined;
    }
    const panel = model.get("panel");
    if (panel === "generator") return renderGenerator(model, el, net);
    if (panel === "interpolation") return renderInterpolation(model, el, net);
    el.textContent = `unknown browser-decoded panel ${JSON.stringify(panel)}`;
    return undefined;
  },
};
