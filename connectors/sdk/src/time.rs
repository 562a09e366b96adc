//! Timestamp normalisation.
//!
//! Providers write timestamps in many RFC 3339 flavours (`Z`, `-04:00`, with or
//! without milliseconds). Grant records carry one form: RFC 3339 in UTC, whole
//! seconds, e.g. `2017-05-16T15:47:09Z`.

use ::time::format_description::well_known::Rfc3339;
use ::time::{OffsetDateTime, UtcOffset};

/// Normalises an RFC 3339 timestamp to UTC with whole seconds; `None` if it does
/// not parse, so a bad date never fails a whole page.
pub fn rfc3339_utc(s: &str) -> Option<String> {
    let t = OffsetDateTime::parse(s.trim(), &Rfc3339).ok()?;
    from_datetime(t)
}

/// Formats epoch seconds as RFC 3339 UTC.
pub fn from_epoch_seconds(secs: i64) -> Option<String> {
    from_datetime(OffsetDateTime::from_unix_timestamp(secs).ok()?)
}

fn from_datetime(t: OffsetDateTime) -> Option<String> {
    let t = t.to_offset(UtcOffset::UTC).replace_nanosecond(0).ok()?;
    t.format(&Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_offsets_and_fractions() {
        assert_eq!(
            rfc3339_utc("2017-05-16T08:47:09.000-07:00").as_deref(),
            Some("2017-05-16T15:47:09Z")
        );
        assert_eq!(
            rfc3339_utc("2017-07-08T16:18:44-04:00").as_deref(),
            Some("2017-07-08T20:18:44Z")
        );
        assert_eq!(
            rfc3339_utc("2018-02-09T20:51:14Z").as_deref(),
            Some("2018-02-09T20:51:14Z")
        );
        assert_eq!(rfc3339_utc("yesterday"), None);
        assert_eq!(
            from_epoch_seconds(1_717_430_400).as_deref(),
            Some("2024-06-03T16:00:00Z")
        );
    }
}
