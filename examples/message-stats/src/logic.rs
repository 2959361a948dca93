//! The plugin's decisions as plain functions over SDK types. Nothing here
//! calls the host, so `cargo test` exercises all of it natively.

use serde::Deserialize;
use trellis_sdk::{Event, MatrixError, Request, Response, Verdict, json};

/// The event type this plugin limits and counts.
pub const MESSAGE_TYPE: &str = "m.room.message";

/// The default of `max_length`.
pub const DEFAULT_MAX_LENGTH: u64 = 2000;

/// The plugin's `config:` section in homeserver.yaml.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The longest message body accepted, in characters (Unicode scalar
    /// values, i.e. Rust `char`s).
    #[serde(default = "default_max_length")]
    pub max_length: u64,
}

fn default_max_length() -> u64 {
    DEFAULT_MAX_LENGTH
}

impl Default for Config {
    fn default() -> Self {
        Config { max_length: DEFAULT_MAX_LENGTH }
    }
}

impl Config {
    /// Checks values serde cannot: `max_length: 0` would refuse every
    /// message with a body, which is never what an admin means.
    pub fn validate(self) -> Result<Self, String> {
        if self.max_length == 0 {
            return Err("invalid config: `max_length` must be at least 1 (0 would refuse every message); \
                        leave it out to use the default of 2000"
                .to_owned());
        }
        Ok(self)
    }

    /// Parses and validates a config given as JSON text (what the host hands
    /// the plugin); used by the tests, the plugin goes through
    /// `trellis_sdk::config::get`.
    #[cfg(test)]
    pub fn from_json(text: &str) -> Result<Self, String> {
        serde_json::from_str::<Config>(text).map_err(|e| format!("invalid config: {e}"))?.validate()
    }
}

/// The length limit applied to a message body: characters, not bytes.
pub fn body_length(body: &str) -> usize {
    body.chars().count()
}

fn too_long(length: usize, config: &Config) -> bool {
    u64::try_from(length).map_or(true, |length| length > config.max_length)
}

/// The spam check: refuse an `m.room.message` whose `body` (or, for an edit,
/// the `body` of its `m.new_content`) is longer than `max_length`.
pub fn check_message(event: &Event, config: &Config) -> Verdict {
    if event.event_type != MESSAGE_TYPE {
        return Verdict::Allow;
    }
    let edited_body = event.content.get("m.new_content").and_then(|c| c.get("body")).and_then(|b| b.as_str());
    let longest = [event.body(), edited_body].into_iter().flatten().map(body_length).max();
    match longest {
        Some(length) if too_long(length, config) => Verdict::Deny(MatrixError::forbidden(format!(
            "Your message is {length} characters long; this server accepts messages of at most {} characters. \
             Please split it into shorter messages.",
            config.max_length
        ))),
        _ => Verdict::Allow,
    }
}

/// Whether a stored event counts as an accepted message.
pub fn is_counted(event: &Event) -> bool {
    event.event_type == MESSAGE_TYPE
}

/// The key-value store key holding a room's message count.
pub fn count_key(room_id: &str) -> String {
    format!("count/{room_id}")
}

/// What an HTTP request to the plugin asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET /stats?room_id=…` from an authenticated user.
    Stats {
        /// The room asked about.
        room_id: String,
    },
    /// Answer this error.
    Error(MatrixError),
}

