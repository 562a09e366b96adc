//! One self-contained HTML page: header, scan status, tier counts, three SVG
//! charts, the vendor registry's governance findings, and a sortable, filterable
//! table of every grant shown.
//!
//! - **Offline and sealed.** Style and script are inline; charts are SVG drawn
//!   here; there is no external reference of any kind. The Content-Security-Policy
//!   says so to the browser as well (`default-src 'none'`), so even a mistake here
//!   could not make the page fetch anything.
//! - **Hostile data.** Every piece of grant data goes through [`esc`], in text and
//!   in attributes (always double-quoted). The script reads the table's text and
//!   never writes HTML.
//! - **Stable hooks** (tests and users rely on them): `#grants-table` (one
//!   `tbody` row per grant, `data-id`, `data-tier`), `#findings-table` (with a vendor
//!   registry: one row per finding kind and app, `data-kind`), `#filter`, the tier
//!   checkboxes `input[data-tier]`, and `svg[data-chart=tier-by-vendor |
//!   top-blast-radius | stale-by-age]`. The table state can be set from the URL
//!   fragment: `#q=text&tiers=critical,high&sort=score&dir=desc`.
//! - **Large reports** (more than [`PAGED_ABOVE`] grants) carry the rows as compact
//!   inert JSON (`<script type="application/json" id="grants-data">`, every string once
//!   in a table, rows as arrays of indices; `<`, `>`, `&`, U+2028 and U+2029 written as
//!   `\uXXXX`, so no provider string can close the block or open markup) and a second
//!   script draws `#grants-table` [`PAGE_ROWS`] rows at a time with page controls
//!   (`#prev`, `#next`, `#page`; `&page=N` in the fragment). A static table of 100,000
//!   grants was 357 MB that a browser could not open; the JSON is a tenth of it.

use std::fmt::Write as _;
use std::io::Write;

use super::Row;
use super::{
    ReportError, SLOTS, View, charts, clip, days_since, factors_of, finding_counts, finding_groups,
    finding_label, plural, slot, vendor_of, wire_name,
};

const STYLE: &str = include_str!("assets/report.css");
const SCRIPT: &str = include_str!("assets/report.js");
/// The large report's script: pages, filters and sorts the rows of the data block.
const PAGED_SCRIPT: &str = include_str!("assets/report-paged.js");

/// Reports with more grants than this carry their rows as JSON and draw them a page
/// at a time; up to it, the table is static HTML that works without JavaScript.
pub const PAGED_ABOVE: usize = 2_000;

/// Rows per page of a large report (the script's `PAGE`).
pub const PAGE_ROWS: usize = 100;

/// Up to this many governance rows show unfolded.
const FINDING_ROWS_OPEN: usize = 15;

/// The page's Content-Security-Policy: nothing may be fetched, images only from
/// `data:` URLs, and only *our* style sheet and script run — named by their SHA-256,
/// not `'unsafe-inline'`, so markup that slipped past escaping could neither run a
/// script nor restyle the page. (No `style="…"` attribute is written for the same
/// reason: a hash does not cover attributes.)
pub(super) fn csp(script: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let hash = |s: &str| base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(s));
    format!(
        "default-src 'none'; style-src 'sha256-{}'; script-src 'sha256-{}'; img-src data:",
        hash(STYLE),
        hash(script)
    )
}

/// Escapes text for HTML content and double- or single-quoted attributes.
pub(super) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

pub(super) fn write(view: &View<'_>, out: &mut dyn Write) -> Result<(), ReportError> {
    let paged = view.grants.len() > PAGED_ABOVE;
    let script = if paged { PAGED_SCRIPT } else { SCRIPT };
    // Built in memory: `fmt::Write` on a String cannot fail, which keeps the builders
    // below free of `?`. A large report's rows are written out in slices as they are
    // built, so the page never holds them all as text twice.
    let mut page = String::with_capacity(64 * 1024 + view.grants.len().min(PAGED_ABOVE) * 1200);
    head(&mut page, view, script);
    header(&mut page, view);
    charts_section(&mut page, view);
    governance(&mut page, view);
    if paged {
        paged_table(&mut page, view, out)?;
    } else {
        table(&mut page, view);
    }
    let _ = write!(
        page,
        "<footer>grantscope {} · blast radius = sum of grant scores · this file is self-contained and works offline</footer>\n<script>{script}</script>\n</body>\n</html>\n",
        esc(&view.meta.tool_version)
    );
    out.write_all(page.as_bytes())?;
    Ok(())
}

