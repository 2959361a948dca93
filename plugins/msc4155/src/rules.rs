//! The MSC4155 rules and their precedence, free of host calls.
//!
//! Precedence follows Synapse (the reference implementation): user rules
//! before server rules, and within each allow, then ignore, then block; the
//! first match wins and no match allows. The MSC's own wording ("any allow
//! first") differs for a user blocked on an allowed server: Synapse, and so
//! this plugin, blocks that user.

use serde_json::Value;
use trellis_sdk::ids::glob_match;

/// What to do with an invite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Deliver it.
    Allow,
    /// Accept it but hide it from the invitee.
    Ignore,
    /// Refuse it.
    Block,
}

/// One user's rules, with globs lower-cased (matching ignores case).
#[derive(Debug, Default)]
pub struct InviteRules {
    allowed_users: Vec<String>,
    ignored_users: Vec<String>,
    blocked_users: Vec<String>,
    allowed_servers: Vec<String>,
    ignored_servers: Vec<String>,
    blocked_servers: Vec<String>,
}

/// The globs of one key; like Synapse, malformed entries are skipped.
fn globs(content: &Value, key: &str) -> Vec<String> {
    content
        .get(key)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .filter(|glob| !glob.is_empty() && glob.len() <= 255)
                .map(str::to_lowercase)
                .collect()
        })
        .unwrap_or_default()
}

impl InviteRules {
    /// Reads the account data content leniently.
    pub fn from_content(content: &Value) -> Self {
        Self {
            allowed_users: globs(content, "allowed_users"),
            ignored_users: globs(content, "ignored_users"),
            blocked_users: globs(content, "blocked_users"),
            allowed_servers: globs(content, "allowed_servers"),
            ignored_servers: globs(content, "ignored_servers"),
            blocked_servers: globs(content, "blocked_servers"),
        }
    }

    /// The action for an inviter.
    pub fn action_for(&self, inviter: &str) -> Action {
        let user = inviter.to_lowercase();
        let server = trellis_sdk::ids::server_name(&user).unwrap_or_default().to_owned();
        let matches = |globs: &[String], text: &str| globs.iter().any(|glob| glob_match(glob, text));
        let ordered: [(&[String], &str, Action); 6] = [
            (&self.allowed_users, &user, Action::Allow),
            (&self.ignored_users, &user, Action::Ignore),
            (&self.blocked_users, &user, Action::Block),
            (&self.allowed_servers, &server, Action::Allow),
            (&self.ignored_servers, &server, Action::Ignore),
            (&self.blocked_servers, &server, Action::Block),
        ];
        ordered.into_iter().find(|(globs, text, _)| matches(globs, text)).map_or(Action::Allow, |(_, _, action)| action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn user_rules_come_before_server_rules() {
        let rules = InviteRules::from_content(&json!({
            "blocked_users": ["@spammer:good.org"],
            "allowed_servers": ["good.org"],
            "ignored_servers": ["*.meh.net"],
            "blocked_servers": ["*"],
            "allowed_users": ["@friend:*"],
        }));
        assert_eq!(rules.action_for("@spammer:good.org"), Action::Block);
        assert_eq!(rules.action_for("@someone:good.org"), Action::Allow);
        assert_eq!(rules.action_for("@x:a.meh.net"), Action::Ignore);
        assert_eq!(rules.action_for("@x:elsewhere.com"), Action::Block);
        assert_eq!(rules.action_for("@Friend:elsewhere.com"), Action::Allow);
    }

    #[test]
    fn malformed_content_allows() {
        let rules = InviteRules::from_content(&json!({"blocked_users": "@a:b", "ignored_users": [1, ""]}));
        assert_eq!(rules.action_for("@a:b"), Action::Allow);
        assert_eq!(InviteRules::default().action_for("@a:b"), Action::Allow);
    }
}
