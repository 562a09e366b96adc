//! `{"grants": [...], "findings": [...], "meta": {...}}` (`findings` with a vendor
//! registry only).
//!
//! **API boundary:** `grants` holds the records exactly as the inventory shapes
//! them (DESIGN.md keys; an unscored grant has `"score": null`), in report order;
//! `meta` may gain keys, never lose or rename one.

use std::io::Write;

use serde::Serialize;

use super::{ReportError, Row, SlotCounts, TenantStatus, View};
use crate::model::Tier;

#[derive(Serialize)]
struct Document<'a> {
    grants: &'a [Row<'a>],
    /// Vendors by blast radius (the union of what their grants reach), when computed.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    vendors: &'a [crate::score::Aggregate],
    /// Apps by blast radius, when computed.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    apps: &'a [crate::score::Aggregate],
    /// The registry's governance findings about the grants shown, one per grant and
    /// kind; absent when no registry is configured, `[]` when there is nothing to say.
    #[serde(skip_serializing_if = "Option::is_none")]
    findings: Option<&'a [&'a crate::vendor::Finding]>,
    meta: Meta<'a>,
}

#[derive(Serialize)]
struct Meta<'a> {
    title: Option<&'a str>,
    generated_at: &'a str,
    tool_version: &'a str,
    /// The `--min-tier` the selection used, if any.
    min_tier: Option<Tier>,
    /// How many grants `grants` holds.
    grants: usize,
    by_tier: ByTier,
    /// False when any tenant's last scan was partial.
    complete: bool,
    tenants: &'a [TenantStatus],
}

/// Counts in a fixed key order, most severe first.
#[derive(Serialize)]
struct ByTier {
    critical: usize,
    high: usize,
    medium: usize,
    low: usize,
    unscored: usize,
}

impl From<SlotCounts> for ByTier {
    fn from(c: SlotCounts) -> Self {
        // The order of `SLOTS`.
        let [critical, high, medium, low, unscored] = c;
        ByTier {
            critical,
            high,
            medium,
            low,
            unscored,
        }
    }
}

pub(super) fn write(view: &View<'_>, out: &mut dyn Write) -> Result<(), ReportError> {
    let doc = Document {
        grants: &view.grants,
        vendors: &view.meta.vendors,
        apps: &view.meta.apps,
        findings: view
            .meta
            .governance
            .as_ref()
            .map(|_| view.findings.as_slice()),
        meta: Meta {
            title: view.meta.title.as_deref(),
            generated_at: &view.generated_at,
            tool_version: &view.meta.tool_version,
            min_tier: view.options.min_tier,
            grants: view.grants.len(),
            by_tier: view.slots.into(),
            complete: view.meta.tenants.iter().all(|t| t.complete),
            tenants: &view.meta.tenants,
        },
    };
    serde_json::to_writer_pretty(&mut *out, &doc).map_err(|e| {
        if e.is_io() {
            ReportError::Write(e.into())
        } else {
            ReportError::Json(e)
        }
    })?;
    writeln!(out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::{grant, now};
    use super::super::*;

    #[test]
    fn grants_come_first_in_report_order_and_unscored_is_null() {
        let grants = [
            grant("b", "B", Some((10, Tier::Low))),
            grant("a", "A", None),
            grant("c", "C", Some((90, Tier::Critical))),
        ];
        let mut out = Vec::new();
        let meta = ReportMeta::new(now());
        let r = render(
            Format::Json,
            &grants,
            &meta,
            &ReportOptions::default(),
            &mut out,
        );
        assert!(r.is_ok(), "{r:?}");
        let text = String::from_utf8_lossy(&out);
        assert!(text.trim_start().starts_with("{\n  \"grants\""), "{text}");
        let doc: serde_json::Value = serde_json::from_slice(&out).unwrap_or_default();
        let ids: Vec<&str> = doc["grants"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|g| g["id"].as_str())
            .collect();
        assert_eq!(ids, ["c", "b", "a"]);
        assert!(doc["grants"][2]["score"].is_null());
        assert_eq!(doc["meta"]["by_tier"]["unscored"], 1);
        assert_eq!(doc["meta"]["generated_at"], "2025-06-01T12:00:00Z");
    }
}
