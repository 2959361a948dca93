//! Small helpers for Matrix identifiers.

/// The localpart of `@alice:example.org` (`alice`).
pub fn localpart(user_id: &str) -> Option<&str> {
    user_id.strip_prefix('@')?.split_once(':').map(|(localpart, _)| localpart)
}

/// The server name of a user id, room alias or room id. Room ids of room
/// version 12 (the default) have no server part (`!cOSFMrQb…`): `None`.
pub fn server_name(id: &str) -> Option<&str> {
    id.get(1..)?.split_once(':').map(|(_, server)| server)
}

/// Whether `user_id` belongs to this server.
pub fn is_local(user_id: &str, server_name_of_this_server: &str) -> bool {
    server_name(user_id) == Some(server_name_of_this_server)
}

/// Matches `text` against a glob with `*` (any run) and `?` (one character),
/// as Matrix uses in server ACLs and push rules.
pub fn glob_match(glob: &str, text: &str) -> bool {
    let (glob, text): (Vec<char>, Vec<char>) = (glob.chars().collect(), text.chars().collect());
    let (mut g, mut t) = (0, 0);
    let (mut star, mut star_text) = (None, 0);
    while t < text.len() {
        if g < glob.len() && (glob[g] == '?' || glob[g] == text[t]) {
            g += 1;
            t += 1;
        } else if g < glob.len() && glob[g] == '*' {
            star = Some(g);
            star_text = t;
            g += 1;
        } else if let Some(star_at) = star {
            g = star_at + 1;
            star_text += 1;
            t = star_text;
        } else {
            return false;
        }
    }
    glob[g..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_globs() {
        assert_eq!(localpart("@alice:example.org"), Some("alice"));
        assert_eq!(server_name("@alice:example.org:8448"), Some("example.org:8448"));
        assert_eq!(server_name("!room:x"), Some("x"));
        assert_eq!(server_name("!cOSFMrQbhQqi7vSqyUsLf8ziPXHYBRW5wSz5JFA0X2Q"), None);
        assert!(is_local("@a:x", "x") && !is_local("@a:y", "x"));
        assert!(glob_match("*.evil.com", "spam.evil.com"));
        assert!(glob_match("@bad?:x", "@bad1:x"));
        assert!(!glob_match("@bad?:x", "@bad12:x"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("evil.com", "notevil.com"));
    }
}
