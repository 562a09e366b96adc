//! Reports: every format's shape, ordering and escaping, and the HTML page rendered
//! by headless Chromium (charts drawn, table built, script run, nothing hostile
//! executed), over hand-built grants and over a real scan of the simulator with
//! synthetic scores (scoring proper lives in `score`; these tests only need
//! scores to exist).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use grantscope::model::{
    AppRef, Factor, GrantKind, GrantRecord, PrincipalKind, PrincipalRef, Score, Tier,
};
use grantscope::report::{
    self, Format, ReportMeta, ReportOptions, TenantStatus, meets_min_tier, worst_tier,
};

use crate::support::{Fixture, assert_complete, grants, grants_of, read_text};

// ---------------------------------------------------------------------------
// Fixtures.

fn now() -> time::OffsetDateTime {
    time::macros::datetime!(2025-06-01 12:00:00 UTC)
}

fn tier_for(value: u8) -> Tier {
    match value {
        80.. => Tier::Critical,
        60..=79 => Tier::High,
        35..=59 => Tier::Medium,
        _ => Tier::Low,
    }
}

/// A score of `value` with two factors adding up to it, largest first.
fn score(value: u8) -> Score {
    let big = i32::from(value) * 2 / 3;
    Score {
        value,
        tier: tier_for(value),
        factors: vec![
            Factor {
                factor: "capability".into(),
                points: big,
                detail: "It can read and write the organisation's code.".into(),
                controls: vec!["OWASP-NHI5".into(), "NIST-CSF-2.0 PR.AA-05".into()],
            },
            Factor {
                factor: "staleness".into(),
                points: i32::from(value) - big,
                detail: "It has not been used for 400 days.".into(),
                controls: vec![],
            },
        ],
    }
}

/// A hand-built grant; `value` None leaves it unscored.
fn grant(id: &str, app: &str, vendor: Option<&str>, value: Option<u8>) -> GrantRecord {
    GrantRecord {
        id: format!("github/acme/{id}"),
        provider: "github".into(),
        tenant: "acme".into(),
        app: AppRef {
            // Grants of one app share its id, as they do from a provider.
            id: format!("app-{}", app.to_lowercase().replace(' ', "-")),
            name: app.into(),
            publisher: None,
            attributes: BTreeMap::new(),
        },
        principal: PrincipalRef {
            kind: PrincipalKind::User,
            id: format!("user-{id}"),
            display: None,
        },
        kind: GrantKind::Delegated,
        scopes: vec!["read:org".into(), "repo".into()],
        created_at: Some("2023-01-01T00:00:00Z".into()),
        last_used_at: Some("2024-03-01T08:00:00Z".into()),
        expires_at: None,
        vendor: vendor.map(str::to_owned),
        score: value.map(score),
        revocation: None,
        attributes: BTreeMap::new(),
        notes: vec![],
        plugin: None,
    }
}

/// App names and vendors a malicious app author could pick.
const HOSTILE_APP: &str = "<script>document.title='pwned'</script>";
const HOSTILE_VENDOR: &str = "<img src=x onerror=\"document.body.dataset.pwned=1\">";

/// A small estate: every tier, an unscored grant, hostile names, odd characters.
fn estate() -> Vec<GrantRecord> {
    let mut hostile = grant("h1", HOSTILE_APP, Some(HOSTILE_VENDOR), Some(91));
    hostile.principal.display = Some("\"><b>mallory</b>".into());
    let mut formula = grant(
        "f1",
        "=HYPERLINK(\"http://evil.example\",\"ok\")",
        None,
        Some(42),
    );
    formula.scopes = vec!["+cmd|' /C calc'!A0".into(), "-2+3".into(), "@SUM(1)".into()];
    formula.principal.id = "\tTAB".into();
    let mut multiline = grant(
        "m1",
        "Pipes | and\nnew lines, \"quoted\"",
        Some("Acme, Inc."),
        Some(63),
    );
    multiline.last_used_at = None;
    vec![
        grant("a1", "CI Runner", Some("BuildCo"), Some(70)),
        grant("a2", "CI Runner", Some("BuildCo"), Some(70)),
        grant("b1", "Docs Sync", Some("PaperTrail"), Some(20)),
        grant("u1", "Mystery App", None, None),
        hostile,
        formula,
        multiline,
    ]
}

fn meta() -> ReportMeta {
    let mut meta = ReportMeta::new(now());
    meta.tenants = vec![
        TenantStatus {
            tenant: "acme".into(),
            provider: "github".into(),
            last_scan_at: Some("2025-06-01T11:58:00Z".into()),
            complete: true,
        },
        TenantStatus {
            tenant: "acme-labs".into(),
            provider: "github".into(),
            last_scan_at: Some("2025-06-01T11:59:00Z".into()),
            complete: false,
        },
    ];
    meta
}

