//! The host's one error type and its mapping to Matrix error responses.
//!
//! Every failure a client can see is a Matrix error: an HTTP status plus a
//! JSON body with `errcode` and `error` (and, for some codes, extra fields
//! such as `retry_after_ms` or `soft_logout`). Internal failures are logged
//! with the request's span and answered with a bare `M_UNKNOWN`, so that no
//! internal detail (SQL, file paths) ever reaches a client.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// The `errcode`s Trellis answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrCode {
    /// `M_FORBIDDEN`
    Forbidden,
    /// `M_UNKNOWN_TOKEN`
    UnknownToken,
    /// `M_MISSING_TOKEN`
    MissingToken,
    /// `M_USER_LOCKED`
    UserLocked,
    /// `M_BAD_JSON`
    BadJson,
    /// `M_NOT_JSON`
    NotJson,
    /// `M_NOT_FOUND`
    NotFound,
    /// `M_LIMIT_EXCEEDED`
    LimitExceeded,
    /// `M_UNRECOGNIZED`
    Unrecognized,
    /// `M_UNKNOWN`
    Unknown,
    /// `M_USER_IN_USE`
    UserInUse,
    /// `M_INVALID_USERNAME`
    InvalidUsername,
    /// `M_EXCLUSIVE`
    Exclusive,
    /// `M_MISSING_PARAM`
    MissingParam,
    /// `M_INVALID_PARAM`
    InvalidParam,
    /// `M_TOO_LARGE`
    TooLarge,
    /// `M_USER_DEACTIVATED`
    UserDeactivated,
    /// `M_GUEST_ACCESS_FORBIDDEN`
    GuestAccessForbidden,
    /// `M_WEAK_PASSWORD`
    WeakPassword,
    /// `M_UNAUTHORIZED`
    Unauthorized,
    /// `M_UNSUPPORTED_ROOM_VERSION`
    UnsupportedRoomVersion,
    /// `M_ROOM_IN_USE`
    RoomInUse,
    /// `M_INVALID_ROOM_STATE`
    InvalidRoomState,
    /// `M_KEY_TOO_LARGE`
    KeyTooLarge,
    /// `M_PROFILE_TOO_LARGE`
    ProfileTooLarge,
    /// `M_INVITE_BLOCKED`
    InviteBlocked,
}

impl ErrCode {
    /// The wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Forbidden => "M_FORBIDDEN",
            Self::UnknownToken => "M_UNKNOWN_TOKEN",
            Self::MissingToken => "M_MISSING_TOKEN",
            Self::UserLocked => "M_USER_LOCKED",
            Self::BadJson => "M_BAD_JSON",
            Self::NotJson => "M_NOT_JSON",
            Self::NotFound => "M_NOT_FOUND",
            Self::LimitExceeded => "M_LIMIT_EXCEEDED",
            Self::Unrecognized => "M_UNRECOGNIZED",
            Self::Unknown => "M_UNKNOWN",
            Self::UserInUse => "M_USER_IN_USE",
            Self::InvalidUsername => "M_INVALID_USERNAME",
            Self::Exclusive => "M_EXCLUSIVE",
            Self::MissingParam => "M_MISSING_PARAM",
            Self::InvalidParam => "M_INVALID_PARAM",
            Self::TooLarge => "M_TOO_LARGE",
            Self::UserDeactivated => "M_USER_DEACTIVATED",
            Self::GuestAccessForbidden => "M_GUEST_ACCESS_FORBIDDEN",
            Self::WeakPassword => "M_WEAK_PASSWORD",
            Self::Unauthorized => "M_UNAUTHORIZED",
            Self::UnsupportedRoomVersion => "M_UNSUPPORTED_ROOM_VERSION",
            Self::RoomInUse => "M_ROOM_IN_USE",
            Self::InvalidRoomState => "M_INVALID_ROOM_STATE",
            Self::KeyTooLarge => "M_KEY_TOO_LARGE",
            Self::ProfileTooLarge => "M_PROFILE_TOO_LARGE",
            Self::InviteBlocked => "M_INVITE_BLOCKED",
        }
    }

    /// The status the spec pairs with the code when nothing else applies.
    fn default_status(self) -> StatusCode {
        match self {
            Self::Forbidden | Self::UserDeactivated | Self::GuestAccessForbidden | Self::InviteBlocked => {
                StatusCode::FORBIDDEN
            }
            Self::UnknownToken | Self::MissingToken | Self::UserLocked | Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::NotFound | Self::Unrecognized => StatusCode::NOT_FOUND,
            Self::LimitExceeded => StatusCode::TOO_MANY_REQUESTS,
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unknown => StatusCode::INTERNAL_SERVER_ERROR,
            Self::BadJson
            | Self::NotJson
            | Self::UserInUse
            | Self::InvalidUsername
            | Self::Exclusive
            | Self::MissingParam
            | Self::InvalidParam
            | Self::WeakPassword
            | Self::UnsupportedRoomVersion
            | Self::RoomInUse
            | Self::InvalidRoomState
            | Self::KeyTooLarge
            | Self::ProfileTooLarge => StatusCode::BAD_REQUEST,
        }
    }
}

