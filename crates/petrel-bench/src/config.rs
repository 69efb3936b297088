//! Command-line flags with memtier_benchmark's names, defaults and meanings,
//! and their conversion into a validated [`Config`].
//!
//! This module owns parsing and validation only: it opens no sockets and
//! reads no files (certificate files are read by `tls`). Every flag is
//! parsed into a typed value here, so the rest of the crate never sees a
//! string it has to interpret again.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, CommandFactory, FromArgMatches, Parser};

/// The flags, spelled as memtier_benchmark spells them.
///
/// `-h` is memtier's short flag for `--host`, so clap's automatic `-h` for
/// help is turned off; `--help` still works.
#[derive(Debug, Parser)]
#[command(
    name = "petrel-bench",
    version,
    about = "A memtier_benchmark-style load generator for Redis-protocol servers.",
    disable_help_flag = true,
    disable_version_flag = true
)]
pub struct Args {
    /// Server address (default: localhost)
    #[arg(
        short = 's',
        long = "server",
        visible_alias = "host",
        short_alias = 'h',
        default_value = "localhost"
    )]
    pub server: String,
    /// Server port
    #[arg(short = 'p', long, default_value_t = 6379, value_parser = clap::value_parser!(u16).range(1..))]
    pub port: u16,
    /// Force IPv4 address resolution
    #[arg(short = '4', long = "ipv4", conflicts_with = "ipv6")]
    pub ipv4: bool,
    /// Force IPv6 address resolution
    #[arg(short = '6', long = "ipv6")]
    pub ipv6: bool,
    /// Protocol to use: redis, resp2 or resp3 (resp2/resp3 send HELLO on connect)
    #[arg(short = 'P', long, default_value = "redis")]
    pub protocol: String,
    /// Authenticate with PASSWORD or USER:PASSWORD (Redis 6+ ACL user)
    #[arg(short = 'a', long = "authenticate")]
    pub authenticate: Option<String>,
    /// Enable TLS transport security
    #[arg(long)]
    pub tls: bool,
    /// Client certificate (PEM chain) for TLS
    #[arg(long)]
    pub cert: Option<PathBuf>,
    /// Private key (PEM) for TLS; defaults to the --cert file
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// CA certificates bundle (PEM) to verify the server with
    #[arg(long)]
    pub cacert: Option<PathBuf>,
    /// Skip verification of the server certificate
    #[arg(long = "tls-skip-verify")]
    pub tls_skip_verify: bool,
    /// Server name to send (SNI) and to verify the certificate against
    #[arg(long)]
    pub sni: Option<String>,
    /// TLS versions to offer, comma separated: TLSv1.2, TLSv1.3
    #[arg(long = "tls-protocols")]
    pub tls_protocols: Option<String>,
    /// Number of full-test iterations to perform
    #[arg(short = 'x', long = "run-count", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub run_count: u32,
    /// Name of output file (default: stdout)
    #[arg(short = 'o', long = "out-file")]
    pub out_file: Option<PathBuf>,
    /// Name of JSON output file; if not set, no JSON is written
    #[arg(long = "json-out-file")]
    pub json_out_file: Option<PathBuf>,
    /// Prefix of HDR latency histogram output files (.txt and .hgrm per command type)
    #[arg(long = "hdr-file-prefix")]
    pub hdr_file_prefix: Option<String>,
    /// Print detailed configuration before running
    #[arg(long = "show-config")]
    pub show_config: bool,
    /// Don't print the detailed latency histogram
    #[arg(long = "hide-histogram")]
    pub hide_histogram: bool,
    /// Percentiles to print in the results table
    #[arg(long = "print-percentiles", default_value = "50,99,99.9")]
    pub print_percentiles: String,
    /// Number of total requests per client, or 'allkeys' for the whole key range
    #[arg(short = 'n', long, conflicts_with = "test_time")]
    pub requests: Option<String>,
    /// I/O driver of the generator's threads: auto (io_uring, epoll where
    /// the kernel refuses it) or epoll (each request written as its
    /// connection's task runs, not gathered into a ring submission)
    #[arg(long = "io-driver", value_enum, default_value_t = IoDriver::Auto)]
    pub io_driver: IoDriver,
    /// Maximum requests per second from each connection (default: unlimited)
    #[arg(long = "rate-limiting", value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_limiting: Option<u32>,
    /// Number of clients per thread
    #[arg(short = 'c', long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    pub clients: u32,
    /// Number of threads
    #[arg(short = 't', long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
    pub threads: u32,
    /// Number of seconds to run the test
    #[arg(long = "test-time", value_parser = clap::value_parser!(u64).range(1..))]
    pub test_time: Option<u64>,
    /// Set:Get ratio (default: 1:10)
    #[arg(long)]
    pub ratio: Option<String>,
    /// Number of concurrent pipelined requests per connection
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub pipeline: u32,
    /// Number of requests after which the connection is closed and opened again
    #[arg(long = "reconnect-interval", value_parser = clap::value_parser!(u64).range(1..))]
    pub reconnect_interval: Option<u64>,
    /// DB number to SELECT on each connection
    #[arg(long = "select-db")]
    pub select_db: Option<u32>,
    /// Use a different random seed for each client
    #[arg(long = "distinct-client-seed")]
    pub distinct_client_seed: bool,
    /// Random seed based on the time (default is a constant seed)
    #[arg(long)]
    pub randomize: bool,
    /// A command to send, with __key__ and __data__ placeholders; may repeat
    #[arg(long = "command", action = ArgAction::Append)]
    pub command: Vec<String>,
    /// How many times in a row the preceding --command is sent (default: 1)
    #[arg(long = "command-ratio", action = ArgAction::Append)]
    pub command_ratio: Vec<String>,
    /// Key pattern of the preceding --command: G, R, S or P (default: R)
    #[arg(long = "command-key-pattern", action = ArgAction::Append)]
    pub command_key_pattern: Vec<String>,
    /// Object data size in bytes (default: 32)
    #[arg(short = 'd', long = "data-size", value_parser = clap::value_parser!(u32).range(1..))]
    pub data_size: Option<u32>,
    /// Fill values with random bytes instead of 'x'
    #[arg(short = 'R', long = "random-data")]
    pub random_data: bool,
    /// Use random-sized items in the specified range (min-max)
    #[arg(long = "data-size-range")]
    pub data_size_range: Option<String>,
    /// Use sizes from a weight list (size1:weight1,..sizeN:weightN)
    #[arg(long = "data-size-list")]
    pub data_size_list: Option<String>,
    /// With --data-size-range: R picks a random size, S spreads sizes evenly over the key range
    #[arg(long = "data-size-pattern", default_value = "R")]
    pub data_size_pattern: String,
    /// Use random expiry values (seconds) from the specified range (min-max)
    #[arg(long = "expiry-range")]
    pub expiry_range: Option<String>,
    /// Prefix for keys
    #[arg(long = "key-prefix", default_value = "memtier-")]
    pub key_prefix: String,
    /// Key ID minimum value
    #[arg(long = "key-minimum", default_value_t = 0)]
    pub key_minimum: u64,
    /// Key ID maximum value
    #[arg(long = "key-maximum", default_value_t = 10_000_000)]
    pub key_maximum: u64,
    /// Set:Get key pattern: G Gaussian, R uniform random, S sequential, P parallel (default: R:R)
    #[arg(long = "key-pattern")]
    pub key_pattern: Option<String>,
    /// Standard deviation of the Gaussian key pattern (default: key range / 6)
    #[arg(long = "key-stddev")]
    pub key_stddev: Option<f64>,
    /// Median of the Gaussian key pattern (default: centre of the key range)
    #[arg(long = "key-median")]
    pub key_median: Option<f64>,
    /// Display this help
    #[arg(long, action = ArgAction::Help)]
    pub help: Option<bool>,
    /// Display version information
    #[arg(short = 'v', long, action = ArgAction::Version)]
    pub version: Option<bool>,
}

