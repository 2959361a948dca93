//! Single sign-on, the provider-neutral part. Identity providers are
//! plugins (`trellis:sso/provider`: CAS and SAML ship first-party); the
//! server owns everything on the Matrix side: the login page and provider
//! picker, finding or creating accounts through `user_external_ids`, the
//! user-name picker, login tokens, the redirect back to the client (never an
//! open redirect), re-authentication for user-interactive auth, and the
//! HTML pages.

pub mod flow;
pub mod pending;
pub mod picker;
pub mod reauth;
pub mod redirect;
pub mod state;
pub mod templates;

pub use flow::SsoStep;
