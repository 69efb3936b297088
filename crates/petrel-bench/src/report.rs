//! Everything a run writes: memtier's text output (run information, the
//! "ALL STATS" table, the request latency distribution), the JSON file
//! (configuration, run information, results with time series and
//! percentiles), the HDR histogram files, and the error summary.
//!
//! Formats follow memtier_benchmark's column widths and number formats so
//! that scripts written for memtier read petrel-bench's output unchanged.
//! This module formats; the caller decides where the text goes.

use std::fmt::Write as _;
use std::io;
use std::path::Path;

use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde_json::{json, Map, Value};

use crate::config::{Config, DataSizes, StopCondition, Workload};
use crate::stats::{ErrorKind, Errors, RowSummary, Summary};

/// Microseconds per reported millisecond.
const US_PER_MS: f64 = 1000.0;
/// memtier's percentile iteration granularity for distributions and .txt files.
const PERCENTILE_TICKS_PER_HALF_DISTANCE: u32 = 10;

/// A table cell: text as given, or a number in the column's format.
enum Cell {
    Text(String),
    Number(f64),
}

struct Column {
    /// memtier's column_size; each cell takes size + 1 characters.
    size: usize,
    precision: usize,
    left_aligned: bool,
    header: String,
    cells: Vec<Cell>,
}

impl Column {
    fn numeric(size: usize, precision: usize, header: &str, cells: Vec<Cell>) -> Column {
        Column {
            size,
            precision,
            left_aligned: false,
            header: header.to_string(),
            cells,
        }
    }

    fn render(&self, cell: &Cell) -> String {
        match (cell, self.left_aligned) {
            (Cell::Text(text), true) => format!("{:<width$} ", text, width = self.size),
            (Cell::Text(text), false) => format!("{:>width$} ", text, width = self.size),
            (Cell::Number(value), _) => format!(
                "{:>width$.prec$} ",
                value,
                width = self.size,
                prec = self.precision
            ),
        }
    }
}

/// "p50", "p99.9", "p99.99": the label memtier gives a percentile column.
pub fn percentile_label(quantile: f64) -> String {
    // The fewest decimals (at most three) that show the value exactly.
    let digits = (0..3)
        .find(|&d| {
            let scaled = quantile * 10f64.powi(d);
            (scaled - scaled.round()).abs() < 1e-6
        })
        .unwrap_or(3) as usize;
    format!("p{quantile:.digits$}")
}

fn is_set_get(config: &Config) -> bool {
    matches!(config.workload, Workload::SetGet { .. })
}

fn has_ops(histogram: &Histogram<u64>) -> bool {
    !histogram.is_empty()
}

fn latency_ms(value_us: u64) -> f64 {
    value_us as f64 / US_PER_MS
}

/// The lines memtier prints before the tables.
pub fn run_information(config: &Config) -> String {
    let (count, label) = match config.stop {
        StopCondition::RequestsPerClient(requests) => (requests, "Requests per client"),
        StopCondition::TestTime(duration) => (duration.as_secs(), "Seconds"),
    };
    format!(
        "{:<9} Threads\n{:<9} Connections per thread\n{:<9} {}\n",
        config.threads, config.clients, count, label
    )
}

