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
    // Live lists (console-ux.md §2): every 5 s while the page is visible, ask how many newer
    // rows match and offer "N new — show" instead of moving the rows under the reader.
    each(root, "[data-live]", function (el) {
      var link = el.querySelector("[data-live-show]");
      var poll = function () {
        if (!document.contains(el)) { return; }
        if (document.visibilityState === "visible") {
          fetch(el.dataset.live, { credentials: "same-origin", headers: { "Accept": "application/json" } })
            .then(function (r) { return r.ok ? r.json() : null; })
            .then(function (data) {
              if (!data || !data.count) { return; }
              var text = data.count + (data.more ? "+" : "") + " new — show";
              if (link.textContent !== text) { link.textContent = text; }
              el.hidden = false;
            })
            .catch(function () { /* offline for a moment: the next poll tries again */ });
        }
        setTimeout(poll, 5000);
      };
      setTimeout(poll, 5000);
    });
    var summary = root.querySelector(".summary[tabindex]");
    if (summary) { summary.focus(); }
  }

  // ---- command palette (console-ux.md §5): Ctrl/⌘+K, answers from GET /palette as data.
  var palette = {
    dialog: null, input: null, list: null, status: null, opener: null,
    items: [], active: -1, seq: 0, timer: null,

    setup: function () {
      this.dialog = document.getElementById("palette");
      if (!this.dialog) { return; }
      this.input = document.getElementById("palette-q");
      this.list = document.getElementById("palette-list");
      this.status = this.dialog.querySelector(".palette-status");
      var self = this;
      this.input.addEventListener("input", function () {
        clearTimeout(self.timer);
        self.timer = setTimeout(function () { self.query(); }, 90);
      });
      this.input.addEventListener("keydown", function (e) {
        if (e.key === "ArrowDown" || e.key === "ArrowUp") {
          e.preventDefault();
          self.select(self.active + (e.key === "ArrowDown" ? 1 : -1));
        } else if (e.key === "Enter") {
          e.preventDefault();
          self.open(self.active);
        }
      });
      this.list.addEventListener("click", function (e) {
        var li = e.target.closest("li[role=option]");
        if (li) { self.open(parseInt(li.dataset.index, 10)); }
      });
      this.dialog.addEventListener("close", function () {
        if (self.opener && document.contains(self.opener)) { self.opener.focus(); }
      });
    },

    show: function () {
      if (!this.dialog || this.dialog.open) { return; }
      this.opener = document.activeElement;
      this.input.value = "";
      this.dialog.showModal();
      this.input.focus();
      this.query();
    },

    query: function () {
      var self = this;
      var seq = ++this.seq;
      fetch("/palette?q=" + encodeURIComponent(this.input.value), {
        credentials: "same-origin", headers: { "Accept": "application/json" }
      }).then(function (r) {
        if (!r.ok) { throw new Error(String(r.status)); }
        return r.json();
      }).then(function (data) {
        if (seq === self.seq) { self.draw(data.results || []); }  // a stale answer is dropped
      }).catch(function () {
        if (seq === self.seq) { self.status.textContent = "Cannot reach floodway — try again."; }
      });
    },

    draw: function (results) {
      this.items = results;
      this.list.textContent = "";
      var group = null;
      var self = this;
      results.forEach(function (r, i) {
        if (r.group !== group) {
          group = r.group;
          var head = document.createElement("li");
          head.className = "group";
          head.setAttribute("role", "presentation");
          head.textContent = group;
          self.list.appendChild(head);
        }
        var li = document.createElement("li");
        li.setAttribute("role", "option");
        li.id = "palette-opt-" + i;
        li.dataset.index = String(i);
        var label = document.createElement("span");
        label.textContent = r.label;
        var detail = document.createElement("span");
        detail.className = "detail";
        detail.textContent = r.detail;
        li.appendChild(label);
        li.appendChild(detail);
        self.list.appendChild(li);
      });
      var n = results.length;
      this.status.textContent = n ? n + (n === 1 ? " result" : " results") : "Nothing matches.";
      this.select(results.length ? 0 : -1);
    },

    select: function (i) {
      if (!this.items.length) { this.active = -1; this.input.removeAttribute("aria-activedescendant"); return; }
      i = (i + this.items.length) % this.items.length;
      var old = this.list.querySelector("[aria-selected=true]");
      if (old) { old.setAttribute("aria-selected", "false"); }
      var li = document.getElementById("palette-opt-" + i);
      li.setAttribute("aria-selected", "true");
      li.scrollIntoView({ block: "nearest" });
      this.input.setAttribute("aria-activedescendant", li.id);
      this.active = i;
    },

    open: function (i) {
      var item = this.items[i];
      if (item) { window.location.assign(item.href); }
    }
  };

  // ---- keyboard shortcuts (console-ux.md §5). Single keys are off while typing, and can be
  // switched off for good in the user menu (kept in this browser).
  var KEYS_OFF = "floodway.single-keys-off";
  var GO = {
    h: "/", f: "/functions", e: "/executions", r: "/automation/rules", s: "/settings",
    l: "/m/Leads", c: "/m/Contacts", a: "/m/Accounts", d: "/m/Deals", t: "/m/Tasks"
  };
  var pendingG = 0;

  function singleKeysOn() {
    try { return window.localStorage.getItem(KEYS_OFF) !== "1"; } catch (err) { return true; }
  }

  function typing(t) {
    return t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
  }

  // Only places the side navigation offers: the profile's rights decide.
  function allowed(href) {
    var base = href === "/automation/rules" ? "/automation" : href;
    return !!document.querySelector('.sidenav a[href="' + base + '"]');
  }

  function showShortcuts() {
    var d = document.getElementById("shortcuts");
    if (d && !d.open) { d.showModal(); }
  }

  document.addEventListener("keydown", function (e) {
    if (e.defaultPrevented) { return; }  // the code editor's own keys (Ctrl+Shift+K deletes a line)
    if ((e.ctrlKey || e.metaKey) && !e.altKey && !e.shiftKey && e.key.toLowerCase() === "k") {
      if (palette.dialog) { e.preventDefault(); palette.show(); }
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target) || !singleKeysOn()) { return; }
    if (document.querySelector("dialog[open]")) { return; }
    if (pendingG && Date.now() - pendingG < 1500) {
      pendingG = 0;
      var target = GO[e.key];
      if (target && allowed(target)) { e.preventDefault(); window.location.assign(target); }
      return;
    }
    pendingG = 0;
    if (e.key === "g") { pendingG = Date.now(); return; }
    if (e.key === "?") { e.preventDefault(); showShortcuts(); return; }
    var el = document.querySelector('[data-shortcut="' + e.key + '"]');
    if (!el) { return; }
    e.preventDefault();
    if (el.tagName === "INPUT") { el.focus(); } else { el.click(); }
  });

  document.addEventListener("click", function (e) {
    if (e.target.closest("[data-palette-open]")) { palette.show(); }
    if (e.target.closest("[data-shortcuts-open]")) { showShortcuts(); }
  });

  document.addEventListener("DOMContentLoaded", function () {
    palette.setup();
    var toggle = document.querySelector("[data-keys-toggle]");
    if (toggle) {
      toggle.checked = singleKeysOn();
      toggle.addEventListener("change", function () {
        try { window.localStorage.setItem(KEYS_OFF, toggle.checked ? "0" : "1"); } catch (err) { /* private mode */ }
      });
    }
  });

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:load", function (e) { init(e.target); });
})();
