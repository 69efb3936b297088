//! Tests of the handoff that run on any kernel: the crypto_info built for each
//! suite is checked against the key schedule and against a model of the
//! kernel's record layer talking to a real rustls peer; the handshake driver
//! is checked to leave pipelined bytes in the socket; probing and offloading
//! are checked to say clearly why kTLS is unavailable where it is.

mod model;
mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use model::KernelModel;
use petrel_ktls::{
    complete_handshake, offload_connection, offload_unbuffered, probe, recv_record, CryptoInfo,
    Record, TlsStat, TlsVersion, Unavailable,
};
use rustls::server::UnbufferedServerConnection;
use rustls::unbuffered::ConnectionState;
use rustls::{ClientConnection, ConnectionCommon, ServerConnection, SupportedCipherSuite};
use support::{suite_name, Configs, SUITES};

/// One key log entry: label, client random, secret.
type KeyLogEntry = (String, Vec<u8>, Vec<u8>);

/// Collects the client's key log (NSS key log format entries).
#[derive(Debug, Default)]
struct KeyLogCollector(Mutex<Vec<KeyLogEntry>>);

impl rustls::KeyLog for KeyLogCollector {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        if let Ok(mut entries) = self.0.lock() {
            entries.push((label.to_owned(), client_random.to_vec(), secret.to_vec()));
        }
    }
}

impl KeyLogCollector {
    fn entry(&self, label: &str) -> (Vec<u8>, Vec<u8>) {
        let entries = self.0.lock().expect("key log lock");
        let (_, random, secret) = entries
            .iter()
            .find(|(l, _, _)| l == label)
            .unwrap_or_else(|| panic!("no {label} in the key log"));
        (random.clone(), secret.clone())
    }
}

/// Moves every queued byte from one in-memory connection to the other;
/// returns what was moved.
fn transfer<A, B, DA, DB>(from: &mut A, to: &mut B) -> Vec<u8>
where
    A: std::ops::DerefMut<Target = ConnectionCommon<DA>>,
    B: std::ops::DerefMut<Target = ConnectionCommon<DB>>,
{
    let mut wire = Vec::new();
    while from.wants_write() {
        from.write_tls(&mut wire).expect("write to memory");
    }
    let mut rest = &wire[..];
    while !rest.is_empty() {
        to.read_tls(&mut rest).expect("read from memory");
        to.process_new_packets().expect("peer accepts the records");
    }
    wire
}

/// Runs a whole handshake in memory; returns both ends and the bytes the
/// server sent.
fn handshake_in_memory(configs: &Configs) -> (ClientConnection, ServerConnection, Vec<u8>) {
    let mut client = ClientConnection::new(configs.client.clone(), Configs::server_name())
        .expect("client connection");
    let mut server = ServerConnection::new(configs.server.clone()).expect("server connection");
    let mut server_wire = Vec::new();
    for _ in 0..10 {
        transfer(&mut client, &mut server);
        server_wire.extend(transfer(&mut server, &mut client));
        if !client.is_handshaking() && !server.is_handshaking() && !client.wants_write() {
            return (client, server, server_wire);
        }
    }
    panic!("handshake did not finish in 10 round trips");
}

/// The kernel's values for a suite, from `linux/tls.h`: version, cipher_type
/// and sizeof(struct tls12_crypto_info_*).
fn kernel_abi(suite: SupportedCipherSuite) -> (u16, u16, usize) {
    use rustls::CipherSuite as S;
    match suite.suite() {
        S::TLS13_AES_128_GCM_SHA256 => (0x0304, 51, 40),
        S::TLS13_AES_256_GCM_SHA384 => (0x0304, 52, 56),
        S::TLS13_CHACHA20_POLY1305_SHA256 => (0x0304, 54, 56),
        S::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 => (0x0303, 51, 40),
        S::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 => (0x0303, 52, 56),
        S::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 => (0x0303, 54, 56),
        other => panic!("no kernel layout for {other:?}"),
    }
}

