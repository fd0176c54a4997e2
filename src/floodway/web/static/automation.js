// floodway console: automation, connections and settings forms. Every form also works without
// this file (each select that re-renders the form has a <noscript> button, and a merge field can
// be typed or picked from the input's datalist).
(function () {
  "use strict";

  function each(root, selector, fn) {
    root.querySelectorAll(selector).forEach(function (el) {
      if (el.dataset.autoReady) { return; }
      el.dataset.autoReady = "1";
      fn(el);
    });
  }

  // Re-render the form with what was typed (no save): module, trigger and function choices
  // change which inputs the form needs.
  function refresh(form) {
    var op = document.createElement("input");
    op.type = "hidden";
    op.name = "op";
    op.value = "refresh";
    form.appendChild(op);
    form.dataset.refreshing = "1";
    form.submit();
  }

  function init(root) {
    each(root, "[data-refresh]", function (el) {
      el.addEventListener("change", function () { refresh(el.form); });
    });
    each(root, "[data-autosubmit]", function (el) {
      el.addEventListener("change", function () { el.form.submit(); });
    });
    // Merge-field picker: insert ${Module.Field} at the cursor of its input.
    each(root, "select.mergepick", function (sel) {
      sel.addEventListener("change", function () {
        var input = document.getElementById(sel.dataset.insertInto);
        var value = sel.value;
        sel.selectedIndex = 0;
        if (!input || !value) { return; }
        var start = input.selectionStart === null ? input.value.length : input.selectionStart;
        var end = input.selectionEnd === null ? input.value.length : input.selectionEnd;
        input.value = input.value.slice(0, start) + value + input.value.slice(end);
        input.focus();
        input.setSelectionRange(start + value.length, start + value.length);
        input.dispatchEvent(new Event("input", { bubbles: true }));
      });
    });
    // Dangerous actions name their consequence first (console-ux.md §2).
    each(root, "form[data-confirm]", function (form) {
      form.addEventListener("submit", function (e) {
        if (!window.confirm(form.dataset.confirm)) { e.preventDefault(); }
      });
    });
    // Schedules: the hint follows the chosen timing.
    each(root, "#f-timing", function (sel) {
      var hints = {
        cron: "five fields: minute hour day-of-month month day-of-week, e.g. 0 2 * * *",
        every: "an interval such as 15m, 1h or 1d",
        daily: "a time of day, e.g. 02:00",
        weekly: "a day and time, e.g. mon 02:00",
        monthly: "a day of the month and time, e.g. 1 02:00",
        once: "a local date and time, e.g. 2027-01-01T09:00"
      };
      sel.addEventListener("change", function () {
        var hint = document.getElementById("expression-hint");
        if (hint) { hint.textContent = hints[sel.value] || ""; }
      });
    });
    // Copy buttons (ids, secrets shown once, redirect URIs).
    each(root, "button[data-copy]", function (btn) {
      btn.addEventListener("click", function () {
        var el = document.getElementById(btn.dataset.copy);
        if (el && navigator.clipboard) {
          navigator.clipboard.writeText(el.textContent.trim()).then(function () {
            btn.textContent = "Copied";
          });
        }
      });
    });
  }

  // A refresh is not leaving the form: app.js's "leave a changed form?" guard must not ask.
  window.addEventListener("beforeunload", function (e) {
    var busy = document.querySelector("form[data-refreshing]");
    if (busy) { e.stopImmediatePropagation(); }
  }, true);

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:load", function (e) { init(e.target); });
})();
