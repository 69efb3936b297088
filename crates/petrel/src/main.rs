//! The `petrel` binary: parses the command line, loads the configuration,
//! sets up logging and hands over to the engine. Errors get their context
//! here, at the edge; the libraries below report typed errors.

mod admin_cli;
mod control;
mod reload;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use petrel_engine::Config;

#[derive(Debug, Parser)]
#[command(
    name = "petrel",
    version,
    about = "A Redis-protocol database node: thread-per-core on io_uring"
)]
struct Cli {
    /// Log level: error, warn, info, debug or trace (RUST_LOG overrides it).
    #[arg(long, global = true, default_value = "info")]
    log_level: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the databases of a config file (default: one database on 127.0.0.1:6379, every core); SIGHUP re-reads the file.
    Serve {
        /// TOML config file; see config/ for documented examples.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Check a config file (certificates included) and print what it would serve, without serving.
    CheckConfig {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Certificates for development and tests.
    Certs {
        #[command(subcommand)]
        command: CertsCommand,
    },
    /// The REST API from the command line: databases, TLS, certificates.
    Admin(Box<admin_cli::AdminArgs>),
}

#[derive(Debug, Subcommand)]
enum CertsCommand {
    /// Write a development PKI: ca.pem, ca.key, proxy.pem/.key (localhost,
    /// 127.0.0.1, ::1), syncer.pem/.key, client1.pem/.key, client2.pem/.key.
    /// Keys are written with mode 0600. Not for production.
    Generate {
        /// Directory to write into (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Replace files that already exist.
        #[arg(long)]
        force: bool,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // `{:#}` prints the whole chain of causes on one line.
            eprintln!("petrel: error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    init_logging(&cli.log_level)?;
    match cli.command {
        Command::Admin(args) => admin_cli::run(*args),
        Command::Serve { config } => serve(config),
        Command::CheckConfig { config } => {
            let loaded = load_config(Some(config))?;
            let tls = loaded
                .tls_snapshot(std::time::SystemTime::now())
                .context("invalid TLS configuration")?;
            describe(&loaded, &tls);
            Ok(())
        }
        Command::Certs {
            command: CertsCommand::Generate { out, force },
        } => {
            std::fs::create_dir_all(&out)
                .with_context(|| format!("cannot create {}", out.display()))?;
            let written = petrel_tls::generate_dev_pki(&out, force).with_context(|| {
                format!("cannot write the development PKI to {}", out.display())
            })?;
            for path in written {
                println!("{}", path.display());
            }
            Ok(())
        }
    }
}

fn init_logging(level: &str) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(level))
        .with_context(|| format!("invalid --log-level `{level}`"))?;
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .init();
    Ok(())
}

fn load_config(path: Option<PathBuf>) -> anyhow::Result<Config> {
    match path {
        None => Ok(Config::default_single_database()),
        Some(path) => Config::load(&path).context("invalid configuration"),
    }
}

fn describe(config: &Config, tls: &petrel_tls::TlsSnapshot) {
    println!("data cores: {:?}", config.node.data_cores);
    match open_file_room(config.node.maxclients) {
        Some((hard, fits)) => println!(
            "maxclients: {} (the hard open file limit here, {hard}, fits {fits}: serve would lower it)",
            config.node.maxclients
        ),
        None => println!("maxclients: {}", config.node.maxclients),
    }
    for (database, policy) in config.databases.iter().zip(tls.databases()) {
        println!(
            "database {}: {}:{} memory_size={} password={} tls_mode={} enforce_client_authentication={}",
            database.name,
            config.node.bind,
            database.port,
            database.memory_size_bytes,
            if database.password.is_some() { "set" } else { "none" },
            policy.mode().as_str(),
            policy.client_authentication().as_str(),
        );
    }
    match &config.admin {
        Some(admin) => println!(
            "admin API: https://{} (user {}), state in {}",
            admin.listen,
            admin.username,
            config
                .node
                .data_dir
                .as_ref()
                .map(|dir| dir.display().to_string())
                .unwrap_or_default()
        ),
        None => println!("admin API: off (no [admin] table)"),
    }
    for expiry in tls.certificate_expiries() {
        let days_left = expiry
            .not_after
            .duration_since(std::time::SystemTime::now())
            .map(|left| left.as_secs() / 86_400)
            .unwrap_or(0);
        println!(
            "certificate {:?} {}: {} expires in {days_left} days",
            expiry.scope, expiry.field, expiry.subject
        );
    }
}

/// How often configured certificates are checked for a coming expiry.
const EXPIRY_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(12 * 3600);

/// Descriptors kept beyond the client connections for listeners, rings,
/// replication links, logs and the admin API (Redis reserves 32 too).
const RESERVED_OPEN_FILES: u64 = 32;

/// The connections an open file limit fits, beside the descriptors kept.
fn fitted_maxclients(limit: u64) -> u64 {
    limit.saturating_sub(RESERVED_OPEN_FILES).max(1)
}

/// The hard open file limit and the connections it fits, where it is too
/// low for `maxclients` (what `serve` would lower maxclients to).
fn open_file_room(maxclients: u64) -> Option<(u64, u64)> {
    let (_, hard) = rlimit::Resource::NOFILE.get().ok()?;
    (hard < maxclients + RESERVED_OPEN_FILES).then(|| (hard, fitted_maxclients(hard)))
}

/// Raises the soft limit on open files so that `maxclients` connections fit,
/// as far as the hard limit allows, and answers how many connections do fit.
/// Shells and service managers often start a process at 1,024; past its
/// file descriptors a node cannot even accept a connection to refuse it, so
/// where the limit stays lower, `maxclients` comes down to fit it (as Redis
/// does) and connections beyond that get Redis's error instead of waiting in
/// the listen backlog.
fn fit_maxclients_to_open_file_limit(maxclients: u64) -> u64 {
    use rlimit::Resource;
    let wanted = maxclients + RESERVED_OPEN_FILES;
    let (soft, hard) = match Resource::NOFILE.get() {
        Ok(limits) => limits,
        Err(error) => {
            tracing::warn!(%error, "cannot read the open file limit");
            return maxclients;
        }
    };
    if soft >= wanted {
        return maxclients;
    }
    let mut limit = soft;
    let raised = wanted.min(hard);
    if raised > soft {
        match Resource::NOFILE.set(raised, hard) {
            Ok(()) => {
                tracing::info!(from = soft, to = raised, "raised the open file limit");
                limit = raised;
            }
            Err(error) => tracing::warn!(%error, soft, "cannot raise the open file limit"),
        }
    }
    if limit >= wanted {
        return maxclients;
    }
    let fitted = fitted_maxclients(limit);
    tracing::warn!(
        limit,
        requested = maxclients,
        maxclients = fitted,
        "maxclients lowered to fit the open file limit; raise the hard limit \
         (ulimit -Hn, or LimitNOFILE= under systemd) to serve more connections"
    );
    fitted
}

fn serve(config_path: Option<PathBuf>) -> anyhow::Result<()> {
    let mut config = load_config(config_path.clone())?;
    let as_read = config.clone();
    let admin = config.admin.clone();
    let state = match &admin {
        Some(admin) => Some(control::starting_state(&mut config, admin)?),
        None => None,
    };
    let data_dir = config.node.data_dir.clone();
    let base_dir = config.base_dir.clone();
    config.node.maxclients = fit_maxclients_to_open_file_limit(config.node.maxclients);
    // Handlers go in before the data threads start, so a signal never finds
    // the process with its default (abrupt) action.
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGHUP,
    ])
    .context("cannot install signal handlers")?;
    let node = petrel_engine::start(config).context("cannot start the node")?;
    let mut reloader = reload::Reloader::new(config_path, as_read, node.control());
    let expiry_watch = node.control();
    std::thread::Builder::new()
        .name("petrel-expiry".into())
        .spawn(move || loop {
            // The node logs them at start-up and after every change too.
            std::thread::sleep(EXPIRY_CHECK_INTERVAL);
            expiry_watch.log_expiring_certificates();
        })
        .context("cannot start the certificate expiry check")?;
    if let (Some(admin), Some(state), Some(data_dir)) = (admin, state, data_dir) {
        let client_ca_pem = match &admin.client_ca {
            None => None,
            Some(value) => Some(
                String::from_utf8(
                    petrel_tls::certs::read_source(value, &base_dir).context("admin.client_ca")?,
                )
                .context("admin.client_ca is not PEM text")?,
            ),
        };
        petrel_admin::spawn(
            petrel_admin::AdminConfig {
                listen: admin.listen,
                username: admin.username,
                password: admin.password,
                data_dir,
                client_ca_pem,
            },
            state,
            Box::new(control::EnginePlane(node.control())),
        )
        .context("cannot start the admin API")?;
    }
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "petrel ready");
    for signal in signals.forever() {
        if signal == signal_hook::consts::SIGHUP {
            reloader.reload();
            continue;
        }
        // Data lives in memory only: ending the process is the whole shutdown.
        tracing::info!(signal, "shutting down");
        break;
    }
    Ok(())
}