fn render_with(format: Format, grants: &[GrantRecord], options: &ReportOptions) -> String {
    let mut out = Vec::new();
    report::render(format, grants, &meta(), options, &mut out)
        .unwrap_or_else(|e| panic!("render {format}: {e}"));
    String::from_utf8(out).unwrap_or_else(|e| panic!("{format} is not UTF-8: {e}"))
}

fn render(format: Format, grants: &[GrantRecord]) -> String {
    render_with(format, grants, &ReportOptions::default())
}

// ---------------------------------------------------------------------------
// JSON.

#[test]
fn json_keeps_the_record_shape_sorted_by_score_then_id() {
    let estate = estate();
    let text = render(Format::Json, &estate);
    let doc: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON: {e}\n{text}"));
    assert!(
        text.starts_with("{\n  \"grants\": ["),
        "grants come first:\n{text}"
    );
    let keys: Vec<&String> = doc
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys, ["grants", "meta"]);

    let records = doc["grants"].as_array().cloned().unwrap_or_default();
    assert_eq!(records.len(), estate.len());
    for r in &records {
        for path in [
            "/id",
            "/provider",
            "/tenant",
            "/app/id",
            "/app/name",
            "/principal/kind",
            "/principal/id",
            "/kind",
            "/scopes",
            "/created_at",
            "/last_used_at",
        ] {
            assert!(r.pointer(path).is_some(), "{path} missing in {r}");
        }
        assert!(
            r.get("vendor").is_some(),
            "vendor missing (null when unmapped) in {r}"
        );
        match r.get("score") {
            Some(serde_json::Value::Null) => {}
            Some(s) => {
                assert!(s["value"].is_u64(), "{s}");
                assert!(
                    ["critical", "high", "medium", "low"]
                        .contains(&s["tier"].as_str().unwrap_or("")),
                    "{s}"
                );
                let factors = s["factors"].as_array().cloned().unwrap_or_default();
                assert!(!factors.is_empty(), "{s}");
                for f in factors {
                    assert!(
                        f["factor"].is_string() && f["points"].is_i64() && f["detail"].is_string()
                    );
                }
            }
            None => panic!("score missing in {r}"),
        }
    }

    // Score descending, ties by id, unscored last.
    let order: Vec<(Option<u64>, &str)> = records
        .iter()
        .map(|r| (r["score"]["value"].as_u64(), r["id"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        order,
        [
            (Some(91), "github/acme/h1"),
            (Some(70), "github/acme/a1"),
            (Some(70), "github/acme/a2"),
            (Some(63), "github/acme/m1"),
            (Some(42), "github/acme/f1"),
            (Some(20), "github/acme/b1"),
            (None, "github/acme/u1"),
        ]
    );

    // The records are the inventory's, unchanged.
    let mut back = grants_of(&doc);
    back.sort_by(|a, b| a.id.cmp(&b.id));
    let mut want = estate.clone();
    want.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(back, want);

    let m = &doc["meta"];
    assert_eq!(m["generated_at"], "2025-06-01T12:00:00Z");
    assert_eq!(m["tool_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(m["grants"], 7);
    assert_eq!(m["complete"], false);
    assert_eq!(m["tenants"][1]["tenant"], "acme-labs");
    assert_eq!(m["tenants"][1]["complete"], false);
    let by_tier: BTreeMap<String, u64> =
        serde_json::from_value(m["by_tier"].clone()).unwrap_or_default();
    let want: BTreeMap<String, u64> = [
        ("critical", 1),
        ("high", 3),
        ("medium", 1),
        ("low", 1),
        ("unscored", 1),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(by_tier, want);
}

#[test]
fn min_tier_leaves_out_lower_and_unscored_grants_in_every_format() {
    let estate = estate();
    let options = ReportOptions {
        min_tier: Some(Tier::High),
        ..ReportOptions::default()
    };
    let doc: serde_json::Value =
        serde_json::from_str(&render_with(Format::Json, &estate, &options)).unwrap_or_default();
    let ids: BTreeSet<String> = grants_of(&doc).into_iter().map(|g| g.id).collect();
    let want: BTreeSet<String> = ["h1", "a1", "a2", "m1"]
        .iter()
        .map(|i| format!("github/acme/{i}"))
        .collect();
    assert_eq!(ids, want);
    assert_eq!(doc["meta"]["min_tier"], "high");

    let csv = parse_csv(&render_with(Format::Csv, &estate, &options));
    assert_eq!(csv.len(), 1 + want.len(), "header and one row per grant");
    let html = render_with(Format::Html, &estate, &options);
    assert_eq!(html.matches("<tr data-i=").count(), want.len());
    assert!(
        !html.contains("Mystery App"),
        "unscored grants are left out"
    );
    let md = render_with(Format::Markdown, &estate, &options);
    assert!(md.contains("## Top 4 grants by score"), "{md}");

    // Helpers the CLI builds `--min-tier` and `--fail-on` from.
    assert!(estate.iter().all(|g| meets_min_tier(g, None)));
    assert_eq!(worst_tier(&estate), Some(Tier::Critical));
    assert_eq!(worst_tier(&estate[2..4]), Some(Tier::Low));
    assert!(worst_tier(&estate).is_some_and(|w| w >= Tier::Critical));
    assert!(worst_tier(&estate[2..4]) < Some(Tier::Medium));
    assert_eq!(
        worst_tier(&estate[3..4]),
        None,
        "unscored never fails a pipeline"
    );
}

// ---------------------------------------------------------------------------
// CSV.

/// RFC 4180 reader for the test: quoted fields, doubled quotes, CRLF records.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut was_quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' => {
                assert!(field.is_empty() && !was_quoted, "stray quote in {text:?}");
                quoted = true;
                was_quoted = true;
            }
            ',' => {
                record.push(std::mem::take(&mut field));
                was_quoted = false;
            }
            '\r' => {
                assert_eq!(chars.next(), Some('\n'), "CR without LF outside quotes");
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
                was_quoted = false;
            }
            '\n' => panic!("bare LF outside quotes in {text:?}"),
            c => {
                assert!(!was_quoted, "text after a closing quote");
                field.push(c);
            }
        }
    }
    assert!(!quoted, "unterminated quote");
    assert!(
        field.is_empty() && record.is_empty(),
        "last record without CRLF"
    );
    records
}

