//! Shared harness for Petrel's end-to-end tests.
//!
//! This crate owns: starting a server for one test (the real `petrel` binary,
//! or Debian's `redis-server` when `PETREL_E2E_TARGET=redis`, so that every
//! expectation can be checked against Redis 7 itself), picking free loopback
//! ports, waiting until the server answers, stopping it on drop, and the
//! clients the tests drive it with: the `redis` crate, a raw RESP socket for
//! byte-exact checks and protocol abuse, and the `redis-cli` binary.
//!
//! It must not build anything (scripts/test.sh builds the binary first), must
//! not talk to anything but 127.0.0.1 or network namespaces a test made
//! itself (`netns`), and must never leave a server running after the test
//! that started it.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub mod admin;
pub mod dataset;
pub mod netns;
pub mod tls;

/// How long a server may take to answer its first PING.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a stopped server may take to exit after SIGTERM before SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(2);
/// Read and write timeout of every client socket, so a hung server fails a
/// test instead of hanging it.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// How many times a start is retried when another process took a port
/// between picking it and the server binding it.
const START_ATTEMPTS: usize = 5;

/// Which server a test drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The `petrel` binary under test.
    Petrel,
    /// Debian's `redis-server`, the reference for every expectation.
    Redis,
}

impl Target {
    /// The target chosen by `PETREL_E2E_TARGET` (`redis` or `petrel`, the default).
    pub fn from_env() -> Target {
        match std::env::var("PETREL_E2E_TARGET") {
            Ok(value) if value.eq_ignore_ascii_case("redis") => Target::Redis,
            _ => Target::Petrel,
        }
    }
}

/// The target of this test run.
pub fn target() -> Target {
    Target::from_env()
}

/// True (and says so on stderr) when the run drives redis-server, for tests
/// that prove something only Petrel promises. Use as
/// `if skip_under_redis("why") { return; }`.
pub fn skip_under_redis(why: &str) -> bool {
    if target() == Target::Redis {
        eprintln!("skipped under redis-server: {why}");
        return true;
    }
    false
}

/// One database of a server: its own port, password and memory limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Database {
    pub name: String,
    /// `authentication_redis_pass`; `requirepass` under redis-server.
    pub password: Option<String>,
    /// `memory_size` such as "2mb"; `maxmemory` with `noeviction` under redis-server.
    pub memory_size: Option<String>,
    /// TLS mode and trust lists (see [`tls::DatabaseTls`]); Petrel only.
    pub tls: Option<tls::DatabaseTls>,
    /// Extra keys of this `[[databases]]` table as (key, TOML value), such as
    /// `replica_sources`; Petrel only.
    pub extra: Vec<(String, String)>,
}

impl Database {
    pub fn new(name: &str) -> Database {
        Database {
            name: name.to_owned(),
            password: None,
            memory_size: None,
            tls: None,
            extra: Vec::new(),
        }
    }

    /// Adds a key to this database's table, its value written as TOML.
    pub fn extra(mut self, key: &str, toml_value: &str) -> Database {
        self.extra.push((key.to_owned(), toml_value.to_owned()));
        self
    }

    pub fn password(mut self, password: &str) -> Database {
        self.password = Some(password.to_owned());
        self
    }

    pub fn memory_size(mut self, size: &str) -> Database {
        self.memory_size = Some(size.to_owned());
        self
    }
}

/// What a test asks of its server; turned into Petrel's TOML config or into
/// redis-server's command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Data cores as a count. Two by default, as the engine issue asks.
    pub data_cores: usize,
    /// `proto_max_bulk_len` such as "1mb"; absent means the default 512 MiB.
    pub proto_max_bulk_len: Option<String>,
    /// At least one database; the first is the one `Server::port` names.
    pub databases: Vec<Database>,
    /// Extra `[node]` keys as (key, TOML value), such as `("io_driver", "\"epoll\"")`; Petrel only.
    pub node_extra: Vec<(String, String)>,
    /// The `[node.tls]` table (see [`tls::NodeTls`]); Petrel only.
    pub node_tls: Option<tls::NodeTls>,
    /// TOML appended after the databases, such as an `[admin]` table; Petrel only.
    pub extra_toml: Option<String>,
    /// The server's (soft, hard) limit on open files, where the test sets one.
    pub open_file_limit: Option<(u64, u64)>,
    /// `maxclients` (Petrel's `node.maxclients`); absent means the default 10,000.
    pub maxclients: Option<u64>,
    /// `tcp-keepalive` in seconds (Petrel's `node.tcp_keepalive`); absent means 300.
    pub tcp_keepalive: Option<u64>,
    /// The address the server listens on; 127.0.0.1 unless a test in its
    /// own network namespace needs its other interfaces too.
    pub bind: String,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            data_cores: 2,
            proto_max_bulk_len: None,
            databases: vec![Database::new("default")],
            node_extra: Vec::new(),
            node_tls: None,
            extra_toml: None,
            open_file_limit: None,
            maxclients: None,
            tcp_keepalive: None,
            bind: "127.0.0.1".to_owned(),
        }
    }
}

