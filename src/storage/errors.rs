//! Turning I/O and Azure errors into [`StoreError`]s where the user can act on them, with context otherwise.

use azure_core::error::ErrorKind;
use azure_core::http::StatusCode;

use super::StoreError;
use crate::azure::credentials::BlobAuth;
use crate::azure::sas::redact_sas;

/// The one rule for "the disk is full", for a store and for any other file campctl writes (a restore's spool file):
/// ENOSPC, EDQUOT (a quota is a full disk to its user), or an error whose kind says so.
#[must_use]
pub fn is_no_space(err: &std::io::Error) -> bool {
    matches!(err.raw_os_error(), Some(code) if code == libc::ENOSPC || code == libc::EDQUOT)
        || matches!(
            err.kind(),
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
        )
}

/// [`is_no_space`] anywhere in an error's chain (an I/O error under any context, or a [`StoreError::NoSpace`]).
#[must_use]
pub fn caused_by_no_space(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(is_no_space)
            || matches!(cause.downcast_ref::<StoreError>(), Some(StoreError::NoSpace { .. }))
    })
}

/// The status and service error code of an HTTP error.
pub(crate) fn http_error(err: &azure_core::Error) -> Option<(StatusCode, Option<&str>)> {
    match err.kind() {
        ErrorKind::HttpResponse { status, error_code, .. } => Some((*status, error_code.as_deref())),
        _ => None,
    }
}

/// Whether the service answered with `status`.
pub(super) fn is_status(err: &azure_core::Error, status: StatusCode) -> bool {
    http_error(err).is_some_and(|(actual, _)| actual == status)
}

/// `BlobAlreadyExists` (409) or a failed `If-None-Match: *` (412, as Azurite answers).
pub(crate) fn is_already_exists(err: &azure_core::Error) -> bool {
    matches!(
        http_error(err),
        Some((StatusCode::Conflict, Some("BlobAlreadyExists")) | (StatusCode::PreconditionFailed, _))
    )
}

/// The service refused a staged block because its body does not match the `Content-MD5` or `x-ms-content-crc64` sent
/// with it: `Md5Mismatch` / `Crc64Mismatch` (400), or Azurite's `InvalidOperation` "Provided contentMD5 doesn't
/// match."
pub(super) fn is_checksum_mismatch(err: &azure_core::Error) -> bool {
    match http_error(err) {
        Some((StatusCode::BadRequest, Some("Md5Mismatch" | "Crc64Mismatch"))) => true,
        Some((StatusCode::BadRequest, Some("InvalidOperation"))) => describe(err).contains("contentMD5 doesn't match"),
        _ => false,
    }
}

/// Maps an Azure error: authentication failures become [`StoreError::Auth`], a missing blob
/// [`StoreError::NotFound`]; everything else keeps the SDK's error with `action` as context.
pub(super) fn azure_error(
    err: &azure_core::Error,
    store: &str,
    auth: &BlobAuth,
    name: &str,
    action: &str,
) -> anyhow::Error {
    let context = format!("Failed to {action} `{name}` in {store}");
    let auth_failure = match err.kind() {
        ErrorKind::Credential => Some(format!("the credential returned no token: {}", describe(err))),
        ErrorKind::HttpResponse { status, error_code, .. }
            if *status == StatusCode::Unauthorized || *status == StatusCode::Forbidden =>
        {
            Some(format!(
                "the service answered HTTP {} `{}`",
                u16::from(*status),
                error_code.as_deref().unwrap_or("no error code")
            ))
        }
        _ => None,
    };
    if let Some(detail) = auth_failure {
        return anyhow::Error::new(StoreError::Auth {
            store: store.to_string(),
            credential: auth.describe(),
            hint: format!(
                "{} ({})",
                auth.hint(),
                detail.split_whitespace().collect::<Vec<_>>().join(" ")
            ),
        })
        .context(context);
    }
    // A missing container holds no objects either.
    if is_status(err, StatusCode::NotFound) {
        return anyhow::Error::new(StoreError::NotFound {
            store: store.to_string(),
            name: name.to_string(),
        })
        .context(context);
    }
    anyhow::Error::new(AzureRequestError::new(err)).context(context)
}

