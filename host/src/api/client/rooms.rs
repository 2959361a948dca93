//! Room creation and membership endpoints.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::http::{AnyUser, AppState, MatrixJson, OptionalJson, User};
use crate::service::rooms::create::CreateRoom;
use crate::service::rooms::membership::Change;

/// `POST /createRoom`.
pub async fn create_room(
    State(state): State<AppState>,
    User(requester): User,
    MatrixJson(body): MatrixJson<CreateRoom>,
) -> Result<Json<Value>> {
    let room_id = state.create_room(&requester, body).await?;
    Ok(Json(json!({"room_id": room_id})))
}

/// A body with an optional `reason`.
#[derive(Debug, Default, Deserialize)]
pub struct ReasonBody {
    #[serde(default)]
    reason: Option<String>,
}

/// A body naming a target user.
#[derive(Debug, Deserialize)]
pub struct TargetBody {
    user_id: String,
    #[serde(default)]
    reason: Option<String>,
    /// Namespaced keys (e.g. MSC4293's `org.matrix.msc4293.redact_events`)
    /// travel into the membership event's content for plugins to act on.
    #[serde(flatten)]
    extra: serde_json::Map<String, Value>,
}

/// The body keys that are copied into a membership event: namespaced ones
/// (`org.example.key`), never spec keys (`m.`) or bare names.
fn namespaced(extra: &serde_json::Map<String, Value>) -> serde_json::Map<String, Value> {
    extra
        .iter()
        .filter(|(key, _)| key.contains('.') && !key.starts_with("m."))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// `POST /join/{roomIdOrAlias}`.
pub async fn join(
    State(state): State<AppState>,
    AnyUser(requester): AnyUser,
    Path(room): Path<String>,
    OptionalJson(body): OptionalJson<ReasonBody>,
) -> Result<Json<Value>> {
    let reason = body.and_then(|b| b.reason);
    let room_id = state.join_room(&requester, &room, reason.as_deref()).await?;
    Ok(Json(json!({"room_id": room_id})))
}

/// `POST /rooms/{roomId}/join`.
pub async fn join_by_id(
    state: State<AppState>,
    requester: AnyUser,
    Path(room_id): Path<String>,
    OptionalJson(body): OptionalJson<ReasonBody>,
) -> Result<Json<Value>> {
    if !room_id.starts_with('!') {
        return Err(Error::invalid_param("Expected a room id"));
    }
    join(state, requester, Path(room_id), OptionalJson(body)).await
}

/// `POST /knock/{roomIdOrAlias}`.
pub async fn knock(
    State(state): State<AppState>,
    User(requester): User,
    Path(room): Path<String>,
    OptionalJson(body): OptionalJson<ReasonBody>,
) -> Result<Json<Value>> {
    let reason = body.and_then(|b| b.reason);
    let room_id = state.knock_room(&requester, &room, reason.as_deref()).await?;
    Ok(Json(json!({"room_id": room_id})))
}

/// `POST /rooms/{roomId}/leave`.
pub async fn leave(
    State(state): State<AppState>,
    AnyUser(requester): AnyUser,
    Path(room_id): Path<String>,
    OptionalJson(body): OptionalJson<ReasonBody>,
) -> Result<Json<Value>> {
    let reason = body.and_then(|b| b.reason);
    state.leave_room(&requester, &room_id, reason.as_deref()).await?;
    Ok(Json(json!({})))
}

/// `POST /rooms/{roomId}/forget`.
pub async fn forget(
    State(state): State<AppState>,
    User(requester): User,
    Path(room_id): Path<String>,
) -> Result<Json<Value>> {
    state.forget_room(&requester, &room_id).await?;
    Ok(Json(json!({})))
}

async fn change(
    state: AppState,
    requester: crate::service::tokens::Requester,
    room_id: &str,
    body: TargetBody,
    change: Change,
) -> Result<Json<Value>> {
    let extra = namespaced(&body.extra);
    state.change_membership(&requester, room_id, &body.user_id, change, body.reason.as_deref(), &extra).await?;
    Ok(Json(json!({})))
}

/// `POST /rooms/{roomId}/invite`.
pub async fn invite(
    State(state): State<AppState>,
    User(requester): User,
    Path(room_id): Path<String>,
    MatrixJson(body): MatrixJson<TargetBody>,
) -> Result<Json<Value>> {
    change(state, requester, &room_id, body, Change::Invite).await
}

/// `POST /rooms/{roomId}/kick`.
pub async fn kick(
    State(state): State<AppState>,
    User(requester): User,
    Path(room_id): Path<String>,
    MatrixJson(body): MatrixJson<TargetBody>,
) -> Result<Json<Value>> {
    change(state, requester, &room_id, body, Change::Kick).await
}

/// `POST /rooms/{roomId}/ban`.
pub async fn ban(
    State(state): State<AppState>,
    User(requester): User,
    Path(room_id): Path<String>,
    MatrixJson(body): MatrixJson<TargetBody>,
) -> Result<Json<Value>> {
    change(state, requester, &room_id, body, Change::Ban).await
}

/// `POST /rooms/{roomId}/unban`.
pub async fn unban(
    State(state): State<AppState>,
    User(requester): User,
    Path(room_id): Path<String>,
    MatrixJson(body): MatrixJson<TargetBody>,
) -> Result<Json<Value>> {
    change(state, requester, &room_id, body, Change::Unban).await
}

/// `GET /joined_rooms`.
pub async fn joined_rooms(State(state): State<AppState>, AnyUser(requester): AnyUser) -> Result<Json<Value>> {
    Ok(Json(json!({"joined_rooms": state.joined_rooms(&requester.user_id).await?})))
}

/// `GET /rooms/{roomId}/joined_members`.
pub async fn joined_members(
    State(state): State<AppState>,
    AnyUser(requester): AnyUser,
    Path(room_id): Path<String>,
) -> Result<Json<Value>> {
    Ok(Json(state.joined_members(&requester, &room_id).await?))
}

/// `GET /rooms/{roomId}/members` query.
#[derive(Debug, Deserialize)]
pub struct MembersQuery {
    #[serde(default)]
    membership: Option<String>,
    #[serde(default)]
    not_membership: Option<String>,
    #[serde(default)]
    at: Option<String>,
}

/// `GET /rooms/{roomId}/members`.
pub async fn members(
    State(state): State<AppState>,
    AnyUser(requester): AnyUser,
    Path(room_id): Path<String>,
    axum::extract::Query(query): axum::extract::Query<MembersQuery>,
) -> Result<Json<Value>> {
    let chunk = state
        .room_members(
            &requester,
            &room_id,
            query.at.as_deref(),
            query.membership.as_deref(),
            query.not_membership.as_deref(),
        )
        .await?;
    Ok(Json(json!({"chunk": chunk})))
}
