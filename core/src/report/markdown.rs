//! Markdown for a ticket: summary, the top grants, blast radius by vendor and app.
//!
//! Grant data is escaped so that it reads as text in any CommonMark renderer: a
//! backslash before the punctuation that could start markup (links, images, HTML,
//! emphasis, code) and before `|`, which would split a table cell; line breaks and
//! other control characters become a space, since a newline ends a table row.
//! Provider data makes no link either: GitHub-flavoured renderers turn bare
//! `https://…`, `www.…` and `name@domain` into links, so the `:` of `://`, the `.`
//! after `www` and every `@` are escaped too, which leaves each plain text.
//! Bidirectional formatting characters, which would make a rendered line read
//! differently from what it holds, are shown as visible escapes (`\u{202e}`), as on
//! the terminal.

use std::io::Write;

use crate::model::GrantRecord;

use super::{
    AGE_BUCKETS, AGE_UNREADABLE, Group, ReportError, SLOTS, SlotCounts, View, age_bucket, apps,
    counts_by, factors_of, finding_counts, finding_groups, finding_label, plural, slot, vendor_of,
    vendors, wire_name,
};

/// How many vendors the blast-radius section lists, and apps under each.
const VENDORS_LISTED: usize = 25;
const APPS_PER_VENDOR: usize = 5;
/// How many (kind, app) rows the governance section lists.
const FINDING_GROUPS_LISTED: usize = 30;

pub(super) fn write(view: &View<'_>, out: &mut dyn Write) -> Result<(), ReportError> {
    header(view, out)?;
    summary(view, out)?;
    governance(view, out)?;
    top(view, out)?;
    blast_radius(view, out)?;
    Ok(())
}

/// Escapes grant data for a Markdown table cell or a list line.
pub(super) fn esc(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut last_space = false;
    for (i, &c) in chars.iter().enumerate() {
        match c {
            c if c.is_control() => {
                // Line breaks end a table row, tabs and other controls garble
                // it: one space for any run of them (a CRLF gives one, not two).
                if !last_space {
                    out.push(' ');
                }
                last_space = true;
                continue;
            }
            c if crate::text::is_unsafe(c) => out.push_str(&crate::text::escape(&c.to_string())),
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '<' | '>' | '|' | '~' | '#' | '!'
            | '&' | '@' => {
                out.push('\\');
                out.push(c);
            }
            // `https://…` (any scheme) and `www.…` would be autolinked.
            ':' if chars[i + 1..].starts_with(&['/', '/']) => out.push_str("\\:"),
            '.' if i >= 3 && chars[i - 3..i].iter().all(|w| w.eq_ignore_ascii_case(&'w')) => {
                out.push_str("\\.");
            }
            _ => out.push(c),
        }
        last_space = false;
    }
    out
}

fn header(view: &View<'_>, out: &mut dyn Write) -> Result<(), ReportError> {
    writeln!(out, "# {}\n", esc(view.title()))?;
    write!(
        out,
        "Generated {} by grantscope {} · {}",
        view.generated_at,
        esc(&view.meta.tool_version),
        plural(view.grants.len(), "grant", "grants")
    )?;
    if let Some(note) = view.filter_note() {
        write!(out, " ({note})")?;
    }
    writeln!(out, "\n")?;
    let partial = view.partial();
    if !partial.is_empty() {
        writeln!(
            out,
            "> **Warning: partial scan.** {} of {} did not finish; grants may be missing from this report:",
            plural(partial.len(), "tenant", "tenants"),
            view.meta.tenants.len()
        )?;
        for t in &partial {
            writeln!(
                out,
                "> - {} ({}), last scan {}",
                esc(&t.tenant),
                esc(&t.provider),
                t.last_scan_at.as_deref().map_or("never".to_owned(), esc)
            )?;
        }
        writeln!(out)?;
    }
    if !view.meta.tenants.is_empty() {
        writeln!(out, "| tenant | provider | last scan | status |")?;
        writeln!(out, "|---|---|---|---|")?;
        for t in &view.meta.tenants {
            writeln!(
                out,
                "| {} | {} | {} | {} |",
                esc(&t.tenant),
                esc(&t.provider),
                t.last_scan_at.as_deref().map_or("never".to_owned(), esc),
                if t.complete {
                    "complete"
                } else {
                    "**PARTIAL**"
                }
            )?;
        }
        writeln!(out)?;
    }
    Ok(())
}

