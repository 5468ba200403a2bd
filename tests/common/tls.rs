//! Throw-away certificate authorities for the run (rcgen): the PostgreSQL server certificate, a second unrelated CA
//! for wrong-CA tests, and server certificates for in-process HTTPS stand-ins.

use std::net::IpAddr;

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
    SanType,
};

/// A CA generated for this run; it signs server certificates.
pub struct TestCa {
    certificate: Certificate,
    key: KeyPair,
}

/// A server certificate and its private key, both PEM.
pub struct ServerCert {
    pub cert_pem: String,
    pub key_pem: String,
}

impl TestCa {
    /// A new self-signed CA named `common_name`.
    pub fn new(common_name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("empty SAN list");
        params.distinguished_name.push(DnType::CommonName, common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("generate the CA key");
        let certificate = params.self_signed(&key).expect("self-sign the CA");
        Self { certificate, key }
    }

    /// The CA certificate, PEM: what a client passes as its trust root.
    pub fn cert_pem(&self) -> String {
        self.certificate.pem()
    }

    /// A server certificate for the given DNS names and IP addresses, signed by this CA.
    pub fn issue_server_cert(&self, dns_names: &[&str], ips: &[IpAddr]) -> ServerCert {
        let names: Vec<String> = dns_names.iter().map(|name| (*name).to_owned()).collect();
        let mut params = CertificateParams::new(names).expect("valid DNS names");
        params
            .subject_alt_names
            .extend(ips.iter().copied().map(SanType::IpAddress));
        params
            .distinguished_name
            .push(DnType::CommonName, dns_names.first().copied().unwrap_or("localhost"));
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate().expect("generate the server key");
        let certificate = params
            .signed_by(&key, &self.certificate, &self.key)
            .expect("sign the server certificate");
        ServerCert {
            cert_pem: certificate.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

/// What a self-signed server certificate says about itself in `basicConstraints`.
#[derive(Debug, Clone, Copy)]
pub enum SelfSigned {
    /// `CA:TRUE`, as `openssl req -new -x509` makes it (PostgreSQL's documentation's recipe).
    Ca,
    /// `CA:FALSE`.
    NotCa,
    /// No `basicConstraints` extension.
    NoConstraints,
}

/// A self-signed server certificate (issuer = subject, signed with its own key) for `common_name`, with the given
/// DNS names and IP addresses as subject alternative names (none: the common name alone names the server).
pub fn self_signed_server_cert(kind: SelfSigned, common_name: &str, dns_names: &[&str], ips: &[IpAddr]) -> ServerCert {
    let names: Vec<String> = dns_names.iter().map(|name| (*name).to_owned()).collect();
    let mut params = CertificateParams::new(names).expect("valid DNS names");
    params
        .subject_alt_names
        .extend(ips.iter().copied().map(SanType::IpAddress));
    params.distinguished_name.push(DnType::CommonName, common_name);
    params.is_ca = match kind {
        SelfSigned::Ca => IsCa::Ca(BasicConstraints::Unconstrained),
        SelfSigned::NotCa => IsCa::ExplicitNoCa,
        SelfSigned::NoConstraints => IsCa::NoCa,
    };
    if !matches!(kind, SelfSigned::Ca) {
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    }
    let key = KeyPair::generate().expect("generate the server key");
    let certificate = params.self_signed(&key).expect("self-sign the server certificate");
    ServerCert {
        cert_pem: certificate.pem(),
        key_pem: key.serialize_pem(),
    }
}
