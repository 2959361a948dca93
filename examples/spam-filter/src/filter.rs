//! The matching itself, kept free of host calls so it is unit-tested
//! natively.

use serde::Deserialize;

/// The `config:` section.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    /// Words or phrases refused anywhere in a text, case-insensitively.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Glob patterns (`*`, `?`) a whole text may not match, case-insensitively.
    #[serde(default)]
    pub patterns: Vec<String>,
    /// Users the filter never checks (e.g. moderators' bots).
    #[serde(default)]
    pub exempt_users: Vec<String>,
    /// The error message senders see.
    #[serde(default = "default_message")]
    pub message: String,
}

fn default_message() -> String {
    "This message was refused by the server's spam filter".into()
}

/// A compiled filter.
pub struct Filter {
    keywords: Vec<String>,
    patterns: Vec<String>,
    exempt_users: Vec<String>,
    message: String,
}

impl Filter {
    /// Validates and normalises the config.
    pub fn new(config: FilterConfig) -> Result<Self, String> {
        if config.keywords.iter().chain(&config.patterns).any(|rule| rule.trim().is_empty()) {
            return Err("keywords and patterns may not be empty".into());
        }
        Ok(Self {
            keywords: config.keywords.iter().map(|k| k.to_lowercase()).collect(),
            patterns: config.patterns.iter().map(|p| p.to_lowercase()).collect(),
            exempt_users: config.exempt_users,
            message: config.message,
        })
    }

    /// How many rules there are.
    pub fn rule_count(&self) -> usize {
        self.keywords.len() + self.patterns.len()
    }

    /// Whether `user_id` is never checked.
    pub fn is_exempt(&self, user_id: &str) -> bool {
        self.exempt_users.iter().any(|user| user == user_id)
    }

    /// The first rule `text` breaks.
    pub fn find_match(&self, text: &str) -> Option<&str> {
        let text = text.to_lowercase();
        self.keywords
            .iter()
            .find(|keyword| text.contains(keyword.as_str()))
            .or_else(|| self.patterns.iter().find(|pattern| trellis_sdk::ids::glob_match(pattern, &text)))
            .map(String::as_str)
    }

    /// The message senders see.
    pub fn message(&self) -> &str {
        &self.message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(keywords: &[&str], patterns: &[&str]) -> Filter {
        Filter::new(FilterConfig {
            keywords: keywords.iter().map(|k| (*k).to_owned()).collect(),
            patterns: patterns.iter().map(|p| (*p).to_owned()).collect(),
            exempt_users: vec!["@mod:x".into()],
            message: default_message(),
        })
        .unwrap()
    }

    #[test]
    fn keywords_match_anywhere_ignoring_case() {
        let filter = filter(&["buy now"], &[]);
        assert_eq!(filter.find_match("Please BUY NOW!"), Some("buy now"));
        assert_eq!(filter.find_match("buy later"), None);
    }

    #[test]
    fn patterns_match_whole_texts() {
        let filter = filter(&[], &["*http*://*.ru/*"]);
        assert!(filter.find_match("see https://cheap.ru/x").is_some());
        assert!(filter.find_match("see https://example.org/x").is_none());
    }

    #[test]
    fn empty_rules_are_refused_and_exemptions_apply() {
        assert!(
            Filter::new(FilterConfig {
                keywords: vec![" ".into()],
                patterns: vec![],
                exempt_users: vec![],
                message: String::new()
            })
            .is_err()
        );
        assert!(filter(&["x"], &[]).is_exempt("@mod:x"));
    }
}
