//! TLS additions to the end-to-end harness.
//!
//! This module owns: a per-test PKI on disk (the development PKI written by
//! `petrel certs generate`, plus expired, not-yet-valid, self-signed and
//! other-CA certificates made with `petrel_tls::testing`), the `[node.tls]`
//! table and per-database TLS keys of a test's config, the TLS clients the
//! tests drive the server with (the redis crate over rustls, a raw rustls
//! socket for byte-exact checks, `openssl s_client`, `redis-cli --tls`), a
//! hand-made TLS 1.0/1.1 ClientHello for when OpenSSL refuses to send one,
//! and INFO's `# TLS` counters with exact before/after comparisons.
//!
//! It must not talk to anything but 127.0.0.1, must not leave files behind
//! (a [`Pki`] removes its directory when dropped), and never judges what the
//! server should do: the tests do.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant, SystemTime};

use petrel_tls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use petrel_tls::rustls::crypto::aws_lc_rs;
use petrel_tls::rustls::{self, ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use petrel_tls::testing::{self, GeneratedCert, Profile, Validity};

use crate::{
    encode_command, fresh_dir, parse_reply, petrel_binary, query, run_tool, toml_string, CliOutput,
    Config, Database, Reply, IO_TIMEOUT,
};

/// How long a counter may take to move after the client saw the outcome:
/// the server counts a failure around the moment it sends the alert.
pub const COUNTER_TIMEOUT: Duration = Duration::from_secs(5);

/// What `openssl s_client` is fed: a command, then QUIT so that a served
/// connection ends by itself (s_client runs with `-ign_eof`, so it waits
/// for the server's answer or alert instead of quitting at end of input).
pub const S_CLIENT_INPUT: &str = "PING\r\nQUIT\r\n";

static PROVIDER: Once = Once::new();

/// Makes aws-lc-rs the process's rustls provider. The redis crate's
/// `tls-rustls` feature turns on rustls's ring provider too, and with two
/// providers compiled in rustls refuses to pick one for `ClientConfig::builder()`.
/// A node with one TLS-only database that trusts client1's certificate.
pub fn tls_only_server(pki: &Pki) -> crate::Server {
    crate::Server::start(
        crate::Config::new()
            .node_tls(NodeTls::from_pki(pki))
            .database_tls(DatabaseTls::enabled().trust(&pki.cert("client1"))),
    )
}

/// Bytes that change at every position and include CR, LF and NUL.
pub fn byte_pattern(length: usize, seed: usize) -> Vec<u8> {
    (0..length)
        .map(|index| ((index * 31 + seed * 7 + index / 251) % 256) as u8)
        .collect()
}

pub fn install_crypto_provider() {
    PROVIDER.call_once(|| {
        // Err means another provider was installed first, which serves as well.
        let _ = aws_lc_rs::default_provider().install_default();
    });
}

/// The certificates of one test, as files in a directory of their own.
///
/// Names (each `NAME.pem` with `NAME.key`): from `petrel certs generate`,
/// `ca`, `proxy`, `syncer`, `client1`, `client2`; made here, `test-ca` (a
/// second CA), `test-client` (a client certificate `test-ca` signed),
/// `expired` and `future` (client certificates `test-ca` signed, expired
/// yesterday / valid from tomorrow), `stranger` (a self-signed client
/// certificate nobody lists) and `expired-proxy` (a server certificate for
/// localhost that `test-ca` signed and that expired yesterday).
pub struct Pki {
    dir: PathBuf,
    test_ca: GeneratedCert,
}

impl Pki {
    /// Writes the development PKI with the real binary, then the test
    /// certificates.
    pub fn generate() -> Pki {
        let dir = fresh_dir();
        let binary = petrel_binary();
        let binary = binary.to_str().expect("the petrel binary's path is UTF-8");
        let out = dir.to_str().expect("temp dir path is UTF-8");
        let generated = run_tool(
            binary,
            &["certs", "generate", "--out", out],
            None,
            IO_TIMEOUT,
        );
        assert!(
            generated.status.success(),
            "petrel certs generate failed: {generated:?}"
        );
        for name in petrel_tls::DEV_PKI_FILES {
            assert!(
                dir.join(name).is_file(),
                "petrel certs generate did not write {name}: {generated:?}"
            );
        }
        let now = SystemTime::now();
        let test_ca = testing::ca("Petrel e2e test CA", now).expect("make the test CA");
        let pki = Pki { dir, test_ca };
        pki.write("test-ca", &pki.test_ca);
        let made = [
            (
                "test-client",
                testing::issue(
                    &pki.test_ca,
                    "test client",
                    Profile::Client,
                    Validity::Current,
                    now,
                ),
            ),
            ("expired", testing::expired_client(&pki.test_ca, now)),
            ("future", testing::not_yet_valid_client(&pki.test_ca, now)),
            (
                "stranger",
                testing::self_signed("stranger", Profile::Client, Validity::Current, now),
            ),
            (
                "expired-proxy",
                testing::issue(
                    &pki.test_ca,
                    "localhost",
                    Profile::Server,
                    Validity::Expired,
                    now,
                ),
            ),
        ];
        for (name, cert) in made {
            let cert = cert.unwrap_or_else(|error| panic!("make {name}: {error}"));
            pki.write(name, &cert);
        }
        pki
    }

    /// Writes a self-signed client certificate valid from an hour ago until
    /// `lifetime` from now, for a certificate that expires while the server
    /// runs. Returns the moment it expires.
    pub fn short_lived(&self, name: &str, lifetime: Duration) -> SystemTime {
        let now = SystemTime::now();
        let not_after = now + lifetime;
        let cert = testing::self_signed(
            name,
            Profile::Client,
            Validity::Between {
                not_before: now - Duration::from_secs(3600),
                not_after,
            },
            now,
        )
        .unwrap_or_else(|error| panic!("make {name}: {error}"));
        self.write(name, &cert);
        not_after
    }

    fn write(&self, name: &str, cert: &GeneratedCert) {
        for (path, text) in [
            (self.cert(name), cert.cert_pem()),
            (self.key(name), cert.key_pem()),
        ] {
            std::fs::write(&path, text)
                .unwrap_or_else(|error| panic!("write {}: {error}", path.display()));
        }
    }

    /// The directory holding every file.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `NAME.pem`.
    pub fn cert(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.pem"))
    }

    /// `NAME.key`.
    pub fn key(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.key"))
    }

    /// The text of `NAME.pem` or `NAME.key` (`file` is the whole file name).
    pub fn read(&self, file: &str) -> Vec<u8> {
        let path = self.dir.join(file);
        std::fs::read(&path).unwrap_or_else(|error| panic!("read {}: {error}", path.display()))
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn path_text(path: &Path) -> String {
    path.display().to_string()
}

/// The `[node.tls]` table: keys with TOML values, written in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeTls {
    keys: Vec<(String, String)>,
}

impl NodeTls {
    /// An empty table.
    pub fn new() -> NodeTls {
        NodeTls::default()
    }

    /// The proxy and syncer certificates and keys of `pki`.
    pub fn from_pki(pki: &Pki) -> NodeTls {
        NodeTls::new()
            .string("proxy_cert", &path_text(&pki.cert("proxy")))
            .string("proxy_key", &path_text(&pki.key("proxy")))
            .string("syncer_cert", &path_text(&pki.cert("syncer")))
            .string("syncer_key", &path_text(&pki.key("syncer")))
    }

    /// Sets a key to a TOML string, replacing an earlier value.
    pub fn string(self, key: &str, value: &str) -> NodeTls {
        self.raw(key, &toml_string(value))
    }

    /// Sets a key to a TOML integer, replacing an earlier value.
    pub fn integer(self, key: &str, value: i64) -> NodeTls {
        self.raw(key, &value.to_string())
    }

    /// Sets a key to a TOML value written as is, replacing an earlier value.
    pub fn raw(mut self, key: &str, toml_value: &str) -> NodeTls {
        self.keys.retain(|(known, _)| known != key);
        self.keys.push((key.to_owned(), toml_value.to_owned()));
        self
    }

    /// Drops a key.
    pub fn remove(mut self, key: &str) -> NodeTls {
        self.keys.retain(|(known, _)| known != key);
        self
    }

    /// The table as TOML, starting with its header.
    pub fn to_toml(&self) -> String {
        let mut toml = String::from("\n[node.tls]\n");
        for (key, value) in &self.keys {
            let _ = writeln!(toml, "{key} = {value}");
        }
        toml
    }
}

/// A database's TLS keys: `tls_mode`, `enforce_client_authentication` and
/// the trust lists (paths or PEM text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseTls {
    pub tls_mode: String,
    /// None leaves the server's default (enabled).
    pub enforce_client_authentication: Option<bool>,
    pub client_certs: Vec<String>,
    pub crdt_certs: Vec<String>,
}

impl DatabaseTls {
    fn mode(mode: &str) -> DatabaseTls {
        DatabaseTls {
            tls_mode: mode.to_owned(),
            enforce_client_authentication: None,
            client_certs: Vec::new(),
            crdt_certs: Vec::new(),
        }
    }

    /// `tls_mode = "enabled"`: TLS for everything.
    pub fn enabled() -> DatabaseTls {
        DatabaseTls::mode("enabled")
    }

    /// `tls_mode = "replica_ssl"`: plaintext and TLS on one port.
    pub fn replica_ssl() -> DatabaseTls {
        DatabaseTls::mode("replica_ssl")
    }

    /// `tls_mode = "disabled"`, written out.
    pub fn disabled() -> DatabaseTls {
        DatabaseTls::mode("disabled")
    }

    /// `enforce_client_authentication = "enabled"` or `"disabled"`.
    pub fn enforce(mut self, enforce: bool) -> DatabaseTls {
        self.enforce_client_authentication = Some(enforce);
        self
    }

    /// Adds a certificate file to `authentication_ssl_client_certs`.
    pub fn trust(mut self, cert: &Path) -> DatabaseTls {
        self.client_certs.push(path_text(cert));
        self
    }

    /// Adds a certificate file to `authentication_ssl_crdt_certs`.
    pub fn trust_crdt(mut self, cert: &Path) -> DatabaseTls {
        self.crdt_certs.push(path_text(cert));
        self
    }

    /// Whether the port closes plaintext connections.
    pub fn refuses_plaintext(&self) -> bool {
        self.tls_mode == "enabled"
    }

    /// The keys as TOML lines inside a `[[databases]]` entry.
    pub fn to_toml(&self) -> String {
        let mut toml = String::new();
        let _ = writeln!(toml, "tls_mode = {}", toml_string(&self.tls_mode));
        if let Some(enforce) = self.enforce_client_authentication {
            let value = if enforce { "enabled" } else { "disabled" };
            let _ = writeln!(toml, "enforce_client_authentication = {value:?}");
        }
        for (key, certs) in [
            ("authentication_ssl_client_certs", &self.client_certs),
            ("authentication_ssl_crdt_certs", &self.crdt_certs),
        ] {
            if certs.is_empty() {
                continue;
            }
            let entries: Vec<String> = certs
                .iter()
                .map(|cert| format!("{{ client_cert = {} }}", toml_string(cert)))
                .collect();
            let _ = writeln!(toml, "{key} = [{}]", entries.join(", "));
        }
        toml
    }
}

impl Config {
    /// Sets the `[node.tls]` table.
    pub fn node_tls(mut self, tls: NodeTls) -> Config {
        self.node_tls = Some(tls);
        self
    }

    /// Adds a `[node]` key whose TOML value is written as is.
    pub fn node_key(mut self, key: &str, toml_value: &str) -> Config {
        self.node_extra
            .push((key.to_owned(), toml_value.to_owned()));
        self
    }

    /// Sets the TLS keys of the first database.
    pub fn database_tls(mut self, tls: DatabaseTls) -> Config {
        if let Some(first) = self.databases.first_mut() {
            first.tls = Some(tls);
        }
        self
    }
}

impl Database {
    /// Sets this database's TLS keys.
    pub fn with_tls(mut self, tls: DatabaseTls) -> Database {
        self.tls = Some(tls);
        self
    }
}

/// Whether something listens on the port. The probe connects and closes
/// without sending a byte, which the server neither serves nor counts.
pub fn accepts_connections(port: u16) -> bool {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&address, Duration::from_millis(500)).is_ok()
}