/// Routes a request below `/_trellis/plugins/<name>/`. `None` means "not
/// ours" (the server answers 404 `M_UNRECOGNIZED`).
pub fn route(request: &Request) -> Option<Route> {
    if request.segments() != ["stats"] {
        return None;
    }
    if request.method != "GET" {
        return Some(Route::Error(MatrixError::new(405, "M_UNRECOGNIZED", "Only GET is supported on /stats")));
    }
    if let Err(error) = request.require_user() {
        return Some(Route::Error(error));
    }
    let room_id = match request.query_param("room_id") {
        Some(room_id) if !room_id.is_empty() => room_id,
        _ => {
            return Some(Route::Error(MatrixError::new(
                400,
                "M_MISSING_PARAM",
                "Missing query parameter `room_id`, e.g. /stats?room_id=!abc:example.org",
            )));
        }
    };
    // Room ids start with `!`. Do not require `:server`: room version 12
    // room ids (which this server creates) have no server part.
    if !room_id.starts_with('!') || room_id.len() < 2 {
        return Some(Route::Error(MatrixError::invalid_param(format!(
            "`room_id` must be a room id starting with `!`, not `{room_id}`"
        ))));
    }
    Some(Route::Stats { room_id })
}

/// The answer to a stats request.
pub fn stats_response(room_id: &str, messages: u64) -> Response {
    Response::json(200, &json!({"room_id": room_id, "messages": messages}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use trellis_sdk::Value;

    fn event(event_type: &str, content: Value) -> Event {
        Event {
            event_id: String::new(),
            room_id: "!room:example.org".into(),
            sender: "@alice:example.org".into(),
            event_type: event_type.into(),
            state_key: None,
            content,
            origin_server_ts: 0,
            unsigned: json!({}),
        }
    }

    fn message(body: &str) -> Event {
        event(MESSAGE_TYPE, json!({"msgtype": "m.text", "body": body}))
    }

    fn request(method: &str, path: &str, query: &str, user: Option<&str>) -> Request {
        Request {
            method: method.into(),
            path: path.into(),
            query: query.into(),
            headers: vec![],
            body: vec![],
            user_id: user.map(Into::into),
            device_id: user.map(|_| "DEVICE".into()),
        }
    }

    fn small() -> Config {
        Config { max_length: 5 }
    }

    #[test]
    fn config_defaults_to_2000() {
        assert_eq!(Config::from_json("{}"), Ok(Config { max_length: 2000 }));
        assert_eq!(Config::default().max_length, 2000);
    }

    #[test]
    fn config_reads_max_length() {
        assert_eq!(Config::from_json(r#"{"max_length": 10}"#), Ok(Config { max_length: 10 }));
    }

    #[test]
    fn config_refuses_zero() {
        let error = Config::from_json(r#"{"max_length": 0}"#).unwrap_err();
        assert!(error.contains("max_length") && error.contains("at least 1"), "{error}");
    }

    #[test]
    fn config_refuses_bad_values_and_typos() {
        for bad in
            [r#"{"max_length": -1}"#, r#"{"max_length": "10"}"#, r#"{"max_length": 1.5}"#, r#"{"max_lenght": 10}"#]
        {
            let error = Config::from_json(bad).unwrap_err();
            assert!(error.starts_with("invalid config:"), "{bad}: {error}");
        }
    }

    #[test]
    fn allows_messages_up_to_the_limit() {
        assert_eq!(check_message(&message(""), &small()), Verdict::Allow);
        assert_eq!(check_message(&message("hello"), &small()), Verdict::Allow);
    }

    #[test]
    fn refuses_longer_messages_with_403() {
        let Verdict::Deny(error) = check_message(&message("hello!"), &small()) else { panic!("not denied") };
        assert_eq!((error.status, error.errcode.as_str()), (403, "M_FORBIDDEN"));
        assert!(error.message.contains("6 characters") && error.message.contains("at most 5"), "{}", error.message);
    }

    #[test]
    fn counts_characters_not_bytes() {
        // Five characters, fifteen bytes.
        assert_eq!(body_length("ééééé"), 5);
        assert_eq!(check_message(&message("日本語です"), &small()), Verdict::Allow);
        assert!(matches!(check_message(&message("日本語ですね"), &small()), Verdict::Deny(_)));
    }

    #[test]
    fn checks_the_new_content_of_edits() {
        let edit = event(
            MESSAGE_TYPE,
            json!({"msgtype": "m.text", "body": "* hi",
                   "m.new_content": {"msgtype": "m.text", "body": "much too long"},
                   "m.relates_to": {"rel_type": "m.replace", "event_id": "$x"}}),
        );
        assert!(matches!(check_message(&edit, &small()), Verdict::Deny(_)));
    }

    #[test]
    fn ignores_other_events_and_bodiless_messages() {
        let long = "x".repeat(100);
        assert_eq!(check_message(&event("m.room.topic", json!({"topic": long})), &small()), Verdict::Allow);
        assert_eq!(check_message(&event("m.reaction", json!({"body": long})), &small()), Verdict::Allow);
        assert_eq!(check_message(&event(MESSAGE_TYPE, json!({})), &small()), Verdict::Allow);
        assert_eq!(check_message(&event(MESSAGE_TYPE, json!({"body": 12345678})), &small()), Verdict::Allow);
    }

    #[test]
    fn counts_only_messages() {
        assert!(is_counted(&message("hi")));
        assert!(!is_counted(&event("m.room.member", json!({"membership": "join"}))));
        assert!(!is_counted(&event("m.room.redaction", json!({}))));
    }

    #[test]
    fn counter_keys() {
        assert_eq!(count_key("!a:example.org"), "count/!a:example.org");
    }

    #[test]
    fn stats_route() {
        let req = request("GET", "/stats", "room_id=%21abc%3Aexample.org", Some("@alice:example.org"));
        assert_eq!(route(&req), Some(Route::Stats { room_id: "!abc:example.org".into() }));
        // Unencoded works too, and a trailing slash.
        let req = request("GET", "/stats/", "room_id=!abc:example.org", Some("@alice:example.org"));
        assert_eq!(route(&req), Some(Route::Stats { room_id: "!abc:example.org".into() }));
    }

    fn error_of(route: Option<Route>) -> (u16, String) {
        match route {
            Some(Route::Error(error)) => (error.status, error.errcode),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn stats_route_accepts_room_v12_ids() {
        // Room version 12 room ids have no `:server` part.
        let req = request("GET", "/stats", "room_id=%21cOSFMrQbhQqi7vSq", Some("@a:x"));
        let expected = Route::Stats { room_id: "!cOSFMrQbhQqi7vSq".into() };
        assert_eq!(route(&req), Some(expected));
    }

    #[test]
    fn stats_requires_a_token() {
        let req = request("GET", "/stats", "room_id=!abc:example.org", None);
        assert_eq!(error_of(route(&req)), (401, "M_MISSING_TOKEN".into()));
    }

    #[test]
    fn stats_requires_room_id() {
        for query in ["", "room_id=", "other=1"] {
            let req = request("GET", "/stats", query, Some("@alice:example.org"));
            assert_eq!(error_of(route(&req)), (400, "M_MISSING_PARAM".into()), "query {query:?}");
        }
        for bad in ["lobby", "%23lobby:example.org", "!"] {
            let req = request("GET", "/stats", &format!("room_id={bad}"), Some("@alice:example.org"));
            assert_eq!(error_of(route(&req)), (400, "M_INVALID_PARAM".into()), "room_id {bad:?}");
        }
    }

    #[test]
    fn other_paths_and_methods() {
        assert_eq!(route(&request("GET", "/", "", Some("@a:x"))), None);
        assert_eq!(route(&request("GET", "/stats/more", "", Some("@a:x"))), None);
        assert_eq!(
            error_of(route(&request("POST", "/stats", "room_id=!a:x", Some("@a:x")))),
            (405, "M_UNRECOGNIZED".into())
        );
    }

    #[test]
    fn stats_response_shape() {
        let response = stats_response("!abc:example.org", 7);
        assert_eq!(response.status, 200);
        assert_eq!(response.body_json().unwrap(), json!({"room_id": "!abc:example.org", "messages": 7}));
    }
}
