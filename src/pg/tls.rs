//! rustls configuration for each `sslmode`, matching libpq's semantics:
//! `prefer` / `require` encrypt without verifying (unless a root certificate is configured, when `require`
//! behaves as `verify-ca`, as libpq does), `verify-ca` checks the chain, `verify-full` also the host name.
//!
//! A server certificate that is itself one of the certificates of the root file (a self-signed certificate, the
//! `openssl req -x509` recipe of PostgreSQL's documentation) is trusted as libpq (OpenSSL) trusts it; WebPKI alone
//! refuses it. [`self_signed`] checks it instead.

mod self_signed;

use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::conninfo::SslMode;
use crate::exit::UserError;

/// How the server certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// Encrypt, accept any certificate.
    None,
    /// The chain must lead to a trusted root; the name is not checked.
    Chain,
    /// Chain and host name.
    Full,
}

/// The verification a mode asks for, given whether a root certificate is configured.
pub fn verification(mode: SslMode, has_root_cert: bool) -> Verification {
    match mode {
        SslMode::Require if has_root_cert => Verification::Chain,
        SslMode::Disable | SslMode::Prefer | SslMode::Require => Verification::None,
        SslMode::VerifyCa => Verification::Chain,
        SslMode::VerifyFull => Verification::Full,
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The trusted roots: the store, and the certificates read from the root file (not the system's), which a server
/// may present as its own certificate.
struct Roots {
    store: RootCertStore,
    from_file: Vec<CertificateDer<'static>>,
}

/// Loads the root store from a PEM file, or from the system store for `system` (as libpq ≥ 16 accepts).
fn root_store(root_cert: Option<&Path>) -> Result<Roots, UserError> {
    let mut store = RootCertStore::empty();
    let mut from_file = Vec::new();
    let no_roots = || {
        UserError::usage("sslmode verify-ca/verify-full needs a root certificate and none was found").with_hint(
            "Set `sslrootcert` in the URL or campctl.toml, PGSSLROOTCERT, or put the CA into ~/.postgresql/root.crt \
             (`system` uses the operating system's CAs)",
        )
    };
    let path = root_cert.ok_or_else(no_roots)?;
    if path == Path::new("system") {
        let found = rustls_native_certs::load_native_certs();
        for cert in found.certs {
            let _ = store.add(cert);
        }
    } else {
        let file = fs_err::File::open(path).map_err(|e| {
            UserError::usage(format!("Failed to read the root certificate `{}`: {e}", path.display()))
                .with_hint("Check sslrootcert / PGSSLROOTCERT")
        })?;
        let mut reader = std::io::BufReader::new(file);
        for cert in rustls_pemfile::certs(&mut reader) {
            let cert =
                cert.map_err(|e| UserError::usage(format!("`{}` is not a PEM certificate file: {e}", path.display())))?;
            store.add(cert.clone()).map_err(|e| {
                UserError::usage(format!(
                    "`{}` holds a certificate rustls cannot use: {e}",
                    path.display()
                ))
            })?;
            from_file.push(cert);
        }
    }
    if store.is_empty() {
        return Err(
            UserError::usage(format!("No certificates found in `{}`", path.display()))
                .with_hint("sslrootcert must be a PEM file with one or more CA certificates"),
        );
    }
    Ok(Roots { store, from_file })
}

/// Builds the rustls client configuration for a verification level.
///
/// # Errors
/// A missing or unreadable root certificate file.
///
/// # Panics
/// Never: ring supports rustls's default protocol versions.
pub fn client_config(verification: Verification, root_cert: Option<&Path>) -> Result<ClientConfig, UserError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions");
    let config = match verification {
        Verification::None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny { provider }))
            .with_no_client_auth(),
        Verification::Chain | Verification::Full => {
            let Roots { store, from_file } = root_store(root_cert)?;
            let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider)
                .build()
                .map_err(|e| UserError::usage(format!("Cannot use the root certificates: {e}")))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Libpq {
                    inner,
                    from_file,
                    check_name: verification == Verification::Full,
                }))
                .with_no_client_auth()
        }
    };
    Ok(config)
}

/// `prefer` / `require`: encryption without authentication of the server, as libpq does.
#[derive(Debug)]
struct AcceptAny {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca` and `verify-full`: the WebPKI chain check (with a name mismatch forgiven under `verify-ca`), except
/// for a server certificate that is one of the root file's own certificates, which [`self_signed`] checks as libpq
/// does. The handshake signatures are verified as usual in both cases.
#[derive(Debug)]
struct Libpq {
    inner: Arc<WebPkiServerVerifier>,
    from_file: Vec<CertificateDer<'static>>,
    check_name: bool,
}

impl ServerCertVerifier for Libpq {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(err) if self_signed::applies(&err) && self.from_file.iter().any(|root| root == end_entity) => {
                self_signed::verify(end_entity, server_name, now, self.check_name)?;
                Ok(ServerCertVerified::assertion())
            }
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
