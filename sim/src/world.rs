//! The provider-neutral synthetic world: a fixed clock, people and vendors.
//!
//! Every provider simulator builds its tenants from this one world, so a vendor such as
//! "Driftwood Chat" is the same entity whether it shows up as a GitHub App today or as a
//! Google OAuth client later. Everything here is a pure function of the seed and the user
//! count: the ground truth must be reproducible byte for byte.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::github;

/// 2025-06-01T00:00:00Z. The world's "now" is this plus a seed-derived offset, never the
/// wall clock, so that the truth written today equals the truth written next year.
const BASE_EPOCH: i64 = 1_748_736_000;

/// Seconds in a day, for readable date arithmetic.
pub(crate) const DAY: i64 = 86_400;

/// How far back synthetic history reaches: about three years.
pub(crate) const HISTORY: i64 = 3 * 365 * DAY;

/// First names for synthetic logins; the numeric suffix makes every login unique.
const FIRST_NAMES: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "kim",
    "liam", "mallory", "nina", "oscar", "peggy", "quinn", "rupert", "sybil", "trent", "uma",
    "victor", "wendy", "xavier", "yara", "zane",
];

/// The synthetic vendors: (display name, domain). The first entry is the auditor itself.
/// Fictional names; the domains are not meant to resolve.
const VENDORS: &[(&str, &str)] = &[
    (AUDITOR_VENDOR, "grantscope.dev"),
    ("Driftwood Chat", "driftwoodchat.io"),
    ("Quillstack Docs", "quillstack.io"),
    ("Beaconly CI", "beaconly.dev"),
    ("Nimbusforge Deploy", "nimbusforge.io"),
    ("Latticeworks Metrics", "latticeworks.io"),
    ("Orchardline CRM", "orchardline.com"),
    ("Sentryfold Security", "sentryfold.com"),
    ("Tidewater Analytics", "tidewater-analytics.io"),
    ("Corvidae Review", "corvidae.dev"),
    ("Keystone Vaultworks", "keystonevault.io"),
    ("Mosaicly Planning", "mosaicly.app"),
];

/// The vendor name of the auditor (grantscope's own app is a grant too).
pub(crate) const AUDITOR_VENDOR: &str = "grantscope";

/// A point in time plus the textual style a provider happens to serve it in.
///
/// GitHub mixes `Z`, numeric offsets and milliseconds within one payload; connectors must
/// normalise all of them, so the simulator deliberately serves every style.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Stamp {
    /// Seconds since the Unix epoch, UTC, whole seconds.
    pub unix: i64,
    /// How the provider writes it.
    pub style: StampStyle,
}

/// The textual forms a timestamp can take on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum StampStyle {
    /// `2018-02-09T20:51:14Z`
    Zulu,
    /// `2017-05-16T08:47:09.000-07:00`
    MillisMinus7,
    /// `2017-07-08T16:18:44-04:00`
    Minus4,
}

impl Stamp {
    /// A UTC `Z` timestamp, the canonical form.
    pub(crate) fn utc(unix: i64) -> Self {
        Self {
            unix,
            style: StampStyle::Zulu,
        }
    }

    /// A random instant in `[from, to]` in a random wire style.
    pub(crate) fn between(rng: &mut StdRng, from: i64, to: i64) -> Self {
        let unix = if to > from {
            rng.random_range(from..=to)
        } else {
            from
        };
        Self::styled(rng, unix)
    }

    /// `unix` in a random wire style.
    pub(crate) fn styled(rng: &mut StdRng, unix: i64) -> Self {
        let style = match rng.random_range(0..20) {
            0..=11 => StampStyle::Zulu,
            12..=16 => StampStyle::MillisMinus7,
            _ => StampStyle::Minus4,
        };
        Self { unix, style }
    }

    /// The form the provider serves.
    pub(crate) fn wire(self) -> String {
        match self.style {
            StampStyle::Zulu => format_at(self.unix, 0, false),
            StampStyle::MillisMinus7 => format_at(self.unix, -7, true),
            StampStyle::Minus4 => format_at(self.unix, -4, false),
        }
    }

    /// RFC 3339 UTC with whole seconds: the form the ground truth uses.
    pub(crate) fn rfc3339(self) -> String {
        format_at(self.unix, 0, false)
    }
}

