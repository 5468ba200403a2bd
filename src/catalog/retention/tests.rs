//! Known answers of the retention engine: restic's documented examples ("Removing snapshots according to a
//! policy", doc/060_forget.rst) for the same policy, `keep_within`'s calendar arithmetic as Go's `AddDate`, and the
//! runbook's failure mode (a schedule that stopped) that the floor exists for.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::{Candidate, Policy, Reason, Within, Zone, plan};

fn at(date: &str, hour: u32) -> DateTime<Utc> {
    NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .expect("a test date")
        .and_hms_opt(hour, 0, 0)
        .expect("a test hour")
        .and_utc()
}

fn backup(time: DateTime<Utc>) -> Candidate {
    Candidate {
        name: format!("db_{}", time.format("%Y%m%d_%H%M%S")),
        time,
        legacy: false,
        verified: None,
    }
}

/// A policy of counting rules only, in UTC, with the floor at 1 (so that only the rules decide).
fn rules_only() -> Policy {
    Policy {
        keep_within: Within::default(),
        min_keep: 1,
        zone: "UTC".parse().expect("UTC"),
        ..Policy::default()
    }
}

/// The dates (`%Y-%m-%d`) of the kept backups, oldest first.
fn kept_dates(candidates: Vec<Candidate>, policy: &Policy, now: DateTime<Utc>) -> Vec<String> {
    let mut kept: Vec<_> = plan(candidates, policy, now)
        .into_iter()
        .filter(super::Decision::kept)
        .map(|d| d.candidate.time)
        .collect();
    kept.sort();
    kept.iter().map(|t| t.format("%Y-%m-%d").to_string()).collect()
}

#[test]
fn restic_twelve_sundays_keep_daily_4() {
    // restic's example: one backup every Sunday for 12 weeks at 11:00; `--keep-daily 4` keeps the last four.
    let first = at("2019-09-01", 11);
    let backups: Vec<_> = (0..12).map(|week| backup(first + Duration::weeks(week))).collect();
    let policy = Policy {
        keep_daily: 4,
        ..rules_only()
    };
    assert_eq!(
        kept_dates(backups, &policy, at("2019-11-18", 0)),
        ["2019-10-27", "2019-11-03", "2019-11-10", "2019-11-17"]
    );
}

#[test]
fn restic_daily_weekly_monthly_yearly_over_a_year() {
    // restic's example: daily backups, `--keep-daily 7 --keep-weekly 5 --keep-monthly 12 --keep-yearly 75`:
    // the newest 7 days, the last day of each of the newest 5 ISO weeks, of the newest 12 months, of the newest
    // 75 years, and (counts left for yearly) the oldest backup. 2026 starts on a Thursday: its last ISO week
    // (W53) runs from Monday December 28 to Thursday December 31.
    let first = at("2026-01-01", 3);
    let backups: Vec<_> = (0..365).map(|day| backup(first + Duration::days(day))).collect();
    let policy = Policy {
        keep_daily: 7,
        keep_weekly: 5,
        keep_monthly: 12,
        keep_yearly: 75,
        ..rules_only()
    };
    let decisions = plan(backups.clone(), &policy, at("2027-01-01", 0));
    let mut expected = vec!["2026-01-01".to_string()];
    expected.extend(
        [
            "01-31", "02-28", "03-31", "04-30", "05-31", "06-30", "07-31", "08-31", "09-30", "10-31", "11-30",
        ]
        .map(|d| format!("2026-{d}")),
    );
    expected.extend(["12-06", "12-13", "12-20"].map(|d| format!("2026-{d}")));
    expected.extend((25..=31).map(|d| format!("2026-12-{d}")));
    assert_eq!(kept_dates(backups, &policy, at("2027-01-01", 0)), expected);
    let reasons = |date: &str| {
        decisions
            .iter()
            .find(|d| d.candidate.time.format("%Y-%m-%d").to_string() == date)
            .map(super::Decision::reason)
    };
    assert_eq!(
        reasons("2026-12-31").as_deref(),
        Some("kept: daily 2026-12-31, weekly 2026-W53, monthly 2026-12, yearly 2026, min_keep")
    );
    assert_eq!(reasons("2026-01-01").as_deref(), Some("kept: oldest yearly"));
    assert_eq!(reasons("2026-12-13").as_deref(), Some("kept: weekly 2026-W50"));
    assert_eq!(reasons("2026-12-24").as_deref(), Some("delete: no rule keeps it"));
}

#[test]
fn keep_within_counts_back_from_the_newest_backup_as_go_adddate() {
    // Go's `AddDate(0, -1, 0)` on March 31 gives March 3 (February 31 normalised), and restic keeps what is
    // strictly after it.
    let first = at("2026-01-01", 3);
    let backups: Vec<_> = (0..90).map(|day| backup(first + Duration::days(day))).collect();
    assert_eq!(backups[89].time, at("2026-03-31", 3));
    let policy = Policy {
        keep_within: "1m".parse().expect("a duration"),
        ..rules_only()
    };
    let kept = kept_dates(backups, &policy, at("2026-06-01", 0));
    assert_eq!(kept.first().map(String::as_str), Some("2026-03-04"));
    assert_eq!(kept.len(), 28);
}