/// A flag value that cannot be used. Each message names the flag, in the
/// words memtier uses where it has one.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("supported protocols are 'redis', 'resp2' and 'resp3' (got '{0}')")]
    Protocol(String),
    #[error("requests must be greater than zero, or 'allkeys' (got '{0}')")]
    Requests(String),
    #[error("ratio must be expressed as [0-n]:[0-n] and not 0:0 (got '{0}')")]
    Ratio(String),
    #[error("key-pattern must be in the format of [S/R/G/P]:[S/R/G/P] (got '{0}')")]
    KeyPattern(String),
    #[error("parallel key-pattern must be configured for both SET and GET commands")]
    ParallelMismatch,
    #[error("key-maximum ({max}) must not be smaller than key-minimum ({min})")]
    KeyRange { min: u64, max: u64 },
    #[error("key-stddev and key-median are only allowed together with key-pattern set to G")]
    GaussianOnly,
    #[error("key-stddev must be greater than zero")]
    Stddev,
    #[error("key-median must be between key-minimum and key-maximum")]
    Median,
    #[error("data-size-range must be expressed as [1-n]-[1-n] with min <= max (got '{0}')")]
    DataSizeRange(String),
    #[error("data-size-list must be expressed as [size1:weight1],...[sizeN:weightN] (got '{0}')")]
    DataSizeList(String),
    #[error("data-size-pattern must be either R or S (got '{0}')")]
    DataSizePattern(String),
    #[error("data-size cannot be used with data-size-list or data-size-range")]
    DataSizeConflict,
    #[error("data-size-list cannot be used with data-size-range")]
    DataListConflict,
    #[error("expiry-range must be expressed as [0-n]-[1-n] (got '{0}')")]
    ExpiryRange(String),
    #[error("quantiles must be expressed as [0.0-100.0],[0.0-100.0](,...) (got '{0}')")]
    Percentiles(String),
    #[error("invalid tls-protocols '{0}': use a combination of 'TLSv1.2' and 'TLSv1.3' (TLSv1 and TLSv1.1 are not supported)")]
    TlsProtocols(String),
    #[error("--cert, --key, --cacert, --tls-skip-verify, --sni and --tls-protocols need --tls")]
    TlsOptionWithoutTls,
    #[error("--key needs --cert")]
    KeyWithoutCert,
    #[error("failed to parse arbitrary command '{0}'")]
    Command(String),
    #[error("--command-ratio and --command-key-pattern must follow a --command")]
    CommandOptionWithoutCommand,
    #[error("ratio for command {command} must be a number greater than zero (got '{value}')")]
    CommandRatio { command: String, value: String },
    #[error(
        "key-pattern for command {command} must be in the format of [S/R/G/P] (got '{value}')"
    )]
    CommandKeyPattern { command: String, value: String },
    #[error(
        "when using arbitrary command, key pattern is configured with --command-key-pattern option"
    )]
    CommandWithKeyPattern,
    #[error("when using arbitrary command, ratio is configured with --command-ratio option")]
    CommandWithRatio,
    #[error("parallel key-pattern must be configured to all commands")]
    CommandParallelMismatch,
}

