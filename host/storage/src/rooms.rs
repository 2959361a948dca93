//! The `rooms` and `room_aliases` tables.

use sqlx::Row;

use crate::{Connection, Storage, StorageResult, now_ms};

/// A room this server knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomRow {
    /// Room id.
    pub room_id: String,
    /// Room version id.
    pub room_version: String,
    /// Who created it.
    pub creator: String,
    /// Listed in the public room directory.
    pub is_public: bool,
}

/// Records a new room.
pub async fn insert(conn: &mut Connection, room_id: &str, room_version: &str, creator: &str) -> StorageResult<()> {
    sqlx::query("INSERT INTO rooms (room_id, room_version, creator, created_ts) VALUES ($1, $2, $3, $4)")
        .bind(room_id)
        .bind(room_version)
        .bind(creator)
        .bind(now_ms())
        .execute(conn)
        .await?;
    Ok(())
}

/// Lists or unlists a room in the directory.
pub async fn set_public(conn: &mut Connection, room_id: &str, public: bool) -> StorageResult<()> {
    sqlx::query("UPDATE rooms SET is_public = $1 WHERE room_id = $2")
        .bind(i64::from(public))
        .bind(room_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Creates an alias; a unique violation means it is taken.
pub async fn insert_alias(conn: &mut Connection, alias: &str, room_id: &str, creator: &str) -> StorageResult<()> {
    sqlx::query("INSERT INTO room_aliases (alias, room_id, creator, created_ts) VALUES ($1, $2, $3, $4)")
        .bind(alias)
        .bind(room_id)
        .bind(creator)
        .bind(now_ms())
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes an alias. Returns false if it did not exist.
pub async fn delete_alias(conn: &mut Connection, alias: &str) -> StorageResult<bool> {
    let done = sqlx::query("DELETE FROM room_aliases WHERE alias = $1").bind(alias).execute(conn).await?;
    Ok(done.rows_affected() == 1)
}

impl Storage {
    /// One room.
    pub async fn room(&self, room_id: &str) -> StorageResult<Option<RoomRow>> {
        let row = sqlx::query("SELECT room_id, room_version, creator, is_public FROM rooms WHERE room_id = $1")
            .bind(room_id)
            .fetch_optional(&self.read)
            .await?;
        row.map(|row| {
            Ok(RoomRow {
                room_id: row.try_get(0)?,
                room_version: row.try_get(1)?,
                creator: row.try_get(2)?,
                is_public: row.try_get::<i64, _>(3)? != 0,
            })
        })
        .transpose()
    }

    /// The room an alias points to, and who created the alias.
    pub async fn alias(&self, alias: &str) -> StorageResult<Option<(String, String)>> {
        let row = sqlx::query("SELECT room_id, creator FROM room_aliases WHERE alias = $1")
            .bind(alias)
            .fetch_optional(&self.read)
            .await?;
        row.map(|row| Ok((row.try_get(0)?, row.try_get(1)?))).transpose()
    }

    /// Every local alias of a room.
    pub async fn aliases_of_room(&self, room_id: &str) -> StorageResult<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT alias FROM room_aliases WHERE room_id = $1 ORDER BY alias")
            .bind(room_id)
            .fetch_all(&self.read)
            .await?)
    }
}
