//! An in-process HTTP(S) server for the tests of checks and clients that talk to a web service (`health`'s `api`
//! check today; the Azure ARM, Monitor and Log Analytics stand-ins later).
//!
//! It listens on 127.0.0.1 on a free port, in its own thread with a tokio runtime, plain HTTP or HTTPS with a
//! certificate from [`TestCa`](super::TestCa). It answers by method and path (the query is not part of the match)
//! with a configured [`Route`]: status, headers, body and a delay before the answer; a route may be a sequence of
//! answers (the last repeats), as ARM's async-operation polling needs. An unknown route is a 404 with a JSON error
//! body. A [`Handler`] (a closure over the request) may answer first, for stand-ins with state. Every request is recorded ([`Recorded`]) for the test to inspect. hyper (1.x) speaks HTTP/1.1 and
//! tokio-rustls (ring) TLS: no HTTP parsing of our own. The server stops when dropped.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;

use super::tls::ServerCert;

/// One answer of a route.
#[derive(Debug, Clone)]
pub struct Route {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// How long the server waits before it answers.
    pub delay: Duration,
}

impl Route {
    /// `status` with an empty body.
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    /// `status` with a JSON body (`Content-Type: application/json`).
    pub fn json(status: u16, body: &Value) -> Self {
        Self::status(status)
            .header("content-type", "application/json")
            .body(body.to_string())
    }

    /// `status` with a text body (`Content-Type: text/plain`).
    pub fn text(status: u16, body: &str) -> Self {
        Self::status(status).header("content-type", "text/plain").body(body)
    }

    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    #[must_use]
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    #[must_use]
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// A request the server received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Header names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find_map(|(key, value)| (*key == name).then_some(value.as_str()))
    }

    /// The body as JSON.
    ///
    /// # Panics
    /// If the body is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|err| panic!("request body is not JSON: {err}"))
    }
}

/// A dynamic answer: sees each request and answers it, or returns `None` to leave it to the static routes.
pub type Handler = Arc<dyn Fn(&Recorded) -> Option<Route> + Send + Sync>;

#[derive(Default)]
struct Shared {
    /// `(METHOD, path)` → the answers still to give; the last one repeats.
    routes: Mutex<HashMap<(String, String), Vec<Route>>>,
    requests: Mutex<Vec<Recorded>>,
    /// Consulted before the routes (a stateful stand-in such as tests/common/arm.rs).
    handler: Mutex<Option<Handler>>,
}

impl Shared {
    fn answer(&self, method: &str, path: &str) -> Route {
        let mut routes = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
        match routes.get_mut(&(method.to_owned(), path.to_owned())) {
            Some(answers) if answers.len() > 1 => answers.remove(0),
            Some(answers) if !answers.is_empty() => answers[0].clone(),
            _ => Route::json(
                404,
                &serde_json::json!({ "error": format!("the test server has no route for {method} {path}") }),
            ),
        }
    }
}

/// The running server; see the module docs.
pub struct HttpServer {
    address: SocketAddr,
    tls: bool,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl HttpServer {
    /// A plain HTTP server.
    pub fn http() -> Self {
        Self::start(None)
    }

    /// An HTTPS server presenting `cert` (issue it for `127.0.0.1` with [`TestCa::issue_server_cert`](
    /// super::TestCa::issue_server_cert)).
    pub fn https(cert: &ServerCert) -> Self {
        Self::start(Some(tls_acceptor(cert)))
    }

    fn start(tls: Option<tokio_rustls::TlsAcceptor>) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the test HTTP server");
        listener.set_nonblocking(true).expect("non-blocking listener");
        let address = listener.local_addr().expect("the test HTTP server's address");
        let shared = Arc::new(Shared::default());
        let (shutdown, mut stop) = tokio::sync::oneshot::channel::<()>();
        let is_tls = tls.is_some();
        let thread = std::thread::Builder::new()
            .name("test-http-server".into())
            .spawn({
                let shared = Arc::clone(&shared);
                move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("the test HTTP server's runtime");
                    runtime.block_on(async move {
                        let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                        loop {
                            tokio::select! {
                                _ = &mut stop => break,
                                accepted = listener.accept() => {
                                    let Ok((stream, _)) = accepted else { continue };
                                    tokio::spawn(serve(stream, tls.clone(), Arc::clone(&shared)));
                                }
                            }
                        }
                    });
                }
            })
            .expect("spawn the test HTTP server");
        Self {
            address,
            tls: is_tls,
            shared,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// Answers `method path` with `route` from now on.
    pub fn route(&self, method: &str, path: &str, route: Route) -> &Self {
        self.route_sequence(method, path, vec![route])
    }

    /// Answers `method path` with `routes` in turn; the last one repeats.
    pub fn route_sequence(&self, method: &str, path: &str, routes: Vec<Route>) -> &Self {
        self.shared
            .routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((method.to_ascii_uppercase(), path.to_owned()), routes);
        self
    }

    /// Answers every request with `handler` first (it returns `None` to fall back to the routes).
    pub fn handler(&self, handler: Handler) -> &Self {
        *self.shared.handler.lock().unwrap_or_else(PoisonError::into_inner) = Some(handler);
        self
    }

    /// `http(s)://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}{path}", self.address)
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// The requests received so far, oldest first.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn tls_acceptor(cert: &ServerCert) -> tokio_rustls::TlsAcceptor {
    let certs: Vec<_> = rustls_pemfile::certs(&mut cert.cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .expect("the server certificate PEM");
    let key = rustls_pemfile::private_key(&mut cert.key_pem.as_bytes())
        .expect("the server key PEM")
        .expect("a private key");
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("ring supports TLS 1.2 and 1.3")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("a usable server certificate");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// One connection: TLS if configured (a failed handshake, e.g. a client that does not trust the CA, just ends it),
/// then HTTP/1.1 until the client closes.
async fn serve(stream: tokio::net::TcpStream, tls: Option<tokio_rustls::TlsAcceptor>, shared: Arc<Shared>) {
    let service = service_fn(move |request: Request<Incoming>| {
        let shared = Arc::clone(&shared);
        async move { Ok::<_, Infallible>(respond(request, &shared).await) }
    });
    let http = hyper::server::conn::http1::Builder::new();
    match tls {
        Some(acceptor) => {
            if let Ok(stream) = acceptor.accept(stream).await {
                let _ = http.serve_connection(TokioIo::new(stream), service).await;
            }
        }
        None => {
            let _ = http.serve_connection(TokioIo::new(stream), service).await;
        }
    }
}

async fn respond(request: Request<Incoming>, shared: &Shared) -> Response<Full<Bytes>> {
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().map(str::to_owned);
    let headers = request
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = request
        .into_body()
        .collect()
        .await
        .map(|collected| collected.to_bytes().to_vec())
        .unwrap_or_default();
    let recorded = Recorded {
        method: method.clone(),
        path: path.clone(),
        query,
        headers,
        body,
    };
    shared
        .requests
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(recorded.clone());
    let handler = shared.handler.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let route = handler
        .and_then(|handler| handler(&recorded))
        .unwrap_or_else(|| shared.answer(&method, &path));
    if !route.delay.is_zero() {
        tokio::time::sleep(route.delay).await;
    }
    let mut response = Response::builder().status(route.status);
    for (name, value) in &route.headers {
        response = response.header(name, value);
    }
    response
        .body(Full::new(Bytes::from(route.body)))
        .expect("a valid test response")
}