/// How a key index is chosen for one command type (memtier's key patterns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPattern {
    /// Uniformly random in [key-minimum, key-maximum].
    Random,
    /// key-minimum, key-minimum + 1, ... wrapping at key-maximum, per client.
    Sequential,
    /// Gaussian around key-median with key-stddev, kept inside the range.
    Gaussian,
    /// Sequential inside this client's own slice of the key range.
    Parallel,
}

impl KeyPattern {
    fn from_char(c: char) -> Option<KeyPattern> {
        match c {
            'R' => Some(KeyPattern::Random),
            'S' => Some(KeyPattern::Sequential),
            'G' => Some(KeyPattern::Gaussian),
            'P' => Some(KeyPattern::Parallel),
            _ => None,
        }
    }

    pub fn as_char(self) -> char {
        match self {
            KeyPattern::Random => 'R',
            KeyPattern::Sequential => 'S',
            KeyPattern::Gaussian => 'G',
            KeyPattern::Parallel => 'P',
        }
    }
}

/// The generator threads' I/O driver (--io-driver).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum IoDriver {
    /// io_uring, epoll where the kernel refuses io_uring.
    Auto,
    /// epoll: writes leave as each connection's task runs.
    Epoll,
}

impl IoDriver {
    pub fn as_str(self) -> &'static str {
        match self {
            IoDriver::Auto => "auto",
            IoDriver::Epoll => "epoll",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Plain RESP2 with no HELLO, as memtier's default `redis`.
    Redis,
    /// `HELLO 2` on connect.
    Resp2,
    /// `HELLO 3` on connect; nil replies arrive as `_`.
    Resp3,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Redis => "redis",
            Protocol::Resp2 => "resp2",
            Protocol::Resp3 => "resp3",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressFamily {
    Any,
    V4,
    V6,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsVersion {
    V1_2,
    V1_3,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TlsOptions {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub cacert: Option<PathBuf>,
    pub skip_verify: bool,
    pub sni: Option<String>,
    pub versions: Vec<TlsVersion>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Auth {
    pub user: Option<String>,
    pub password: String,
}

/// When each client stops sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopCondition {
    RequestsPerClient(u64),
    TestTime(Duration),
}

#[derive(Debug, Clone, PartialEq)]
pub enum DataSizes {
    Fixed(u32),
    Range {
        min: u32,
        max: u32,
        spread_over_keys: bool,
    },
    List(Vec<(u32, u32)>),
}

impl DataSizes {
    pub fn max(&self) -> u32 {
        match self {
            DataSizes::Fixed(size) => *size,
            DataSizes::Range { max, .. } => *max,
            DataSizes::List(list) => list.iter().map(|(size, _)| *size).max().unwrap_or(1),
        }
    }
}

/// One piece of an arbitrary command's argument.
#[derive(Debug, Clone, PartialEq)]
pub enum ArgPart {
    Literal(Vec<u8>),
    Key,
    Data,
}

/// One argument of an arbitrary command: literal text with placeholders.
#[derive(Debug, Clone, PartialEq)]
pub struct ArgTemplate {
    pub parts: Vec<ArgPart>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ArbitraryCommand {
    /// The command text as given, for the configuration printout.
    pub text: String,
    /// The first word, as memtier names the command's row and HDR files.
    pub name: String,
    pub args: Vec<ArgTemplate>,
    pub ratio: u32,
    pub key_pattern: KeyPattern,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Workload {
    /// SET and GET in `sets:gets` runs.
    SetGet {
        sets: u32,
        gets: u32,
        set_pattern: KeyPattern,
        get_pattern: KeyPattern,
    },
    Commands(Vec<ArbitraryCommand>),
}

impl Workload {
    pub fn uses_parallel(&self) -> bool {
        match self {
            Workload::SetGet { set_pattern, .. } => *set_pattern == KeyPattern::Parallel,
            Workload::Commands(commands) => commands
                .iter()
                .any(|command| command.key_pattern == KeyPattern::Parallel),
        }
    }
}

/// The validated configuration a run is made from.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub server: String,
    pub port: u16,
    pub family: AddressFamily,
    pub protocol: Protocol,
    pub auth: Option<Auth>,
    pub tls: Option<TlsOptions>,
    pub run_count: u32,
    pub out_file: Option<PathBuf>,
    pub json_out_file: Option<PathBuf>,
    pub hdr_file_prefix: Option<String>,
    pub show_config: bool,
    pub hide_histogram: bool,
    pub percentiles: Vec<f64>,
    pub stop: StopCondition,
    /// `-n allkeys` was given: print the computed request count as memtier does.
    pub requests_from_allkeys: bool,
    pub rate_limit: Option<u32>,
    pub io_driver: IoDriver,
    pub clients: u32,
    pub threads: u32,
    pub pipeline: u32,
    pub reconnect_interval: Option<u64>,
    pub select_db: Option<u32>,
    pub distinct_client_seed: bool,
    /// Base seed: a constant unless --randomize.
    pub seed: u64,
    pub workload: Workload,
    pub data_sizes: DataSizes,
    pub random_data: bool,
    pub expiry: Option<(u32, u32)>,
    pub key_prefix: String,
    pub key_min: u64,
    pub key_max: u64,
    pub key_stddev: f64,
    pub key_median: f64,
    /// The raw flag texts kept for the configuration printout.
    pub ratio_text: String,
    pub key_pattern_text: String,
}

/// The seed memtier-style runs use when --randomize is not given, so that
/// two runs with the same flags send the same keys.
pub const DEFAULT_SEED: u64 = 0x05ee_d0f9_e7e1;

impl Config {
    /// Parses the process's arguments, printing clap's help, version or
    /// usage error and exiting where clap decides to.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::parse_from(std::env::args_os())
    }

    /// Parses `argv` (program name first). Clap's own errors (unknown flag,
    /// bad number) exit the process with its usage message, as any CLI would.
    pub fn parse_from<I, T>(argv: I) -> Result<Config, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let matches = Args::command().get_matches_from(argv);
        let args = match Args::from_arg_matches(&matches) {
            Ok(args) => args,
            Err(error) => error.exit(),
        };
        let command_options = command_options_in_order(&matches);
        Config::from_args(args, &command_options)
    }

    /// Validates parsed flags. `command_options` maps each --command-ratio
    /// and --command-key-pattern to the --command before it.
    pub fn from_args(args: Args, command_options: &[CommandOption]) -> Result<Config, ConfigError> {
        let protocol = match args.protocol.as_str() {
            "redis" => Protocol::Redis,
            "resp2" => Protocol::Resp2,
            "resp3" => Protocol::Resp3,
            other => return Err(ConfigError::Protocol(other.to_string())),
        };
        let family = if args.ipv4 {
            AddressFamily::V4
        } else if args.ipv6 {
            AddressFamily::V6
        } else {
            AddressFamily::Any
        };
        let auth =
            args.authenticate
                .as_ref()
                .map(|credentials| match credentials.split_once(':') {
                    Some((user, password)) => Auth {
                        user: Some(user.to_string()),
                        password: password.to_string(),
                    },
                    None => Auth {
                        user: None,
                        password: credentials.clone(),
                    },
                });
        let tls = tls_options(&args)?;
        if args.key_maximum < args.key_minimum {
            return Err(ConfigError::KeyRange {
                min: args.key_minimum,
                max: args.key_maximum,
            });
        }

        let workload = if args.command.is_empty() {
            if !command_options.is_empty() {
                return Err(ConfigError::CommandOptionWithoutCommand);
            }
            let (sets, gets) = match &args.ratio {
                Some(text) => parse_ratio(text)?,
                None => (1, 10),
            };
            let (set_pattern, get_pattern) = match &args.key_pattern {
                Some(text) => parse_key_pattern(text)?,
                None => (KeyPattern::Random, KeyPattern::Random),
            };
            Workload::SetGet {
                sets,
                gets,
                set_pattern,
                get_pattern,
            }
        } else {
            if args.key_pattern.is_some() {
                return Err(ConfigError::CommandWithKeyPattern);
            }
            if args.ratio.is_some() {
                return Err(ConfigError::CommandWithRatio);
            }
            Workload::Commands(arbitrary_commands(&args.command, command_options)?)
        };
        if let Workload::Commands(commands) = &workload {
            let parallel = commands
                .iter()
                .filter(|c| c.key_pattern == KeyPattern::Parallel)
                .count();
            if parallel > 0 && parallel != commands.len() {
                return Err(ConfigError::CommandParallelMismatch);
            }
        }

        let uses_gaussian = match &workload {
            Workload::SetGet {
                set_pattern,
                get_pattern,
                ..
            } => *set_pattern == KeyPattern::Gaussian || *get_pattern == KeyPattern::Gaussian,
            Workload::Commands(commands) => commands
                .iter()
                .any(|c| c.key_pattern == KeyPattern::Gaussian),
        };
        if (args.key_stddev.is_some() || args.key_median.is_some()) && !uses_gaussian {
            return Err(ConfigError::GaussianOnly);
        }
        let range = (args.key_maximum - args.key_minimum) as f64;
        let key_stddev = match args.key_stddev {
            Some(stddev) if stddev > 0.0 && stddev.is_finite() => stddev,
            Some(_) => return Err(ConfigError::Stddev),
            None => range / 6.0,
        };
        let key_median = match args.key_median {
            Some(median)
                if median >= args.key_minimum as f64 && median <= args.key_maximum as f64 =>
            {
                median
            }
            Some(_) => return Err(ConfigError::Median),
            None => range / 2.0 + args.key_minimum as f64,
        };

        let data_sizes = data_sizes(&args)?;
        let expiry = match &args.expiry_range {
            Some(text) => match parse_range(text) {
                Some((min, max)) if min <= max && max > 0 => Some((min, max)),
                _ => return Err(ConfigError::ExpiryRange(text.clone())),
            },
            None => None,
        };
        let percentiles = parse_percentiles(&args.print_percentiles)?;

        let mut requests_from_allkeys = false;
        let stop = match (&args.requests, args.test_time) {
            (_, Some(seconds)) => StopCondition::TestTime(Duration::from_secs(seconds)),
            (Some(text), None) if text == "allkeys" => {
                requests_from_allkeys = true;
                let mut requests = args.key_maximum - args.key_minimum;
                if workload.uses_parallel() {
                    requests = requests / (u64::from(args.clients) * u64::from(args.threads)) + 1;
                }
                StopCondition::RequestsPerClient(requests.max(1))
            }
            (Some(text), None) => match text.parse::<u64>() {
                Ok(requests) if requests > 0 => StopCondition::RequestsPerClient(requests),
                _ => return Err(ConfigError::Requests(text.clone())),
            },
            (None, None) => StopCondition::RequestsPerClient(10_000),
        };

        let seed = if args.randomize {
            time_seed()
        } else {
            DEFAULT_SEED
        };

        Ok(Config {
            server: args.server,
            port: args.port,
            family,
            protocol,
            auth,
            tls,
            run_count: args.run_count,
            out_file: args.out_file,
            json_out_file: args.json_out_file,
            hdr_file_prefix: args.hdr_file_prefix,
            show_config: args.show_config,
            hide_histogram: args.hide_histogram,
            percentiles,
            stop,
            requests_from_allkeys,
            rate_limit: args.rate_limiting,
            io_driver: args.io_driver,
            clients: args.clients,
            threads: args.threads,
            pipeline: args.pipeline,
            reconnect_interval: args.reconnect_interval,
            select_db: args.select_db,
            distinct_client_seed: args.distinct_client_seed,
            seed,
            workload,
            data_sizes,
            random_data: args.random_data,
            expiry,
            key_prefix: args.key_prefix,
            key_min: args.key_minimum,
            key_max: args.key_maximum,
            key_stddev,
            key_median,
            ratio_text: args.ratio.unwrap_or_else(|| "1:10".to_string()),
            key_pattern_text: args.key_pattern.unwrap_or_else(|| "R:R".to_string()),
        })
    }

    pub fn total_connections(&self) -> u64 {
        u64::from(self.clients) * u64::from(self.threads)
    }

    /// The names of the result rows, in order (without "Totals").
    pub fn row_names(&self) -> Vec<String> {
        match &self.workload {
            Workload::SetGet { .. } => vec!["Sets".into(), "Gets".into(), "Waits".into()],
            Workload::Commands(commands) => commands.iter().map(|c| row_name(&c.name)).collect(),
        }
    }

    /// Names used in the histogram printout and HDR file names, per row.
    pub fn command_names(&self) -> Vec<String> {
        match &self.workload {
            Workload::SetGet { .. } => vec!["SET".into(), "GET".into(), "WAIT".into()],
            Workload::Commands(commands) => commands.iter().map(|c| c.name.clone()).collect(),
        }
    }
}

/// memtier's row name for a command: lower case, first letter capital, plus "s".
pub fn row_name(command: &str) -> String {
    let lower = command.to_lowercase();
    let mut chars = lower.chars();
    match chars.next() {
        Some(first) => format!("{}{}s", first.to_uppercase(), chars.as_str()),
        None => "s".to_string(),
    }
}

/// A --command-ratio or --command-key-pattern, tied to the index of the
/// --command it follows on the command line.
#[derive(Debug, Clone, PartialEq)]
pub enum CommandOption {
    Ratio {
        command: usize,
        value: String,
    },
    KeyPattern {
        command: usize,
        value: String,
    },
    /// The option came before any --command.
    Orphan,
}

fn command_options_in_order(matches: &clap::ArgMatches) -> Vec<CommandOption> {
    let command_positions: Vec<usize> = matches
        .indices_of("command")
        .map(|i| i.collect())
        .unwrap_or_default();
    let owner = |position: usize| command_positions.iter().rposition(|&p| p < position);
    let mut options = Vec::new();
    for (id, is_ratio) in [("command_ratio", true), ("command_key_pattern", false)] {
        let positions: Vec<usize> = matches
            .indices_of(id)
            .map(|i| i.collect())
            .unwrap_or_default();
        let values: Vec<String> = matches
            .get_many::<String>(id)
            .map(|v| v.cloned().collect())
            .unwrap_or_default();
        for (position, value) in positions.into_iter().zip(values) {
            options.push(match (owner(position), is_ratio) {
                (Some(command), true) => CommandOption::Ratio { command, value },
                (Some(command), false) => CommandOption::KeyPattern { command, value },
                (None, _) => CommandOption::Orphan,
            });
        }
    }
    options
}

fn arbitrary_commands(
    texts: &[String],
    options: &[CommandOption],
) -> Result<Vec<ArbitraryCommand>, ConfigError> {
    let mut commands = Vec::with_capacity(texts.len());
    for text in texts {
        let words = split_args(text).ok_or_else(|| ConfigError::Command(text.clone()))?;
        let Some(first) = words.first() else {
            return Err(ConfigError::Command(text.clone()));
        };
        let name = String::from_utf8_lossy(first).to_string();
        let args = words.iter().map(|word| parse_template(word)).collect();
        commands.push(ArbitraryCommand {
            text: text.clone(),
            name,
            args,
            ratio: 1,
            key_pattern: KeyPattern::Random,
        });
    }
    for option in options {
        match option {
            CommandOption::Orphan => return Err(ConfigError::CommandOptionWithoutCommand),
            CommandOption::Ratio { command, value } => {
                let target = &mut commands[*command];
                target.ratio = match value.parse::<u32>() {
                    Ok(ratio) if ratio > 0 => ratio,
                    _ => {
                        return Err(ConfigError::CommandRatio {
                            command: target.name.clone(),
                            value: value.clone(),
                        })
                    }
                };
            }
            CommandOption::KeyPattern { command, value } => {
                let target = &mut commands[*command];
                let mut chars = value.chars();
                target.key_pattern =
                    match (chars.next().and_then(KeyPattern::from_char), chars.next()) {
                        (Some(pattern), None) => pattern,
                        _ => {
                            return Err(ConfigError::CommandKeyPattern {
                                command: target.name.clone(),
                                value: value.clone(),
                            })
                        }
                    };
            }
        }
    }
    Ok(commands)
}

/// Splits a command line into words the way redis-cli does: whitespace
/// separates, double quotes allow escapes (\n, \", \xHH), single quotes are
/// literal. Returns None on an unbalanced quote.
pub fn split_args(line: &str) -> Option<Vec<Vec<u8>>> {
    let bytes = line.as_bytes();
    let mut words = Vec::new();
    let mut i = 0;
    loop {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= bytes.len() {
            return Some(words);
        }
        let mut word = Vec::new();
        let mut in_double = false;
        let mut in_single = false;
        loop {
            if in_double {
                let c = *bytes.get(i)?;
                if c == b'\\' && i + 3 < bytes.len() && bytes[i + 1] == b'x' {
                    let hex = std::str::from_utf8(&bytes[i + 2..i + 4]).ok()?;
                    word.push(u8::from_str_radix(hex, 16).ok()?);
                    i += 4;
                } else if c == b'\\' && i + 1 < bytes.len() {
                    word.push(match bytes[i + 1] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                    i += 2;
                } else if c == b'"' {
                    // A closing quote must be followed by a space or the end.
                    if i + 1 < bytes.len() && !bytes[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    word.push(c);
                    i += 1;
                }
            } else if in_single {
                let c = *bytes.get(i)?;
                if c == b'\\' && i + 1 < bytes.len() && bytes[i + 1] == b'\'' {
                    word.push(b'\'');
                    i += 2;
                } else if c == b'\'' {
                    if i + 1 < bytes.len() && !bytes[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    word.push(c);
                    i += 1;
                }
            } else {
                match bytes.get(i) {
                    None => break,
                    Some(c) if c.is_ascii_whitespace() => break,
                    Some(b'"') => {
                        in_double = true;
                        i += 1;
                    }
                    Some(b'\'') => {
                        in_single = true;
                        i += 1;
                    }
                    Some(&c) => {
                        word.push(c);
                        i += 1;
                    }
                }
            }
        }
        words.push(word);
    }
}

/// Splits one argument into literal text and `__key__`/`__data__` placeholders.
pub fn parse_template(word: &[u8]) -> ArgTemplate {
    const KEY: &[u8] = b"__key__";
    const DATA: &[u8] = b"__data__";
    let mut parts = Vec::new();
    let mut literal = Vec::new();
    let mut i = 0;
    while i < word.len() {
        if word[i..].starts_with(KEY) {
            if !literal.is_empty() {
                parts.push(ArgPart::Literal(std::mem::take(&mut literal)));
            }
            parts.push(ArgPart::Key);
            i += KEY.len();
        } else if word[i..].starts_with(DATA) {
            if !literal.is_empty() {
                parts.push(ArgPart::Literal(std::mem::take(&mut literal)));
            }
            parts.push(ArgPart::Data);
            i += DATA.len();
        } else {
            literal.push(word[i]);
            i += 1;
        }
    }
    if !literal.is_empty() || parts.is_empty() {
        parts.push(ArgPart::Literal(literal));
    }
    ArgTemplate { parts }
}

fn tls_options(args: &Args) -> Result<Option<TlsOptions>, ConfigError> {
    let any_tls_option = args.cert.is_some()
        || args.key.is_some()
        || args.cacert.is_some()
        || args.tls_skip_verify
        || args.sni.is_some()
        || args.tls_protocols.is_some();
    if !args.tls {
        if any_tls_option {
            return Err(ConfigError::TlsOptionWithoutTls);
        }
        return Ok(None);
    }
    if args.key.is_some() && args.cert.is_none() {
        return Err(ConfigError::KeyWithoutCert);
    }
    let versions = match &args.tls_protocols {
        Some(text) => parse_tls_protocols(text)?,
        None => vec![TlsVersion::V1_2, TlsVersion::V1_3],
    };
    Ok(Some(TlsOptions {
        cert: args.cert.clone(),
        key: args.key.clone().or_else(|| args.cert.clone()),
        cacert: args.cacert.clone(),
        skip_verify: args.tls_skip_verify,
        sni: args.sni.clone(),
        versions,
    }))
}

pub fn parse_tls_protocols(text: &str) -> Result<Vec<TlsVersion>, ConfigError> {
    let mut versions = Vec::new();
    for token in text.split(',').map(str::trim) {
        let version = match token.to_ascii_lowercase().as_str() {
            "tlsv1.2" => TlsVersion::V1_2,
            "tlsv1.3" => TlsVersion::V1_3,
            _ => return Err(ConfigError::TlsProtocols(text.to_string())),
        };
        if !versions.contains(&version) {
            versions.push(version);
        }
    }
    Ok(versions)
}

pub fn parse_ratio(text: &str) -> Result<(u32, u32), ConfigError> {
    let error = || ConfigError::Ratio(text.to_string());
    let (a, b) = text.split_once(':').ok_or_else(error)?;
    let a: u32 = a.parse().map_err(|_| error())?;
    let b: u32 = b.parse().map_err(|_| error())?;
    if a == 0 && b == 0 {
        return Err(error());
    }
    Ok((a, b))
}

pub fn parse_key_pattern(text: &str) -> Result<(KeyPattern, KeyPattern), ConfigError> {
    let chars: Vec<char> = text.chars().collect();
    let (set, get) = match chars.as_slice() {
        [set, ':', get] => (KeyPattern::from_char(*set), KeyPattern::from_char(*get)),
        _ => (None, None),
    };
    match (set, get) {
        (Some(set), Some(get)) => {
            if (set == KeyPattern::Parallel) != (get == KeyPattern::Parallel) {
                return Err(ConfigError::ParallelMismatch);
            }
            Ok((set, get))
        }
        _ => Err(ConfigError::KeyPattern(text.to_string())),
    }
}

fn parse_range(text: &str) -> Option<(u32, u32)> {
    let (min, max) = text.split_once('-')?;
    Some((min.trim().parse().ok()?, max.trim().parse().ok()?))
}

fn data_sizes(args: &Args) -> Result<DataSizes, ConfigError> {
    let spread_over_keys = match args.data_size_pattern.as_str() {
        "R" => false,
        "S" => true,
        other => return Err(ConfigError::DataSizePattern(other.to_string())),
    };
    match (args.data_size, &args.data_size_range, &args.data_size_list) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err(ConfigError::DataSizeConflict),
        (None, Some(_), Some(_)) => Err(ConfigError::DataListConflict),
        (Some(size), None, None) => Ok(DataSizes::Fixed(size)),
        (None, Some(text), None) => match parse_range(text) {
            Some((min, max)) if min >= 1 && min <= max => Ok(DataSizes::Range {
                min,
                max,
                spread_over_keys,
            }),
            _ => Err(ConfigError::DataSizeRange(text.clone())),
        },
        (None, None, Some(text)) => {
            let mut list = Vec::new();
            for item in text.split(',') {
                let parsed = item.split_once(':').and_then(|(size, weight)| {
                    Some((
                        size.trim().parse::<u32>().ok()?,
                        weight.trim().parse::<u32>().ok()?,
                    ))
                });
                match parsed {
                    Some((size, weight)) if size > 0 && weight > 0 => list.push((size, weight)),
                    _ => return Err(ConfigError::DataSizeList(text.clone())),
                }
            }
            Ok(DataSizes::List(list))
        }
        (None, None, None) => Ok(DataSizes::Fixed(32)),
    }
}

pub fn parse_percentiles(text: &str) -> Result<Vec<f64>, ConfigError> {
    let mut percentiles = Vec::new();
    for item in text.split(',') {
        match item.trim().parse::<f64>() {
            Ok(value) if (0.0..=100.0).contains(&value) => percentiles.push(value),
            _ => return Err(ConfigError::Percentiles(text.to_string())),
        }
    }
    Ok(percentiles)
}

fn time_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(DEFAULT_SEED);
    nanos ^ (u64::from(std::process::id()) << 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, ConfigError> {
        let argv = std::iter::once("petrel-bench").chain(args.iter().copied());
        let matches = Args::command()
            .try_get_matches_from(argv)
            .expect("clap accepts the flags");
        let options = command_options_in_order(&matches);
        let parsed = Args::from_arg_matches(&matches).expect("derive matches");
        Config::from_args(parsed, &options)
    }

    #[test]
    fn defaults_are_memtiers() {
        // Every default a memtier user relies on, checked against memtier's usage text.
        let config = parse(&[]).unwrap();
        assert_eq!(config.server, "localhost");
        assert_eq!(config.port, 6379);
        assert_eq!(config.threads, 4);
        assert_eq!(config.clients, 50);
        assert_eq!(config.pipeline, 1);
        assert_eq!(config.stop, StopCondition::RequestsPerClient(10_000));
        assert_eq!(config.data_sizes, DataSizes::Fixed(32));
        assert_eq!(config.key_prefix, "memtier-");
        assert_eq!((config.key_min, config.key_max), (0, 10_000_000));
        assert_eq!(config.percentiles, vec![50.0, 99.0, 99.9]);
        assert_eq!(
            config.workload,
            Workload::SetGet {
                sets: 1,
                gets: 10,
                set_pattern: KeyPattern::Random,
                get_pattern: KeyPattern::Random
            }
        );
        assert_eq!(config.protocol, Protocol::Redis);
        assert!(config.tls.is_none());
    }

    #[test]
    fn host_short_flag_is_h_as_in_memtier() {
        // memtier uses -h for the host, so help must not steal it.
        let config = parse(&["-h", "127.0.0.1", "-p", "7001"]).unwrap();
        assert_eq!(config.server, "127.0.0.1");
        assert_eq!(config.port, 7001);
    }

    #[test]
    fn bad_ratio_and_pattern_are_refused_with_memtiers_words() {
        assert_eq!(
            parse(&["--ratio", "0:0"]),
            Err(ConfigError::Ratio("0:0".into()))
        );
        assert!(matches!(
            parse(&["--key-pattern", "R:X"]),
            Err(ConfigError::KeyPattern(_))
        ));
        assert_eq!(
            parse(&["--key-pattern", "P:R"]),
            Err(ConfigError::ParallelMismatch)
        );
        assert_eq!(
            parse(&["--key-stddev", "5"]),
            Err(ConfigError::GaussianOnly)
        );
    }

    #[test]
    fn allkeys_with_parallel_splits_the_range_over_clients() {
        let config = parse(&[
            "-n",
            "allkeys",
            "--key-pattern",
            "P:P",
            "--key-maximum",
            "1000",
            "-t",
            "2",
            "-c",
            "5",
        ])
        .unwrap();
        assert_eq!(config.stop, StopCondition::RequestsPerClient(1000 / 10 + 1));
    }

    #[test]
    fn command_options_attach_to_the_preceding_command() {
        let config = parse(&[
            "--command",
            "SET __key__ __data__",
            "--command-ratio",
            "2",
            "--command",
            "GET __key__",
            "--command-key-pattern",
            "S",
        ])
        .unwrap();
        let Workload::Commands(commands) = config.workload else {
            panic!("expected commands")
        };
        assert_eq!(commands[0].ratio, 2);
        assert_eq!(commands[0].key_pattern, KeyPattern::Random);
        assert_eq!(commands[1].ratio, 1);
        assert_eq!(commands[1].key_pattern, KeyPattern::Sequential);
        assert_eq!(commands[1].args[1].parts, vec![ArgPart::Key]);
        assert_eq!(config_row(&commands[0].name), "Sets");
    }

    fn config_row(name: &str) -> String {
        row_name(name)
    }

    #[test]
    fn command_refuses_ratio_and_orphan_options() {
        assert_eq!(
            parse(&["--command", "GET __key__", "--ratio", "1:1"]),
            Err(ConfigError::CommandWithRatio)
        );
        assert_eq!(
            parse(&["--command-ratio", "2", "--command", "GET __key__"]),
            Err(ConfigError::CommandOptionWithoutCommand)
        );
    }

    #[test]
    fn split_args_handles_quotes_and_placeholders_inside_words() {
        let words = split_args(r#"HSET "my key" 'a b' user:__key__ "\x41\n""#).unwrap();
        assert_eq!(
            words,
            vec![
                b"HSET".to_vec(),
                b"my key".to_vec(),
                b"a b".to_vec(),
                b"user:__key__".to_vec(),
                b"A\n".to_vec()
            ]
        );
        assert_eq!(
            parse_template(b"user:__key__:x").parts,
            vec![
                ArgPart::Literal(b"user:".to_vec()),
                ArgPart::Key,
                ArgPart::Literal(b":x".to_vec())
            ]
        );
        assert!(split_args("GET \"unterminated").is_none());
    }

    #[test]
    fn tls_options_need_tls_and_key_defaults_to_cert() {
        assert_eq!(
            parse(&["--cacert", "ca.pem"]),
            Err(ConfigError::TlsOptionWithoutTls)
        );
        let config = parse(&["--tls", "--cert", "c.pem", "--tls-protocols", "TLSv1.3"]).unwrap();
        let tls = config.tls.unwrap();
        assert_eq!(tls.key, Some(PathBuf::from("c.pem")));
        assert_eq!(tls.versions, vec![TlsVersion::V1_3]);
        assert!(matches!(
            parse(&["--tls", "--tls-protocols", "TLSv1.1"]),
            Err(ConfigError::TlsProtocols(_))
        ));
    }

    #[test]
    fn auth_splits_user_and_password() {
        let config = parse(&["-a", "alice:secret"]).unwrap();
        assert_eq!(
            config.auth,
            Some(Auth {
                user: Some("alice".into()),
                password: "secret".into()
            })
        );
        let config = parse(&["-a", "secret"]).unwrap();
        assert_eq!(
            config.auth,
            Some(Auth {
                user: None,
                password: "secret".into()
            })
        );
    }

    #[test]
    fn data_size_flags_are_exclusive() {
        assert_eq!(
            parse(&["-d", "10", "--data-size-range", "1-5"]),
            Err(ConfigError::DataSizeConflict)
        );
        assert_eq!(
            parse(&["--data-size-range", "1-5", "--data-size-pattern", "S"])
                .unwrap()
                .data_sizes,
            DataSizes::Range {
                min: 1,
                max: 5,
                spread_over_keys: true
            }
        );
        assert_eq!(
            parse(&["--data-size-list", "10:1,100:3"])
                .unwrap()
                .data_sizes,
            DataSizes::List(vec![(10, 1), (100, 3)])
        );
    }
}
