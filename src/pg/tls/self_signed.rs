//! A server certificate that is one of the root file's own certificates.
//!
//! libpq hands the root file to OpenSSL, which trusts a certificate found there as it is: a self-signed server
//! certificate copied to `~/.postgresql/root.crt` (made, say, with `openssl req -x509` as PostgreSQL's documentation
//! shows, which marks it `CA:TRUE`) passes `require`, `verify-ca` and `verify-full` with psql. WebPKI refuses a
//! certificate that is both trust anchor and server certificate (`CaUsedAsEndEntity`, or `UnknownIssuer`).
//!
//! When the presented certificate is byte for byte one of the root file's certificates, campctl checks it as libpq
//! does instead: the validity dates; the purposes, when the certificate lists any (extended key usage `serverAuth`;
//! key usage `digitalSignature`, `keyEncipherment` or `keyAgreement`), as OpenSSL's `ssl_server` purpose does;
//! and for `verify-full` the host name with libpq's rules: the subject alternative names (DNS names, and IP
//! addresses for an IP host), else the first common name when there is no alternative name of the host's kind,
//! a leading `*.` matching one label. The handshake signature is verified as usual, so only the holder of the
//! certificate's key gets through.

use std::net::IpAddr;

use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, OtherError};
use x509_cert::Certificate;
use x509_cert::der::asn1::OctetString;
use x509_cert::der::oid::db::{rfc4519, rfc5280};
use x509_cert::der::{Decode, Tag, Tagged};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectAltName};

/// Whether WebPKI's refusal is one that a certificate of the root file, presented as it is, gets a second look for:
/// a CA certificate as the server's (`CaUsedAsEndEntity`), no issuer found, or a host name that WebPKI's rules
/// (alternative names only) do not find but libpq's may.
pub(super) fn applies(err: &rustls::Error) -> bool {
    let rustls::Error::InvalidCertificate(err) = err else {
        return false;
    };
    match err {
        CertificateError::UnknownIssuer
        | CertificateError::NotValidForName
        | CertificateError::NotValidForNameContext { .. } => true,
        CertificateError::Other(OtherError(inner)) => {
            matches!(
                inner.downcast_ref::<webpki::Error>(),
                Some(webpki::Error::CaUsedAsEndEntity)
            )
        }
        _ => false,
    }
}

/// Checks a certificate of the root file presented as the server's certificate, as libpq does (see the module docs).
///
/// # Errors
/// The certificate cannot be read, is outside its validity dates, is not for a TLS server, or (with `check_name`)
/// does not name `server_name`.
pub(super) fn verify(
    der: &CertificateDer<'_>,
    server_name: &ServerName<'_>,
    now: UnixTime,
    check_name: bool,
) -> Result<(), rustls::Error> {
    let cert = Certificate::from_der(der).map_err(|_| CertificateError::BadEncoding)?;
    let tbs = &cert.tbs_certificate;
    let not_before = UnixTime::since_unix_epoch(tbs.validity.not_before.to_unix_duration());
    let not_after = UnixTime::since_unix_epoch(tbs.validity.not_after.to_unix_duration());
    if now.as_secs() < not_before.as_secs() {
        return Err(CertificateError::NotValidYetContext { time: now, not_before }.into());
    }
    if now.as_secs() > not_after.as_secs() {
        return Err(CertificateError::ExpiredContext { time: now, not_after }.into());
    }
    let mut alt_names = Vec::new();
    for extension in tbs.extensions.iter().flatten() {
        let value = extension.extn_value.as_bytes();
        if extension.extn_id == rfc5280::ID_CE_EXT_KEY_USAGE {
            let purposes = ExtendedKeyUsage::from_der(value).map_err(|_| CertificateError::BadEncoding)?;
            if !purposes.0.contains(&rfc5280::ID_KP_SERVER_AUTH) {
                return Err(CertificateError::InvalidPurpose.into());
            }
        } else if extension.extn_id == rfc5280::ID_CE_KEY_USAGE {
            let usage = KeyUsage::from_der(value).map_err(|_| CertificateError::BadEncoding)?;
            let server = KeyUsages::DigitalSignature | KeyUsages::KeyEncipherment | KeyUsages::KeyAgreement;
            if usage.0.is_disjoint(server) {
                return Err(CertificateError::InvalidPurpose.into());
            }
        } else if extension.extn_id == rfc5280::ID_CE_SUBJECT_ALT_NAME {
            alt_names = SubjectAltName::from_der(value)
                .map_err(|_| CertificateError::BadEncoding)?
                .0;
        }
    }
    if !check_name {
        return Ok(());
    }
    let common_name = first_common_name(&cert);
    let (matched, presented) = host_matches(server_name, &alt_names, common_name);
    if matched {
        Ok(())
    } else {
        Err(CertificateError::NotValidForNameContext {
            expected: server_name.to_owned(),
            presented,
        }
        .into())
    }
}

