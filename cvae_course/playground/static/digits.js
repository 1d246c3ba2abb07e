// The digit buttons 0-9 of a kernel-decoded panel (cvae_course.playground.panels.DigitButtons), in ONE widget.
//
// A press sets the widget's `value` and saves it: one page-to-kernel request (ipywidgets' ToggleButtons sends two,
// a click event and the index), answered by the panel's one picture update; the kernel does not echo the value.
// The pressed digit is marked with aria-pressed (styled in playground.css). Keyboard: Tab reaches the row once, at
// the pressed digit (a roving tabindex: the others are -1), the arrow keys (and Home, End) move between the buttons,
// Enter or Space presses one. Nothing here reaches the network.

const DIGITS = 10;

export default {
  render({ model, el }) {
    const label = document.createElement("span");
    label.className = "cvae-digit-label widget-label";
    const buttons = Array.from({ length: DIGITS }, (_, digit) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "cvae-digit";
      button.textContent = String(digit);
      button.setAttribute("aria-pressed", "false");
      button.setAttribute("data-lm-suppress-shortcuts", "true"); // the arrow keys are the row's, not the notebook's
      return button;
    });
    el.classList.add("cvae-digit-buttons");
    el.setAttribute("role", "group");
    el.replaceChildren(label, ...buttons);

    const update = () => {
      const description = model.get("description");
      if (label.textContent !== description) label.textContent = description;
      el.setAttribute("aria-label", description);
      label.style.width = label.style.minWidth = model.get("description_width");
      const value = model.get("value");
      buttons.forEach((button, digit) => {
        const pressed = String(digit === value);
        if (button.getAttribute("aria-pressed") !== pressed) button.setAttribute("aria-pressed", pressed);
        const tabIndex = digit === value ? 0 : -1; // one Tab stop for the row
        if (button.tabIndex !== tabIndex) button.tabIndex = tabIndex;
      });
    };
    const press = (digit) => {
      if (digit === model.get("value")) return; // no change, no request (the picture shows this digit already)
      model.set("value", digit); // marks the button at once (change:value)
      model.save_changes(); // the one request
    };
    const onClick = (event) => {
      const digit = buttons.indexOf(event.target.closest("button"));
      if (digit >= 0) press(digit);
    };
    const onKey = (event) => {
      const at = buttons.indexOf(document.activeElement);
      if (at < 0) return;
      const to = { ArrowLeft: at - 1, ArrowUp: at - 1, ArrowRight: at + 1, ArrowDown: at + 1, Home: 0, End: DIGITS - 1 }[
        event.key
      ];
      if (to === undefined) return;
      event.preventDefault();
      buttons[(to + DIGITS) % DIGITS].focus();
    };
    el.addEventListener("click", onClick);
    el.addEventListener("keydown", onKey);
    const names = ["value", "description", "description_width"];
    for (const name of names) model.on(`change:${name}`, update);
    update();
    return () => {
      for (const name of names) model.off(`change:${name}`, update);
      el.removeEventListener("click", onClick);
      el.removeEventListener("keydown", onKey);
    };
  },
};