/// A redis-rs connection over TLS (rustls) that trusts the development CA
/// and presents `identity` (a [`Pki`] name) if given. Fails as the client
/// would; with TLS 1.3 a refused certificate often surfaces only at the
/// first command.
pub fn try_tls_client(
    port: u16,
    pki: &Pki,
    identity: Option<&str>,
) -> redis::RedisResult<redis::Connection> {
    install_crypto_provider();
    let certificates = redis::TlsCertificates {
        client_tls: identity.map(|name| redis::ClientTlsConfig {
            client_cert: pki.read(&format!("{name}.pem")),
            client_key: pki.read(&format!("{name}.key")),
        }),
        root_cert: Some(pki.read("ca.pem")),
    };
    let client =
        redis::Client::build_with_tls(format!("rediss://127.0.0.1:{port}/"), certificates)?;
    let connection = client.get_connection_with_timeout(IO_TIMEOUT)?;
    connection.set_read_timeout(Some(IO_TIMEOUT))?;
    connection.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(connection)
}

/// [`try_tls_client`], panicking with the error.
pub fn tls_client(port: u16, pki: &Pki, identity: Option<&str>) -> redis::Connection {
    try_tls_client(port, pki, identity)
        .unwrap_or_else(|error| panic!("TLS connect to port {port} as {identity:?}: {error}"))
}

