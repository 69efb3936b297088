//! `petrel admin ...`: the REST API from the command line, so operators
//! need not write curl lines. Each subcommand is one API call; the answer's
//! JSON is printed, and a refusal prints its error code and description and
//! exits non-zero.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use base64::Engine as _;
use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};

/// How long one API call may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Args)]
pub struct AdminArgs {
    /// The API's base URL.
    #[arg(
        long,
        env = "PETREL_ADMIN_URL",
        default_value = "https://127.0.0.1:9443"
    )]
    url: String,
    /// Admin username ([admin] username).
    #[arg(long, env = "PETREL_ADMIN_USER", default_value = "admin")]
    user: String,
    /// Admin password ([admin] password).
    #[arg(long, env = "PETREL_ADMIN_PASSWORD", hide_env_values = true)]
    password: String,
    /// PEM file of the CA that signed the API's certificate (for example
    /// ca.pem of `petrel certs generate`).
    #[arg(long, env = "PETREL_ADMIN_CA")]
    ca: Option<PathBuf>,
    /// Do not verify the API's certificate (development only).
    #[arg(long)]
    insecure: bool,
    /// Client certificate (PEM chain) for an API with [admin] client_ca.
    #[arg(long, env = "PETREL_ADMIN_CERT", requires = "key")]
    cert: Option<PathBuf>,
    /// Private key (PEM) of --cert.
    #[arg(long, env = "PETREL_ADMIN_KEY", requires = "cert")]
    key: Option<PathBuf>,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Databases: list, create, update, delete.
    Bdb {
        #[command(subcommand)]
        command: BdbCommand,
    },
    /// A database's TLS mode and trusted client certificates.
    Tls {
        #[command(subcommand)]
        command: TlsCommand,
    },
    /// The node's certificates (proxy, syncer, api).
    Certificates {
        #[command(subcommand)]
        command: CertificatesCommand,
    },
    /// Node-wide TLS settings.
    Cluster {
        #[command(subcommand)]
        command: ClusterCommand,
    },
}

#[derive(Debug, Subcommand)]
enum BdbCommand {
    /// Print every database with its status (GET /v1/bdbs).
    List,
    /// Create a database; its port opens at once on every data thread (POST /v1/bdbs).
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        port: u16,
        #[command(flatten)]
        settings: BdbSettings,
    },
    /// Change a database's settings; unset flags keep their value (PUT /v1/bdbs/UID).
    Update {
        uid: u64,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        port: Option<u16>,
        #[command(flatten)]
        settings: BdbSettings,
    },
    /// Delete a database: its port and connections close, its keys are freed (DELETE /v1/bdbs/UID).
    Delete { uid: u64 },
}

#[derive(Debug, Args)]
struct BdbSettings {
    /// Memory limit in bytes (0 for none).
    #[arg(long)]
    memory_size: Option<u64>,
    /// Password of the default user ("" removes it).
    #[arg(long)]
    redis_password: Option<String>,
    #[command(flatten)]
    tls: TlsSettings,
    #[command(flatten)]
    replica: ReplicaSettings,
}

/// Replica Of: the database pulls from a source and refuses client writes.
#[derive(Debug, Args)]
struct ReplicaSettings {
    /// Make the database a Replica Of this source:
    /// redis://[:password@]host:port. Its keys are replaced by the source's
    /// (a full sync) and clients can no longer write to it.
    #[arg(long, value_name = "URI")]
    replica_of: Option<String>,
    /// Stop replicating: the database becomes writable at once and keeps
    /// every key it has.
    #[arg(long, conflicts_with = "replica_of")]
    no_replica_of: bool,
    /// Connect to the source over TLS (needs --replica-server-cert).
    #[arg(long, requires = "replica_of")]
    replica_encryption: bool,
    /// PEM file of the source's certificate or its CA, trusted for the link.
    #[arg(long, value_name = "FILE", requires = "replica_of")]
    replica_server_cert: Option<PathBuf>,
    /// PEM file of the certificate presented to the source (the node's
    /// syncer certificate when not given).
    #[arg(
        long,
        value_name = "FILE",
        requires_all = ["replica_of", "replica_client_key"]
    )]
    replica_client_cert: Option<PathBuf>,
    /// PEM file of the private key of --replica-client-cert.
    #[arg(long, value_name = "FILE", requires = "replica_client_cert")]
    replica_client_key: Option<PathBuf>,
    /// SNI sent to the source (its host by default).
    #[arg(long, value_name = "NAME", requires = "replica_of")]
    replica_tls_sni: Option<String>,
}