impl Config {
    pub fn new() -> Config {
        Config::default()
    }

    pub fn data_cores(mut self, count: usize) -> Config {
        self.data_cores = count;
        self
    }

    pub fn proto_max_bulk_len(mut self, size: &str) -> Config {
        self.proto_max_bulk_len = Some(size.to_owned());
        self
    }

    /// Starts the server with this (soft, hard) limit on open files, as a
    /// shell's `ulimit -Sn`/`-Hn` or systemd's `LimitNOFILE=` would.
    pub fn open_file_limit(mut self, soft: u64, hard: u64) -> Config {
        self.open_file_limit = Some((soft, hard));
        self
    }

    /// Client connections the server serves at once (over all databases on Petrel).
    pub fn maxclients(mut self, count: u64) -> Config {
        self.maxclients = Some(count);
        self
    }

    /// Seconds a client may be silent before the server probes its peer.
    pub fn tcp_keepalive(mut self, seconds: u64) -> Config {
        self.tcp_keepalive = Some(seconds);
        self
    }

    /// Listens on `address` instead of 127.0.0.1 (only inside a network
    /// namespace the test made: see [`netns`]).
    pub fn bind(mut self, address: &str) -> Config {
        self.bind = address.to_owned();
        self
    }

    /// Replaces the databases (the default is one database named "default").
    pub fn databases(mut self, databases: Vec<Database>) -> Config {
        self.databases = databases;
        self
    }

    /// Sets the password of the first database.
    pub fn password(mut self, password: &str) -> Config {
        if let Some(first) = self.databases.first_mut() {
            first.password = Some(password.to_owned());
        }
        self
    }

    /// Sets the memory limit of the first database.
    pub fn memory_size(mut self, size: &str) -> Config {
        if let Some(first) = self.databases.first_mut() {
            first.memory_size = Some(size.to_owned());
        }
        self
    }

    /// Petrel's TOML for this config with the given port per database.
    pub fn to_toml(&self, ports: &[u16]) -> String {
        let mut toml = String::new();
        let _ = writeln!(toml, "[node]\nbind = {}", toml_string(&self.bind));
        let _ = writeln!(toml, "data_cores = {}", self.data_cores);
        if let Some(size) = &self.proto_max_bulk_len {
            let _ = writeln!(toml, "proto_max_bulk_len = {}", toml_string(size));
        }
        if let Some(count) = self.maxclients {
            let _ = writeln!(toml, "maxclients = {count}");
        }
        if let Some(seconds) = self.tcp_keepalive {
            let _ = writeln!(toml, "tcp_keepalive = {seconds}");
        }
        for (key, value) in &self.node_extra {
            let _ = writeln!(toml, "{key} = {value}");
        }
        if let Some(tls) = &self.node_tls {
            toml.push_str(&tls.to_toml());
        }
        for (database, port) in self.databases.iter().zip(ports) {
            toml.push_str("\n[[databases]]\n");
            let _ = writeln!(toml, "name = {}", toml_string(&database.name));
            let _ = writeln!(toml, "port = {port}");
            if let Some(size) = &database.memory_size {
                let _ = writeln!(toml, "memory_size = {}", toml_string(size));
            }
            if let Some(password) = &database.password {
                let _ = writeln!(
                    toml,
                    "authentication_redis_pass = {}",
                    toml_string(password)
                );
            }
            for (key, value) in &database.extra {
                let _ = writeln!(toml, "{key} = {value}");
            }
            if let Some(tls) = &database.tls {
                toml.push_str(&tls.to_toml());
            }
        }
        if let Some(extra) = &self.extra_toml {
            toml.push('\n');
            toml.push_str(extra);
        }
        toml
    }

