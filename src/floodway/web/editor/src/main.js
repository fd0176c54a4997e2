// The function editor of the floodway console (console-ux.md §3.7), bundled by build.sh into
// web/static/vendor/editor.js. It turns the page's <textarea name="source"> into CodeMirror and
// keeps the textarea in sync, so the page's forms (Run, Save draft, Publish, sent with htmx or
// plainly) always carry the buffer. Diagnostics come from the server's check as you type.
import { EditorState, StateEffect, StateField, Prec } from "@codemirror/state";
import {
  EditorView, Decoration, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter,
  drawSelection, highlightSpecialChars,
} from "@codemirror/view";
import {
  syntaxHighlighting, bracketMatching, indentOnInput, foldGutter, foldKeymap, indentUnit,
} from "@codemirror/language";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import {
  autocompletion, closeBrackets, closeBracketsKeymap, completionKeymap,
} from "@codemirror/autocomplete";
import {
  linter, lintGutter, lintKeymap, forEachDiagnostic, previousDiagnostic,
} from "@codemirror/lint";
import { searchKeymap, highlightSelectionMatches } from "@codemirror/search";
import { delugeLanguage, delugeHighlight } from "./deluge.js";
import { delugeCompletions } from "./complete.js";

const CHECK_DELAY_MS = 150; // console-ux.md §7: 150 ms idle, then the server's check
const STORE_DELAY_MS = 1000;

// ------------------------------------------------------------------------- positions

// The server counts lines and columns from 1, columns in code points (the lexer's unit).
function toOffset(doc, line, column) {
  const l = doc.line(Math.min(Math.max(1, line || 1), doc.lines));
  let pos = l.from;
  let col = 1;
  const want = Math.max(1, column || 1);
  while (col < want && pos < l.to) {
    const code = doc.sliceString(pos, pos + 1).charCodeAt(0);
    pos += code >= 0xd800 && code <= 0xdbff ? 2 : 1;
    col += 1;
  }
  return { line: l, pos: Math.min(pos, l.to) };
}

function diagnosticRange(doc, d) {
  const { line, pos } = toOffset(doc, d.line, d.column);
  let end = pos;
  const rest = doc.sliceString(pos, line.to);
  const word = /^[A-Za-z0-9_]+/.exec(rest);
  if (word) { end = pos + word[0].length; } else if (rest.length) { end = pos + 1; }
  return { from: pos, to: end };
}

// ------------------------------------------------------------------------- run errors

// A failing run (or a save the compiler refused) marks its line until that line is edited.
const setRunError = StateEffect.define();
const runErrorLine = Decoration.line({ class: "cm-runError" });

const runErrorField = StateField.define({
  create: () => ({ deco: Decoration.none, line: 0 }),
  update(value, tr) {
    for (const e of tr.effects) {
      if (e.is(setRunError)) {
        if (!e.value) { return { deco: Decoration.none, line: 0 }; }
        const { line } = toOffset(tr.state.doc, e.value.line, 1);
        const deco = Decoration.set([
          runErrorLine.range(line.from),
        ]);
        return { deco, line: line.number, message: e.value.message };
      }
    }
    if (!tr.docChanged || !value.line) { return value; }
    const old = tr.startState.doc.line(Math.min(value.line, tr.startState.doc.lines));
    let touched = false;
    tr.changes.iterChangedRanges((fromA, toA) => {
      if (fromA <= old.to && toA >= old.from) { touched = true; }
    });
    if (touched) { return { deco: Decoration.none, line: 0 }; }
    const mapped = value.deco.map(tr.changes);
    let line = value.line;
    mapped.between(0, tr.state.doc.length, (from) => { line = tr.state.doc.lineAt(from).number; });
    return { deco: mapped, line, message: value.message };
  },
  provide: (f) => EditorView.decorations.from(f, (v) => v.deco),
});

// ------------------------------------------------------------------------- the page

function $(id) { return document.getElementById(id); }

function csrfToken(form) {
  const input = form && form.querySelector("input[name=csrf_token]");
  return input ? input.value : "";
}

function setText(el, text) { if (el) { el.textContent = text; } }