/// A rustls client config trusting the development CA, presenting
/// `identity` if given, offering `versions` (all that rustls has if None).
pub fn client_config(
    pki: &Pki,
    identity: Option<&str>,
    versions: Option<&[&'static rustls::SupportedProtocolVersion]>,
) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in read_certificates(pki, "ca.pem") {
        roots
            .add(cert)
            .unwrap_or_else(|error| panic!("trust ca.pem: {error}"));
    }
    let builder = ClientConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()));
    let builder = match versions {
        Some(versions) => builder.with_protocol_versions(versions),
        None => builder.with_safe_default_protocol_versions(),
    }
    .unwrap_or_else(|error| panic!("client protocol versions: {error}"))
    .with_root_certificates(roots);
    let config = match identity {
        None => builder.with_no_client_auth(),
        Some(name) => {
            let chain = read_certificates(pki, &format!("{name}.pem"));
            let key: PrivateKeyDer<'static> =
                petrel_tls::certs::parse_private_key(&pki.read(&format!("{name}.key")))
                    .unwrap_or_else(|error| panic!("{name}.key: {error}"));
            builder
                .with_client_auth_cert(chain, key)
                .unwrap_or_else(|error| panic!("client certificate {name}: {error}"))
        }
    };
    Arc::new(config)
}

