//! RFC 4180 CSV, one row per grant, for a reviewer's spreadsheet.
//!
//! Written by hand: the format is a dozen lines, and the part that matters here —
//! neutralising formulas — is ours to get right whatever a crate does.
//!
//! Every field goes through three steps, in this order ([`field`]):
//!
//! 1. **Control characters are made visible.** C0 controls other than tab, CR and LF,
//!    DEL and the C1 controls (U+0080–U+009F) become `\xHH`, HH the code point in
//!    lower-case hex (`\u{1b}` → `\x1b`): an escape sequence in an app name must not
//!    drive the terminal of whoever runs `cat` on the file, and a NUL must not cut a
//!    cell short in a reader written in C. Tab, CR and LF stay: they are text a
//!    description may hold, and quoting carries them. A backslash is not escaped, so
//!    a literal `\x1b` and an escaped ESC read alike; the CSV is for people, and the
//!    JSON report is the lossless form.
//! 2. **Formula injection.** Grant data comes from third parties: an app named
//!    `=HYPERLINK("http://evil","click")` would run as a formula in Excel or
//!    LibreOffice. A cell starting with `=`, `+`, `-`, `@`, tab or CR, or with their
//!    full-width forms `＝＋－＠` (what a CJK input method types, and what Excel in
//!    those locales may turn into formulas), is a formula start (OWASP's list, plus the full-width
//!    forms). The rule: **every segment of the field that a spreadsheet could make a
//!    cell of — the field itself, and each part that follows a `,`, `;`, tab, CR or
//!    LF — gets a `'` inserted at its start when its first character after leading
//!    spaces is a formula start.** Spreadsheets read a leading `'` as "this is text".
//!    Why per segment and not once for the field: a quote-aware reader keeps the
//!    quoted field whole, and then only its start matters; but a reader that splits
//!    without honouring quotes (a `;` locale opening the file by hand, "Text to
//!    Columns" on the column) makes `Acme;=cmd|' /C calc'!A0` two cells, and a `'`
//!    before `Acme` would protect only the first. So that field is written
//!    `Acme;'=cmd|' /C calc'!A0`. The `'` goes before the leading spaces, so a reader
//!    that trims them still sees it first.
//! 3. **Quoting.** A field holding `,`, `;`, tab, `"`, CR or LF is quoted and its
//!    quotes doubled (RFC 4180 quotes only for `,`, `"`, CR and LF; `;` and tab are the
//!    separators of other locales' and tools' readers, so a reader set to them also
//!    keeps the field whole). Records end in CRLF, as RFC 4180 says.
//!
//! - No byte-order mark: it breaks machine readers, and current spreadsheets
//!   detect UTF-8 (Excel: Data → From Text/CSV).
//! - The column set is an **API boundary**: add columns at the end, never rename.

use std::io::Write;

use super::Row;
use super::{ReportError, SLOTS, View, factors_of, slot, wire_name};

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

