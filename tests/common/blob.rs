//! A tiny blob-service client for tests: raw HTTP/1.1 over `TcpStream` with Shared Key authorization.
//!
//! It lets tests seed, inspect and tamper with what campctl stores, independently of campctl's own Azure code (so a
//! bug there cannot hide itself). The string-to-sign follows "Authorize with Shared Key"
//! (<https://learn.microsoft.com/rest/api/storageservices/authorize-with-shared-key>); Azurite checks it the same
//! way (`dist/src/blob/authentication/BlobSharedKeyAuthenticator.js`), with the path-style account name appearing
//! twice in the canonicalized resource.

use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac as _};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::Sha256;

use super::azurite::{ACCOUNT, ACCOUNT_KEY, Azurite};

/// Characters escaped in paths and query values: all but RFC 3986 unreserved characters (and `/` in paths).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
const PATH: &AsciiSet = &QUERY_VALUE.remove(b'/');

/// The API version sent; Azurite runs with `--skipApiVersionCheck` anyway.
const API_VERSION: &str = "2021-12-02";

/// The headers, in order, whose values go into the string-to-sign before the `x-ms-*` headers.
const SIGNED_HEADERS: [&str; 11] = [
    "content-encoding",
    "content-language",
    "content-length",
    "content-md5",
    "content-type",
    "date",
    "if-modified-since",
    "if-match",
    "if-none-match",
    "if-unmodified-since",
    "range",
];

/// A complete HTTP response.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names in lowercase, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Panics with the service's error body unless the status is `expected`.
    #[track_caller]
    pub fn expect_status(self, expected: u16, what: &str) -> Self {
        assert_eq!(self.status, expected, "{what}: HTTP {} {}", self.status, self.text());
        self
    }
}

