//! Property tests of the retention engine over random catalogs and policies (issue 12, "Tests"): never below the
//! floor, never the newest verified backup, idempotent, independent of the input's order and of what names say,
//! and with `require_verified` an unverified backup never counts toward a keep rule. The case count is
//! `CAMPCTL_FUZZ_CASES` (docs/testing.md).

use chrono::{DateTime, Duration, TimeZone as _, Utc};
use proptest::prelude::*;

use super::{Candidate, Decision, Policy, Reason, Within, Zone, plan};
use crate::units::fuzz::config;

/// The fixed `now` of every case: backups are spread over the two years before it (a few in the future).
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 5, 12, 0, 0)
        .single()
        .expect("a valid time")
}

/// A catalog of distinct times (minutes before `now`; some negative, in the future) with random flags.
fn catalog() -> impl Strategy<Value = Vec<Candidate>> {
    prop::collection::btree_set(-600i64..2 * 366 * 24 * 60, 0..60).prop_flat_map(|minutes| {
        let n = minutes.len();
        (
            Just(minutes),
            prop::collection::vec((prop::bool::weighted(0.15), prop::option::of(any::<bool>())), n),
        )
            .prop_map(|(minutes, flags)| {
                minutes
                    .into_iter()
                    .zip(flags)
                    .map(|(m, (legacy, verified))| {
                        let time = now() - Duration::minutes(m);
                        Candidate {
                            name: format!("db_{}", time.format("%Y%m%d_%H%M%S")),
                            time,
                            legacy,
                            verified: if legacy { None } else { verified },
                        }
                    })
                    .collect()
            })
    })
}

fn policy() -> impl Strategy<Value = Policy> {
    let count = || prop_oneof![Just(0u32), 1u32..6, 10u32..40];
    let within = prop_oneof![
        Just(Within::default()),
        (0u32..2, 0u32..4, 0u32..40, 0u32..30).prop_map(|(years, months, days, hours)| Within {
            years,
            months,
            days,
            hours
        }),
    ];
    let zone = prop_oneof![
        Just(Zone::Local),
        (-12i32..14).prop_map(|h| Zone::Fixed(chrono::FixedOffset::east_opt(h * 3600).expect("an offset"))),
    ];
    (
        (count(), count(), count(), count(), count(), count()),
        within,
        1u32..12,
        any::<bool>(),
        zone,
    )
        .prop_map(
            |((last, hourly, daily, weekly, monthly, yearly), keep_within, min_keep, require_verified, zone)| Policy {
                keep_last: last,
                keep_hourly: hourly,
                keep_daily: daily,
                keep_weekly: weekly,
                keep_monthly: monthly,
                keep_yearly: yearly,
                keep_within,
                min_keep,
                require_verified,
                zone,
            },
        )
}

/// Kept or not, by time (times are distinct in a catalog).
fn verdicts(decisions: &[Decision]) -> Vec<(DateTime<Utc>, bool)> {
    let mut out: Vec<_> = decisions.iter().map(|d| (d.candidate.time, d.kept())).collect();
    out.sort();
    out
}

/// The reasons of the keep rules alone (not the floor, the newest verified or the future).
fn rule_reasons(decision: &Decision) -> Vec<Reason> {
    decision
        .keep
        .iter()
        .filter(|k| !matches!(k, Reason::MinKeep | Reason::NewestVerified | Reason::Future))
        .cloned()
        .collect()
}

proptest! {
    #![proptest_config(config(300))]

    #[test]
    fn fuzz_retention_never_below_the_floor(candidates in catalog(), policy in policy()) {
        let decisions = plan(candidates.clone(), &policy, now());
        let mut present: Vec<_> = candidates.iter().filter(|c| c.time <= now()).map(|c| c.time).collect();
        present.sort_unstable_by(|a, b| b.cmp(a));
        for time in present.iter().take(policy.min_keep as usize) {
            let decision = decisions.iter().find(|d| d.candidate.time == *time).expect("every candidate decided");
            prop_assert!(decision.kept(), "{} of the newest {} deleted", time, policy.min_keep);
        }
        let kept = decisions.iter().filter(|d| d.kept()).count();
        prop_assert!(kept >= present.len().min(policy.min_keep as usize));
        prop_assert_eq!(decisions.len(), candidates.len());
    }

    #[test]
    fn fuzz_retention_keeps_the_newest_verified(candidates in catalog(), policy in policy()) {
        let decisions = plan(candidates, &policy, now());
        let newest = decisions
            .iter()
            .filter(|d| d.candidate.verified == Some(true) && d.candidate.time <= now())
            .max_by_key(|d| d.candidate.time);
        if let Some(newest) = newest {
            prop_assert!(newest.keep.contains(&Reason::NewestVerified), "{}", newest.reason());
        }
        for d in decisions.iter().filter(|d| d.candidate.time > now()) {
            prop_assert!(d.kept());
        }
    }

    #[test]
    fn fuzz_retention_is_idempotent(candidates in catalog(), policy in policy()) {
        let survivors: Vec<_> = plan(candidates, &policy, now())
            .into_iter()
            .filter(Decision::kept)
            .map(|d| d.candidate)
            .collect();
        let again = plan(survivors, &policy, now());
        for d in &again {
            prop_assert!(d.kept(), "a second run deletes {}: {}", d.candidate.name, d.reason());
        }
    }

    #[test]
    fn fuzz_retention_ignores_input_order(
        candidates in catalog(),
        policy in policy(),
        seed in any::<u64>(),
    ) {
        let mut shuffled = candidates.clone();
        // A deterministic shuffle from the seed (proptest shrinks the seed).
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        prop_assert_eq!(plan(candidates, &policy, now()), plan(shuffled, &policy, now()));
    }

    #[test]
    fn fuzz_retention_ignores_names(candidates in catalog(), policy in policy(), rotate in 0usize..60) {
        // Names that lie about their time: each backup takes another's name.
        let mut liars = candidates.clone();
        let names: Vec<_> = candidates.iter().map(|c| c.name.clone()).collect();
        for (i, liar) in liars.iter_mut().enumerate() {
            liar.name.clone_from(&names[(i + rotate) % names.len()]);
            liar.name.push_str("_x");
        }
        prop_assert_eq!(
            verdicts(&plan(candidates, &policy, now())),
            verdicts(&plan(liars, &policy, now()))
        );
    }

    #[test]
    fn fuzz_retention_unverified_never_count(candidates in catalog(), mut policy in policy()) {
        policy.require_verified = true;
        let decisions = plan(candidates.clone(), &policy, now());
        for d in &decisions {
            if d.candidate.verified != Some(true) {
                prop_assert!(rule_reasons(d).is_empty(), "{} counted: {}", d.candidate.name, d.reason());
            }
        }
        // The verified backups are judged as if the others were not there.
        let verified: Vec<_> = candidates.into_iter().filter(|c| c.verified == Some(true)).collect();
        let alone = plan(verified, &policy, now());
        for d in alone {
            let with_others = decisions
                .iter()
                .find(|o| o.candidate == d.candidate)
                .expect("every candidate decided");
            prop_assert_eq!(rule_reasons(&d), rule_reasons(with_others));
        }
    }
}