impl ReplicaSettings {
    /// `replica_sources` for the request body, if a flag sets it.
    fn to_json(&self) -> anyhow::Result<Option<Value>> {
        if self.no_replica_of {
            return Ok(Some(json!([])));
        }
        let Some(uri) = &self.replica_of else {
            return Ok(None);
        };
        let mut source = Map::new();
        source.insert("uri".into(), json!(uri));
        source.insert("encryption".into(), json!(self.replica_encryption));
        let pem = |path: &Option<PathBuf>| path.as_ref().map(read).transpose();
        insert(&mut source, "server_cert", pem(&self.replica_server_cert)?);
        insert(&mut source, "client_cert", pem(&self.replica_client_cert)?);
        insert(&mut source, "client_key", pem(&self.replica_client_key)?);
        insert(
            &mut source,
            "replication_tls_sni",
            self.replica_tls_sni.clone(),
        );
        Ok(Some(json!([Value::Object(source)])))
    }
}

#[derive(Debug, Args)]
struct TlsSettings {
    /// disabled, replica_ssl or enabled.
    #[arg(long)]
    tls_mode: Option<String>,
    /// enabled (a trusted client certificate is required) or disabled.
    #[arg(long)]
    enforce_client_authentication: Option<String>,
    /// A trusted client certificate or CA (PEM file); repeat for several.
    /// Replaces the list.
    #[arg(long = "client-cert")]
    client_certs: Vec<PathBuf>,
    /// Trust no client certificate (clears the list).
    #[arg(long, conflicts_with = "client_certs")]
    no_client_certs: bool,
}

#[derive(Debug, Subcommand)]
enum TlsCommand {
    /// Set a database's TLS mode and trust list (PUT /v1/bdbs/UID).
    Set {
        uid: u64,
        #[command(flatten)]
        tls: TlsSettings,
    },
}