    /// redis-server's arguments for one database of this config.
    fn redis_args(&self, database: &Database, port: u16, dir: &Path) -> Vec<String> {
        // `--databases` goes first: redis-server 7.0 ignored it when it came after `--save ''`.
        let mut args: Vec<String> = vec![
            // One logical database, so that SELECT 1 fails as it does on Petrel.
            "--databases".into(),
            "1".into(),
            "--port".into(),
            port.to_string(),
            "--bind".into(),
            self.bind.clone(),
            "--save".into(),
            String::new(),
            "--appendonly".into(),
            "no".into(),
            "--dir".into(),
            dir.display().to_string(),
        ];
        if let Some(password) = &database.password {
            args.extend(["--requirepass".into(), password.clone()]);
        }
        if let Some(size) = &database.memory_size {
            args.extend([
                "--maxmemory".into(),
                size.clone(),
                "--maxmemory-policy".into(),
                "noeviction".into(),
            ]);
        }
        if let Some(size) = &self.proto_max_bulk_len {
            args.extend(["--proto-max-bulk-len".into(), size.clone()]);
        }
        if let Some(count) = self.maxclients {
            args.extend(["--maxclients".into(), count.to_string()]);
        }
        if let Some(seconds) = self.tcp_keepalive {
            args.extend(["--tcp-keepalive".into(), seconds.to_string()]);
        }
        if self.bind != "127.0.0.1" {
            // Only inside a test's own network namespace (see `bind`), where
            // clients from the far side must be served without a password.
            args.extend(["--protected-mode".into(), "no".into()]);
        }
        args
    }
}

fn toml_string(text: &str) -> String {
    let mut quoted = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            _ => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// The `petrel` binary: `$PETREL_BIN`, else `<workspace>/target/debug/petrel`.
pub fn petrel_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("PETREL_BIN") {
        return PathBuf::from(path);
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join("target/debug/petrel")
}

/// Ports handed out by this process, so two servers of one test binary never
/// get the same one even if the kernel offers it twice.
static PORTS_GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    loop {
        let listener =
            TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0 to find a free port");
        let port = listener
            .local_addr()
            .expect("local address of a bound listener")
            .port();
        drop(listener);
        let mut given = PORTS_GIVEN
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if given.get_or_insert_with(HashSet::new).insert(port) {
            return port;
        }
    }
}

static DIR_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A new, empty directory of this test process's own under the temp dir;
/// the caller removes it.
pub fn fresh_dir() -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.subsec_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "petrel-e2e-{}-{}-{nanos}",
        std::process::id(),
        DIR_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|error| panic!("create {}: {error}", dir.display()));
    dir
}

/// One spawned server process and the file its output goes to.
struct Process {
    label: String,
    child: Child,
    log: PathBuf,
}

