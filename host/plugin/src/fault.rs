//! What went wrong inside a plugin call, and what the caller does about it.

use serde::Deserialize;

/// What a decision callback's fault means for the request being decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FailurePolicy {
    /// Refuse the request: the safe default for spam checks.
    #[default]
    FailClosed,
    /// Carry on as if the plugin had allowed it.
    FailOpen,
}

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The guest ran past its deadline.
    Timeout,
    /// The guest needed more memory than its limit.
    OutOfMemory,
    /// Any other trap, including a Rust panic (its message is in the log).
    Trap(String),
    /// The plugin is disabled after repeated faults.
    Disabled,
    /// The guest returned something the host cannot use (e.g. invalid JSON).
    BadOutput(String),
}

impl Fault {
    /// The label used in metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Timeout => "timeout",
            Fault::OutOfMemory => "out_of_memory",
            Fault::Trap(_) => "trap",
            Fault::Disabled => "disabled",
            Fault::BadOutput(_) => "bad_output",
        }
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fault::Timeout => write!(f, "stopped at its deadline"),
            Fault::OutOfMemory => write!(f, "ran out of memory"),
            Fault::Trap(message) => write!(f, "trapped: {message}"),
            Fault::Disabled => write!(f, "disabled after repeated faults"),
            Fault::BadOutput(message) => write!(f, "returned bad output: {message}"),
        }
    }
}