fn head(page: &mut String, view: &View<'_>, script: &str) {
    let _ = write!(
        page,
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="grantscope {version}">
<title>{title}</title>
<style>{STYLE}</style>
</head>
<body>
"#,
        version = esc(&view.meta.tool_version),
        title = esc(view.title()),
        csp = csp(script),
    );
}

/// `2025-06-01T12:00:00Z` → `2025-06-01 12:00 UTC`, for reading; other text as is.
fn readable_time(rfc3339: &str) -> String {
    match rfc3339.split_once('T') {
        Some((date, time)) if time.ends_with('Z') => match time.get(..5) {
            Some(hh_mm) => format!("{date} {hh_mm} UTC"),
            None => rfc3339.to_owned(),
        },
        _ => rfc3339.to_owned(),
    }
}

fn header(page: &mut String, view: &View<'_>) {
    let _ = writeln!(
        page,
        r#"<header><h1>{}</h1><p class="meta">Generated <time datetime="{at}">{}</time> · grantscope {} · {}{}</p></header>"#,
        esc(view.title()),
        esc(&readable_time(&view.generated_at)),
        esc(&view.meta.tool_version),
        plural(view.grants.len(), "grant", "grants"),
        view.filter_note()
            .map_or(String::new(), |n| format!(" ({})", esc(&n))),
        at = esc(&view.generated_at),
    );
    let partial = view.partial();
    if !partial.is_empty() {
        let names: Vec<String> = partial
            .iter()
            .map(|t| format!("<b>{}</b> ({})", esc(&t.tenant), esc(&t.provider)))
            .collect();
        let _ = writeln!(
            page,
            r#"<div class="alert" role="alert"><strong>Partial scan.</strong> {} of {} did not finish: {}. Grants of {} may be missing from this report.</div>"#,
            plural(partial.len(), "tenant", "tenants"),
            view.meta.tenants.len(),
            names.join(", "),
            if partial.len() == 1 {
                "this tenant"
            } else {
                "these tenants"
            }
        );
    }
    if !view.meta.tenants.is_empty() {
        page.push_str(r#"<ul class="tenants" aria-label="Tenants">"#);
        for t in &view.meta.tenants {
            let grants = view.grants.iter().filter(|g| g.tenant == t.tenant).count();
            let scanned = t
                .last_scan_at
                .as_deref()
                .map_or("never scanned".to_owned(), |s| {
                    format!("scanned {}", readable_time(s))
                });
            let (class, status) = if t.complete {
                ("ok", "complete")
            } else {
                ("partial", "⚠ PARTIAL scan")
            };
            let _ = write!(
                page,
                r#"<li class="{class}"><b>{}</b> · {} · {} · {} · {status}</li>"#,
                esc(&t.tenant),
                esc(&t.provider),
                plural(grants, "grant", "grants"),
                esc(&scanned),
            );
        }
        page.push_str("</ul>\n");
    }
    page.push_str(r#"<section class="cards" aria-label="Grants by tier">"#);
    for (name, n) in SLOTS.iter().zip(view.slots) {
        let _ = write!(
            page,
            r#"<div class="card {name}"><b>{n}</b><span>{name}</span></div>"#
        );
    }
    page.push_str("</section>\n");
}

fn charts_section(page: &mut String, view: &View<'_>) {
    page.push_str(r#"<ul class="legend" aria-label="Tier colours">"#);
    for (name, colour) in SLOTS.iter().zip(charts::COLOURS) {
        let _ = write!(
            page,
            r#"<li><svg class="swatch" viewBox="0 0 1 1" aria-hidden="true"><rect width="1" height="1" fill="{colour}"/></svg>{name}</li>"#
        );
    }
    page.push_str("</ul>\n<section class=\"charts\">\n");
    page.push_str(
        "<figure><figcaption>Grants by tier per vendor<small>Most severe first; vendor “unmapped” = app not mapped to a vendor yet</small></figcaption>",
    );
    charts::tier_by_vendor(page, &view.grants);
    page.push_str("</figure>\n<figure><figcaption>Top vendors and apps by blast radius<small>Σ = sum of grant scores; colour = worst tier</small></figcaption>");
    charts::top_blast_radius(page, &view.grants);
    page.push_str("</figure>\n<figure><figcaption>Stale grants: days since last use<small>Measured from the report time; never used = no use recorded</small></figcaption>");
    charts::stale_by_age(page, &view.grants, view.meta.generated_at);
    page.push_str("</figure>\n</section>\n");
}

/// The vendor registry's findings, one row per kind and app (with a registry only):
/// what the risk team acts on, above the grants it is about.
fn governance(page: &mut String, view: &View<'_>) {
    if view.meta.governance.is_none() {
        return;
    }
    page.push_str(
        r#"<section id="governance" aria-labelledby="governance-heading"><h2 id="governance-heading">Governance findings</h2>"#,
    );
    let counts = finding_counts(view);
    if counts.is_empty() {
        page.push_str("<p class=\"sub\">None: every app shown has a vendor with an owner, within its allowed scopes, and no vendor being offboarded or past its contract holds a grant.</p></section>\n");
        return;
    }
    page.push_str("<ul class=\"findings\">");
    for (kind, n) in &counts {
        let _ = write!(
            page,
            r#"<li data-kind="{}"><b>{n}</b> {}</li>"#,
            esc(&wire_name(kind)),
            esc(finding_label(*kind))
        );
    }
    let groups = finding_groups(view);
    // A long list would push the grants table off the first screens: folded, with
    // the counts above saying what is inside.
    let _ = write!(
        page,
        "</ul>\n<details{}><summary>{} by kind and app</summary>\n",
        if groups.len() <= FINDING_ROWS_OPEN {
            " open"
        } else {
            ""
        },
        plural(groups.len(), "row", "rows")
    );
    page.push_str("<div class=\"wrap\"><table id=\"findings-table\"><thead><tr><th scope=\"col\">Finding</th><th scope=\"col\">Vendor</th><th scope=\"col\">App</th><th scope=\"col\">Provider</th><th scope=\"col\">Grants</th><th scope=\"col\">Tenants</th><th scope=\"col\">Detail</th></tr></thead>\n<tbody>\n");
    for g in groups {
        let _ = writeln!(
            page,
            r#"<tr data-kind="{kind}"><td>{label}</td><td>{vendor}</td><td title="{app_id}">{app}</td><td>{provider}</td><td class="num">{grants}</td><td class="num">{tenants}</td><td>{detail}</td></tr>"#,
            kind = esc(&wire_name(g.kind)),
            label = esc(finding_label(g.kind)),
            vendor = esc(g.vendor.unwrap_or("–")),
            app_id = esc(g.app_id),
            app = esc(&clip(g.app_name, 80)),
            provider = esc(g.provider),
            grants = g.grants,
            tenants = g.tenants.len(),
            detail = esc(&clip(g.detail, 240)),
        );
    }
    page.push_str("</tbody></table></div></details></section>\n");
}

/// Table columns: key (for the URL fragment), heading, numeric sort.
const COLUMNS: [(&str, &str, bool); 10] = [
    ("score", "Score", true),
    ("tier", "Tier", true),
    ("app", "App", false),
    ("vendor", "Vendor", false),
    ("principal", "Principal", false),
    ("kind", "Kind", false),
    ("tenant", "Tenant", false),
    ("scopes", "Scopes", true),
    ("last-used", "Last used", false),
    ("factors", "Factors", false),
];

fn table(page: &mut String, view: &View<'_>) {
    table_start(page, view, None);
    for (i, g) in view.grants.iter().enumerate() {
        row(page, i, g, view);
    }
    page.push_str("</tbody></table></div></section>\n");
}

/// The grants section up to the table body: heading, filter, tier boxes, the count,
/// and for a large report (`pages`) the page controls.
fn table_start(page: &mut String, view: &View<'_>, pages: Option<usize>) {
    let total = view.grants.len();
    page.push_str(
        r#"<section aria-labelledby="grants-heading"><h2 id="grants-heading">Grants</h2>"#,
    );
    page.push_str(r#"<div class="controls"><input id="filter" type="search" placeholder="Filter by app, vendor, principal, tenant, scope, factor…" aria-label="Filter grants" autocomplete="off"><fieldset class="tiers"><legend hidden>Tiers</legend>"#);
    for name in SLOTS {
        let _ = write!(
            page,
            r#"<label><input type="checkbox" data-tier="{name}" checked> {name}</label>"#
        );
    }
    match pages {
        None => {
            let _ = write!(
                page,
                r#"</fieldset><span class="count">Showing <b id="shown">{total}</b> of {total}</span></div>
<noscript><p class="sub">Sorting and filtering need JavaScript; the table below is complete without it.</p></noscript>
<div class="wrap"><table id="grants-table"><thead><tr>"#
            );
        }
        Some(pages) => {
            let _ = write!(
                page,
                r#"</fieldset><span class="count">Showing <b id="shown">{total}</b> of {total}</span><span class="pager"><button type="button" id="prev" disabled>‹ Previous</button> <span id="page" class="count">Page 1 of {pages}</span> <button type="button" id="next">Next ›</button></span></div>
<noscript><p class="sub">This report lists {total} grants, {PAGE_ROWS} to a page: paging, sorting and filtering need JavaScript. Every grant is in this file's JSON data block; <code>grantscope report --format csv</code> or <code>--format jsonl</code> lists them without a browser.</p></noscript>
<div class="wrap"><table id="grants-table"><thead><tr>"#
            );
        }
    }
    for (i, (key, heading, numeric)) in COLUMNS.iter().enumerate() {
        let _ = write!(
            page,
            r#"<th scope="col" data-key="{key}"{}{}><button type="button">{heading}</button></th>"#,
            if *numeric { r#" data-type="num""# } else { "" },
            // The rows arrive sorted by score, largest first.
            if i == 0 {
                r#" aria-sort="descending""#
            } else {
                ""
            },
        );
    }
    page.push_str("</tr></thead>\n<tbody>\n");
}

/// A large report's table: the head, an empty body the script fills a page at a time,
/// and the rows as JSON in an inert data block (see the module doc for the layout).
/// Rows go to `out` in slices of about a megabyte; the string table, which the rows
/// only index, follows them.
fn paged_table(page: &mut String, view: &View<'_>, out: &mut dyn Write) -> Result<(), ReportError> {
    table_start(
        page,
        view,
        Some(view.grants.len().div_ceil(PAGE_ROWS).max(1)),
    );
    page.push_str(
        "</tbody></table></div>\n<script type=\"application/json\" id=\"grants-data\">{\"rows\":[",
    );
    let mut strings = Strings::default();
    for (i, g) in view.grants.iter().enumerate() {
        if i > 0 {
            page.push(',');
        }
        data_row(page, g, view, &mut strings);
        if page.len() > 1 << 20 {
            out.write_all(page.as_bytes())?;
            page.clear();
        }
    }
    page.push_str("],\"strings\":[");
    for (i, s) in strings.list.iter().enumerate() {
        if i > 0 {
            page.push(',');
        }
        json_str(page, s);
    }
    page.push_str("]}</script></section>\n");
    Ok(())
}

/// Every distinct string of the data block once, by first use: app, vendor, tenant,
/// scope names and most factor sentences repeat across thousands of grants.
#[derive(Default)]
struct Strings {
    index: std::collections::HashMap<String, u32>,
    list: Vec<String>,
}

impl Strings {
    fn id(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = u32::try_from(self.list.len()).unwrap_or(u32::MAX);
        self.index.insert(s.to_owned(), i);
        self.list.push(s.to_owned());
        i
    }
}

/// `s` as a JSON string that is also inert inside a `<script>` element: `<`, `>` and
/// `&` as `\uXXXX` (no `</script>`, no `<!--`), and U+2028/U+2029, which some parsers
/// read as line ends, likewise. Everything else as serde_json writes it.
fn json_str(page: &mut String, s: &str) {
    let quoted = serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned());
    for c in quoted.chars() {
        match c {
            '<' => page.push_str("\\u003c"),
            '>' => page.push_str("\\u003e"),
            '&' => page.push_str("\\u0026"),
            '\u{2028}' => page.push_str("\\u2028"),
            '\u{2029}' => page.push_str("\\u2029"),
            _ => page.push(c),
        }
    }
}

/// One row of the data block, in the script's layout.
fn data_row(page: &mut String, g: &Row<'_>, view: &View<'_>, strings: &mut Strings) {
    let mut id = |s: &str| strings.id(s);
    page.push('[');
    json_str(page, &g.id);
    let value = g.value().map_or(-1, i32::from);
    let app = id(&g.app.name);
    let app_id = id(&clip(&g.app.id, 60));
    let plugin = g
        .plugin
        .as_ref()
        .map_or(-1, |p| i64::from(id(&format!("plugin {p}"))));
    let vendor = g.vendor.as_deref().map_or(-1, |v| i64::from(id(v)));
    let principal = id(g.principal.display.as_deref().unwrap_or(&g.principal.id));
    let principal_kind = id(&wire_name(g.principal.kind));
    let kind = id(&wire_name(g.kind).replace('_', " "));
    let tenant = id(&g.tenant);
    let provider = id(&g.provider);
    let _ = write!(
        page,
        ",{value},{},{app},{app_id},{plugin},{vendor},{principal},{principal_kind},{kind},{tenant},{provider},[",
        slot(g)
    );
    for (i, s) in g.scopes.iter().enumerate() {
        let s = id(s);
        let _ = write!(page, "{}{s}", if i > 0 { "," } else { "" });
    }
    match &g.last_used_at {
        None => page.push_str("],-1,-1,"),
        Some(t) => {
            let days = days_since(t, view.meta.generated_at).unwrap_or(-1);
            let _ = write!(page, "],{},{days},", id(t));
        }
    }
    let written = g.written();
    if written.is_none() {
        page.push_str("-1]");
        return;
    }
    page.push('[');
    for (i, f) in factors_of(written.as_deref()).iter().enumerate() {
        let controls = if f.controls.is_empty() {
            -1
        } else {
            i64::from(id(&f.controls.join(", ")))
        };
        let _ = write!(
            page,
            "{}[{},{},{},{controls}]",
            if i > 0 { "," } else { "" },
            id(&f.factor),
            f.points,
            id(&f.detail)
        );
    }
    page.push_str("]]");
}

fn row(page: &mut String, i: usize, g: &Row<'_>, view: &View<'_>) {
    let tier = SLOTS[slot(g)];
    let _ = write!(
        page,
        r#"<tr data-i="{i}" data-tier="{tier}" data-id="{}">"#,
        esc(&g.id)
    );
    // Score and tier; an unscored grant sorts below every score.
    match g.value() {
        Some(v) => {
            let _ = write!(page, r#"<td class="num" data-v="{v}">{v}</td>"#);
        }
        None => page.push_str(r#"<td class="num" data-v="-1">–</td>"#),
    }
    let _ = write!(
        page,
        r#"<td class="nw" data-v="{}"><span class="badge {tier}">{tier}</span></td>"#,
        SLOTS.len() - 1 - slot(g)
    );
    let plugin = g.plugin.as_ref().map_or(String::new(), |p| {
        format!(r#"<div class="sub">plugin {}</div>"#, esc(&p.to_string()))
    });
    let _ = write!(
        page,
        r#"<td>{}<div class="sub">{}</div>{plugin}</td>"#,
        esc(&g.app.name),
        esc(&clip(&g.app.id, 60))
    );
    match &g.vendor {
        Some(v) => {
            let _ = write!(page, "<td>{}</td>", esc(v));
        }
        None => {
            let _ = write!(
                page,
                r#"<td data-v=""><span class="sub">{}</span></td>"#,
                esc(vendor_of(g))
            );
        }
    }
    let principal = g.principal.display.as_deref().unwrap_or(&g.principal.id);
    let _ = write!(
        page,
        r#"<td>{}<div class="sub">{}</div></td>"#,
        esc(principal),
        wire_name(g.principal.kind)
    );
    let _ = write!(
        page,
        r#"<td class="nw">{}</td>"#,
        wire_name(g.kind).replace('_', " ")
    );
    let _ = write!(
        page,
        r#"<td>{}<div class="sub">{}</div></td>"#,
        esc(&g.tenant),
        esc(&g.provider)
    );
    scopes(page, &g.scopes);
    last_used(page, g, view);
    factors(page, g);
    page.push_str("</tr>\n");
}

fn scopes(page: &mut String, scopes: &[String]) {
    let _ = write!(page, r#"<td data-v="{}">"#, scopes.len());
    let codes: String = scopes
        .iter()
        .map(|s| format!("<code>{}</code> ", esc(s)))
        .collect();
    match scopes.len() {
        0 => page.push_str(r#"<span class="sub">none</span>"#),
        1 | 2 => page.push_str(codes.trim_end()),
        n => {
            let _ = write!(
                page,
                "<details><summary>{n} scopes</summary>{}</details>",
                codes.trim_end()
            );
        }
    }
    page.push_str("</td>");
}

fn last_used(page: &mut String, g: &Row<'_>, view: &View<'_>) {
    match &g.last_used_at {
        None => page.push_str(r#"<td class="nw" data-v=""><span class="sub">never</span></td>"#),
        Some(t) => {
            let date = t.split_once('T').map_or(t.as_str(), |(d, _)| d);
            let age = days_since(t, view.meta.generated_at).map_or(String::new(), |d| {
                format!(r#"<div class="sub">{d} d ago</div>"#)
            });
            let _ = write!(
                page,
                r#"<td class="nw" data-v="{}" title="{}">{}{age}</td>"#,
                esc(t),
                esc(t),
                esc(date)
            );
        }
    }
}

fn factors(page: &mut String, g: &Row<'_>) {
    let written = g.written();
    let factors = factors_of(written.as_deref());
    let Some(top) = factors.first() else {
        let what = if written.is_some() {
            "no factors"
        } else {
            "unscored"
        };
        let _ = write!(page, r#"<td><span class="sub">{what}</span></td>"#);
        return;
    };
    let more = if factors.len() > 1 {
        format!(r#" <span class="sub">+{} more</span>"#, factors.len() - 1)
    } else {
        String::new()
    };
    let _ = write!(
        page,
        r#"<td><details><summary>{} {:+}{more}</summary><ol>"#,
        esc(&top.factor),
        top.points
    );
    for f in &factors {
        let controls = if f.controls.is_empty() {
            String::new()
        } else {
            format!(
                r#" <span class="ctl">{}</span>"#,
                esc(&f.controls.join(", "))
            )
        };
        let _ = write!(
            page,
            r#"<li><span class="pts">{:+}</span> <b>{}</b>: {}{controls}</li>"#,
            f.points,
            esc(&f.factor),
            esc(&f.detail)
        );
    }
    page.push_str("</ol></details></td>");
}

#[cfg(test)]
mod tests {
    use super::super::tests::{grant, now};
    use super::super::*;
    use super::{PAGE_ROWS, PAGED_ABOVE, esc};

    fn page(grants: &[GrantRecord]) -> String {
        let mut out = Vec::new();
        let r = render(
            Format::Html,
            grants,
            &ReportMeta::new(now()),
            &ReportOptions::default(),
            &mut out,
        );
        assert!(r.is_ok(), "{r:?}");
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn escaping_covers_text_and_attributes() {
        assert_eq!(
            esc(r#"<a href='x'>"&"</a>"#),
            "&lt;a href=&#39;x&#39;&gt;&quot;&amp;&quot;&lt;/a&gt;"
        );
    }

    #[test]
    fn a_hostile_app_name_is_text() {
        let mut g = grant("x\"><script>", "<script>alert(1)</script>", None);
        g.vendor = Some("<img src=x onerror=alert(2)>".into());
        let html = page(&[g]);
        assert!(!html.contains("<script>alert(1)"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains(r#"data-id="x&quot;&gt;&lt;script&gt;""#));
        assert_eq!(html.matches("<script>").count(), 1, "only our own script");
    }

    /// Past the threshold the rows travel as JSON in an inert data block that no
    /// provider string can close or turn into markup, and they parse back to the grants.
    #[test]
    fn a_large_report_carries_its_rows_as_inert_json() {
        let mut grants: Vec<GrantRecord> = (0..=PAGED_ABOVE)
            .map(|i| {
                grant(
                    &format!("g{i:05}"),
                    "App",
                    Some(((i % 90) as u8, Tier::Low)),
                )
            })
            .collect();
        let hostile = "</script><script>alert(1)</script><!--<script>";
        grants[0].app.name = hostile.into();
        grants[0].score = Some(crate::model::Score {
            value: 99,
            tier: Tier::Critical,
            factors: vec![],
        });
        grants[1].vendor = Some("\u{2028}&amp;</SCRIPT >".into());
        grants[2].scopes = vec!["</script".into(), "a&b".into()];
        grants[3].score = None;
        let html = page(&grants);
        assert_eq!(
            html.matches("<script").count(),
            2,
            "the data block and our script"
        );
        assert!(html.contains(&super::csp(super::PAGED_SCRIPT)));
        assert!(
            html.contains("<tbody>\n</tbody>"),
            "the script fills the body"
        );
        let open = r#"<script type="application/json" id="grants-data">"#;
        let start = html.find(open).map_or(0, |i| i + open.len());
        let data = &html[start..];
        let data = &data[..data.find("</script>").unwrap_or(data.len())];
        for c in ['<', '>', '&', '\u{2028}'] {
            assert!(!data.contains(c), "{c:?} in the data block");
        }
        let doc: serde_json::Value = serde_json::from_str(data).unwrap_or_default();
        let rows = doc["rows"].as_array().cloned().unwrap_or_default();
        let strings = doc["strings"].as_array().cloned().unwrap_or_default();
        let s = |v: &serde_json::Value| {
            v.as_u64()
                .and_then(|i| strings.get(i as usize))
                .and_then(|s| s.as_str())
                .unwrap_or("")
                .to_owned()
        };
        assert_eq!(rows.len(), grants.len());
        // Report order: the 99 first, the unscored one last.
        assert_eq!(rows[0][0], "g00000");
        assert_eq!(s(&rows[0][3]), hostile);
        assert_eq!(rows[0][15], serde_json::json!([]), "scored, no factors");
        let last = &rows[rows.len() - 1];
        assert_eq!(last[0], "g00003");
        assert_eq!(
            (&last[1], &last[2], &last[15]),
            (
                &serde_json::json!(-1),
                &serde_json::json!(4),
                &serde_json::json!(-1)
            )
        );
        let vendor = rows.iter().find(|r| r[0] == "g00001").map(|r| s(&r[6]));
        assert_eq!(vendor.as_deref(), Some("\u{2028}&amp;</SCRIPT >"));
        let scopes: Vec<String> = rows
            .iter()
            .find(|r| r[0] == "g00002")
            .and_then(|r| r[12].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .map(s)
            .collect();
        assert_eq!(scopes, ["</script", "a&b"]);
        let factor = rows
            .iter()
            .find(|r| r[0] == "g00004")
            .map(|r| r[15][0].clone());
        let factor = factor.unwrap_or_default();
        assert_eq!(
            (s(&factor[0]), &factor[1], s(&factor[2])),
            (
                "capability".to_owned(),
                &serde_json::json!(4),
                "Reads code.".to_owned()
            )
        );
        assert_eq!(factor[3], -1, "no controls");
        assert!(html.contains(&format!("Page 1 of {}", grants.len().div_ceil(PAGE_ROWS))));
    }

    #[test]
    fn an_empty_report_still_has_its_charts_and_table() {
        let html = page(&[]);
        for chart in ["tier-by-vendor", "top-blast-radius", "stale-by-age"] {
            assert!(
                html.contains(&format!(r#"data-chart="{chart}""#)),
                "{chart}"
            );
        }
        assert!(html.contains(r#"<table id="grants-table">"#));
        // No bars: the only rectangles are the legend's swatches.
        assert_eq!(html.matches("<rect").count(), SLOTS.len());
    }
}