fn read_certificates(pki: &Pki, file: &str) -> Vec<CertificateDer<'static>> {
    petrel_tls::certs::parse_certificates(&pki.read(file))
        .unwrap_or_else(|error| panic!("{file}: {error}"))
        .iter()
        .map(|info| info.der().clone())
        .collect()
}

/// A TLS connection made with rustls that sends exactly the bytes a test
/// gives it and reads replies byte-exact, like [`crate::RawConn`] over TLS.
pub struct TlsConn {
    stream: StreamOwned<ClientConnection, TcpStream>,
    buffer: Vec<u8>,
}

impl TlsConn {
    /// Connects and completes the client's side of the handshake.
    pub fn connect(port: u16, config: Arc<ClientConfig>) -> Result<TlsConn, String> {
        let tcp = TcpStream::connect(("127.0.0.1", port))
            .map_err(|error| format!("connect to port {port}: {error}"))?;
        tcp.set_read_timeout(Some(IO_TIMEOUT))
            .map_err(|error| error.to_string())?;
        tcp.set_write_timeout(Some(IO_TIMEOUT))
            .map_err(|error| error.to_string())?;
        let _ = tcp.set_nodelay(true);
        let name = ServerName::try_from("127.0.0.1")
            .map_err(|error| format!("server name: {error}"))?
            .to_owned();
        let connection = ClientConnection::new(config, name)
            .map_err(|error| format!("client connection: {error}"))?;
        let mut stream = StreamOwned::new(connection, tcp);
        while stream.conn.is_handshaking() {
            stream
                .conn
                .complete_io(&mut stream.sock)
                .map_err(|error| format!("TLS handshake with port {port}: {error}"))?;
        }
        Ok(TlsConn {
            stream,
            buffer: Vec::new(),
        })
    }

    /// The negotiated protocol version and cipher suite, as rustls names them.
    pub fn negotiated(&self) -> (String, String) {
        let version = self
            .stream
            .conn
            .protocol_version()
            .map(|version| format!("{version:?}"))
            .unwrap_or_default();
        let suite = self
            .stream
            .conn
            .negotiated_cipher_suite()
            .and_then(|suite| suite.suite().as_str())
            .unwrap_or_default()
            .to_owned();
        (version, suite)
    }

    /// How the handshake went (full, or resumed with a ticket).
    pub fn handshake_kind(&self) -> Option<rustls::HandshakeKind> {
        self.stream.conn.handshake_kind()
    }