/// (key, nonce base) in a CryptoInfo, read straight from the kernel fields.
fn key_and_nonce(info: &CryptoInfo) -> (Vec<u8>, [u8; 12]) {
    let mut nonce = [0u8; 12];
    match info {
        CryptoInfo::Aes128Gcm(c) => {
            nonce[..4].copy_from_slice(&c.salt);
            nonce[4..].copy_from_slice(&c.iv);
            (c.key.to_vec(), nonce)
        }
        CryptoInfo::Aes256Gcm(c) => {
            nonce[..4].copy_from_slice(&c.salt);
            nonce[4..].copy_from_slice(&c.iv);
            (c.key.to_vec(), nonce)
        }
        CryptoInfo::Chacha20Poly1305(c) => (c.key.to_vec(), c.iv),
    }
}

/// Adds `n` to the last 8 bytes of a nonce, big-endian, as a 64-bit counter.
fn nonce_plus(mut nonce: [u8; 12], n: u64) -> [u8; 12] {
    let counter = u64::from_be_bytes(nonce[4..].try_into().expect("8 bytes"));
    nonce[4..].copy_from_slice(&counter.wrapping_add(n).to_be_bytes());
    nonce
}

// Proves, for each of the six suites, that the state handed to the kernel is
// right: the header, size and sequence numbers match linux/tls.h and the
// protocol; keys and IVs match those derived from the key log with the RFC
// key schedules; records sealed the kernel's way are accepted by the rustls
// client, and the client's records open the kernel's way; and TLS 1.2 AES-GCM
// never reuses the nonce of the Finished record rustls sent.
#[test]
fn crypto_info_for_every_suite_matches_key_schedule_and_kernel_model() {
    for suite in SUITES {
        let name = suite_name(suite);
        let configs = Configs::for_suite(suite).expect("configs");
        let key_log = Arc::new(KeyLogCollector::default());
        let mut client_config = (*configs.client).clone();
        client_config.key_log = key_log.clone();
        let configs = Configs {
            server: configs.server,
            client: Arc::new(client_config),
        };
        let (mut client, server, server_wire) = handshake_in_memory(&configs);
        assert_eq!(server.negotiated_cipher_suite(), Some(suite), "{name}");

        let version = TlsVersion::from_rustls(suite.version().version).expect("1.2 or 1.3");
        let secrets = server.dangerous_extract_secrets().expect("extractable");
        let tx = CryptoInfo::new(version, secrets.tx.0, &secrets.tx.1).expect("tx info");
        let rx = CryptoInfo::new(version, secrets.rx.0, &secrets.rx.1).expect("rx info");

        let (wire_version, cipher_type, size) = kernel_abi(suite);
        for info in [&tx, &rx] {
            assert_eq!(info.header().version, wire_version, "{name}");
            assert_eq!(info.header().cipher_type, cipher_type, "{name}");
            assert_eq!(info.len(), size, "{name}");
        }
        // TLS 1.2: each side sent its Finished under the traffic keys. TLS 1.3:
        // the client nothing yet, the server its session tickets (rustls
        // coalesces them into one record). The kernel-model exchange below
        // proves the numbers exact: a wrong one changes nonce or AAD.
        match version {
            TlsVersion::Tls12 => assert_eq!((tx.rec_seq(), rx.rec_seq()), (1, 1), "{name}"),
            TlsVersion::Tls13 => {
                assert_eq!(rx.rec_seq(), 0, "{name}");
                assert!(
                    tx.rec_seq() >= 1,
                    "{name}: no session ticket record counted"
                );
            }
        }
        let tx_seq = tx.rec_seq();

        // Keys and IVs from the key log, derived as RFC 8446 / RFC 5246 say.
        let sha384 = cipher_type == 52;
        let key_len = if cipher_type == 51 { 16 } else { 32 };
        let (tx_key, tx_nonce) = key_and_nonce(&tx);
        let (rx_key, rx_nonce) = key_and_nonce(&rx);
        match version {
            TlsVersion::Tls13 => {
                let (_, server_secret) = key_log.entry("SERVER_TRAFFIC_SECRET_0");
                let (_, client_secret) = key_log.entry("CLIENT_TRAFFIC_SECRET_0");
                let expand = |secret: &[u8], label, len| {
                    model::hkdf_expand_label(sha384, secret, label, len)
                };
                assert_eq!(tx_key, expand(&server_secret, "key", key_len), "{name}");
                assert_eq!(
                    tx_nonce.to_vec(),
                    expand(&server_secret, "iv", 12),
                    "{name}"
                );
                assert_eq!(rx_key, expand(&client_secret, "key", key_len), "{name}");
                assert_eq!(
                    rx_nonce.to_vec(),
                    expand(&client_secret, "iv", 12),
                    "{name}"
                );
            }
            TlsVersion::Tls12 => {
                let (client_random, master) = key_log.entry("CLIENT_RANDOM");
                // ServerHello: record header 5, handshake header 4, version 2.
                let server_random = &server_wire[11..43];
                let mut seed = server_random.to_vec();
                seed.extend_from_slice(&client_random);
                let (fixed_iv, explicit) = if cipher_type == 54 { (12, 0) } else { (4, 8) };
                let block = model::tls12_prf(
                    sha384,
                    &master,
                    b"key expansion",
                    &seed,
                    2 * key_len + 2 * fixed_iv + explicit,
                );
                let (client_key, block) = block.split_at(key_len);
                let (server_key, block) = block.split_at(key_len);
                let (client_iv, block) = block.split_at(fixed_iv);
                let (server_iv, explicit_nonce) = block.split_at(fixed_iv);
                assert_eq!(tx_key, server_key, "{name}");
                assert_eq!(rx_key, client_key, "{name}");
                assert_eq!(&tx_nonce[..fixed_iv], server_iv, "{name}");
                assert_eq!(&rx_nonce[..fixed_iv], client_iv, "{name}");
                if cipher_type != 54 {
                    // The kernel's explicit nonce starts past the ones rustls
                    // used (explicit XOR seq for seq < tx_seq).
                    let mut base = [0u8; 12];
                    base[4..].copy_from_slice(explicit_nonce);
                    assert_eq!(tx_nonce[4..], nonce_plus(base, tx_seq)[4..], "{name}");
                }
            }
        }

        // The kernel model seals two records; the rustls client must read them.
        let mut kernel_tx = KernelModel::new(&tx);
        let first_nonce = kernel_tx.next_nonce();
        let mut sealed = kernel_tx.seal(b"first record from the kernel");
        sealed.extend(kernel_tx.seal(b", second record"));
        let mut rest = &sealed[..];
        while !rest.is_empty() {
            client.read_tls(&mut rest).expect("client reads");
            client
                .process_new_packets()
                .unwrap_or_else(|e| panic!("{name}: client rejects the kernel's record: {e}"));
        }
        let mut plaintext = String::new();
        let _ = client.reader().read_to_string(&mut plaintext);
        assert_eq!(
            plaintext, "first record from the kernel, second record",
            "{name}"
        );

        if version == TlsVersion::Tls12 && cipher_type != 54 {
            // The server's encrypted Finished is the handshake record after
            // its ChangeCipherSpec; its explicit nonce must not come back.
            let records = model::records(&server_wire);
            let ccs = records
                .iter()
                .position(|r| r[0] == 20)
                .expect("ChangeCipherSpec");
            let finished = &records[ccs + 1];
            assert_eq!(finished[0], 22, "{name}");
            assert_ne!(first_nonce[4..], finished[5..13], "{name}: nonce reuse");
        }

        // The client's records must open with the kernel model's receive state.
        let mut kernel_rx = KernelModel::new(&rx);
        let mut wire = Vec::new();
        client
            .writer()
            .write_all(b"*1\r\n$4\r\nPING\r\n")
            .expect("queue");
        client.writer().write_all(b"second").expect("queue");
        while client.wants_write() {
            client.write_tls(&mut wire).expect("write to memory");
        }
        let opened: Vec<(u8, Vec<u8>)> = model::records(&wire)
            .iter()
            .map(|r| {
                kernel_rx
                    .open(r)
                    .unwrap_or_else(|| panic!("{name}: record fails to open"))
            })
            .collect();
        assert_eq!(
            opened,
            vec![
                (23, b"*1\r\n$4\r\nPING\r\n".to_vec()),
                (23, b"second".to_vec())
            ],
            "{name}"
        );
    }
}

