//! TLS for the replica side of Replica Of: the client configuration built
//! from a `replica_sources` entry, and the client handshake on a socket of
//! the sync ring. The source's certificate must chain to `server_cert`; the
//! replica presents `client_cert` (by default the node's syncer
//! certificate), which the source checks against its syncer trust.

use std::io::{self, Read};
use std::sync::Arc;
use std::time::Duration;

use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use petrel_tls::certs::{parse_certificates, parse_private_key, read_source};
use petrel_tls::pki_types::ServerName;
use petrel_tls::rustls::crypto::CryptoProvider;
use petrel_tls::rustls::{ClientConfig, ClientConnection, Connection, RootCertStore};

use crate::config::{Config, ReplicaSourceConfig};

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The rustls client configuration for one source.
pub(crate) fn client_config(
    config: &Config,
    provider: Arc<CryptoProvider>,
    source: &ReplicaSourceConfig,
) -> Result<Arc<ClientConfig>, String> {
    let base_dir = &config.base_dir;
    let server_cert = source
        .server_cert
        .as_deref()
        .ok_or("encryption is on but server_cert (the source's certificate or CA) is not set")?;
    let mut roots = RootCertStore::empty();
    let trusted = read_source(server_cert, base_dir)
        .and_then(|bytes| parse_certificates(&bytes))
        .map_err(|problem| format!("server_cert: {problem}"))?;
    for cert in trusted {
        roots
            .add(cert.der().clone())
            .map_err(|error| format!("server_cert: {error}"))?;
    }
    let node_tls = &config.node.tls;
    let (cert, key, field) =
        match (&source.client_cert, &source.client_key) {
            (Some(cert), Some(key)) => (cert.clone(), key.clone(), "client_cert"),
            _ => match (&node_tls.syncer_cert, &node_tls.syncer_key) {
                (Some(cert), Some(key)) => (cert.clone(), key.clone(), "node.tls.syncer_cert"),
                _ => return Err(
                    "encryption is on but there is no client_cert and no node syncer certificate"
                        .to_string(),
                ),
            },
        };
    let chain: Vec<_> = read_source(&cert, base_dir)
        .and_then(|bytes| parse_certificates(&bytes))
        .map_err(|problem| format!("{field}: {problem}"))?
        .into_iter()
        .map(|cert| cert.der().clone())
        .collect();
    let key = read_source(&key, base_dir)
        .and_then(|bytes| parse_private_key(&bytes))
        .map_err(|problem| format!("{field} key: {problem}"))?;
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| error.to_string())?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|error| format!("{field}: {error}"))?;
    Ok(Arc::new(config))
}

/// Runs the client handshake on `tcp`.
pub(crate) async fn connect(
    tcp: TcpStream,
    config: Arc<ClientConfig>,
    server_name: &str,
) -> Result<(TcpStream, Option<Box<Connection>>), String> {
    let name = ServerName::try_from(server_name.to_string())
        .map_err(|error| format!("replication_tls_sni {server_name:?}: {error}"))?;
    let tls = ClientConnection::new(config, name).map_err(|error| format!("TLS: {error}"))?;
    match monoio::time::timeout(HANDSHAKE_TIMEOUT, handshake(tcp, tls)).await {
        Ok(Ok((tcp, tls))) => Ok((tcp, Some(Box::new(Connection::Client(tls))))),
        Ok(Err(error)) => Err(format!("TLS handshake with the source: {error}")),
        Err(_) => Err("TLS handshake with the source timed out".to_string()),
    }
}

async fn handshake(
    mut tcp: TcpStream,
    mut tls: ClientConnection,
) -> io::Result<(TcpStream, ClientConnection)> {
    loop {
        send_pending(&mut tcp, &mut tls).await?;
        if !tls.is_handshaking() {
            return Ok((tcp, tls));
        }
        let (result, buffer) = tcp.read(vec![0u8; 16 * 1024]).await;
        let read = result?;
        if read == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the source closed the connection during the handshake",
            ));
        }
        let mut input = &buffer[..read];
        while !input.is_empty() {
            tls.read_tls(&mut input)?;
            if let Err(error) = tls.process_new_packets() {
                // Tell the source why before giving up.
                let _ = send_pending(&mut tcp, &mut tls).await;
                return Err(io::Error::new(io::ErrorKind::InvalidData, error));
            }
        }
        // Plaintext cannot arrive before the handshake ends; drain nothing.
        let _ = tls.reader().read(&mut []);
    }
}

async fn send_pending(tcp: &mut TcpStream, tls: &mut ClientConnection) -> io::Result<()> {
    while tls.wants_write() {
        let mut out = Vec::new();
        tls.write_tls(&mut out)?;
        let (result, _) = tcp.write_all(out).await;
        result?;
    }
    Ok(())
}
