//! The `petrel-bench` command: parse memtier-style flags, run the benchmark
//! `--run-count` times, print the results, and exit non-zero when anything
//! failed (a refused connection, a TLS failure, an error reply), so that a
//! script never mistakes a broken run for a result.

use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use petrel_bench::config::{AddressFamily, Config};
use petrel_bench::report;
use petrel_bench::runner;
use petrel_bench::stats::{Errors, Summary};
use petrel_bench::tls::TlsContext;
use petrel_bench::transport::Target;

fn main() -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}.");
            return ExitCode::from(2);
        }
    };
    match run(Arc::new(config)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Runs every iteration and prints the results. Ok(false) when the run
/// completed but recorded errors.
fn run(config: Arc<Config>) -> Result<bool, String> {
    raise_open_file_limit(&config)?;
    if config.requests_from_allkeys {
        if let petrel_bench::config::StopCondition::RequestsPerClient(requests) = config.stop {
            println!("setting requests to {requests}");
        }
    }
    if config.show_config {
        eprintln!("============== Configuration values: ==============");
        print!("{}", report::show_config(&config));
        eprintln!("===================================================");
    }
    let tls = match &config.tls {
        Some(options) => Some(TlsContext::new(options, &config.server).map_err(|e| e.to_string())?),
        None => None,
    };
    let addrs = resolve(&config)?;
    let target = Arc::new(Target::new(addrs, tls));

    let mut out: Box<dyn Write> = match &config.out_file {
        Some(path) => {
            eprintln!("Writing results to {}...", path.display());
            Box::new(std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?)
        }
        None => {
            eprintln!("Writing results to stdout");
            Box::new(std::io::stdout())
        }
    };

    let mut summaries = Vec::with_capacity(config.run_count as usize);
    let mut errors = Errors::default();
    for run_id in 1..=config.run_count {
        if run_id > 1 {
            // Let the previous run's connections settle, as memtier does.
            std::thread::sleep(Duration::from_secs(1));
        }
        let stats = runner::run(&config, &target, run_id).map_err(|e| e.to_string())?;
        let summary = stats.summary();
        if let Some(prefix) = &config.hdr_file_prefix {
            let written = report::write_hdr_files(prefix, run_id, &config, &summary)
                .map_err(|e| format!("writing HDR files with prefix {prefix}: {e}"))?;
            for path in written {
                eprintln!("Wrote HDR latency histogram results to {path}");
            }
        }
        errors.merge(&stats.errors);
        summaries.push((stats.ops_per_sec(), summary));
    }

    let mut text = report::run_information(&config);
    let mut json = serde_json::Map::new();
    json.insert("configuration".into(), report::json_configuration(&config));
    json.insert(
        "run information".into(),
        report::json_run_information(&config),
    );
    let mut sections: Vec<(String, &Summary)> = Vec::new();
    let average;
    if summaries.len() > 1 {
        let best = summaries
            .iter()
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|s| &s.1);
        let worst = summaries
            .iter()
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map(|s| &s.1);
        let all: Vec<Summary> = summaries.iter().map(|s| s.1.clone()).collect();
        average = Summary::average(&all);
        if let (Some(best), Some(worst), Some(average)) = (best, worst, average.as_ref()) {
            sections.push(("BEST RUN RESULTS".into(), best));
            sections.push(("WORST RUN RESULTS".into(), worst));
            sections.push((
                format!("AGGREGATED AVERAGE RESULTS ({} runs)", summaries.len()),
                average,
            ));
        }
    } else if let Some((_, summary)) = summaries.first() {
        sections.push(("ALL STATS".into(), summary));
    }
    for (header, summary) in &sections {
        text.push_str(&report::table(&config, header, summary));
        if !config.hide_histogram {
            text.push_str(&report::distribution(&config, summary));
        }
        json.insert(
            header.clone(),
            report::json_results(&config, summary, &errors),
        );
    }
    out.write_all(text.as_bytes())
        .map_err(|e| format!("writing results: {e}"))?;
    out.flush().map_err(|e| format!("writing results: {e}"))?;

    if let Some(path) = &config.json_out_file {
        let body = serde_json::to_string_pretty(&serde_json::Value::Object(json))
            .map_err(|e| e.to_string())?;
        std::fs::write(path, body + "\n").map_err(|e| format!("{}: {e}", path.display()))?;
    }

    let total_ops: f64 = summaries.iter().map(|s| s.0).sum();
    if let Some(summary) = report::error_summary(&errors) {
        eprint!("{summary}");
        return Ok(false);
    }
    if total_ops == 0.0 {
        eprintln!("ERRORS: no request completed");
        return Ok(false);
    }
    Ok(true)
}

fn resolve(config: &Config) -> Result<Vec<SocketAddr>, String> {
    let addrs: Vec<SocketAddr> = (config.server.as_str(), config.port)
        .to_socket_addrs()
        .map_err(|e| format!("{}:{}: error: {e}", config.server, config.port))?
        .filter(|addr| match config.family {
            AddressFamily::Any => true,
            AddressFamily::V4 => addr.is_ipv4(),
            AddressFamily::V6 => addr.is_ipv6(),
        })
        .collect();
    if addrs.is_empty() {
        return Err(format!(
            "{}:{}: error: no address of the requested family",
            config.server, config.port
        ));
    }
    Ok(addrs)
}

/// memtier raises RLIMIT_NOFILE to fit every connection; so do we.
fn raise_open_file_limit(config: &Config) -> Result<(), String> {
    use rlimit::Resource;
    let needed = config.total_connections() + u64::from(config.threads) * 10 + 10;
    let (soft, hard) = Resource::NOFILE
        .get()
        .map_err(|error| format!("getrlimit failed: {error}"))?;
    if needed <= soft {
        return Ok(());
    }
    Resource::NOFILE
        .set(needed, needed.max(hard))
        .map_err(|error| {
            format!(
                "running with {} connections needs {needed} open files (limit {soft}): {error}",
                config.total_connections()
            )
        })
}
