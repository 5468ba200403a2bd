//! ARM error bodies (`{"error":{"code","message","details"}}`) and how a failed request becomes a campctl error:
//! 401/403 → exit 12 naming the credential and the RBAC role the operation needs, 404 → exit 10 naming the
//! resource, anything else → exit 1 with the service's code and message verbatim.

use std::time::Duration;

use serde::Deserialize;

use crate::exit::{ExitStatus, UserError};

/// What a request is for, so that its errors can say so.
#[derive(Debug, Clone)]
pub struct Operation {
    /// What campctl was doing, as a phrase: "read the server `pg1`".
    pub action: String,
    /// The resource the request is about, as named in a 404: "Flexible Server `pg1` in resource group `rg`".
    pub resource: String,
    /// The RBAC role (or permission) the operation needs, named on 401/403.
    pub role: String,
    /// What to check when the resource is not found.
    pub not_found_hint: String,
}

impl Operation {
    pub fn new(action: impl Into<String>, resource: impl Into<String>, role: impl Into<String>) -> Self {
        Self {
            action: action.into(),
            resource: resource.into(),
            role: role.into(),
            not_found_hint: "Check `[azure] subscription_id`, `resource_group` and the resource's name (or give \
                             its full resource id)"
                .to_string(),
        }
    }

    #[must_use]
    pub fn not_found_hint(mut self, hint: impl Into<String>) -> Self {
        self.not_found_hint = hint.into();
        self
    }
}

/// An ARM error: `code`, `message` and nested `details`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct ArmError {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub details: Vec<ArmError>,
}

#[derive(Deserialize)]
struct Envelope {
    error: ArmError,
}

/// `` `Code`: message `` as Azure's error bodies give them (either may be empty), verbatim.
pub fn code_and_message(code: &str, message: &str) -> String {
    match (code.is_empty(), message.is_empty()) {
        (false, false) => format!("`{code}`: {message}"),
        (false, true) => format!("`{code}`"),
        (true, false) => message.to_string(),
        (true, true) => "no error code or message".to_string(),
    }
}

impl ArmError {
    /// The `error` of an ARM error body (`None` when the body is not one).
    pub fn from_body(body: &[u8]) -> Option<Self> {
        serde_json::from_slice::<Envelope>(body)
            .ok()
            .map(|envelope| envelope.error)
    }

    /// `` `Code`: message `` and each detail the same way, verbatim.
    pub fn render(&self) -> String {
        let mut text = code_and_message(&self.code, &self.message);
        for detail in &self.details {
            text.push_str(" (detail: ");
            text.push_str(&detail.render());
            text.push(')');
        }
        text
    }
}

/// The error of a request that Azure answered with a status that is not a success.
pub fn status_error(status: u16, body: &[u8], operation: &Operation, credential: &str) -> UserError {
    let error = ArmError::from_body(body).unwrap_or_else(|| ArmError {
        message: String::from_utf8_lossy(body).trim().chars().take(500).collect(),
        ..ArmError::default()
    });
    match status {
        401 | 403 => UserError::new(
            ExitStatus::Auth,
            format!(
                "Azure refused to {} (HTTP {status} {})",
                operation.action,
                error.render()
            ),
        )
        .with_hint(format!(
            "campctl used {credential}; {} needs {}",
            if status == 401 {
                "check that it is valid for this tenant, and the operation"
            } else {
                "the operation"
            },
            operation.role
        )),
        404 => UserError::new(
            ExitStatus::NotFound,
            format!("{} was not found (HTTP 404 {})", operation.resource, error.render()),
        )
        .with_hint(operation.not_found_hint.clone()),
        _ => UserError::new(
            ExitStatus::Failure,
            format!(
                "Azure failed to {} (HTTP {status} {})",
                operation.action,
                error.render()
            ),
        ),
    }
}