/// An error on its way to becoming an HTTP response. `Clone` so that one
/// failure can answer every request of a batch written together.
#[derive(Debug, Clone)]
pub enum Error {
    /// A Matrix error the client should see.
    Matrix {
        /// HTTP status.
        status: StatusCode,
        /// `errcode`.
        code: ErrCode,
        /// Human-readable `error`.
        message: String,
        /// Extra top-level fields (`retry_after_ms`, `soft_logout`, …).
        fields: Map<String, Value>,
    },
    /// A Matrix error made by a plugin, whose code the host may not know.
    Plugin {
        /// HTTP status (4xx or 5xx).
        status: StatusCode,
        /// `errcode` as the plugin gave it.
        errcode: String,
        /// `error`.
        message: String,
    },
    /// A user-interactive-auth challenge: 401 with flows and session.
    AuthRequired(Box<Value>),
    /// A bug or an infrastructure failure; logged, answered as `M_UNKNOWN`.
    Internal(String),
}

/// Result alias for the host.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error with the code's usual status.
    pub fn new(code: ErrCode, message: impl Into<String>) -> Self {
        Self::with_status(code.default_status(), code, message)
    }

    /// An error with an explicit status.
    pub fn with_status(status: StatusCode, code: ErrCode, message: impl Into<String>) -> Self {
        Self::Matrix { status, code, message: message.into(), fields: Map::new() }
    }

    /// Adds a top-level field to the JSON body.
    #[must_use]
    pub fn with_field(mut self, key: &str, value: Value) -> Self {
        if let Self::Matrix { fields, .. } = &mut self {
            fields.insert(key.to_owned(), value);
        }
        self
    }

    /// `403 M_FORBIDDEN`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrCode::Forbidden, message)
    }

    /// `404 M_NOT_FOUND`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrCode::NotFound, message)
    }

    /// `400 M_BAD_JSON`.
    pub fn bad_json(message: impl Into<String>) -> Self {
        Self::new(ErrCode::BadJson, message)
    }

    /// `400 M_INVALID_PARAM`.
    pub fn invalid_param(message: impl Into<String>) -> Self {
        Self::new(ErrCode::InvalidParam, message)
    }

    /// `400 M_MISSING_PARAM` naming the parameter.
    pub fn missing_param(name: &str) -> Self {
        Self::new(ErrCode::MissingParam, format!("Missing parameter: {name}"))
    }

    /// `429 M_LIMIT_EXCEEDED` with the wait the client should observe.
    pub fn limit_exceeded(retry_after_ms: u64) -> Self {
        Self::new(ErrCode::LimitExceeded, "Too many requests").with_field("retry_after_ms", json!(retry_after_ms))
    }

    /// `401 M_UNKNOWN_TOKEN`; `soft_logout` tells the client whether it may
    /// refresh or re-authenticate without losing its device.
    pub fn unknown_token(soft_logout: bool) -> Self {
        let message = if soft_logout { "Access token has expired" } else { "Unrecognised access token" };
        Self::new(ErrCode::UnknownToken, message).with_field("soft_logout", json!(soft_logout))
    }

    /// An internal failure with a description for the log only.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Self::Internal(detail.to_string())
    }

    /// The Matrix errcode, when there is one (used by tests and metrics).
    pub fn code(&self) -> Option<ErrCode> {
        match self {
            Self::Matrix { code, .. } => Some(*code),
            Self::AuthRequired(_) | Self::Plugin { .. } => None,
            Self::Internal(_) => Some(ErrCode::Unknown),
        }
    }
}

impl From<trellis_plugin::MatrixError> for Error {
    /// A plugin's refusal, as the client will see it.
    fn from(error: trellis_plugin::MatrixError) -> Self {
        let status = StatusCode::from_u16(error.status)
            .ok()
            .filter(|s| s.is_client_error() || s.is_server_error())
            .unwrap_or(StatusCode::FORBIDDEN);
        Self::Plugin { status, errcode: error.errcode, message: error.message }
    }
}

impl From<trellis_storage::StorageError> for Error {
    fn from(err: trellis_storage::StorageError) -> Self {
        Self::Internal(err.to_string())
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match self {
            Self::Matrix { status, code, message, mut fields } => {
                fields.insert("errcode".into(), Value::String(code.as_str().into()));
                fields.insert("error".into(), Value::String(message));
                (status, Json(Value::Object(fields))).into_response()
            }
            Self::Plugin { status, errcode, message } => {
                (status, Json(json!({"errcode": errcode, "error": message}))).into_response()
            }
            Self::AuthRequired(body) => (StatusCode::UNAUTHORIZED, Json(*body)).into_response(),
            Self::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                let body = json!({"errcode": "M_UNKNOWN", "error": "Internal server error"});
                (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(err: Error) -> (StatusCode, Value) {
        let response = err.into_response();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn internal_errors_do_not_leak_details() {
        let (status, body) = body_of(Error::internal("SELECT secret FROM x failed")).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body, json!({"errcode": "M_UNKNOWN", "error": "Internal server error"}));
    }

    #[tokio::test]
    async fn extra_fields_are_top_level() {
        let (status, body) = body_of(Error::limit_exceeded(1500)).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(body["errcode"], "M_LIMIT_EXCEEDED");
        assert_eq!(body["retry_after_ms"], 1500);
        let (status, body) = body_of(Error::unknown_token(true)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["soft_logout"], true);
    }
}