    /// Queues a TLS 1.3 KeyUpdate (asking the server to update too); it
    /// leaves with the next `send`.
    pub fn refresh_traffic_keys(&mut self) {
        self.stream
            .conn
            .refresh_traffic_keys()
            .unwrap_or_else(|error| panic!("key update: {error}"));
    }

    /// Writes bytes as they are with one `write_all`, then flushes.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .and_then(|()| self.stream.flush())
            .unwrap_or_else(|error| panic!("write {} bytes over TLS: {error}", bytes.len()));
    }

    /// Writes one command as a RESP multibulk.
    pub fn send_command<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        let bytes = encode_command(args);
        self.send(&bytes);
    }

    /// Sends a command and reads its reply.
    pub fn command(&mut self, args: &[&str]) -> Reply {
        self.send_command(args);
        self.read_reply()
    }

    /// Reads the next reply; panics if the connection ends first.
    pub fn read_reply(&mut self) -> Reply {
        self.try_read_reply()
            .unwrap_or_else(|error| panic!("no reply over TLS: {error}"))
    }

    /// Reads the next reply, or says how the connection ended instead
    /// (closed, or the TLS error such as a received alert).
    pub fn try_read_reply(&mut self) -> Result<Reply, String> {
        loop {
            match parse_reply(&self.buffer) {
                Err(error) => {
                    return Err(format!(
                        "unparseable reply ({error}): {:?}",
                        String::from_utf8_lossy(&self.buffer)
                    ))
                }
                Ok(Some((reply, used))) => {
                    self.buffer.drain(..used);
                    return Ok(reply);
                }
                Ok(None) => self.fill()?,
            }
        }
    }

    /// Reads more plaintext; Err says why there is none.
    fn fill(&mut self) -> Result<(), String> {
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err("closed".into()),
                Ok(read) => {
                    self.buffer.extend_from_slice(&chunk[..read]);
                    return Ok(());
                }
                Err(error) if error.kind() == ErrorKind::Interrupted => continue,
                Err(error)
                    if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                {
                    panic!(
                        "the server neither answered nor closed within {IO_TIMEOUT:?}; received so far: {:?}",
                        String::from_utf8_lossy(&self.buffer)
                    )
                }
                Err(error) => return Err(error.to_string()),
            }
        }
    }
}

/// Runs `openssl s_client` against the port with the development CA,
/// `-brief -ign_eof`, presenting `identity` if given, with extra `args`,
/// fed [`S_CLIENT_INPUT`].
pub fn s_client(port: u16, pki: &Pki, identity: Option<&str>, args: &[&str]) -> CliOutput {
    s_client_with_input(port, pki, identity, args, S_CLIENT_INPUT)
}

/// [`s_client`] with the given input.
pub fn s_client_with_input(
    port: u16,
    pki: &Pki,
    identity: Option<&str>,
    args: &[&str],
    input: &str,
) -> CliOutput {
    let connect = format!("127.0.0.1:{port}");
    let ca = path_text(&pki.cert("ca"));
    let mut full: Vec<String> = [
        "s_client", "-connect", &connect, "-CAfile", &ca, "-brief", "-ign_eof",
    ]
    .iter()
    .map(|arg| arg.to_string())
    .collect();
    if let Some(name) = identity {
        full.extend([
            "-cert".to_owned(),
            path_text(&pki.cert(name)),
            "-key".to_owned(),
            path_text(&pki.key(name)),
        ]);
    }
    full.extend(args.iter().map(|arg| arg.to_string()));
    let full: Vec<&str> = full.iter().map(String::as_str).collect();
    run_tool("openssl", &full, Some(input), IO_TIMEOUT * 2)
}

/// Runs `redis-cli --tls` with the development CA, presenting `identity`
/// if given.
pub fn redis_cli_tls(port: u16, pki: &Pki, identity: Option<&str>, args: &[&str]) -> CliOutput {
    let port = port.to_string();
    let ca = path_text(&pki.cert("ca"));
    let mut full: Vec<String> = ["-h", "127.0.0.1", "-p", &port, "--tls", "--cacert", &ca]
        .iter()
        .map(|arg| arg.to_string())
        .collect();
    if let Some(name) = identity {
        full.extend([
            "--cert".to_owned(),
            path_text(&pki.cert(name)),
            "--key".to_owned(),
            path_text(&pki.key(name)),
        ]);
    }
    full.extend(args.iter().map(|arg| arg.to_string()));
    let full: Vec<&str> = full.iter().map(String::as_str).collect();
    run_tool("redis-cli", &full, None, IO_TIMEOUT * 2)
}