fn summary(view: &View<'_>, out: &mut dyn Write) -> Result<(), ReportError> {
    writeln!(out, "## Summary\n")?;
    let tiers: Vec<String> = SLOTS
        .iter()
        .zip(view.slots)
        .map(|(name, n)| format!("{n} {name}"))
        .collect();
    writeln!(out, "By tier: {}.\n", tiers.join(" · "))?;
    let mut ages = [0usize; AGE_BUCKETS.len() + 1];
    for g in &view.grants {
        ages[age_bucket(g, view.meta.generated_at)] += 1;
    }
    let ages: Vec<String> = AGE_BUCKETS
        .iter()
        .chain([&AGE_UNREADABLE])
        .zip(ages)
        .filter(|(name, n)| *n > 0 || **name != AGE_UNREADABLE)
        .map(|(name, n)| format!("{n} {name}"))
        .collect();
    writeln!(out, "Last use: {}.\n", ages.join(" · "))?;
    counts_table(
        out,
        "provider",
        &counts_by(&view.grants, |g| g.provider.as_str()),
    )?;
    counts_table(
        out,
        "tenant",
        &counts_by(&view.grants, |g| g.tenant.as_str()),
    )?;
    Ok(())
}

fn counts_table(
    out: &mut dyn Write,
    what: &str,
    counts: &std::collections::BTreeMap<&str, SlotCounts>,
) -> Result<(), ReportError> {
    if counts.is_empty() {
        return Ok(());
    }
    writeln!(out, "| {what} | grants | {} |", SLOTS.join(" | "))?;
    writeln!(out, "|---|---:|{}", "---:|".repeat(SLOTS.len()))?;
    for (name, c) in counts {
        let cells: Vec<String> = c.iter().map(ToString::to_string).collect();
        writeln!(
            out,
            "| {} | {} | {} |",
            esc(name),
            c.iter().sum::<usize>(),
            cells.join(" | ")
        )?;
    }
    writeln!(out)?;
    Ok(())
}

fn top(view: &View<'_>, out: &mut dyn Write) -> Result<(), ReportError> {
    let n = view.options.top.min(view.grants.len());
    if n == 0 {
        writeln!(out, "## Grants\n\nNo grants to show.\n")?;
        return Ok(());
    }
    writeln!(out, "## Top {n} grants by score\n")?;
    writeln!(
        out,
        "| # | score | tier | app | vendor | principal | kind | tenant | top factor |"
    )?;
    writeln!(out, "|---:|---:|---|---|---|---|---|---|---|")?;
    for (i, g) in view.grants.iter().take(n).enumerate() {
        let score = g.value().map_or("–".to_owned(), |v| v.to_string());
        let written = g.written();
        let factor = factors_of(written.as_deref())
            .first()
            .map_or(String::new(), |f| {
                format!("{} ({:+}): {}", esc(&f.factor), f.points, esc(&f.detail))
            });
        writeln!(
            out,
            "| {} | {score} | {} | {} | {} | {} {} | {} | {} | {factor} |",
            i + 1,
            SLOTS[slot(g)],
            app_cell(g),
            esc(vendor_of(g)),
            wire_name(g.principal.kind),
            esc(g.principal.display.as_deref().unwrap_or(&g.principal.id)),
            wire_name(g.kind),
            esc(&g.tenant),
        )?;
    }
    let rest = view.grants.len() - n;
    if rest > 0 {
        writeln!(
            out,
            "\n…and {rest} more {}; the CSV and HTML reports list every grant.",
            if rest == 1 { "grant" } else { "grants" }
        )?;
    }
    writeln!(out)?;
    Ok(())
}

fn blast_radius(view: &View<'_>, out: &mut dyn Write) -> Result<(), ReportError> {
    let vendors = vendors(&view.grants);
    if vendors.is_empty() {
        return Ok(());
    }
    writeln!(out, "## Blast radius by vendor and app\n")?;
    writeln!(
        out,
        "Blast radius = the sum of the grants' scores (Σ); worst = the highest tier and score among them.\n"
    )?;
    for v in vendors.iter().take(VENDORS_LISTED) {
        writeln!(out, "- **{}** — {}", esc(v.name), radius(v))?;
        let apps = apps(&v.grants);
        for a in apps.iter().take(APPS_PER_VENDOR) {
            writeln!(out, "  - {} — {}", esc(a.name), radius(a))?;
        }
        if apps.len() > APPS_PER_VENDOR {
            writeln!(
                out,
                "  - …and {}",
                plural(apps.len() - APPS_PER_VENDOR, "more app", "more apps")
            )?;
        }
    }
    if vendors.len() > VENDORS_LISTED {
        writeln!(
            out,
            "- …and {}",
            plural(
                vendors.len() - VENDORS_LISTED,
                "more vendor",
                "more vendors"
            )
        )?;
    }
    writeln!(out)?;
    Ok(())
}