/// One results table, as memtier prints it, headed by `header`.
pub fn table(config: &Config, header: &str, summary: &Summary) -> String {
    let set_get = is_set_get(config);
    let names = config.row_names();
    let command_name_max = match &config.workload {
        Workload::SetGet { .. } => 0,
        Workload::Commands(commands) => commands.iter().map(|c| c.name.len()).max().unwrap_or(0),
    };
    let type_size = command_name_max.max(6) + 1;
    let rows: Vec<&RowSummary> = summary
        .rows
        .iter()
        .chain(std::iter::once(&summary.totals))
        .collect();
    let row_count = rows.len();
    let is_wait_row = |index: usize| set_get && index == 2;
    let is_set_row = |index: usize| set_get && index == 0;

    let mut columns = Vec::new();
    let mut type_cells: Vec<Cell> = names.iter().map(|n| Cell::Text(n.clone())).collect();
    type_cells.push(Cell::Text("Totals".into()));
    columns.push(Column {
        size: type_size,
        precision: 0,
        left_aligned: true,
        header: "Type".into(),
        cells: type_cells,
    });

    columns.push(Column::numeric(
        12,
        2,
        "Ops/sec",
        rows.iter().map(|r| Cell::Number(r.ops_sec)).collect(),
    ));
    if set_get {
        let dashes = |index: usize| is_set_row(index) || is_wait_row(index);
        columns.push(Column::numeric(
            12,
            2,
            "Hits/sec",
            (0..row_count)
                .map(|i| {
                    if dashes(i) {
                        Cell::Text("---".into())
                    } else {
                        Cell::Number(rows[i].hits_sec)
                    }
                })
                .collect(),
        ));
        columns.push(Column::numeric(
            12,
            2,
            "Misses/sec",
            (0..row_count)
                .map(|i| {
                    if dashes(i) {
                        Cell::Text("---".into())
                    } else {
                        Cell::Number(rows[i].misses_sec)
                    }
                })
                .collect(),
        ));
    }
    let is_totals = |index: usize| index == row_count - 1;
    // memtier prints "---" for a SET/GET/WAIT row without operations; the
    // totals row and arbitrary commands always get a number.
    let latency_cell = |index: usize, value: f64| {
        if set_get && !is_totals(index) && !has_ops(&rows[index].latency_us) {
            Cell::Text("---".into())
        } else {
            Cell::Number(value)
        }
    };
    columns.push(Column::numeric(
        15,
        5,
        "Avg. Latency",
        (0..row_count)
            .map(|i| latency_cell(i, rows[i].latency_us.mean() / US_PER_MS))
            .collect(),
    ));
    for &quantile in &config.percentiles {
        let label = format!("{} Latency", percentile_label(quantile));
        columns.push(Column::numeric(
            15,
            5,
            &label,
            (0..row_count)
                .map(|i| {
                    latency_cell(
                        i,
                        latency_ms(rows[i].latency_us.value_at_quantile(quantile / 100.0)),
                    )
                })
                .collect(),
        ));
    }
    columns.push(Column::numeric(
        12,
        2,
        "KB/sec",
        (0..row_count)
            .map(|i| {
                if is_wait_row(i) {
                    Cell::Text("---".into())
                } else {
                    Cell::Number(rows[i].kb_sec)
                }
            })
            .collect(),
    ));

    let mut out = String::new();
    out.push_str("\n\n");
    out.push_str(header);
    out.push('\n');
    for column in &columns {
        out.push_str(&"=".repeat(column.size + 1));
    }
    out.push('\n');
    for column in &columns {
        out.push_str(&column.render(&Cell::Text(column.header.clone())));
    }
    out.push('\n');
    for column in &columns {
        out.push_str(&"-".repeat(column.size + 1));
    }
    out.push('\n');
    for index in 0..row_count {
        for column in &columns {
            out.push_str(&column.render(&column.cells[index]));
        }
        out.push('\n');
    }
    out
}

/// memtier's "Request Latency Distribution" section.
pub fn distribution(config: &Config, summary: &Summary) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "\n\nRequest Latency Distribution\n{:<6} {:>12} {:>12}\n{}\n",
        "Type",
        "<= msec   ",
        "Percent",
        "-".repeat(72)
    );
    let names = config.command_names();
    let set_get = is_set_get(config);
    for (index, (name, row)) in names.iter().zip(&summary.rows).enumerate() {
        for (value_ms, percent) in percentile_steps(&row.latency_us) {
            let _ = writeln!(out, "{:<6} {:>8.3} {:>12.2}", name, value_ms, percent);
        }
        // memtier closes every section with "---" except the last WAIT one.
        if !(set_get && index == names.len() - 1) {
            out.push_str("---\n");
        }
    }
    out
}

