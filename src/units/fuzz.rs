//! Property tests of the duration and size parsers (hardening issue, "Fuzzing and property tests"), and the case
//! budget every property test of campctl shares ([`config`]).
//!
//! The normal test run uses a small, fixed number of cases per property, so that the whole set stays well under a
//! minute on two cores; `CAMPCTL_FUZZ_CASES=100000 cargo test --lib fuzz` runs a long search (docs/testing.md).
//! Failures are not persisted to files: each panic found becomes an explicit regression case beside the property.

use proptest::prelude::*;

use super::{ByteSize, HumanDuration, format_bytes, format_seconds};

/// The environment variable that overrides every property's case count.
pub(crate) const CASES_VARIABLE: &str = "CAMPCTL_FUZZ_CASES";

/// A proptest configuration with `default_cases` cases, or `CAMPCTL_FUZZ_CASES` if it is set.
pub(crate) fn config(default_cases: u32) -> ProptestConfig {
    let cases = std::env::var(CASES_VARIABLE)
        .ok()
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(default_cases);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Text that looks like a duration or size often enough to reach every branch: digits, unit letters, spaces,
/// separators, and any character now and then.
pub(crate) fn unit_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[0-9]{1,25}",
        Just("ms".to_owned()),
        Just("min".to_owned()),
        "[smhdwKMGTiBb]{1,3}",
        Just(" ".to_owned()),
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..8).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn fuzz_duration(text in prop_oneof![unit_like(), any::<String>()]) {
        if let Ok(duration) = text.parse::<HumanDuration>() {
            let shown = duration.to_string();
            prop_assert_eq!(shown.parse::<HumanDuration>(), Ok(duration), "{} shown as {}", text, shown);
        }
    }

    #[test]
    fn fuzz_size(text in prop_oneof![unit_like(), any::<String>()]) {
        if let Ok(size) = text.parse::<ByteSize>() {
            let shown = size.to_string();
            prop_assert_eq!(shown.parse::<ByteSize>(), Ok(size), "{} shown as {}", text, shown);
        }
    }

    #[test]
    fn fuzz_duration_display_round_trips(secs in any::<u64>(), millis in 0u32..1000) {
        let duration = HumanDuration(std::time::Duration::from_secs(secs) + std::time::Duration::from_millis(millis.into()));
        prop_assert_eq!(duration.to_string().parse::<HumanDuration>(), Ok(duration));
    }

    #[test]
    fn fuzz_formatting(bytes in any::<i64>(), seconds in any::<f64>()) {
        prop_assert!(!format_bytes(bytes).is_empty());
        prop_assert!(!format_seconds(seconds).is_empty());
    }
}