// Proves offload_connection refuses, without touching the socket, every
// connection whose handoff would lose or corrupt bytes. The descriptor is -1:
// had the crate touched it, the error would be Os(EBADF).
#[test]
fn offload_connection_refuses_connections_that_would_lose_bytes() {
    let configs = Configs::for_suite(SUITES[0]).expect("configs");

    let fresh = ServerConnection::new(configs.server.clone()).expect("server");
    let error = offload_connection(-1, fresh).expect_err("mid-handshake");
    assert!(
        matches!(error, Unavailable::SecretsNotExtractable(_)),
        "{error}"
    );
    assert!(
        error.to_string().contains("handshake has not completed"),
        "{error}"
    );

    let (_, mut server, _) = handshake_in_memory(&configs);
    server.writer().write_all(b"+PONG\r\n").expect("queue");
    let error = offload_connection(-1, server).expect_err("unflushed");
    assert!(error.to_string().contains("not yet written"), "{error}");

    let (mut client, mut server, _) = handshake_in_memory(&configs);
    client
        .writer()
        .write_all(b"*1\r\n$4\r\nPING\r\n")
        .expect("queue");
    transfer(&mut client, &mut server);
    let error = offload_connection(-1, server).expect_err("plaintext buffered");
    assert!(error.to_string().contains("14 decrypted bytes"), "{error}");

    let mut server_config = (*configs.server).clone();
    server_config.enable_secret_extraction = false;
    let configs = Configs {
        server: Arc::new(server_config),
        client: configs.client,
    };
    let (_, server, _) = handshake_in_memory(&configs);
    let error = offload_connection(-1, server).expect_err("extraction disabled");
    assert!(
        matches!(error, Unavailable::SecretsNotExtractable(_)),
        "{error}"
    );
    assert_eq!(error.reason(), "secrets_not_extractable");
}

