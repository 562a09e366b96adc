//! Reports: the inventory as JSON, CSV, Markdown or one self-contained HTML page.
//!
//! **Architecture invariant:** `report` alone defines output shapes. Rendering is
//! pure: the input is the grants (already scored by the caller; a grant without a
//! score still renders, as "unscored") and a [`ReportMeta`] whose `generated_at` is
//! passed in — there is no clock here, so the same input always gives the same
//! bytes, and ages ("unused for 400 days") are measured from `generated_at`. The
//! output goes to any [`std::io::Write`]. Nothing here prints, reads files or the
//! environment, or touches the network, and the HTML page loads nothing either:
//! styles, script and charts (server-side SVG) are inline, and its
//! Content-Security-Policy forbids every fetch.
//!
//! Grant data comes from third parties — an app's name is whatever its author
//! typed — so every format treats it as hostile: HTML-escaped in HTML, quoted and
//! formula-neutralised in CSV, escaped in Markdown, serde-encoded in JSON.
//!
//! Every format lists the same grants in the same order ([`select`]): those at or
//! above the minimum tier, by score descending, then by id.
//!
//! ```no_run
//! # fn demo(grants: &[grantscope::model::GrantRecord]) -> Result<(), grantscope::report::ReportError> {
//! use grantscope::report::{self, Format, ReportMeta, ReportOptions};
//! let meta = ReportMeta::new(time::OffsetDateTime::now_utc());
//! report::render(Format::Html, grants, &meta, &ReportOptions::default(), &mut std::io::sink())?;
//! # Ok(()) }
//! ```

mod charts;
mod csv;
mod html;
mod json;
mod jsonl;
mod markdown;

pub use html::{PAGE_ROWS, PAGED_ABOVE};

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufWriter, Write};
use std::ops::Deref;

use serde::Serialize;
use time::OffsetDateTime;

use crate::model::{GrantRecord, Score, Tier};
use crate::plural;
use crate::scan::TenantScan;
use crate::score::{Compact, Scorer};
use crate::vendor::{Finding, FindingKind};

/// How many grants the Markdown report lists by default.
pub const DEFAULT_TOP: usize = 50;

/// The vendor shown for grants whose app is not mapped to a vendor yet.
pub const UNMAPPED_VENDOR: &str = "unmapped";

/// A report format. Command-line names: `json`, `jsonl`, `csv`, `md`, `html`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Format {
    /// `{"grants": [...], "meta": {...}}`, records in the inventory's shape.
    Json,
    /// JSON lines: one record per line in the inventory's shape, score and reasons
    /// included, in report order, and nothing else; written as it goes.
    Jsonl,
    /// RFC 4180, one row per grant, for a spreadsheet.
    Csv,
    /// Summary, top grants and blast radius, for a ticket.
    #[value(name = "md", alias = "markdown")]
    Markdown,
    /// One self-contained page: charts and a sortable, filterable table.
    Html,
}

impl Format {
    /// Every format, in the order the help lists them.
    pub const ALL: [Format; 5] = [
        Format::Json,
        Format::Jsonl,
        Format::Csv,
        Format::Markdown,
        Format::Html,
    ];

    /// The command-line name (`json`, `jsonl`, `csv`, `md`, `html`).
    pub const fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
            Format::Markdown => "md",
            Format::Html => "html",
        }
    }

    /// The usual file extension, without the dot (the same as the name).
    pub const fn extension(self) -> &'static str {
        self.name()
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Format {
    type Err = ReportError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let given = s.trim().to_ascii_lowercase();
        if given == "markdown" {
            return Ok(Format::Markdown);
        }
        Format::ALL
            .into_iter()
            .find(|f| f.name() == given)
            .ok_or_else(|| ReportError::UnknownFormat {
                given: s.to_owned(),
            })
    }
}

/// A report failure.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Writing the output failed.
    #[error(
        "cannot write the report; check the destination (disk space, permissions, a closed pipe)"
    )]
    Write(#[from] std::io::Error),
    /// The JSON encoder failed for a reason other than writing.
    #[error("cannot encode the report as JSON")]
    Json(#[source] serde_json::Error),
    /// A format name that is not one of ours.
    #[error("unknown report format `{given}`; use json, jsonl, csv, md or html")]
    UnknownFormat {
        /// What was asked for.
        given: String,
    },
    /// A tier name that is not one of ours.
    #[error("unknown tier `{given}`; use low, medium, high or critical")]
    UnknownTier {
        /// What was asked for.
        given: String,
    },
}

/// What a report says about itself: when, by what, over which tenants.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportMeta {
    /// When the report was generated; also "now" for the age of grants. Passed in
    /// so that rendering stays pure and reproducible.
    pub generated_at: OffsetDateTime,
    /// grantscope's version.
    pub tool_version: String,
    /// A heading; `None` gives "grantscope report".
    pub title: Option<String>,
    /// The tenants the grants come from, with the state of their last scan.
    pub tenants: Vec<TenantStatus>,
    /// Per-vendor blast radius: the union of what each vendor's grants reach across
    /// tenants (from `score::Scorer::aggregate_by`); empty when not computed.
    pub vendors: Vec<crate::score::Aggregate>,
    /// Per-app blast radius within a tenant; empty when not computed.
    pub apps: Vec<crate::score::Aggregate>,
    /// The vendor registry's governance findings about the grants (no vendor, no
    /// owner, wider than allowed, offboarded vendor, contract ended); `None` when no
    /// registry is configured, which a report tells apart from "no findings".
    pub governance: Option<Vec<Finding>>,
}

