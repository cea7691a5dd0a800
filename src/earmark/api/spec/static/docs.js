// Renders /v2/openapi.json as a reference page: overview, meta flags, error codes, and each
// endpoint with its parameters, answers, errors and examples. Self-contained on purpose (no
// third-party bundle, no network beyond this server); every text goes in with textContent,
// never as HTML.
"use strict";

(function () {
  const SPEC_URL = "/v2/openapi.json";

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value !== undefined && value !== null) node.setAttribute(key, value);
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  // A small Markdown subset: paragraphs, "### " headings, "- " lists, `code`, **bold**, *em*.
  function inline(text) {
    const parts = [];
    const pattern = /(`[^`]+`|\*\*[^*]+\*\*|\*[^*\s][^*]*\*)/g;
    let last = 0;
    for (const match of text.matchAll(pattern)) {
      if (match.index > last) parts.push(text.slice(last, match.index));
      const token = match[0];
      if (token.startsWith("`")) parts.push(el("code", {}, token.slice(1, -1)));
      else if (token.startsWith("**")) parts.push(el("strong", {}, token.slice(2, -2)));
      else parts.push(el("em", {}, token.slice(1, -1)));
      last = match.index + token.length;
    }
    if (last < text.length) parts.push(text.slice(last));
    return parts;
  }

  function markdown(text) {
    const out = [];
    for (const block of (text || "").split(/\n\s*\n/)) {
      const lines = block.split("\n").filter((line) => line.trim() !== "");
      if (lines.length === 0) continue;
      if (lines[0].startsWith("### ")) {
        out.push(el("h3", {}, inline(lines[0].slice(4))));
      } else if (lines.every((line) => line.startsWith("- "))) {
        out.push(el("ul", {}, lines.map((line) => el("li", {}, inline(line.slice(2))))));
      } else {
        out.push(el("p", {}, inline(lines.join(" "))));
      }
    }
    return out;
  }

  function resolve(spec, node) {
    let current = node;
    for (let depth = 0; current && current.$ref && depth < 20; depth++) {
      const path = current.$ref.replace(/^#\//, "").split("/");
      let target = spec;
      for (const key of path) target = target ? target[key] : undefined;
      current = target ? Object.assign({}, target, { description: current.description || target.description }) : undefined;
    }
    return current || {};
  }

  function refName(node) {
    return node && node.$ref ? node.$ref.split("/").pop() : null;
  }

  function typeText(schema) {
    if (!schema) return "";
    if (schema.$ref) return refName(schema);
    if (schema.type === "array") return "array of " + typeText(schema.items);
    if (schema.enum) return schema.enum.map(String).join(" | ");
    if (schema.const !== undefined) return JSON.stringify(schema.const);
    if (schema.oneOf) return schema.oneOf.map(typeText).join(" or ");
    const type = Array.isArray(schema.type) ? schema.type.join(" | ") : schema.type || "object";
    return schema.format ? `${type} (${schema.format})` : type;
  }

  // A schema as a nested list of fields; named schemas are expanded once per branch.
  function schemaTree(spec, schema, seen) {
    const node = resolve(spec, schema);
    const name = refName(schema);
    const visited = new Set(seen);
    if (name) {
      if (visited.has(name)) return el("span", { class: "ref" }, `${name} (see above)`);
      visited.add(name);
    }
    if (node.oneOf) {
      return el("div", { class: "oneof" }, "One of:",
        el("ol", {}, node.oneOf.map((alt) => el("li", {}, schemaTree(spec, alt, visited)))));
    }
    if (node.allOf) {
      return el("div", {}, node.allOf.map((part) => schemaTree(spec, part, visited)));
    }
    if (node.type === "array") {
      const items = resolve(spec, node.items);
      if (items.properties || items.oneOf) {
        return el("div", {}, "array of:", schemaTree(spec, node.items, visited));
      }
      return el("span", { class: "type" }, typeText(node));
    }
    if (!node.properties) return el("span", { class: "type" }, typeText(node));
    const required = new Set(node.required || []);
    return el("ul", { class: "fields" }, Object.entries(node.properties).map(([key, value]) => {
      const child = resolve(spec, value);
      const nested = child.properties || child.oneOf || child.allOf ||
        (child.type === "array" && (resolve(spec, child.items).properties || resolve(spec, child.items).oneOf));
      return el("li", {},
        el("code", {}, key),
        required.has(key) ? el("span", { class: "badge" }, "always") : null,
        " ",
        el("span", { class: "type" }, typeText(value.$ref ? value : child)),
        child.description ? el("span", { class: "desc" }, " — ", inline(child.description)) : null,
        nested ? schemaTree(spec, value, visited) : null);
    }));
  }

  function table(headers, rows) {
    return el("table", {},
      el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))),
      el("tbody", {}, rows.map((cells) => el("tr", {}, cells.map((c) => el("td", {}, c))))));
  }

  function paramRows(spec, params) {
    return params.map((raw) => {
      const p = resolve(spec, raw);
      const name = p["x-earmark-suffixed"] ? [el("code", {}, p.name), " / ", el("code", {}, p.name + ".N")] : el("code", {}, p.name);
      const schema = p.schema || {};
      const notes = [];
      if (schema.default !== undefined) notes.push(`default ${schema.default}`);
      if (schema.minimum !== undefined) notes.push(`min ${schema.minimum}`);
      if (schema.maximum !== undefined) notes.push(`max ${schema.maximum}`);
      if (p.example !== undefined) notes.push(`e.g. ${p.example}`);
      return [name, typeText(schema), p.required ? "yes" : "no", el("div", {}, inline(p.description || ""),
        notes.length ? el("div", { class: "notes" }, notes.join(" · ")) : null)];
    });
  }

  function curl(path, query) {
    return `curl -sS '${window.location.origin}${path}?${query}'`;
  }

  function errorsByCode(spec) {
    const map = new Map();
    for (const info of spec["x-earmark-errors"] || []) map.set(info.code, info);
    return map;
  }

  function endpointSection(spec, path, item) {
    const op = item.get || item.post;
    const id = "op-" + path.replace(/[^a-z0-9]+/gi, "-").replace(/^-|-$/g, "");
    const methods = Object.keys(item).filter((k) => ["get", "post", "put", "delete", "patch"].includes(k));
    const codes = op["x-earmark-error-codes"] || [];
    const known = errorsByCode(spec);
    const ok = op.responses["200"].content["application/json"];
    const examples = Object.values(ok.examples || {});
    return el("section", { class: "endpoint", id },
      el("h3", {}, el("span", { class: "methods" }, methods.map((m) => m.toUpperCase()).join(" · ")), " ", el("code", {}, path)),
      el("p", { class: "summary" }, op.summary),
      el("p", {}, el("span", { class: "badge auth" }, "key: " + (op["x-earmark-auth"] || "none"))),
      markdown(op.description),
      el("h4", {}, "Parameters"),
      table(["name", "type", "required", "description"],
        paramRows(spec, [...(op.parameters || []), ...(item.parameters || [])])),
      el("p", { class: "notes" }, "Send them in the query string or as a form body (POST, optionally with Content-Encoding: gzip)."),
      el("h4", {}, "Answer"),
      schemaTree(spec, ok.schema, []),
      el("h4", {}, "Errors"),
      table(["code", "name", "HTTP", "message"], codes.map((code) => {
        const info = known.get(code) || {};
        return [String(code), el("code", {}, info.name || "?"), String(info.status || ""), info.message || ""];
      })),
      examples.length ? el("h4", {}, "Examples") : null,
      examples.map((ex) => el("div", { class: "example" },
        el("p", {}, ex.summary),
        el("pre", {}, curl(path, ex["x-earmark-query"] || "")),
        el("pre", {}, JSON.stringify(ex.value, null, 2)))));
  }

  function render(spec) {
    const doc = document.getElementById("doc");
    const toc = document.getElementById("toc");
    doc.replaceChildren();
    document.getElementById("title").textContent = `${spec.info.title} ${spec.info.version}`;
    document.title = spec.info.title;
    doc.append(el("section", { id: "overview" }, el("h2", {}, "Overview"), markdown(spec.info.description)));

    const flags = spec["x-earmark-meta-flags"] || [];
    const shortcuts = Object.entries(spec["x-earmark-meta-shortcuts"] || {});
    doc.append(el("section", { id: "meta" }, el("h2", {}, "Lookup meta flags"),
      el("p", {}, "Give them space-separated in ", el("code", {}, "meta"), " (", el("code", {}, "+"), " in a URL)."),
      table(["flag", "adds"], flags.map((f) => [el("code", {}, f.name), el("span", {}, inline(f.adds))])),
      el("p", {}, "Shortcuts, only as the whole value: ",
        shortcuts.map(([k, v], i) => [i ? ", " : "", el("code", {}, k), " → ", inline(v)]))));

    doc.append(el("section", { id: "errors" }, el("h2", {}, "Error codes"),
      table(["code", "name", "HTTP", "message", "when"], (spec["x-earmark-errors"] || []).map((e) =>
        [String(e.code), el("code", {}, e.name), String(e.status), e.message, el("span", {}, inline(e.when))]))));

    const tocList = el("ul", {}, el("li", {}, el("a", { href: "#overview" }, "Overview")),
      el("li", {}, el("a", { href: "#meta" }, "Meta flags")),
      el("li", {}, el("a", { href: "#errors" }, "Error codes")));
    for (const tag of spec.tags || []) {
      const entries = Object.entries(spec.paths).filter(([, item]) => (item.get || item.post).tags.includes(tag.name));
      if (!entries.length) continue;
      const section = el("section", { id: "tag-" + tag.name }, el("h2", {}, tag.name), el("p", {}, tag.description));
      const sub = el("ul", {});
      for (const [path, item] of entries) {
        const node = endpointSection(spec, path, item);
        section.append(node);
        sub.append(el("li", {}, el("a", { href: "#" + node.id }, path)));
      }
      doc.append(section);
      tocList.append(el("li", {}, el("a", { href: "#tag-" + tag.name }, tag.name), sub));
    }
    toc.replaceChildren(tocList);
    if (window.location.hash) {
      const target = document.getElementById(window.location.hash.slice(1));
      if (target) target.scrollIntoView();
    }
  }

  function start() {
    fetch(SPEC_URL, { headers: { Accept: "application/json" } })
      .then((response) => {
        if (!response.ok) throw new Error(`${SPEC_URL}: HTTP ${response.status}`);
        return response.json();
      })
      .then(render)
      .catch((error) => {
        const status = document.getElementById("status");
        if (status) status.textContent = "Could not load the API description: " + error.message;
      });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