/// Runs a whole handshake in memory against rustls's unbuffered server;
/// returns both ends and the ciphertext the server has not consumed.
fn unbuffered_handshake_in_memory(
    configs: &Configs,
) -> (ClientConnection, UnbufferedServerConnection, Vec<u8>) {
    let mut client = ClientConnection::new(configs.client.clone(), Configs::server_name())
        .expect("client connection");
    let mut server = UnbufferedServerConnection::new(configs.server.clone()).expect("server");
    let mut incoming = Vec::new();
    for _ in 0..10 {
        while client.wants_write() {
            client.write_tls(&mut incoming).expect("write to memory");
        }
        let mut to_client = Vec::new();
        loop {
            let status = server.process_tls_records(&mut incoming);
            let discard = status.discard;
            let blocked = match status.state.expect("server accepts the records") {
                ConnectionState::EncodeTlsData(mut encode) => {
                    let mut buffer = vec![0u8; 64 * 1024];
                    let written = encode.encode(&mut buffer).expect("encode");
                    to_client.extend_from_slice(&buffer[..written]);
                    false
                }
                ConnectionState::TransmitTlsData(transmit) => {
                    transmit.done();
                    false
                }
                ConnectionState::BlockedHandshake | ConnectionState::WriteTraffic(_) => true,
                other => panic!("unexpected server state {other:?}"),
            };
            incoming.drain(..discard);
            if blocked {
                break;
            }
        }
        let mut rest = &to_client[..];
        while !rest.is_empty() {
            client.read_tls(&mut rest).expect("read from memory");
            client
                .process_new_packets()
                .expect("client accepts the records");
        }
        if !client.is_handshaking() && !server.is_handshaking() && !client.wants_write() {
            return (client, server, incoming);
        }
    }
    panic!("handshake did not finish in 10 round trips");
}

