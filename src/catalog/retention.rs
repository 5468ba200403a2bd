//! The retention engine: which backups of one series (one store, one database, one kind) stay and which go, and
//! why. Shared by `cleanup --backups` and `backup --prune`; pure: it reads no store, deletes nothing, prints
//! nothing and takes `now` as an argument, so that every decision can be tested without a clock.
//!
//! The keep rules are restic's `forget` policy (`internal/data/snapshot_policy.go`, docs "Removing snapshots
//! according to a policy"): `keep_last`, `keep_hourly`, `keep_daily`, `keep_weekly`, `keep_monthly`, `keep_yearly`
//! keep the newest backup of each of the newest N hours/days/ISO weeks/months/years that hold one (buckets in the
//! configured time zone); when a rule still has counts left after the oldest backup, that oldest backup is kept
//! too ("oldest daily"); `keep_within` keeps every backup within a calendar duration (`1y2m3d4h`) of the newest
//! backup, not of now (a schedule that stopped never ages its last backups out). A backup is kept when any rule
//! keeps it. Backups dated in the future are kept and ignored when finding the newest, as restic does.
//!
//! Above restic, campctl adds three guards:
//! - only backups with a manifest count toward the rules; with `require_verified`, only those whose last
//!   test-restore passed. A legacy runbook archive (no manifest, dated by its name) is kept by `keep_within` alone
//!   (the runbook's own `find -mtime` rule) and takes no slot of a counting rule;
//! - the floor: the newest `min_keep` backups of the series (manifest or legacy; never `incomplete`) always stay;
//! - the newest backup whose test-restore passed always stays, whatever the policy.
//!
//! Order is the recorded time (the manifest's `started_at`, a legacy archive's name), ties broken by name only so
//! that the result never depends on the input's order.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike as _, Days, FixedOffset, Months, NaiveDateTime, Offset as _, TimeZone as _, Utc};
use serde::Serialize;

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;

/// The time zone that day, week, month and year buckets are cut in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Zone {
    /// This host's zone (the default, as restic).
    #[default]
    Local,
    /// A fixed offset from UTC (`UTC`, `+01:00`).
    Fixed(FixedOffset),
}

impl Zone {
    /// The wall-clock time of `time` in this zone.
    fn wall(self, time: DateTime<Utc>) -> NaiveDateTime {
        match self {
            Self::Local => time.with_timezone(&chrono::Local).naive_local(),
            Self::Fixed(offset) => time.with_timezone(&offset).naive_local(),
        }
    }

    /// The instant of a wall-clock time in this zone (the earlier one when a DST change makes it ambiguous, the
    /// same wall time read as UTC when it does not exist).
    fn instant(self, wall: NaiveDateTime) -> DateTime<Utc> {
        match self {
            Self::Local => chrono::Local
                .from_local_datetime(&wall)
                .earliest()
                .map_or_else(|| wall.and_utc(), |t| t.with_timezone(&Utc)),
            Self::Fixed(offset) => offset
                .from_local_datetime(&wall)
                .earliest()
                .map_or_else(|| wall.and_utc(), |t| t.with_timezone(&Utc)),
        }
    }
}

impl FromStr for Zone {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("local") {
            return Ok(Self::Local);
        }
        if text.eq_ignore_ascii_case("utc") || text == "Z" {
            return Ok(Self::Fixed(Utc.fix()));
        }
        let bad = || format!("`{text}` is not a time zone: use `local`, `UTC` or an offset such as `+01:00`");
        let (sign, rest) = match text.as_bytes().first() {
            Some(b'+') => (1, &text[1..]),
            Some(b'-') => (-1, &text[1..]),
            _ => return Err(bad()),
        };
        let (hours, minutes) = rest.split_once(':').unwrap_or((rest, "0"));
        let hours: i32 = hours.parse().map_err(|_| bad())?;
        let minutes: i32 = minutes.parse().map_err(|_| bad())?;
        if hours > 23 || minutes > 59 {
            return Err(bad());
        }
        FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
            .map(Self::Fixed)
            .ok_or_else(bad)
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local => f.write_str("local"),
            Self::Fixed(offset) if offset.local_minus_utc() == 0 => f.write_str("UTC"),
            Self::Fixed(offset) => write!(f, "{offset}"),
        }
    }
}

