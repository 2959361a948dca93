//! Single sign-on, the provider-neutral parts (issue 5 is in progress: the
//! CAS and SAML providers will be plugins, and the login flow lives here).
//!
//! For now: the mapping of identity-provider user names onto Matrix
//! localparts, and the rules for redirecting back to clients.

pub mod mapping;
pub mod redirect;
