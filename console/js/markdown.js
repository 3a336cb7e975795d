// A small Markdown subset rendered as DOM nodes, for model cards: headings, paragraphs,
// lists, pipe tables, fenced code, inline code, bold, italics and links. Text only ever
// becomes text nodes (never innerHTML), so HTML in a card shows as the characters it is;
// links keep only http(s), relative and in-page targets.

import { h } from "./dom.js";

// code, bold, italics (underscores only at word edges: feature_names stay as they are), link
const INLINE = /(`[^`]+`)|(\*\*[^*]+\*\*|(?<!\w)__[^_]+__(?!\w))|(\*[^*\s][^*]*\*|(?<!\w)_[^_\s][^_]*_(?!\w))|(\[[^\]]+\]\([^)\s]+\))/;

function safeHref(target) {
  if (/^(https?:\/\/|\/|#|\.\/|\.\.\/)/i.test(target)) return target;
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return null; // javascript:, data:, vbscript:, ...
  return target;
}

/** Inline spans of ``text``: an array of strings and elements. */
export function inline(text) {
  const out = [];
  let rest = text;
  while (rest) {
    const match = INLINE.exec(rest);
    if (!match) {
      out.push(rest);
      break;
    }
    if (match.index) out.push(rest.slice(0, match.index));
    const [token, code, strong, em, link] = match;
    if (code) out.push(h("code", {}, code.slice(1, -1)));
    else if (strong) out.push(h("strong", {}, inline(strong.slice(2, -2))));
    else if (em) out.push(h("em", {}, inline(em.slice(1, -1))));
    else if (link) {
      const [, label, target] = /^\[([^\]]+)\]\(([^)\s]+)\)$/.exec(link);
      const href = safeHref(target);
      out.push(href ? h("a", { href, rel: "noopener noreferrer" }, inline(label)) : label);
    }
    rest = rest.slice(match.index + token.length);
  }
  return out;
}

function cells(line) {
  return line.trim().replace(/^\|/, "").replace(/\|$/, "").split("|").map((c) => c.trim());
}

const isTableRule = (line) => /^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$/.test(line);
const isList = (line) => /^\s*([-*+]|\d+[.)])\s+/.test(line);
const isBlockStart = (line) => /^(#{1,6}\s|```|\s*\|)/.test(line) || isList(line) || /^\s*(-{3,}|\*{3,})\s*$/.test(line);

function tableBlock(lines) {
  const [head, , ...body] = lines;
  const headers = cells(head);
  const hasHeader = headers.some((c) => c);
  return h(
    "table",
    { class: "md-table" },
    hasHeader ? h("thead", {}, h("tr", {}, headers.map((c) => h("th", { scope: "col" }, inline(c))))) : null,
    h("tbody", {}, body.map((row) => h("tr", {}, cells(row).map((c, i) => (i === 0 && !hasHeader ? h("th", { scope: "row" }, inline(c)) : h("td", {}, inline(c))))))),
  );
}

/** ``text`` (Markdown) as a <div> of DOM nodes. */
export function markdown(text, attrs = {}) {
  const lines = String(text).replace(/\r\n?/g, "\n").split("\n");
  const blocks = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) {
      i += 1;
    } else if (line.startsWith("```")) {
      const code = [];
      for (i += 1; i < lines.length && !lines[i].startsWith("```"); i += 1) code.push(lines[i]);
      i += 1;
      blocks.push(h("pre", {}, h("code", {}, code.join("\n"))));
    } else if (/^#{1,6}\s/.test(line)) {
      const level = line.match(/^#+/)[0].length;
      // The card sits under the page's h2 section heading: "#" is an h3.
      blocks.push(h(`h${Math.min(level + 2, 6)}`, {}, inline(line.slice(level).trim())));
      i += 1;
    } else if (/^\s*(-{3,}|\*{3,})\s*$/.test(line)) {
      blocks.push(h("hr", {}));
      i += 1;
    } else if (/^\s*\|/.test(line) && i + 1 < lines.length && isTableRule(lines[i + 1])) {
      const rows = [line, lines[i + 1]];
      for (i += 2; i < lines.length && /^\s*\|/.test(lines[i]); i += 1) rows.push(lines[i]);
      blocks.push(tableBlock(rows));
    } else if (isList(line)) {
      const ordered = /^\s*\d/.test(line);
      const items = [];
      for (; i < lines.length && isList(lines[i]); i += 1) items.push(lines[i].replace(/^\s*([-*+]|\d+[.)])\s+/, ""));
      blocks.push(h(ordered ? "ol" : "ul", {}, items.map((item) => h("li", {}, inline(item)))));
    } else {
      const para = [];
      for (; i < lines.length && lines[i].trim() && !(para.length && isBlockStart(lines[i])); i += 1) para.push(lines[i].trim());
      blocks.push(h("p", {}, inline(para.join(" "))));
    }
  }
  return h("div", { class: "markdown", ...attrs }, blocks);
}
