//! One client connection: read, parse, run the batch, write, repeat.
//!
//! The loop is written against monoio's `AsyncReadRent`/`AsyncWriteRent`, so
//! the same code serves a plain socket, a kernel-TLS socket and a userspace
//! TLS stream.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use std::sync::atomic::Ordering;

use monoio::io::AsyncWriteRent;
use monoio::net::TcpStream;
use petrel_resp::{Limits, RequestParser, WireBuffer};
use petrel_store::session::Session;
use petrel_store::slowlog::ClientLabel;
use petrel_tls::{HandshakeFailure, PeerRole, TlsMode};
use tracing::{debug, warn};

use crate::node::{now_ms, Place};
use crate::pipeline::{Batch, Control, ReplySlots};
use crate::security::{KernelTls, TransportKind};
use crate::tls_stream::{Handoff, HandshakeError, KtlsFallback, TlsStream};
use crate::transport::Transport;
use crate::worker::Worker;

/// A TLS record header; the first byte of a handshake record.
const TLS_RECORD_HEADER_BYTES: usize = 5;
const TLS_HANDSHAKE_RECORD: u8 = 0x16;
/// Initial read buffer; it grows for big requests and shrinks back after.
const READ_BUFFER_BYTES: usize = 16 * 1024;
/// Read at least this much free space at a time.
const READ_CHUNK_MIN_BYTES: usize = 4 * 1024;
/// Grow towards a big bulk payload in steps of at most this, so a header
/// promising 512 MB does not allocate it before the bytes arrive.
const READ_GROW_STEP_MAX_BYTES: usize = 4 * 1024 * 1024;
/// Requests run per batch before replies are written, bounding reply memory.
const PIPELINE_BATCH_MAX: usize = 1024;
/// Reply bytes after which a batch stops taking requests and writes.
const WRITE_BUFFER_FLUSH_BYTES: usize = 1024 * 1024;

/// Redis's answer to a connection past `maxclients`.
const MAXCLIENTS_REACHED: &[u8] = b"-ERR max number of clients reached\r\n";
/// How long a refused connection is read from before it is closed.
const REFUSAL_LINGER: Duration = Duration::from_millis(200);
/// Bytes a refused connection's client may have sent that are read and dropped.
const REFUSAL_DRAIN_MAX_BYTES: usize = 64 * 1024;

/// What the engine knows about a connection's transport and peer.
#[derive(Debug, Clone)]
pub(crate) struct ConnectionSecurity {
    pub transport: TransportKind,
    pub mode: TlsMode,
    pub role: PeerRole,
    /// Protocol version and cipher suite, for CLIENT LIST.
    pub tls_description: Option<(String, String)>,
}

/// Answers a connection past `maxclients` as Redis does, then closes it: the
/// error on a database that takes plaintext, nothing where every client
/// must speak TLS (no handshake is spent on a connection being refused).
pub(crate) async fn refuse(
    worker: Rc<Worker>,
    database: usize,
    mut tcp: TcpStream,
    peer: SocketAddr,
) {
    let mode = worker
        .shared
        .security
        .snapshot
        .load()
        .database(database)
        .mode();
    debug!(%peer, "refusing a connection: maxclients are open");
    if mode != TlsMode::Enabled {
        let (written, _) = tcp.write_all(BytesMut::from(MAXCLIENTS_REACHED)).await;
        // Closing with the client's request unread would send a reset, which
        // can discard the error before the client reads it; so the request
        // is read first, for a moment, unless so many refusals linger that
        // they would use up the descriptors kept for listeners and links.
        let linger = written.is_ok() && AsyncWriteRent::shutdown(&mut tcp).await.is_ok();
        if let Some(_lingering) = linger
            .then(|| Place::lingering_refusal(&worker.shared))
            .flatten()
        {
            let drain = async {
                let mut drained = 0;
                let mut buffer = BytesMut::with_capacity(READ_CHUNK_MIN_BYTES);
                while drained < REFUSAL_DRAIN_MAX_BYTES {
                    buffer.clear();
                    let (read, returned) = tcp.read_into(buffer).await;
                    buffer = returned;
                    match read {
                        Ok(count) if count > 0 => drained += count,
                        _ => break,
                    }
                }
            };
            let _ = monoio::time::timeout(REFUSAL_LINGER, drain).await;
        }
    }
    tcp.close().await;
}

