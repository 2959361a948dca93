//! The `devices` table. Deleting a device deletes its access and refresh
//! tokens through `ON DELETE CASCADE`, so a logged-out device can never
//! leave a usable token behind.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Connection, Storage, StorageResult, now_ms};

/// A stored device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRow {
    /// Owner.
    pub user_id: String,
    /// Device id, unique per user.
    pub device_id: String,
    /// Human-readable name.
    pub display_name: Option<String>,
    /// Address of the most recent request.
    pub last_seen_ip: Option<String>,
    /// User agent of the most recent request.
    pub last_seen_user_agent: Option<String>,
    /// Time of the most recent request.
    pub last_seen_ts: Option<i64>,
}

fn from_row(row: &AnyRow) -> StorageResult<DeviceRow> {
    Ok(DeviceRow {
        user_id: row.try_get(0)?,
        device_id: row.try_get(1)?,
        display_name: row.try_get(2)?,
        last_seen_ip: row.try_get(3)?,
        last_seen_user_agent: row.try_get(4)?,
        last_seen_ts: row.try_get(5)?,
    })
}

const COLUMNS: &str = "user_id, device_id, display_name, last_seen_ip, last_seen_user_agent, last_seen_ts";

/// Creates the device unless it exists; an existing device keeps its name
/// unless a new one is given. Returns true when the device is new.
pub async fn upsert(
    conn: &mut Connection,
    user_id: &str,
    device_id: &str,
    display_name: Option<&str>,
) -> StorageResult<bool> {
    let inserted = sqlx::query(
        "INSERT INTO devices (user_id, device_id, display_name, created_ts) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id, device_id) DO NOTHING",
    )
    .bind(user_id)
    .bind(device_id)
    .bind(display_name)
    .bind(now_ms())
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    if !inserted && display_name.is_some() {
        set_display_name(conn, user_id, device_id, display_name).await?;
    }
    Ok(inserted)
}

/// Renames a device. Returns false if it does not exist.
pub async fn set_display_name(
    conn: &mut Connection,
    user_id: &str,
    device_id: &str,
    display_name: Option<&str>,
) -> StorageResult<bool> {
    let done = sqlx::query("UPDATE devices SET display_name = $1 WHERE user_id = $2 AND device_id = $3")
        .bind(display_name)
        .bind(user_id)
        .bind(device_id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes one device and, by cascade, its tokens. Returns false if absent.
pub async fn delete(conn: &mut Connection, user_id: &str, device_id: &str) -> StorageResult<bool> {
    let done = sqlx::query("DELETE FROM devices WHERE user_id = $1 AND device_id = $2")
        .bind(user_id)
        .bind(device_id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes every device of the user except `keep`, returning the ids deleted.
pub async fn delete_all_except(conn: &mut Connection, user_id: &str, keep: Option<&str>) -> StorageResult<Vec<String>> {
    let ids: Vec<String> = sqlx::query_scalar(
        "DELETE FROM devices WHERE user_id = $1 AND ($2 IS NULL OR device_id <> $2) RETURNING device_id",
    )
    .bind(user_id)
    .bind(keep)
    .fetch_all(conn)
    .await?;
    Ok(ids)
}

/// Records where and when a device was last seen.
pub async fn touch(
    conn: &mut Connection,
    user_id: &str,
    device_id: &str,
    ip: &str,
    user_agent: Option<&str>,
    ts: i64,
) -> StorageResult<()> {
    sqlx::query(
        "UPDATE devices SET last_seen_ip = $1, last_seen_user_agent = $2, last_seen_ts = $3 \
         WHERE user_id = $4 AND device_id = $5",
    )
    .bind(ip)
    .bind(user_agent)
    .bind(ts)
    .bind(user_id)
    .bind(device_id)
    .execute(conn)
    .await?;
    Ok(())
}

impl Storage {
    /// One device of a user.
    pub async fn device(&self, user_id: &str, device_id: &str) -> StorageResult<Option<DeviceRow>> {
        let sql = format!("SELECT {COLUMNS} FROM devices WHERE user_id = $1 AND device_id = $2");
        let row =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(user_id).bind(device_id).fetch_optional(&self.read).await?;
        row.as_ref().map(from_row).transpose()
    }

    /// All devices of a user, oldest first.
    pub async fn devices(&self, user_id: &str) -> StorageResult<Vec<DeviceRow>> {
        let sql = format!("SELECT {COLUMNS} FROM devices WHERE user_id = $1 ORDER BY created_ts, device_id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(user_id).fetch_all(&self.read).await?;
        rows.iter().map(from_row).collect()
    }
}
