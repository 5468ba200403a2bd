//! Shared access signatures: signing an account SAS with an account key, and putting any SAS into a URL.
//!
//! The blob SDK has no shared-key credential (it takes an Entra ID token or a URL that carries a SAS), so a
//! connection string with an `AccountKey` becomes an account SAS signed here, as documented in "Create an account
//! SAS" (<https://learn.microsoft.com/rest/api/storageservices/create-account-sas>), version 2020-12-06 and later
//! (the string-to-sign ends with the encryption scope and a newline). The key never leaves the process.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use url::Url;

use crate::exit::UserError;

/// The service version the signature is computed for (`sv`).
pub const SAS_VERSION: &str = "2021-12-02";

/// What an account SAS grants.
#[derive(Debug, Clone)]
pub struct AccountSas<'a> {
    pub account: &'a str,
    /// Permissions in the documented order (`rwdxylacuptfi`), e.g. `rwdlac`.
    pub permissions: &'a str,
    /// Resource types: `s`ervice, `c`ontainer, `o`bject.
    pub resource_types: &'a str,
    pub start: Option<DateTime<Utc>>,
    pub expiry: DateTime<Utc>,
}

impl AccountSas<'_> {
    /// Signs the SAS with `key` (base64, as in a connection string) and returns the token (`sv=…&sig=…`), each value
    /// percent-encoded.
    ///
    /// # Errors
    /// A [`UserError`] when the key is not base64 (a mangled connection string).
    ///
    /// # Panics
    /// Never: HMAC takes keys of any length.
    pub fn sign(&self, key: &str) -> Result<String, UserError> {
        let key = BASE64.decode(key.trim()).map_err(|_| {
            UserError::usage("The account key of the Azure Storage connection string is not valid base64")
                .with_hint("Copy the connection string again from the portal (Storage account → Access keys)")
        })?;
        let start = self.start.map(format_time).unwrap_or_default();
        let expiry = format_time(self.expiry);
        let services = "b";
        let protocol = "https,http";
        // accountname, sp, ss, srt, st, se, sip, spr, sv, ses, and a final newline.
        let string_to_sign = format!(
            "{}\n{}\n{services}\n{}\n{start}\n{expiry}\n\n{protocol}\n{SAS_VERSION}\n\n",
            self.account, self.permissions, self.resource_types
        );
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes keys of any length");
        mac.update(string_to_sign.as_bytes());
        let signature = BASE64.encode(mac.finalize().into_bytes());
        let mut pairs = vec![
            ("sv", SAS_VERSION.to_string()),
            ("ss", services.to_string()),
            ("srt", self.resource_types.to_string()),
            ("sp", self.permissions.to_string()),
            ("se", expiry),
            ("spr", protocol.to_string()),
            ("sig", signature),
        ];
        if !start.is_empty() {
            pairs.insert(4, ("st", start));
        }
        let mut serializer = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in &pairs {
            serializer.append_pair(name, value);
        }
        Ok(serializer.finish())
    }
}

/// `2026-01-31T12:00:00Z`: seconds precision, as the service and Azurite expect.
fn format_time(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Appends the pairs of a SAS token (`sv=…&sig=…`, with or without a leading `?`) to `url`'s query.
///
/// Values are decoded and re-encoded: the SDK re-serialises the query of every request, so a raw `+` in `sig` would
/// otherwise turn into a space (azure-sdk-facts.md). A raw `+` in a hand-pasted token is taken literally.
pub fn append_sas(url: &mut Url, token: &str) {
    let token = token.trim().trim_start_matches('?');
    let mut query = url.query_pairs_mut();
    for pair in token.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |text: &str| {
            percent_encoding::percent_decode_str(text)
                .decode_utf8_lossy()
                .into_owned()
        };
        query.append_pair(&decode(name), &decode(value));
    }
}

/// Whether `token` looks like a SAS token (it has `sig=`); used to reject a pasted URL or key early.
pub fn looks_like_sas(token: &str) -> bool {
    token
        .trim()
        .trim_start_matches('?')
        .split('&')
        .any(|pair| pair.starts_with("sig="))
}

/// Replaces the value of every `sig=` query parameter with `REDACTED`.
pub fn redact_sas(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(index) = rest.find("sig=") {
        let (before, after) = rest.split_at(index + "sig=".len());
        out.push_str(before);
        out.push_str("REDACTED");
        let end = after
            .find(|c: char| c == '&' || c == ')' || c == '"' || c == '\'' || c.is_whitespace())
            .unwrap_or(after.len());
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_known_value() {
        // Computed independently with Python's hmac over the documented string-to-sign.
        let sas = AccountSas {
            account: "devstoreaccount1",
            permissions: "rwdlac",
            resource_types: "sco",
            start: None,
            expiry: DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z")
                .expect("time")
                .with_timezone(&Utc),
        };
        let token = sas
            .sign("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==")
            .expect("sign");
        assert_eq!(
            token,
            "sv=2021-12-02&ss=b&srt=sco&sp=rwdlac&se=2030-01-01T00%3A00%3A00Z&spr=https%2Chttp\
             &sig=4mMDMjXw1nrTXTY%2BYEl%2F5ciy8IHK6o6mpYizNIOC8Bo%3D"
        );
    }

    #[test]
    fn signatures_are_redacted() {
        assert_eq!(
            redact_sas("GET http://h/c/b?se=1&sig=ab%2Bc%3D&sp=r): refused"),
            "GET http://h/c/b?se=1&sig=REDACTED&sp=r): refused"
        );
        assert_eq!(redact_sas("url ...?sig=x"), "url ...?sig=REDACTED");
        assert_eq!(redact_sas("no secret"), "no secret");
    }

    #[test]
    fn sas_survives_the_sdk_query_round_trip() {
        let mut url = Url::parse("https://a.blob.core.windows.net/c").expect("url");
        append_sas(&mut url, "?sv=2021-12-02&sig=ab%2Bc%3D&se=2030-01-01T00:00:00Z");
        let pairs: Vec<(String, String)> = url.query_pairs().map(|(k, v)| (k.into(), v.into())).collect();
        assert!(pairs.contains(&("sig".into(), "ab+c=".into())), "{pairs:?}");
        assert!(looks_like_sas("sv=1&sig=x"));
        assert!(!looks_like_sas("https://a.blob.core.windows.net"));
    }
}
