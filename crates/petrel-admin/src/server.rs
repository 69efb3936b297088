//! The HTTPS server: its own thread with a small single-threaded tokio
//! runtime (never a data ring), rustls with the node's `api` certificate
//! (the proxy certificate when no `api` pair is set), HTTP basic auth, and
//! the routes. A change runs through [`Admin::change`]: candidate state,
//! whole validation, data plane, disk, in that order, under one lock, so
//! concurrent requests apply one after the other and a refused one leaves
//! everything as it was.

use std::fmt::Write as _;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use petrel_tls::rustls;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use tracing::{debug, info, warn};

use crate::error::{ApiError, ErrorBody};
use crate::model::{
    Bdb, BdbCreate, BdbUpdate, CertificatePair, CertificatesUpdate, ClusterUpdate, ControlState,
};
use crate::persist;
use crate::plane::{DataPlane, DatabaseStats, NodeStats, PlaneError};

/// The default listen address, as Redis Enterprise's API.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9443";
/// A request body larger than this is refused (certificate lists included).
const BODY_BYTES_MAX: usize = 4 * 1024 * 1024;
/// A client that has not finished its TLS handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// ops/s is measured over at least this long between two reads.
const RATE_WINDOW_MIN: Duration = Duration::from_millis(200);

/// Where and for whom the API serves.
#[derive(Clone, Debug)]
pub struct AdminConfig {
    pub listen: SocketAddr,
    pub username: String,
    pub password: String,
    /// The state file lives here.
    pub data_dir: PathBuf,
    /// PEM of CA certificates: when set, clients must present a
    /// certificate one of them signed, as well as the basic-auth credentials.
    pub client_ca_pem: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("cannot listen on {address}")]
    Listen {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("the admin API needs a certificate: set [admin] api_cert and api_key, or node.tls proxy_cert and proxy_key")]
    NoCertificate,
    #[error("admin API certificate: {0}")]
    Certificate(String),
    #[error("admin.client_ca: {0}")]
    ClientCa(String),
    #[error("cannot save the control state")]
    Persist(#[from] persist::PersistError),
    #[error("cannot start the admin thread")]
    Thread(#[source] std::io::Error),
}

/// The running API.
pub struct AdminHandle {
    local_addr: SocketAddr,
}

impl AdminHandle {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

/// The control plane's shared state.
pub struct Admin {
    config: AdminConfig,
    state: Mutex<ControlState>,
    plane: Box<dyn DataPlane>,
    tls: ArcSwap<rustls::ServerConfig>,
    rates: Mutex<Rates>,
}

/// The last counter reading, to turn totals into ops/s.
#[derive(Default)]
struct Rates {
    sampled_at: Option<Instant>,
    requests: Vec<(u64, u64)>,
    per_second: Vec<(u64, f64)>,
}

/// Starts the API on its own thread. `state` is what the data plane serves
/// now; it is saved at once so a fresh node's seeded state survives a restart.
pub fn spawn(
    config: AdminConfig,
    state: ControlState,
    plane: Box<dyn DataPlane>,
) -> Result<AdminHandle, AdminError> {
    let tls = server_config(state.api_pair(), config.client_ca_pem.as_deref())?;
    persist::save(&config.data_dir, &state)?;
    let listener = StdTcpListener::bind(config.listen).map_err(|source| AdminError::Listen {
        address: config.listen,
        source,
    })?;
    let local_addr = listener.local_addr().map_err(|source| AdminError::Listen {
        address: config.listen,
        source,
    })?;
    listener
        .set_nonblocking(true)
        .map_err(|source| AdminError::Listen {
            address: config.listen,
            source,
        })?;
    let admin = Arc::new(Admin {
        config,
        state: Mutex::new(state),
        plane,
        tls: ArcSwap::from_pointee(tls),
        rates: Mutex::new(Rates::default()),
    });
    std::thread::Builder::new()
        .name("petrel-admin".into())
        .spawn(move || run(admin, listener))
        .map_err(AdminError::Thread)?;
    info!(address = %local_addr, "admin API listening (HTTPS)");
    Ok(AdminHandle { local_addr })
}

fn run(admin: Arc<Admin>, listener: StdTcpListener) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            warn!(%error, "admin API: cannot build its runtime; the API is off");
            return;
        }
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(listener) => listener,
            Err(error) => {
                warn!(%error, "admin API: cannot use its listener; the API is off");
                return;
            }
        };
        let app = router(admin.clone());
        loop {
            let (tcp, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    debug!(%error, "admin API: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let acceptor = tokio_rustls::TlsAcceptor::from(admin.tls.load_full());
            let app = app.clone();
            tokio::spawn(async move {
                let stream =
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => stream,
                        Ok(Err(error)) => {
                            debug!(%peer, %error, "admin API: TLS handshake failed");
                            return;
                        }
                        Err(_) => return,
                    };
                let service = hyper_util::service::TowerToHyperService::new(app);
                if let Err(error) = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await
                {
                    debug!(%peer, %error, "admin API: connection ended");
                }
            });
        }
    });
}