/// An SDK error as text without secrets: the SDK's messages repeat the request URL, SAS signature included.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct AzureRequestError(String);

impl AzureRequestError {
    pub(crate) fn new(err: &azure_core::Error) -> Self {
        Self(describe(err))
    }
}

/// The error and its sources on one line, each only once, with SAS signatures redacted.
pub(crate) fn describe(err: &azure_core::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&dyn std::error::Error> = Some(err);
    while let Some(cause) = current {
        let text = without_xml(&cause.to_string());
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        current = cause.source();
    }
    redact_sas(&parts.join(": "))
}

/// The service's XML error body (`<?xml …><Error><Code>…</Code><Message>…</Message></Error>`, which the SDK puts
/// into its message verbatim) as `Code: first line of the message`; other text unchanged.
pub(super) fn without_xml(text: &str) -> String {
    let Some(start) = text.find("<?xml").or_else(|| text.find("<Error>")) else {
        return text.to_owned();
    };
    let element = |name: &str| {
        let open = format!("<{name}>");
        let from = text.find(&open)? + open.len();
        let to = text[from..].find(&format!("</{name}>"))? + from;
        Some(text[from..to].lines().next().unwrap_or_default().trim().to_owned())
    };
    let body = match (element("Code"), element("Message")) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code,
        (None, Some(message)) => message,
        (None, None) => "the service's error body could not be read".to_owned(),
    };
    match text[..start].trim_end_matches(|c: char| c == '\u{feff}' || c.is_whitespace()) {
        "" => body,
        before => format!("{before} {body}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_space_is_enospc_edquot_or_storage_full_under_any_context() {
        for code in [libc::ENOSPC, libc::EDQUOT] {
            let err = std::io::Error::from_raw_os_error(code);
            assert!(is_no_space(&err), "{code}");
            let wrapped = anyhow::Error::new(err).context("Failed to write the spool file");
            assert!(caused_by_no_space(&wrapped), "{code}");
        }
        assert!(is_no_space(&std::io::Error::from(std::io::ErrorKind::StorageFull)));
        let store = anyhow::Error::new(StoreError::NoSpace { store: "local".into() }).context("upload");
        assert!(caused_by_no_space(&store));
        assert!(!is_no_space(&std::io::Error::from_raw_os_error(libc::EACCES)));
        assert!(!caused_by_no_space(&anyhow::anyhow!("No space left on device")));
    }

    #[test]
    fn a_rejected_block_check_is_told_apart_from_other_bad_requests() {
        let error = |status, code: &str, message: &str| {
            azure_core::Error::with_message(
                ErrorKind::HttpResponse {
                    status,
                    error_code: Some(code.to_owned()),
                    raw_response: None,
                },
                message.to_owned(),
            )
        };
        // Azure Storage's codes for a Put Block whose Content-MD5 / x-ms-content-crc64 does not match its body.
        assert!(is_checksum_mismatch(&error(StatusCode::BadRequest, "Md5Mismatch", "")));
        assert!(is_checksum_mismatch(&error(
            StatusCode::BadRequest,
            "Crc64Mismatch",
            ""
        )));
        // Azurite's answer.
        assert!(is_checksum_mismatch(&error(
            StatusCode::BadRequest,
            "InvalidOperation",
            "400: InvalidOperation: Provided contentMD5 doesn't match."
        )));
        assert!(!is_checksum_mismatch(&error(
            StatusCode::BadRequest,
            "InvalidOperation",
            "something else"
        )));
        assert!(!is_checksum_mismatch(&error(
            StatusCode::BadRequest,
            "InvalidHeaderValue",
            "x-ms-content-crc64"
        )));
        assert!(!is_checksum_mismatch(&error(StatusCode::Conflict, "Md5Mismatch", "")));
    }

    /// Item 19: the SDK's message of a service error is its raw XML body.
    #[test]
    fn item_19_service_errors_are_shown_without_xml() {
        let raw = "400: \u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>InvalidResourceName</Code>\
                   <Message>The specifed resource name contains invalid characters.\nRequestId:1\nTime:2</Message>\
                   </Error>";
        assert_eq!(
            without_xml(raw),
            "400: InvalidResourceName: The specifed resource name contains invalid characters."
        );
        assert_eq!(without_xml("plain text"), "plain text");
    }
}
