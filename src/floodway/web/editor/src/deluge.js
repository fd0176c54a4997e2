// Deluge for CodeMirror 6: a stream tokenizer (no Lezer grammar) with brace-based indentation.
// The server's compiler stays the judge of what is valid; this only colours and indents.
import { StreamLanguage, HighlightStyle } from "@codemirror/language";
import { tags as t } from "@lezer/highlight";

export const KEYWORDS = [
  "if", "else", "for", "each", "in", "while", "return", "info", "break", "continue", "try",
  "catch", "throw", "invokeurl", "sendmail", "invokeapi", "ifnull", "input", "thisapp",
];
export const TYPES = [
  "void", "string", "text", "int", "integer", "long", "bigint", "number", "decimal", "float",
  "double", "bool", "boolean", "date", "datetime", "map", "list", "collection", "file",
];
const KEYWORD_SET = new Set(KEYWORDS);
const TYPE_SET = new Set(TYPES);
const NAMESPACES = new Set(["zoho", "standalone", "crm"]);
const BLOCK_PARAMS = new Set([
  "url", "type", "parameters", "headers", "connection", "detailed", "from", "to", "cc", "bcc",
  "subject", "message", "replyto", "contenttype", "attachments", "files", "body",
]);

function readString(stream, quote) {
  let escaped = false;
  let ch;
  while ((ch = stream.next()) != null) {
    if (ch === quote && !escaped) { return true; }
    escaped = !escaped && ch === "\\";
  }
  return false;
}

const deluge = {
  name: "deluge",
  startState: () => ({ comment: false, depth: 0, afterDot: false, inBlock: false }),
  copyState: (s) => ({ ...s }),
  token(stream, state) {
    if (state.comment) {
      if (stream.skipTo("*/")) { stream.pos += 2; state.comment = false; } else { stream.skipToEnd(); }
      return "comment";
    }
    if (stream.eatSpace()) { return null; }
    if (stream.match("//")) { stream.skipToEnd(); return "comment"; }
    if (stream.match("/*")) { state.comment = true; return "comment"; }
    const ch = stream.peek();
    if (ch === '"' || ch === "'") {
      stream.next();
      readString(stream, ch);
      state.afterDot = false;
      return "string";
    }
    if (stream.match(/^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/)) { state.afterDot = false; return "number"; }
    const word = stream.match(/^[A-Za-z_][A-Za-z0-9_]*/);
    if (word) {
      const w = word[0];
      const lower = w.toLowerCase();
      const wasDot = state.afterDot;
      state.afterDot = false;
      if (wasDot) { return stream.match(/^\s*\(/, false) ? "propertyName.function" : "propertyName"; }
      if (lower === "true" || lower === "false") { return "bool"; }
      if (lower === "null") { return "null"; }
      if (KEYWORD_SET.has(lower)) {
        if (lower === "invokeurl" || lower === "sendmail" || lower === "invokeapi") { state.inBlock = true; }
        return "keyword";
      }
      if (TYPE_SET.has(lower)) { return "typeName"; }
      if (NAMESPACES.has(lower) && stream.peek() === ".") { return "namespace"; }
      if (state.inBlock && BLOCK_PARAMS.has(lower) && stream.match(/^\s*:/, false)) { return "labelName"; }
      if (stream.match(/^\s*\(/, false)) { return "variableName.function"; }
      return "variableName";
    }
    const c = stream.next();
    if (c === ".") { state.afterDot = true; return "punctuation"; }
    state.afterDot = false;
    if (c === "{" || c === "(" || c === "[") { state.depth += 1; return "bracket"; }
    if (c === "}" || c === ")" || c === "]") {
      state.depth = Math.max(0, state.depth - 1);
      if (c === "]") { state.inBlock = false; }
      return "bracket";
    }
    if (c === ";" || c === ",") { return "punctuation"; }
    if (/[+\-*/%=<>!&|?:]/.test(c)) { stream.eatWhile(/[=&|+\-]/); return "operator"; }
    return null;
  },
  indent(state, textAfter, cx) {
    const closing = /^\s*[}\])]/.test(textAfter) ? 1 : 0;
    return Math.max(0, state.depth - closing) * cx.unit;
  },
  languageData: {
    commentTokens: { line: "//", block: { open: "/*", close: "*/" } },
    closeBrackets: { brackets: ["(", "[", "{", '"', "'"] },
    indentOnInput: /^\s*[}\])]$/,
  },
};

export const delugeLanguage = StreamLanguage.define(deluge);

// Colours come from CSS variables (static/editor.css), so light and dark themes both work.
export const delugeHighlight = HighlightStyle.define([
  { tag: t.keyword, color: "var(--cm-keyword)", fontWeight: "600" },
  { tag: t.typeName, color: "var(--cm-type)" },
  { tag: t.string, color: "var(--cm-string)" },
  { tag: t.number, color: "var(--cm-number)" },
  { tag: [t.bool, t.null], color: "var(--cm-atom)" },
  { tag: t.comment, color: "var(--cm-comment)", fontStyle: "italic" },
  { tag: t.namespace, color: "var(--cm-namespace)" },
  { tag: [t.function(t.propertyName), t.function(t.variableName)], color: "var(--cm-function)" },
  { tag: t.propertyName, color: "var(--cm-property)" },
  { tag: t.labelName, color: "var(--cm-label)" },
  { tag: t.operator, color: "var(--cm-operator)" },
]);
