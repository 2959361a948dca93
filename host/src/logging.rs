//! Log set-up: `tracing` to stderr with the filter from the config.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Safe to call more than once (later
/// calls do nothing), which in-process tests rely on.
pub fn init(filter: &str) {
    let filter = parse(filter);
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// ruma instruments hot inner functions (push-rule evaluation, JSON
/// flattening) with INFO-level spans; at the default level they cost more
/// than the work itself. They stay quiet unless the filter names ruma.
const QUIET_LIBRARIES: &str = ",ruma_common=warn,ruma_events=warn,ruma_state_res=warn,ruma_signatures=warn";

fn parse(filter: &str) -> EnvFilter {
    let filter = if filter.contains("ruma") { filter.to_owned() } else { format!("{filter}{QUIET_LIBRARIES}") };
    EnvFilter::try_new(&filter).unwrap_or_else(|err| {
        eprintln!("invalid log filter {filter:?} ({err}); using info");
        EnvFilter::new("info")
    })
}
