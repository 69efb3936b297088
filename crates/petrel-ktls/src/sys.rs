//! Every system call of the crate, and so every `unsafe` block of the
//! workspace that concerns kernel TLS: `setsockopt` for the TLS upper-layer
//! protocol and its crypto state, `recvmsg` and `sendmsg` with the TLS
//! record-type control message.
//!
//! The functions here take plain values and slices and return `io::Result`;
//! they know nothing of rustls or of what the records mean (the crate root and
//! `record` do). The pointers handed to the kernel always point into buffers
//! borrowed for the whole call, and the kernel keeps none of them.

use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::RawFd;
use std::ptr;

use libc::{c_int, c_uint, c_void, socklen_t};

use crate::crypto_info::CryptoInfo;

/// `SOL_TLS` in `linux/socket.h`.
pub(crate) const SOL_TLS: c_int = 282;
/// `TCP_ULP` in `linux/tcp.h`.
pub(crate) const TCP_ULP: c_int = 31;
/// `TLS_TX` in `linux/tls.h`: the socket option for the transmit direction.
pub(crate) const TLS_TX: c_int = 1;
/// `TLS_RX` in `linux/tls.h`: the socket option for the receive direction.
pub(crate) const TLS_RX: c_int = 2;
/// `TLS_SET_RECORD_TYPE`: control message naming the type of records to send.
const TLS_SET_RECORD_TYPE: c_int = 1;
/// `TLS_GET_RECORD_TYPE`: control message naming the type of the record read.
const TLS_GET_RECORD_TYPE: c_int = 2;

/// Room for one control message carrying one byte, on a 8-byte boundary as
/// `struct cmsghdr` requires.
#[repr(C, align(8))]
struct CmsgBuffer([u8; 32]);

// SAFETY: CMSG_SPACE is plain arithmetic on its argument (a const fn marked
// unsafe only because libc declares all CMSG macros so).
const RECORD_TYPE_CMSG_SPACE: usize = unsafe { libc::CMSG_SPACE(1) } as usize;
const _: () = assert!(RECORD_TYPE_CMSG_SPACE <= size_of::<CmsgBuffer>());

/// Sets the TLS upper-layer protocol on a connected TCP socket.
pub(crate) fn set_ulp_tls(fd: RawFd) -> io::Result<()> {
    const NAME: &[u8] = b"tls";
    // SAFETY: optval points at NAME, a 3-byte static, and optlen is its exact
    // length; the kernel copies at most optlen bytes and keeps no pointer.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_TCP,
            TCP_ULP,
            NAME.as_ptr().cast::<c_void>(),
            NAME.len() as socklen_t,
        )
    };
    check(rc).map(drop)
}

/// Installs the crypto state of one direction (`TLS_TX` or `TLS_RX`).
pub(crate) fn set_crypto_info(fd: RawFd, direction: c_int, info: &CryptoInfo) -> io::Result<()> {
    let optval: *const c_void = match info {
        CryptoInfo::Aes128Gcm(c) => ptr::from_ref(c).cast(),
        CryptoInfo::Aes256Gcm(c) => ptr::from_ref(c).cast(),
        CryptoInfo::Chacha20Poly1305(c) => ptr::from_ref(c).cast(),
    };
    // SAFETY: optval points at the borrowed variant, a #[repr(C)] struct with
    // no padding whose size (asserted at compile time in crypto_info) is
    // exactly info.len(); the kernel copies it and keeps no pointer.
    let rc = unsafe { libc::setsockopt(fd, SOL_TLS, direction, optval, info.len() as socklen_t) };
    check(rc).map(drop)
}

