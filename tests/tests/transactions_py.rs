//! Proves MULTI/EXEC works for redis-py, the client most applications
//! reach Petrel with: runs tests/py/test_transactions.py (pipeline()'s
//! MULTI/EXEC, watch/multi/execute with WatchError retries, and a
//! cross-shard transfer test whose observer checks the total inside
//! MULTI/EXEC) with pytest against a started server. redis-py and pytest
//! come from PyPI into a virtual environment under the target directory,
//! made once and reused; the test is skipped, saying so, only when PyPI
//! cannot be reached.

use std::path::{Path, PathBuf};
use std::time::Duration;

use petrel_e2e::{run_tool, CliOutput, Server};

/// What pip prints when it cannot reach the package index at all.
const NETWORK_FAILURES: &[&str] = &[
    "NewConnectionError",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "No matching distribution found",
    "Connection refused",
    "ConnectTimeoutError",
    "ReadTimeoutError",
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .to_path_buf()
}

fn describe(output: &CliOutput) -> String {
    format!(
        "{}\nstdout:\n{}\nstderr:\n{}",
        output.status, output.stdout, output.stderr
    )
}

/// The venv's python with redis-py and pytest installed, or None when PyPI
/// is unreachable.
fn python_with_redis_py() -> Option<PathBuf> {
    let venv = workspace().join("target/e2e-python");
    let python = venv.join("bin/python");
    let python_text = python.display().to_string();
    let ready = python.exists()
        && run_tool(
            &python_text,
            &["-c", "import redis, pytest"],
            None,
            Duration::from_secs(30),
        )
        .status
        .success();
    if ready {
        return Some(python);
    }
    let venv_text = venv.display().to_string();
    let created = run_tool(
        "python3",
        &["-m", "venv", &venv_text],
        None,
        Duration::from_secs(120),
    );
    assert!(
        created.status.success(),
        "python3 -m venv failed (scripts/install-deps.sh installs python3-venv): {}",
        describe(&created)
    );
    let installed = run_tool(
        &python_text,
        &[
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "redis>=5",
            "pytest>=7",
        ],
        None,
        Duration::from_secs(300),
    );
    if installed.status.success() {
        return Some(python);
    }
    let text = format!("{}{}", installed.stdout, installed.stderr);
    if NETWORK_FAILURES.iter().any(|marker| text.contains(marker)) {
        return None;
    }
    panic!("pip install redis pytest failed: {}", describe(&installed));
}

// The redis-py transaction suite passes against a started server.
#[test]
fn redis_py_transactions() {
    let Some(python) = python_with_redis_py() else {
        eprintln!("skipped: PyPI is unreachable, so redis-py and pytest cannot be installed");
        return;
    };
    let server = Server::start_default();
    let script = workspace().join("tests/py/test_transactions.py");
    let url = format!("redis://127.0.0.1:{}/0", server.port());
    let output = run_tool(
        "env",
        &[
            &format!("PETREL_URL={url}"),
            "PYTHONDONTWRITEBYTECODE=1",
            &python.display().to_string(),
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            &script.display().to_string(),
        ],
        None,
        Duration::from_secs(180),
    );
    assert!(
        output.status.success(),
        "pytest failed: {}",
        describe(&output)
    );
}
