//! Matrix events as the server-server spec defines them (PDUs): building,
//! content hashing, signing, event ids, authorisation against room state,
//! redaction, and the client-format view of an event.
//!
//! This crate is pure logic over ruma's room-version rules and has no I/O,
//! so that every room version's rules can be unit-tested directly and the
//! rest of the server never needs to know how a version differs.

mod auth;
mod client;
mod keys;
mod pdu;
pub mod push;
mod versions;

pub use auth::{AuthError, auth_event_types, authorize};
pub use client::{ClientEvent, client_event, client_event_from_json, strip_for_client};
pub use keys::ServerKey;
pub use pdu::{EventRef, NewEvent, Pdu, PduError, build_pdu, pdu_reference_hash, redact_pdu};
pub use ruma;
pub use versions::{DEFAULT_ROOM_VERSION, RoomVersion, STABLE_ROOM_VERSIONS};

/// A PDU as a canonical JSON object.
pub type PduJson = ruma::CanonicalJsonObject;

/// Largest PDU the spec allows, in bytes of canonical JSON.
pub const MAX_PDU_BYTES: usize = 65_536;

#[cfg(test)]
mod tests;