fn row(g: &Row<'_>) -> [String; 16] {
    let opt = |s: &Option<String>| s.clone().unwrap_or_default();
    let written = g.written();
    let top_factors = factors_of(written.as_deref())
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
        g.value().map(|v| v.to_string()).unwrap_or_default(),
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

/// Characters that make a cell a formula when they come first (OWASP's list and the
/// full-width forms of `=`, `+`, `-` and `@`).
const FORMULA_STARTS: [char; 10] = ['=', '+', '-', '@', '\t', '\r', '＝', '＋', '－', '＠'];

/// Characters a spreadsheet may split a cell at: the RFC 4180 separator, the separator
/// of locales with a decimal comma, tab (TSV, "Text to Columns") and line ends.
const CELL_SPLITS: [char; 5] = [',', ';', '\t', '\r', '\n'];

/// Characters that make a field quoted.
const NEEDS_QUOTES: [char; 6] = [',', ';', '\t', '"', '\r', '\n'];

/// One field: control characters made visible, formulas neutralised in every
/// segment a spreadsheet could split off, then quoted as needed (the rules are in
/// the module documentation).
pub(super) fn field(value: &str) -> String {
    let neutral = neutralise(&escape_controls(value));
    if neutral.contains(NEEDS_QUOTES) {
        format!("\"{}\"", neutral.replace('"', "\"\""))
    } else {
        neutral
    }
}

/// `\xHH` for every control character but tab, CR and LF.
fn escape_controls(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        // `is_control` is exactly Unicode's Cc: C0, DEL and C1.
        if c.is_control() && !matches!(c, '\t' | '\r' | '\n') {
            out.push_str(&format!("\\x{:02x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// A `'` before every segment (the field's start, and after each of
/// [`CELL_SPLITS`]) whose first character after leading spaces is a formula start.
fn neutralise(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 1);
    let mut segment_start = true;
    for (i, c) in value.char_indices() {
        if segment_start && starts_formula(&value[i..]) {
            out.push('\'');
        }
        out.push(c);
        segment_start = CELL_SPLITS.contains(&c);
    }
    out
}

/// Whether a cell holding `rest` would be read as a formula: its first character
/// after leading spaces (a reader may trim them) is a formula start. A split
/// character is not skipped as a space: it ends the segment.
fn starts_formula(rest: &str) -> bool {
    rest.trim_start_matches(|c: char| c.is_whitespace() && !CELL_SPLITS.contains(&c))
        .starts_with(FORMULA_STARTS)
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
            ("a;b", "\"a;b\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("two\nlines", "\"two\nlines\""),
            ("=1+1", "'=1+1"),
            ("+1", "'+1"),
            ("-1", "'-1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "\"'\tx\""),
            ("\rx", "\"'\rx\""),
            (
                "=HYPERLINK(\"http://x\",\"y\")",
                "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"",
            ),
            ("a=b", "a=b"),
            ("a-b @c", "a-b @c"),
        ];
        for (input, want) in cases {
            assert_eq!(field(input), want, "{input:?}");
        }
    }

    #[test]
    fn hostile_fields_are_neutralised_in_every_segment() {
        let cases = [
            // Split on `;` by hand or by locale, the second cell would be a DDE call.
            ("Acme;=cmd|' /C calc'!A0", "\"Acme;'=cmd|' /C calc'!A0\""),
            ("Acme,+1", "\"Acme,'+1\""),
            ("Acme\t-1", "\"Acme\t'-1\""),
            ("Acme\n@SUM(A1)", "\"Acme\n'@SUM(A1)\""),
            ("Acme\r\n=1", "\"Acme\r\n'=1\""),
            // Leading spaces a reader may trim: the `'` goes before them.
            ("  =1", "'  =1"),
            ("read; -2+3", "\"read;' -2+3\""),
            ("\u{3000}=1", "'\u{3000}=1"),
            // Full-width formula starts.
            ("＝1+1", "'＝1+1"),
            ("＋1", "'＋1"),
            ("－1", "'－1"),
            ("＠SUM(A1)", "'＠SUM(A1)"),
            ("ok;＝cmd", "\"ok;'＝cmd\""),
            // Every segment, not only the first.
            ("=a;=b,=c", "\"'=a;'=b,'=c\""),
            // An empty segment between two splits starts nothing.
            ("a;;b", "\"a;;b\""),
        ];
        for (input, want) in cases {
            assert_eq!(field(input), want, "{input:?}");
        }
    }

    #[test]
    fn control_characters_are_escaped_visibly() {
        let cases = [
            ("\u{1b}[31mred\u{1b}[0m", "\\x1b[31mred\\x1b[0m"),
            ("nul\0byte", "nul\\x00byte"),
            ("bell\u{7}", "bell\\x07"),
            ("del\u{7f}", "del\\x7f"),
            ("csi\u{9b}31m", "csi\\x9b31m"),
            ("nel\u{85}", "nel\\x85"),
            // An escape is text, so a control character before `=` does not hide it.
            ("\u{1b}=1", "\\x1b=1"),
            // Tab, CR and LF are text; quoting carries them.
            ("a\tb", "\"a\tb\""),
        ];
        for (input, want) in cases {
            assert_eq!(field(input), want, "{input:?}");
        }
    }

    /// The RFC 4180 value of one written field.
    fn decode(written: &str) -> String {
        match written.strip_prefix('"') {
            Some(rest) => {
                let inner = rest
                    .strip_suffix('"')
                    .unwrap_or_else(|| panic!("unterminated quote: {written:?}"));
                assert!(
                    !inner.replace("\"\"", "").contains('"'),
                    "undoubled quote: {written:?}"
                );
                inner.replace("\"\"", "\"")
            }
            None => {
                assert!(
                    !written.contains(NEEDS_QUOTES),
                    "unquoted field with a separator: {written:?}"
                );
                written.to_owned()
            }
        }
    }

    /// Characters that make the laws interesting, and a few that do not.
    const ALPHABET: &str =
        "[=+\\-@\t\r\n,;\"' a\u{0}\u{1b}\u{7f}\u{85}\u{9b}\u{3000}＝＋－＠]{0,16}";

    proptest::proptest! {
        #[test]
        fn no_cell_of_a_field_can_run_as_a_formula(value in ALPHABET) {
            let read = decode(&field(&value));
            // Whole, as a quote-aware reader sees it, trimmed as some readers trim.
            let whole = read.trim_start();
            proptest::prop_assert!(!whole.starts_with(FORMULA_STARTS), "{value:?} -> {read:?}");
            // Split as a reader that ignores quotes splits it.
            for cell in read.split(CELL_SPLITS) {
                proptest::prop_assert!(
                    !cell.trim_start().starts_with(FORMULA_STARTS),
                    "{value:?} -> {read:?}: cell {cell:?}"
                );
            }
            proptest::prop_assert!(
                !read.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\r' | '\n')),
                "{value:?} -> {read:?}"
            );
        }

        #[test]
        fn harmless_text_round_trips(value in "[a-z0-9 ,;\"'.:/\n]{0,24}") {
            proptest::prop_assert_eq!(decode(&field(&value)), value);
        }
    }
}