/// A rustls server config for the API from a certificate pair.
fn server_config(
    pair: Option<&CertificatePair>,
    client_ca_pem: Option<&str>,
) -> Result<rustls::ServerConfig, AdminError> {
    let pair = pair.ok_or(AdminError::NoCertificate)?;
    let chain = petrel_tls::certs::parse_certificates(pair.certificate.as_bytes())
        .map_err(|problem| AdminError::Certificate(problem.to_string()))?
        .into_iter()
        .map(|cert| cert.der().clone())
        .collect();
    let key = petrel_tls::certs::parse_private_key(pair.key.as_bytes())
        .map_err(|problem| AdminError::Certificate(problem.to_string()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|error| AdminError::Certificate(error.to_string()))?;
    let builder = match client_ca_pem {
        None => builder.with_no_client_auth(),
        Some(pem) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in petrel_tls::certs::parse_certificates(pem.as_bytes())
                .map_err(|problem| AdminError::ClientCa(problem.to_string()))?
            {
                roots
                    .add(cert.der().clone())
                    .map_err(|error| AdminError::ClientCa(error.to_string()))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .map_err(|error| AdminError::ClientCa(error.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|error| AdminError::Certificate(error.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn router(admin: Arc<Admin>) -> Router {
    Router::new()
        .route("/v1/bdbs", get(list_bdbs).post(create_bdb))
        .route(
            "/v1/bdbs/{uid}",
            get(read_bdb).put(update_bdb).delete(delete_bdb),
        )
        .route("/v1/bdbs/{uid}/stats", get(bdb_stats))
        .route("/v1/cluster", get(read_cluster).put(update_cluster))
        .route(
            "/v1/cluster/certificates",
            get(read_certificates).put(update_certificates),
        )
        .route("/metrics", get(metrics))
        .fallback(|| async { ApiError::not_found("this endpoint") })
        .layer(middleware::from_fn_with_state(admin.clone(), authenticate))
        .with_state(admin)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = ErrorBody {
            error_code: self.error_code,
            description: &self.description,
        };
        let mut response = (status, axum::Json(body)).into_response();
        if self.status == 401 {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"petrel\""),
            );
        }
        response
    }
}

/// HTTP basic auth against the configured admin user.
async fn authenticate(State(admin): State<Arc<Admin>>, request: Request, next: Next) -> Response {
    let granted = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "))
        .and_then(|encoded| {
            base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .ok()
        })
        .is_some_and(|decoded| {
            let expected = format!("{}:{}", admin.config.username, admin.config.password);
            constant_time_eq(&decoded, expected.as_bytes())
        });
    if granted {
        next.run(request).await
    } else {
        ApiError::new(
            401,
            "unauthorized",
            "HTTP basic authentication with the admin username and password is required",
        )
        .into_response()
    }
}

/// Compares without stopping at the first difference, so timing does not
/// reveal how much of a guessed password was right.
fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    if left.len() != right.len() {
        return false;
    }
    left.iter()
        .zip(right)
        .fold(0u8, |difference, (a, b)| difference | (a ^ b))
        == 0
}

/// Parses a JSON body, naming the field of a type error or unknown field.
fn parse_body<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    if body.len() > BODY_BYTES_MAX {
        return Err(ApiError::new(
            413,
            "body_too_large",
            format!("the body exceeds {BODY_BYTES_MAX} bytes"),
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        if path == "." {
            ApiError::schema(error.inner())
        } else {
            ApiError::schema(format!("{path}: {}", error.inner()))
        }
    })?;
    deserializer.end().map_err(ApiError::schema)?;
    Ok(value)
}

fn parse_uid(text: &str) -> Result<u64, ApiError> {
    text.parse()
        .map_err(|_| ApiError::invalid("uid", format!("`{text}` is not a database uid")))
}

impl Admin {
    fn lock_state(&self) -> MutexGuard<'_, ControlState> {
        // A panic while holding the lock cannot leave a half-written state:
        // the state is replaced whole at the end of `change`.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Applies a change whole or not at all: build the candidate, validate
    /// it, have the data plane serve it, save it; on a failed save the data
    /// plane goes back to the old state.
    pub fn change<T>(
        &self,
        build: impl FnOnce(&ControlState) -> Result<(ControlState, T), ApiError>,
    ) -> Result<(ControlState, T), ApiError> {
        let mut state = self.lock_state();
        let (next, output) = build(&state)?;
        next.validate(SystemTime::now())?;
        let api_changed = next.api_pair() != state.api_pair();
        let tls = if api_changed {
            Some(
                server_config(next.api_pair(), self.config.client_ca_pem.as_deref()).map_err(
                    |error| {
                        ApiError::new(
                            400,
                            "invalid_certificate",
                            format!("certificates[api]: {error}"),
                        )
                    },
                )?,
            )
        } else {
            None
        };
        self.plane
            .apply(&next.desired())
            .map_err(|error| match error {
                PlaneError::Listen { port, reason, .. } => ApiError::port_unavailable(
                    "port",
                    format!("port {port} cannot be opened: {reason}"),
                ),
                PlaneError::Refused { field, reason } => ApiError::invalid(field, reason),
                other => ApiError::internal(other),
            })?;
        if let Err(error) = persist::save(&self.config.data_dir, &next) {
            warn!(%error, "cannot save the control state; the change is undone");
            if let Err(error) = self.plane.apply(&state.desired()) {
                warn!(%error, "cannot undo a change the disk refused");
            }
            return Err(ApiError::internal(error));
        }
        if let Some(tls) = tls {
            self.tls.store(Arc::new(tls));
        }
        *state = next.clone();
        Ok((next, output))
    }

    /// Counters from the data plane, with ops/s over the time since the
    /// last reading.
    fn stats(&self) -> Result<(NodeStats, Vec<(u64, f64)>), ApiError> {
        let stats = self.plane.stats().map_err(ApiError::internal)?;
        let mut rates = self
            .rates
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        let elapsed = rates.sampled_at.map(|at| now.duration_since(at));
        if elapsed.is_none_or(|elapsed| elapsed >= RATE_WINDOW_MIN) {
            let seconds = elapsed.map(|e| e.as_secs_f64()).unwrap_or(0.0);
            let per_second = stats
                .databases
                .iter()
                .map(|(uid, database)| {
                    let before = rates
                        .requests
                        .iter()
                        .find(|(known, _)| known == uid)
                        .map(|(_, total)| *total);
                    let rate = match before {
                        Some(before) if seconds > 0.0 => {
                            database.requests_total.saturating_sub(before) as f64 / seconds
                        }
                        _ => 0.0,
                    };
                    (*uid, rate)
                })
                .collect();
            rates.per_second = per_second;
            rates.requests = stats
                .databases
                .iter()
                .map(|(uid, database)| (*uid, database.requests_total))
                .collect();
            rates.sampled_at = Some(now);
        }
        Ok((stats, rates.per_second.clone()))
    }
}

fn ok_json(value: Value) -> Response {
    axum::Json(value).into_response()
}

/// A bdb as the API shows it: its settings and read-only status.
fn bdb_json(bdb: &Bdb, stats: Option<&DatabaseStats>, ops_per_second: f64) -> Value {
    let mut value = serde_json::to_value(bdb).unwrap_or(Value::Null);
    if let Value::Object(fields) = &mut value {
        // A private key is never shown (as for the node's certificates).
        if let Some(Value::Array(sources)) = fields.get_mut("replica_sources") {
            for source in sources {
                if let Value::Object(source) = source {
                    source.remove("client_key");
                }
            }
        }
        fields.insert("status".into(), json!("active"));
        fields.insert("ssl".into(), json!(crate::state::tls_enabled(bdb)));
        let stats = stats.cloned().unwrap_or_default();
        fields.insert("connections".into(), json!(stats.connections));
        fields.insert("ops_per_sec".into(), json!(ops_per_second));
        fields.insert("used_memory".into(), json!(stats.used_memory_bytes));
        fields.insert("keys".into(), json!(stats.keys));
    }
    value
}

/// `{"p50": us, "p99": us, "p99.9": us}` of a database's service time.
fn latency_json(stats: &DatabaseStats) -> Value {
    let mut fields = serde_json::Map::new();
    for (quantile, micros) in &stats.latency_us {
        fields.insert(quantile_label(*quantile), json!(micros));
    }
    Value::Object(fields)
}

fn quantile_label(quantile: f64) -> String {
    let percent = format!("{:.1}", quantile * 100.0);
    format!("p{}", percent.trim_end_matches(".0"))
}

fn lookup<T: Copy + Default>(list: &[(u64, T)], uid: u64) -> T {
    list.iter()
        .find(|(known, _)| *known == uid)
        .map(|(_, value)| *value)
        .unwrap_or_default()
}

fn stats_of(stats: &NodeStats, uid: u64) -> Option<&DatabaseStats> {
    stats
        .databases
        .iter()
        .find(|(known, _)| *known == uid)
        .map(|(_, database)| database)
}

async fn list_bdbs(State(admin): State<Arc<Admin>>) -> Result<Response, ApiError> {
    let state = admin.lock_state().clone();
    let (stats, rates) = admin.stats()?;
    let list: Vec<Value> = state
        .bdbs
        .iter()
        .map(|bdb| bdb_json(bdb, stats_of(&stats, bdb.uid), lookup(&rates, bdb.uid)))
        .collect();
    Ok(ok_json(Value::Array(list)))
}

async fn read_bdb(
    State(admin): State<Arc<Admin>>,
    Path(uid): Path<String>,
) -> Result<Response, ApiError> {
    let uid = parse_uid(&uid)?;
    let bdb = admin
        .lock_state()
        .bdb(uid)
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("database {uid}")))?;
    let (stats, rates) = admin.stats()?;
    Ok(ok_json(bdb_json(
        &bdb,
        stats_of(&stats, uid),
        lookup(&rates, uid),
    )))
}

async fn create_bdb(State(admin): State<Arc<Admin>>, body: Bytes) -> Result<Response, ApiError> {
    let request: BdbCreate = parse_body(&body)?;
    let (state, uid) = admin.change(|state| state.with_bdb_created(request))?;
    let bdb = state
        .bdb(uid)
        .ok_or_else(|| ApiError::internal("created database vanished"))?;
    Ok((StatusCode::OK, axum::Json(bdb_json(bdb, None, 0.0))).into_response())
}

async fn update_bdb(
    State(admin): State<Arc<Admin>>,
    Path(uid): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let uid = parse_uid(&uid)?;
    let request: BdbUpdate = parse_body(&body)?;
    let (state, ()) = admin.change(|state| Ok((state.with_bdb_updated(uid, request)?, ())))?;
    let bdb = state
        .bdb(uid)
        .ok_or_else(|| ApiError::not_found(format!("database {uid}")))?;
    Ok(ok_json(bdb_json(bdb, None, 0.0)))
}

async fn delete_bdb(
    State(admin): State<Arc<Admin>>,
    Path(uid): Path<String>,
) -> Result<Response, ApiError> {
    let uid = parse_uid(&uid)?;
    admin.change(|state| Ok((state.with_bdb_deleted(uid)?, ())))?;
    Ok(StatusCode::OK.into_response())
}

async fn bdb_stats(
    State(admin): State<Arc<Admin>>,
    Path(uid): Path<String>,
) -> Result<Response, ApiError> {
    let uid = parse_uid(&uid)?;
    if admin.lock_state().bdb(uid).is_none() {
        return Err(ApiError::not_found(format!("database {uid}")));
    }
    let (stats, rates) = admin.stats()?;
    let database = stats_of(&stats, uid).cloned().unwrap_or_default();
    Ok(ok_json(json!({
        "uid": uid,
        "conns": database.connections,
        "total_req": database.requests_total,
        "instantaneous_ops_per_sec": lookup(&rates, uid),
        "no_of_keys": database.keys,
        "used_memory": database.used_memory_bytes,
        "latency_us": latency_json(&database),
    })))
}

fn cluster_json(state: &ControlState) -> Value {
    serde_json::to_value(&state.cluster).unwrap_or(Value::Null)
}

async fn read_cluster(State(admin): State<Arc<Admin>>) -> Response {
    ok_json(cluster_json(&admin.lock_state()))
}

async fn update_cluster(
    State(admin): State<Arc<Admin>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: ClusterUpdate = parse_body(&body)?;
    let (state, ()) = admin.change(|state| Ok((state.with_cluster(request)?, ())))?;
    Ok(ok_json(cluster_json(&state)))
}

/// Each certificate's PEM, subject and expiry; never a key.
fn certificates_json(state: &ControlState) -> Value {
    let mut list = Vec::new();
    for (name, pair) in [
        ("proxy", &state.certificates.proxy),
        ("syncer", &state.certificates.syncer),
        ("api", &state.certificates.api),
    ] {
        if let Some(pair) = pair {
            let leaf = petrel_tls::certs::parse_certificates(pair.certificate.as_bytes())
                .ok()
                .and_then(|chain| chain.into_iter().next());
            list.push(json!({
                "name": name,
                "certificate": pair.certificate,
                "subject": leaf.as_ref().map(|leaf| leaf.subject().to_owned()),
                "not_after": leaf.as_ref().map(|leaf| leaf.not_after()),
            }));
        }
    }
    json!({ "certificates": list })
}

async fn read_certificates(State(admin): State<Arc<Admin>>) -> Response {
    ok_json(certificates_json(&admin.lock_state()))
}

async fn update_certificates(
    State(admin): State<Arc<Admin>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: CertificatesUpdate = parse_body(&body)?;
    let (state, ()) = admin.change(|state| Ok((state.with_certificates(request)?, ())))?;
    Ok(ok_json(certificates_json(&state)))
}

/// A per-database metric: name, type, help, and how to read it.
type MetricFamily = (
    &'static str,
    &'static str,
    &'static str,
    fn(&DatabaseStats) -> u64,
);

/// Prometheus text exposition.
async fn metrics(State(admin): State<Arc<Admin>>) -> Result<Response, ApiError> {
    let state = admin.lock_state().clone();
    let (stats, rates) = admin.stats()?;
    let mut text = String::new();
    let mut family = |name: &str, kind: &str, help: &str| {
        let _ = write!(text, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
    };
    family(
        "petrel_bdb_connections",
        "gauge",
        "Open client connections per database.",
    );
    let mut lines = String::new();
    for bdb in &state.bdbs {
        let labels = format!("bdb=\"{}\",name=\"{}\"", bdb.uid, escape(&bdb.name));
        let database = stats_of(&stats, bdb.uid).cloned().unwrap_or_default();
        let _ = writeln!(
            lines,
            "petrel_bdb_connections{{{labels}}} {}",
            database.connections
        );
    }
    text.push_str(&lines);
    lines.clear();
    let per_database: [MetricFamily; 3] = [
        (
            "petrel_bdb_requests_total",
            "counter",
            "Requests run per database.",
            |d| d.requests_total,
        ),
        ("petrel_bdb_keys", "gauge", "Keys per database.", |d| d.keys),
        (
            "petrel_bdb_used_memory_bytes",
            "gauge",
            "Memory used per database.",
            |d| d.used_memory_bytes,
        ),
    ];
    for (name, kind, help, field) in per_database {
        let _ = write!(text, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
        for bdb in &state.bdbs {
            let database = stats_of(&stats, bdb.uid).cloned().unwrap_or_default();
            let _ = writeln!(
                text,
                "{name}{{bdb=\"{}\",name=\"{}\"}} {}",
                bdb.uid,
                escape(&bdb.name),
                field(&database)
            );
        }
    }
    let _ = write!(
        text,
        "# HELP petrel_bdb_ops_per_second Requests per second per database since the previous reading.\n# TYPE petrel_bdb_ops_per_second gauge\n"
    );
    for bdb in &state.bdbs {
        let _ = writeln!(
            text,
            "petrel_bdb_ops_per_second{{bdb=\"{}\",name=\"{}\"}} {:.1}",
            bdb.uid,
            escape(&bdb.name),
            lookup(&rates, bdb.uid)
        );
    }
    let _ = write!(
        text,
        "# HELP petrel_bdb_latency_microseconds Service time of requests per database since it was created (from the data threads' HDR histograms).\n# TYPE petrel_bdb_latency_microseconds summary\n"
    );
    for bdb in &state.bdbs {
        let database = stats_of(&stats, bdb.uid).cloned().unwrap_or_default();
        for (quantile, micros) in &database.latency_us {
            let _ = writeln!(
                text,
                "petrel_bdb_latency_microseconds{{bdb=\"{}\",name=\"{}\",quantile=\"{quantile}\"}} {micros}",
                bdb.uid,
                escape(&bdb.name),
            );
        }
    }
    let _ = write!(
        text,
        "# HELP petrel_connections Open connections by transport.\n# TYPE petrel_connections gauge\n"
    );
    for (transport, count) in &stats.connections_by_transport {
        let _ = writeln!(
            text,
            "petrel_connections{{transport=\"{transport}\"}} {count}"
        );
    }
    let _ = write!(
        text,
        "# HELP petrel_tls_handshakes_completed_total TLS handshakes completed on data ports.\n# TYPE petrel_tls_handshakes_completed_total counter\npetrel_tls_handshakes_completed_total {}\n",
        stats.handshakes_completed
    );
    let _ = write!(
        text,
        "# HELP petrel_tls_handshake_failures_total Failed TLS handshakes on data ports by reason.\n# TYPE petrel_tls_handshake_failures_total counter\n"
    );
    for (reason, count) in &stats.handshake_failures {
        let _ = writeln!(
            text,
            "petrel_tls_handshake_failures_total{{reason=\"{reason}\"}} {count}"
        );
    }
    let _ = write!(
        text,
        "# HELP petrel_certificate_expiry_timestamp_seconds When each configured certificate expires (notAfter, Unix time).\n# TYPE petrel_certificate_expiry_timestamp_seconds gauge\n"
    );
    for (name, subject, not_after) in certificate_expiries(&state) {
        let _ = writeln!(
            text,
            "petrel_certificate_expiry_timestamp_seconds{{certificate=\"{}\",subject=\"{}\"}} {not_after}",
            escape(&name),
            escape(&subject)
        );
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        text,
    )
        .into_response())
}

/// (certificate, subject, notAfter) of every certificate in the state:
/// the node's pairs and each database's trusted certificates.
fn certificate_expiries(state: &ControlState) -> Vec<(String, String, i64)> {
    let mut expiries = Vec::new();
    let mut add = |name: String, pem: &str| {
        if let Ok(chain) = petrel_tls::certs::parse_certificates(pem.as_bytes()) {
            for cert in chain.iter().take(1) {
                expiries.push((name.clone(), cert.subject().to_owned(), cert.not_after()));
            }
        }
    };
    for (name, pair) in [
        ("proxy", &state.certificates.proxy),
        ("syncer", &state.certificates.syncer),
        ("api", &state.certificates.api),
    ] {
        if let Some(pair) = pair {
            add(name.to_owned(), &pair.certificate);
        }
    }
    for bdb in &state.bdbs {
        for (list, certs) in [
            (
                "authentication_ssl_client_certs",
                &bdb.authentication_ssl_client_certs,
            ),
            (
                "authentication_ssl_crdt_certs",
                &bdb.authentication_ssl_crdt_certs,
            ),
        ] {
            for (index, cert) in certs.iter().enumerate() {
                add(
                    format!("bdb {} {list}[{index}]", bdb.uid),
                    &cert.client_cert,
                );
            }
        }
    }
    expiries
}

/// Escapes a Prometheus label value.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Equal byte strings compare equal; any difference or length does not.
    #[test]
    fn credentials_compare_whole() {
        assert!(constant_time_eq(b"admin:pw", b"admin:pw"));
        assert!(!constant_time_eq(b"admin:pw", b"admin:px"));
        assert!(!constant_time_eq(b"admin:pw", b"admin:pw2"));
        assert!(!constant_time_eq(b"", b"x"));
    }

    /// Type errors and unknown fields name their path; trailing bytes and
    /// non-JSON are schema errors too.
    #[test]
    fn body_errors_name_the_field() {
        let error = parse_body::<ClusterUpdate>(&Bytes::from_static(
            br#"{"handshake_timeout_ms": "soon"}"#,
        ))
        .expect_err("wrong type");
        assert_eq!((error.status, error.error_code), (400, "invalid_schema"));
        assert!(
            error.description.starts_with("handshake_timeout_ms:"),
            "{error}"
        );
        let error = parse_body::<BdbUpdate>(&Bytes::from_static(
            br#"{"authentication_ssl_client_certs": [{"cert": "x"}]}"#,
        ))
        .expect_err("unknown nested field");
        assert!(
            error
                .description
                .starts_with("authentication_ssl_client_certs[0]"),
            "{error}"
        );
        assert!(parse_body::<BdbUpdate>(&Bytes::from_static(b"{} {}")).is_err());
        assert!(parse_body::<BdbUpdate>(&Bytes::from_static(b"nope")).is_err());
    }

    /// Quantile labels read as operators write them.
    #[test]
    fn quantile_labels() {
        assert_eq!(quantile_label(0.5), "p50");
        assert_eq!(quantile_label(0.99), "p99");
        assert_eq!(quantile_label(0.999), "p99.9");
    }

    /// Label values with quotes, backslashes and newlines stay one label.
    #[test]
    fn prometheus_labels_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
