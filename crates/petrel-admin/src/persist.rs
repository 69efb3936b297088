//! The control state on disk: one JSON file in `node.data_dir`, replaced
//! atomically (write a temporary file, fsync it, rename it over the old
//! one, fsync the directory), so a crash leaves the old state or the new
//! one, never a mix. The file holds private keys and passwords: it is
//! created with mode 0600.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::model::{ControlState, STATE_FORMAT_VERSION};

/// The state file's name in the data directory.
pub const STATE_FILE: &str = "control-state.json";
const TEMPORARY_FILE: &str = "control-state.json.tmp";

#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("cannot {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is damaged: {reason}", path.display())]
    Damaged { path: PathBuf, reason: String },
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> PersistError {
    let path = path.to_path_buf();
    move |source| PersistError::Io {
        action,
        path,
        source,
    }
}

/// The state saved in `dir`, or `None` for a fresh node.
pub fn load(dir: &Path) -> Result<Option<ControlState>, PersistError> {
    let path = dir.join(STATE_FILE);
    let text = match std::fs::read(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(io("read", &path)(error)),
    };
    let state: ControlState =
        serde_json::from_slice(&text).map_err(|error| PersistError::Damaged {
            path: path.clone(),
            reason: error.to_string(),
        })?;
    if state.format_version != STATE_FORMAT_VERSION {
        return Err(PersistError::Damaged {
            path,
            reason: format!(
                "format_version {} is not {STATE_FORMAT_VERSION}",
                state.format_version
            ),
        });
    }
    Ok(Some(state))
}

/// Replaces the state saved in `dir` (created if missing) with `state`.
pub fn save(dir: &Path, state: &ControlState) -> Result<(), PersistError> {
    std::fs::create_dir_all(dir).map_err(io("create", dir))?;
    let text = serde_json::to_vec_pretty(state).map_err(|error| PersistError::Damaged {
        path: dir.join(STATE_FILE),
        reason: error.to_string(),
    })?;
    let temporary = dir.join(TEMPORARY_FILE);
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)
        .map_err(io("create", &temporary))?;
    file.write_all(&text).map_err(io("write", &temporary))?;
    file.sync_all().map_err(io("fsync", &temporary))?;
    drop(file);
    let path = dir.join(STATE_FILE);
    std::fs::rename(&temporary, &path).map_err(io("rename into", &path))?;
    File::open(dir)
        .and_then(|directory| directory.sync_all())
        .map_err(io("fsync", dir))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "petrel-admin-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    /// A saved state loads back equal, from a file only its owner can read.
    #[test]
    fn save_then_load_round_trips_with_private_mode() {
        let dir = scratch("roundtrip");
        assert_eq!(load(&dir).expect("missing is fine"), None);
        let mut state = ControlState::empty();
        state.next_uid = 7;
        save(&dir, &state).expect("save");
        assert_eq!(load(&dir).expect("load"), Some(state.clone()));
        let mode = std::fs::metadata(dir.join(STATE_FILE))
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!dir.join(TEMPORARY_FILE).exists());
        state.next_uid = 8;
        save(&dir, &state).expect("save again");
        assert_eq!(load(&dir).expect("load").map(|s| s.next_uid), Some(8));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A damaged file is an error naming it, not an empty node.
    #[test]
    fn damaged_file_is_an_error() {
        let dir = scratch("damaged");
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join(STATE_FILE), b"{\"bdbs\": 3}").expect("write");
        let error = load(&dir).expect_err("damaged");
        assert!(error.to_string().contains(STATE_FILE), "{error}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