/// (value in ms, percentile in 0..=100) at memtier's iteration granularity.
fn percentile_steps(histogram: &Histogram<u64>) -> Vec<(f64, f64)> {
    if histogram.is_empty() {
        return Vec::new();
    }
    histogram
        .iter_quantiles(PERCENTILE_TICKS_PER_HALF_DISTANCE)
        .map(|step| {
            (
                latency_ms(step.value_iterated_to()),
                step.quantile_iterated_to() * 100.0,
            )
        })
        .collect()
}

/// The error summary: one line per kind with a count and the first message.
pub fn error_summary(errors: &Errors) -> Option<String> {
    if errors.total() == 0 {
        return None;
    }
    let mut out = String::from("ERRORS:\n");
    for kind in ErrorKind::ALL {
        let tally = errors.tally(kind);
        if tally.count > 0 {
            let _ = writeln!(
                out,
                "  {} {} (first: {})",
                tally.count,
                kind.label(),
                tally.first.as_deref().unwrap_or("")
            );
        }
    }
    Some(out)
}

fn round_to(value: f64, decimals: i32) -> f64 {
    let factor = 10f64.powi(decimals);
    (value * factor).round() / factor
}

/// The JSON "configuration" section, with memtier's keys.
pub fn json_configuration(config: &Config) -> Value {
    let tls = config.tls.as_ref();
    let path_text = |path: Option<&std::path::PathBuf>| {
        path.map(|p| p.display().to_string()).unwrap_or_default()
    };
    let (requests, test_time) = match config.stop {
        StopCondition::RequestsPerClient(requests) => (requests, 0),
        StopCondition::TestTime(duration) => (0, duration.as_secs()),
    };
    let (data_size, data_size_range, data_size_list) = match &config.data_sizes {
        DataSizes::Fixed(size) => (*size, "0:0".to_string(), String::new()),
        DataSizes::Range { min, max, .. } => (0, format!("{min}:{max}"), String::new()),
        DataSizes::List(list) => {
            let text = list
                .iter()
                .map(|(s, w)| format!("{s}:{w}"))
                .collect::<Vec<_>>()
                .join(",");
            (0, "0:0".to_string(), text)
        }
    };
    let data_size_pattern = match config.data_sizes {
        DataSizes::Range {
            spread_over_keys: true,
            ..
        } => "S",
        _ => "R",
    };
    let commands: Vec<Value> = match &config.workload {
        Workload::SetGet { .. } => Vec::new(),
        Workload::Commands(commands) => commands
            .iter()
            .map(|c| json!({"command": c.text, "ratio": c.ratio, "key_pattern": c.key_pattern.as_char().to_string()}))
            .collect(),
    };
    json!({
        "server": config.server,
        "port": config.port,
        "unix socket": "",
        "address family": match config.family {
            crate::config::AddressFamily::Any => "Unspecified",
            crate::config::AddressFamily::V4 => "AF_INET",
            crate::config::AddressFamily::V6 => "AF_INET6",
        },
        "protocol": config.protocol.name(),
        "out_file": path_text(config.out_file.as_ref()),
        "tls": if tls.is_some() { "true" } else { "false" },
        "cert": path_text(tls.and_then(|t| t.cert.as_ref())),
        "key": path_text(tls.and_then(|t| t.key.as_ref())),
        "cacert": path_text(tls.and_then(|t| t.cacert.as_ref())),
        "tls_skip_verify": if tls.is_some_and(|t| t.skip_verify) { "true" } else { "false" },
        "sni": tls.and_then(|t| t.sni.clone()).unwrap_or_default(),
        "run_count": config.run_count,
        "requests": requests,
        "rate_limit": config.rate_limit.unwrap_or(0),
        "io_driver": config.io_driver.as_str(),
        "clients": config.clients,
        "threads": config.threads,
        "test_time": test_time,
        "ratio": config.ratio_text,
        "pipeline": config.pipeline,
        "data_size": data_size,
        "random_data": if config.random_data { "true" } else { "false" },
        "data_size_range": data_size_range,
        "data_size_list": data_size_list,
        "data_size_pattern": data_size_pattern,
        "expiry_range": config.expiry.map(|(a, b)| format!("{a}:{b}")).unwrap_or_else(|| "0:0".into()),
        "key_prefix": config.key_prefix,
        "key_minimum": config.key_min,
        "key_maximum": config.key_max,
        "key_pattern": config.key_pattern_text,
        "key_stddev": config.key_stddev,
        "key_median": config.key_median,
        "reconnect_interval": config.reconnect_interval.unwrap_or(0),
        "authenticate": config.auth.as_ref().map(|_| "yes").unwrap_or(""),
        "select-db": config.select_db.unwrap_or(0),
        "distinct_client_seed": config.distinct_client_seed,
        "commands": commands,
    })
}

