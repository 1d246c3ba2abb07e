// When the kernel behind a panel is gone (restarted, died or shut down), the panel says so and takes no more input.
//
// Python puts this file in front of each panel's page module (cvae_course.playground.pages). Without it the panel's
// controls would still move and show stale results after a restart, and a click could throw "Cannot send": the
// kernel that held the panel's state is gone. Two signals, whichever comes: the kernel connection's status
// (JupyterLab's widget manager: "restarting", "autorestarting" after a crash, "dead") or its disposal, and the
// model's comm_live going false (ipywidgets marks the view "jupyter-widgets-disconnected"). watchKernel only
// listens for those: nothing runs on the input path until the kernel goes.

const KERNEL_GONE_TEXT = "The kernel restarted: run this cell again to use this panel.";
const KERNEL_GONE_STATES = ["restarting", "autorestarting", "dead"];

/** Watch `model`'s kernel; when it goes, show the notice at the top of `el`'s panel and make the panel inert. */
function watchKernel(model, el) {
  const gone = () => {
    if (el.dataset.kernel === "gone") return;
    el.dataset.kernel = "gone";
    model.send = model.save_changes = () => {}; // a timer still pending (e.g. a sync after a drag) sends nothing
    const panel = el.closest(".cvae-panel") ?? el; // the kernel panels' box, or a browser panel itself
    panel.classList.add("cvae-kernel-gone");
    panel.inert = true; // no pointer, no keyboard focus: nothing reaches a kernel that is not there
    if (panel.querySelector(":scope > .cvae-kernel-gone-note")) return; // one notice per panel
    const note = document.createElement("div");
    note.className = "cvae-kernel-gone-note";
    note.setAttribute("role", "alert");
    note.textContent = KERNEL_GONE_TEXT;
    panel.prepend(note); // at the top of the panel, where the learner looks first
  };
  const kernel = model.widget_manager?.kernel;
  kernel?.statusChanged?.connect((_, status) => { if (KERNEL_GONE_STATES.includes(status)) gone(); });
  kernel?.disposed?.connect(gone);
  model.on("comm_live_update", () => setTimeout(() => { // after ipywidgets has marked the view
    if (el.classList.contains("jupyter-widgets-disconnected")) gone();
  }, 0));
}

