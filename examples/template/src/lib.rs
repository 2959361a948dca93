//! A plugin template: copy this folder, rename the package in Cargo.toml,
//! and fill in the roles you need. See docs/modules/getting_started.md.

use serde::Deserialize;
use trellis_sdk::{Event, MatrixError, Plugin, SpamChecker, Verdict};

/// The plugin's `config:` section in homeserver.yaml.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Messages containing this text are refused.
    #[serde(default = "default_forbidden_word")]
    forbidden_word: String,
}

fn default_forbidden_word() -> String {
    "forbidden".into()
}

struct Template;

impl Plugin for Template {
    /// Checks the config once at load, so mistakes show up at start-up.
    fn on_load() -> Result<(), String> {
        trellis_sdk::config::get::<Config>().map(|_| ())
    }
}

impl SpamChecker for Template {
    fn check_event_for_spam(event: &Event) -> Verdict {
        let Ok(config) = trellis_sdk::config::get::<Config>() else { return Verdict::Allow };
        match event.body() {
            Some(body) if body.contains(&config.forbidden_word) => {
                Verdict::Deny(MatrixError::forbidden(format!("messages may not contain \"{}\"", config.forbidden_word)))
            }
            _ => Verdict::Allow,
        }
    }
}

trellis_sdk::plugin!(Template, roles: [SpamChecker]);
