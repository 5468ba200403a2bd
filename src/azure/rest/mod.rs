//! One small Azure REST client for ARM, Azure Monitor and Log Analytics, on azure_core's pipeline.
//!
//! A [`RestClient`] talks to one audience ([`cloud::Audience`]: an endpoint and a token scope) with a bearer token
//! from an Entra ID credential ([`EntraCredential`]). It sends typed JSON requests and gives back typed responses;
//! what the caller must know about a failure is in the error it returns ([`error::status_error`]): 401/403 → exit
//! 12 naming the credential and the RBAC role, 404 → exit 10 naming the resource, anything else → exit 1 with
//! Azure's code and message verbatim.
//!
//! Retries are campctl's own (the pipeline's retry policy is off): transport errors, 408, 429 and 5xx are retried up
//! to `max_retries` times, waiting what `Retry-After` asks (seconds or an HTTP date) when it is at most
//! `max_retry_wait`, else giving up at once with a message that says how long Azure asked to wait. Paging
//! (`nextLink`) is in [`paging`], long-running operations (`Azure-AsyncOperation` / `Location`) in [`lro`]. The
//! api-versions are named in [`api_version`].

pub mod api_version;
pub mod cloud;
pub mod error;
pub mod lro;
pub mod paging;

use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::TokenCredential;
use azure_core::error::ErrorKind;
use azure_core::http::headers::HeaderName;
use azure_core::http::policies::Policy;
use azure_core::http::policies::auth::BearerTokenAuthorizationPolicy;
use azure_core::http::{Context, Method, Pipeline, PipelineSendOptions, RawResponse, Request, Url};
use serde::de::DeserializeOwned;

use self::cloud::Audience;
use self::error::Operation;
use super::credentials::{ChainCredential, CredentialChoice, EnvLookup, TokenSource, token_credential};
use super::pipeline::RetryPolicy;
use crate::exit::{ExitStatus, UserError};

/// Default longest `Retry-After` campctl waits for before one retry or between two polls.
pub const DEFAULT_MAX_RETRY_WAIT: Duration = Duration::from_secs(60);
/// Default wait between two polls of a long-running operation that sends no `Retry-After`.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(5);

/// How hard one client tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestOptions {
    /// Timeout of one try of one request.
    pub timeout: Duration,
    /// Retries after the first try (transport errors, 408, 429, 5xx).
    pub max_retries: u32,
    /// The longest `Retry-After` honoured; a longer one fails the request.
    pub max_retry_wait: Duration,
    /// The wait between two polls of a long-running operation when Azure sends no `Retry-After`.
    pub poll_interval: Duration,
}

impl Default for RestOptions {
    fn default() -> Self {
        Self {
            timeout: super::pipeline::DEFAULT_TIMEOUT,
            max_retries: super::pipeline::DEFAULT_MAX_RETRIES,
            max_retry_wait: DEFAULT_MAX_RETRY_WAIT,
            poll_interval: DEFAULT_POLL_INTERVAL,
        }
    }
}

/// An Entra ID credential for the REST clients: one source, or the chain. (Connection strings and SAS tokens are
/// Blob Storage's alone.)
#[derive(Clone)]
pub struct EntraCredential {
    credential: Arc<dyn TokenCredential>,
    source: Option<TokenSource>,
    chain: Option<Arc<ChainCredential>>,
}