#[test]
fn csv_quotes_rfc4180_and_neutralises_formulas() {
    let estate = estate();
    let text = render(Format::Csv, &estate);
    let rows = parse_csv(&text);
    let header = [
        "id",
        "provider",
        "tenant",
        "vendor",
        "app_id",
        "app_name",
        "principal_kind",
        "principal_id",
        "kind",
        "scopes",
        "score",
        "tier",
        "top_factors",
        "created_at",
        "last_used_at",
        "expires_at",
    ];
    assert_eq!(rows[0], header);
    assert_eq!(rows.len(), 1 + estate.len());
    for r in &rows {
        assert_eq!(r.len(), header.len(), "{r:?}");
        for cell in r {
            assert_no_formula(cell);
        }
    }
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap_or(usize::MAX);
    let row = |id: &str| {
        rows.iter()
            .find(|r| r[0] == format!("github/acme/{id}"))
            .unwrap_or_else(|| panic!("no row {id}"))
    };

    // Formulas come back as text with a leading apostrophe, otherwise intact.
    let f = row("f1");
    assert_eq!(
        f[col("app_name")],
        "'=HYPERLINK(\"http://evil.example\",\"ok\")"
    );
    // Each scope a `;` split could make a cell of is neutralised too.
    assert_eq!(f[col("scopes")], "'+cmd|' /C calc'!A0;' -2+3;' @SUM(1)");
    assert_eq!(f[col("principal_id")], "'\tTAB");
    assert_eq!(f[col("vendor")], "");

    // Commas, quotes and new lines survive the round trip.
    let m = row("m1");
    assert_eq!(m[col("app_name")], "Pipes | and\nnew lines, \"quoted\"");
    assert_eq!(m[col("vendor")], "Acme, Inc.");
    assert_eq!(m[col("last_used_at")], "");

    let a = row("a1");
    assert_eq!(a[col("scopes")], "read:org; repo");
    assert_eq!(a[col("score")], "70");
    assert_eq!(a[col("tier")], "high");
    assert_eq!(a[col("principal_kind")], "user");
    assert_eq!(a[col("kind")], "delegated");
    assert!(
        a[col("top_factors")].starts_with("capability (+46): It can read"),
        "{}",
        a[col("top_factors")]
    );
    let u = row("u1");
    assert_eq!(
        (u[col("score")].as_str(), u[col("tier")].as_str()),
        ("", "unscored")
    );

    // Rows in report order.
    let ids: Vec<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(ids.first(), Some(&"github/acme/h1"));
    assert_eq!(ids.last(), Some(&"github/acme/u1"));
}

/// Formula starts (csv.rs): OWASP's list and the full-width forms.
const FORMULA_STARTS: [char; 10] = ['=', '+', '-', '@', '\t', '\r', '＝', '＋', '－', '＠'];