// Proves offload_unbuffered refuses what offload_connection refuses (a
// connection mid-handshake, or holding decrypted bytes), without touching the
// socket, and that a settled connection gets as far as the socket (-1: EBADF).
#[test]
fn offload_unbuffered_refuses_connections_that_would_lose_bytes() {
    let configs = Configs::for_suite(SUITES[0]).expect("configs");

    let fresh = UnbufferedServerConnection::new(configs.server.clone()).expect("server");
    let error = offload_unbuffered(-1, fresh).expect_err("mid-handshake");
    assert!(
        error.to_string().contains("handshake has not completed"),
        "{error}"
    );

    let (mut client, mut server, mut incoming) = unbuffered_handshake_in_memory(&configs);
    client
        .writer()
        .write_all(b"*1\r\n$4\r\nPING\r\n")
        .expect("queue");
    while client.wants_write() {
        client.write_tls(&mut incoming).expect("write to memory");
    }
    // rustls decrypts the record; nobody reads it.
    let status = server.process_tls_records(&mut incoming);
    assert!(matches!(status.state, Ok(ConnectionState::ReadTraffic(_))));
    let error = offload_unbuffered(-1, server).expect_err("plaintext buffered");
    assert!(error.to_string().contains("decrypted bytes"), "{error}");

    let (_, server, incoming) = unbuffered_handshake_in_memory(&configs);
    assert!(incoming.is_empty());
    let error = offload_unbuffered(-1, server).expect_err("bad descriptor");
    assert_eq!(error.reason(), "os_error", "{error}");
}

/// Runs the handshake over loopback TCP with the client pipelining `command`
/// behind its Finished; returns the server's connection and socket, and the
/// client thread (which keeps its socket open until told to finish).
fn pipelined_handshake(
    suite: SupportedCipherSuite,
    command: &'static [u8],
) -> (
    ServerConnection,
    TcpStream,
    thread::JoinHandle<()>,
    std::sync::mpsc::Sender<()>,
) {
    let configs = Configs::for_suite(suite).expect("configs");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    let client_config = configs.client.clone();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let client = thread::spawn(move || {
        let mut stream = TcpStream::connect(address).expect("connect");
        let mut conn =
            ClientConnection::new(client_config, Configs::server_name()).expect("client");
        // Queued before the handshake ends: rustls sends it in the same
        // flush as the Finished message.
        conn.writer().write_all(command).expect("queue command");
        complete_handshake(&mut conn, &mut stream).expect("client handshake");
        let _ = done_rx.recv();
    });
    let (mut stream, _) = listener.accept().expect("accept");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut server = ServerConnection::new(configs.server).expect("server");
    complete_handshake(&mut server, &mut stream).expect("server handshake");
    (server, stream, client, done_tx)
}

// Proves the handshake driver stops reading at the client's Finished: for
// TLS 1.2 and 1.3, a command the client pipelined right behind it is still in
// the socket afterwards, and opens with the receive state handed to the
// kernel, so after a real offload the kernel decrypts it.
#[test]
fn command_pipelined_behind_finished_stays_in_the_socket() {
    const COMMAND: &[u8] = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";
    for suite in [SUITES[0], SUITES[3]] {
        let name = suite_name(suite);
        let (mut server, mut stream, client, done) = pipelined_handshake(suite, COMMAND);
        let state = server.process_new_packets().expect("no TLS error");
        assert_eq!(
            state.plaintext_bytes_to_read(),
            0,
            "{name}: rustls decrypted the pipelined command"
        );
        let mut plaintext = Vec::new();

        let version = TlsVersion::from_rustls(suite.version().version).expect("version");
        let secrets = server.dangerous_extract_secrets().expect("secrets");
        let rx = CryptoInfo::new(version, secrets.rx.0, &secrets.rx.1).expect("rx info");
        let mut kernel_rx = KernelModel::new(&rx);
        let mut wire = Vec::new();
        let mut chunk = [0u8; 4096];
        while plaintext.len() < COMMAND.len() {
            let n = stream.read(&mut chunk).expect("pipelined bytes arrive");
            assert!(n > 0, "{name}: the client's command never arrived");
            wire.extend_from_slice(&chunk[..n]);
            let complete = complete_records_len(&wire);
            for record in model::records(&wire[..complete]) {
                let (content_type, bytes) = kernel_rx.open(&record).expect("opens");
                assert_eq!(content_type, 23, "{name}");
                plaintext.extend(bytes);
            }
            wire.drain(..complete);
        }
        assert_eq!(plaintext, COMMAND, "{name}");
        let _ = done.send(());
        client.join().expect("client thread");
    }
}

/// Length of the longest prefix of `wire` made of whole records.
fn complete_records_len(wire: &[u8]) -> usize {
    let mut at = 0;
    while wire.len() >= at + 5 {
        let len = 5 + usize::from(u16::from_be_bytes([wire[at + 3], wire[at + 4]]));
        if wire.len() < at + len {
            break;
        }
        at += len;
    }
    at
}