function mount(host) {
  const textarea = host.querySelector("textarea[name=source]");
  const form = textarea.form;
  const apiName = host.dataset.function || "";
  const checkUrl = host.dataset.checkUrl;
  const completionsUrl = host.dataset.completionsUrl;
  const storeKey = "floodway:buffer:" + apiName;
  const status = {
    pos: $("editor-pos"), problems: $("editor-problems"), saved: $("editor-saved"),
    unsaved: $("editor-unsaved"), check: $("editor-check"),
  };
  let savedText = textarea.value;
  let sentText = null;
  let inFlight = null;
  let storeTimer = null;

  // Diagnostics as you type: a newer keystroke aborts the request in flight, and the linter
  // drops answers for text that has changed since (it compares documents).
  async function check(view) {
    if (inFlight) { inFlight.abort(); }
    const ctrl = new AbortController();
    inFlight = ctrl;
    const body = new URLSearchParams({ source: view.state.doc.toString(), api_name: apiName });
    let data;
    try {
      const resp = await fetch(checkUrl, {
        method: "POST",
        headers: { "X-CSRF-Token": csrfToken(form), "Content-Type": "application/x-www-form-urlencoded" },
        body,
        signal: ctrl.signal,
        credentials: "same-origin",
      });
      if (!resp.ok) { throw new Error("HTTP " + resp.status); }
      data = await resp.json();
    } catch (err) {
      if (ctrl.signal.aborted) { return []; }
      setText(status.check, "Diagnostics unavailable — retrying");
      setTimeout(() => { if (inFlight === ctrl) { view.dispatch({}); } }, 3000);
      return [];
    } finally {
      if (inFlight === ctrl) { inFlight = null; }
    }
    setText(status.check, "");
    const doc = view.state.doc;
    return data.diagnostics.map((d) => ({
      ...diagnosticRange(doc, d),
      severity: d.severity === "warning" ? "warning" : "error",
      message: d.message,
      source: `line ${d.line}, col ${d.column}`,
    }));
  }

  function clickButton(id) {
    return () => { const b = $(id); if (b && !b.disabled) { b.click(); } return true; };
  }

  function updateStatus(state) {
    const head = state.selection.main.head;
    const line = state.doc.lineAt(head);
    setText(status.pos, `Ln ${line.number}, Col ${head - line.from + 1}`);
    let errors = 0;
    let warnings = 0;
    let first = null;
    forEachDiagnostic(state, (d, from) => {
      if (d.severity === "error") { errors += 1; } else { warnings += 1; }
      if (!first || (first.d.severity !== "error" && d.severity === "error")) { first = { d, from }; }
    });
    if (status.problems) {
      if (!errors && !warnings) {
        status.problems.textContent = "No problems";
        status.problems.className = "ok";
        delete status.problems.dataset.line;
      } else {
        const l = state.doc.lineAt(first.from).number;
        const parts = [];
        if (errors) { parts.push(errors === 1 ? "1 error" : `${errors} errors`); }
        if (warnings) { parts.push(warnings === 1 ? "1 warning" : `${warnings} warnings`); }
        status.problems.textContent = `${errors ? "✖" : "▲"} ${parts.join(", ")} (F8) · line ${l}: ${first.d.message}`;
        status.problems.className = errors ? "bad" : "warn";
        status.problems.dataset.line = String(l);
      }
    }
    const dirty = state.doc.toString() !== savedText;
    if (status.unsaved) { status.unsaved.hidden = !dirty; }
    const publish = $("publish-btn");
    if (publish) {
      publish.disabled = errors > 0;
      publish.title = errors ? `Fix ${errors === 1 ? "1 error" : errors + " errors"} first — F8` : "";
    }
  }

  function remember(state) {
    clearTimeout(storeTimer);
    storeTimer = setTimeout(() => {
      try {
        const text = state.doc.toString();
        if (text === savedText) { localStorage.removeItem(storeKey); return; }
        localStorage.setItem(storeKey, JSON.stringify({ text, base: savedText, time: Date.now() }));
      } catch (e) { /* storage full or disabled: nothing to keep */ }
    }, STORE_DELAY_MS);
  }

  const completions = { methods: [], functions: [], tasks: [], modules: [], fields: {}, standalone: [], connections: [] };
  let completer = delugeCompletions(completions);
  fetch(completionsUrl, { credentials: "same-origin" })
    .then((r) => (r.ok ? r.json() : null))
    .then((table) => { if (table) { Object.assign(completions, table); rebuild(); } })
    .catch(() => {});
  function rebuild() { completer = delugeCompletions(completions); }

  const view = new EditorView({
    parent: host,
    state: EditorState.create({
      doc: textarea.value,
      extensions: [
        EditorView.cspNonce.of(host.dataset.nonce || ""),
        lineNumbers(),
        foldGutter(),
        lintGutter(),
        highlightSpecialChars(),
        history(),
        drawSelection(),
        indentUnit.of("  "),
        indentOnInput(),
        bracketMatching(),
        closeBrackets(),
        highlightActiveLine(),
        highlightActiveLineGutter(),
        highlightSelectionMatches(),
        delugeLanguage,
        syntaxHighlighting(delugeHighlight),
        autocompletion({ override: [(ctx) => completer(ctx)], activateOnTyping: true }),
        linter(check, { delay: CHECK_DELAY_MS }),
        runErrorField,
        Prec.highest(keymap.of([
          { key: "Mod-s", run: clickButton("save-btn"), preventDefault: true },
          { key: "Mod-Enter", run: clickButton("run-btn"), preventDefault: true },
          { key: "Shift-F8", run: previousDiagnostic },
        ])),
        keymap.of([
          ...closeBracketsKeymap, ...defaultKeymap, ...searchKeymap, ...historyKeymap,
          ...foldKeymap, ...completionKeymap, ...lintKeymap, indentWithTab,
        ]),
        EditorView.contentAttributes.of({ "aria-label": "Source code", "aria-describedby": "editor-hint" }),
        EditorView.updateListener.of((u) => {
          if (u.docChanged) {
            textarea.value = u.state.doc.toString();
            remember(u.state);
          }
          updateStatus(u.state);
        }),
      ],
    }),
  });
  textarea.hidden = true;
  host.classList.add("mounted");
  updateStatus(view.state);
  window.floodwayEditor = view; // for the page's own scripts and tests

  function showError(el) {
    const line = parseInt(el.dataset.errorLine || "0", 10);
    if (!line) { return; }
    view.dispatch({ effects: setRunError.of({ line, message: el.dataset.errorMessage || "" }) });
    const { pos } = toOffset(view.state.doc, line, parseInt(el.dataset.errorColumn || "1", 10));
    view.dispatch({ selection: { anchor: pos }, scrollIntoView: true });
  }

  // htmx requests of the editor form carry the buffer; an answer saying "saved as vN" makes it
  // the saved text; a run or save that failed at a line marks that line.
  document.body.addEventListener("htmx:beforeRequest", (e) => {
    const elt = e.detail.elt;
    if (elt && elt.form === form) {
      textarea.value = view.state.doc.toString();
      sentText = elt.dataset.saves ? textarea.value : null;
      view.dispatch({ effects: setRunError.of(null) });
    }
  });
  document.body.addEventListener("htmx:afterSwap", (e) => {
    const marked = e.detail.target.querySelector("[data-error-line]");
    if (marked) { showError(marked); }
    const saved = e.detail.target.querySelector("[data-saved-version]");
    if (saved) {
      const base = form.querySelector("input[name=base]");
      if (base) { base.value = saved.dataset.savedVersion; }
      setText(status.saved, saved.dataset.savedLabel || "");
      if (sentText !== null) { savedText = sentText; sentText = null; }
      try { localStorage.removeItem(storeKey); } catch (err) { /* ignore */ }
      updateStatus(view.state);
    }
  });
  const initial = document.querySelector("#run-result [data-error-line], #editor-message [data-error-line]");
  if (initial) { showError(initial); }

  // A buffer kept from an earlier visit that the server never got.
  try {
    const kept = JSON.parse(localStorage.getItem(storeKey) || "null");
    const bar = $("editor-restore");
    if (kept && kept.text !== savedText && kept.base === savedText && bar) {
      setText(bar.querySelector("[data-when]"), new Date(kept.time).toLocaleTimeString());
      bar.hidden = false;
      bar.querySelector("[data-restore]").addEventListener("click", () => {
        view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: kept.text } });
        bar.hidden = true;
      });
      bar.querySelector("[data-discard]").addEventListener("click", () => {
        localStorage.removeItem(storeKey);
        bar.hidden = true;
      });
    }
  } catch (e) { /* nothing kept */ }

  // Ctrl+S / Ctrl+Enter work from the arguments pane too.
  form.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && (e.key === "s" || e.key === "Enter")) {
      e.preventDefault();
      clickButton(e.key === "s" ? "save-btn" : "run-btn")();
    }
  });
  // Plain (non-htmx) submits: the buffer is about to be saved, do not offer to restore it.
  form.addEventListener("submit", () => { try { localStorage.removeItem(storeKey); } catch (e) { /* ignore */ } });
}

function init() {
  const host = document.getElementById("code-editor");
  if (host && !host.classList.contains("mounted")) { mount(host); }
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", init);
} else {
  init();
}
