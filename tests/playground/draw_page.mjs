// draw.js in Node, against a fake page and a fake widget model (tests/playground/test_draw_page.py runs it).
// Usage: node draw_page.mjs <path of draw.js copied as .mjs> <its KEPT>. Prints one JSON object: what each scenario
// saw.
// Blob URLs are counted (live / revoked), images decode after a millisecond, the model records what the view sends,
// and the kernel's messages are replayed by hand, in the orders the tests want. `kernel` is the drawing the kernel
// holds: Python's (m.python) or the page's updates, applied when the test says the kernel got them (m.deliver).

const live = new Set();
let urls = 0;
globalThis.URL.createObjectURL = () => { const url = `blob:${++urls}`; live.add(url); return url; };
globalThis.URL.revokeObjectURL = (url) => live.delete(url);
globalThis.window = { devicePixelRatio: 1 };
globalThis.Image = class { decode() { return new Promise((resolve) => setTimeout(resolve, 1)); } };
function node(tag) {
  const listeners = {};
  return {
    tag, dataset: {}, style: {}, attrs: {}, children: [], classList: { add() {} },
    setAttribute(k, v) { this.attrs[k] = v; }, append(c) { this.children.push(c); },
    replaceChildren(...c) { this.children = c; },
    addEventListener(type, f) { (listeners[type] ||= []).push(f); },
    fire(type, event = {}) { for (const f of listeners[type] || []) f(event); },
    getContext: () => new Proxy({}, { get: (o, k) => (k in o ? o[k] : () => {}), set: (o, k, v) => { o[k] = v; return true; } }),
    setPointerCapture() {}, getBoundingClientRect: () => ({ left: 0, top: 0, width: 100, height: 100 }),
  };
}
globalThis.document = { createElement: node };
const { default: widget } = await import(process.argv[2]);
const KEPT = Number(process.argv[3]); // the readings a view keeps besides the empty pad's

function model(state) {
  const listeners = {};
  const fire = (name) => { for (const f of listeners[name] || []) f(); };
  return {
    state: { size: 100, pen: 0.1, strokes: [], revision: "", ...state }, pending: {}, out: [], delivered: 0,
    kernel: { strokes: state?.strokes ?? [], revision: state?.revision ?? "" },
    get(k) { return this.state[k]; },
    set(k, v) { this.state[k] = v; this.pending[k] = v; fire(`change:${k}`); },
    on(name, f) { (listeners[name] ||= []).push(f); },
    send(content) { this.out.push({ custom: content }); },
    save_changes() { this.out.push({ update: this.pending }); this.pending = {}; },
    fromKernel(k, v) { this.state[k] = v; fire(`change:${k}`); }, // a state update from the kernel
    python(strokes, revision) { // DrawDigit.draw(...) in the kernel: its state, then one update to the page
      this.kernel = { strokes, revision };
      this.state.strokes = strokes; // one update: both are set before either change fires, as in Backbone
      this.state.revision = revision;
      fire("change:strokes");
      fire("change:revision");
    },
    deliver() { // the kernel gets the page's updates sent so far; returns the revision it holds
      for (const { update } of this.out.slice(this.delivered)) if (update) Object.assign(this.kernel, update);
      this.delivered = this.out.length;
      return this.kernel.revision;
    },
    reading(revision, name, empty) { // the kernel's reading (not awaited: decoding runs on)
      const bytes = (s) => new TextEncoder().encode(s);
      const msg = { kind: "reading", revision, summary: name, bars: name };
      const buffers = [bytes(`${name} preview`), bytes(`${name} redrawn`)];
      if (empty) { msg.empty = { summary: empty, bars: empty }; buffers.push(bytes("e1"), bytes("e2")); }
      return Promise.all((listeners["msg:custom"] || []).map((f) => f(msg, buffers)));
    },
  };
}
function view(m) {
  const el = node("div");
  const cleanup = widget.render({ model: m, el });
  const find = (cls) => {
    const walk = (n) => {
      if (n.className?.includes?.(cls)) return n;
      for (const c of n.children || []) if (typeof c === "object") { const r = walk(c); if (r) return r; }
      return undefined;
    };
    return walk(el);
  };
  const canvas = find("cvae-draw-canvas");
  return {
    el, cleanup, summary: find("cvae-draw-summary"), redrawn: find("cvae-draw-redrawn"),
    stroke(x = 50, y = 50) {
      canvas.fire("pointerdown", { clientX: x, clientY: y, pointerId: 1, preventDefault() {} });
      canvas.fire("pointerup");
      return m.state.revision; // the revision the view sent with it
    },
    undo() { find("cvae-draw-undo").fire("click"); return m.state.revision; },
    clear() { find("cvae-draw-clear").fire("click"); return m.state.revision; },
    seen() {
      return { summary: this.summary.innerHTML, shown: el.dataset.shown, reading: el.dataset.reading,
               revoked: Boolean(this.redrawn.src) && !live.has(this.redrawn.src), strokes: canvas.dataset.strokes };
    },
  };
}
const settle = () => new Promise((resolve) => setTimeout(resolve, 10));
const out = {};

