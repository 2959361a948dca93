//! `MatrixJson<T>`: a JSON body extractor whose failures are Matrix errors.
//!
//! - body larger than the configured limit: 413 `M_TOO_LARGE`;
//! - not JSON at all: 400 `M_NOT_JSON`;
//! - JSON but not an object: 400 `M_BAD_JSON`;
//! - a required field missing: 400 `M_MISSING_PARAM`;
//! - a field of the wrong type: 400 `M_BAD_JSON`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{ErrCode, Error};

/// A parsed JSON request body.
#[derive(Debug)]
pub struct MatrixJson<T>(pub T);

/// Reads the raw body, mapping the size limit to `M_TOO_LARGE`.
pub async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, Error> {
    Bytes::from_request(req, state).await.map_err(|rejection| match rejection {
        BytesRejection::FailedToBufferBody(_) => {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                Error::new(ErrCode::TooLarge, "Request body too large")
            } else {
                Error::bad_json("Could not read the request body")
            }
        }
        other => Error::bad_json(other.body_text()),
    })
}

/// Parses bytes into a JSON object value.
pub fn parse_object(bytes: &[u8]) -> Result<Value, Error> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|err| Error::new(ErrCode::NotJson, format!("Content not JSON: {err}")))?;
    if !value.is_object() {
        return Err(Error::bad_json("Request body must be a JSON object"));
    }
    Ok(value)
}

/// Turns an object value into `T`, classifying serde's complaint.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, Error> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner().to_string();
        if let Some(rest) = inner.strip_prefix("missing field `") {
            let field = rest.split('`').next().unwrap_or_default();
            let full = if path == "." { field.to_owned() } else { format!("{path}.{field}") };
            Error::missing_param(&full)
        } else {
            Error::bad_json(format!("Invalid value at '{path}': {inner}"))
        }
    })
}

/// Parses a body that must be a JSON object into `T`.
fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    from_value(parse_object(bytes)?)
}

impl<T, S> FromRequest<S> for MatrixJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(req, state).await?;
        parse_body(&bytes).map(MatrixJson)
    }
}

/// An optional JSON body: `None` when the request has no body at all
/// (endpoints such as `/leave` take an optional `reason`).
#[derive(Debug)]
pub struct OptionalJson<T>(pub Option<T>);

impl<T, S> FromRequest<S> for OptionalJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(None));
        }
        parse_body(&bytes).map(|v| Self(Some(v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        #[serde(default)]
        count: u32,
    }

    #[test]
    fn classification() {
        assert_eq!(parse_object(b"{not json").unwrap_err().code(), Some(ErrCode::NotJson));
        assert_eq!(parse_object(b"[1,2]").unwrap_err().code(), Some(ErrCode::BadJson));
        let missing = from_value::<Body>(serde_json::json!({"count": 1})).unwrap_err();
        assert_eq!(missing.code(), Some(ErrCode::MissingParam));
        let wrong = from_value::<Body>(serde_json::json!({"name": 5})).unwrap_err();
        assert_eq!(wrong.code(), Some(ErrCode::BadJson));
        assert!(from_value::<Body>(serde_json::json!({"name": "x"})).is_ok());
    }
}
