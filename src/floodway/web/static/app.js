// floodway console: small progressive enhancements. Every page also works without this file.
(function () {
  "use strict";

  // Each element is enhanced once, whether it came with the page or with an htmx swap.
  function each(root, selector, fn) {
    root.querySelectorAll(selector).forEach(function (el) {
      if (el.dataset.ready) { return; }
      el.dataset.ready = "1";
      fn(el);
    });
  }

  function init(root) {
    // Success toasts close by themselves (console-ux.md §2 "Feedback").
    each(root, "[data-autoclose]", function (el) {
      setTimeout(function () { el.remove(); }, parseInt(el.dataset.autoclose, 10) || 6000);
    });
    // Password "Show" toggle.
    each(root, "button.showpw", function (btn) {
      btn.addEventListener("click", function () {
        var input = document.getElementById(btn.dataset.target);
        var shown = input.type === "text";
        input.type = shown ? "password" : "text";
        btn.textContent = shown ? "Show" : "Hide";
        btn.setAttribute("aria-pressed", shown ? "false" : "true");
      });
    });
    // Sign-in throttle: count down the server's Retry-After, then enable the button.
    each(root, "[data-retry-after]", function (btn) {
      var left = parseInt(btn.dataset.retryAfter, 10);
      var label = btn.textContent;
      var tick = function () {
        if (left <= 0) { btn.disabled = false; btn.textContent = label; return; }
        btn.textContent = label + " (" + left + " s)";
        left -= 1;
        setTimeout(tick, 1000);
      };
      tick();
    });
    // List selection: "select page" and the selected count on list buttons.
    each(root, "input[data-select-all]", function (all) {
      var form = all.form;
      var boxes = function () { return form.querySelectorAll("input[name=ids]"); };
      var update = function () {
        var n = Array.prototype.filter.call(boxes(), function (b) { return b.checked; }).length;
        form.querySelectorAll("[data-selected-count]").forEach(function (el) {
          el.textContent = n ? "(" + n + " selected)" : "";
        });
        form.querySelectorAll("button[data-needs-selection]").forEach(function (b) { b.disabled = n === 0; });
      };
      all.addEventListener("change", function () {
        boxes().forEach(function (b) { b.checked = all.checked; });
        update();
      });
      form.addEventListener("change", update);
      update();
    });
    // Leaving a changed form asks first (console-ux.md §2 "Forms").
    each(root, "form[data-guard]", function (form) {
      var changed = false;
      form.addEventListener("input", function () { changed = true; });
      form.addEventListener("submit", function () { changed = false; });
      window.addEventListener("beforeunload", function (e) {
        if (changed) { e.preventDefault(); e.returnValue = ""; }
      });
    });
    var summary = root.querySelector(".summary[tabindex]");
    if (summary) { summary.focus(); }
  }

  // Single-key shortcuts (console-ux.md §5), off while typing.
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) { return; }
    var t = e.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) { return; }
    var el = document.querySelector('[data-shortcut="' + e.key + '"]');
    if (!el) { return; }
    e.preventDefault();
    if (el.tagName === "INPUT") { el.focus(); } else { el.click(); }
  });

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:load", function (e) { init(e.target); });
})();