#[test]
fn a_schedule_that_stopped_40_days_ago_keeps_min_keep() {
    // Weekly backups for a year that stopped 40 days ago. The runbook's `find -mtime +30 -delete` would have
    // deleted every one of them; the defaults (30 days before the newest backup, floor 7) keep the newest 7.
    let first = at("2025-10-01", 3);
    let backups: Vec<_> = (0..52).map(|week| backup(first + Duration::weeks(week))).collect();
    let newest = backups[51].time;
    let now = newest + Duration::days(40);
    let policy = Policy {
        zone: Zone::Fixed(chrono::FixedOffset::east_opt(0).expect("UTC")),
        ..Policy::default()
    };
    let decisions = plan(backups, &policy, now);
    let kept: Vec<_> = decisions.iter().filter(|d| d.kept()).collect();
    assert_eq!(kept.len(), 7);
    assert!(kept.iter().all(|d| now - d.candidate.time > Duration::days(30)));
    assert!(kept.iter().all(|d| d.candidate.time >= newest - Duration::weeks(6)));
    // Five are within 30 days of the newest; the floor adds two.
    let floor_only = kept.iter().filter(|d| d.keep == [Reason::MinKeep]).count();
    assert_eq!(floor_only, 2);
    let deleted = decisions.iter().find(|d| !d.kept()).map(super::Decision::reason);
    assert_eq!(
        deleted.as_deref(),
        Some("delete: older than 30d before the newest backup and no rule keeps it")
    );
}

#[test]
fn the_newest_verified_backup_stays_and_unverified_do_not_count() {
    let first = at("2026-11-01", 3);
    let mut backups: Vec<_> = (0..20).map(|day| backup(first + Duration::days(day))).collect();
    backups[3].verified = Some(true);
    backups[15].verified = Some(false);
    let policy = Policy {
        keep_last: 2,
        require_verified: true,
        ..rules_only()
    };
    let decisions = plan(backups, &policy, at("2026-12-01", 0));
    let kept: Vec<_> = decisions
        .iter()
        .filter(|d| d.kept())
        .map(super::Decision::reason)
        .collect();
    // Only one backup counts: it is the last 1 and the newest verified; the floor keeps the newest.
    assert_eq!(kept, ["kept: min_keep", "kept: last 1, newest verified"]);
    let unverified = decisions.iter().find(|d| !d.kept()).map(super::Decision::reason);
    assert_eq!(
        unverified.as_deref(),
        Some("delete: not verified (require_verified), no rule keeps it")
    );
}

#[test]
fn legacy_archives_age_out_by_keep_within_and_take_no_slot() {
    let first = at("2026-10-01", 3);
    let mut backups: Vec<_> = (0..60).map(|day| backup(first + Duration::days(day))).collect();
    for legacy in &mut backups[..40] {
        legacy.legacy = true;
    }
    let policy = Policy {
        keep_last: 3,
        min_keep: 1,
        zone: "UTC".parse().expect("UTC"),
        ..Policy::default()
    };
    let decisions = plan(backups, &policy, at("2026-12-01", 0));
    // The last 3 are manifest backups; 30 days before the newest (November 29) reach back to October 30.
    for d in &decisions {
        let within = d.candidate.time > at("2026-10-30", 3);
        assert_eq!(d.kept(), within, "{}", d.reason());
        if d.candidate.legacy {
            assert!(d.keep.iter().all(|k| matches!(k, Reason::Within(_))), "{}", d.reason());
        }
    }
    let oldest = decisions.last().map(super::Decision::reason);
    assert_eq!(
        oldest.as_deref(),
        Some("delete: legacy archive older than 30d before the newest backup and no rule keeps it")
    );
}

#[test]
fn durations_and_zones_parse_as_documented() {
    for (text, shown) in [
        ("30d", "30d"),
        ("1y6m", "1y6m"),
        ("2y5m7d3h", "2y5m7d3h"),
        ("0", "0"),
        ("12h", "12h"),
    ] {
        assert_eq!(
            text.parse::<Within>().map(|w| w.to_string()).as_deref(),
            Ok(shown),
            "{text}"
        );
    }
    for bad in ["", "30", "30x", "1d1d", "d", "-1d", "1w"] {
        assert!(bad.parse::<Within>().is_err(), "{bad}");
    }
    for (text, shown) in [
        ("local", "local"),
        ("UTC", "UTC"),
        ("+01:00", "+01:00"),
        ("-05:30", "-05:30"),
    ] {
        assert_eq!(
            text.parse::<Zone>().map(|z| z.to_string()).as_deref(),
            Ok(shown),
            "{text}"
        );
    }
    for bad in ["Europe/Paris", "+25:00", "01:00", ""] {
        assert!(bad.parse::<Zone>().is_err(), "{bad}");
    }
}

#[test]
fn buckets_are_cut_in_the_configured_zone() {
    // 23:00 and midnight UTC are two days in UTC, one (December 2) at +01:00: daily buckets move with the zone.
    let backups = vec![backup(at("2026-12-01", 23)), backup(at("2026-12-02", 0))];
    let utc = Policy {
        keep_daily: 5,
        ..rules_only()
    };
    let paris = Policy {
        zone: "+01:00".parse().expect("an offset"),
        ..utc
    };
    let now = at("2026-12-03", 0);
    assert_eq!(kept_dates(backups.clone(), &utc, now).len(), 2);
    let decisions = plan(backups, &paris, now);
    assert_eq!(decisions[0].keep, [Reason::Daily("2026-12-02".into()), Reason::MinKeep]);
    assert_eq!(decisions[1].keep, [Reason::Oldest("daily")]);
}