/// The JSON "run information" section.
pub fn json_run_information(config: &Config) -> Value {
    let mut info = Map::new();
    info.insert("Threads".into(), json!(config.threads));
    info.insert("Connections per thread".into(), json!(config.clients));
    match config.stop {
        StopCondition::RequestsPerClient(requests) => {
            info.insert("Requests per client".into(), json!(requests))
        }
        StopCondition::TestTime(duration) => {
            info.insert("Seconds".into(), json!(duration.as_secs()))
        }
    };
    info.insert("Format version".into(), json!(2));
    Value::Object(info)
}

/// One results section ("ALL STATS", "BEST RUN RESULTS", ...).
pub fn json_results(config: &Config, summary: &Summary, errors: &Errors) -> Value {
    let mut section = Map::new();
    section.insert(
        "Runtime".into(),
        json!({
            "Start time": summary.start_ms,
            "Finish time": summary.end_ms,
            "Total duration": summary.end_ms.saturating_sub(summary.start_ms),
            "Time unit": "MILLISECONDS",
        }),
    );
    let names = config.row_names();
    let set_get = is_set_get(config);
    for (name, row) in names.iter().zip(&summary.rows) {
        let gets = set_get && name == "Gets";
        section.insert(name.clone(), json_row(config, row, gets));
    }
    section.insert("Totals".into(), json_row(config, &summary.totals, set_get));
    section.insert(
        "Connections".into(),
        json!({"Count": summary.connections, "Connections/sec": round_to(summary.connections_sec, 2)}),
    );
    let mut error_section = Map::new();
    for kind in ErrorKind::ALL {
        let tally = errors.tally(kind);
        error_section.insert(
            kind.label().to_string(),
            json!({"Count": tally.count, "First": tally.first.clone().unwrap_or_default()}),
        );
    }
    section.insert("Errors".into(), Value::Object(error_section));
    if !config.hide_histogram {
        for (name, row) in config.command_names().iter().zip(&summary.rows) {
            let steps: Vec<Value> = percentile_steps(&row.latency_us)
                .into_iter()
                .map(|(ms, percent)| json!({"<=msec": round_to(ms, 3), "percent": round_to(percent, 2)}))
                .collect();
            section.insert(name.clone(), Value::Array(steps));
        }
    }
    Value::Object(section)
}

