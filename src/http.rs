//! The client side of campctl's HTTPS and other TLS clients besides PostgreSQL (their rustls configuration, and one
//! line for an HTTP error with its causes): `health`'s `redis`
//! (`rediss://`) and `api` (`https://`) checks and the webhook of `[notify]`. The server's chain and name are
//! verified against the system's CAs, or against the CAs of a configured PEM file instead. ring is the provider, as
//! for every other TLS connection campctl opens (`pg::tls`). A service (floor 2) that imports nothing of campctl,
//! so that the commands and `notify` share one configuration instead of importing each other's.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use rustls::{ClientConfig, RootCertStore};

/// A client configuration that trusts `ca_file`'s certificates, or the system's without one.
///
/// # Errors
/// `ca_file` cannot be read or holds no certificate; the system has no CA certificates.
pub(crate) fn client_config(ca_file: Option<&Path>) -> anyhow::Result<ClientConfig> {
    let mut roots = RootCertStore::empty();
    if let Some(path) = ca_file {
        let file = fs_err::File::open(path)?;
        for cert in rustls_pemfile::certs(&mut std::io::BufReader::new(file)) {
            let cert = cert.with_context(|| format!("`{}` is not a PEM certificate file", path.display()))?;
            roots
                .add(cert)
                .with_context(|| format!("`{}` holds a certificate rustls cannot use", path.display()))?;
        }
        anyhow::ensure!(!roots.is_empty(), "no certificate found in `{}`", path.display());
    } else {
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        anyhow::ensure!(
            !roots.is_empty(),
            "the system has no CA certificates to verify the server with (set `ca_file`)"
        );
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("ring does not support TLS 1.2 or 1.3")?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// An HTTP error and its sources on one line, each only once (reqwest's own text hides the cause: "error sending
/// request"). Callers leave the URL out of `err` (`without_url`): it may hold a secret.
pub(crate) fn error_chain(err: &reqwest::Error) -> String {
    let mut parts: Vec<String> = vec![err.to_string()];
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}
