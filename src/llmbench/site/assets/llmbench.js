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
    if (n && /^[^A-Za-z]*$/.test(text.slice(0, n.index).replace(/[✓✗○⚠⏱⚑ℹ]/g, "")) ) {
      var v = parseFloat(n[1].replace(/,/g, ""));
      if (n[2] !== undefined && +n[2] > 0) v = v / +n[2];
      if (!isNaN(v)) return { num: v };
    }
    if (!text || text === "–") return { none: true };
    return { text: text.toLowerCase() };
  }

  function compare(a, b) {
    if (a.none || b.none) return a.none && b.none ? 0 : a.none ? 1 : -1;
    if (a.num !== undefined && b.num !== undefined) return a.num - b.num;
    if (a.num !== undefined) return -1;
    if (b.num !== undefined) return 1;
    return a.text.localeCompare(b.text, undefined, { numeric: true });
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
    rows.sort(function (x, y) {
      var c = compare(x.key, y.key);
      if (x.key.none || y.key.none) return c || x.i - y.i;  // empty cells stay last either way
      return (dir === "ascending" ? c : -c) || x.i - y.i;
    });
    rows.forEach(function (r) { body.appendChild(r.row); });
  }

  function setup(root) {
    var tables = root.querySelectorAll(".md-typeset table");
    Array.prototype.forEach.call(tables, function (table) {
      if (table.getAttribute("data-lb-sortable") || !table.tHead || !table.tHead.rows.length) return;
      table.setAttribute("data-lb-sortable", "1");
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