/// Applies the database's TLS policy to a new connection: tells TLS from
/// RESP by the first byte, refuses what the mode forbids, runs the
/// handshake, tries the kernel handoff, then serves.
pub(crate) async fn accept(
    worker: Rc<Worker>,
    database: usize,
    tcp: TcpStream,
    peer: SocketAddr,
    _place: Place,
) {
    let shared = worker.shared.clone();
    let security = &shared.security;
    let snapshot = security.snapshot.load_full();
    let policy = snapshot.database(database);
    let mode = policy.mode();
    let local = tcp
        .local_addr()
        .map(|address| address.to_string())
        .unwrap_or_default();
    let fd = tcp.as_raw_fd();

    // One TLS record header at most: a TLS handshake must not read past
    // the records it consumes.
    let mut tcp = tcp;
    // Listed by CLIENT LIST (and in reach of CLIENT KILL) from accept, as
    // Redis lists a client that has yet to send anything; dropped before
    // the socket is.
    let (session, _registration) = register(&worker, database, peer.to_string(), local, fd);
    let first_read = tcp.read_into(BytesMut::with_capacity(TLS_RECORD_HEADER_BYTES));
    let (result, first) = if mode == TlsMode::Enabled {
        match monoio::time::timeout(policy.handshake_timeout(), first_read).await {
            Ok(read) => read,
            Err(_) => {
                security
                    .counters
                    .handshake_failed(HandshakeFailure::Timeout);
                debug!(%peer, "closing: nothing arrived within the handshake timeout");
                return;
            }
        }
    } else {
        first_read.await
    };
    if !matches!(result, Ok(read) if read > 0) {
        return;
    }
    let starts_tls = first[0] == TLS_HANDSHAKE_RECORD;
    match (mode, starts_tls) {
        (TlsMode::Disabled, true) => {
            security
                .counters
                .tls_refused_on_plaintext_port
                .fetch_add(1, Ordering::Relaxed);
            debug!(%peer, "closing: TLS ClientHello on a database whose tls_mode is disabled");
            tcp.close().await;
        }
        (TlsMode::Enabled, false) => {
            security
                .counters
                .plaintext_refused_on_tls_port
                .fetch_add(1, Ordering::Relaxed);
            debug!(%peer, "closing: plaintext on a database whose tls_mode is enabled");
            tcp.close().await;
        }
        (_, false) => {
            let Some(_tracked) = crate::control::track(&worker, database, fd, None) else {
                tcp.close().await;
                return;
            };
            let _gauge = security.counters.open(TransportKind::Plain);
            let info = ConnectionSecurity {
                transport: TransportKind::Plain,
                mode,
                role: PeerRole::Client,
                tls_description: None,
            };
            let mut initial = BytesMut::with_capacity(READ_BUFFER_BYTES);
            initial.extend_from_slice(&first);
            serve(worker, database, tcp, initial, info, session).await;
        }
        (_, true) => {
            let Some(config) = policy.server_config() else {
                tcp.close().await;
                return;
            };
            let mut stream = match TlsStream::accept(tcp, config, first, policy.handshake_timeout())
                .await
            {
                Ok(stream) => stream,
                Err((error, stream)) => {
                    let failure = match &error {
                        HandshakeError::Timeout => HandshakeFailure::Timeout,
                        HandshakeError::Tls(tls_error) => {
                            petrel_tls::classify_handshake_error(tls_error)
                        }
                        HandshakeError::Closed | HandshakeError::Io(_) => HandshakeFailure::Other,
                    };
                    security.counters.handshake_failed(failure);
                    debug!(%peer, %error, reason = failure.as_str(), "TLS handshake failed");
                    if let Some(mut stream) = stream {
                        stream.abort().await;
                    }
                    return;
                }
            };
            security
                .counters
                .handshakes_completed
                .fetch_add(1, Ordering::Relaxed);
            let role = petrel_tls::classify_peer(policy, stream.connection().peer_certificates());
            let tls_description = describe(stream.connection());
            let chain = stream.connection().peer_certificates().map(<[_]>::to_vec);
            let Some(_tracked) = crate::control::track(&worker, database, fd, chain) else {
                stream.abort().await;
                return;
            };
            let handoff = match &security.kernel_tls {
                // `ktls = "off"` set at run time applies to new connections.
                KernelTls::Available(_) if policy.ktls_mode() == petrel_tls::KtlsMode::Off => {
                    Handoff::Userspace(Box::new(stream), KtlsFallback::Disabled)
                }
                KernelTls::Available(capabilities) => stream.hand_to_kernel(capabilities),
                KernelTls::Unavailable => {
                    Handoff::Userspace(Box::new(stream), KtlsFallback::KernelLacksTls)
                }
                KernelTls::Off => Handoff::Userspace(Box::new(stream), KtlsFallback::Disabled),
            };
            match handoff {
                Handoff::Kernel(stream) => {
                    let _gauge = security.counters.open(TransportKind::Ktls);
                    let info = ConnectionSecurity {
                        transport: TransportKind::Ktls,
                        mode,
                        role,
                        tls_description,
                    };
                    serve(
                        worker,
                        database,
                        stream,
                        BytesMut::with_capacity(READ_BUFFER_BYTES),
                        info,
                        session,
                    )
                    .await;
                }
                Handoff::Userspace(stream, reason) => {
                    security.counters.ktls_fallback(reason);
                    let _gauge = security.counters.open(TransportKind::UserspaceTls);
                    let info = ConnectionSecurity {
                        transport: TransportKind::UserspaceTls,
                        mode,
                        role,
                        tls_description,
                    };
                    serve(
                        worker,
                        database,
                        stream,
                        BytesMut::with_capacity(READ_BUFFER_BYTES),
                        info,
                        session,
                    )
                    .await;
                }
                Handoff::Failed(reason, error) => {
                    security.counters.ktls_fallback(reason);
                    warn!(%peer, %error, "kernel TLS handoff failed; closing the connection");
                }
            }
        }
    }
}