/// Panics unless neither `cell` nor any part of it a spreadsheet could split off at
/// `,`, `;`, tab, CR or LF starts (after spaces) with a formula character.
fn assert_no_formula(cell: &str) {
    assert!(
        !cell.trim_start().starts_with(FORMULA_STARTS),
        "a cell could run as a formula: {cell:?}"
    );
    for part in cell.split([',', ';', '\t', '\r', '\n']) {
        assert!(
            !part.trim_start().starts_with(FORMULA_STARTS),
            "{cell:?} split at a separator could run as a formula: {part:?}"
        );
    }
}

#[test]
fn csv_neutralises_formulas_after_separators_and_escapes_controls() {
    let mut g = grant(
        "x1",
        "Acme;=cmd|' /C calc'!A0",
        Some("Evil\u{1b}]0;owned\u{7}Co"),
        Some(50),
    );
    g.scopes = vec!["＝HYPERLINK(\"http://evil.example\")".into(), "repo".into()];
    g.principal.id = "mallory\u{9b}2J\u{0}".into();
    let text = render(Format::Csv, &[g]);
    assert!(
        !text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\r' | '\n')),
        "a control character reached the file: {text:?}"
    );
    let rows = parse_csv(&text);
    assert_eq!(rows.len(), 2, "{rows:?}");
    for cell in &rows[1] {
        assert_no_formula(cell);
    }
    let col = |name: &str| {
        rows[0]
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let r = &rows[1];
    assert_eq!(r[col("app_name")], "Acme;'=cmd|' /C calc'!A0");
    assert_eq!(r[col("vendor")], "Evil\\x1b]0;owned\\x07Co");
    assert_eq!(
        r[col("scopes")],
        "'＝HYPERLINK(\"http://evil.example\"); repo"
    );
    assert_eq!(r[col("principal_id")], "mallory\\x9b2J\\x00");
}

// ---------------------------------------------------------------------------
// Markdown.

/// Cells of a Markdown table row, splitting on unescaped pipes.
fn md_cells(line: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut escaped = false;
    for c in line
        .trim()
        .trim_start_matches('|')
        .trim_end_matches('|')
        .chars()
    {
        if escaped {
            cell.push(c);
            escaped = false;
        } else if c == '\\' {
            cell.push(c);
            escaped = true;
        } else if c == '|' {
            cells.push(cell.trim().to_owned());
            cell.clear();
        } else {
            cell.push(c);
        }
    }
    cells.push(cell.trim().to_owned());
    cells
}

#[test]
fn markdown_summarises_and_escapes_cells() {
    let estate = estate();
    let options = ReportOptions {
        top: 5,
        ..ReportOptions::default()
    };
    let md = render_with(Format::Markdown, &estate, &options);
    assert!(md.starts_with("# grantscope report\n"), "{md}");
    assert!(md.contains("**Warning: partial scan.**"), "{md}");
    assert!(md.contains("acme-labs"), "{md}");
    assert!(
        md.contains("By tier: 1 critical · 3 high · 1 medium · 1 low · 1 unscored."),
        "{md}"
    );
    assert!(md.contains("## Top 5 grants by score"), "{md}");
    assert!(md.contains("…and 2 more grants"), "{md}");

    // Every table row has as many cells as its header: no pipe or newline from
    // grant data splits a row.
    let mut header_cells = None;
    for line in md.lines() {
        if !line.starts_with('|') {
            header_cells = None;
            continue;
        }
        let n = md_cells(line).len();
        match header_cells {
            None => header_cells = Some(n),
            Some(w) => assert_eq!(n, w, "{line}"),
        }
    }
    let top: Vec<&str> = md
        .lines()
        .skip_while(|l| !l.starts_with("| # |"))
        .take(7)
        .collect();
    assert_eq!(top.len(), 7, "{md}");
    assert_eq!(md_cells(top[0]).len(), 9);
    let hostile = md_cells(top[2]);
    assert_eq!(hostile[0], "1");
    assert_eq!(
        hostile[3],
        "\\<script\\>document.title='pwned'\\</script\\>"
    );
    let pipes = top
        .iter()
        .find(|l| l.contains("Pipes"))
        .unwrap_or_else(|| panic!("no row for the multi-line app:\n{md}"));
    assert!(
        pipes.contains("Pipes \\| and new lines, \"quoted\""),
        "{pipes}"
    );
    assert!(!md.contains("<script>"), "{md}");

    // Blast radius: BuildCo's two grants sum to 140.
    assert!(md.contains("## Blast radius by vendor and app"), "{md}");
    assert!(
        md.contains("- **BuildCo** — Σ 140 over 2 grants in 1 tenant, worst high (70)"),
        "{md}"
    );
    assert!(md.contains("  - CI Runner — Σ 140 over 2 grants"), "{md}");
    assert!(md.contains("- **unmapped** — "), "{md}");
}

// ---------------------------------------------------------------------------
// HTML, statically.

/// The start tags of `html` (`<name ...>`), outside script and style contents.
fn start_tags(html: &str) -> Vec<&str> {
    let mut tags = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        rest = &rest[i..];
        let is_tag = rest[1..].starts_with(|c: char| c.is_ascii_alphabetic());
        let end = rest.find('>').unwrap_or(rest.len() - 1);
        let tag = &rest[..=end];
        rest = &rest[end + 1..];
        if !is_tag {
            continue;
        }
        tags.push(tag);
        for raw in ["<script", "<style"] {
            if tag.starts_with(raw) {
                let close = format!("</{}", &raw[1..]);
                let skip = rest.find(&close).unwrap_or(rest.len());
                rest = &rest[skip..];
            }
        }
    }
    tags
}