/// Formats `unix` at a whole-hour UTC offset. Hand-rolled rather than through `time`'s
/// fallible formatter: the inputs are generated, so there is no error to report, and this
/// keeps `unwrap` out of the response path.
fn format_at(unix: i64, offset_hours: i64, millis: bool) -> String {
    let local = unix + offset_hours * 3600;
    let days = local.div_euclid(DAY);
    let secs = local.rem_euclid(DAY);
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let frac = if millis { ".000" } else { "" };
    let zone = if offset_hours == 0 {
        "Z".to_owned()
    } else {
        let sign = if offset_hours < 0 { '-' } else { '+' };
        format!("{sign}{:02}:00", offset_hours.abs())
    };
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}{frac}{zone}")
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day) (Howard Hinnant's
/// algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A synthetic vendor: one company, with an app identity per provider.
#[derive(Clone, Debug)]
pub(crate) struct Vendor {
    /// Display name, used as the truth's `vendor`.
    pub name: &'static str,
    /// The vendor's web domain (providers show it as the app's homepage; the written
    /// vendor registry lists it).
    pub domain: &'static str,
    /// The vendor's GitHub identities.
    pub github: github::VendorApps,
}

/// The whole synthetic world.
#[derive(Clone, Debug)]
pub(crate) struct World {
    /// The seed everything derives from.
    pub seed: u64,
    /// Number of people in the main tenant.
    pub users: u32,
    /// The world's "now", Unix seconds.
    pub epoch: i64,
    /// All vendors; index 0 is the auditor.
    pub vendors: Vec<Vendor>,
}

impl World {
    /// Builds the world. Pure: the same inputs always give the same world.
    pub(crate) fn new(seed: u64, users: u32) -> Self {
        let mut rng = rng_for(seed, "vendors");
        let epoch = BASE_EPOCH
            + i64::try_from(seed % 366).unwrap_or(0) * DAY
            + i64::try_from(seed / 366 % 86_400).unwrap_or(0);
        let mut ids = github::IdPool::default();
        let mut vendors: Vec<Vendor> = VENDORS
            .iter()
            .enumerate()
            .map(|(i, &(name, domain))| Vendor {
                name,
                domain,
                github: if i == 0 {
                    github::VendorApps::auditor(&mut rng)
                } else {
                    github::VendorApps::generate(&mut rng, &mut ids, name)
                },
            })
            .collect();
        github::VendorApps::ensure_variety(&mut vendors, &mut rng, &mut ids);
        Self {
            seed,
            users,
            epoch,
            vendors,
        }
    }

    /// The person behind a login, if it is one of [`World::login`]'s (lets filters
    /// compare indices instead of formatting every login).
    pub(crate) fn index_of(login: &str) -> Option<u32> {
        let (_, number) = login.rsplit_once('-')?;
        let index = number.parse::<u32>().ok()?.checked_sub(1)?;
        (Self::login(index).eq_ignore_ascii_case(login)).then_some(index)
    }

    /// A person's login: unique per index, stable across providers.
    pub(crate) fn login(index: u32) -> String {
        let name = FIRST_NAMES[index as usize % FIRST_NAMES.len()];
        format!("{name}-{:04}", u64::from(index) + 1)
    }
}

/// An independent RNG stream per purpose, so adding a provider or a tenant never shifts the
/// random numbers (and thus the truth) of another.
pub(crate) fn rng_for(seed: u64, purpose: &str) -> StdRng {
    // FNV-1a over the purpose; stable across platforms and Rust versions, unlike
    // `DefaultHasher`.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in purpose.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    StdRng::seed_from_u64(seed ^ h)
}

/// `n` random ASCII alphanumerics (token suffixes, client ids).
pub(crate) fn alphanumeric(rng: &mut impl Rng, n: usize) -> String {
    rng.sample_iter(rand::distr::Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_render_in_every_style() {
        // 2017-05-16T15:47:09Z
        let unix = 1_494_949_629;
        assert_eq!(Stamp::utc(unix).wire(), "2017-05-16T15:47:09Z");
        let ms = Stamp {
            unix,
            style: StampStyle::MillisMinus7,
        };
        assert_eq!(ms.wire(), "2017-05-16T08:47:09.000-07:00");
        assert_eq!(ms.rfc3339(), "2017-05-16T15:47:09Z");
        let m4 = Stamp {
            unix,
            style: StampStyle::Minus4,
        };
        assert_eq!(m4.wire(), "2017-05-16T11:47:09-04:00");
        // Offsets that cross midnight and a leap day.
        assert_eq!(
            format_at(1_709_169_000, -7, false),
            "2024-02-28T18:10:00-07:00"
        );
        assert_eq!(format_at(0, 0, false), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn logins_are_unique_and_stable() {
        assert_eq!(World::login(0), "alice-0001");
        assert_eq!(World::login(26), "alice-0027");
        assert_eq!(World::login(999_999), "nina-1000000");
        let set: std::collections::HashSet<_> = (0..5000).map(World::login).collect();
        assert_eq!(set.len(), 5000);
        assert_eq!(World::index_of("Alice-0027"), Some(26));
        assert_eq!(World::index_of("nina-1000000"), Some(999_999));
        for bad in [
            "bob-0001",
            "alice-0000",
            "alice",
            "alice-x",
            "alice-00001",
            "",
        ] {
            assert_eq!(World::index_of(bad), None, "{bad}");
        }
    }

    #[test]
    fn world_is_deterministic() {
        let a = World::new(7, 10);
        let b = World::new(7, 10);
        assert_eq!(a.epoch, b.epoch);
        assert_eq!(format!("{:?}", a.vendors), format!("{:?}", b.vendors));
        assert_ne!(
            format!("{:?}", a.vendors),
            format!("{:?}", World::new(8, 10).vendors)
        );
    }
}
