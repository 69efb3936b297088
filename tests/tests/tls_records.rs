//! Proves that userspace TLS handles what a real client sends after the
//! handshake: pipelines whose replies span several TLS records, 64 KiB
//! values byte for byte on TLS 1.2 and 1.3, a client KeyUpdate in the
//! middle of a session, no resumption, and a client sending a garbage
//! record (it gets an alert; another client on the node is not disturbed).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use petrel_e2e::tls::{byte_pattern, client_config, tls_only_server, Pki, TlsConn};
use petrel_e2e::{encode_command, skip_under_redis, Reply};
use petrel_tls::rustls;

const TLS12: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS12];
const TLS13: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];

fn bulk(bytes: &[u8]) -> Reply {
    Reply::Bulk(bytes.to_vec())
}

// On both versions: a 64 KiB value SET then GET comes back byte for byte
// (its reply is four full records and a piece), and 300 pipelined GETs of a
// 1 KiB value sent in one write are answered in order, their replies
// (300 KiB) spanning many records.
#[test]
fn large_values_and_multi_record_pipelines_round_trip_on_tls12_and_tls13() {
    if skip_under_redis("Petrel's TLS") {
        return;
    }
    let pki = Pki::generate();
    let server = tls_only_server(&pki);
    for (versions, name) in [(TLS12, "TLSv1_2"), (TLS13, "TLSv1_3")] {
        let config = client_config(&pki, Some("client1"), Some(versions));
        let mut conn = TlsConn::connect(server.port(), config).expect("handshake");
        assert_eq!(conn.negotiated().0, name);

        let value = byte_pattern(64 * 1024, versions.len() + name.len());
        conn.send(&encode_command(&[&b"SET"[..], b"big", &value]));
        assert_eq!(conn.read_reply(), Reply::simple("OK"));
        assert_eq!(conn.command(&["GET", "big"]), bulk(&value));

        let small = byte_pattern(1024, 3);
        conn.send(&encode_command(&[&b"SET"[..], b"small", &small]));
        assert_eq!(conn.read_reply(), Reply::simple("OK"));
        let mut bytes = Vec::new();
        for _ in 0..300 {
            bytes.extend(encode_command(&["GET", "small"]));
        }
        conn.send(&bytes);
        for index in 0..300 {
            assert_eq!(conn.read_reply(), bulk(&small), "reply {index} on {name}");
        }
        assert_eq!(conn.command(&["PING"]), Reply::simple("PONG"));
    }
}

// A TLS 1.3 client that updates its keys (and asks the server to update
// its own) keeps its session: commands before and after are answered, with
// the server's replies under its new keys.
#[test]
fn a_client_key_update_mid_session_keeps_the_session_working() {
    if skip_under_redis("Petrel's TLS") {
        return;
    }
    let pki = Pki::generate();
    let server = tls_only_server(&pki);
    let config = client_config(&pki, Some("client1"), Some(TLS13));
    let mut conn = TlsConn::connect(server.port(), config).expect("handshake");
    assert_eq!(conn.command(&["SET", "k", "before"]), Reply::simple("OK"));
    for round in 0..3 {
        conn.refresh_traffic_keys();
        let value = format!("after-{round}");
        assert_eq!(conn.command(&["SET", "k", &value]), Reply::simple("OK"));
        assert_eq!(conn.command(&["GET", "k"]), Reply::bulk(&value));
    }
}

// The node issues no session tickets (a resumed session would skip the
// client-certificate check): a second connection with the same client
// configuration is a full handshake, and both serve commands.
#[test]
fn no_session_is_resumed() {
    if skip_under_redis("Petrel's TLS") {
        return;
    }
    let pki = Pki::generate();
    let server = tls_only_server(&pki);
    let config = client_config(&pki, Some("client1"), Some(TLS13));
    let mut first = TlsConn::connect(server.port(), config.clone()).expect("handshake");
    assert_eq!(first.command(&["PING"]), Reply::simple("PONG"));
    let mut second = TlsConn::connect(server.port(), config).expect("handshake");
    assert_eq!(second.handshake_kind(), Some(rustls::HandshakeKind::Full));
    assert_eq!(second.command(&["PING"]), Reply::simple("PONG"));
}

// A client whose records turn to garbage after the handshake loses its own
// connection (the server closes it) while another client goes on.
#[test]
fn garbage_records_end_only_the_sender() {
    if skip_under_redis("Petrel's TLS") {
        return;
    }
    let pki = Pki::generate();
    let mut server = tls_only_server(&pki);
    let config = client_config(&pki, Some("client1"), None);
    let mut bystander = TlsConn::connect(server.port(), config.clone()).expect("handshake");
    assert_eq!(bystander.command(&["SET", "k", "v"]), Reply::simple("OK"));

    // A full TLS handshake on a plain socket is what TlsConn does; here the
    // bytes after it are an application-data record that fails to decrypt.
    let mut tcp = TcpStream::connect(("127.0.0.1", server.port())).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("name");
    let mut client = rustls::ClientConnection::new(config, name).expect("client");
    while client.is_handshaking() {
        client.complete_io(&mut tcp).expect("handshake");
    }
    let mut garbage = vec![0x17, 0x03, 0x03, 0x00, 0x40];
    garbage.extend(byte_pattern(0x40, 5));
    tcp.write_all(&garbage).expect("send garbage");
    // The server answers with a bad_record_mac alert (behind any session
    // tickets) and closes: reading ends, and no reply came.
    let mut answer = Vec::new();
    let _ = tcp.read_to_end(&mut answer);
    let mut input = &answer[..];
    let mut outcome = Ok(());
    while !input.is_empty() && outcome.is_ok() {
        client.read_tls(&mut input).expect("read_tls from a slice");
        outcome = client.process_new_packets().map(|_| ());
    }
    assert_eq!(
        outcome,
        Err(rustls::Error::AlertReceived(
            rustls::AlertDescription::BadRecordMac
        ))
    );

    assert_eq!(bystander.command(&["GET", "k"]), Reply::bulk("v"));
    server.assert_alive();
}