impl Azurite {
    /// Sends one request signed with Shared Key. `resource` is `container` or `container/blob/name` (not yet escaped);
    /// `query` values are not yet escaped either.
    pub fn request(
        &self,
        method: &str,
        resource: &str,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> HttpResponse {
        self.request_signed_with(ACCOUNT_KEY, method, resource, query, headers, body)
    }

    /// [`Self::request`], signed with `key` (base64) instead of the account key: for authorization-failure tests.
    pub fn request_signed_with(
        &self,
        key: &str,
        method: &str,
        resource: &str,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> HttpResponse {
        let path = format!("/{ACCOUNT}/{}", utf8_percent_encode(resource, PATH));
        let mut target = path.clone();
        for (index, (key, value)) in query.iter().enumerate() {
            let separator = if index == 0 { '?' } else { '&' };
            let _ = write!(target, "{separator}{key}={}", utf8_percent_encode(value, QUERY_VALUE));
        }
        let date = chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        let length = body.len().to_string();
        let mut all_headers: Vec<(String, String)> = vec![
            ("x-ms-date".into(), date),
            ("x-ms-version".into(), API_VERSION.into()),
            ("content-length".into(), length),
        ];
        all_headers.extend(
            headers
                .iter()
                .map(|(key, value)| (key.to_ascii_lowercase(), (*value).to_owned())),
        );
        let signature = sign(key, method, &path, query, &all_headers);
        all_headers.push(("authorization".into(), format!("SharedKey {ACCOUNT}:{signature}")));

        let mut request = format!(
            "{method} {target} HTTP/1.1\r\nhost: 127.0.0.1:{}\r\nconnection: close\r\n",
            self.port()
        );
        for (key, value) in &all_headers {
            let _ = write!(request, "{key}: {value}\r\n");
        }
        request.push_str("\r\n");
        let mut stream = TcpStream::connect(("127.0.0.1", self.port()))
            .unwrap_or_else(|e| panic!("connect to Azurite on port {}: {e}", self.port()));
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .expect("set a read timeout");
        let mut raw = Vec::new();
        stream
            .write_all(request.as_bytes())
            .and_then(|()| stream.write_all(body))
            .and_then(|()| stream.read_to_end(&mut raw))
            .unwrap_or_else(|e| panic!("{method} {target}: {e}"));
        parse_response(&raw).unwrap_or_else(|| {
            panic!(
                "{method} {target}: malformed response:\n{}",
                String::from_utf8_lossy(&raw)
            )
        })
    }

    pub fn create_container(&self, container: &str) {
        self.request("PUT", container, &[("restype", "container")], &[], &[])
            .expect_status(201, &format!("create container {container}"));
    }

    pub fn delete_container(&self, container: &str) {
        self.request("DELETE", container, &[("restype", "container")], &[], &[])
            .expect_status(202, &format!("delete container {container}"));
    }

    /// Uploads `data` as a block blob in one request (replacing any blob of that name).
    pub fn put_blob(&self, container: &str, blob: &str, data: &[u8]) {
        self.request(
            "PUT",
            &format!("{container}/{blob}"),
            &[],
            &[("x-ms-blob-type", "BlockBlob")],
            data,
        )
        .expect_status(201, &format!("put blob {container}/{blob}"));
    }

    /// Downloads a blob's bytes.
    pub fn get_blob(&self, container: &str, blob: &str) -> Vec<u8> {
        self.request("GET", &format!("{container}/{blob}"), &[], &[], &[])
            .expect_status(200, &format!("get blob {container}/{blob}"))
            .body
    }

    /// The names of the committed blobs in `container` (first 5,000; tests never hold more).
    pub fn list_blobs(&self, container: &str) -> Vec<String> {
        let response = self
            .request(
                "GET",
                container,
                &[("comp", "list"), ("restype", "container")],
                &[],
                &[],
            )
            .expect_status(200, &format!("list blobs in {container}"));
        let text = response.text();
        text.split("<Name>")
            .skip(1)
            .filter_map(|rest| rest.split_once("</Name>"))
            .map(|(name, _)| unescape_xml(name))
            .collect()
    }
}

/// The Shared Key signature (base64 HMAC-SHA256 with `key`, itself base64) of one request.
fn sign(key: &str, method: &str, path: &str, query: &[(&str, &str)], headers: &[(String, String)]) -> String {
    let value_of = |name: &str| {
        headers
            .iter()
            .find(|(key, _)| key == name)
            .map_or("", |(_, value)| value.as_str())
    };
    let mut string_to_sign = format!("{method}\n");
    for name in SIGNED_HEADERS {
        // Since version 2015-02-21 a zero Content-Length is signed as empty.
        let value = match value_of(name) {
            "0" if name == "content-length" => "",
            value => value,
        };
        string_to_sign.push_str(value);
        string_to_sign.push('\n');
    }
    let mut ms_headers: Vec<&(String, String)> = headers.iter().filter(|(key, _)| key.starts_with("x-ms-")).collect();
    ms_headers.sort_by(|a, b| a.0.cmp(&b.0));
    for (key, value) in ms_headers {
        let _ = writeln!(string_to_sign, "{key}:{}", value.trim());
    }
    let _ = write!(string_to_sign, "/{ACCOUNT}{path}");
    let mut sorted_query: Vec<(String, &str)> = query
        .iter()
        .map(|(key, value)| (key.to_ascii_lowercase(), *value))
        .collect();
    sorted_query.sort();
    for (key, value) in sorted_query {
        let _ = write!(string_to_sign, "\n{key}:{value}");
    }
    let key = BASE64.decode(key).expect("the signing key is base64");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes keys of any length");
    mac.update(string_to_sign.as_bytes());
    BASE64.encode(mac.finalize().into_bytes())
}

fn parse_response(raw: &[u8]) -> Option<HttpResponse> {
    let split = raw.windows(4).position(|window| window == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(key, value)| (key.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let mut response = HttpResponse {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    };
    if response
        .header("transfer-encoding")
        .is_some_and(|value| value.eq_ignore_ascii_case("chunked"))
    {
        response.body = dechunk(&response.body)?;
    }
    Some(response)
}

/// Decodes a `Transfer-Encoding: chunked` body.
fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = data.windows(2).position(|window| window == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

fn unescape_xml(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}
