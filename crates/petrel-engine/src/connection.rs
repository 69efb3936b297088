//! One client connection: read, parse, run the batch, write, repeat.
//!
//! The loop is written against monoio's `AsyncReadRent`/`AsyncWriteRent`, so
//! the same code serves a plain socket, a kernel-TLS socket and a userspace
//! TLS stream.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;

use bytes::BytesMut;
use monoio::net::TcpStream;
use petrel_resp::{Limits, RequestParser};
use petrel_store::session::Session;
use tracing::debug;

use crate::node::now_ms;
use crate::pipeline::{Batch, Control};
use crate::transport::Transport;
use crate::worker::Worker;

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

pub(crate) async fn serve_plain(
    worker: Rc<Worker>,
    database: usize,
    stream: TcpStream,
    peer: SocketAddr,
) {
    let local = stream
        .local_addr()
        .map(|address| address.to_string())
        .unwrap_or_default();
    serve(worker, database, stream, peer.to_string(), local).await;
}

/// Serves one connection until the peer closes, QUIT, or a protocol error.
pub(crate) async fn serve<T: Transport>(
    worker: Rc<Worker>,
    database: usize,
    mut stream: T,
    peer: String,
    local: String,
) {
    let shared = worker.shared.clone();
    let id = shared
        .next_client_id
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let password_required = shared.config.databases[database].password.is_some();
    let session = Rc::new(RefCell::new(Session::new(
        id,
        database,
        peer.clone(),
        local,
        now_ms(),
        password_required,
    )));
    worker.sessions.borrow_mut().insert(id, session.clone());
    let _registration = Registration {
        worker: worker.clone(),
        id,
    };

    let mut parser = RequestParser::new(Limits {
        proto_max_bulk_len: shared.config.node.proto_max_bulk_len,
        ..Limits::default()
    });
    let mut read_buffer = BytesMut::with_capacity(READ_BUFFER_BYTES);
    let mut write_buffer = BytesMut::with_capacity(READ_BUFFER_BYTES);
    loop {
        // Run every complete request that is already buffered.
        let mut control = Control::Continue;
        let mut protocol_error = None;
        let mut stopped_at_cap = false;
        if !read_buffer.is_empty() {
            let now = now_ms();
            session.borrow_mut().last_command_at_ms = now;
            let mut batch = Batch::new(&worker, &session, database, now);
            let mut taken = 0;
            loop {
                if taken >= PIPELINE_BATCH_MAX || write_buffer.len() >= WRITE_BUFFER_FLUSH_BYTES {
                    stopped_at_cap = true;
                    break;
                }
                let authenticated = session.borrow().authenticated;
                match parser.parse(&mut read_buffer, authenticated) {
                    Ok(Some(args)) => {
                        taken += 1;
                        control = batch.push(args, &mut write_buffer).await;
                        if control == Control::Close {
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
            batch.flush(&mut write_buffer).await;
            if let Some(error) = &protocol_error {
                debug!(client = id, %peer, %error, "protocol error, closing the connection");
                petrel_resp::encode(
                    &petrel_resp::Reply::error_owned(error.reply_text()),
                    session.borrow().protocol,
                    &mut write_buffer,
                );
            }
        }
        if !write_buffer.is_empty() {
            worker.stats.borrow_mut().net_output_bytes += write_buffer.len() as u64;
            let (result, buffer) = stream.write_all(write_buffer).await;
            write_buffer = buffer;
            write_buffer.clear();
            if result.is_err() {
                return;
            }
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
        let free = read_buffer.capacity() - read_buffer.len();
        if free < READ_CHUNK_MIN_BYTES.max(wanted) {
            read_buffer.reserve(READ_BUFFER_BYTES.max(wanted));
        }
        let (result, buffer) = stream.read_into(read_buffer).await;
        read_buffer = buffer;
        match result {
            Ok(0) | Err(_) => return,
            Ok(read) => worker.stats.borrow_mut().net_input_bytes += read as u64,
        }
    }
}

/// Removes the connection from its thread's registry when it ends.
struct Registration {
    worker: Rc<Worker>,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.worker.sessions.borrow_mut().remove(&self.id);
    }
}
