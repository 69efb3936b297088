//! The node's TLS state as the data threads see it: the current policy
//! snapshot (swapped whole when settings change), what the kernel can do
//! for kTLS, and the counters INFO's `# TLS` section reports.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use petrel_tls::{HandshakeFailure, KtlsMode, TlsSnapshot};

use crate::tls_stream::KtlsFallback;

/// How connections reach their bytes, for gauges and CLIENT LIST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TransportKind {
    Plain,
    Ktls,
    UserspaceTls,
}

impl TransportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::Plain => "plain",
            TransportKind::Ktls => "ktls",
            TransportKind::UserspaceTls => "tls",
        }
    }
}

/// Whether connections may move to kernel TLS, decided once at start-up.
#[derive(Debug)]
pub(crate) enum KernelTls {
    /// `ktls = "off"`.
    Off,
    /// The kernel cannot (the reason is logged once).
    Unavailable,
    Available(petrel_ktls::Capabilities),
}

#[derive(Debug)]
pub(crate) struct Security {
    pub snapshot: ArcSwap<TlsSnapshot>,
    pub kernel_tls: KernelTls,
    pub counters: Arc<TlsCounters>,
}

#[derive(Debug, Default)]
pub(crate) struct TlsCounters {
    connections: [AtomicI64; 3],
    pub handshakes_completed: AtomicU64,
    handshake_failures: [AtomicU64; 6],
    ktls_fallbacks: [AtomicU64; 5],
    pub tls_refused_on_plaintext_port: AtomicU64,
    pub plaintext_refused_on_tls_port: AtomicU64,
}

fn transport_index(kind: TransportKind) -> usize {
    kind as usize
}

impl TlsCounters {
    pub fn handshake_failed(&self, failure: HandshakeFailure) {
        let index = HandshakeFailure::ALL
            .iter()
            .position(|known| *known == failure)
            .unwrap_or(5);
        self.handshake_failures[index].fetch_add(1, Ordering::Relaxed);
    }

    pub fn ktls_fallback(&self, reason: KtlsFallback) {
        let index = KtlsFallback::ALL
            .iter()
            .position(|known| *known == reason)
            .unwrap_or(0);
        self.ktls_fallbacks[index].fetch_add(1, Ordering::Relaxed);
    }

    /// Failed handshakes by reason, for metrics.
    pub fn handshake_failures(&self) -> Vec<(&'static str, u64)> {
        HandshakeFailure::ALL
            .iter()
            .zip(&self.handshake_failures)
            .map(|(failure, count)| (failure.as_str(), count.load(Ordering::Relaxed)))
            .collect()
    }

    /// Counts a connection on `kind` until the guard drops.
    pub fn open(self: &Arc<Self>, kind: TransportKind) -> ConnectionGauge {
        self.connections[transport_index(kind)].fetch_add(1, Ordering::Relaxed);
        ConnectionGauge {
            counters: self.clone(),
            kind,
        }
    }

    pub fn connections(&self, kind: TransportKind) -> i64 {
        self.connections[transport_index(kind)].load(Ordering::Relaxed)
    }

    /// The body of INFO's `# TLS` section.
    pub fn render(&self, ktls_mode: KtlsMode, kernel_tls: &KernelTls) -> String {
        let mut text = String::new();
        let kernel = match kernel_tls {
            KernelTls::Off => "off",
            KernelTls::Unavailable => "unavailable",
            KernelTls::Available(_) => "available",
        };
        let _ = write!(
            text,
            "ktls_mode:{}\r\nktls_kernel:{kernel}\r\n",
            ktls_mode.as_str()
        );
        for kind in [
            TransportKind::Ktls,
            TransportKind::UserspaceTls,
            TransportKind::Plain,
        ] {
            let _ = write!(
                text,
                "connections_{}:{}\r\n",
                kind.as_str(),
                self.connections(kind)
            );
        }
        let _ = write!(
            text,
            "handshakes_completed:{}\r\n",
            self.handshakes_completed.load(Ordering::Relaxed)
        );
        let failed: u64 = self
            .handshake_failures
            .iter()
            .map(|count| count.load(Ordering::Relaxed))
            .sum();
        let _ = write!(text, "handshakes_failed:{failed}\r\n");
        for (failure, count) in HandshakeFailure::ALL.iter().zip(&self.handshake_failures) {
            let _ = write!(
                text,
                "handshakes_failed_{}:{}\r\n",
                failure.as_str(),
                count.load(Ordering::Relaxed)
            );
        }
        for (reason, count) in KtlsFallback::ALL.iter().zip(&self.ktls_fallbacks) {
            let _ = write!(
                text,
                "ktls_fallbacks_{}:{}\r\n",
                reason.as_str(),
                count.load(Ordering::Relaxed)
            );
        }
        let _ = write!(
            text,
            "tls_refused_on_plaintext_port:{}\r\nplaintext_refused_on_tls_port:{}\r\n",
            self.tls_refused_on_plaintext_port.load(Ordering::Relaxed),
            self.plaintext_refused_on_tls_port.load(Ordering::Relaxed)
        );
        text
    }
}

/// Keeps a connection counted under its transport while it lives.
pub(crate) struct ConnectionGauge {
    counters: Arc<TlsCounters>,
    kind: TransportKind,
}

impl Drop for ConnectionGauge {
    fn drop(&mut self) {
        self.counters.connections[transport_index(self.kind)].fetch_sub(1, Ordering::Relaxed);
    }
}
