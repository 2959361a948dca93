//! Mutual rooms (`GET /_matrix/client/v1/mutual_rooms`, spec v1.19):
//! rooms the requester and another user are both joined to, by room id,
//! in batches. A `next_batch` token names the last room id returned, so it
//! stays valid as long as anyone cares to use it.

use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::service::Services;
use crate::service::tokens::Requester;

/// Rooms per batch.
const BATCH: i64 = 100;

fn parse_from(token: &str) -> Result<&str> {
    token
        .strip_prefix('m')
        .filter(|room| room.starts_with('!'))
        .ok_or_else(|| Error::invalid_param(format!("Invalid pagination token {token:?}")))
}

impl Services {
    /// `GET /mutual_rooms?user_id=…&from=…`.
    pub async fn mutual_rooms(&self, requester: &Requester, user_id: &str, from: Option<&str>) -> Result<Value> {
        ruma::UserId::parse(user_id).map_err(|_| Error::invalid_param(format!("Invalid user id {user_id:?}")))?;
        if user_id == requester.user_id {
            return Err(Error::invalid_param("You cannot ask for rooms shared with yourself"));
        }
        let after = from.map(parse_from).transpose()?;
        let mut joined = self.storage.mutual_rooms(&requester.user_id, user_id, after, BATCH + 1).await?;
        let more = joined.len() > usize::try_from(BATCH).unwrap_or(100);
        joined.truncate(usize::try_from(BATCH).unwrap_or(100));
        let count = self.storage.count_mutual_rooms(&requester.user_id, user_id).await?;
        let mut body = json!({"joined": joined, "count": count});
        if more && let Some(last) = joined.last() {
            body["next_batch"] = json!(format!("m{last}"));
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::parse_from;

    #[test]
    fn tokens() {
        assert_eq!(parse_from("m!abc:x").unwrap(), "!abc:x");
        assert!(parse_from("!abc:x").is_err());
        assert!(parse_from("mxyz").is_err());
    }
}