/// One row's JSON. memtier reports hits and misses for Gets and Totals
/// only; the exact "Hits" and "Misses" counts are petrel-bench additions.
fn json_row(config: &Config, row: &RowSummary, with_hits: bool) -> Value {
    let (hits_sec, misses_sec, hits, misses) = if with_hits {
        (row.hits_sec, row.misses_sec, row.hits, row.misses)
    } else {
        (0.0, 0.0, 0, 0)
    };
    let histogram = &row.latency_us;
    let (average, min, max) = if histogram.is_empty() {
        (0.0, 0.0, 0.0)
    } else {
        (
            histogram.mean() / US_PER_MS,
            latency_ms(histogram.min()),
            latency_ms(histogram.max()),
        )
    };
    let mut out = Map::new();
    out.insert("Count".into(), json!(histogram.len()));
    out.insert("Ops/sec".into(), json!(round_to(row.ops_sec, 2)));
    out.insert("Hits/sec".into(), json!(round_to(hits_sec, 2)));
    out.insert("Misses/sec".into(), json!(round_to(misses_sec, 2)));
    out.insert("Hits".into(), json!(hits));
    out.insert("Misses".into(), json!(misses));
    out.insert("Latency".into(), json!(round_to(average, 3)));
    out.insert("Average Latency".into(), json!(round_to(average, 3)));
    out.insert("Min Latency".into(), json!(round_to(min, 3)));
    out.insert("Max Latency".into(), json!(round_to(max, 3)));
    out.insert("KB/sec".into(), json!(round_to(row.kb_sec, 2)));
    let mut series = Map::new();
    for (second, counters) in &row.series {
        let h = &counters.latency_us;
        let mut point = Map::new();
        point.insert("Count".into(), json!(counters.ops));
        let (average, min, max) = if h.is_empty() {
            (0.0, 0.0, 0.0)
        } else {
            (
                h.mean() / US_PER_MS,
                latency_ms(h.min()),
                latency_ms(h.max()),
            )
        };
        point.insert("Average Latency".into(), json!(round_to(average, 2)));
        point.insert("Min Latency".into(), json!(round_to(min, 2)));
        point.insert("Max Latency".into(), json!(round_to(max, 2)));
        for &quantile in &config.percentiles {
            let value = if h.is_empty() {
                0.0
            } else {
                latency_ms(h.value_at_quantile(quantile / 100.0))
            };
            point.insert(format!("p{quantile:.2}"), json!(round_to(value, 2)));
        }
        series.insert(second.to_string(), Value::Object(point));
    }
    out.insert("Time-Serie".into(), Value::Object(series));
    let mut percentiles = Map::new();
    for &quantile in &config.percentiles {
        let value = if histogram.is_empty() {
            0.0
        } else {
            latency_ms(histogram.value_at_quantile(quantile / 100.0))
        };
        percentiles.insert(format!("p{quantile:.3}"), json!(round_to(value, 3)));
    }
    percentiles.insert(
        "Histogram log format".into(),
        json!({"Compressed Histogram": compressed_histogram(histogram)}),
    );
    out.insert("Percentile Latencies".into(), Value::Object(percentiles));
    Value::Object(out)
}