fn describe(connection: &petrel_tls::rustls::CommonState) -> Option<(String, String)> {
    let version = match connection.protocol_version()? {
        petrel_tls::rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_string(),
        petrel_tls::rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_string(),
        other => format!("{other:?}"),
    };
    let cipher = connection
        .negotiated_cipher_suite()?
        .suite()
        .as_str()
        .unwrap_or("unknown")
        .to_string();
    Some((version, cipher))
}

/// Registers a new connection's session on this thread, with a guard that
/// removes it. Its transport reads `pending` until the first byte decides
/// it (or, over TLS, until the handshake is done).
fn register(
    worker: &Rc<Worker>,
    database: usize,
    peer: String,
    local: String,
    fd: RawFd,
) -> (Rc<RefCell<Session>>, Registration) {
    let shared = &worker.shared;
    let id = shared
        .next_client_id
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let password_required = shared.database(database).password.is_some();
    let mut new_session = Session::new(id, database, peer, local, now_ms(), password_required);
    new_session.transport = "pending";
    new_session.fd = fd;
    let session = Rc::new(RefCell::new(new_session));
    worker.sessions.borrow_mut().insert(id, session.clone());
    let registration = Registration {
        worker: worker.clone(),
        id,
    };
    (session, registration)
}

/// Serves one connection until the peer closes, QUIT, or a protocol error.
pub(crate) async fn serve<T: Transport>(
    worker: Rc<Worker>,
    database: usize,
    mut stream: T,
    mut read_buffer: BytesMut,
    security: ConnectionSecurity,
    session: Rc<RefCell<Session>>,
) {
    let shared = worker.shared.clone();
    let (id, peer) = {
        let mut session = session.borrow_mut();
        session.transport = security.transport.as_str();
        session.tls = security.tls_description.clone();
        (session.id, session.peer_address.clone())
    };
    let client = RefCell::new(Arc::new(ClientLabel {
        addr: peer.clone(),
        name: None,
    }));

    let mut parser = RequestParser::new(Limits {
        proto_max_bulk_len: shared.config.node.proto_max_bulk_len,
        ..Limits::default()
    });
    let mut replies = WireBuffer::with_capacity(READ_BUFFER_BYTES);
    let mut reply_slots = ReplySlots::default();
    loop {
        // Run every complete request that is already buffered.
        let mut control = Control::Continue;
        let mut protocol_error = None;
        let mut stopped_at_cap = false;
        if !read_buffer.is_empty() {
            let now = now_ms();
            session.borrow_mut().last_command_at_ms = now;
            let batch_started = worker.clock.raw();
            let mut batch = Batch::new(
                &worker,
                &session,
                &client,
                &security,
                &mut reply_slots,
                database,
                now,
            );
            let mut taken = 0;
            loop {
                if taken >= PIPELINE_BATCH_MAX || replies.len() >= WRITE_BUFFER_FLUSH_BYTES {
                    stopped_at_cap = true;
                    break;
                }
                let authenticated = session.borrow().authenticated;
                match parser.parse(&mut read_buffer, authenticated) {
                    Ok(Some(args)) => {
                        taken += 1;
                        control = batch.push(args, &mut replies).await;
                        if let Some(spent) = batch.take_spent_arguments() {
                            parser.recycle(spent);
                        }
                        if control != Control::Continue {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(error) => {
                        protocol_error = Some(error);
                        break;
                    }
                }
            }
            batch.flush(&mut replies).await;
            let took = worker.clock.delta(batch_started, worker.clock.raw());
            crate::control::count_requests(database, taken, took);
            if let Some(error) = &protocol_error {
                debug!(client = id, %peer, %error, "protocol error, closing the connection");
                let protocol = session.borrow().protocol;
                replies.encode(
                    petrel_resp::Reply::error_owned(error.reply_text()),
                    protocol,
                );
            }
        }
        if !replies.is_empty() {
            worker.stats.borrow_mut().net_output_bytes += replies.len() as u64;
            let result = if replies.is_contiguous() {
                let (result, buffer) = stream.write_all(replies.take_contiguous()).await;
                replies.restore_contiguous(buffer);
                result
            } else {
                let (result, pieces) = stream.write_pieces(replies.take_pieces()).await;
                replies.restore_pieces(pieces);
                result
            };
            if let Err(error) = result {
                debug!(client = id, %peer, %error, "connection ended while sending replies");
                return;
            }
        }
        if control == Control::Sync && protocol_error.is_none() {
            crate::sync_ring::hand_off(&worker, id, database, stream, read_buffer, &peer).await;
            return;
        }
        if control == Control::Close || protocol_error.is_some() {
            stream.close().await;
            return;
        }
        if stopped_at_cap {
            // The batch stopped at its cap; run the rest before reading more.
            continue;
        }

        // Read more.
        let wanted = parser
            .bytes_wanted()
            .unwrap_or(0)
            .min(READ_GROW_STEP_MAX_BYTES);
        make_read_room(&mut read_buffer, wanted);
        // Reading no further than the rest of the payload being read (or one
        // chunk) keeps a big request from landing at the end of a large
        // buffer, where finishing it would mean moving it whole.
        let (result, buffer) = stream
            .read_into_at_most(read_buffer, READ_BUFFER_BYTES.max(wanted))
            .await;
        read_buffer = buffer;
        match result {
            Ok(0) => {
                // The peer closed (for TLS: sent close_notify); answer in kind.
                debug!(client = id, %peer, "connection closed by the client");
                stream.close().await;
                return;
            }
            Err(error) => {
                debug!(client = id, %peer, %error, "connection ended");
                return;
            }
            Ok(read) => worker.stats.borrow_mut().net_input_bytes += read as u64,
        }
    }
}

/// Makes room in the read buffer for the next receive: at least
/// `READ_CHUNK_MIN_BYTES`, and all of `wanted` (the rest of a bulk payload
/// being read).
///
/// The allocation is reused when nothing else holds it. When stored values
/// still hold slices of it (big values are kept that way, without a copy),
/// a new buffer of just the room needed takes the unread bytes: `reserve`
/// would size it after the old allocation and copy its consumed front too,
/// so a 64 KiB SET that arrives in pieces would be copied almost whole.
fn make_read_room(read_buffer: &mut BytesMut, wanted: usize) {
    let needed = READ_CHUNK_MIN_BYTES.max(wanted);
    let free = read_buffer.capacity() - read_buffer.len();
    if free >= needed || read_buffer.try_reclaim(needed) {
        return;
    }
    // Grow at least by what is already here, so a payload longer than one
    // growth step is copied a logarithmic number of times.
    let room = READ_BUFFER_BYTES.max(wanted).max(read_buffer.len());
    let mut fresh = BytesMut::with_capacity(read_buffer.len() + room);
    fresh.extend_from_slice(read_buffer);
    *read_buffer = fresh;
}

/// Removes the connection from its thread's registry when it ends.
struct Registration {
    worker: Rc<Worker>,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let session = self.worker.sessions.borrow_mut().remove(&self.id);
        // A connection that ends while watching keys must not leave them watched.
        if let Some(session) = session {
            let mut session = session.borrow_mut();
            let watched = session.transaction.take_watches();
            if !watched.is_empty() {
                self.worker
                    .unwatch_detached(session.database, crate::pipeline::unwatch_ops(watched));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_held_by_a_stored_value_is_left_to_it() {
        // A 64 KiB request was read and split off; its value still holds the
        // allocation. The next receive gets a buffer of its own, sized for
        // what is needed rather than after the old allocation.
        let mut read_buffer = BytesMut::with_capacity(80 * 1024);
        read_buffer.extend_from_slice(&[7; 70 * 1024]);
        let value = read_buffer.split_to(70 * 1024 - 10).freeze();
        let held = value.as_ptr();
        make_read_room(&mut read_buffer, 0);
        assert_eq!(&read_buffer[..], &[7; 10][..]);
        assert!(read_buffer.capacity() - read_buffer.len() >= READ_CHUNK_MIN_BYTES);
        assert!(
            read_buffer.capacity() <= 10 + READ_BUFFER_BYTES,
            "{}",
            read_buffer.capacity()
        );
        assert_eq!(value.as_ptr(), held);
        assert_eq!(value.len(), 70 * 1024 - 10);
    }

    #[test]
    fn a_free_buffer_is_reused_in_place() {
        let mut read_buffer = BytesMut::with_capacity(READ_BUFFER_BYTES);
        let start = read_buffer.as_ptr();
        read_buffer.extend_from_slice(&[1; READ_BUFFER_BYTES - 100]);
        // Requests consumed and their arguments dropped: nothing holds them.
        drop(read_buffer.split_to(READ_BUFFER_BYTES - 120));
        make_read_room(&mut read_buffer, 0);
        assert_eq!(read_buffer.as_ptr(), start, "the allocation was not reused");
        assert_eq!(&read_buffer[..], &[1; 20][..]);
    }

    #[test]
    fn the_rest_of_a_bulk_payload_fits_in_one_receive() {
        let mut read_buffer = BytesMut::with_capacity(READ_BUFFER_BYTES);
        read_buffer.extend_from_slice(&[2; READ_BUFFER_BYTES]);
        let wanted = 48 * 1024;
        make_read_room(&mut read_buffer, wanted);
        assert!(read_buffer.capacity() - read_buffer.len() >= wanted);
        assert_eq!(&read_buffer[..], &[2; READ_BUFFER_BYTES][..]);
    }

    #[test]
    fn a_huge_payload_grows_geometrically() {
        // Growth steps are capped; what has arrived sets the next step, so a
        // large payload is copied a few times, not once per step.
        let mut read_buffer = BytesMut::new();
        let mut copies = 0;
        while read_buffer.len() < 64 * 1024 * 1024 {
            let before = read_buffer.as_ptr();
            make_read_room(&mut read_buffer, READ_GROW_STEP_MAX_BYTES);
            if read_buffer.as_ptr() != before {
                copies += 1;
            }
            let free = read_buffer.capacity() - read_buffer.len();
            read_buffer.extend_from_slice(&vec![3; free]);
        }
        assert!(copies <= 8, "{copies} copies");
    }
}
