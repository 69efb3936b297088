//! SIGHUP: re-reads the config file and applies what may change while the
//! node runs (its databases and `[node.tls]`: certificates renewed on
//! disk, trust lists, TLS modes, passwords, ports), all or nothing, with
//! no restart and no dropped connection. Anything else the file changed is
//! refused with the names of the settings that need a restart.

use std::path::PathBuf;

use anyhow::{bail, Context};
use petrel_engine::config::carry_uids;
use petrel_engine::{Config, ControlHandle, DatabaseConfig};

pub struct Reloader {
    /// The config file; `None` when the node runs the built-in default.
    path: Option<PathBuf>,
    /// The file as it was read at start-up, before anything adjusted it.
    started: Config,
    /// The databases the node serves now, with their uids.
    running: Vec<DatabaseConfig>,
    next_uid: u64,
    control: ControlHandle,
}

impl Reloader {
    pub fn new(path: Option<PathBuf>, started: Config, control: ControlHandle) -> Reloader {
        let running = started.databases.clone();
        let next_uid = running
            .iter()
            .map(|database| database.uid)
            .max()
            .unwrap_or(0)
            + 1;
        Reloader {
            path,
            started,
            running,
            next_uid,
            control,
        }
    }

    /// Reloads, logging what happened; on any error the node goes on
    /// serving exactly what it served before.
    pub fn reload(&mut self) {
        match self.try_reload() {
            Ok(()) => tracing::info!(
                databases = self.running.len(),
                "configuration reloaded: new connections get the new settings"
            ),
            Err(error) => tracing::error!(
                error = format!("{error:#}"),
                "configuration not reloaded; serving as before"
            ),
        }
    }

    fn try_reload(&mut self) -> anyhow::Result<()> {
        if self.started.admin.is_some() {
            bail!(
                "this node's databases and certificates are managed through the REST API \
                 ([admin], state in node.data_dir); change them with `petrel admin`"
            );
        }
        let Some(path) = &self.path else {
            bail!("the node runs the built-in default config: there is no file to reload");
        };
        let mut reloaded = Config::load(path).context("invalid configuration")?;
        self.started.check_reloadable(&reloaded)?;
        carry_uids(&self.running, &mut reloaded.databases, &mut self.next_uid);
        self.control
            .apply(&reloaded.node.tls, &reloaded.databases, false)
            .context("cannot apply the reloaded configuration")?;
        self.running = reloaded.databases;
        Ok(())
    }
}