/// The contents of every `<script>` and `<style>` element.
fn inline_code(html: &str) -> Vec<&str> {
    let mut code = Vec::new();
    for (open, close) in [("<script>", "</script>"), ("<style>", "</style>")] {
        let mut rest = html;
        while let Some(i) = rest.find(open) {
            rest = &rest[i + open.len()..];
            let end = rest.find(close).unwrap_or(rest.len());
            code.push(&rest[..end]);
            rest = &rest[end..];
        }
    }
    code
}

#[test]
fn html_escapes_hostile_grant_data() {
    let html = render(Format::Html, &estate());
    assert!(html.contains("&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;"));
    assert!(html.contains("&lt;img src=x onerror=&quot;document.body.dataset.pwned=1&quot;&gt;"));
    assert!(html.contains("&quot;&gt;&lt;b&gt;mallory&lt;/b&gt;"));
    // The only elements are ours.
    let tags = start_tags(&html);
    assert_eq!(tags.iter().filter(|t| t.starts_with("<script")).count(), 1);
    assert!(!tags.iter().any(|t| t.starts_with("<img")), "{tags:?}");
    assert!(!tags.iter().any(|t| t.contains("onerror")), "{tags:?}");
    assert!(!html.contains("<b>mallory"));
}

#[test]
fn html_references_nothing_outside_the_file() {
    let html = render(Format::Html, &estate());
    assert!(html.starts_with("<!doctype html>"));
    // Only our own style sheet and script, by hash: no 'unsafe-inline', so markup that
    // slipped past escaping could run nothing and restyle nothing.
    let csp = html
        .split(r#"<meta http-equiv="Content-Security-Policy" content=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no CSP meta tag"));
    assert!(!csp.contains("unsafe"), "{csp}");
    let hash_of = |open: &str, close: &str| {
        use base64::Engine as _;
        use sha2::Digest as _;
        let body = html
            .split(open)
            .nth(1)
            .and_then(|rest| rest.split(close).next())
            .unwrap_or_else(|| panic!("no {open}"));
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(body))
    };
    assert_eq!(
        csp,
        format!(
            "default-src 'none'; style-src 'sha256-{}'; script-src 'sha256-{}'; img-src data:",
            hash_of("<style>", "</style>"),
            hash_of("<script>", "</script>")
        )
    );
    assert!(
        !html.contains(" style="),
        "an inline style attribute needs 'unsafe-inline'"
    );
    for tag in start_tags(&html) {
        let lower = tag.to_ascii_lowercase();
        for attr in [
            " src=",
            " href=",
            " srcset=",
            " action=",
            " formaction=",
            " poster=",
            " data=",
            " background=",
            " ping=",
            " manifest=",
            "xlink:href=",
        ] {
            assert!(!lower.contains(attr), "a resource reference: {tag}");
        }
        for name in [
            "<link", "<iframe", "<object", "<embed", "<img", "<base", "<audio", "<video",
        ] {
            assert!(!lower.starts_with(name), "an embedding element: {tag}");
        }
        // Grant data may mention URLs as text; no attribute of ours does.
        assert!(
            !lower.contains("http:") && !lower.contains("https:"),
            "{tag}"
        );
    }
    for code in inline_code(&html) {
        for needle in [
            "url(",
            "@import",
            "http:",
            "https:",
            "fetch(",
            "xmlhttprequest",
            "import(",
        ] {
            assert!(
                !code.to_ascii_lowercase().contains(needle),
                "inline code refers to `{needle}`"
            );
        }
    }
    // With no URL in the data, no URL anywhere.
    let plain: Vec<GrantRecord> = estate()
        .into_iter()
        .filter(|g| !g.app.name.contains("http"))
        .collect();
    let html = render(Format::Html, &plain);
    assert!(!html.contains("http://") && !html.contains("https://"));
}