{ // the same reading twice (a second view's refresh answered with the same revision) before the first is decoded
  const m = model();
  const v = view(m);
  await m.reading("", "empty");
  const rev = v.stroke();
  m.reading(rev, "one");
  m.reading(rev, "one");
  await settle();
  out.same_reading_twice = v.seen();
}
{ // clear after more strokes than the view keeps readings
  const m = model();
  const v = view(m);
  await m.reading("", "empty");
  for (let i = 1; i <= 30; i++) await m.reading(v.stroke(i, 10), `d${i}`);
  await settle();
  v.clear();
  out.clear_after_30_strokes = v.seen();
}
{ // a view opened after draw(...) from Python: the refresh answer carries the empty reading, clear shows it at once
  const m = model({ strokes: [[[0.5, 0.1], [0.5, 0.9]]], revision: "py-1" });
  const v = view(m);
  await m.reading("py-1", "one", "empty");
  await settle();
  out.refresh_then_clear = { before: v.seen(), after: (v.clear(), v.seen()) };
}
{ // a page stroke in flight while Python sets a drawing: the kernel reads the stroke's drawing after Python's
  const m = model();
  const v = view(m);
  await m.reading("", "empty");
  await m.reading(v.stroke(50, 10), "P");
  m.deliver();
  const pq = v.stroke(20, 20); // in flight: the kernel has not seen it yet
  const revisions = [pq];
  m.python([[[0.9, 0.9]]], "py-1"); // DrawDigit.draw(...) ran first in the kernel
  await m.reading("py-1", "PY");
  const got = m.deliver(); // then the kernel got the page's stroke and read it
  await m.reading(got, "PQ"); // no longer current on the page, which shows Python's drawing
  await settle();
  const sentBack = m.deliver(); // what the page sent after that reading (the drawing it shows, if anything)
  const shown = v.seen();
  if (sentBack !== got) await m.reading(sentBack, "PY"); // the kernel's answer to it
  await settle();
  out.python_races_a_stroke = {
    shown, after: v.seen(), kernel: m.kernel.strokes, page: m.state.strokes, resent: sentBack !== got,
  };
  revisions.push(sentBack);
  m.python([[[0.5, 0.1]], [[0.2, 0.2]]], "py-2"); // Python draws P and Q again ...
  revisions.push(v.stroke(70, 70)); // ... and the learner adds a stroke before that reading comes
  revisions.push(v.undo()); // back to P and Q: its kept reading is the page's, read by the kernel as "PQ"
  out.python_races_a_stroke.undo = v.seen();
  out.python_races_a_stroke.revisions = revisions;
}
{ // the current reading still decoding while readings of KEPT older drawings of this view push it out of the kept ones
  const m = model();
  const v = view(m);
  await m.reading("", "empty");
  const revs = [];
  for (let i = 0; i <= KEPT; i++) revs.push(v.stroke(i, 10)); // no reading yet: the last one is the current drawing
  m.reading(revs[KEPT], "current"); // not awaited: it decodes ...
  for (let i = 0; i < KEPT; i++) m.reading(revs[i], `old${i}`); // ... while these are kept, newer than it
  await settle();
  out.current_pushed_out_while_decoding = v.seen();
}
{ // a reading still decoding when the view is removed: never shown, its pictures revoked
  const m = model();
  const v = view(m);
  const before = live.size;
  await m.reading("", "empty");
  m.reading(v.stroke(), "late");
  v.cleanup();
  await settle();
  out.decoding_at_cleanup = { summary: v.summary.innerHTML, live: live.size - before };
}
{ // undo before any reading came back, then the readings in order
  const m = model();
  const v = view(m);
  await m.reading("", "empty");
  const revs = [v.stroke(50, 10), v.stroke(20, 20), v.undo()];
  const before = v.seen();
  for (const [rev, name] of [[revs[0], "s1"], [revs[1], "s1s2"], [revs[2], "s1"]]) await m.reading(rev, name);
  await settle();
  out.undo_before_readings = { before, after: v.seen() };
}
{ // many strokes and undos: the picture on screen is never revoked, the kept URLs are bounded, cleanup frees all
  const m = model();
  const v = view(m);
  const before = live.size; // the other scenarios' views
  await m.reading("", "empty");
  let maxLive = 0;
  let revoked = 0;
  for (let i = 0; i < 200; i++) {
    const rev = i % 3 === 2 && v.seen().strokes !== "0" ? v.undo() : v.stroke(i % 97, (i * 7) % 89);
    if (i % 2) await m.reading(rev, `r${i}`);
    if (i % 5 === 0) m.reading(rev, `r${i}`); // twice, not awaited
    await settle();
    revoked += v.seen().revoked;
    maxLive = Math.max(maxLive, live.size - before);
  }
  v.cleanup();
  out.many = { maxLive, revoked, liveAfterCleanup: live.size - before };
}
process.stdout.write(JSON.stringify(out));
