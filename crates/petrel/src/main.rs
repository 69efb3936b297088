//! The `petrel` binary: parses the command line, loads the configuration,
//! sets up logging and hands over to the engine. Errors get their context
//! here, at the edge; the libraries below report typed errors.

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
    /// Serve the databases of a config file (default: one database on 127.0.0.1:6379, every core).
    Serve {
        /// TOML config file; see config/ for documented examples.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Check a config file and print what it would serve, without serving.
    CheckConfig {
        #[arg(long, short)]
        config: PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging(&cli.log_level)?;
    match cli.command {
        Command::Serve { config } => serve(config),
        Command::CheckConfig { config } => {
            let loaded = load_config(Some(config))?;
            describe(&loaded);
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

fn describe(config: &Config) {
    println!("data cores: {:?}", config.node.data_cores);
    for database in &config.databases {
        println!(
            "database {}: {}:{} memory_size={} password={}",
            database.name,
            config.node.bind,
            database.port,
            database.memory_size_bytes,
            if database.password.is_some() {
                "set"
            } else {
                "none"
            }
        );
    }
}

fn serve(config: Option<PathBuf>) -> anyhow::Result<()> {
    let config = load_config(config)?;
    let node = petrel_engine::start(config).context("cannot start the node")?;
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "petrel ready");
    node.wait();
    Ok(())
}