/// A calendar duration as restic writes it: years, months, days and hours (`1y6m`, `30d`, `12h`; `m` is months).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Within {
    pub years: u32,
    pub months: u32,
    pub days: u32,
    pub hours: u32,
}

impl Within {
    fn is_zero(self) -> bool {
        self == Self::default()
    }

    /// `latest` minus this duration, on the calendar of `zone` (as Go's `AddDate` in the time's location).
    fn before(self, latest: DateTime<Utc>, zone: Zone) -> DateTime<Utc> {
        // Go normalises an overflowing day into the next month (March 31 minus one month is March 3), so the
        // months are taken from the first of the month and the day added back.
        let wall = zone.wall(latest);
        let first = wall.date().with_day(1).unwrap_or(wall.date());
        let date = first
            .checked_sub_months(Months::new(self.years.saturating_mul(12).saturating_add(self.months)))
            .and_then(|d| d.checked_add_days(Days::new(u64::from(wall.day() - 1))))
            .and_then(|d| d.checked_sub_days(Days::new(u64::from(self.days))))
            .map_or(NaiveDateTime::MIN, |d| d.and_time(wall.time()));
        zone.instant(date) - chrono::Duration::hours(i64::from(self.hours))
    }
}

impl FromStr for Within {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!(
                "`{text}` is not a retention duration: write years, months, days and hours as `1y6m`, `30d` or `12h` (`m` is months)"
            )
        };
        let mut within = Self::default();
        let mut digits = String::new();
        let mut seen = BTreeSet::new();
        for c in text.trim().chars() {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            let value: u32 = digits.parse().map_err(|_| bad())?;
            digits.clear();
            if !seen.insert(c) {
                return Err(bad());
            }
            match c {
                'y' => within.years = value,
                'm' => within.months = value,
                'd' => within.days = value,
                'h' => within.hours = value,
                _ => return Err(bad()),
            }
        }
        // A bare `0` switches the rule off.
        let bare_zero = seen.is_empty() && digits.bytes().all(|b| b == b'0');
        if !(digits.is_empty() || bare_zero) {
            return Err(bad());
        }
        if text.trim().is_empty() {
            return Err(bad());
        }
        Ok(within)
    }
}

impl fmt::Display for Within {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("0");
        }
        for (value, unit) in [
            (self.years, 'y'),
            (self.months, 'm'),
            (self.days, 'd'),
            (self.hours, 'h'),
        ] {
            if value > 0 {
                write!(f, "{value}{unit}")?;
            }
        }
        Ok(())
    }
}

/// The resolved policy of one series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Policy {
    pub keep_last: u32,
    pub keep_hourly: u32,
    pub keep_daily: u32,
    pub keep_weekly: u32,
    pub keep_monthly: u32,
    pub keep_yearly: u32,
    pub keep_within: Within,
    /// The newest this many backups (manifest or legacy) always stay; at least 1.
    pub min_keep: u32,
    /// Only backups whose last test-restore passed count toward the keep rules.
    pub require_verified: bool,
    pub zone: Zone,
}

/// The runbook's retention: everything of the last 30 days, and never fewer than 7 backups.
pub(crate) const DEFAULT_KEEP_WITHIN: Within = Within {
    years: 0,
    months: 0,
    days: 30,
    hours: 0,
};
/// The default floor.
pub(crate) const DEFAULT_MIN_KEEP: u32 = 7;

impl Default for Policy {
    fn default() -> Self {
        Self {
            keep_last: 0,
            keep_hourly: 0,
            keep_daily: 0,
            keep_weekly: 0,
            keep_monthly: 0,
            keep_yearly: 0,
            keep_within: DEFAULT_KEEP_WITHIN,
            min_keep: DEFAULT_MIN_KEEP,
            require_verified: false,
            zone: Zone::Local,
        }
    }
}

