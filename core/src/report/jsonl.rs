//! JSON lines: one grant per line, the record in the inventory's shape (DESIGN.md keys,
//! `score` with its factors, sentences and controls; `null` when unscored), in report
//! order.
//!
//! **API boundary:** every line is one grant record and nothing else — no header, no
//! summary line. A consumer (`jq`, a SIEM, a data-lake loader) can then treat every line
//! alike, split or concatenate files, and count lines to count grants; the summary
//! (`by_tier`, tenants, findings, aggregates) is what `--format json` is for.
//!
//! Each record is written out and encoded when its turn comes and dropped before the
//! next, so memory does not grow with the report: a million grants stream through the
//! output buffer.

use std::io::Write;

use super::{ReportError, View};

pub(super) fn write(view: &View<'_>, out: &mut dyn Write) -> Result<(), ReportError> {
    for row in &view.grants {
        // serde_json escapes `\n` and every other control character inside strings, so
        // a hostile field cannot end its record's line early.
        serde_json::to_writer(&mut *out, row).map_err(|e| {
            if e.is_io() {
                ReportError::Write(e.into())
            } else {
                ReportError::Json(e)
            }
        })?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::{grant, now};
    use super::super::*;

    #[test]
    fn one_record_per_line_in_report_order_and_nothing_else() {
        let mut hostile = grant("c\nd", "line\nbreak\u{2028}", Some((90, Tier::Critical)));
        hostile.vendor = Some("\"quoted\"\r\n".into());
        let grants = [
            grant("b", "B", Some((10, Tier::Low))),
            grant("a", "A", None),
            hostile,
        ];
        let mut out = Vec::new();
        let r = render(
            Format::Jsonl,
            &grants,
            &ReportMeta::new(now()),
            &ReportOptions::default(),
            &mut out,
        );
        assert!(r.is_ok(), "{r:?}");
        let text = String::from_utf8_lossy(&out);
        let lines: Vec<&str> = text.split_terminator('\n').collect();
        assert_eq!(lines.len(), 3, "{text}");
        let records: Vec<GrantRecord> = lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        let ids: Vec<&str> = records.iter().map(|g| g.id.as_str()).collect();
        assert_eq!(ids, ["c\nd", "b", "a"]);
        assert_eq!(records[0], grants[2], "the record round-trips exactly");
        assert!(records[2].score.is_none());
        // Each line is the JSON report's record, compact.
        let mut json = Vec::new();
        let r = render(
            Format::Json,
            &grants,
            &ReportMeta::new(now()),
            &ReportOptions::default(),
            &mut json,
        );
        assert!(r.is_ok(), "{r:?}");
        let doc: serde_json::Value = serde_json::from_slice(&json).unwrap_or_default();
        for (i, line) in lines.iter().enumerate() {
            let value: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
            assert_eq!(value, doc["grants"][i]);
        }
    }
}