impl ReportMeta {
    /// Meta for a report generated at `generated_at` by this grantscope, with no
    /// title and no tenants yet.
    pub fn new(generated_at: OffsetDateTime) -> Self {
        ReportMeta {
            generated_at,
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            title: None,
            tenants: Vec::new(),
            vendors: Vec::new(),
            apps: Vec::new(),
            governance: None,
        }
    }
}

/// A tenant's last scan, as a report shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TenantStatus {
    /// Tenant name.
    pub tenant: String,
    /// Provider id.
    pub provider: String,
    /// When its last scan finished (RFC 3339 UTC); `None` when never scanned.
    pub last_scan_at: Option<String>,
    /// False when that scan was partial: some grants may be missing.
    pub complete: bool,
}

impl From<&TenantScan> for TenantStatus {
    fn from(scan: &TenantScan) -> Self {
        TenantStatus {
            tenant: scan.tenant.clone(),
            provider: scan.provider.clone(),
            last_scan_at: Some(scan.finished_at.clone()).filter(|s| !s.is_empty()),
            complete: scan.complete,
        }
    }
}

/// What to include.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportOptions {
    /// Leave out grants below this tier (and unscored grants). `None` keeps all.
    pub min_tier: Option<Tier>,
    /// How many grants the Markdown report lists (the others are counted).
    pub top: usize,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            min_tier: None,
            top: DEFAULT_TOP,
        }
    }
}

/// Where a report takes its grants' scores from.
#[derive(Debug, Clone, Copy)]
pub enum Scores<'a> {
    /// Each grant's own `score` field (`None`: unscored).
    Embedded,
    /// One compact score per grant, in the order of the grants (a grant past the end
    /// is unscored), written out by `scorer` for each row as the report writes it: a
    /// report of a million grants then never holds a million written-out scores, and
    /// the bytes are those of [`Scores::Embedded`] with the written-out scores.
    Compact {
        /// The scorer that made `scores`.
        scorer: &'a Scorer<'a>,
        /// The grants' scores (`Scorer::score_all`).
        scores: &'a [Compact<'a>],
    },
}

/// Writes the report of `grants` in `format` to `out`, with each grant's own score.
///
/// The grants shown are [`select`]`(grants, options.min_tier)`; output is buffered
/// here, so `out` may be an unbuffered file or a locked stdout.
pub fn render<W: Write + ?Sized>(
    format: Format,
    grants: &[GrantRecord],
    meta: &ReportMeta,
    options: &ReportOptions,
    out: &mut W,
) -> Result<(), ReportError> {
    render_scored(format, grants, Scores::Embedded, meta, options, out)
}

/// [`render`] with the scores taken from `scores`.
pub fn render_scored<W: Write + ?Sized>(
    format: Format,
    grants: &[GrantRecord],
    scores: Scores<'_>,
    meta: &ReportMeta,
    options: &ReportOptions,
    out: &mut W,
) -> Result<(), ReportError> {
    let view = View::new(grants, scores, meta, options);
    let mut buf = BufWriter::new(out);
    match format {
        Format::Json => json::write(&view, &mut buf)?,
        Format::Jsonl => jsonl::write(&view, &mut buf)?,
        Format::Csv => csv::write(&view, &mut buf)?,
        Format::Markdown => markdown::write(&view, &mut buf)?,
        Format::Html => html::write(&view, &mut buf)?,
    }
    buf.flush()?;
    Ok(())
}

/// The tier's name as the records spell it (`critical`, `high`, `medium`, `low`).
pub const fn tier_name(tier: Tier) -> &'static str {
    match tier {
        Tier::Critical => "critical",
        Tier::High => "high",
        Tier::Medium => "medium",
        Tier::Low => "low",
    }
}

