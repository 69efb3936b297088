//! Admin API additions to the end-to-end harness.
//!
//! This module owns: a config with an `[admin]` table and a data directory
//! that outlives one server (so a restart can find its state), an HTTPS
//! client for the REST API (ureq over rustls, trusting the development CA,
//! with or without basic-auth credentials), and certificates of a second
//! CA for rotation tests.
//!
//! It must not talk to anything but 127.0.0.1 and must not leave files
//! behind: an [`AdminDir`] removes its directory when dropped.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use petrel_tls::rustls::crypto::aws_lc_rs;
use petrel_tls::testing::{self, GeneratedCert, Profile, Validity};
use serde_json::Value;

use crate::tls::{NodeTls, Pki};
use crate::{free_port, fresh_dir, toml_string, Config, IO_TIMEOUT};

/// The admin user every admin test configures.
pub const ADMIN_USER: &str = "admin";
pub const ADMIN_PASSWORD: &str = "s3cret-admin";

/// A data directory and admin port for one test, kept across restarts.
pub struct AdminDir {
    pub dir: PathBuf,
    pub port: u16,
}

impl AdminDir {
    pub fn new() -> AdminDir {
        AdminDir {
            dir: fresh_dir(),
            port: free_port(),
        }
    }

    /// Where the node keeps its state.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// The state file's bytes (empty when absent).
    pub fn state_file(&self) -> Vec<u8> {
        std::fs::read(self.data_dir().join("control-state.json")).unwrap_or_default()
    }

    /// `config` with the node's TLS from `pki`, this data directory and an
    /// `[admin]` table listening on this port.
    pub fn config(&self, pki: &Pki, config: Config) -> Config {
        let mut config = config.node_tls(NodeTls::from_pki(pki));
        config.node_extra.push((
            "data_dir".into(),
            toml_string(&self.data_dir().display().to_string()),
        ));
        config.extra_toml = Some(format!(
            "[admin]\nlisten = \"127.0.0.1:{}\"\nusername = {}\npassword = {}\n",
            self.port,
            toml_string(ADMIN_USER),
            toml_string(ADMIN_PASSWORD)
        ));
        config
    }

    /// Waits until the API listens (it starts just after the data threads).
    pub fn wait_ready(&self) {
        crate::wait_until(APPLY_TIMEOUT, "the admin API to listen", || {
            crate::tls::accepts_connections(self.port)
        });
    }

    /// A client with the right credentials.
    pub fn client(&self, pki: &Pki) -> AdminClient {
        AdminClient::new(self.port, pki, Some((ADMIN_USER, ADMIN_PASSWORD)))
    }
}

impl Default for AdminDir {
    fn default() -> Self {
        AdminDir::new()
    }
}

impl Drop for AdminDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An HTTPS client of the REST API that trusts the development CA.
pub struct AdminClient {
    agent: ureq::Agent,
    base: String,
    authorization: Option<String>,
}

impl AdminClient {
    /// `credentials` as (user, password); `None` sends none.
    pub fn new(port: u16, pki: &Pki, credentials: Option<(&str, &str)>) -> AdminClient {
        AdminClient::with_identity(port, pki, credentials, None)
    }