/// libpq's host name check (`pgtls_verify_peer_name_matches_certificate_guts`): the alternative names; the common
/// name only when no alternative name is of the host's kind (DNS for a name, IP for an address). Returns whether one
/// matched and the names looked at.
fn host_matches(
    server_name: &ServerName<'_>,
    alt_names: &[GeneralName],
    common_name: Option<&str>,
) -> (bool, Vec<String>) {
    let (host, ip) = match server_name {
        ServerName::DnsName(name) => (name.as_ref().to_owned(), None),
        ServerName::IpAddress(ip) => {
            let ip = IpAddr::from(*ip);
            (ip.to_string(), Some(ip))
        }
        _ => return (false, Vec::new()),
    };
    let mut presented = Vec::new();
    let mut check_common_name = true;
    for name in alt_names {
        let matched = match name {
            GeneralName::DnsName(dns) => {
                check_common_name &= ip.is_some();
                presented.push(dns.to_string());
                name_matches(dns.as_ref(), &host)
            }
            GeneralName::IpAddress(octets) => {
                check_common_name &= ip.is_none();
                let address = address(octets);
                presented.push(address.map_or_else(|| hex::encode(octets.as_bytes()), |address| address.to_string()));
                ip.is_some() && address == ip
            }
            _ => false,
        };
        if matched {
            return (true, presented);
        }
    }
    if check_common_name && let Some(common_name) = common_name {
        presented.push(common_name.to_owned());
        return (name_matches(common_name, &host), presented);
    }
    (false, presented)
}

/// An IPv4 or IPv6 address from an `iPAddress` alternative name (4 or 16 bytes).
fn address(octets: &OctetString) -> Option<IpAddr> {
    let bytes = octets.as_bytes();
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        Some(IpAddr::from(v4))
    } else {
        <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from)
    }
}

/// libpq's `pq_verify_peer_name_matches_certificate_name`: equal ignoring ASCII case, or a `*.rest` pattern whose
/// `*` stands for one non-empty label.
fn name_matches(pattern: &str, host: &str) -> bool {
    if pattern.contains('\0') {
        return false;
    }
    if pattern.eq_ignore_ascii_case(host) {
        return true;
    }
    let Some(suffix) = pattern
        .strip_prefix('*')
        .filter(|suffix| suffix.len() >= 2 && suffix.starts_with('.'))
    else {
        return false;
    };
    let Some(label_len) = host.len().checked_sub(suffix.len()).filter(|len| *len > 0) else {
        return false;
    };
    host.get(label_len..)
        .is_some_and(|host_suffix| host_suffix.eq_ignore_ascii_case(suffix))
        && host.get(..label_len).is_some_and(|label| !label.contains('.'))
}