impl std::fmt::Debug for EntraCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl EntraCredential {
    /// The credential `choice` names (`Auto`: the chain).
    ///
    /// # Errors
    /// For `connection-string` or `sas` (not Entra ID), or when the chosen source's variables are missing.
    pub fn new(
        choice: CredentialChoice,
        env: EnvLookup<'_>,
        managed_identity_client_id: Option<&str>,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let retry = RetryPolicy {
            max_retries: 1,
            timeout,
        };
        let source = match choice {
            CredentialChoice::Auto => {
                let chain = Arc::new(ChainCredential::from_env(env, managed_identity_client_id, retry));
                return Ok(Self {
                    credential: chain.clone(),
                    source: None,
                    chain: Some(chain),
                });
            }
            CredentialChoice::ConnectionString | CredentialChoice::Sas => {
                anyhow::bail!(
                    "connection strings and SAS tokens only authorize Blob Storage, not Azure Resource Manager"
                )
            }
            CredentialChoice::Environment => TokenSource::Environment,
            CredentialChoice::WorkloadIdentity => TokenSource::WorkloadIdentity,
            CredentialChoice::ManagedIdentity => TokenSource::ManagedIdentity,
            CredentialChoice::Cli => TokenSource::Cli,
        };
        Ok(Self {
            credential: token_credential(source, env, managed_identity_client_id, retry, false)?,
            source: Some(source),
            chain: None,
        })
    }

    /// The credential as named in an authentication error.
    pub fn describe(&self) -> String {
        match (&self.chain, self.source) {
            (Some(chain), _) => chain.describe(),
            (None, Some(source)) => source.describe().to_string(),
            (None, None) => "an Entra ID credential".to_string(),
        }
    }

    /// The SDK credential (for a token of another audience, e.g. a PostgreSQL password).
    pub fn token_credential(&self) -> Arc<dyn TokenCredential> {
        self.credential.clone()
    }
}

/// A successful (2xx) response.
#[derive(Debug)]
pub struct RestResponse {
    pub status: u16,
    raw: RawResponse,
}

impl RestResponse {
    /// Header `name` (lower case).
    pub fn header(&self, name: &'static str) -> Option<&str> {
        self.raw.headers().get_optional_str(&HeaderName::from_static(name))
    }

    pub fn body(&self) -> &[u8] {
        self.raw.body()
    }

    /// The body as `T`.
    ///
    /// # Errors
    /// When the body is not the JSON `T` expects.
    pub fn json<T: DeserializeOwned>(&self) -> anyhow::Result<T> {
        serde_json::from_slice(self.body()).map_err(|err| {
            anyhow::anyhow!(
                "Azure answered with a body campctl cannot read: {err} (body: {})",
                String::from_utf8_lossy(self.body())
                    .chars()
                    .take(300)
                    .collect::<String>()
            )
        })
    }
}

/// What [`RestClient::send_with`] adds to a request.
#[derive(Debug, Clone, Default)]
pub struct SendExtras {
    /// Request headers (lower-case names), e.g. `prefer`.
    pub headers: Vec<(&'static str, String)>,
    /// Statuses handed back as a response for the caller to read (e.g. 400 with a body worth showing whole).
    pub pass_statuses: Vec<u16>,
}

/// A client of one audience; see the module docs.
#[derive(Debug, Clone)]
pub struct RestClient {
    pipeline: Pipeline,
    audience: Audience,
    base: Url,
    credential: EntraCredential,
    options: RestOptions,
}

impl RestClient {
    /// A client of `audience` authorized by `credential`.
    ///
    /// # Errors
    /// When the endpoint is not an `https://` URL.
    pub fn new(audience: Audience, credential: EntraCredential, options: RestOptions) -> anyhow::Result<Self> {
        let base = audience.url()?;
        let bearer: Arc<dyn Policy> = Arc::new(BearerTokenAuthorizationPolicy::new(
            credential.token_credential(),
            [audience.scope.clone()],
        ));
        let client_options = RetryPolicy {
            max_retries: 0,
            timeout: options.timeout,
        }
        .single_try_options();
        let pipeline = Pipeline::new(
            Some("campctl"),
            Some(env!("CARGO_PKG_VERSION")),
            client_options,
            Vec::new(),
            vec![bearer],
            None,
        );
        Ok(Self {
            pipeline,
            audience,
            base,
            credential,
            options,
        })
    }

    pub fn options(&self) -> RestOptions {
        self.options
    }

