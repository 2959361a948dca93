//! Access-token extractors and the client's address.
//!
//! Handlers declare who may call them by the extractor they take:
//! [`User`] (any non-guest account), [`AnyUser`] (guests too) or
//! [`AdminUser`] (server admins). A missing token is `401 M_MISSING_TOKEN`,
//! an unknown or expired one `401 M_UNKNOWN_TOKEN` (with `soft_logout`).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;

use super::{AppState, ListenerInfo};
use crate::error::{ErrCode, Error};
use crate::service::tokens::Requester;

/// An authenticated non-guest user.
#[derive(Debug, Clone)]
pub struct User(pub Requester);

/// An authenticated user, guests included.
#[derive(Debug, Clone)]
pub struct AnyUser(pub Requester);

/// An authenticated server administrator.
#[derive(Debug, Clone)]
pub struct AdminUser(pub Requester);

/// The client's address: the peer, or with `x_forwarded` the first
/// address in `X-Forwarded-For`.
#[derive(Debug, Clone)]
pub struct ClientIp(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Error> {
        Ok(Self(client_ip(parts)))
    }
}

/// Works out the client address of a request.
pub fn client_ip(parts: &Parts) -> String {
    let trust_forwarded = parts.extensions.get::<ListenerInfo>().is_some_and(|l| l.x_forwarded);
    if trust_forwarded {
        let forwarded = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty());
        if let Some(ip) = forwarded {
            return ip.to_owned();
        }
    }
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |ConnectInfo(addr)| addr.ip().to_string())
}

/// The access token of a request, from `Authorization: Bearer` or the
/// (deprecated) `access_token` query parameter.
fn access_token(parts: &Parts) -> Option<String> {
    if let Some(value) = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let (scheme, token) = value.split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned());
    }
    let query = parts.uri.query()?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == "access_token")
        .map(|(_, value)| value.into_owned())
}

async fn authenticate(parts: &mut Parts, state: &AppState) -> Result<Requester, Error> {
    let token = access_token(parts).ok_or_else(|| Error::new(ErrCode::MissingToken, "Missing access token"))?;
    let requester = state.tokens.authenticate(&state.storage, &token).await?;
    // Account validity plugins may expire accounts (Synapse's errcode).
    if state.plugins.checks_expiry()
        && state.plugins.is_user_expired(&requester.user_id).await == Some(trellis_plugin::hooks::Expiry::Expired)
    {
        return Err(Error::Plugin {
            status: axum::http::StatusCode::FORBIDDEN,
            errcode: "ORG_MATRIX_EXPIRED_ACCOUNT".into(),
            message: "User account has expired".into(),
        });
    }
    let ip = client_ip(parts);
    let user_agent = parts.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok());
    state.activity.record(&requester.user_id, &requester.device_id, &ip, user_agent);
    tracing::Span::current().record("user", requester.user_id.as_str());
    Ok(requester)
}

/// The requester if the request carries an access token (which must then
/// be valid), `None` if it carries none.
pub async fn optional_requester(parts: &mut Parts, state: &AppState) -> Result<Option<Requester>, Error> {
    if access_token(parts).is_none() {
        return Ok(None);
    }
    authenticate(parts, state).await.map(Some)
}

impl FromRequestParts<AppState> for AnyUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        authenticate(parts, state).await.map(Self)
    }
}

impl FromRequestParts<AppState> for User {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let requester = authenticate(parts, state).await?;
        if requester.is_guest {
            return Err(Error::new(ErrCode::GuestAccessForbidden, "Guest access not allowed"));
        }
        Ok(Self(requester))
    }
}

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let requester = authenticate(parts, state).await?;
        if !requester.is_admin {
            return Err(Error::forbidden("You are not a server admin"));
        }
        Ok(Self(requester))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(uri: &str, auth: Option<&str>) -> Parts {
        let mut builder = axum::http::Request::builder().uri(uri);
        if let Some(auth) = auth {
            builder = builder.header(header::AUTHORIZATION, auth);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn token_sources() {
        assert_eq!(access_token(&parts("/x", Some("Bearer abc"))), Some("abc".into()));
        assert_eq!(access_token(&parts("/x", Some("bearer abc"))), Some("abc".into()));
        assert_eq!(access_token(&parts("/x", Some("Basic abc"))), None);
        assert_eq!(access_token(&parts("/x?a=1&access_token=t%2Bk", None)), Some("t+k".into()));
        assert_eq!(access_token(&parts("/x", None)), None);
    }
}