#[derive(Debug, Subcommand)]
enum CertificatesCommand {
    /// Print the node's certificates, subjects and expiry (GET /v1/cluster/certificates).
    List,
    /// Replace a certificate and key; new handshakes use it at once, open
    /// connections continue (PUT /v1/cluster/certificates).
    Rotate {
        /// proxy, syncer or api.
        #[arg(long)]
        name: String,
        /// PEM file with the certificate chain, leaf first.
        #[arg(long)]
        cert: PathBuf,
        /// PEM file with its private key.
        #[arg(long)]
        key: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum ClusterCommand {
    /// Print the node-wide TLS settings (GET /v1/cluster).
    Show,
    /// Change node-wide TLS settings; unset flags keep their value (PUT /v1/cluster).
    Set {
        /// 1.2 or 1.3.
        #[arg(long)]
        min_data_tls_version: Option<String>,
        /// TLS 1.2 suites, colon separated ("" for the defaults).
        #[arg(long)]
        data_cipher_list: Option<String>,
        /// TLS 1.3 suites, colon separated ("" for the defaults).
        #[arg(long)]
        data_cipher_suites_tls_1_3: Option<String>,
        #[arg(long)]
        handshake_timeout_ms: Option<u64>,
        /// auto, required or off.
        #[arg(long)]
        ktls: Option<String>,
        /// Close sessions whose certificate a trust-list change removes: true or false.
        #[arg(long)]
        close_revoked_sessions: Option<bool>,
    },
}

pub fn run(args: AdminArgs) -> anyhow::Result<()> {
    let client = Client::new(&args)?;
    let (method, path, body) = request(args.command)?;
    let answer = client.call(method, &path, body)?;
    if !answer.is_null() {
        println!("{}", serde_json::to_string_pretty(&answer)?);
    }
    Ok(())
}

/// The API call a subcommand stands for.
fn request(command: AdminCommand) -> anyhow::Result<(&'static str, String, Option<Value>)> {
    Ok(match command {
        AdminCommand::Bdb { command } => match command {
            BdbCommand::List => ("GET", "/v1/bdbs".into(), None),
            BdbCommand::Create {
                name,
                port,
                settings,
            } => {
                let mut body = settings.to_json()?;
                body.insert("name".into(), json!(name));
                body.insert("port".into(), json!(port));
                ("POST", "/v1/bdbs".into(), Some(Value::Object(body)))
            }
            BdbCommand::Update {
                uid,
                name,
                port,
                settings,
            } => {
                let mut body = settings.to_json()?;
                if let Some(name) = name {
                    body.insert("name".into(), json!(name));
                }
                if let Some(port) = port {
                    body.insert("port".into(), json!(port));
                }
                ("PUT", format!("/v1/bdbs/{uid}"), Some(Value::Object(body)))
            }
            BdbCommand::Delete { uid } => ("DELETE", format!("/v1/bdbs/{uid}"), None),
        },
        AdminCommand::Tls {
            command: TlsCommand::Set { uid, tls },
        } => (
            "PUT",
            format!("/v1/bdbs/{uid}"),
            Some(Value::Object(tls.to_json()?)),
        ),
        AdminCommand::Certificates { command } => match command {
            CertificatesCommand::List => ("GET", "/v1/cluster/certificates".into(), None),
            CertificatesCommand::Rotate { name, cert, key } => {
                let certificate = read(&cert)?;
                let key = read(&key)?;
                (
                    "PUT",
                    "/v1/cluster/certificates".into(),
                    Some(json!({"certificates": [
                        {"name": name, "certificate": certificate, "key": key}
                    ]})),
                )
            }
        },
        AdminCommand::Cluster { command } => match command {
            ClusterCommand::Show => ("GET", "/v1/cluster".into(), None),
            ClusterCommand::Set {
                min_data_tls_version,
                data_cipher_list,
                data_cipher_suites_tls_1_3,
                handshake_timeout_ms,
                ktls,
                close_revoked_sessions,
            } => {
                let mut body = Map::new();
                insert(&mut body, "min_data_TLS_version", min_data_tls_version);
                insert(&mut body, "data_cipher_list", data_cipher_list);
                insert(
                    &mut body,
                    "data_cipher_suites_tls_1_3",
                    data_cipher_suites_tls_1_3,
                );
                insert(&mut body, "handshake_timeout_ms", handshake_timeout_ms);
                insert(&mut body, "ktls", ktls);
                insert(&mut body, "close_revoked_sessions", close_revoked_sessions);
                if body.is_empty() {
                    bail!("nothing to change: give at least one setting (see --help)");
                }
                ("PUT", "/v1/cluster".into(), Some(Value::Object(body)))
            }
        },
    })
}

fn insert<T: serde::Serialize>(body: &mut Map<String, Value>, key: &str, value: Option<T>) {
    if let Some(value) = value {
        body.insert(key.into(), json!(value));
    }
}

fn read(path: &PathBuf) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

impl BdbSettings {
    fn to_json(&self) -> anyhow::Result<Map<String, Value>> {
        let mut body = self.tls.to_json()?;
        insert(&mut body, "memory_size", self.memory_size);
        insert(
            &mut body,
            "authentication_redis_pass",
            self.redis_password.clone(),
        );
        insert(&mut body, "replica_sources", self.replica.to_json()?);
        Ok(body)
    }
}

impl TlsSettings {
    fn to_json(&self) -> anyhow::Result<Map<String, Value>> {
        let mut body = Map::new();
        insert(&mut body, "tls_mode", self.tls_mode.clone());
        insert(
            &mut body,
            "enforce_client_authentication",
            self.enforce_client_authentication.clone(),
        );
        if self.no_client_certs {
            body.insert("authentication_ssl_client_certs".into(), json!([]));
        } else if !self.client_certs.is_empty() {
            let certs = self
                .client_certs
                .iter()
                .map(|path| Ok(json!({"client_cert": read(path)?})))
                .collect::<anyhow::Result<Vec<Value>>>()?;
            body.insert(
                "authentication_ssl_client_certs".into(),
                Value::Array(certs),
            );
        }
        Ok(body)
    }
}

struct Client {
    agent: ureq::Agent,
    base: String,
    authorization: String,
}

impl Client {
    fn new(args: &AdminArgs) -> anyhow::Result<Client> {
        let mut tls = ureq::tls::TlsConfig::builder().unversioned_rustls_crypto_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ));
        if let Some(ca) = &args.ca {
            let pem = std::fs::read(ca).with_context(|| format!("cannot read {}", ca.display()))?;
            let certs = ureq::tls::parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(cert)) => Some(Ok(cert)),
                    Ok(_) => None,
                    Err(error) => Some(Err(error)),
                })
                .collect::<Result<Vec<_>, _>>()
                .with_context(|| format!("{} is not PEM", ca.display()))?;
            if certs.is_empty() {
                bail!("{} holds no certificate", ca.display());
            }
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
        }
        if args.insecure {
            tls = tls.disable_verification(true);
        }
        if let (Some(cert), Some(key)) = (&args.cert, &args.key) {
            let pem =
                std::fs::read(cert).with_context(|| format!("cannot read {}", cert.display()))?;
            let chain = ureq::tls::parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(cert)) => Some(Ok(cert)),
                    Ok(_) => None,
                    Err(error) => Some(Err(error)),
                })
                .collect::<Result<Vec<_>, _>>()
                .with_context(|| format!("{} is not PEM", cert.display()))?;
            let key_pem =
                std::fs::read(key).with_context(|| format!("cannot read {}", key.display()))?;
            let key = ureq::tls::PrivateKey::from_pem(&key_pem)
                .with_context(|| format!("{} holds no private key", key.display()))?;
            tls = tls.client_cert(Some(ureq::tls::ClientCert::new_with_certs(&chain, key)));
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .tls_config(tls.build())
            .http_status_as_error(false)
            .timeout_global(Some(REQUEST_TIMEOUT))
            .build()
            .into();
        let credentials = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", args.user, args.password));
        Ok(Client {
            agent,
            base: args.url.trim_end_matches('/').to_owned(),
            authorization: format!("Basic {credentials}"),
        })
    }

    /// One API call; the JSON answer, or an error carrying the API's
    /// error code and description.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let result = match (method, body) {
            ("GET", _) => self
                .agent
                .get(&url)
                .header("Authorization", &self.authorization)
                .call(),
            ("DELETE", _) => self
                .agent
                .delete(&url)
                .header("Authorization", &self.authorization)
                .call(),
            (method, body) => {
                let text = body.unwrap_or(Value::Null).to_string();
                let request = if method == "POST" {
                    self.agent.post(&url)
                } else {
                    self.agent.put(&url)
                };
                request
                    .header("Authorization", &self.authorization)
                    .content_type("application/json")
                    .send(text.as_str())
            }
        };
        let mut response = result.with_context(|| format!("{method} {url} failed"))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .with_context(|| format!("{method} {url}: cannot read the answer"))?;
        let value: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if (200..300).contains(&status) {
            return Ok(value);
        }
        let code = value
            .get("error_code")
            .and_then(Value::as_str)
            .unwrap_or("error");
        let description = value
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| value.to_string());
        bail!("{method} {path}: {status} {code}: {description}")
    }
}