/// The vendor registry's findings, grouped by kind and app (with a registry only).
fn governance(view: &View<'_>, out: &mut dyn Write) -> Result<(), ReportError> {
    if view.meta.governance.is_none() {
        return Ok(());
    }
    writeln!(out, "## Governance findings\n")?;
    let counts = finding_counts(view);
    if counts.is_empty() {
        writeln!(
            out,
            "None: every app shown has a vendor with an owner, within its allowed scopes, \
             and no vendor being offboarded or past its contract holds a grant.\n"
        )?;
        return Ok(());
    }
    writeln!(out, "| finding | grants |\n|---|---:|")?;
    for (kind, n) in &counts {
        writeln!(out, "| {} | {n} |", finding_label(*kind))?;
    }
    writeln!(out)?;
    let groups = finding_groups(view);
    writeln!(
        out,
        "| finding | vendor | app | provider | grants | tenants | detail |\n|---|---|---|---|---:|---:|---|"
    )?;
    for g in groups.iter().take(FINDING_GROUPS_LISTED) {
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            finding_label(g.kind),
            esc(g.vendor.unwrap_or("–")),
            esc(g.app_name),
            esc(g.provider),
            g.grants,
            g.tenants.len(),
            esc(g.detail),
        )?;
    }
    if groups.len() > FINDING_GROUPS_LISTED {
        writeln!(
            out,
            "\n…and {} more; `grantscope report --format json` and `grantscope vendors findings` \
             list every finding.",
            plural(groups.len() - FINDING_GROUPS_LISTED, "row", "rows")
        )?;
    }
    writeln!(out)?;
    Ok(())
}

/// "Σ 120 over 3 grants in 2 tenants, worst high (55)".
fn radius(g: &Group<'_>) -> String {
    let worst = match (g.worst, g.max) {
        (Some(t), Some(m)) => format!("worst {} ({m})", super::tier_name(t)),
        _ => "unscored".to_owned(),
    };
    format!(
        "Σ {} over {} in {}, {worst}",
        g.sum,
        plural(g.grants.len(), "grant", "grants"),
        plural(g.tenants.len(), "tenant", "tenants"),
    )
}

/// The app's name, and for a grant a third-party plugin reported, which plugin (file and
/// hash): a reader must see whose code vouches for the row.
fn app_cell(g: &GrantRecord) -> String {
    match &g.plugin {
        Some(p) => format!("{} (plugin {})", esc(&g.app.name), esc(&p.to_string())),
        None => esc(&g.app.name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_cannot_break_the_table_or_add_markup() {
        assert_eq!(esc("a|b"), "a\\|b");
        assert_eq!(esc("one\r\ntwo\nthree\tfour"), "one two three four");
        assert_eq!(esc("[x](http://e) <b>"), "\\[x\\]\\(http\\://e\\) \\<b\\>");
        assert_eq!(esc("**bold** `code`"), "\\*\\*bold\\*\\* \\`code\\`");
        assert_eq!(esc("plain name"), "plain name");
        assert_eq!(
            esc("Zürich 日本語 🚀 v1.2 (beta)"),
            "Zürich 日本語 🚀 v1.2 \\(beta\\)"
        );
    }

    #[test]
    fn provider_data_makes_no_link() {
        // Bare URLs of any scheme, `www.` names and addresses: no autolink.
        assert_eq!(esc("https://evil.example"), "https\\://evil.example");
        assert_eq!(esc("see ftp://x.example/a"), "see ftp\\://x.example/a");
        assert_eq!(esc("www.evil.example"), "www\\.evil.example");
        assert_eq!(esc("WWW.Evil.example"), "WWW\\.Evil.example");
        assert_eq!(esc("it@evil.example"), "it\\@evil.example");
        assert_eq!(esc("mailto:it@evil.example"), "mailto:it\\@evil.example");
        // Inline, reference and angle-bracket links and images.
        assert_eq!(esc("[click](http://x)"), "\\[click\\]\\(http\\://x\\)");
        assert_eq!(esc("[click][1]"), "\\[click\\]\\[1\\]");
        assert_eq!(esc("[1]: http://x"), "\\[1\\]: http\\://x");
        assert_eq!(esc("<http://x>"), "\\<http\\://x\\>");
        assert_eq!(
            esc("![i](http://x/p.png)"),
            "\\!\\[i\\]\\(http\\://x/p.png\\)"
        );
        // A colon elsewhere, and dots elsewhere, stay as they are.
        assert_eq!(esc("scope: okta.users.read"), "scope: okta.users.read");
        assert_eq!(esc("http:"), "http:");
    }

    #[test]
    fn controls_and_bidirectional_overrides_do_not_survive() {
        assert_eq!(
            esc("a\u{1b}[2K\u{1b}]52;c;SGVsbG8=\u{7}b"),
            "a \\[2K \\]52;c;SGVsbG8= b"
        );
        assert_eq!(esc("x\u{9b}2K"), "x 2K");
        assert_eq!(esc("abc\u{202e}fdp.exe"), "abc\\u{202e}fdp.exe");
        assert_eq!(esc("\u{2066}a\u{2069}"), "\\u{2066}a\\u{2069}");
    }
}