/// INFO's `# TLS` section at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    fields: BTreeMap<String, String>,
}

impl TlsInfo {
    /// Reads `INFO tls` on a connection.
    pub fn read(connection: &mut redis::Connection) -> TlsInfo {
        let text: String = query(connection, &["INFO", "tls"]);
        TlsInfo::parse(&text)
    }

    /// Parses the section's `key:value` lines.
    pub fn parse(text: &str) -> TlsInfo {
        let fields: BTreeMap<String, String> = text
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| line.trim().split_once(':'))
            .map(|(key, value)| (key.to_owned(), value.to_owned()))
            .collect();
        assert!(
            fields.contains_key("handshakes_completed"),
            "INFO tls has no TLS counters: {text:?}"
        );
        TlsInfo { fields }
    }

    /// A field's text; panics naming it if INFO lacks it.
    pub fn field(&self, name: &str) -> &str {
        self.fields
            .get(name)
            .unwrap_or_else(|| panic!("INFO tls has no field {name}: {:?}", self.fields))
    }

    /// A numeric field.
    pub fn number(&self, name: &str) -> i64 {
        let text = self.field(name);
        text.parse()
            .unwrap_or_else(|_| panic!("INFO tls field {name} is not a number: {text:?}"))
    }

    /// Every counter that only grows: handshakes by outcome, kTLS
    /// fallbacks, refused connections. Gauges (`connections_*`) and the
    /// sum `handshakes_failed` are left out.
    fn counters(&self) -> BTreeMap<String, i64> {
        self.fields
            .keys()
            .filter(|key| {
                key.starts_with("handshakes_")
                    || key.starts_with("ktls_fallbacks_")
                    || key.ends_with("_refused_on_plaintext_port")
                    || key.ends_with("_refused_on_tls_port")
            })
            .filter(|key| key.as_str() != "handshakes_failed")
            .map(|key| (key.clone(), self.number(key)))
            .collect()
    }

    /// The counter a served TLS connection moves besides
    /// `handshakes_completed`, when the kernel cannot take it: None when the
    /// kernel may (then the outcome per connection depends on the suite).
    pub fn fallback_counter(&self) -> Option<&'static str> {
        match self.field("ktls_kernel") {
            "unavailable" => Some("ktls_fallbacks_kernel_lacks_tls"),
            "off" => Some("ktls_fallbacks_disabled"),
            _ => None,
        }
    }

    /// The transport CLIENT LIST shows for a served TLS connection.
    pub fn tls_transport(&self) -> &'static str {
        if self.fallback_counter().is_some() {
            "tls"
        } else {
            "ktls"
        }
    }
}

/// Waits until INFO's TLS counters moved by `served` completed handshakes
/// (with their kTLS fallbacks when the kernel cannot take them) plus
/// `moved`, then asserts that no other counter moved. Reads INFO on
/// `observer`, whose own handshake happened before `before` was read.
/// Returns the new reading, the baseline of the next case.
pub fn expect_counted(
    observer: &mut redis::Connection,
    before: &TlsInfo,
    served: i64,
    moved: &[(&str, i64)],
    case: &str,
) -> TlsInfo {
    let mut expected: BTreeMap<String, i64> = BTreeMap::new();
    if served > 0 {
        expected.insert("handshakes_completed".into(), served);
        if let Some(fallback) = before.fallback_counter() {
            expected.insert(fallback.into(), served);
        }
    }
    for (name, count) in moved {
        *expected.entry((*name).to_owned()).or_default() += count;
    }
    let ranges = expected
        .into_iter()
        .map(|(name, count)| (name, count..=count))
        .collect();
    settle(observer, before, ranges, case)
}

/// Like [`expect_counted`] for a refused `redis-cli --tls`: `counter`
/// moved by one or two and nothing else did. redis-cli sometimes reconnects
/// once after a failed TLS connection, so a single run may be refused twice.
pub fn expect_cli_refused(
    observer: &mut redis::Connection,
    before: &TlsInfo,
    counter: &str,
    case: &str,
) -> TlsInfo {
    let ranges = BTreeMap::from([(counter.to_owned(), 1..=2)]);
    // Both attempts happen before redis-cli exits; give the second one's
    // count a moment to land so that it is not taken for the next case's.
    std::thread::sleep(Duration::from_millis(100));
    settle(observer, before, ranges, case)
}