/// Reads from a kTLS socket with room for the record-type control message.
/// Returns the byte count and the record type, if the kernel reported one
/// (a socket without kTLS receive never does).
pub(crate) fn recv_with_record_type(fd: RawFd, buf: &mut [u8]) -> io::Result<(usize, Option<u8>)> {
    let mut control = CmsgBuffer([0; 32]);
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast::<c_void>(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is a plain C struct for which all-zero is a valid value
    // (null pointers, zero lengths).
    let mut msg: libc::msghdr = unsafe { zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.0.as_mut_ptr().cast::<c_void>();
    msg.msg_controllen = RECORD_TYPE_CMSG_SPACE as _;
    let received = loop {
        // SAFETY: msg points at iov (which covers exactly the borrowed buf) and
        // at control (RECORD_TYPE_CMSG_SPACE bytes, 8-aligned); all live until
        // the call returns, and the kernel writes within the given lengths.
        let rc = unsafe { libc::recvmsg(fd, &mut msg, 0) };
        match check_size(rc) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => break other?,
        }
    };
    let mut record_type = None;
    // SAFETY: msg was filled in by a successful recvmsg, so msg_control and
    // msg_controllen describe the (possibly empty) control data inside
    // `control`; CMSG_FIRSTHDR returns null when there is none.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
    while !cmsg.is_null() {
        // SAFETY: cmsg is non-null and was returned by CMSG_FIRSTHDR or
        // CMSG_NXTHDR for this msg, so it points at a complete cmsghdr inside
        // `control`.
        let header = unsafe { &*cmsg };
        if header.cmsg_level == SOL_TLS
            && header.cmsg_type == TLS_GET_RECORD_TYPE
            && header.cmsg_len as usize >= record_type_cmsg_len()
        {
            // SAFETY: the header says its data holds at least one byte, and
            // CMSG_DATA points at that data inside `control`.
            record_type = Some(unsafe { *libc::CMSG_DATA(cmsg) });
        }
        // SAFETY: as above, cmsg belongs to msg; CMSG_NXTHDR checks the bounds
        // against msg_controllen and returns null at the end.
        cmsg = unsafe { libc::CMSG_NXTHDR(&msg, cmsg) };
    }
    if msg.msg_flags & libc::MSG_CTRUNC != 0 && record_type.is_none() {
        return Err(io::Error::other(
            "recvmsg truncated the TLS record-type control message",
        ));
    }
    Ok((received, record_type))
}

/// Sends `payload` as records of `record_type` on a kTLS socket.
pub(crate) fn send_with_record_type(
    fd: RawFd,
    record_type: u8,
    payload: &[u8],
) -> io::Result<usize> {
    let mut control = CmsgBuffer([0; 32]);
    let mut iov = libc::iovec {
        // The kernel only reads from a send buffer.
        iov_base: payload.as_ptr().cast_mut().cast::<c_void>(),
        iov_len: payload.len(),
    };
    // SAFETY: msghdr is a plain C struct for which all-zero is a valid value.
    let mut msg: libc::msghdr = unsafe { zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.0.as_mut_ptr().cast::<c_void>();
    msg.msg_controllen = RECORD_TYPE_CMSG_SPACE as _;
    // SAFETY: msg_control points at `control`, which is 8-aligned and holds
    // RECORD_TYPE_CMSG_SPACE bytes, so CMSG_FIRSTHDR returns a pointer to a
    // cmsghdr inside it (non-null because msg_controllen >= sizeof(cmsghdr)).
    let cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
    if cmsg.is_null() {
        return Err(io::Error::other(
            "no room for the TLS record-type control message",
        ));
    }
    // SAFETY: cmsg points at a cmsghdr inside `control` (see above), and its
    // data byte at CMSG_DATA lies within RECORD_TYPE_CMSG_SPACE.
    unsafe {
        (*cmsg).cmsg_level = SOL_TLS;
        (*cmsg).cmsg_type = TLS_SET_RECORD_TYPE;
        (*cmsg).cmsg_len = record_type_cmsg_len() as _;
        *libc::CMSG_DATA(cmsg) = record_type;
    }
    loop {
        // SAFETY: msg points at iov (covering exactly the borrowed payload) and
        // at control; both live until the call returns and the kernel only
        // reads them. MSG_NOSIGNAL turns a closed peer into EPIPE, not SIGPIPE.
        let rc = unsafe { libc::sendmsg(fd, &msg, libc::MSG_NOSIGNAL) };
        match check_size(rc) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

fn record_type_cmsg_len() -> usize {
    // SAFETY: CMSG_LEN is plain arithmetic on its argument.
    unsafe { libc::CMSG_LEN(1 as c_uint) as usize }
}

fn check(rc: c_int) -> io::Result<c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn check_size(rc: isize) -> io::Result<usize> {
    usize::try_from(rc).map_err(|_| io::Error::last_os_error())
}

/// The TCP state of a connected socket (`tcpi_state` of `TCP_INFO`).
pub(crate) fn tcp_state(fd: RawFd) -> io::Result<u8> {
    // SAFETY: tcp_info is plain old data; all-zero is a valid value.
    let mut info: libc::tcp_info = unsafe { zeroed() };
    let mut len = size_of::<libc::tcp_info>() as socklen_t;
    // SAFETY: optval points to a live tcp_info of `len` bytes and optlen to
    // its size; the kernel writes at most `len` bytes.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(info.tcpi_state)
}

/// shutdown(2) both directions of a socket.
pub(crate) fn shutdown_both(fd: RawFd) -> io::Result<()> {
    // SAFETY: shutdown(2) takes a descriptor number and touches no memory of
    // ours; on a closed or foreign number it fails with EBADF or ENOTSOCK.
    let rc = unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