/// Parses a tier name (any case), for `--min-tier` and `--fail-on`
/// (`#[arg(value_parser = report::parse_tier)]`).
pub fn parse_tier(s: &str) -> Result<Tier, ReportError> {
    let given = s.trim().to_ascii_lowercase();
    [Tier::Low, Tier::Medium, Tier::High, Tier::Critical]
        .into_iter()
        .find(|t| tier_name(*t) == given)
        .ok_or_else(|| ReportError::UnknownTier {
            given: s.to_owned(),
        })
}

/// Whether `grant` belongs in a report limited to `min_tier`: every grant without a
/// minimum; with one, only scored grants at or above it (an unscored grant cannot
/// be shown to meet a bar).
pub fn meets_min_tier(grant: &GrantRecord, min_tier: Option<Tier>) -> bool {
    match (min_tier, &grant.score) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(min), Some(score)) => score.tier >= min,
    }
}

/// The grants a report shows, in report order: those meeting `min_tier`, by score
/// descending (unscored last), then by id.
pub fn select(grants: &[GrantRecord], min_tier: Option<Tier>) -> Vec<&GrantRecord> {
    rows(grants, Scores::Embedded, min_tier)
        .into_iter()
        .map(|r| r.grant)
        .collect()
}

/// [`select`] for scores from anywhere, as rows.
fn rows<'a>(grants: &'a [GrantRecord], scores: Scores<'a>, min_tier: Option<Tier>) -> Vec<Row<'a>> {
    let mut shown: Vec<Row<'a>> = grants
        .iter()
        .enumerate()
        .map(|(i, grant)| Row {
            grant,
            score: match scores {
                Scores::Embedded => grant.score.as_ref().map(ScoreRef::Full),
                Scores::Compact { scorer, scores } => {
                    scores.get(i).map(|s| ScoreRef::Compact(s, scorer))
                }
            },
        })
        .filter(|r| match (min_tier, r.tier()) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(min), Some(tier)) => tier >= min,
        })
        .collect();
    shown.sort_by(|a, b| b.value().cmp(&a.value()).then_with(|| a.id.cmp(&b.id)));
    shown
}

/// A grant's score, written out or compact.
#[derive(Clone, Copy)]
enum ScoreRef<'a> {
    Full(&'a Score),
    Compact(&'a Compact<'a>, &'a Scorer<'a>),
}

/// A grant as a report shows it, with its score wherever that comes from. It derefs to
/// the grant; its `score` field hides the grant's own, so that no format reads the
/// wrong one.
#[derive(Clone, Copy)]
struct Row<'a> {
    grant: &'a GrantRecord,
    score: Option<ScoreRef<'a>>,
}

impl<'a> Row<'a> {
    fn value(&self) -> Option<u8> {
        self.score.map(|s| match s {
            ScoreRef::Full(s) => s.value,
            ScoreRef::Compact(c, _) => c.value(),
        })
    }

    fn tier(&self) -> Option<Tier> {
        self.score.map(|s| match s {
            ScoreRef::Full(s) => s.tier,
            ScoreRef::Compact(c, _) => c.tier(),
        })
    }

    /// The written-out score; a compact one is written out now, for this row only.
    fn written(&self) -> Option<Cow<'a, Score>> {
        self.score.map(|s| match s {
            ScoreRef::Full(s) => Cow::Borrowed(s),
            ScoreRef::Compact(c, scorer) => Cow::Owned(scorer.explain(c, self.grant)),
        })
    }
}

/// The record exactly as the inventory's JSON shapes it, with the row's score in it.
impl Serialize for Row<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let own = match self.score {
            Some(ScoreRef::Full(_)) => true,
            Some(ScoreRef::Compact(..)) => false,
            None => self.grant.score.is_none(),
        };
        if own {
            return self.grant.serialize(s);
        }
        // A copy with the written-out score, so the shape is the record's own by
        // construction; one row at a time, so only one copy is alive.
        let mut g = self.grant.clone();
        g.score = self.written().map(Cow::into_owned);
        g.serialize(s)
    }
}

impl Deref for Row<'_> {
    type Target = GrantRecord;

    fn deref(&self) -> &GrantRecord {
        self.grant
    }
}

/// The highest tier among `grants`; `None` when none is scored. For `--fail-on T`:
/// fail when `worst_tier(&grants) >= Some(T)`. Pass every grant, not the
/// `--min-tier` selection, so that the exit code does not depend on what is shown.
pub fn worst_tier(grants: &[GrantRecord]) -> Option<Tier> {
    grants
        .iter()
        .filter_map(|g| g.score.as_ref().map(|s| s.tier))
        .max()
}

// ---------------------------------------------------------------------------
// What every format shares: the selection, counts, groups and ages.

/// Tier slots, most severe first; the last one holds unscored grants.
const SLOTS: [&str; 5] = ["critical", "high", "medium", "low", "unscored"];