/// The error of a long-running operation that ended `Failed` or `Canceled`, with Azure's error verbatim.
pub fn operation_error(status: &str, error: Option<&ArmError>, operation: &Operation) -> UserError {
    let detail = error.map_or_else(|| "Azure gave no error".to_string(), ArmError::render);
    UserError::new(
        ExitStatus::Failure,
        format!(
            "Azure reported the operation to {} as {status}: {detail}",
            operation.action
        ),
    )
    .with_hint(if status.eq_ignore_ascii_case("canceled") {
        "The operation was canceled in Azure (by a user, or by a newer operation on the same resource); check the \
         resource's activity log, then run the command again"
    } else {
        "Check the resource's activity log in the Azure portal for the failed operation"
    })
}

/// The error when the credential returned no token (exit 12).
pub fn credential_error(detail: &str, operation: &Operation, credential: &str) -> UserError {
    UserError::new(
        ExitStatus::Auth,
        format!("No Azure token to {}: {detail}", operation.action),
    )
    .with_hint(format!(
        "campctl used {credential}; set `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` and `AZURE_CLIENT_SECRET`, run `az \
         login`, or choose one with `[azure] credential`. The operation needs {}",
        operation.role
    ))
}

/// A `Retry-After` value: delay-seconds or an HTTP date (RFC 9110 §10.2.3), relative to `now`.
pub fn parse_retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    if let Ok(seconds) = value.parse::<f64>()
        && seconds.is_finite()
        && seconds >= 0.0
    {
        return Some(Duration::from_secs_f64(seconds));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (date.with_timezone(&chrono::Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op() -> Operation {
        Operation::new(
            "read the server `pg1`",
            "Flexible Server `pg1`",
            "`Reader` on the server",
        )
    }

    #[test]
    fn arm_errors_map_to_exit_codes() {
        let body =
            br#"{"error":{"code":"AuthorizationFailed","message":"The client 'x' does not have authorization"}}"#;
        let forbidden = status_error(403, body, &op(), "the Azure CLI login (`az login`)");
        assert_eq!(forbidden.status, ExitStatus::Auth);
        assert!(
            forbidden
                .message
                .contains("`AuthorizationFailed`: The client 'x' does not have authorization")
        );
        let hint = forbidden.hint.expect("a hint");
        assert!(
            hint.contains("`Reader` on the server") && hint.contains("az login"),
            "{hint}"
        );

        assert_eq!(status_error(401, b"", &op(), "x").status, ExitStatus::Auth);

        let missing = status_error(
            404,
            br#"{"error":{"code":"ResourceNotFound","message":"gone"}}"#,
            &op(),
            "x",
        );
        assert_eq!(missing.status, ExitStatus::NotFound);
        assert!(
            missing.message.starts_with("Flexible Server `pg1` was not found"),
            "{}",
            missing.message
        );

        let other = status_error(
            409,
            br#"{"error":{"code":"ServerBusy","message":"Try later.","details":[{"code":"Inner","message":"why"}]}}"#,
            &op(),
            "x",
        );
        assert_eq!(other.status, ExitStatus::Failure);
        assert!(
            other
                .message
                .contains("`ServerBusy`: Try later. (detail: `Inner`: why)"),
            "{}",
            other.message
        );

        let not_json = status_error(500, b"upstream down", &op(), "x");
        assert!(not_json.message.contains("upstream down"));
    }

    #[test]
    fn failed_and_canceled_operations_keep_azures_message() {
        let error = ArmError {
            code: "InternalServerError".into(),
            message: "An unexpected error occured.".into(),
            details: Vec::new(),
        };
        let failed = operation_error("Failed", Some(&error), &op());
        assert_eq!(failed.status, ExitStatus::Failure);
        assert!(
            failed
                .message
                .contains("as Failed: `InternalServerError`: An unexpected error occured.")
        );
        let canceled = operation_error("Canceled", None, &op());
        assert!(canceled.message.contains("as Canceled"));
        assert!(canceled.hint.expect("hint").contains("canceled"));
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        let now = chrono::DateTime::parse_from_rfc3339("2021-01-01T00:00:00Z")
            .expect("date")
            .with_timezone(&chrono::Utc);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("1.5", now), Some(Duration::from_millis(1500)));
        assert_eq!(
            parse_retry_after("Fri, 01 Jan 2021 00:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        // A date in the past means now.
        assert_eq!(
            parse_retry_after("Thu, 31 Dec 2020 23:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }
}
