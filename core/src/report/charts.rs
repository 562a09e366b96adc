//! The HTML report's charts, drawn here as inline SVG: no chart library, no script,
//! nothing to fetch, and they print.
//!
//! Each chart is an `<svg data-chart="…">` whose bars are `<rect>`s with a
//! `<title>` (the browser's tooltip). Every label is grant data and is escaped.

use std::fmt::Write as _;

use super::Row;
use super::html::esc;
use super::{
    AGE_BUCKETS, AGE_UNREADABLE, Group, SLOTS, SlotCounts, age_bucket, apps, clip, plural,
    tier_name, vendors,
};
use crate::model::Tier;
use time::OffsetDateTime;

/// Width of every chart's coordinate system; the page scales it to its column.
const W: f64 = 380.0;
/// Rows in a bar list before the rest are folded into one.
const MAX_VENDOR_ROWS: usize = 12;
/// Vendors and apps in the blast-radius chart.
const MAX_RADIUS_ROWS: usize = 8;

/// Fill colour per tier slot (critical, high, medium, low, unscored); the same as
/// the page's CSS variables, repeated because SVG attributes cannot read them
/// in every viewer.
pub(super) const COLOURS: [&str; 5] = ["#b42318", "#e8590c", "#f0b429", "#5f8f3e", "#9aa5b1"];

fn colour(tier: Option<Tier>) -> &'static str {
    match tier {
        Some(Tier::Critical) => COLOURS[0],
        Some(Tier::High) => COLOURS[1],
        Some(Tier::Medium) => COLOURS[2],
        Some(Tier::Low) => COLOURS[3],
        None => COLOURS[4],
    }
}

fn open(out: &mut String, chart: &str, height: f64, label: &str) {
    let _ = write!(
        out,
        r#"<svg data-chart="{chart}" viewBox="0 0 {W} {height:.0}" width="{W}" height="{height:.0}" role="img" aria-label="{}">"#,
        esc(label)
    );
}

fn empty(out: &mut String, chart: &str, message: &str) {
    open(out, chart, 40.0, message);
    let _ = write!(
        out,
        r#"<text class="empty" x="{}" y="24" text-anchor="middle">{}</text></svg>"#,
        W / 2.0,
        esc(message)
    );
}

fn rect(out: &mut String, x: f64, y: f64, w: f64, h: f64, fill: &str, title: &str) {
    let _ = write!(
        out,
        r#"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="{fill}"><title>{}</title></rect>"#,
        esc(title)
    );
}

/// A label right-aligned at `x`, clipped to what fits left of it (about 6.6
/// units per character at 11 px, wide glyphs included), the full text in its
/// tooltip.
fn label(out: &mut String, x: f64, y: f64, text: &str) {
    // Truncation towards zero is the point: whole characters that fit.
    let max = (x / 6.6) as usize;
    let _ = write!(
        out,
        r#"<text x="{x:.1}" y="{y:.1}" text-anchor="end"><title>{}</title>{}</text>"#,
        esc(text),
        esc(&clip(text, max))
    );
}