    /// The credential as named in messages.
    pub fn credential(&self) -> String {
        self.credential.describe()
    }

    /// `endpoint` + `path` (`/subscriptions/…`) with `api-version` (none for an empty one).
    ///
    /// # Errors
    /// When the result is not a URL.
    pub fn url(&self, path: &str, api_version: &str) -> anyhow::Result<Url> {
        let mut url = Url::parse(&format!("{}{path}", self.audience.endpoint))
            .map_err(|err| anyhow::anyhow!("`{}{path}` is not a URL: {err}", self.audience.endpoint))?;
        if !api_version.is_empty() {
            url.query_pairs_mut().append_pair("api-version", api_version);
        }
        Ok(url)
    }

    /// [`Self::url`] with more query parameters (`metricnames`, `timespan`, …), encoded.
    ///
    /// # Errors
    /// See [`Self::url`].
    pub fn url_with_query(&self, path: &str, api_version: &str, query: &[(&str, &str)]) -> anyhow::Result<Url> {
        let mut url = self.url(path, api_version)?;
        url.query_pairs_mut().extend_pairs(query);
        Ok(url)
    }

    /// Whether `url` is on this client's endpoint (a `nextLink` or operation URL elsewhere would receive the token).
    pub fn same_origin(&self, url: &Url) -> bool {
        url.origin() == self.base.origin()
    }

    /// GET `url` as `T`.
    ///
    /// # Errors
    /// See the module docs.
    pub async fn get<T: DeserializeOwned>(&self, url: Url, operation: &Operation) -> anyhow::Result<T> {
        self.send(Method::Get, url, None, operation).await?.json()
    }

    /// Sends one request (retried as the module docs say) and returns the 2xx response.
    ///
    /// # Errors
    /// The mapped error of a non-2xx status, a missing token, or a transport failure after the retries.
    pub async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
        operation: &Operation,
    ) -> anyhow::Result<RestResponse> {
        self.send_with(method, url, body, &SendExtras::default(), operation)
            .await
    }

