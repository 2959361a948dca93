//! Readings from /proc: resident memory and CPU time of a process.

use std::sync::OnceLock;

use anyhow::Context as _;

/// Clock ticks per second (`getconf CLK_TCK`), the unit of /proc/PID/stat.
fn clock_ticks() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// User + system CPU seconds used so far by all threads of `pid` (a number,
/// or `self`).
pub fn cpu_seconds(pid: &str) -> anyhow::Result<f64> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    parse_cpu_ticks(&text).map(|ticks| ticks / clock_ticks()).with_context(|| format!("cannot parse {path}"))
}

/// Bytes `pid` has handed to write calls so far (`wchar` in
/// /proc/PID/io): for a server on SQLite, mostly its WAL frames and
/// checkpoints (plus a little HTTP).
pub fn bytes_written(pid: &str) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/io");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    text.lines()
        .find_map(|line| line.strip_prefix("wchar:"))
        .and_then(|value| value.trim().parse().ok())
        .with_context(|| format!("no wchar in {path}"))
}

/// utime + stime (fields 14 and 15) from a /proc/PID/stat line. The command
/// name (field 2) may hold spaces and parentheses, so fields are counted from
/// the last `)`.
fn parse_cpu_ticks(stat: &str) -> Option<f64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // after_name starts at field 3 (state), so field N is index N - 3.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// CPU seconds used so far by each PostgreSQL backend serving database
/// `dbname` (processes whose command line reads `postgres: USER DBNAME …`),
/// by PID. Backends of other databases in the same cluster are left out.
pub fn postgres_backends_cpu(dbname: &str) -> std::collections::HashMap<u32, f64> {
    let mut out = std::collections::HashMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else { return out };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|name| name.parse::<u32>().ok()) else { continue };
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else { continue };
        let cmdline = String::from_utf8_lossy(&cmdline);
        let mut words = cmdline.trim_end_matches('\0').split_whitespace();
        if words.next() != Some("postgres:") || words.nth(1) != Some(dbname) {
            continue;
        }
        if let Ok(cpu) = cpu_seconds(&pid.to_string()) {
            out.insert(pid, cpu);
        }
    }
    out
}

/// CPU seconds the backends used between two `postgres_backends_cpu`
/// readings (a backend started in between counts from zero).
pub fn postgres_cpu_delta(
    before: &std::collections::HashMap<u32, f64>,
    after: &std::collections::HashMap<u32, f64>,
) -> f64 {
    after.iter().map(|(pid, cpu)| cpu - before.get(pid).copied().unwrap_or(0.0)).filter(|d| *d > 0.0).sum()
}

/// Busy CPU seconds of the whole machine so far (all CPUs: user, nice,
/// system, irq, softirq and steal from the `cpu` line of /proc/stat). The
/// difference over a run, minus what the measured processes used, is what
/// everything else on the machine took meanwhile.
pub fn machine_busy_seconds() -> anyhow::Result<f64> {
    let text = std::fs::read_to_string("/proc/stat").context("cannot read /proc/stat")?;
    parse_busy_ticks(&text).map(|ticks| ticks / clock_ticks()).context("cannot parse /proc/stat")
}

fn parse_busy_ticks(stat: &str) -> Option<f64> {
    let line = stat.lines().find(|line| line.starts_with("cpu "))?;
    let fields: Vec<f64> = line.split_whitespace().skip(1).map(|f| f.parse().ok()).collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal [guest guest_nice]
    // (guest time is already counted in user).
    let get = |i: usize| fields.get(i).copied().unwrap_or(0.0);
    Some(get(0) + get(1) + get(2) + get(5) + get(6) + get(7))
}

/// Memory of a process from /proc/PID/status.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    /// VmRSS in bytes.
    pub rss: u64,
    /// VmHWM (peak RSS) in bytes.
    pub hwm: u64,
    /// Threads.
    pub threads: u64,
}

/// Reads VmRSS, VmHWM and Threads of `pid`.
pub fn memory(pid: &str) -> anyhow::Result<Memory> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    let field = |key: &str| -> anyhow::Result<u64> {
        let line = text
            .lines()
            .find_map(|line| line.strip_prefix(key).and_then(|rest| rest.strip_prefix(':')))
            .with_context(|| format!("{path} has no {key}"))?;
        let number = line.split_whitespace().next().unwrap_or_default();
        number.parse::<u64>().with_context(|| format!("{path}: bad {key}"))
    };
    Ok(Memory { rss: field("VmRSS")? * 1024, hwm: field("VmHWM")? * 1024, threads: field("Threads")? })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_odd_name() {
        let line = "123 (a b) c)) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 1 0";
        assert_eq!(parse_cpu_ticks(line), Some(300.0));
    }

    #[test]
    fn machine_busy() {
        let stat = "cpu  100 5 50 1000 7 3 2 1 0 0\ncpu0 50 2 25 500 3 1 1 0 0 0\n";
        assert_eq!(parse_busy_ticks(stat), Some(161.0));
        assert!(machine_busy_seconds().unwrap() > 0.0);
    }

    #[test]
    fn own_process() {
        assert!(cpu_seconds("self").unwrap() >= 0.0);
        let mem = memory("self").unwrap();
        assert!(mem.rss > 0 && mem.hwm >= mem.rss && mem.threads >= 1);
    }
}