/// The slot of `grant` in [`SLOTS`].
fn slot(grant: &Row<'_>) -> usize {
    match grant.tier() {
        Some(Tier::Critical) => 0,
        Some(Tier::High) => 1,
        Some(Tier::Medium) => 2,
        Some(Tier::Low) => 3,
        None => 4,
    }
}

/// Counts per slot of [`SLOTS`].
type SlotCounts = [usize; 5];

fn count_slots<'r, 'a: 'r>(grants: impl IntoIterator<Item = &'r Row<'a>>) -> SlotCounts {
    let mut counts = [0; 5];
    for g in grants {
        counts[slot(g)] += 1;
    }
    counts
}

/// The vendor a grant is counted under.
fn vendor_of(grant: &GrantRecord) -> &str {
    grant.vendor.as_deref().unwrap_or(UNMAPPED_VENDOR)
}

/// The score's value, 0 for an unscored grant (it adds nothing to a sum).
fn value_of(grant: &Row<'_>) -> u64 {
    grant.value().map_or(0, u64::from)
}

/// A grant's factors, largest contribution first (the scorer promises this order;
/// sorting again costs little and keeps "top factor" right if it ever slips).
fn factors_of(score: Option<&Score>) -> Vec<&crate::model::Factor> {
    let mut factors: Vec<_> = score.iter().flat_map(|s| &s.factors).collect();
    factors.sort_by_key(|f| std::cmp::Reverse(f.points));
    factors
}

/// Grants sharing a vendor or an app, with their blast radius: the sum of their
/// scores (a vendor holding many medium grants can reach more than one holding a
/// single high one), plus the worst tier and the largest score.
struct Group<'a> {
    /// Vendor name, or app name.
    name: &'a str,
    /// For apps: provider and app id (the name alone is not unique).
    detail: Option<(&'a str, &'a str)>,
    grants: Vec<Row<'a>>,
    sum: u64,
    max: Option<u8>,
    worst: Option<Tier>,
    slots: SlotCounts,
    tenants: BTreeSet<&'a str>,
}

impl<'a> Group<'a> {
    fn new(name: &'a str, detail: Option<(&'a str, &'a str)>) -> Self {
        Group {
            name,
            detail,
            grants: Vec::new(),
            sum: 0,
            max: None,
            worst: None,
            slots: [0; 5],
            tenants: BTreeSet::new(),
        }
    }

    fn add(&mut self, g: Row<'a>) {
        self.sum += value_of(&g);
        if let (Some(value), Some(tier)) = (g.value(), g.tier()) {
            self.max = self.max.max(Some(value));
            self.worst = self.worst.max(Some(tier));
        }
        self.slots[slot(&g)] += 1;
        self.tenants.insert(&g.grant.tenant);
        self.grants.push(g);
    }

    /// Largest blast radius first; ties by worst score, size, then name.
    fn by_blast_radius(a: &Group<'_>, b: &Group<'_>) -> std::cmp::Ordering {
        b.sum
            .cmp(&a.sum)
            .then_with(|| b.max.cmp(&a.max))
            .then_with(|| b.grants.len().cmp(&a.grants.len()))
            .then_with(|| a.name.cmp(b.name))
            .then_with(|| a.detail.cmp(&b.detail))
    }
}

/// Grants by vendor ([`UNMAPPED_VENDOR`] when unmapped), largest blast radius first.
fn vendors<'a>(grants: &[Row<'a>]) -> Vec<Group<'a>> {
    let mut map: BTreeMap<&str, Group<'a>> = BTreeMap::new();
    for g in grants {
        let name = vendor_of(g.grant);
        map.entry(name)
            .or_insert_with(|| Group::new(name, None))
            .add(*g);
    }
    let mut groups: Vec<Group<'a>> = map.into_values().collect();
    groups.sort_by(Group::by_blast_radius);
    groups
}

/// Grants by app (provider and app id), largest blast radius first. An app is
/// named after its first grant in report order.
fn apps<'a>(grants: &[Row<'a>]) -> Vec<Group<'a>> {
    let mut map: BTreeMap<(&str, &str), Group<'a>> = BTreeMap::new();
    for g in grants {
        let grant = g.grant;
        let key = (grant.provider.as_str(), grant.app.id.as_str());
        map.entry(key)
            .or_insert_with(|| Group::new(&grant.app.name, Some(key)))
            .add(*g);
    }
    let mut groups: Vec<Group<'a>> = map.into_values().collect();
    groups.sort_by(Group::by_blast_radius);
    groups
}

/// Grants counted by a key (provider, tenant), by key.
fn counts_by<'a>(
    grants: &[Row<'a>],
    key: impl Fn(&'a GrantRecord) -> &'a str,
) -> BTreeMap<&'a str, SlotCounts> {
    let mut map: BTreeMap<&str, SlotCounts> = BTreeMap::new();
    for g in grants {
        map.entry(key(g.grant)).or_insert([0; 5])[slot(g)] += 1;
    }
    map
}

