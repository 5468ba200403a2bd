//! Property tests of SAS handling (hardening issue, "Fuzzing and property tests"): any pasted token goes into a URL
//! without a panic and keeps its pairs; no text leaves [`redact_sas`] with a signature in it; any account key either
//! signs or is refused with a usage error.

use chrono::{TimeZone as _, Utc};
use proptest::prelude::*;
use url::Url;

use super::{AccountSas, append_sas, looks_like_sas, redact_sas};
use crate::exit::ExitStatus;
use crate::units::fuzz::config;

/// Text shaped like a SAS token or a URL that holds one.
fn sas_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        prop::sample::select(vec![
            "sig=", "sv=", "se=", "sp=", "?", "&", "=", "%", "%2B", "%zz", "+", " ", "'", "\"", ")", "\n", "https://",
        ])
        .prop_map(str::to_owned),
        "[A-Za-z0-9/+=]{1,12}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..16).prop_map(|pieces| pieces.concat())
}

fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn fuzz_sas_token(token in prop_oneof![sas_like(), any::<String>()]) {
        let mut url = Url::parse("https://acct.blob.core.windows.net/container/blob").map_err(|e| TestCaseError::fail(e.to_string()))?;
        append_sas(&mut url, &token);
        let reparsed = Url::parse(url.as_str()).map_err(|e| TestCaseError::fail(format!("{url}: {e}")))?;
        if looks_like_sas(&token) {
            prop_assert!(reparsed.query_pairs().any(|(name, _)| name == "sig"), "{} → {}", token, url);
        }
    }

    #[test]
    fn fuzz_sas_pairs_survive(pairs in prop::collection::vec(("[a-z]{1,4}", any::<String>()), 1..6)) {
        let token: Vec<String> = pairs.iter().map(|(name, value)| format!("{name}={}", encode(value))).collect();
        let mut url = Url::parse("https://acct.blob.core.windows.net/c").map_err(|e| TestCaseError::fail(e.to_string()))?;
        append_sas(&mut url, &format!("?{}", token.join("&")));
        let back: Vec<(String, String)> = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        prop_assert_eq!(back, pairs);
    }

    #[test]
    fn fuzz_sas_redaction(text in prop_oneof![sas_like(), any::<String>()]) {
        let redacted = redact_sas(&text);
        for (index, _) in redacted.match_indices("sig=") {
            prop_assert!(redacted[index + 4..].starts_with("REDACTED"), "{:?} → {:?}", text, redacted);
        }
    }

    #[test]
    fn fuzz_sas_redaction_hides_the_signature(
        before in "[a-z :/?&]{0,20}",
        secret in "[A-Za-z0-9%+/=]{1,40}",
        after in "([&)'\" ][a-z=&]{0,10})?",
    ) {
        prop_assume!(!before.contains("sig=") && !after.contains("sig="));
        let redacted = redact_sas(&format!("{before}sig={secret}{after}"));
        prop_assert_eq!(redacted, format!("{before}sig=REDACTED{after}"));
    }

    #[test]
    fn fuzz_sas_account_key(key in prop_oneof![any::<String>(), "[A-Za-z0-9+/]{0,88}={0,2}"], account in "[a-z0-9]{0,24}") {
        let sas = AccountSas {
            account: &account,
            permissions: "rwdlac",
            resource_types: "sco",
            start: None,
            expiry: Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).single().ok_or_else(|| TestCaseError::fail("a valid time"))?,
        };
        match sas.sign(&key) {
            Ok(token) => prop_assert!(looks_like_sas(&token), "{}", token),
            Err(error) => prop_assert_eq!(error.status, ExitStatus::Usage),
        }
    }
}