fn text(out: &mut String, x: f64, y: f64, anchor: &str, class: &str, content: &str) {
    let class = if class.is_empty() {
        String::new()
    } else {
        format!(r#" class="{class}""#)
    };
    let _ = write!(
        out,
        r#"<text x="{x:.1}" y="{y:.1}" text-anchor="{anchor}"{class}>{}</text>"#,
        esc(content)
    );
}

/// Grants by tier per vendor: one stacked horizontal bar per vendor, the vendors
/// with the most severe grants first.
pub(super) fn tier_by_vendor(out: &mut String, grants: &[Row<'_>]) {
    const CHART: &str = "tier-by-vendor";
    let mut groups = vendors(grants);
    if groups.is_empty() {
        return empty(out, CHART, "No grants.");
    }
    // Most critical grants first, then most high, and so on: the order a reviewer
    // works in.
    groups.sort_by(|a, b| {
        b.slots
            .cmp(&a.slots)
            .then_with(|| b.grants.len().cmp(&a.grants.len()))
            .then_with(|| a.name.cmp(b.name))
    });
    let mut rows: Vec<(String, SlotCounts)> = groups
        .iter()
        .take(MAX_VENDOR_ROWS)
        .map(|g| (g.name.to_owned(), g.slots))
        .collect();
    if groups.len() > MAX_VENDOR_ROWS {
        let mut rest = [0; 5];
        for g in &groups[MAX_VENDOR_ROWS..] {
            for (r, n) in rest.iter_mut().zip(g.slots) {
                *r += n;
            }
        }
        rows.push((
            plural(
                groups.len() - MAX_VENDOR_ROWS,
                "other vendor",
                "other vendors",
            ),
            rest,
        ));
    }
    const ROW: f64 = 22.0;
    const BAR: f64 = 14.0;
    const X0: f64 = 118.0;
    let bar_max = W - X0 - 34.0;
    let most = rows
        .iter()
        .map(|(_, c)| c.iter().sum::<usize>())
        .max()
        .unwrap_or(1)
        .max(1);
    let height = rows.len() as f64 * ROW + 6.0;
    open(out, CHART, height, "Grants by tier per vendor");
    for (i, (name, counts)) in rows.iter().enumerate() {
        let y = 4.0 + i as f64 * ROW;
        label(out, X0 - 6.0, y + BAR - 3.0, name);
        let mut x = X0;
        for (s, n) in counts.iter().enumerate() {
            if *n == 0 {
                continue;
            }
            let w = *n as f64 / most as f64 * bar_max;
            rect(
                out,
                x,
                y,
                w,
                BAR,
                COLOURS[s],
                &format!("{name}: {n} {}", SLOTS[s]),
            );
            x += w;
        }
        let total: usize = counts.iter().sum();
        text(out, x + 4.0, y + BAR - 3.0, "start", "", &total.to_string());
    }
    out.push_str("</svg>");
}

/// Top vendors and apps by blast radius (the sum of their grants' scores), each
/// bar coloured by the group's worst tier.
pub(super) fn top_blast_radius(out: &mut String, grants: &[Row<'_>]) {
    const CHART: &str = "top-blast-radius";
    let scored = |groups: Vec<Group<'_>>| -> Vec<(String, String, u64, Option<Tier>)> {
        groups
            .into_iter()
            .filter(|g| g.sum > 0)
            .take(MAX_RADIUS_ROWS)
            .map(|g| {
                let full = match g.detail {
                    Some((provider, id)) => format!("{} ({provider} app {id})", g.name),
                    None => g.name.to_owned(),
                };
                let tip = format!(
                    "{full}: Σ {} over {}, worst {}",
                    g.sum,
                    plural(g.grants.len(), "grant", "grants"),
                    g.worst.map_or("unscored", tier_name)
                );
                (g.name.to_owned(), tip, g.sum, g.worst)
            })
            .collect()
    };
    let sections = [
        ("Vendors", scored(vendors(grants))),
        ("Apps", scored(apps(grants))),
    ];
    if sections.iter().all(|(_, rows)| rows.is_empty()) {
        return empty(out, CHART, "No scored grants.");
    }
    const HEAD: f64 = 20.0;
    const ROW: f64 = 20.0;
    const BAR: f64 = 13.0;
    const X0: f64 = 130.0;
    let bar_max = W - X0 - 44.0;
    let height: f64 = sections
        .iter()
        .filter(|(_, rows)| !rows.is_empty())
        .map(|(_, rows)| HEAD + rows.len() as f64 * ROW + 6.0)
        .sum();
    open(
        out,
        CHART,
        height,
        "Top vendors and apps by blast radius (sum of scores)",
    );
    let mut y = 0.0;
    for (title, rows) in &sections {
        if rows.is_empty() {
            continue;
        }
        text(out, 0.0, y + 14.0, "start", "head", title);
        y += HEAD;
        // Each section has its own scale: a vendor's sum includes its apps', and
        // a shared scale would flatten the apps.
        let most = rows.iter().map(|r| r.2).max().unwrap_or(1).max(1);
        for (name, tip, sum, worst) in rows {
            label(out, X0 - 6.0, y + BAR - 3.0, name);
            let w = (*sum as f64 / most as f64 * bar_max).max(1.0);
            rect(out, X0, y, w, BAR, colour(*worst), tip);
            text(
                out,
                X0 + w + 4.0,
                y + BAR - 3.0,
                "start",
                "",
                &format!("Σ {sum}"),
            );
            y += ROW;
        }
        y += 6.0;
    }
    out.push_str("</svg>");
}

/// Axis labels for [`AGE_BUCKETS`] (and the unreadable bucket): the axis title
/// says "days since last use", and the long names would collide.
const AGE_LABELS: [&str; 7] = [
    "never",
    "> 365",
    "181–365",
    "91–180",
    "31–90",
    "≤ 30",
    "unreadable",
];

/// Grants by days since last use, stalest first, stacked by tier.
pub(super) fn stale_by_age(out: &mut String, grants: &[Row<'_>], now: OffsetDateTime) {
    const CHART: &str = "stale-by-age";
    if grants.is_empty() {
        return empty(out, CHART, "No grants.");
    }
    let mut buckets = [[0usize; 5]; AGE_BUCKETS.len() + 1];
    for g in grants {
        buckets[age_bucket(g, now)][super::slot(g)] += 1;
    }
    let mut names: Vec<&str> = AGE_BUCKETS.to_vec();
    if buckets[AGE_BUCKETS.len()].iter().sum::<usize>() > 0 {
        names.push(AGE_UNREADABLE);
    }
    const H: f64 = 220.0;
    const LEFT: f64 = 30.0;
    const TOP: f64 = 16.0;
    const BOTTOM: f64 = H - 38.0;
    let plot_h = BOTTOM - TOP;
    let most = buckets
        .iter()
        .map(|b| b.iter().sum::<usize>())
        .max()
        .unwrap_or(1)
        .max(1);
    let step = nice_step(most);
    let top_value = most.div_ceil(step) * step;
    open(out, CHART, H, "Grants by days since last use");
    let mut tick = 0;
    while tick <= top_value {
        let y = BOTTOM - tick as f64 / top_value as f64 * plot_h;
        let _ = write!(
            out,
            r#"<line class="grid" x1="{LEFT}" x2="{W}" y1="{y:.1}" y2="{y:.1}"/>"#
        );
        text(out, LEFT - 5.0, y + 4.0, "end", "", &tick.to_string());
        tick += step;
    }
    let slot_w = (W - LEFT) / names.len() as f64;
    let bar_w = slot_w * 0.62;
    for (i, name) in names.iter().enumerate() {
        let counts = buckets[i];
        let x = LEFT + i as f64 * slot_w + (slot_w - bar_w) / 2.0;
        let mut y = BOTTOM;
        for (s, n) in counts.iter().enumerate() {
            if *n == 0 {
                continue;
            }
            let h = *n as f64 / top_value as f64 * plot_h;
            y -= h;
            rect(
                out,
                x,
                y,
                bar_w,
                h,
                COLOURS[s],
                &format!("{name}: {n} {}", SLOTS[s]),
            );
        }
        let total: usize = counts.iter().sum();
        let centre = x + bar_w / 2.0;
        text(out, centre, y - 4.0, "middle", "", &total.to_string());
        text(out, centre, BOTTOM + 15.0, "middle", "", AGE_LABELS[i]);
    }
    text(
        out,
        LEFT + (W - LEFT) / 2.0,
        H - 4.0,
        "middle",
        "axis",
        "days since last use",
    );
    out.push_str("</svg>");
}

/// A round gridline step giving about four lines up to `max`.
fn nice_step(max: usize) -> usize {
    let rough = (max as f64 / 4.0).max(1.0);
    let magnitude = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= rough)
        .unwrap_or(10.0 * magnitude);
    // Bounded by `max` (a usize) and at least 1, so the cast is exact.
    (step as usize).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gridline_steps_are_round() {
        let steps: Vec<usize> = [1, 3, 4, 9, 20, 37, 120, 999, 5000]
            .into_iter()
            .map(nice_step)
            .collect();
        assert_eq!(steps, [1, 1, 1, 5, 5, 10, 50, 500, 2000]);
    }
}
