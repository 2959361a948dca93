//! Directory, search, room summary, hierarchy and mutual rooms endpoints.

use std::collections::HashMap;

use axum::Json;
use axum::Router;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::both;
use crate::error::{Error, Result};
use crate::http::{AnyUser, AppState, MatrixJson, User};
use crate::service::discovery::directory::PublicRoomsRequest;
use crate::service::discovery::hierarchy::HierarchyRequest;
use crate::service::discovery::search::SearchRequest;
use crate::service::tokens::Requester;

/// The requester when the request carries an access token (which must then
/// be valid), `None` when it carries none: for endpoints that answer
/// anonymous clients too.
#[derive(Debug, Clone)]
pub struct MaybeUser(pub Option<Requester>);

impl FromRequestParts<AppState> for MaybeUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let has_token = parts.headers.contains_key(header::AUTHORIZATION)
            || parts.uri.query().is_some_and(|q| q.split('&').any(|pair| pair.starts_with("access_token=")));
        if !has_token {
            return Ok(Self(None));
        }
        let AnyUser(requester) = AnyUser::from_request_parts(parts, state).await?;
        Ok(Self(Some(requester)))
    }
}

/// The discovery routes (merged into the client API).
pub fn routes() -> Router<AppState> {
    let mut router = Router::new()
        .route("/_matrix/client/v1/room_summary/{room}", get(room_summary))
        .route("/_matrix/client/unstable/im.nheko.summary/rooms/{room}/summary", get(room_summary))
        .route("/_matrix/client/v1/rooms/{room_id}/hierarchy", get(hierarchy))
        .route("/_matrix/client/v1/mutual_rooms", get(mutual_rooms));
    let legacy: Vec<(&str, axum::routing::MethodRouter<AppState>)> = vec![
        ("/publicRooms", get(get_public_rooms).post(post_public_rooms)),
        ("/directory/list/room/{room_id}", get(get_visibility).put(put_visibility)),
        ("/user_directory/search", post(user_directory_search)),
        ("/search", post(search)),
    ];
    for (path, route) in legacy {
        router = both(router, path, route);
    }
    router
}

/// A query parameter as an integer.
fn int_param(query: &HashMap<String, String>, name: &str) -> Result<Option<i64>> {
    query
        .get(name)
        .map(|v| v.parse().map_err(|_| Error::invalid_param(format!("{name} must be an integer"))))
        .transpose()
}

/// A query parameter as a boolean (`true`/`false`).
fn bool_param(query: &HashMap<String, String>, name: &str) -> Result<bool> {
    match query.get(name).map(String::as_str) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(Error::invalid_param(format!("{name} must be true or false, not {other:?}"))),
    }
}

/// `GET /publicRooms` (no token needed).
pub async fn get_public_rooms(
    State(state): State<AppState>,
    MaybeUser(requester): MaybeUser,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>> {
    let request = PublicRoomsRequest {
        limit: int_param(&query, "limit")?,
        since: query.get("since").cloned(),
        ..Default::default()
    };
    let server = query.get("server").map(String::as_str);
    Ok(Json(state.public_rooms(requester.as_ref(), server, &request).await?))
}

/// `POST /publicRooms`.
pub async fn post_public_rooms(
    State(state): State<AppState>,
    AnyUser(requester): AnyUser,
    Query(query): Query<HashMap<String, String>>,
    MatrixJson(request): MatrixJson<PublicRoomsRequest>,
) -> Result<Json<Value>> {
    let server = query.get("server").map(String::as_str);
    Ok(Json(state.public_rooms(Some(&requester), server, &request).await?))
}

/// `GET /directory/list/room/{roomId}` (no token needed).
pub async fn get_visibility(State(state): State<AppState>, Path(room_id): Path<String>) -> Result<Json<Value>> {
    Ok(Json(json!({"visibility": state.room_directory_visibility(&room_id).await?})))
}

/// `PUT /directory/list/room/{roomId}` body.
#[derive(Debug, Deserialize)]
pub struct VisibilityBody {
    /// Defaults to `public`.
    #[serde(default)]
    visibility: Option<String>,
}

/// `PUT /directory/list/room/{roomId}`.
pub async fn put_visibility(
    State(state): State<AppState>,
    User(requester): User,
    Path(room_id): Path<String>,
    MatrixJson(body): MatrixJson<VisibilityBody>,
) -> Result<Json<Value>> {
    let visibility = body.visibility.as_deref().unwrap_or("public");
    state.set_room_directory_visibility(&requester, &room_id, visibility).await?;
    Ok(Json(json!({})))
}

/// `POST /user_directory/search` body.
#[derive(Debug, Deserialize)]
pub struct UserDirectoryBody {
    search_term: String,
    #[serde(default)]
    limit: Option<i64>,
}

/// `POST /user_directory/search`.
pub async fn user_directory_search(
    State(state): State<AppState>,
    User(requester): User,
    MatrixJson(body): MatrixJson<UserDirectoryBody>,
) -> Result<Json<Value>> {
    Ok(Json(state.search_user_directory(&requester, &body.search_term, body.limit).await?))
}

/// `POST /search`.
pub async fn search(
    State(state): State<AppState>,
    User(requester): User,
    Query(query): Query<HashMap<String, String>>,
    MatrixJson(body): MatrixJson<SearchRequest>,
) -> Result<Json<Value>> {
    let next_batch = query.get("next_batch").map(String::as_str);
    Ok(Json(state.search(&requester, &body, next_batch).await?))
}

/// `GET /_matrix/client/v1/room_summary/{roomIdOrAlias}` and its unstable
/// MSC3266 path (a token is optional).
pub async fn room_summary(
    State(state): State<AppState>,
    MaybeUser(requester): MaybeUser,
    Path(room): Path<String>,
) -> Result<Json<Value>> {
    Ok(Json(state.get_room_summary(requester.as_ref(), &room).await?))
}

/// `GET /_matrix/client/v1/rooms/{roomId}/hierarchy`.
pub async fn hierarchy(
    State(state): State<AppState>,
    AnyUser(requester): AnyUser,
    Path(room_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>> {
    let non_negative = |name: &str| -> Result<Option<u64>> {
        int_param(&query, name)?
            .map(|n| u64::try_from(n).map_err(|_| Error::invalid_param(format!("{name} must not be negative"))))
            .transpose()
    };
    let request = HierarchyRequest {
        suggested_only: bool_param(&query, "suggested_only")?,
        limit: non_negative("limit")?,
        max_depth: non_negative("max_depth")?,
        from: query.get("from").cloned(),
    };
    Ok(Json(state.room_hierarchy(&requester, &room_id, &request).await?))
}

/// `GET /_matrix/client/v1/mutual_rooms`.
pub async fn mutual_rooms(
    State(state): State<AppState>,
    AnyUser(requester): AnyUser,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>> {
    let user_id = query.get("user_id").ok_or_else(|| Error::missing_param("user_id"))?;
    let from = query.get("from").map(String::as_str);
    Ok(Json(state.mutual_rooms(&requester, user_id, from).await?))
}
