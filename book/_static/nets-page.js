// The reader's page (loaded on every page; tests/test_browser.py runs axe-core and key presses on it).
// The widget manager draws a slider's handle as role="slider" without a name, and the theme names a few
// header buttons differently from what they show: give each the name a reader hears, as they appear.
(function () {
  "use strict";

  // A slider handle (noUiSlider, inside an ipywidgets slider) gets its widget's label as its name and the
  // option it points at (the readout) as its value text, kept current as the reader moves it.
  function nameSlider(handle) {
    var widget = handle.closest(".widget-slider, .widget-inline-hbox");
    if (!widget) {
      return;
    }
    var label = widget.querySelector(".widget-label");
    var readout = widget.querySelector(".widget-readout");
    if (label && label.textContent.trim() && !handle.getAttribute("aria-label")) {
      handle.setAttribute("aria-label", label.textContent.trim());
    }
    var update = function () {
      if (readout && readout.textContent.trim()) {
        handle.setAttribute("aria-valuetext", readout.textContent.trim());
      }
    };
    update();
    if (readout && !handle.dataset.netsNamed) {
      handle.dataset.netsNamed = "1";
      new MutationObserver(update).observe(readout, { childList: true, characterData: true, subtree: true });
    }
  }

  // A group of toggle buttons is named by its label.
  function nameButtons(group) {
    var widget = group.closest(".widget-toggle-buttons, .widget-inline-hbox");
    var label = widget && widget.querySelector(".widget-label");
    if (label && label.textContent.trim() && !group.getAttribute("aria-label")) {
      group.setAttribute("role", "group");
      group.setAttribute("aria-label", label.textContent.trim());
    }
  }

  // An element whose accessible name (aria-label) does not contain the text it shows is heard under a
  // different name than a speech-input user says (axe-core: label-content-name-mismatch): the text it
  // shows joins the name. Icons and keyboard hints are decoration, hidden from the name first.
  function shownText(element) {
    var copy = element.cloneNode(true);
    copy.querySelectorAll("[aria-hidden=true]").forEach(function (hidden) {
      hidden.remove();
    });
    return copy.textContent.replace(/\s+/g, " ").trim();
  }

  function matchName(element) {
    var shown = shownText(element);
    var label = element.getAttribute("aria-label");
    if (shown && label && label.toLowerCase().indexOf(shown.toLowerCase()) === -1) {
      element.setAttribute("aria-label", shown + " (" + label + ")");
    }
  }

  function fixTheme(root) {
    // The colour-mode button shows one of three icons, each with a title ("Light", "Dark", ...) that is
    // not its name. The search field shows "Search Ctrl+K" and is named "Search": named by what it shows.
    root.querySelectorAll(".theme-switch-button i, button i.fa-solid").forEach(function (icon) {
      icon.setAttribute("aria-hidden", "true");
      icon.removeAttribute("title");
    });
    // sphinx-togglebutton names the "Show code cell source" toggle "Toggle hidden content".
    root.querySelectorAll(".search-button-field[aria-label], details > summary[aria-label]").forEach(function (field) {
      field.removeAttribute("aria-label");
    });
    root.querySelectorAll("button[aria-label], a[aria-label]").forEach(matchName);
    // Sphinx writes the bibliography as role="list" around role="doc-biblioentry" entries, which
    // ARIA 1.2 deprecates; assistive technology (and axe-core) then finds no list items in the list.
    root.querySelectorAll('[role="list"] > [role="doc-biblioentry"]').forEach(function (entry) {
      entry.setAttribute("role", "listitem");
    });
  }

  // A box that scrolls sideways (a wide table in its output, a widget's view) is reached with Tab, so a
  // keyboard reader can scroll it with the arrows (axe-core: scrollable-region-focusable).
  function focusScrollers() {
    document.querySelectorAll(".bd-article .text_html, .bd-article .widget-box, .bd-article .jp-OutputArea-output")
      .forEach(function (box) {
        var scrolls = box.scrollWidth > box.clientWidth + 1 && getComputedStyle(box).overflowX !== "visible";
        if (scrolls && !box.hasAttribute("tabindex")) {
          box.setAttribute("tabindex", "0");
          box.setAttribute("role", "region");
          box.setAttribute("aria-label", "scrollable output");
        }
      });
  }

  function fix(root) {
    root.querySelectorAll(".noUi-handle[role=slider]").forEach(nameSlider);
    root.querySelectorAll(".widget-toggle-buttons .widget-toggle-button, .widget-toggle-buttons > div")
      .forEach(function (buttons) {
        if (buttons.querySelector("button")) {
          nameButtons(buttons);
        }
      });
    fixTheme(root);
  }

  function start() {
    fix(document);
    window.addEventListener("resize", focusScrollers);
    window.addEventListener("load", focusScrollers);
    new MutationObserver(function (changes) {
      changes.forEach(function (change) {
        change.addedNodes.forEach(function (node) {
          if (node.nodeType === 1) {
            fix(node.parentElement || node);
          }
        });
      });
      focusScrollers();
    }).observe(document.body, { childList: true, subtree: true });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
