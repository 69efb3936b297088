//! Petrel's control plane: the HTTPS REST API in the shape of Redis
//! Enterprise's (`/v1/bdbs`, `/v1/cluster`, `/v1/cluster/certificates`,
//! `/metrics`), the control state it owns (databases, node-wide TLS
//! settings, certificates), validation of a whole change before anything is
//! applied, and the atomic state file in `node.data_dir`.
//!
//! It runs on a thread of its own with a small tokio runtime and must never
//! run on a data ring, nor depend on the data plane's runtime: it reaches
//! the data plane only through the [`DataPlane`] trait, which the engine
//! implements (publish TLS settings, open and close databases, read
//! counters).

pub mod error;
pub mod model;
pub mod persist;
pub mod plane;
mod replica;
pub mod server;
pub mod state;

pub use error::ApiError;
pub use model::{
    Bdb, BdbCreate, BdbUpdate, CertificateName, CertificatePair, CertificateUpload, Certificates,
    CertificatesUpdate, ClusterSettings, ClusterUpdate, ControlState, ReplicaSource,
};
pub use plane::{DataPlane, DatabaseSpec, DatabaseStats, Desired, NodeStats, PlaneError};
pub use server::{spawn, AdminConfig, AdminError, AdminHandle, DEFAULT_LISTEN};