/// Age buckets by days since last use, stalest first.
const AGE_BUCKETS: [&str; 6] = [
    "never used",
    "> 365 d",
    "181–365 d",
    "91–180 d",
    "31–90 d",
    "≤ 30 d",
];

/// The bucket for a grant whose last use cannot be read (not RFC 3339).
const AGE_UNREADABLE: &str = "unreadable date";

/// Whole days from `then` (RFC 3339) to `now`; `None` when `then` does not parse.
/// A time after `now` (clock skew between provider and us) counts as 0 days.
fn days_since(then: &str, now: OffsetDateTime) -> Option<i64> {
    let then = OffsetDateTime::parse(then, &time::format_description::well_known::Rfc3339).ok()?;
    Some((now - then).whole_days().max(0))
}

/// The index in [`AGE_BUCKETS`] of a grant's last use; `AGE_BUCKETS.len()` for an
/// unreadable date.
fn age_bucket(grant: &GrantRecord, now: OffsetDateTime) -> usize {
    let Some(last) = &grant.last_used_at else {
        return 0;
    };
    match days_since(last, now) {
        None => AGE_BUCKETS.len(),
        Some(d) if d > 365 => 1,
        Some(d) if d > 180 => 2,
        Some(d) if d > 90 => 3,
        Some(d) if d > 30 => 4,
        Some(_) => 5,
    }
}

/// `t` as RFC 3339 UTC with whole seconds, the records' own format. Written by
/// hand because it cannot fail (`time`'s formatter can, for years past 9999).
fn rfc3339(t: OffsetDateTime) -> String {
    let t = t.checked_to_offset(time::UtcOffset::UTC).unwrap_or(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// A serde enum's wire name (`personal_token`, `user`), as the JSON spells it.
fn wire_name(v: impl Serialize) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// At most `max` characters of `s`, with an ellipsis when cut.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A finding kind's place in a report: most urgent first (a live grant of a vendor
/// being offboarded is an incident; an app nobody mapped is homework).
fn finding_rank(kind: FindingKind) -> u8 {
    match kind {
        FindingKind::VendorOffboarded => 0,
        FindingKind::ContractEnded => 1,
        FindingKind::OverWide => 2,
        FindingKind::NoOwner => 3,
        FindingKind::NoVendor => 4,
    }
}

/// What a finding kind means, for a reader.
fn finding_label(kind: FindingKind) -> &'static str {
    match kind {
        FindingKind::VendorOffboarded => "Live grant of an offboarded vendor",
        FindingKind::ContractEnded => "Live grant after the contract ended",
        FindingKind::OverWide => "Wider than the vendor's allowed scopes",
        FindingKind::NoOwner => "Vendor without a business owner",
        FindingKind::NoVendor => "App with no vendor in the registry",
    }
}

/// The findings of one kind about one app: what a person acts on (map the app, name
/// an owner, offboard the vendor), where the JSON keeps one finding per grant.
struct FindingGroup<'a> {
    kind: FindingKind,
    provider: &'a str,
    app_id: &'a str,
    /// The app's name, from its first grant shown.
    app_name: &'a str,
    vendor: Option<&'a str>,
    grants: usize,
    tenants: BTreeSet<&'a str>,
    /// One finding's sentence (grants of one app usually share it).
    detail: &'a str,
}

/// Findings grouped by kind and app, most urgent kind first, then most grants.
fn finding_groups<'a>(view: &View<'a>) -> Vec<FindingGroup<'a>> {
    let names: BTreeMap<(&str, &str), &str> = view
        .grants
        .iter()
        .rev()
        .map(|r| {
            let g = r.grant;
            (
                (g.provider.as_str(), g.app.id.as_str()),
                g.app.name.as_str(),
            )
        })
        .collect();
    let mut map: BTreeMap<(u8, &str, &str), FindingGroup<'a>> = BTreeMap::new();
    for f in &view.findings {
        let key = (finding_rank(f.kind), f.provider.as_str(), f.app_id.as_str());
        let group = map.entry(key).or_insert_with(|| FindingGroup {
            kind: f.kind,
            provider: &f.provider,
            app_id: &f.app_id,
            app_name: names
                .get(&(f.provider.as_str(), f.app_id.as_str()))
                .copied()
                .unwrap_or(&f.app_id),
            vendor: f.vendor.as_deref(),
            grants: 0,
            tenants: BTreeSet::new(),
            detail: &f.detail,
        });
        group.grants += 1;
        group.tenants.insert(&f.tenant);
    }
    let mut groups: Vec<FindingGroup<'a>> = map.into_values().collect();
    groups.sort_by(|a, b| {
        finding_rank(a.kind)
            .cmp(&finding_rank(b.kind))
            .then_with(|| b.grants.cmp(&a.grants))
            .then_with(|| (a.provider, a.app_id).cmp(&(b.provider, b.app_id)))
    });
    groups
}

