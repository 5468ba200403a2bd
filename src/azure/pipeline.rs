//! Client options shared by every Azure client campctl builds: a bounded retry and a per-try timeout.
//!
//! With the SDK's defaults a dead endpoint or an untrusted certificate is retried for about 80 seconds before the
//! error surfaces (azure-sdk-facts.md), and a server that accepts a connection and never answers is waited on for
//! the transport's read timeout. campctl bounds both from `[storage.azure] max_retries` and `timeout`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use azure_core::error::ErrorKind;
use azure_core::http::policies::{Policy, PolicyResult};
use azure_core::http::{ClientOptions, Context, ExponentialRetryOptions, Request, RetryOptions};
// The SDK's own `time` crate, re-exported: no direct dependency to keep in step with azure_core's.
use azure_core::time;

/// Default retries of one request after the first try.
pub const DEFAULT_MAX_RETRIES: u32 = 3;
/// Default timeout of one try of one request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// How hard to try one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first try (transient errors only: I/O, connection, 408/429/5xx).
    pub max_retries: u32,
    /// The limit of one try, from sending the request to receiving the response headers.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: DEFAULT_MAX_RETRIES,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl RetryPolicy {
    /// `ClientOptions` with this retry and timeout (the SDK's default transport, decompression off, is kept).
    pub fn client_options(self) -> ClientOptions {
        let timeout = time::Duration::try_from(self.timeout).unwrap_or(time::Duration::MAX);
        let retry = ExponentialRetryOptions {
            initial_delay: time::Duration::milliseconds(200),
            max_retries: self.max_retries,
            // Every try may take `timeout`; the retries as a whole may not take much longer.
            max_total_elapsed: timeout.saturating_mul(i32::try_from(self.max_retries + 1).unwrap_or(i32::MAX)),
            max_delay: time::Duration::seconds(5),
        };
        ClientOptions {
            retry: RetryOptions::exponential(retry),
            per_try_policies: vec![Arc::new(TimeoutPolicy { timeout: self.timeout })],
            ..ClientOptions::default()
        }
    }

    /// `ClientOptions` with the per-try timeout and no retry policy, for a client that retries itself (the REST
    /// client, which bounds `Retry-After`: see `azure::rest`).
    pub fn single_try_options(self) -> ClientOptions {
        ClientOptions {
            retry: RetryOptions::none(),
            per_try_policies: vec![Arc::new(TimeoutPolicy { timeout: self.timeout })],
            ..ClientOptions::default()
        }
    }
}

/// Fails one try with an I/O error (which the retry policy retries) when the response headers do not arrive in
/// time. It sits in the per-try list, after the retry policy and before the transport.
#[derive(Debug)]
struct TimeoutPolicy {
    timeout: Duration,
}

// `Policy` is declared with `#[async_trait]`; this is that macro's expansion written out, so that campctl needs no
// `async-trait` dependency of its own.
impl Policy for TimeoutPolicy {
    fn send<'life0, 'life1, 'life3, 'life4, 'async_trait>(
        &'life0 self,
        ctx: &'life1 Context,
        request: &'life3 mut Request,
        next: &'life4 [Arc<dyn Policy>],
    ) -> Pin<Box<dyn Future<Output = PolicyResult> + Send + 'async_trait>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life3: 'async_trait,
        'life4: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            let Some((first, rest)) = next.split_first() else {
                return Err(azure_core::Error::with_message(
                    ErrorKind::Other,
                    "the timeout policy must not be the last policy of a pipeline",
                ));
            };
            match tokio::time::timeout(self.timeout, first.send(ctx, request, rest)).await {
                Ok(result) => result,
                Err(_) => Err(azure_core::Error::with_message(
                    ErrorKind::Io,
                    format!(
                        "no response from `{}` within {}s",
                        request.url().host_str().unwrap_or("the service"),
                        self.timeout.as_secs_f64()
                    ),
                )),
            }
        })
    }
}
