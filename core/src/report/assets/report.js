// Sorting and filtering of #grants-table. State lives in the URL fragment
// (#q=...&tiers=critical,high&sort=score&dir=desc), so a filtered view can be
// bookmarked or shared along with the file.
(() => {
  "use strict";
  const table = document.getElementById("grants-table");
  const filter = document.getElementById("filter");
  const shown = document.getElementById("shown");
  if (!table || !filter || !shown) return;
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  const heads = Array.from(table.tHead.rows[0].cells);
  const boxes = Array.from(document.querySelectorAll("input[data-tier]"));
  const text = new Map(rows.map((r) => [r, r.textContent.toLowerCase()]));
  const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });
  let sortCol = heads.findIndex((h) => h.hasAttribute("aria-sort"));
  let sortDir = -1;

  const value = (row, i) => {
    const cell = row.cells[i];
    const v = cell.dataset.v;
    return v !== undefined ? v : cell.textContent.trim();
  };

  function sort() {
    if (sortCol < 0) return;
    const numeric = heads[sortCol].dataset.type === "num";
    const keyed = rows.map((r) => {
      let k = value(r, sortCol);
      if (numeric) {
        k = parseFloat(k);
        if (Number.isNaN(k)) k = -Infinity;
      }
      return [k, Number(r.dataset.i), r];
    });
    keyed.sort((a, b) => {
      const c = numeric ? (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0) : collator.compare(a[0], b[0]);
      return c * sortDir || a[1] - b[1];
    });
    const frag = document.createDocumentFragment();
    for (const k of keyed) frag.appendChild(k[2]);
    body.appendChild(frag);
    heads.forEach((h, i) => {
      if (i === sortCol) h.setAttribute("aria-sort", sortDir > 0 ? "ascending" : "descending");
      else h.removeAttribute("aria-sort");
    });
  }

  function apply() {
    const terms = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    const on = new Set(boxes.filter((b) => b.checked).map((b) => b.dataset.tier));
    let n = 0;
    for (const r of rows) {
      const t = text.get(r);
      const ok = on.has(r.dataset.tier) && terms.every((q) => t.includes(q));
      r.hidden = !ok;
      if (ok) n += 1;
    }
    shown.textContent = String(n);
  }

  function save() {
    const p = new URLSearchParams();
    if (filter.value) p.set("q", filter.value);
    if (boxes.some((b) => !b.checked)) {
      p.set("tiers", boxes.filter((b) => b.checked).map((b) => b.dataset.tier).join(","));
    }
    if (sortCol >= 0) {
      p.set("sort", heads[sortCol].dataset.key);
      p.set("dir", sortDir > 0 ? "asc" : "desc");
    }
    const h = p.toString();
    try {
      history.replaceState(null, "", h ? "#" + h : location.pathname + location.search);
    } catch (e) {
      // Some viewers forbid history changes on file: URLs; the view still works.
    }
  }

  function load() {
    const p = new URLSearchParams(location.hash.slice(1));
    if (p.has("q")) filter.value = p.get("q");
    if (p.has("tiers")) {
      const on = new Set(p.get("tiers").split(","));
      for (const b of boxes) b.checked = on.has(b.dataset.tier);
    }
    const i = heads.findIndex((h) => h.dataset.key === p.get("sort"));
    if (i >= 0) {
      sortCol = i;
      sortDir = p.get("dir") === "asc" ? 1 : -1;
    }
  }

  heads.forEach((h, i) => {
    const button = h.querySelector("button");
    if (!button) return;
    button.addEventListener("click", () => {
      if (sortCol === i) sortDir = -sortDir;
      else {
        sortCol = i;
        // Numbers read best largest first, names A to Z.
        sortDir = h.dataset.type === "num" ? -1 : 1;
      }
      sort();
      save();
    });
  });
  filter.addEventListener("input", () => {
    apply();
    save();
  });
  for (const b of boxes) {
    b.addEventListener("change", () => {
      apply();
      save();
    });
  }

  load();
  sort();
  apply();
  document.documentElement.dataset.js = "ready";
})();