/// Findings counted per kind, most urgent first (kinds with none left out).
fn finding_counts(view: &View<'_>) -> Vec<(FindingKind, usize)> {
    let mut counts: BTreeMap<u8, (FindingKind, usize)> = BTreeMap::new();
    for f in &view.findings {
        counts.entry(finding_rank(f.kind)).or_insert((f.kind, 0)).1 += 1;
    }
    counts.into_values().collect()
}

/// Everything a format needs, computed once.
struct View<'a> {
    /// The grants shown, in report order.
    grants: Vec<Row<'a>>,
    meta: &'a ReportMeta,
    options: &'a ReportOptions,
    /// `meta.generated_at` as RFC 3339.
    generated_at: String,
    /// Shown grants per tier slot.
    slots: SlotCounts,
    /// The governance findings about the shown grants (all of them when no tier
    /// filter applies); empty also when no registry is configured.
    findings: Vec<&'a Finding>,
}

impl<'a> View<'a> {
    fn new(
        grants: &'a [GrantRecord],
        scores: Scores<'a>,
        meta: &'a ReportMeta,
        options: &'a ReportOptions,
    ) -> Self {
        let grants = rows(grants, scores, options.min_tier);
        let slots = count_slots(&grants);
        let shown: std::collections::HashSet<&str> = grants.iter().map(|g| g.id.as_str()).collect();
        let findings = meta
            .governance
            .iter()
            .flatten()
            .filter(|f| shown.contains(f.grant.as_str()))
            .collect();
        View {
            grants,
            meta,
            options,
            generated_at: rfc3339(meta.generated_at),
            slots,
            findings,
        }
    }

    fn title(&self) -> &str {
        self.meta.title.as_deref().unwrap_or("grantscope report")
    }