/// One backup of a series, as the engine sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Candidate {
    pub name: String,
    /// The recorded time: the manifest's `started_at`, or a legacy archive's name.
    pub time: DateTime<Utc>,
    /// A runbook archive without a manifest.
    pub legacy: bool,
    /// The last test-restore's result (`None`: never tested).
    pub verified: Option<bool>,
}

/// Why a backup stays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Reason {
    Last(u32),
    Hourly(String),
    Daily(String),
    Weekly(String),
    Monthly(String),
    Yearly(String),
    /// The oldest backup, kept because a counting rule had counts left (restic's "oldest").
    Oldest(&'static str),
    Within(String),
    MinKeep,
    NewestVerified,
    Future,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Last(n) => write!(f, "last {n}"),
            Self::Hourly(b) => write!(f, "hourly {b}"),
            Self::Daily(b) => write!(f, "daily {b}"),
            Self::Weekly(b) => write!(f, "weekly {b}"),
            Self::Monthly(b) => write!(f, "monthly {b}"),
            Self::Yearly(b) => write!(f, "yearly {b}"),
            Self::Oldest(rule) => write!(f, "oldest {rule}"),
            Self::Within(d) => write!(f, "within {d} of the newest"),
            Self::MinKeep => f.write_str("min_keep"),
            Self::NewestVerified => f.write_str("newest verified"),
            Self::Future => f.write_str("dated in the future"),
        }
    }
}

/// The decision on one backup: kept for these reasons, or deleted (no reason) with why nothing kept it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decision {
    pub candidate: Candidate,
    pub keep: Vec<Reason>,
    /// Why no rule keeps it (empty when kept).
    pub delete_reason: String,
}

impl Decision {
    pub(crate) fn kept(&self) -> bool {
        !self.keep.is_empty()
    }

    /// `kept: daily 2026-12-01, min_keep` or `delete: older than 30d of the newest and no rule keeps it`.
    pub(crate) fn reason(&self) -> String {
        if self.kept() {
            let reasons: Vec<String> = self.keep.iter().map(ToString::to_string).collect();
            format!("kept: {}", reasons.join(", "))
        } else {
            format!("delete: {}", self.delete_reason)
        }
    }
}

/// A counting rule: how many buckets it keeps and how a time maps to its bucket.
struct Bucketer {
    count: u32,
    left: u32,
    last: Option<String>,
    kind: fn(NaiveDateTime, usize) -> Reason,
    name: &'static str,
}

fn label(keep: &Reason) -> String {
    match keep {
        Reason::Hourly(b) | Reason::Daily(b) | Reason::Weekly(b) | Reason::Monthly(b) | Reason::Yearly(b) => b.clone(),
        Reason::Last(n) => n.to_string(),
        _ => String::new(),
    }
}