/// Waits until every counter in `expected` reached its range's low end,
/// then asserts that each moved within its range and no other moved.
fn settle(
    observer: &mut redis::Connection,
    before: &TlsInfo,
    expected: BTreeMap<String, RangeInclusive<i64>>,
    case: &str,
) -> TlsInfo {
    // Whether a connection moved to the kernel depends on its suite there.
    let kernel_may_take = before.fallback_counter().is_none();
    let judged = |name: &str| !(kernel_may_take && name.starts_with("ktls_fallbacks_"));
    let old = before.counters();
    let deadline = Instant::now() + COUNTER_TIMEOUT;
    loop {
        let now = TlsInfo::read(observer);
        let current = now.counters();
        let delta = |name: &str| {
            current.get(name).copied().unwrap_or(0) - old.get(name).copied().unwrap_or(0)
        };
        let reached = expected
            .iter()
            .all(|(name, range)| delta(name) >= *range.start());
        if !reached && Instant::now() <= deadline {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        let actual: BTreeMap<String, i64> = current
            .keys()
            .filter(|name| judged(name))
            .map(|name| (name.clone(), delta(name)))
            .filter(|(_, moved)| *moved != 0)
            .collect();
        let wanted: BTreeMap<&String, &RangeInclusive<i64>> =
            expected.iter().filter(|(name, _)| judged(name)).collect();
        let matches = actual.keys().all(|name| wanted.contains_key(name))
            && wanted
                .iter()
                .all(|(name, range)| range.contains(&actual.get(*name).copied().unwrap_or(0)));
        assert!(
            matches,
            "{case}: INFO tls counters moved by {actual:?}, expected {wanted:?}"
        );
        let failures: i64 = actual
            .iter()
            .filter(|(name, _)| name.starts_with("handshakes_failed_"))
            .map(|(_, count)| count)
            .sum();
        assert_eq!(
            now.number("handshakes_failed") - before.number("handshakes_failed"),
            failures,
            "{case}: handshakes_failed is not the sum of its reasons"
        );
        return now;
    }
}

/// A ClientHello that offers only an old protocol: `minor` 1 for TLS 1.0,
/// 2 for TLS 1.1, with CBC suites as such clients offered. With
/// `signature_algorithms`, the server can judge the version first.
pub fn legacy_client_hello(minor: u8, signature_algorithms: bool) -> Vec<u8> {
    let mut body = vec![3, minor];
    body.extend((0u8..32).map(|byte| byte.wrapping_mul(7).wrapping_add(minor)));
    body.push(0); // no session id
    let suites: [u16; 4] = [0xc009, 0xc013, 0x002f, 0x0035];
    body.extend_from_slice(&((suites.len() * 2) as u16).to_be_bytes());
    for suite in suites {
        body.extend_from_slice(&suite.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]); // compression: null only
    let mut extensions = Vec::new();
    // supported_groups: x25519, secp256r1; ec_point_formats: uncompressed.
    extensions.extend_from_slice(&[0x00, 0x0a, 0x00, 0x06, 0x00, 0x04, 0x00, 0x1d, 0x00, 0x17]);
    extensions.extend_from_slice(&[0x00, 0x0b, 0x00, 0x02, 0x01, 0x00]);
    if signature_algorithms {
        // ecdsa_secp256r1_sha256, rsa_pkcs1_sha256, rsa_pss_rsae_sha256.
        extensions.extend_from_slice(&[
            0x00, 0x0d, 0x00, 0x08, 0x00, 0x06, 0x04, 0x03, 0x04, 0x01, 0x08, 0x04,
        ]);
    }
    body.extend_from_slice(&(extensions.len() as u16).to_be_bytes());
    body.extend_from_slice(&extensions);
    let mut handshake = vec![1];
    handshake.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend_from_slice(&body);
    let mut record = vec![0x16, 3, minor];
    record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

/// The fatal alert's description code at the start of what a server sent
/// back, if it is a TLS alert record.
pub fn fatal_alert(bytes: &[u8]) -> Option<u8> {
    match bytes {
        [0x15, 3, _, 0, 2, 2, description, ..] => Some(*description),
        _ => None,
    }
}
