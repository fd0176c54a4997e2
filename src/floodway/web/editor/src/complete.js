// Completions from the table the server ships once per page (GET /editor/completions):
// built-in methods and functions, zoho.crm.* tasks, module and field API names, connections,
// standalone functions. Which list applies is decided from the text before the cursor.
import { KEYWORDS, TYPES } from "./deluge.js";

const ZOHO_VARIABLES = [
  "crm", "currentdate", "currenttime", "loginuser", "loginuserid", "adminuser", "adminuserid",
];

function options(items, type, boost) {
  return items.map((it) => ({
    label: it.label,
    detail: it.detail || undefined,
    info: it.info || undefined,
    type,
    boost,
  }));
}

// Modules named as the first argument of a CRM task anywhere in the buffer: their fields are
// what `.get("…")` most likely means.
function modulesInUse(text, known) {
  const found = new Set();
  const re = /zoho\.crm\.\w+\(\s*"(\w+)"/g;
  let m;
  while ((m = re.exec(text)) !== null) {
    if (known[m[1]]) { found.add(m[1]); }
  }
  return found;
}

export function delugeCompletions(table) {
  const methods = options(table.methods, "method");
  const functions = options(table.functions, "function");
  const tasks = options(table.tasks, "function");
  const modules = table.modules.map((m) => ({ label: m, type: "class", detail: "module" }));
  const words = [
    ...KEYWORDS.map((k) => ({ label: k, type: "keyword" })),
    ...TYPES.map((k) => ({ label: k, type: "type" })),
    ...functions,
    { label: "zoho", type: "namespace" },
    { label: "standalone", type: "namespace" },
  ];
  const standalone = table.standalone.map((s) => ({ label: s, type: "function", detail: "standalone" }));
  const connections = table.connections.map((c) => ({ label: c, type: "constant", detail: "connection" }));

  return (context) => {
    const line = context.state.doc.lineAt(context.pos);
    const before = line.text.slice(0, context.pos - line.from);
    let m;
    if ((m = /zoho\.crm\.(\w*)$/.exec(before))) {
      return { from: context.pos - m[1].length, options: tasks, validFor: /^\w*$/ };
    }
    if ((m = /zoho\.(\w*)$/.exec(before))) {
      return {
        from: context.pos - m[1].length,
        options: ZOHO_VARIABLES.map((v) => ({ label: v, type: v === "crm" ? "namespace" : "variable" })),
        validFor: /^\w*$/,
      };
    }
    if ((m = /standalone\.(\w*)$/.exec(before))) {
      return { from: context.pos - m[1].length, options: standalone, validFor: /^\w*$/ };
    }
    // The module argument of a CRM task: zoho.crm.getRecordById("De|
    if ((m = /zoho\.crm\.\w+\(\s*"(\w*)$/.exec(before))) {
      return { from: context.pos - m[1].length, options: modules, validFor: /^\w*$/ };
    }
    if ((m = /connection\s*:\s*"(\w*)$/.exec(before))) {
      return { from: context.pos - m[1].length, options: connections, validFor: /^\w*$/ };
    }
    // A field name: .get("Deal_|  or  .put("Amo|
    if ((m = /\.(?:get|put|getJSON|containKey|containsKey)\(\s*"(\w*)$/i.exec(before))) {
      const text = context.state.doc.toString();
      const inUse = modulesInUse(text, table.fields);
      const names = inUse.size ? [...inUse] : Object.keys(table.fields);
      const seen = new Set();
      const fields = [];
      for (const mod of names) {
        for (const f of table.fields[mod] || []) {
          const key = f.label;
          if (seen.has(key)) { continue; }
          seen.add(key);
          fields.push({ label: key, type: "property", detail: `${mod} · ${f.type}` });
        }
      }
      return { from: context.pos - m[1].length, options: fields, validFor: /^\w*$/ };
    }
    if ((m = /\.(\w*)$/.exec(before))) {
      return { from: context.pos - m[1].length, options: methods, validFor: /^\w*$/ };
    }
    const word = context.matchBefore(/[A-Za-z_]\w*/);
    if (!word || (word.from === word.to && !context.explicit)) { return null; }
    // No completions inside a string or a comment, other than the cases above.
    const quotes = (before.match(/"/g) || []).length;
    if (quotes % 2 === 1 || /\/\//.test(before)) { return null; }
    return { from: word.from, options: words, validFor: /^\w*$/ };
  };
}