/// The subject's first common name, if it is a string type OpenSSL reads as text.
fn first_common_name(cert: &Certificate) -> Option<&str> {
    cert.tbs_certificate
        .subject
        .0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .find(|attribute| attribute.oid == rfc4519::CN)
        .filter(|attribute| {
            matches!(
                attribute.value.tag(),
                Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::TeletexString
            )
        })
        .and_then(|attribute| std::str::from_utf8(attribute.value.value()).ok())
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, SanType};

    use super::*;

    fn cert(sans: &[SanType], common_name: Option<&str>, configure: impl FnOnce(&mut CertificateParams)) -> Vec<u8> {
        let mut params = CertificateParams::default();
        params.subject_alt_names = sans.to_vec();
        params.distinguished_name = rcgen::DistinguishedName::new();
        if let Some(common_name) = common_name {
            params.distinguished_name.push(DnType::CommonName, common_name);
        }
        params.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        configure(&mut params);
        let key = KeyPair::generate().expect("a key");
        params.self_signed(&key).expect("self-signed").der().to_vec()
    }

    fn check(der: &[u8], host: &str, check_name: bool) -> Result<(), rustls::Error> {
        let name = ServerName::try_from(host.to_owned()).expect("a server name");
        verify(&CertificateDer::from(der.to_vec()), &name, UnixTime::now(), check_name)
    }

    fn dns(name: &str) -> SanType {
        SanType::DnsName(name.try_into().expect("a DNS name"))
    }

    #[test]
    fn alternative_names_of_the_hosts_kind_hide_the_common_name() {
        let der = cert(&[dns("db.example")], Some("other.example"), |_| {});
        assert!(check(&der, "db.example", true).is_ok());
        assert!(check(&der, "DB.Example", true).is_ok());
        assert!(check(&der, "other.example", true).is_err());
        // A DNS name does not hide the common name from an IP host (libpq), an IP address does.
        let der = cert(&[dns("db.example")], Some("127.0.0.1"), |_| {});
        assert!(check(&der, "127.0.0.1", true).is_ok());
        let der = cert(
            &[SanType::IpAddress(Ipv4Addr::LOCALHOST.into())],
            Some("127.0.0.2"),
            |_| {},
        );
        assert!(check(&der, "127.0.0.1", true).is_ok());
        assert!(check(&der, "127.0.0.2", true).is_err());
    }

    #[test]
    fn the_common_name_counts_without_alternative_names() {
        let der = cert(&[], Some("db.example"), |_| {});
        assert!(check(&der, "db.example", true).is_ok());
        let Err(rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext { presented, .. })) =
            check(&der, "localhost", true)
        else {
            panic!("a name mismatch")
        };
        assert_eq!(presented, ["db.example"]);
        // verify-ca does not look at the name.
        assert!(check(&der, "localhost", false).is_ok());
    }

    #[test]
    fn a_wildcard_stands_for_one_label() {
        assert!(name_matches("*.example.com", "db.example.com"));
        assert!(name_matches("*.Example.com", "DB.example.COM"));
        assert!(!name_matches("*.example.com", "a.db.example.com"));
        assert!(!name_matches("*.example.com", "example.com"));
        assert!(!name_matches("*.example.com", ".example.com"));
        assert!(!name_matches("*", "localhost"));
        assert!(!name_matches("db*.example.com", "db1.example.com"));
    }

    #[test]
    fn dates_and_purposes_are_checked() {
        let expired = cert(&[dns("localhost")], None, |params| {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        });
        assert!(matches!(
            check(&expired, "localhost", false),
            Err(rustls::Error::InvalidCertificate(
                CertificateError::ExpiredContext { .. }
            ))
        ));
        let client_only = cert(&[dns("localhost")], None, |params| {
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        });
        assert!(check(&client_only, "localhost", false).is_err());
        let signing_only = cert(&[dns("localhost")], None, |params| {
            params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
        });
        assert!(check(&signing_only, "localhost", false).is_err());
        let server = cert(&[dns("localhost")], None, |params| {
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        });
        assert!(check(&server, "localhost", true).is_ok());
    }
}