    /// Like [`AdminClient::new`], presenting the client certificate
    /// `identity` of `pki` (such as `client1`) if given.
    pub fn with_identity(
        port: u16,
        pki: &Pki,
        credentials: Option<(&str, &str)>,
        identity: Option<&str>,
    ) -> AdminClient {
        let pem = pki.read("ca.pem");
        let roots: Vec<_> = ureq::tls::parse_pem(&pem)
            .filter_map(|item| match item {
                Ok(ureq::tls::PemItem::Certificate(cert)) => Some(cert),
                _ => None,
            })
            .collect();
        let client_cert = identity.map(|name| {
            let chain: Vec<_> = ureq::tls::parse_pem(&pki.read(&format!("{name}.pem")))
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(cert)) => Some(cert),
                    _ => None,
                })
                .collect();
            let key = ureq::tls::PrivateKey::from_pem(&pki.read(&format!("{name}.key")))
                .unwrap_or_else(|error| panic!("{name}.key: {error}"));
            ureq::tls::ClientCert::new_with_certs(&chain, key)
        });
        let tls = ureq::tls::TlsConfig::builder()
            .unversioned_rustls_crypto_provider(Arc::new(aws_lc_rs::default_provider()))
            .root_certs(ureq::tls::RootCerts::new_with_certs(&roots))
            .client_cert(client_cert)
            .build();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .timeout_global(Some(IO_TIMEOUT))
            .build()
            .into();
        AdminClient {
            agent,
            base: format!("https://127.0.0.1:{port}"),
            authorization: credentials.map(|(user, password)| {
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
                )
            }),
        }
    }

    /// Sends a request; (status, JSON body or Null, raw text).
    pub fn send(&self, method: &str, path: &str, body: Option<&str>) -> (u16, Value, String) {
        self.try_send(method, path, body)
            .unwrap_or_else(|error| panic!("{method} {path}: {error}"))
    }

    /// [`AdminClient::send`], or the transport error (a refused handshake).
    pub fn try_send(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<(u16, Value, String), String> {
        let url = format!("{}{path}", self.base);
        let result = match method {
            "GET" => self.with_auth_get(&url).call(),
            "DELETE" => {
                let mut request = self.agent.delete(&url);
                if let Some(auth) = &self.authorization {
                    request = request.header("Authorization", auth);
                }
                request.call()
            }
            "POST" | "PUT" => {
                let mut request = if method == "POST" {
                    self.agent.post(&url)
                } else {
                    self.agent.put(&url)
                };
                if let Some(auth) = &self.authorization {
                    request = request.header("Authorization", auth);
                }
                request
                    .content_type("application/json")
                    .send(body.unwrap_or(""))
            }
            other => panic!("unsupported method {other}"),
        };
        let mut response = result.map_err(|error| format!("{method} {url}: {error}"))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|error| format!("{method} {url}: read body: {error}"))?;
        let value = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok((status, value, text))
    }

    fn with_auth_get(&self, url: &str) -> ureq::RequestBuilder<ureq::typestate::WithoutBody> {
        let mut request = self.agent.get(url);
        if let Some(auth) = &self.authorization {
            request = request.header("Authorization", auth);
        }
        request
    }

    /// GET expecting 200; the JSON body.
    pub fn get(&self, path: &str) -> Value {
        let (status, value, text) = self.send("GET", path, None);
        assert_eq!(status, 200, "GET {path}: {text}");
        value
    }

    /// A request expecting 2xx; the JSON body.
    pub fn ok(&self, method: &str, path: &str, body: &str) -> Value {
        let (status, value, text) = self.send(method, path, Some(body));
        assert!(
            (200..300).contains(&status),
            "{method} {path} {body}: {status} {text}"
        );
        value
    }

    /// A request expecting a refusal; (status, error_code, description).
    pub fn refused(&self, method: &str, path: &str, body: &str) -> (u16, String, String) {
        let (status, value, text) = self.send(method, path, Some(body));
        assert!(
            (400..500).contains(&status),
            "{method} {path} {body}: expected 4xx, got {status} {text}"
        );
        let code = value["error_code"]
            .as_str()
            .unwrap_or_else(|| panic!("no error_code in {text}"))
            .to_owned();
        let description = value["description"]
            .as_str()
            .unwrap_or_else(|| panic!("no description in {text}"))
            .to_owned();
        (status, code, description)
    }
}

/// A PEM text as a JSON string literal.
pub fn json_string(text: &str) -> String {
    Value::String(text.to_owned()).to_string()
}

/// A second CA and a server certificate for localhost/127.0.0.1 it signed,
/// written as files: for rotating the proxy certificate to one the old
/// clients do not trust.
pub struct OtherCa {
    dir: PathBuf,
    pub ca: GeneratedCert,
    pub proxy: GeneratedCert,
}

impl OtherCa {
    pub fn new() -> OtherCa {
        let now = SystemTime::now();
        let ca = testing::ca("Petrel rotation test CA", now).expect("make a CA");
        let proxy = testing::issue(&ca, "localhost", Profile::Server, Validity::Current, now)
            .expect("make a server certificate");
        let dir = fresh_dir();
        let other = OtherCa { dir, ca, proxy };
        for (name, text) in [
            ("ca.pem", other.ca.cert_pem()),
            ("proxy.pem", other.proxy.cert_pem()),
            ("proxy.key", other.proxy.key_pem()),
        ] {
            std::fs::write(other.dir.join(name), text).expect("write a certificate");
        }
        other
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Default for OtherCa {
    fn default() -> Self {
        OtherCa::new()
    }
}

impl Drop for OtherCa {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// How long a live change may take to reach every data thread.
pub const APPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// A node started straight from a config file with fixed database ports,
/// so a restart serves the same ports (the harness's [`crate::Server`]
/// picks new ones, which a restored state does not use).
pub struct FixedNode {
    child: std::process::Child,
    log: PathBuf,
}

impl FixedNode {
    /// Writes `config` with `ports` under the admin directory and starts
    /// the binary; returns once the admin API answers (the data ports
    /// listen by then). A port another process's outgoing connection
    /// briefly holds makes the start retry.
    pub fn start(admin: &AdminDir, config: &Config, ports: &[u16]) -> FixedNode {
        let dir = admin.dir.join("node");
        std::fs::create_dir_all(&dir).expect("mkdir");
        let path = dir.join("petrel.toml");
        std::fs::write(&path, config.to_toml(ports)).expect("write config");
        for _ in 0..10 {
            let log_path = dir.join("petrel.log");
            let log = std::fs::File::create(&log_path).expect("log");
            let child = std::process::Command::new(crate::petrel_binary())
                .args(["serve", "--config"])
                .arg(&path)
                .stdout(log.try_clone().expect("log"))
                .stderr(log)
                .spawn()
                .expect("spawn petrel");
            let mut node = FixedNode {
                child,
                log: log_path,
            };
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            loop {
                if crate::tls::accepts_connections(admin.port) {
                    return node;
                }
                if let Ok(Some(_)) = node.child.try_wait() {
                    assert!(
                        node.logs().contains("Address already in use"),
                        "petrel exited: {}",
                        node.logs()
                    );
                    break;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "the admin API did not answer: {}",
                    node.logs()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        panic!("the node's ports stayed taken");
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for FixedNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("server output:\n{}", self.logs());
        }
    }
}