impl Process {
    fn spawn(
        label: String,
        mut command: Command,
        log: PathBuf,
        open_file_limit: Option<(u64, u64)>,
    ) -> Process {
        let out = std::fs::File::create(&log)
            .unwrap_or_else(|error| panic!("create {}: {error}", log.display()));
        let err = out
            .try_clone()
            .unwrap_or_else(|error| panic!("clone log handle: {error}"));
        command.stdin(Stdio::null()).stdout(out).stderr(err);
        // SAFETY: the closure runs in the child between fork and exec and only
        // calls prctl, which is async-signal-safe. It makes the kernel kill the
        // server if the test process dies without running Drop (SIGKILL, abort).
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
                Ok(())
            });
        }
        if let Some((soft, hard)) = open_file_limit {
            let limit = libc::rlimit {
                rlim_cur: soft,
                rlim_max: hard,
            };
            // SAFETY: runs in the child between fork and exec; setrlimit is
            // async-signal-safe and reads only the struct moved in.
            unsafe {
                command.pre_exec(move || {
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                });
            }
        }
        let child = command
            .spawn()
            .unwrap_or_else(|error| panic!("spawn {label}: {error} (is it installed / built?)"));
        Process { label, child, log }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGTERM, then SIGKILL after the grace period; always reaps the child.
    fn stop(&mut self) {
        if self.exited().is_some() {
            return;
        }
        if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: kill(2) with the pid of our own unreaped child, which
            // cannot have been recycled because we have not waited on it yet.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if self.exited().is_some() {
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running server for one test; stopped when dropped.
pub struct Server {
    target: Target,
    config: Config,
    ports: Vec<u16>,
    processes: Vec<Process>,
    dir: PathBuf,
}

impl Server {
    /// Starts the run's target (see [`target`]) with `config` and waits until
    /// every database port answers PING.
    pub fn start(config: Config) -> Server {
        Server::start_target(target(), config)
    }

    /// Starts the target with one database, no password, no memory limit.
    pub fn start_default() -> Server {
        Server::start(Config::default())
    }

    /// Starts a given target, whatever the run's target is (for tests that
    /// compare Petrel with a real redis-server side by side).
    pub fn start_target(target: Target, config: Config) -> Server {
        assert!(
            !config.databases.is_empty(),
            "a config needs at least one database"
        );
        let mut last_failure = String::new();
        for _ in 0..START_ATTEMPTS {
            match Server::try_start(target, config.clone()) {
                Ok(server) => return server,
                Err(failure) if failure.port_taken => last_failure = failure.message,
                Err(failure) => panic!("{}", failure.message),
            }
        }
        panic!("server did not start after {START_ATTEMPTS} attempts: {last_failure}");
    }

    fn try_start(target: Target, config: Config) -> Result<Server, StartFailure> {
        let binary = petrel_binary();
        if target == Target::Petrel && !binary.exists() {
            panic!(
                "petrel binary not found at {} (run `cargo build --bin petrel`, or set PETREL_BIN; \
                 PETREL_E2E_TARGET=redis runs the suite against redis-server)",
                binary.display()
            );
        }
        let dir = fresh_dir();
        let ports: Vec<u16> = config.databases.iter().map(|_| free_port()).collect();
        let mut processes = Vec::new();
        match target {
            Target::Petrel => {
                let config_path = dir.join("petrel.toml");
                std::fs::write(&config_path, config.to_toml(&ports))
                    .unwrap_or_else(|error| panic!("write {}: {error}", config_path.display()));
                let mut command = Command::new(&binary);
                command
                    .arg("serve")
                    .arg("--config")
                    .arg(&config_path)
                    .arg("--log-level")
                    .arg("info");
                processes.push(Process::spawn(
                    "petrel".into(),
                    command,
                    dir.join("petrel.log"),
                    config.open_file_limit,
                ));
            }
            Target::Redis => {
                for (index, (database, port)) in config.databases.iter().zip(&ports).enumerate() {
                    let db_dir = dir.join(format!("redis-{index}"));
                    std::fs::create_dir_all(&db_dir)
                        .unwrap_or_else(|error| panic!("create {}: {error}", db_dir.display()));
                    let mut command = Command::new("redis-server");
                    command.args(config.redis_args(database, *port, &db_dir));
                    processes.push(Process::spawn(
                        format!("redis-server for {}", database.name),
                        command,
                        dir.join(format!("redis-{index}.log")),
                        config.open_file_limit,
                    ));
                }
            }
        }
        let mut server = Server {
            target,
            config,
            ports,
            processes,
            dir,
        };
        server.wait_ready()?;
        Ok(server)
    }

    fn wait_ready(&mut self) -> Result<(), StartFailure> {
        let deadline = Instant::now() + START_TIMEOUT;
        for (index, port) in self.ports.clone().into_iter().enumerate() {
            // A TLS-only port closes plaintext PINGs: there, listening is ready.
            let tls_only = self.target == Target::Petrel
                && self.config.databases[index]
                    .tls
                    .as_ref()
                    .is_some_and(tls::DatabaseTls::refuses_plaintext);
            loop {
                if let Some(failure) = self.exit_failure() {
                    return Err(failure);
                }
                let ready = if tls_only {
                    tls::accepts_connections(port)
                } else {
                    ping_answers(port)
                };
                if ready {
                    break;
                }
                if Instant::now() > deadline {
                    let logs = self.logs();
                    return Err(StartFailure {
                        port_taken: false,
                        message: format!(
                            "server did not answer PING on port {port} within {START_TIMEOUT:?}; output:\n{logs}"
                        ),
                    });
                }
                thread::sleep(Duration::from_millis(20));
            }
        }
        Ok(())
    }

    fn exit_failure(&mut self) -> Option<StartFailure> {
        for process in &mut self.processes {
            if let Some(status) = process.exited() {
                let log = process.log_text();
                let lower = log.to_ascii_lowercase();
                return Some(StartFailure {
                    port_taken: lower.contains("address already in use")
                        || lower.contains("addrinuse"),
                    message: format!(
                        "{} exited during start-up with {status}; output:\n{log}",
                        process.label
                    ),
                });
            }
        }
        None
    }

    pub fn target(&self) -> Target {
        self.target
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Petrel only: rewrites the config file with `config` (a database
    /// keeps its port by name; a new one gets a free port), sends SIGHUP,
    /// and returns the log line that reports the outcome. After a reload
    /// that took, `port_of` knows the new set of databases.
    pub fn reload(&mut self, config: Config) -> String {
        assert_eq!(self.target, Target::Petrel, "SIGHUP reload is Petrel's");
        let ports: Vec<u16> = config
            .databases
            .iter()
            .map(|database| {
                self.config
                    .databases
                    .iter()
                    .position(|running| running.name == database.name)
                    .map_or_else(free_port, |index| self.ports[index])
            })
            .collect();
        let outcomes = |logs: String| -> Vec<String> {
            logs.lines()
                .filter(|line| {
                    line.contains("configuration reloaded")
                        || line.contains("configuration not reloaded")
                })
                .map(str::to_string)
                .collect()
        };
        let before = outcomes(self.logs()).len();
        let path = self.dir.join("petrel.toml");
        std::fs::write(&path, config.to_toml(&ports))
            .unwrap_or_else(|error| panic!("write {}: {error}", path.display()));
        let pid = libc::pid_t::try_from(self.pid()).expect("a pid fits pid_t");
        // SAFETY: kill(2) with the pid of our own running, unreaped child.
        unsafe {
            libc::kill(pid, libc::SIGHUP);
        }
        wait_until(START_TIMEOUT, "the reload's outcome in the log", || {
            outcomes(self.logs()).len() > before
        });
        let outcome = outcomes(self.logs())[before].clone();
        if outcome.contains("configuration reloaded") {
            self.config = config;
            self.ports = ports;
        }
        outcome
    }

    /// The process id of the (first) server process.
    pub fn pid(&self) -> u32 {
        self.processes[0].child.id()
    }

    /// The port of the first database.
    pub fn port(&self) -> u16 {
        self.ports[0]
    }

    /// The port of the database with this name.
    pub fn port_of(&self, name: &str) -> u16 {
        self.ports[self.database_index(name)]
    }

    fn database_index(&self, name: &str) -> usize {
        self.config
            .databases
            .iter()
            .position(|database| database.name == name)
            .unwrap_or_else(|| panic!("no database named {name:?} in this server's config"))
    }

    /// The configured password of the first database.
    pub fn password(&self) -> Option<&str> {
        self.config.databases[0].password.as_deref()
    }

    /// A redis-rs URL for the first database, with its password.
    pub fn url(&self) -> String {
        self.url_of(&self.config.databases[0].name.clone())
    }

    /// A redis-rs URL for a named database, with its password.
    pub fn url_of(&self, name: &str) -> String {
        let index = self.database_index(name);
        let port = self.ports[index];
        match &self.config.databases[index].password {
            Some(password) => format!("redis://:{password}@127.0.0.1:{port}/"),
            None => format!("redis://127.0.0.1:{port}/"),
        }
    }

    /// A redis-rs connection to the first database, authenticated if it has a password.
    pub fn client(&self) -> redis::Connection {
        connect_url(&self.url())
    }

    /// A redis-rs connection to a named database, authenticated if it has a password.
    pub fn client_of(&self, name: &str) -> redis::Connection {
        connect_url(&self.url_of(name))
    }

    /// A redis-rs connection to the first database that speaks RESP3 (HELLO 3).
    pub fn client_resp3(&self) -> redis::Connection {
        connect_url(&format!("{}?protocol=resp3", self.url()))
    }

    /// A raw socket to the first database, not authenticated.
    pub fn raw(&self) -> RawConn {
        RawConn::connect(self.port())
    }

    /// A raw socket to a named database, not authenticated.
    pub fn raw_of(&self, name: &str) -> RawConn {
        RawConn::connect(self.port_of(name))
    }

    /// Runs `redis-cli -p PORT [-a PASSWORD] ARGS...` against the first
    /// database, feeding `stdin` if given.
    pub fn redis_cli(&self, args: &[&str], stdin: Option<&str>) -> CliOutput {
        let port = self.port().to_string();
        let mut full: Vec<&str> = vec!["-h", "127.0.0.1", "-p", &port];
        if let Some(password) = self.password() {
            full.extend(["-a", password, "--no-auth-warning"]);
        }
        full.extend_from_slice(args);
        run_tool("redis-cli", &full, stdin, IO_TIMEOUT * 3)
    }

    /// Everything the server processes printed so far.
    pub fn logs(&self) -> String {
        let mut text = String::new();
        for process in &self.processes {
            let _ = writeln!(text, "--- {} ---\n{}", process.label, process.log_text());
        }
        text
    }

    /// Panics with the server's output if any of its processes has exited.
    pub fn assert_alive(&mut self) {
        for process in &mut self.processes {
            if let Some(status) = process.exited() {
                panic!(
                    "{} died with {status}; output:\n{}",
                    process.label,
                    process.log_text()
                );
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        for process in &mut self.processes {
            process.stop();
        }
        if std::thread::panicking() {
            eprintln!("server output:\n{}", self.logs());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

struct StartFailure {
    port_taken: bool,
    message: String,
}

/// Whether something on the port answers a RESP PING with a complete line
/// (`+PONG`, or `-NOAUTH ...` when a password is set).
fn ping_answers(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"*1\r\n$4\r\nPING\r\n").is_err() {
        return false;
    }
    let mut answer = Vec::new();
    let mut chunk = [0u8; 256];
    while !answer.ends_with(b"\r\n") {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return false,
            Ok(read) => answer.extend_from_slice(&chunk[..read]),
        }
    }
    matches!(answer.first(), Some(b'+') | Some(b'-'))
}

/// A redis-rs connection with I/O timeouts; panics with the error if it fails.
pub fn connect_url(url: &str) -> redis::Connection {
    let client = redis::Client::open(url).unwrap_or_else(|error| panic!("bad url {url}: {error}"));
    let connection = client
        .get_connection_with_timeout(IO_TIMEOUT)
        .unwrap_or_else(|error| panic!("connect to {url}: {error}"));
    connection
        .set_read_timeout(Some(IO_TIMEOUT))
        .unwrap_or_else(|error| panic!("set read timeout: {error}"));
    connection
        .set_write_timeout(Some(IO_TIMEOUT))
        .unwrap_or_else(|error| panic!("set write timeout: {error}"));
    connection
}

/// A redis error as the server worded it: "ERR syntax error",
/// "WRONGTYPE Operation against ...", "OOM command not allowed ...".
pub fn error_text(error: &redis::RedisError) -> String {
    match (error.code(), error.detail()) {
        (Some(code), Some(detail)) => format!("{code} {detail}"),
        (Some(code), None) => code.to_owned(),
        _ => error.to_string(),
    }
}

/// Runs a command given as words and converts its reply; panics with the
/// command and the error if the server answers an error.
pub fn query<T: redis::FromRedisValue>(connection: &mut redis::Connection, args: &[&str]) -> T {
    let mut command = redis::cmd(args[0]);
    for arg in &args[1..] {
        command.arg(*arg);
    }
    command
        .query(connection)
        .unwrap_or_else(|error| panic!("{args:?} failed: {}", error_text(&error)))
}

/// Runs a command given as words that must fail, and returns the error text.
pub fn query_error(connection: &mut redis::Connection, args: &[&str]) -> String {
    let mut command = redis::cmd(args[0]);
    for arg in &args[1..] {
        command.arg(*arg);
    }
    match command.query::<redis::Value>(connection) {
        Ok(value) => panic!("{args:?} should fail but answered {value:?}"),
        Err(error) => error_text(&error),
    }
}

/// A key `prefix:n` that Petrel's shard `shard` of `shard_count` owns (the
/// routing of `petrel_store::route::shard_of`), for tests that need keys on
/// different shards; on redis-server any key works the same.
pub fn key_on_shard(prefix: &str, shard: usize, shard_count: usize) -> String {
    (0..)
        .map(|n| format!("{prefix}:{n}"))
        .find(|key| petrel_store::route::shard_of(key.as_bytes(), shard_count) == shard)
        .unwrap_or_else(|| unreachable!("every shard owns some key"))
}

/// Polls `condition` every 20 ms until it holds; panics naming `what` after `timeout`.
pub fn wait_until(timeout: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return;
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting until {what}");
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// What a command-line tool printed and how it exited.
#[derive(Debug)]
pub struct CliOutput {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs a tool with arguments and optional stdin; kills it and panics if it
/// runs longer than `timeout`.
pub fn run_tool(program: &str, args: &[&str], stdin: Option<&str>, timeout: Duration) -> CliOutput {
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .unwrap_or_else(|error| panic!("spawn {program}: {error} (apt-get install redis-tools)"));
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        let input = input.to_owned();
        // A writer thread, so a tool that answers before reading everything cannot deadlock us.
        thread::spawn(move || {
            let _ = pipe.write_all(input.as_bytes());
        });
    }
    let pid = child.id();
    let (sender, receiver) = std::sync::mpsc::channel::<Output>();
    let waiter = thread::spawn(move || {
        if let Ok(output) = child.wait_with_output() {
            let _ = sender.send(output);
        }
    });
    match receiver.recv_timeout(timeout) {
        Ok(output) => {
            let _ = waiter.join();
            CliOutput {
                status: output.status,
                stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            }
        }
        Err(_) => {
            if let Ok(pid) = libc::pid_t::try_from(pid) {
                // SAFETY: kill(2) on our own child, not yet reaped: the waiter
                // thread is still blocked in wait() for it.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
            let _ = waiter.join();
            panic!("{program} {args:?} did not finish within {timeout:?}");
        }
    }
}

/// A reply as read from a raw socket, RESP2 or RESP3.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Simple(String),
    Error(String),
    Integer(i64),
    Bulk(Vec<u8>),
    /// `$-1`, `*-1` or RESP3's `_`.
    Nil,
    Array(Vec<Reply>),
    Map(Vec<(Reply, Reply)>),
    Set(Vec<Reply>),
    Push(Vec<Reply>),
    Double(String),
    Boolean(bool),
    BigNumber(String),
    Verbatim(String, Vec<u8>),
}

impl Reply {
    /// A bulk reply holding `text`.
    pub fn bulk(text: &str) -> Reply {
        Reply::Bulk(text.as_bytes().to_vec())
    }

    /// A simple-string reply holding `text`.
    pub fn simple(text: &str) -> Reply {
        Reply::Simple(text.to_owned())
    }

    /// The text of a simple, bulk or verbatim string reply.
    pub fn as_text(&self) -> Option<String> {
        match self {
            Reply::Simple(text) => Some(text.clone()),
            Reply::Bulk(bytes) | Reply::Verbatim(_, bytes) => {
                Some(String::from_utf8_lossy(bytes).into_owned())
            }
            _ => None,
        }
    }
}

/// Encodes a command as a RESP multibulk.
pub fn encode_command<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        let arg = arg.as_ref();
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Parses one reply from the front of `input`: `Ok(None)` if incomplete,
/// else the reply and how many bytes it took.
pub fn parse_reply(input: &[u8]) -> Result<Option<(Reply, usize)>, String> {
    let Some(line_end) = input.windows(2).position(|pair| pair == b"\r\n") else {
        return Ok(None);
    };
    let Some((&kind, rest)) = input[..line_end].split_first() else {
        return Err("empty reply line".into());
    };
    let line = String::from_utf8_lossy(rest).into_owned();
    let after_line = line_end + 2;
    let number = |line: &str| -> Result<i64, String> {
        line.parse::<i64>()
            .map_err(|_| format!("bad length or integer {line:?}"))
    };
    let reply = match kind {
        b'+' => (Reply::Simple(line), after_line),
        b'-' => (Reply::Error(line), after_line),
        b':' => (Reply::Integer(number(&line)?), after_line),
        b'_' => (Reply::Nil, after_line),
        b',' => (Reply::Double(line), after_line),
        b'(' => (Reply::BigNumber(line), after_line),
        b'#' => (Reply::Boolean(line == "t"), after_line),
        b'$' | b'=' | b'!' => {
            let length = number(&line)?;
            if length < 0 {
                return Ok(Some((Reply::Nil, after_line)));
            }
            let length = usize::try_from(length).map_err(|_| "bulk length overflow".to_string())?;
            if input.len() < after_line + length + 2 {
                return Ok(None);
            }
            let body = input[after_line..after_line + length].to_vec();
            let reply = match kind {
                b'$' => Reply::Bulk(body),
                b'!' => Reply::Error(String::from_utf8_lossy(&body).into_owned()),
                _ => {
                    let format = String::from_utf8_lossy(body.get(..3).unwrap_or(b"")).into_owned();
                    Reply::Verbatim(format, body.get(4..).unwrap_or(b"").to_vec())
                }
            };
            (reply, after_line + length + 2)
        }
        b'*' | b'~' | b'>' | b'%' => {
            let count = number(&line)?;
            if count < 0 {
                return Ok(Some((Reply::Nil, after_line)));
            }
            let items = if kind == b'%' { count * 2 } else { count };
            let mut offset = after_line;
            let mut elements = Vec::new();
            for _ in 0..items {
                match parse_reply(&input[offset..])? {
                    None => return Ok(None),
                    Some((element, used)) => {
                        elements.push(element);
                        offset += used;
                    }
                }
            }
            let reply = match kind {
                b'*' => Reply::Array(elements),
                b'~' => Reply::Set(elements),
                b'>' => Reply::Push(elements),
                _ => {
                    let mut pairs = Vec::new();
                    let mut iter = elements.into_iter();
                    while let (Some(key), Some(value)) = (iter.next(), iter.next()) {
                        pairs.push((key, value));
                    }
                    Reply::Map(pairs)
                }
            };
            (reply, offset)
        }
        other => return Err(format!("unknown reply type byte {:?}", other as char)),
    };
    Ok(Some(reply))
}

/// A plain TCP connection that sends exactly the bytes a test gives it and
/// reads replies byte-exact.
pub struct RawConn {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl RawConn {
    pub fn connect(port: u16) -> RawConn {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .unwrap_or_else(|error| panic!("connect to port {port}: {error}"));
        stream
            .set_read_timeout(Some(IO_TIMEOUT))
            .unwrap_or_else(|error| panic!("set read timeout: {error}"));
        stream
            .set_write_timeout(Some(IO_TIMEOUT))
            .unwrap_or_else(|error| panic!("set write timeout: {error}"));
        let _ = stream.set_nodelay(true);
        RawConn {
            stream,
            buffer: Vec::new(),
        }
    }

    /// Writes bytes as they are, in one write call.
    /// This end's address, `ip:port`, as the server sees the peer.
    pub fn local_address(&self) -> String {
        self.stream
            .local_addr()
            .map(|address| address.to_string())
            .unwrap_or_else(|error| panic!("local address: {error}"))
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .unwrap_or_else(|error| panic!("write {} bytes: {error}", bytes.len()));
    }

    /// Writes one command as a RESP multibulk.
    pub fn send_command<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        let bytes = encode_command(args);
        self.send(&bytes);
    }

    /// Sends a command and reads its reply.
    pub fn command(&mut self, args: &[&str]) -> Reply {
        self.send_command(args);
        self.read_reply()
    }

    /// Reads the next reply.
    pub fn read_reply(&mut self) -> Reply {
        self.read_reply_with_bytes().0
    }

    /// Reads the next reply and returns exactly the bytes it was encoded as.
    pub fn read_reply_bytes(&mut self) -> Vec<u8> {
        self.read_reply_with_bytes().1
    }

    fn read_reply_with_bytes(&mut self) -> (Reply, Vec<u8>) {
        loop {
            match parse_reply(&self.buffer) {
                Err(error) => panic!(
                    "unparseable reply ({error}): {:?}",
                    String::from_utf8_lossy(&self.buffer)
                ),
                Ok(Some((reply, used))) => {
                    let bytes: Vec<u8> = self.buffer.drain(..used).collect();
                    return (reply, bytes);
                }
                Ok(None) => {
                    if !self.fill() {
                        panic!(
                            "connection closed before a whole reply; got {:?}",
                            String::from_utf8_lossy(&self.buffer)
                        );
                    }
                }
            }
        }
    }

    /// Reads more bytes into the buffer; false when the peer closed.
    fn fill(&mut self) -> bool {
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return false,
                Ok(read) => {
                    self.buffer.extend_from_slice(&chunk[..read]);
                    return true;
                }
                Err(error) if error.kind() == ErrorKind::Interrupted => continue,
                Err(error)
                    if matches!(
                        error.kind(),
                        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
                    ) =>
                {
                    return false
                }
                Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => panic!(
                    "the server neither answered nor closed within {IO_TIMEOUT:?}; received so far: {:?}",
                    String::from_utf8_lossy(&self.buffer)
                ),
                Err(error) => panic!("read from server: {error}"),
            }
        }
    }

    /// Reads until the server closes the connection (a reset counts as
    /// closed) and returns every byte that arrived, including buffered ones.
    /// Panics if the server keeps it open longer than the I/O timeout.
    pub fn read_until_closed(&mut self) -> Vec<u8> {
        while self.fill() {}
        std::mem::take(&mut self.buffer)
    }

    /// Stops sending; the server sees end of input.
    pub fn shutdown_write(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}