#[test]
fn html_has_the_charts_table_and_scan_status() {
    let estate = estate();
    let html = render(Format::Html, &estate);
    for chart in ["tier-by-vendor", "top-blast-radius", "stale-by-age"] {
        let svg = section(&html, &format!(r#"<svg data-chart="{chart}""#), "</svg>");
        assert!(svg.contains("<rect"), "{chart} has no bar:\n{svg}");
    }
    let vendors = section(&html, r#"<svg data-chart="tier-by-vendor""#, "</svg>");
    assert!(vendors.contains(">unmapped<"), "{vendors}");
    let stale = section(&html, r#"<svg data-chart="stale-by-age""#, "</svg>");
    for bucket in ["never", "&gt; 365", "181–365", "91–180", "31–90", "≤ 30"] {
        assert!(stale.contains(&format!(">{bucket}<")), "{bucket}: {stale}");
    }
    assert_eq!(html.matches("<tr data-i=").count(), estate.len());
    assert!(html.contains(r#"<input id="filter""#));
    for tier in ["critical", "high", "medium", "low", "unscored"] {
        assert!(
            html.contains(&format!(r#"data-tier="{tier}" checked"#)),
            "{tier}"
        );
    }
    assert!(html.contains("<strong>Partial scan.</strong>"));
    assert!(html.contains("<b>acme-labs</b>"));
    assert!(
        html.contains("<details><summary>capability +60"),
        "factors visible per row"
    );
}

/// The text from `start` to the next `end`, inclusive.
fn section<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let i = html
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in the page"));
    let len = html[i..]
        .find(end)
        .map_or(html.len() - i, |e| e + end.len());
    &html[i..i + len]
}

// ---------------------------------------------------------------------------
// HTML in headless Chromium.

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(90);

/// The Chromium binary, or `None` (after saying so) when it is missing outside CI.
#[allow(
    clippy::print_stderr,
    reason = "the skip notice is for the person running the tests"
)]
fn chromium() -> Option<&'static Path> {
    let path = Path::new(CHROMIUM);
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{CHROMIUM} is missing: .ci/run should have installed it (apt-get install chromium)"
    );
    eprintln!(
        "SKIPPED: {CHROMIUM} not found, so the HTML report was not rendered in a browser; \
         install it with `apt-get install chromium` (CI fails instead of skipping)"
    );
    None
}

/// Runs Chromium headless on `url` with `extra` arguments, its stdout to `stdout`,
/// in a fresh profile; kills it after [`CHROMIUM_TIMEOUT`].
fn run_chromium(dir: &Path, url: &str, extra: &[String], stdout: &Path) {
    let profile = tempfile::tempdir_in(dir).unwrap_or_else(|e| panic!("profile dir: {e}"));
    let log_path = dir.join("chromium.log");
    let file = |p: &Path| {
        std::fs::File::create(p).unwrap_or_else(|e| panic!("create {}: {e}", p.display()))
    };
    let mut cmd = Command::new(CHROMIUM);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .args(extra)
    .arg(url)
    .env("HOME", profile.path())
    .stdin(Stdio::null())
    .stdout(Stdio::from(file(stdout)))
    .stderr(Stdio::from(file(&log_path)));
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("start {CHROMIUM}: {e}"));
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > CHROMIUM_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "chromium did not finish within {CHROMIUM_TIMEOUT:?}; killed it\n{}",
                    read_text(&log_path)
                );
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => panic!("wait for chromium: {e}"),
        }
    };
    assert!(
        status.success(),
        "chromium failed ({status})\n{}",
        read_text(&log_path)
    );
}

/// The DOM after the page's script ran.
fn dump_dom(dir: &Path, page: &Path, fragment: &str) -> String {
    let out = dir.join("dom.html");
    let url = format!("file://{}{fragment}", page.display());
    run_chromium(dir, &url, &["--dump-dom".to_owned()], &out);
    read_text(&out)
}

/// Grants of a real scan of the simulator, with vendors from its truth and
/// synthetic scores (every seventh grant left unscored).
fn scanned_estate() -> (Vec<GrantRecord>, Vec<TenantStatus>) {
    let runtime = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("runtime: {e}"));
    runtime.block_on(async {
        let f = Fixture::start(11, 40, 0.0).await;
        let scans = f.scan(&f.config()).await;
        assert_complete(&scans);
        let vendors: BTreeMap<String, Option<String>> = f
            .sim
            .truth()
            .grants
            .into_iter()
            .map(|g| (g.id, g.vendor))
            .collect();
        let mut found = grants(&scans);
        for (i, g) in found.iter_mut().enumerate() {
            g.vendor = vendors.get(&g.id).cloned().flatten();
            // A stable spread of values from the id.
            let hash = g.id.bytes().fold(2166136261u32, |h, b| {
                (h ^ u32::from(b)).wrapping_mul(16777619)
            });
            g.score = (i % 7 != 3).then(|| score((hash % 101) as u8));
        }
        let tenants = scans.iter().map(TenantStatus::from).collect();
        (found, tenants)
    })
}