    /// [`Self::send`] with more request headers, and statuses the caller reads itself (returned, not mapped to an
    /// error; never retried).
    ///
    /// # Errors
    /// See [`Self::send`].
    pub async fn send_with(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
        extras: &SendExtras,
        operation: &Operation,
    ) -> anyhow::Result<RestResponse> {
        let mut attempt = 0u32;
        loop {
            let mut request = Request::new(url.clone(), method);
            request.insert_header("accept", "application/json");
            for (name, value) in &extras.headers {
                request.insert_header(*name, value.clone());
            }
            if let Some(body) = body {
                request.set_json(body)?;
            }
            let options = PipelineSendOptions {
                skip_checks: true,
                ..PipelineSendOptions::default()
            };
            let retry_after = match self.pipeline.send(&Context::new(), &mut request, Some(options)).await {
                Err(err) if matches!(err.kind(), ErrorKind::Credential) => {
                    return Err(error::credential_error(&one_line(&err), operation, &self.credential()).into());
                }
                Err(err) => {
                    if attempt >= self.options.max_retries {
                        return Err(UserError::new(
                            ExitStatus::Failure,
                            format!(
                                "Failed to {} at `{}`: {}",
                                operation.action,
                                url.host_str().unwrap_or("Azure"),
                                one_line(&err)
                            ),
                        )
                        .with_hint(format!(
                            "Check the network path to `{}` (and `[azure] management_endpoint` if set); campctl tried \
                             {} time(s)",
                            self.audience.endpoint,
                            attempt + 1
                        ))
                        .into());
                    }
                    tracing::debug!("Azure request failed, retrying: {}", one_line(&err));
                    None
                }
                Ok(raw) => {
                    let status = u16::from(raw.status());
                    let response = RestResponse { status, raw };
                    if (200..300).contains(&status) || extras.pass_statuses.contains(&status) {
                        return Ok(response);
                    }
                    if !is_retryable(status) || attempt >= self.options.max_retries {
                        return Err(error::status_error(status, response.body(), operation, &self.credential()).into());
                    }
                    let asked = response
                        .header("retry-after")
                        .and_then(|value| error::parse_retry_after(value, chrono::Utc::now()));
                    if let Some(wait) = asked
                        && wait > self.options.max_retry_wait
                    {
                        return Err(UserError::new(
                            ExitStatus::Failure,
                            format!(
                                "Azure answered HTTP {status} to the request to {} and asked to retry after {}s, more \
                                 than `[azure] max_retry_wait` ({}s)",
                                operation.action,
                                wait.as_secs(),
                                self.options.max_retry_wait.as_secs()
                            ),
                        )
                        .with_hint("Try again later, or raise `[azure] max_retry_wait`")
                        .into());
                    }
                    tracing::info!(
                        "Azure answered HTTP {status} to the request to {}; retrying{}",
                        operation.action,
                        asked
                            .map(|wait| format!(" in {}s", wait.as_secs_f64()))
                            .unwrap_or_default()
                    );
                    asked
                }
            };
            let wait = retry_after
                .unwrap_or_else(|| backoff(attempt))
                .min(self.options.max_retry_wait);
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}

/// Statuses worth another try: timeouts, throttling and server errors (not 501/505, which will not change).
pub fn is_retryable(status: u16) -> bool {
    matches!(status, 408 | 429) || (status >= 500 && status != 501 && status != 505)
}

/// The wait before retry `attempt` (0-based) without a `Retry-After`: 1s, 2s, 4s, … up to 30s.
fn backoff(attempt: u32) -> Duration {
    Duration::from_secs(1u64 << attempt.min(5)).min(Duration::from_secs(30))
}

/// An SDK error and its sources on one line.
fn one_line(err: &azure_core::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&dyn std::error::Error> = Some(err);
    while let Some(cause) = current {
        let text = cause.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        current = cause.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_carry_the_api_version_and_stay_on_the_endpoint() {
        let credential = EntraCredential::new(CredentialChoice::Cli, &|_| None, None, Duration::from_secs(1))
            .expect("the CLI credential needs no variables");
        assert!(
            EntraCredential::new(CredentialChoice::Sas, &|_| None, None, Duration::from_secs(1)).is_err(),
            "a SAS token cannot authorize ARM"
        );
        let client = RestClient::new(
            Audience::new("https://127.0.0.1:8443/", "https://management.azure.com/.default"),
            credential,
            RestOptions::default(),
        )
        .expect("a client");
        let url = client
            .url_with_query(
                "/subscriptions/s/resourceGroups/g/providers/Microsoft.Insights/metrics",
                api_version::MONITOR_METRICS,
                &[("metricnames", "cpu_percent,memory_percent"), ("timespan", "PT1H")],
            )
            .expect("a URL");
        assert_eq!(
            url.as_str(),
            "https://127.0.0.1:8443/subscriptions/s/resourceGroups/g/providers/Microsoft.Insights/metrics?\
             api-version=2023-10-01&metricnames=cpu_percent%2Cmemory_percent&timespan=PT1H"
        );
        assert!(client.same_origin(&url));
        assert!(!client.same_origin(&Url::parse("https://127.0.0.1:9443/x").expect("url")));
        assert!(!client.same_origin(&Url::parse("https://evil.example/x").expect("url")));
        assert!(client.credential().contains("Azure CLI"));
    }

    #[test]
    fn retryable_statuses() {
        for status in [408, 429, 500, 502, 503, 504] {
            assert!(is_retryable(status), "{status}");
        }
        for status in [400, 401, 403, 404, 409, 501, 505] {
            assert!(!is_retryable(status), "{status}");
        }
        assert_eq!(backoff(0), Duration::from_secs(1));
        assert_eq!(backoff(2), Duration::from_secs(4));
        assert_eq!(backoff(40), Duration::from_secs(30));
    }
}
