//! RFC 4180 CSV, one row per grant, for a reviewer's spreadsheet.
//!
//! Written by hand: the format is a dozen lines, and the part that matters here —
//! neutralising formulas — is ours to get right whatever a crate does.
//!
//! - Fields are quoted when they hold a comma, a quote, CR or LF; quotes double.
//!   Records end in CRLF, as RFC 4180 says.
//! - **Formula injection.** Grant data comes from third parties: an app named
//!   `=HYPERLINK("http://evil","click")` would run as a formula in Excel or
//!   LibreOffice. A cell starting with `=`, `+`, `-`, `@`, tab or CR gets a leading
//!   `'`, which spreadsheets read as "this is text" (OWASP's advice).
//! - No byte-order mark: it breaks machine readers, and current spreadsheets
//!   detect UTF-8 (Excel: Data → From Text/CSV).
//! - The column set is an **API boundary**: add columns at the end, never rename.

use std::io::Write;

use super::{ReportError, SLOTS, View, factors_of, slot, wire_name};
use crate::model::GrantRecord;

/// The header, in column order.
pub(super) const COLUMNS: [&str; 16] = [
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

/// How many factors the `top_factors` column names.
const TOP_FACTORS: usize = 3;

pub(super) fn write(view: &View<'_>, out: &mut dyn Write) -> Result<(), ReportError> {
    write_record(out, COLUMNS.iter().map(|c| (*c).to_owned()))?;
    for g in &view.grants {
        write_record(out, row(g))?;
    }
    Ok(())
}

fn row(g: &GrantRecord) -> [String; 16] {
    let opt = |s: &Option<String>| s.clone().unwrap_or_default();
    let top_factors = factors_of(g)
        .iter()
        .take(TOP_FACTORS)
        .map(|f| format!("{} ({:+}): {}", f.factor, f.points, f.detail))
        .collect::<Vec<_>>()
        .join("; ");
    [
        g.id.clone(),
        g.provider.clone(),
        g.tenant.clone(),
        opt(&g.vendor),
        g.app.id.clone(),
        g.app.name.clone(),
        wire_name(g.principal.kind),
        g.principal.id.clone(),
        wire_name(g.kind),
        g.scopes.join("; "),
        g.score
            .as_ref()
            .map(|s| s.value.to_string())
            .unwrap_or_default(),
        SLOTS[slot(g)].to_owned(),
        top_factors,
        opt(&g.created_at),
        opt(&g.last_used_at),
        opt(&g.expires_at),
    ]
}

fn write_record(
    out: &mut dyn Write,
    fields: impl IntoIterator<Item = String>,
) -> Result<(), ReportError> {
    let mut first = true;
    for f in fields {
        if !first {
            out.write_all(b",")?;
        }
        first = false;
        out.write_all(field(&f).as_bytes())?;
    }
    out.write_all(b"\r\n")?;
    Ok(())
}

/// One field, neutralised and quoted as needed.
pub(super) fn field(value: &str) -> String {
    let neutral = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if neutral.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", neutral.replace('"', "\"\""))
    } else {
        neutral
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_and_formulas_neutralised() {
        let cases = [
            ("plain", "plain"),
            ("", ""),
            ("a,b", "\"a,b\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("two\nlines", "\"two\nlines\""),
            ("=1+1", "'=1+1"),
            ("+1", "'+1"),
            ("-1", "'-1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "\"'\rx\""),
            (
                "=HYPERLINK(\"http://x\",\"y\")",
                "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"",
            ),
            ("a=b", "a=b"),
        ];
        for (input, want) in cases {
            assert_eq!(field(input), want, "{input:?}");
        }
    }
}
