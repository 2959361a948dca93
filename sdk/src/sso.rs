//! Single sign-on providers: the types of the [`crate::SsoProvider`] role.
//!
//! The server owns the Matrix side of a sign-in (login page, accounts,
//! login tokens, the redirect back to the client); a provider plugin owns
//! the protocol: where to send the browser, and checking what comes back.
//! The server uses the role only when the admin granted `capabilities.sso`.

use crate::bindings::exports::trellis::sso::provider as wit;
use crate::types::Response;

/// An identity provider offered on the login page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityProvider {
    /// Unique id, `a-z 0-9 . _ ~ -` (the server ignores others).
    pub id: String,
    /// Shown to users.
    pub name: String,
    /// An `mxc://` URI.
    pub icon: Option<String>,
    /// A brand for clients (`github`, ...).
    pub brand: Option<String>,
    /// Absolute server paths where the provider sends the browser back;
    /// requests there reach [`crate::SsoProvider::finish`].
    pub callback_paths: Vec<String>,
}

/// Who the provider says the user is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Identity {
    /// Stable id at the provider (never reassigned to someone else).
    pub remote_id: String,
    /// The localpart for a new account; `None` lets the user pick one.
    pub localpart: Option<String>,
    /// Display name.
    pub display_name: Option<String>,
    /// Email addresses the provider vouches for.
    pub emails: Vec<String>,
    /// Create an account when none is linked to this identity yet.
    pub may_register: bool,
    /// Link the existing account with this localpart when none is linked to
    /// the identity yet (only for providers that own the names they report).
    pub existing_localpart: Option<String>,
}

/// A failed sign-in, shown to the user as a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// HTTP status of the page.
    pub status: u16,
    /// What went wrong, for the user.
    pub message: String,
}

impl Failure {
    /// A failure page with this status and message.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
    }
}

/// What [`crate::SsoProvider::finish`] concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The user signed in; `state` must be the string `start` was given.
    SignedIn {
        /// Who signed in.
        identity: Identity,
        /// The `state` of the sign-in.
        state: String,
    },
    /// The sign-in failed.
    Failed(Failure),
    /// Answer the request directly.
    Respond(Response),
}

impl From<IdentityProvider> for wit::Idp {
    fn from(idp: IdentityProvider) -> Self {
        wit::Idp { id: idp.id, name: idp.name, icon: idp.icon, brand: idp.brand, callback_paths: idp.callback_paths }
    }
}

impl From<Failure> for wit::Failure {
    fn from(failure: Failure) -> Self {
        wit::Failure { status: failure.status, message: failure.message }
    }
}

impl From<Outcome> for wit::Outcome {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::SignedIn { identity, state } => wit::Outcome::SignedIn(wit::SignedIn {
                identity: wit::Identity {
                    remote_id: identity.remote_id,
                    localpart: identity.localpart,
                    display_name: identity.display_name,
                    emails: identity.emails,
                    may_register: identity.may_register,
                    existing_localpart: identity.existing_localpart,
                },
                state,
            }),
            Outcome::Failed(failure) => wit::Outcome::Failure(failure.into()),
            Outcome::Respond(response) => wit::Outcome::Respond(response.into()),
        }
    }
}

/// A `302 Found` to `location`: how `start` usually answers.
pub fn redirect(location: &str) -> Response {
    Response {
        status: 302,
        headers: vec![("location".into(), location.to_owned()), ("cache-control".into(), "no-store".into())],
        body: Vec::new(),
    }
}
