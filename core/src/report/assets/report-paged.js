// The grants table of a large report, drawn a page at a time from the inert JSON in
// #grants-data: a hundred thousand rows as DOM nodes take a browser minutes and
// gigabytes, a hundred take nothing. Rows are [id, score (-1 unscored), tier slot,
// app, app id, plugin, vendor, principal, principal kind, kind, tenant, provider,
// [scopes], last use, days since (-1 unknown), [[factor, points, detail, controls]]
// (-1 unscored)]; text fields are indices into `strings` (-1: none). Cells are built
// with textContent only, so provider data never becomes markup. Filter, tiers, sort
// and page live in the URL fragment, as in the small report
// (#q=...&tiers=critical,high&sort=score&dir=desc&page=2).
(() => {
  "use strict";
  const PAGE = 100;
  const SLOTS = ["critical", "high", "medium", "low", "unscored"];
  const $ = (id) => document.getElementById(id);
  const table = $("grants-table");
  const data = $("grants-data");
  const filter = $("filter");
  const shown = $("shown");
  const prev = $("prev");
  const next = $("next");
  const where = $("page");
  if (!table || !data || !filter || !shown || !prev || !next || !where) return;
  const { strings: S, rows: R } = JSON.parse(data.textContent);
  const body = table.tBodies[0];
  const heads = Array.from(table.tHead.rows[0].cells);
  const boxes = Array.from(document.querySelectorAll("input[data-tier]"));
  const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });
  const str = (i) => (i >= 0 ? S[i] : "");
  let lower = null;
  let order = R.map((_, i) => i);
  let visible = order;
  let page = 0;
  let sortCol = heads.findIndex((h) => h.hasAttribute("aria-sort"));
  let sortDir = -1;

  // What each column sorts by: the small report's data-v, or its cell's text.
  const KEYS = {
    score: (r) => r[1],
    tier: (r) => SLOTS.length - 1 - r[2],
    app: (r) => S[r[3]],
    vendor: (r) => str(r[6]),
    principal: (r) => S[r[7]],
    kind: (r) => S[r[9]],
    tenant: (r) => S[r[10]],
    scopes: (r) => r[12].length,
    "last-used": (r) => str(r[13]),
    factors: (r) => (Array.isArray(r[15]) && r[15].length ? S[r[15][0][0]] : ""),
  };

  function sort() {
    if (sortCol < 0) return;
    const h = heads[sortCol];
    const key = KEYS[h.dataset.key];
    if (!key) return;
    const numeric = h.dataset.type === "num";
    const keyed = R.map((r, i) => [key(r), i]);
    keyed.sort((a, b) => {
      const c = numeric ? a[0] - b[0] : collator.compare(a[0], b[0]);
      return c * sortDir || a[1] - b[1];
    });
    order = keyed.map((k) => k[1]);
    heads.forEach((c, i) => {
      if (i === sortCol) c.setAttribute("aria-sort", sortDir > 0 ? "ascending" : "descending");
      else c.removeAttribute("aria-sort");
    });
  }

  // The row's text, as lowercase strings: what the filter searches.
  function text(r) {
    const out = [r[0].toLowerCase(), r[1] >= 0 ? String(r[1]) : "", SLOTS[r[2]]];
    for (const i of [r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[13], ...r[12]]) {
      if (i >= 0) out.push(lower[i]);
    }
    if (Array.isArray(r[15])) {
      for (const f of r[15]) {
        out.push(lower[f[0]], lower[f[2]]);
        if (f[3] >= 0) out.push(lower[f[3]]);
      }
    }
    return out;
  }

  function apply() {
    const terms = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    const on = new Set(boxes.filter((b) => b.checked).map((b) => SLOTS.indexOf(b.dataset.tier)));
    if (terms.length && !lower) lower = S.map((s) => s.toLowerCase());
    visible = order.filter((i) => {
      const r = R[i];
      if (!on.has(r[2])) return false;
      if (!terms.length) return true;
      const t = text(r);
      return terms.every((q) => t.some((s) => s.includes(q)));
    });
    shown.textContent = String(visible.length);
  }

  function el(tag, cls, content) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (content !== undefined) e.textContent = content;
    return e;
  }

  function cell(tr, cls, content, subText) {
    const td = el("td", cls, content);
    if (subText !== undefined) td.append(el("div", "sub", subText));
    tr.append(td);
    return td;
  }

  function scopes(tr, list) {
    const td = el("td");
    td.dataset.v = String(list.length);
    if (!list.length) td.append(el("span", "sub", "none"));
    else {
      const into = list.length <= 2 ? td : el("details");
      if (into !== td) {
        into.append(el("summary", "", `${list.length} scopes`));
        td.append(into);
      }
      list.forEach((s, i) => {
        if (i) into.append(" ");
        into.append(el("code", "", S[s]));
      });
    }
    tr.append(td);
  }

  function factors(tr, fs) {
    const td = el("td");
    if (!Array.isArray(fs) || !fs.length) {
      td.append(el("span", "sub", Array.isArray(fs) ? "no factors" : "unscored"));
      tr.append(td);
      return;
    }
    const sign = (n) => (n >= 0 ? "+" : "") + n;
    const details = el("details");
    const summary = el("summary", "", `${S[fs[0][0]]} ${sign(fs[0][1])}`);
    if (fs.length > 1) summary.append(" ", el("span", "sub", `+${fs.length - 1} more`));
    const ol = el("ol");
    for (const f of fs) {
      const li = el("li");
      li.append(el("span", "pts", sign(f[1])), " ", el("b", "", S[f[0]]), `: ${S[f[2]]}`);
      if (f[3] >= 0) li.append(" ", el("span", "ctl", S[f[3]]));
      ol.append(li);
    }
    details.append(summary, ol);
    td.append(details);
    tr.append(td);
  }

  function row(r, i) {
    const tr = el("tr");
    const tier = SLOTS[r[2]];
    tr.dataset.i = String(i);
    tr.dataset.tier = tier;
    tr.dataset.id = r[0];
    cell(tr, "num", r[1] >= 0 ? String(r[1]) : "–");
    const t = cell(tr, "nw");
    t.append(el("span", `badge ${tier}`, tier));
    const app = cell(tr, "", S[r[3]], S[r[4]]);
    if (r[5] >= 0) app.append(el("div", "sub", S[r[5]]));
    if (r[6] >= 0) cell(tr, "", S[r[6]]);
    else cell(tr, "").append(el("span", "sub", "unmapped"));
    cell(tr, "", S[r[7]], S[r[8]]);
    cell(tr, "nw", S[r[9]]);
    cell(tr, "", S[r[10]], S[r[11]]);
    scopes(tr, r[12]);
    if (r[13] < 0) cell(tr, "nw").append(el("span", "sub", "never"));
    else {
      const raw = S[r[13]];
      const used = cell(tr, "nw", raw.split("T")[0], r[14] >= 0 ? `${r[14]} d ago` : undefined);
      used.title = raw;
    }
    factors(tr, r[15]);
    return tr;
  }

  function draw() {
    const pages = Math.max(1, Math.ceil(visible.length / PAGE));
    page = Math.min(Math.max(page, 0), pages - 1);
    const frag = document.createDocumentFragment();
    for (const i of visible.slice(page * PAGE, (page + 1) * PAGE)) frag.append(row(R[i], i));
    body.replaceChildren(frag);
    where.textContent = `Page ${page + 1} of ${pages}`;
    prev.disabled = page === 0;
    next.disabled = page >= pages - 1;
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
    if (page > 0) p.set("page", String(page + 1));
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
    page = (parseInt(p.get("page"), 10) || 1) - 1;
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
      apply();
      page = 0;
      draw();
      save();
    });
  });
  const refilter = () => {
    apply();
    page = 0;
    draw();
    save();
  };
  filter.addEventListener("input", refilter);
  for (const b of boxes) b.addEventListener("change", refilter);
  prev.addEventListener("click", () => {
    page -= 1;
    draw();
    save();
  });
  next.addEventListener("click", () => {
    page += 1;
    draw();
    save();
  });

  load();
  // The rows arrive in report order, which is score descending: sort only for
  // another order (a sort of a hundred thousand rows takes a second).
  if (sortCol > 0 || sortDir !== -1) sort();
  apply();
  draw();
  document.documentElement.dataset.js = "ready";
})();
