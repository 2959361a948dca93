//! The user directory: `POST /user_directory/search`.
//!
//! A user is visible to the searcher when they share a room (both joined),
//! or when they are joined to a room whose join rule is `public` or whose
//! history is `world_readable` (the minimum the spec requires). Deactivated
//! users are never listed. Every word of the search term must occur,
//! case-insensitively, in the user id or the display name of the user's
//! profile; matches where a word starts a word of the name rank higher,
//! exact matches highest, then users with a display name and avatar.

use serde_json::{Value, json};
use trellis_storage::search::{DirectoryUser, words};

use crate::error::{Error, Result};
use crate::service::Services;
use crate::service::tokens::Requester;

/// Results when the client does not say.
const DEFAULT_LIMIT: i64 = 10;
/// Most results per request.
const MAX_LIMIT: i64 = 100;
/// Most candidates the database hands over for ranking.
const CANDIDATE_CAP: i64 = 2000;

/// How well a user matches: higher is better.
fn rank(user: &DirectoryUser, term_words: &[String], whole_term: &str) -> Option<u8> {
    let id = user.user_id.to_lowercase();
    let name = user.displayname.as_deref().unwrap_or_default().to_lowercase();
    if !term_words.iter().all(|w| id.contains(w.as_str()) || name.contains(w.as_str())) {
        return None;
    }
    let localpart = id.trim_start_matches('@').split(':').next().unwrap_or_default();
    if name == whole_term || localpart == whole_term || id == whole_term {
        return Some(3);
    }
    let name_words: Vec<String> = words(&id).into_iter().chain(words(&name)).collect();
    if term_words.iter().all(|w| name_words.iter().any(|n| n.starts_with(w.as_str()))) {
        return Some(2);
    }
    Some(1)
}

impl Services {
    /// `POST /user_directory/search`.
    pub async fn search_user_directory(&self, requester: &Requester, term: &str, limit: Option<i64>) -> Result<Value> {
        let limit = match limit {
            None => DEFAULT_LIMIT,
            Some(n) if n < 0 => return Err(Error::invalid_param("limit must not be negative")),
            Some(n) => n.min(MAX_LIMIT),
        };
        let term_words = words(term);
        if term_words.is_empty() || limit == 0 {
            return Ok(json!({"results": [], "limited": false}));
        }
        // The database compares ASCII case-insensitively on both backends;
        // other words are checked here with full Unicode case folding.
        let ascii: Vec<String> = term_words.iter().filter(|w| w.is_ascii()).cloned().collect();
        let candidates = self.storage.user_directory_candidates(&requester.user_id, &ascii, CANDIDATE_CAP).await?;
        let whole_term = term.trim().trim_start_matches('@').to_lowercase();
        let mut ranked: Vec<(u8, DirectoryUser)> =
            candidates.into_iter().filter_map(|u| rank(&u, &term_words, &whole_term).map(|r| (r, u))).collect();
        ranked.sort_by(|(ra, a), (rb, b)| {
            let profile = |u: &DirectoryUser| u8::from(u.displayname.is_some()) + u8::from(u.avatar_url.is_some());
            rb.cmp(ra).then_with(|| profile(b).cmp(&profile(a))).then_with(|| a.user_id.cmp(&b.user_id))
        });
        if self.plugins.checks_usernames() {
            // Plugins may hide users from the directory (Synapse's
            // check_username_for_spam): ask about the best candidates only.
            let mut kept = Vec::with_capacity(ranked.len());
            for (rank, user) in ranked.into_iter().take(usize::try_from(limit).unwrap_or(10) + 1) {
                if self.plugins.check_username_for_spam(&user.user_id, user.displayname.as_deref()).await.is_ok() {
                    kept.push((rank, user));
                }
            }
            ranked = kept;
        }
        let limit = usize::try_from(limit).unwrap_or(10);
        let limited = ranked.len() > limit;
        let results: Vec<Value> = ranked
            .into_iter()
            .take(limit)
            .map(|(_, u)| {
                let mut entry = json!({"user_id": u.user_id});
                if let Some(name) = u.displayname {
                    entry["display_name"] = json!(name);
                }
                if let Some(url) = u.avatar_url {
                    entry["avatar_url"] = json!(url);
                }
                entry
            })
            .collect();
        Ok(json!({"results": results, "limited": limited}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, name: Option<&str>) -> DirectoryUser {
        DirectoryUser { user_id: id.into(), displayname: name.map(Into::into), avatar_url: None }
    }

    #[test]
    fn ranking() {
        let words = |t: &str| trellis_storage::search::words(t);
        let alice = user("@alice:example.org", Some("Alice Liddell"));
        assert_eq!(rank(&alice, &words("alice"), "alice"), Some(3));
        assert_eq!(rank(&alice, &words("lid"), "lid"), Some(2));
        assert_eq!(rank(&alice, &words("ddell"), "ddell"), Some(1));
        assert_eq!(rank(&alice, &words("bob"), "bob"), None);
        let zoe = user("@zoe:example.org", Some("ZOË"));
        assert_eq!(rank(&zoe, &words("zoë"), "zoë"), Some(3));
    }
}
