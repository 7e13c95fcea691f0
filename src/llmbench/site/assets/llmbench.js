/* llmbench: sortable tables. Click a header to sort by that column, click again to reverse.
   Runs on every page load, including material's instant navigation (document$). */
(function () {
  "use strict";
  var GRADE = /^\s*([A-DF])([+-]?)(?![A-Za-z])/;
  var NUMBER = /(-?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?)(?:\s*\/\s*(\d+))?/i;
  var POINTS = { A: 4, B: 3, C: 2, D: 1, F: 0 };

  function sortKey(cell) {
    var text = (cell.getAttribute("data-sort") || cell.textContent || "").trim();
    var g = GRADE.exec(text);
    if (g) return { num: POINTS[g[1]] + (g[2] === "+" ? 0.3 : g[2] === "-" ? -0.3 : 0) };
    var n = NUMBER.exec(text);
    if (n && /^[^A-Za-z]*$/.test(text.slice(0, n.index).replace(/[✓✗○⚠◔⚑ℹ]/g, "")) ) {
      var v = parseFloat(n[1].replace(/,/g, ""));
      if (n[2] !== undefined && +n[2] > 0) v = v / +n[2];
      if (!isNaN(v)) return { num: v };
    }
    if (!text || text === "–") return { none: true };
    return { text: text.toLowerCase() };
  }

  // Numbers (grades, figures, ratios) first, then text markers, then empty cells; only the
  // order within a group follows the direction, so "not run" never tops a sorted figure column.
  function group(k) { return k.none ? 2 : k.num !== undefined ? 0 : 1; }

  function compare(a, b, dir) {
    var ga = group(a), gb = group(b);
    if (ga !== gb) return ga - gb;
    if (ga === 2) return 0;
    var c = ga === 0 ? a.num - b.num : a.text.localeCompare(b.text, undefined, { numeric: true });
    return dir === "ascending" ? c : -c;
  }

  function sortBy(table, index, th) {
    var body = table.tBodies[0];
    if (!body) return;
    var dir = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { h.setAttribute("aria-sort", "none"); });
    th.setAttribute("aria-sort", dir);
    var rows = Array.prototype.slice.call(body.rows).map(function (row, i) {
      var cell = row.cells[index];
      return { row: row, key: cell ? sortKey(cell) : { none: true }, i: i };
    });
    rows.sort(function (x, y) { return compare(x.key, y.key, dir) || x.i - y.i; });
    rows.forEach(function (r) { body.appendChild(r.row); });
  }

  function setup(root) {
    var tables = root.querySelectorAll(".md-typeset table");
    Array.prototype.forEach.call(tables, function (table) {
      if (table.getAttribute("data-lb-sortable") || !table.tHead || !table.tHead.rows.length) return;
      table.setAttribute("data-lb-sortable", "1");
      var heads = Array.prototype.map.call(table.tHead.rows[0].cells, function (th) { return th.textContent.trim(); });
      if (heads.join("") === "") {  // a two-column fact table: no header, nothing to sort
        table.classList.add("lb-facts");
        return;
      }
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, index) {
        th.classList.add("lb-sortable");
        th.setAttribute("aria-sort", "none");
        th.tabIndex = 0;
        th.title = "Sort by this column";
        th.addEventListener("click", function (event) {
          if (event.target.closest && event.target.closest("a")) return;  // a link in a header still navigates
          sortBy(table, index, th);
        });
        th.addEventListener("keydown", function (event) {
          if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sortBy(table, index, th); }
        });
      });
    });
  }

  if (typeof window.document$ !== "undefined" && window.document$.subscribe) {
    window.document$.subscribe(function () { setup(document); });
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { setup(document); });
  } else {
    setup(document);
  }
})();

/* llmbench: filter bars (the claims page). A form.lb-filter filters the first table after it:
   each select names a column (data-col) and how a cell matches (exact text, or contains).
   Works offline; without JavaScript the whole table stays visible. */
(function () {
  "use strict";

  function tableAfter(form) {
    var tables = document.querySelectorAll(".md-typeset table");
    for (var i = 0; i < tables.length; i++) {
      if (form.compareDocumentPosition(tables[i]) & Node.DOCUMENT_POSITION_FOLLOWING) return tables[i];
    }
    return null;
  }

  function apply(form, table) {
    var selects = form.querySelectorAll("select[data-col]");
    var rows = table.tBodies[0] ? table.tBodies[0].rows : [];
    var shown = 0;
    Array.prototype.forEach.call(rows, function (row) {
      var keep = Array.prototype.every.call(selects, function (sel) {
        if (!sel.value) return true;
        var cell = row.cells[+sel.getAttribute("data-col")];
        var text = cell ? cell.textContent.trim() : "";
        return sel.getAttribute("data-match") === "contains" ? text.indexOf(sel.value) !== -1 : text === sel.value;
      });
      row.hidden = !keep;
      if (keep) shown += 1;
    });
    var out = form.querySelector(".lb-filter-count");
    if (out) out.textContent = shown + " of " + rows.length + " shown";
  }

  function setup(root) {
    Array.prototype.forEach.call(root.querySelectorAll("form.lb-filter"), function (form) {
      if (form.getAttribute("data-lb-ready")) return;
      var table = tableAfter(form);
      if (!table) return;
      form.setAttribute("data-lb-ready", "1");
      form.addEventListener("change", function () { apply(form, table); });
      // A filter never navigates (no inline handler: pages carry no on* attributes).
      form.addEventListener("submit", function (event) { event.preventDefault(); });
      apply(form, table);
    });
  }

  if (typeof window.document$ !== "undefined" && window.document$.subscribe) {
    window.document$.subscribe(function () { setup(document); });
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { setup(document); });
  } else {
    setup(document);
  }
})();
