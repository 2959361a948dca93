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
    fn own_process() {
        assert!(cpu_seconds("self").unwrap() >= 0.0);
        let mem = memory("self").unwrap();
        assert!(mem.rss > 0 && mem.hwm >= mem.rss && mem.threads >= 1);
    }
}