// Proves probe() answers the question "can this kernel do kTLS?" correctly
// and clearly: where /proc/net/tls_stat is absent after probing (no tls
// module, as on the development machine), it reports KernelLacksTls with a
// message naming TCP_ULP and ENOENT; where kTLS exists, it reports at least
// TLS 1.3 AES-128-GCM.
#[test]
fn probe_says_whether_the_kernel_does_tls() {
    let result = probe();
    let module_loaded = Path::new("/proc/net/tls_stat").exists();
    match result {
        Err(error @ Unavailable::KernelLacksTls) => {
            assert!(
                !module_loaded,
                "probe failed although the tls module is loaded"
            );
            let text = error.to_string();
            assert!(text.contains("kernel TLS is unavailable"), "{text}");
            assert!(
                text.contains("TCP_ULP") && text.contains("ENOENT"),
                "{text}"
            );
            assert_eq!(error.reason(), "kernel_lacks_tls");
        }
        Ok(capabilities) => {
            assert!(module_loaded, "probe succeeded without /proc/net/tls_stat");
            assert!(capabilities.supports(TlsVersion::Tls13, petrel_ktls::Cipher::Aes128Gcm));
            assert!(capabilities.check_suite(SUITES[0]).is_ok());
        }
        Err(other) => panic!("probe failed for another reason: {other}"),
    }
}

// Proves offload_connection on a real, fully handshaken socket agrees with
// probe(): KernelLacksTls where the kernel has no kTLS, and a working kernel
// connection (the pipelined command readable as plaintext) where it has.
#[test]
fn offload_of_a_real_connection_agrees_with_probe() {
    const COMMAND: &[u8] = b"*1\r\n$4\r\nPING\r\n";
    let (server, stream, client, done) = pipelined_handshake(SUITES[0], COMMAND);
    let result = offload_connection(stream.as_raw_fd(), server);
    match (probe(), result) {
        (Err(Unavailable::KernelLacksTls), Err(Unavailable::KernelLacksTls)) => {}
        (Ok(_), Ok(offloaded)) => {
            assert_eq!(offloaded.version, TlsVersion::Tls13);
            let mut buf = [0u8; 64];
            let record = recv_record(stream.as_raw_fd(), &mut buf).expect("recv");
            assert_eq!(record, Record::Data(COMMAND.len()));
            assert_eq!(&buf[..COMMAND.len()], COMMAND);
        }
        (probed, offloaded) => panic!(
            "probe and offload disagree: {:?} vs {:?}",
            probed.err().map(|e| e.to_string()),
            offloaded.map_err(|e| e.to_string())
        ),
    }
    let _ = done.send(());
    client.join().expect("client thread");
}

// Proves recv_record degrades to plain reads on a socket without kTLS
// receive: data comes back as Data, the peer's close as Eof, and an empty
// buffer is refused instead of faking an end of stream.
#[test]
fn recv_record_reads_data_and_eof_on_a_plain_socket() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let mut writer = TcpStream::connect(listener.local_addr().expect("address")).expect("connect");
    let (reader, _) = listener.accept().expect("accept");
    writer.write_all(b"abc").expect("write");
    let mut buf = [0u8; 16];
    assert_eq!(
        recv_record(reader.as_raw_fd(), &mut buf).expect("recv"),
        Record::Data(3)
    );
    assert_eq!(&buf[..3], b"abc");
    assert!(recv_record(reader.as_raw_fd(), &mut []).is_err());
    drop(writer);
    assert_eq!(
        recv_record(reader.as_raw_fd(), &mut buf).expect("recv"),
        Record::Eof
    );
}

// Proves the /proc/net/tls_stat reader finds the counters the VM check uses.
#[test]
fn tls_stat_parses_the_kernel_format() {
    let stat = TlsStat::parse(
        "TlsCurrTxSw                     \t2\nTlsCurrRxSw                     \t1\nTlsTxSw 7\n",
    );
    assert_eq!(stat.current_tx_sw(), 2);
    assert_eq!(stat.current_rx_sw(), 1);
    assert_eq!(stat.counter("TlsTxSw"), Some(7));
    assert_eq!(stat.counter("TlsDecryptError"), None);
}