    /// Tenants whose last scan was partial.
    fn partial(&self) -> Vec<&'a TenantStatus> {
        self.meta.tenants.iter().filter(|t| !t.complete).collect()
    }

    /// "only tier high and above" when a minimum tier filters the grants.
    fn filter_note(&self) -> Option<String> {
        self.options
            .min_tier
            .map(|t| format!("only tier {} and above", tier_name(t)))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::{AppRef, Factor, GrantKind, PrincipalKind, PrincipalRef, Score};

    /// A grant for unit tests; `score` None leaves it unscored.
    pub(crate) fn grant(id: &str, app: &str, score: Option<(u8, Tier)>) -> GrantRecord {
        GrantRecord {
            id: id.to_owned(),
            provider: "github".to_owned(),
            tenant: "acme".to_owned(),
            app: AppRef {
                id: format!("app-{app}"),
                name: app.to_owned(),
                publisher: None,
                attributes: BTreeMap::new(),
            },
            principal: PrincipalRef {
                kind: PrincipalKind::User,
                id: "alice".to_owned(),
                display: None,
            },
            kind: GrantKind::Delegated,
            scopes: vec!["repo".to_owned(), "read:org".to_owned()],
            created_at: Some("2024-01-01T00:00:00Z".to_owned()),
            last_used_at: None,
            expires_at: None,
            vendor: None,
            score: score.map(|(value, tier)| Score {
                value,
                tier,
                factors: vec![Factor {
                    factor: "capability".to_owned(),
                    points: i32::from(value),
                    detail: "Reads code.".to_owned(),
                    controls: vec![],
                }],
            }),
            revocation: None,
            attributes: BTreeMap::new(),
            notes: vec![],
            plugin: None,
        }
    }

    pub(crate) fn now() -> OffsetDateTime {
        time::macros::datetime!(2025-06-01 12:00:00 UTC)
    }

    #[test]
    fn formats_parse_by_their_command_line_names() {
        for f in Format::ALL {
            assert_eq!(f.name().parse::<Format>().ok(), Some(f));
            assert_eq!(f.to_string(), f.name());
        }
        assert_eq!("Markdown".parse::<Format>().ok(), Some(Format::Markdown));
        let err = "pdf".parse::<Format>().err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("unknown report format `pdf`; use json, jsonl, csv, md or html")
        );
    }

    #[test]
    fn tiers_parse_by_name_and_order_by_severity() {
        assert_eq!(parse_tier("High").ok(), Some(Tier::High));
        assert_eq!(parse_tier(" critical ").ok(), Some(Tier::Critical));
        assert!(parse_tier("severe").is_err());
        for t in [Tier::Low, Tier::Medium, Tier::High, Tier::Critical] {
            assert_eq!(parse_tier(tier_name(t)).ok(), Some(t));
        }
    }

    #[test]
    fn min_tier_keeps_grants_at_or_above_and_unscored_only_without_a_minimum() {
        let grants = [
            grant("a", "A", Some((90, Tier::Critical))),
            grant("b", "B", Some((40, Tier::Medium))),
            grant("c", "C", None),
        ];
        let ids = |min| {
            select(&grants, min)
                .iter()
                .map(|g| g.id.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(None), ["a", "b", "c"]);
        assert_eq!(ids(Some(Tier::Medium)), ["a", "b"]);
        assert_eq!(ids(Some(Tier::High)), ["a"]);
        assert_eq!(worst_tier(&grants), Some(Tier::Critical));
        assert_eq!(worst_tier(&grants[1..]), Some(Tier::Medium));
        assert_eq!(worst_tier(&grants[2..]), None);
        assert_eq!(worst_tier(&[]), None);
    }

    #[test]
    fn selection_is_by_score_descending_then_id() {
        let grants = [
            grant("z", "Z", Some((10, Tier::Low))),
            grant("b", "B", None),
            grant("y", "Y", Some((80, Tier::High))),
            grant("a", "A", None),
            grant("x", "X", Some((80, Tier::High))),
        ];
        let order: Vec<&str> = select(&grants, None)
            .iter()
            .map(|g| g.id.as_str())
            .collect();
        assert_eq!(order, ["x", "y", "z", "a", "b"]);
    }

    #[test]
    fn ages_fall_into_buckets_from_generated_at() {
        let mut g = grant("a", "A", None);
        let cases = [
            (None, 0),
            (Some("2024-05-31T12:00:00Z"), 1),
            (Some("2024-06-01T12:00:00Z"), 2), // exactly 365 days
            (Some("2025-01-01T00:00:00Z"), 3),
            (Some("2025-04-01T00:00:00Z"), 4),
            (Some("2025-05-20T00:00:00Z"), 5),
            (Some("2026-01-01T00:00:00Z"), 5), // clock skew
            (Some("last tuesday"), AGE_BUCKETS.len()),
        ];
        for (last, want) in cases {
            g.last_used_at = last.map(str::to_owned);
            assert_eq!(age_bucket(&g, now()), want, "{last:?}");
        }
    }

    #[test]
    fn blast_radius_is_the_sum_of_scores() {
        let mut a = grant("1", "A", Some((30, Tier::Medium)));
        let mut b = grant("2", "A", Some((30, Tier::Medium)));
        let mut c = grant("3", "C", Some((50, Tier::High)));
        a.vendor = Some("v1".into());
        b.vendor = Some("v1".into());
        c.vendor = Some("v2".into());
        let d = grant("4", "D", None);
        let all = [a, b, c, d];
        let groups = vendors(&rows(&all, Scores::Embedded, None));
        let summary: Vec<(&str, u64, Option<Tier>)> =
            groups.iter().map(|g| (g.name, g.sum, g.worst)).collect();
        assert_eq!(
            summary,
            [
                ("v1", 60, Some(Tier::Medium)),
                ("v2", 50, Some(Tier::High)),
                (UNMAPPED_VENDOR, 0, None)
            ]
        );
    }

    /// The flags `grantscope report` declares, exactly as the CLI is meant to.
    #[derive(Debug, clap::Parser)]
    struct ReportArgs {
        #[arg(long, value_enum, default_value_t = Format::Json)]
        format: Format,
        #[arg(long, value_name = "TIER", value_parser = parse_tier)]
        min_tier: Option<Tier>,
        #[arg(long, value_name = "TIER", value_parser = parse_tier)]
        fail_on: Option<Tier>,
    }

    #[test]
    fn the_command_line_flags_parse_with_clap() {
        use clap::Parser as _;
        let args = ReportArgs::try_parse_from([
            "report",
            "--format",
            "md",
            "--min-tier",
            "medium",
            "--fail-on",
            "critical",
        ]);
        let args = args.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(args.format, Format::Markdown);
        assert_eq!(args.min_tier, Some(Tier::Medium));
        assert_eq!(args.fail_on, Some(Tier::Critical));
        let default = ReportArgs::try_parse_from(["report"]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(default.format, Format::Json);
        let bad = ReportArgs::try_parse_from(["report", "--fail-on", "severe"]);
        let message = bad.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            message.contains("use low, medium, high or critical"),
            "{message}"
        );
        let bad = ReportArgs::try_parse_from(["report", "--format", "pdf"]);
        let message = bad.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            message.contains("[possible values: json, jsonl, csv, md, html]"),
            "{message}"
        );
    }

    #[test]
    fn timestamps_are_rfc3339_utc_whole_seconds() {
        let t = time::macros::datetime!(2025-06-01 14:00:00.75 +02:00);
        assert_eq!(rfc3339(t), "2025-06-01T12:00:00Z");
    }

    #[test]
    fn clip_cuts_on_characters() {
        assert_eq!(clip("héllo wörld", 6), "héllo…");
        assert_eq!(clip("short", 6), "short");
    }

    fn finding(kind: FindingKind, g: &GrantRecord, vendor: Option<&str>) -> Finding {
        Finding {
            vendor: vendor.map(str::to_owned),
            ..Finding::new(kind, g, None, format!("about {}", g.id))
        }
    }

    fn rendered(
        format: Format,
        grants: &[GrantRecord],
        meta: &ReportMeta,
        min: Option<Tier>,
    ) -> String {
        let mut out = Vec::new();
        let options = ReportOptions {
            min_tier: min,
            ..ReportOptions::default()
        };
        let r = render(format, grants, meta, &options, &mut out);
        assert!(r.is_ok(), "{r:?}");
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn governance_findings_are_grouped_per_app_and_follow_the_tier_filter() {
        let grants = [
            grant("g1", "<Evil & Co>", Some((80, Tier::Critical))),
            grant("g2", "<Evil & Co>", Some((70, Tier::High))),
            grant("g3", "Quiet", Some((10, Tier::Low))),
        ];
        let mut meta = ReportMeta::new(now());
        meta.governance = Some(vec![
            finding(FindingKind::NoOwner, &grants[0], Some("evil")),
            finding(FindingKind::NoOwner, &grants[1], Some("evil")),
            finding(FindingKind::VendorOffboarded, &grants[1], Some("evil")),
            finding(FindingKind::NoVendor, &grants[2], None),
        ]);

        // JSON keeps one finding per grant; a tier filter keeps those of shown grants.
        let doc: serde_json::Value =
            serde_json::from_str(&rendered(Format::Json, &grants, &meta, None)).unwrap_or_default();
        assert_eq!(doc["findings"].as_array().map(Vec::len), Some(4));
        assert_eq!(doc["findings"][2]["kind"], "vendor-offboarded");
        let doc: serde_json::Value =
            serde_json::from_str(&rendered(Format::Json, &grants, &meta, Some(Tier::High)))
                .unwrap_or_default();
        assert_eq!(doc["findings"].as_array().map(Vec::len), Some(3));

        // HTML: one row per kind and app, the most urgent first, data escaped.
        let html = rendered(Format::Html, &grants, &meta, None);
        let rows: Vec<&str> = html
            .lines()
            .filter(|l| l.starts_with("<tr data-kind="))
            .collect();
        assert_eq!(rows.len(), 3, "{rows:#?}");
        assert!(
            rows[0].starts_with(r#"<tr data-kind="vendor-offboarded">"#),
            "{}",
            rows[0]
        );
        assert!(
            rows[1].contains(r#"<td class="num">2</td>"#),
            "two grants of one app: {}",
            rows[1]
        );
        assert!(
            rows[2].starts_with(r#"<tr data-kind="no-vendor">"#),
            "{}",
            rows[2]
        );
        assert!(html.contains("&lt;Evil &amp; Co&gt;") && !html.contains("<Evil"));

        // Markdown: counts per kind, then the groups.
        let md = rendered(Format::Markdown, &grants, &meta, None);
        assert!(md.contains("## Governance findings"), "{md}");
        assert!(
            md.contains("| Vendor without a business owner | 2 |"),
            "{md}"
        );
        assert!(
            md.contains("| Live grant of an offboarded vendor | evil | \\<Evil \\& Co\\> |"),
            "{md}"
        );
    }

    #[test]
    fn no_registry_says_nothing_and_an_empty_one_says_none() {
        let grants = [grant("g1", "A", Some((50, Tier::Medium)))];
        let mut meta = ReportMeta::new(now());
        let doc: serde_json::Value =
            serde_json::from_str(&rendered(Format::Json, &grants, &meta, None)).unwrap_or_default();
        assert!(doc.get("findings").is_none(), "{doc}");
        let html = rendered(Format::Html, &grants, &meta, None);
        assert!(!html.contains(r#"id="governance""#));
        assert!(!rendered(Format::Markdown, &grants, &meta, None).contains("Governance"));
        meta.governance = Some(Vec::new());
        let doc: serde_json::Value =
            serde_json::from_str(&rendered(Format::Json, &grants, &meta, None)).unwrap_or_default();
        assert_eq!(doc["findings"], serde_json::json!([]));
        for format in [Format::Html, Format::Markdown] {
            let text = rendered(format, &grants, &meta, None);
            assert!(
                text.contains("None: every app shown has a vendor"),
                "{text}"
            );
        }
    }
}