/// Decides every backup of one series. `now` only serves to ignore backups dated in the future.
pub(crate) fn plan(mut candidates: Vec<Candidate>, policy: &Policy, now: DateTime<Utc>) -> Vec<Decision> {
    // Newest first; ties by name, so that the input's order never matters.
    candidates.sort_by(|a, b| b.time.cmp(&a.time).then_with(|| b.name.cmp(&a.name)));
    let counts = |c: &Candidate| !c.legacy && (!policy.require_verified || c.verified == Some(true));
    let mut keep: Vec<Vec<Reason>> = vec![Vec::new(); candidates.len()];

    let present: Vec<usize> = (0..candidates.len()).filter(|&i| candidates[i].time <= now).collect();
    for (i, candidate) in candidates.iter().enumerate() {
        if candidate.time > now {
            keep[i].push(Reason::Future);
        }
    }

    // The counting rules, over the backups that count, newest first (restic's `ApplyPolicy`).
    let counting: Vec<usize> = present.iter().copied().filter(|&i| counts(&candidates[i])).collect();
    let mut rules = [
        Bucketer {
            count: policy.keep_last,
            left: policy.keep_last,
            last: None,
            kind: |_, nr| Reason::Last(nr as u32 + 1),
            name: "last",
        },
        Bucketer {
            count: policy.keep_hourly,
            left: policy.keep_hourly,
            last: None,
            kind: |w, _| Reason::Hourly(w.format("%Y-%m-%d %Hh").to_string()),
            name: "hourly",
        },
        Bucketer {
            count: policy.keep_daily,
            left: policy.keep_daily,
            last: None,
            kind: |w, _| Reason::Daily(w.format("%Y-%m-%d").to_string()),
            name: "daily",
        },
        Bucketer {
            count: policy.keep_weekly,
            left: policy.keep_weekly,
            last: None,
            kind: |w, _| {
                let week = w.iso_week();
                Reason::Weekly(format!("{}-W{:02}", week.year(), week.week()))
            },
            name: "weekly",
        },
        Bucketer {
            count: policy.keep_monthly,
            left: policy.keep_monthly,
            last: None,
            kind: |w, _| Reason::Monthly(w.format("%Y-%m").to_string()),
            name: "monthly",
        },
        Bucketer {
            count: policy.keep_yearly,
            left: policy.keep_yearly,
            last: None,
            kind: |w, _| Reason::Yearly(w.year().to_string()),
            name: "yearly",
        },
    ];
    for (nr, &i) in counting.iter().enumerate() {
        let wall = policy.zone.wall(candidates[i].time);
        let oldest = nr + 1 == counting.len();
        for rule in &mut rules {
            if rule.count == 0 || rule.left == 0 {
                continue;
            }
            let reason = (rule.kind)(wall, nr);
            let bucket = label(&reason);
            if rule.last.as_deref() != Some(bucket.as_str()) {
                rule.last = Some(bucket);
                rule.left -= 1;
                keep[i].push(reason);
            } else if oldest {
                rule.left -= 1;
                keep[i].push(Reason::Oldest(rule.name));
            }
        }
    }

    // `keep_within`, relative to the newest backup that counts and is not in the future (the newest of the
    // series when none counts, as on a store of legacy archives only).
    let latest = counting
        .first()
        .or_else(|| present.first())
        .map(|&i| candidates[i].time);
    let cutoff = latest
        .filter(|_| !policy.keep_within.is_zero())
        .map(|latest| policy.keep_within.before(latest, policy.zone));
    for &i in &present {
        let candidate = &candidates[i];
        let eligible = counts(candidate) || (candidate.legacy && !policy.require_verified);
        if eligible && cutoff.is_some_and(|cutoff| candidate.time > cutoff) {
            keep[i].push(Reason::Within(policy.keep_within.to_string()));
        }
    }

    // The floor, then the newest verified backup.
    for &i in present.iter().take(policy.min_keep.max(1) as usize) {
        keep[i].push(Reason::MinKeep);
    }
    if let Some(&i) = present.iter().find(|&&i| candidates[i].verified == Some(true)) {
        keep[i].push(Reason::NewestVerified);
    }

    candidates
        .into_iter()
        .zip(keep)
        .map(|(candidate, keep)| {
            let delete_reason = if keep.is_empty() {
                why_not(&candidate, policy, cutoff)
            } else {
                String::new()
            };
            Decision {
                candidate,
                keep,
                delete_reason,
            }
        })
        .collect()
}

/// Why no rule keeps a backup, for the plan.
fn why_not(candidate: &Candidate, policy: &Policy, cutoff: Option<DateTime<Utc>>) -> String {
    let what = if candidate.legacy {
        "legacy archive "
    } else if policy.require_verified && candidate.verified != Some(true) {
        "not verified (require_verified), "
    } else {
        ""
    };
    match cutoff {
        Some(_) => format!(
            "{what}older than {} before the newest backup and no rule keeps it",
            policy.keep_within
        ),
        None => format!("{what}no rule keeps it"),
    }
}