/// The histogram as HdrHistogram's compressed V2 encoding in base64, as
/// HistogramLogProcessor reads it.
pub fn compressed_histogram(histogram: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    match V2DeflateSerializer::new().serialize(histogram, &mut bytes) {
        Ok(_) => base64(&bytes),
        Err(_) => String::new(),
    }
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(ALPHABET[(n >> 18) as usize & 63] as char);
        out.push(ALPHABET[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            ALPHABET[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            ALPHABET[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

/// HdrHistogram's classic percentile table (hdr_percentiles_print), in ms.
pub fn percentiles_text(histogram: &Histogram<u64>) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    let mut cumulative = 0u64;
    for step in histogram.iter_quantiles(PERCENTILE_TICKS_PER_HALF_DISTANCE) {
        cumulative += step.count_since_last_iteration();
        let value = latency_ms(step.value_iterated_to());
        let quantile = step.quantile_iterated_to();
        if quantile < 1.0 {
            let _ = writeln!(
                out,
                "{:>12.3} {:.12} {:>10} {:>14.2}",
                value,
                quantile,
                cumulative,
                1.0 / (1.0 - quantile)
            );
        } else {
            let _ = writeln!(out, "{:>12.3} {:.12} {:>10}", value, quantile, cumulative);
        }
    }
    let sub_buckets = (2 * 10u64.pow(u32::from(histogram.sigfig()))).next_power_of_two();
    let _ = writeln!(
        out,
        "#[Mean    = {:>12.3}, StdDeviation   = {:>12.3}]",
        histogram.mean() / US_PER_MS,
        histogram.stdev() / US_PER_MS
    );
    let _ = writeln!(
        out,
        "#[Max     = {:>12.3}, Total count    = {:>12}]",
        latency_ms(histogram.max()),
        histogram.len()
    );
    let _ = writeln!(
        out,
        "#[Buckets = {:>12}, SubBuckets     = {:>12}]",
        histogram.buckets(),
        sub_buckets
    );
    out
}

/// An HdrHistogram interval log holding the whole run as one interval.
pub fn histogram_log(
    histogram: &Histogram<u64>,
    title: &str,
    start_ms: u64,
    duration_ms: u64,
) -> String {
    format!(
        "#[{title}]\n#[Histogram log format version 1.3]\n#[StartTime: {:.3} (seconds since epoch)]\n\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n{:.3},{:.3},{:.3},{}\n",
        start_ms as f64 / 1000.0,
        0.0,
        duration_ms as f64 / 1000.0,
        latency_ms(histogram.max()),
        compressed_histogram(histogram),
    )
}

/// Writes memtier's HDR files for one run: FULL_RUN, then one per command
/// type with operations. Returns the paths written, for the stderr notes.
pub fn write_hdr_files(
    prefix: &str,
    run_id: u32,
    config: &Config,
    summary: &Summary,
) -> io::Result<Vec<String>> {
    let mut written = Vec::new();
    let duration_ms = summary.end_ms.saturating_sub(summary.start_ms);
    let mut write_pair =
        |stem: String, title: String, histogram: &Histogram<u64>| -> io::Result<()> {
            if histogram.is_empty() {
                return Ok(());
            }
            let text_path = format!("{stem}.txt");
            std::fs::write(Path::new(&text_path), percentiles_text(histogram))?;
            let log_path = format!("{stem}.hgrm");
            std::fs::write(
                Path::new(&log_path),
                histogram_log(histogram, &title, summary.start_ms, duration_ms),
            )?;
            written.push(text_path);
            written.push(log_path);
            Ok(())
        };
    write_pair(
        format!("{prefix}_FULL_RUN_{run_id}"),
        "Full Run command HDR latency histogram results".into(),
        &summary.totals.latency_us,
    )?;
    let names = config.command_names();
    for (name, row) in names.iter().zip(&summary.rows) {
        write_pair(
            format!("{prefix}_{name}_command_run_{run_id}"),
            format!("{name} command HDR latency histogram results"),
            &row.latency_us,
        )?;
    }
    Ok(written)
}

/// The configuration printout of --show-config.
pub fn show_config(config: &Config) -> String {
    let mut out = String::new();
    if let Value::Object(map) = json_configuration(config) {
        for (key, value) in map {
            let text = match value {
                Value::String(text) => text,
                other => other.to_string(),
            };
            let _ = writeln!(out, "{key} = {text}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::stats::RunStats;

    fn config(args: &[&str]) -> Config {
        Config::parse_from(std::iter::once("petrel-bench").chain(args.iter().copied()))
            .expect("valid flags")
    }

    fn sample_summary() -> Summary {
        let mut stats = RunStats::new(3, SystemTime::UNIX_EPOCH);
        stats.record(0, 0, 1000, 100, None);
        stats.record(1, 0, 2000, 100, Some(true));
        stats.record(1, 0, 2000, 100, Some(false));
        stats.duration = Duration::from_secs(1);
        stats.summary()
    }

    #[test]
    fn percentile_labels_match_memtier() {
        assert_eq!(percentile_label(50.0), "p50");
        assert_eq!(percentile_label(99.9), "p99.9");
        assert_eq!(percentile_label(99.99), "p99.99");
    }

    #[test]
    fn table_has_memtiers_header_rows_and_widths() {
        let text = table(&config(&[]), "ALL STATS", &sample_summary());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[2], "ALL STATS");
        assert_eq!(lines[3].len(), 124, "= line spans the columns");
        assert_eq!(
            lines[4],
            "Type         Ops/sec     Hits/sec   Misses/sec    Avg. Latency     p50 Latency     p99 Latency   p99.9 Latency       KB/sec "
        );
        assert!(
            lines[6].starts_with("Sets            1.00          ---          ---         1.00000 "),
            "{}",
            lines[6]
        );
        assert!(
            lines[7].starts_with("Gets            2.00         1.00         1.00         2.00000 "),
            "{}",
            lines[7]
        );
        assert_eq!(
            lines[8],
            "Waits           0.00          ---          ---             ---             ---             ---             ---          --- "
        );
        assert!(
            lines[9].starts_with("Totals          3.00         1.00         1.00 "),
            "{}",
            lines[9]
        );
    }

    #[test]
    fn arbitrary_commands_have_their_own_rows_and_no_hit_columns() {
        let cfg = config(&["--command", "LPUSH l __data__"]);
        let text = table(&cfg, "ALL STATS", &sample_summary_for(1));
        assert!(
            text.contains("Type         Ops/sec    Avg. Latency"),
            "{text}"
        );
        assert!(text.contains("\nLpushs  "), "{text}");
    }

    fn sample_summary_for(rows: usize) -> Summary {
        let mut stats = RunStats::new(rows, SystemTime::UNIX_EPOCH);
        stats.record(0, 0, 500, 10, None);
        stats.duration = Duration::from_secs(1);
        stats.summary()
    }

    #[test]
    fn distribution_lists_each_type_and_separators() {
        let text = distribution(&config(&[]), &sample_summary());
        assert!(
            text.contains("Type     <= msec         Percent\n"),
            "{text}"
        );
        assert!(
            text.contains("SET       1.000       100.00\n---\nGET "),
            "{text}"
        );
        assert_eq!(
            text.lines().filter(|l| *l == "---").count(),
            2,
            "no separator after the WAIT section: {text}"
        );
    }

    #[test]
    fn json_results_carry_counts_rates_and_percentiles() {
        let cfg = config(&[]);
        let value = json_results(&cfg, &sample_summary(), &Errors::default());
        assert_eq!(value["Gets"]["Count"], json!(2));
        assert_eq!(value["Gets"]["Hits/sec"], json!(1.0));
        assert_eq!(value["Gets"]["Misses/sec"], json!(1.0));
        assert_eq!(
            (
                value["Gets"]["Hits"].clone(),
                value["Gets"]["Misses"].clone()
            ),
            (json!(1), json!(1))
        );
        assert_eq!(value["Sets"]["Average Latency"], json!(1.0));
        assert!(value["Totals"]["Percentile Latencies"]["p99.900"].is_number());
        assert!(value["Totals"]["Time-Serie"]["0"]["Count"] == json!(3));
        let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
        assert_eq!(&keys[..5], &["Runtime", "Sets", "Gets", "Waits", "Totals"]);
    }

    #[test]
    fn base64_matches_the_standard_alphabet() {
        assert_eq!(base64(b"Man"), "TWFu");
        assert_eq!(base64(b"Ma"), "TWE=");
        assert_eq!(base64(b"M"), "TQ==");
    }

    #[test]
    fn percentile_file_ends_with_hdr_footer() {
        let summary = sample_summary();
        let text = percentiles_text(&summary.totals.latency_us);
        assert!(
            text.starts_with("       Value     Percentile TotalCount 1/(1-Percentile)\n\n"),
            "{text}"
        );
        assert!(
            text.contains("#[Max     =        2.000, Total count    =            3]"),
            "{text}"
        );
        assert!(text.contains("SubBuckets     =         2048]"), "{text}");
    }

    #[test]
    fn error_summary_names_counts_and_first_messages() {
        let mut errors = Errors::default();
        assert!(error_summary(&errors).is_none());
        errors.record(ErrorKind::Connection, || {
            "connection to 127.0.0.1:1 failed: refused".into()
        });
        errors.record(ErrorKind::Connection, || "second".into());
        let text = error_summary(&errors).unwrap();
        assert!(
            text.contains("2 connection errors (first: connection to 127.0.0.1:1 failed: refused)"),
            "{text}"
        );
    }
}