/// Where a developer wants the rendered page and screenshot kept, to look at them.
fn keep_dir() -> Option<PathBuf> {
    std::env::var_os("GRANTSCOPE_KEEP_REPORT").map(PathBuf::from)
}

#[test]
fn html_report_renders_in_headless_chromium() {
    if chromium().is_none() {
        return;
    }
    let (mut estate, mut tenants) = scanned_estate();
    estate.extend(estate_extras());
    tenants.push(TenantStatus {
        tenant: "acme-labs".into(),
        provider: "github".into(),
        last_scan_at: Some("2025-06-01T11:59:00Z".into()),
        complete: false,
    });
    let mut meta = ReportMeta::new(now());
    meta.tenants = tenants;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let page = dir.path().join("report.html");
    let mut file = std::fs::File::create(&page).unwrap_or_else(|e| panic!("create: {e}"));
    report::render(
        Format::Html,
        &estate,
        &meta,
        &ReportOptions::default(),
        &mut file,
    )
    .unwrap_or_else(|e| panic!("render: {e}"));
    drop(file);

    let dom = dump_dom(dir.path(), &page, "");
    assert!(
        dom.contains(r#"data-js="ready""#),
        "the page's script did not run (blocked by the CSP?)"
    );
    for chart in ["tier-by-vendor", "top-blast-radius", "stale-by-age"] {
        let svg = section(&dom, &format!(r#"<svg data-chart="{chart}""#), "</svg>");
        assert!(
            svg.contains("<rect"),
            "{chart} has no bar in the DOM:\n{svg}"
        );
    }
    let table = section(&dom, r#"<table id="grants-table""#, "</table>");
    assert_eq!(table.matches("<tr data-i=").count(), estate.len());
    for g in estate
        .iter()
        .filter(|g| !g.id.contains(['<', '>', '"', '&']))
    {
        assert!(
            table.contains(&format!(r#"data-id="{}""#, g.id)),
            "{} missing",
            g.id
        );
    }
    assert!(
        !table.contains(" hidden"),
        "nothing is filtered out by default"
    );
    // Hostile names stayed text: the title is ours and nothing set `pwned`.
    assert!(dom.contains("<title>grantscope report</title>"));
    assert!(!dom.contains("data-pwned"), "an injected handler ran");
    assert!(dom.contains("&lt;script&gt;document.title='pwned'&lt;/script&gt;"));

    // Filter, tier checkboxes and sorting, set from the URL fragment.
    let dom = dump_dom(
        dir.path(),
        &page,
        "#q=NEEDLE&tiers=critical,high&sort=score&dir=asc",
    );
    let table = section(&dom, r#"<table id="grants-table""#, "</table>");
    let visible: Vec<&str> = start_tags(table)
        .into_iter()
        .filter(|t| t.starts_with("<tr data-i=") && !t.contains(" hidden"))
        .filter_map(|t| t.split("data-id=\"").nth(1)?.split('"').next())
        .collect();
    assert_eq!(
        visible,
        ["github/acme/n2", "github/acme/n1"],
        "high then critical"
    );
    assert!(
        dom.contains(r#"<b id="shown">2</b>"#),
        "the count follows the filter"
    );

    // A screenshot, to look at.
    let png = dir.path().join("report.png");
    run_chromium(
        dir.path(),
        &format!("file://{}", page.display()),
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1280,2000".to_owned(),
        ],
        &dir.path().join("screenshot.out"),
    );
    let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("read {}: {e}", png.display()));
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(
        bytes.len() > 20_000,
        "a suspiciously small screenshot: {} bytes",
        bytes.len()
    );
    if let Some(keep) = keep_dir() {
        let _ = std::fs::create_dir_all(&keep);
        for name in ["report.html", "report.png"] {
            let _ = std::fs::copy(dir.path().join(name), keep.join(name));
        }
    }
}

/// Grants the Chromium test adds to the scan: hostile names and the "needle" app
/// the fragment filter looks for, in three tiers.
fn estate_extras() -> Vec<GrantRecord> {
    let mut extras: Vec<GrantRecord> = estate()
        .into_iter()
        .filter(|g| g.id.ends_with("h1") || g.id.ends_with("m1"))
        .collect();
    extras.push(grant("n1", "Needle Notes", Some("Haystack Ltd"), Some(95)));
    extras.push(grant("n2", "Needle Notes", Some("Haystack Ltd"), Some(66)));
    extras.push(grant("n3", "Needle Notes", Some("Haystack Ltd"), Some(12)));
    extras
}

/// Issue 12: a grant a third-party plugin reported names that plugin (file and hash)
/// wherever it is shown, so a reader sees whose code vouches for it.
#[test]
fn a_third_party_plugins_grants_name_their_source_in_every_format() {
    let mut grants = estate();
    grants[0].plugin = Some(grantscope::model::PluginSource {
        path: "/opt/plugins/acme-crm.wasm".into(),
        sha256: "0123456789abcdef".repeat(4),
    });
    for format in [Format::Json, Format::Markdown, Format::Html] {
        let out = render(format, &grants);
        assert!(
            out.contains("/opt/plugins/acme-crm.wasm") && out.contains("0123456789abcdef"),
            "{format:?} does not name the plugin"
        );
    }
}

/// Issue 13: a report of 100,000 grants carries its rows as inert JSON and draws them a
/// page at a time. Headless Chromium opens it, the script draws the first page (100
/// rows, highest score first, hostile names as text), and the fragment can ask for
/// another page and a filter.
#[test]
fn a_100k_grant_html_report_opens_in_headless_chromium_a_page_at_a_time() {
    if chromium().is_none() {
        return;
    }
    const N: usize = 100_000;
    let mut estate: Vec<GrantRecord> = (0..N)
        .map(|i| {
            let app = format!("App {}", i % 2_000);
            let vendor = format!("vendor-{}", i % 300);
            let mut g = grant(
                &format!("g{i:06}"),
                &app,
                Some(&vendor),
                Some((i % 97) as u8),
            );
            g.principal.id = format!("user{}", i % 40_000);
            g
        })
        .collect();
    estate[17].app.name = format!("{HOSTILE_APP}</script><!--");
    estate[17].vendor = Some(HOSTILE_VENDOR.into());
    estate[17].score = Some(score(99));
    estate.push(grant(
        "needle",
        "Needle Notes",
        Some("Haystack Ltd"),
        Some(40),
    ));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let page = dir.path().join("report.html");
    let mut file = std::fs::File::create(&page).unwrap_or_else(|e| panic!("create: {e}"));
    report::render(
        Format::Html,
        &estate,
        &ReportMeta::new(now()),
        &ReportOptions::default(),
        &mut file,
    )
    .unwrap_or_else(|e| panic!("render: {e}"));
    drop(file);
    let size = std::fs::metadata(&page).map_or(0, |m| m.len());
    assert!(size < 60_000_000, "{size} bytes for {N} grants");

    let started = Instant::now();
    let dom = dump_dom(dir.path(), &page, "");
    let opened = started.elapsed();
    assert!(
        dom.contains(r#"data-js="ready""#),
        "the paging script did not run (blocked by the CSP?)"
    );
    let table = section(&dom, r#"<table id="grants-table""#, "</table>");
    let rows: Vec<&str> = start_tags(table)
        .into_iter()
        .filter(|t| t.starts_with("<tr data-i="))
        .collect();
    assert_eq!(rows.len(), report::PAGE_ROWS, "one page of rows");
    assert!(
        rows[0].contains(r#"data-id="github/acme/g000017""#),
        "the highest score first: {}",
        rows[0]
    );
    assert!(dom.contains(&format!(r#"<b id="shown">{}</b>"#, N + 1)));
    assert!(dom.contains(&format!(
        "Page 1 of {}",
        (N + 1).div_ceil(report::PAGE_ROWS)
    )));
    assert!(dom.contains("<title>grantscope report</title>"));
    assert!(!dom.contains("data-pwned"), "an injected handler ran");
    assert!(
        dom.contains("&lt;script&gt;document.title='pwned'&lt;/script&gt;&lt;/script&gt;&lt;!--")
    );
    assert!(
        opened < Duration::from_secs(60),
        "chromium took {opened:?} to open the report"
    );

    // The fragment: a filter and a page.
    let dom = dump_dom(dir.path(), &page, "#q=needle");
    let table = section(&dom, r#"<table id="grants-table""#, "</table>");
    assert_eq!(table.matches("<tr data-i=").count(), 1, "{table}");
    assert!(table.contains(r#"data-id="github/acme/needle""#));
    let dom = dump_dom(dir.path(), &page, "#page=3");
    assert!(dom.contains("Page 3 of"), "the page from the fragment");
}
