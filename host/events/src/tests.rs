//! Builds small rooms in every room version and runs the auth rules.

use std::collections::HashMap;

use ruma::events::StateEventType;
use ruma::signatures::{PublicKeyMap, Verified, verify_event};
use serde_json::json;

use crate::pdu::pdu_reference_hash;
use crate::*;

struct Room {
    version: RoomVersion,
    room_id: Option<String>,
    key: ServerKey,
    state: HashMap<(StateEventType, String), Pdu>,
    events: HashMap<String, (Pdu, PduJson)>,
    last: Option<String>,
    depth: u64,
}

impl Room {
    fn new(version: &str) -> Self {
        Self {
            version: RoomVersion::new(version).unwrap(),
            room_id: None,
            key: ServerKey::from_seed(&[7u8; 32], "a_test").unwrap(),
            state: HashMap::new(),
            events: HashMap::new(),
            last: None,
            depth: 0,
        }
    }

    fn reference(&self, id: &str) -> EventRef {
        let (_, json) = &self.events[id];
        EventRef { event_id: id.to_owned(), reference_hash: Some(pdu_reference_hash(&self.version, json).unwrap()) }
    }

    /// Builds, authorises and (if allowed) applies an event.
    fn send(
        &mut self,
        sender: &str,
        kind: &str,
        state_key: Option<&str>,
        content: serde_json::Value,
    ) -> Result<String, String> {
        let auth_types = auth_event_types(&self.version, kind, sender, state_key, &content).map_err(|e| e.0)?;
        let auth: Vec<EventRef> =
            auth_types.iter().filter_map(|k| self.state.get(k)).map(|p| self.reference(p.event_id.as_str())).collect();
        self.depth += 1;
        let new = NewEvent {
            room_id: self.room_id.clone(),
            sender: sender.into(),
            event_type: kind.into(),
            state_key: state_key.map(str::to_owned),
            content,
            redacts: None,
            prev_events: self.last.iter().map(|id| self.reference(id)).collect(),
            auth_events: auth,
            depth: self.depth,
            origin_server_ts: 1_700_000_000_000,
        };
        let (event_id, json) = build_pdu(&self.version, &new, "hs.test", &self.key).map_err(|e| e.to_string())?;
        let pdu = Pdu::from_json(event_id.as_str(), &json).map_err(|e| e.to_string())?;
        let events = &self.events;
        let state = &self.state;
        authorize(
            &self.version,
            &pdu,
            |id| events.get(id.as_str()).map(|(p, _)| p.clone()),
            |t, k| state.get(&(t.clone(), k.to_owned())).cloned(),
        )
        .map_err(|e| e.0)?;
        if kind == "m.room.create" && self.version.room_id_from_create_event() {
            self.room_id = Some(format!("!{}", event_id.localpart()));
        }
        if let Some(key) = state_key {
            self.state.insert((kind.into(), key.to_owned()), pdu.clone());
        }
        self.events.insert(event_id.to_string(), (pdu, json));
        self.last = Some(event_id.to_string());
        Ok(event_id.to_string())
    }
}

fn create_content(version: &RoomVersion) -> serde_json::Value {
    if version.uses_create_sender() {
        json!({"room_version": version.id.as_str()})
    } else {
        json!({"creator": "@alice:hs.test", "room_version": version.id.as_str()})
    }
}

#[test]
fn every_version_builds_authorises_and_rejects() {
    for id in STABLE_ROOM_VERSIONS {
        let mut room = Room::new(id);
        if !room.version.room_id_from_create_event() {
            room.room_id = Some("!room:hs.test".into());
        }
        let create = room.send("@alice:hs.test", "m.room.create", Some(""), create_content(&room.version)).unwrap();
        match room.version.rules.event_id_format {
            ruma::room_version_rules::EventIdFormatVersion::V1 => assert!(create.ends_with(":hs.test"), "{create}"),
            _ => assert!(!create.contains(':'), "{create}"),
        }
        room.send("@alice:hs.test", "m.room.member", Some("@alice:hs.test"), json!({"membership": "join"})).unwrap();
        let users = if room.version.privileges_creators() { json!({}) } else { json!({"@alice:hs.test": 100}) };
        room.send("@alice:hs.test", "m.room.power_levels", Some(""), json!({"users": users})).unwrap();
        room.send("@alice:hs.test", "m.room.join_rules", Some(""), json!({"join_rule": "invite"})).unwrap();
        let message =
            room.send("@alice:hs.test", "m.room.message", None, json!({"msgtype": "m.text", "body": "hi"})).unwrap();
        // Bob is not in the room: he can neither talk nor join an invite-only room.
        let err = room.send("@bob:hs.test", "m.room.message", None, json!({"body": "x"})).unwrap_err();
        assert!(!err.is_empty(), "v{id}");
        room.send("@bob:hs.test", "m.room.member", Some("@bob:hs.test"), json!({"membership": "join"})).unwrap_err();
        // Once invited he can join.
        room.send("@alice:hs.test", "m.room.member", Some("@bob:hs.test"), json!({"membership": "invite"})).unwrap();
        room.send("@bob:hs.test", "m.room.member", Some("@bob:hs.test"), json!({"membership": "join"})).unwrap();
        room.send("@bob:hs.test", "m.room.message", None, json!({"body": "hello"})).unwrap();
        // Bob (power 0) cannot change the name; Alice can.
        room.send("@bob:hs.test", "m.room.name", Some(""), json!({"name": "x"})).unwrap_err();
        room.send("@alice:hs.test", "m.room.name", Some(""), json!({"name": "Room"})).unwrap();

        // Signatures verify, and redaction keeps them valid but breaks the content hash.
        let mut keys = PublicKeyMap::new();
        keys.insert(
            "hs.test".into(),
            [(room.key.key_id(), ruma::serde::Base64::parse(room.key.public_key_base64()).unwrap())].into(),
        );
        let (_, json) = &room.events[&message];
        assert_eq!(verify_event(&keys, json, &room.version.rules).unwrap(), Verified::All, "v{id}");
        let redacted = redact_pdu(&room.version, json).unwrap();
        assert_eq!(verify_event(&keys, &redacted, &room.version.rules).unwrap(), Verified::Signatures, "v{id}");
        assert!(redacted["content"].as_object().unwrap().is_empty());
        let client = client_event(&message, json, None);
        assert_eq!(client["content"]["body"], "hi");
        assert!(client.get("hashes").is_none() && client.get("signatures").is_none() && client.get("depth").is_none());
    }
}

#[test]
fn oversized_events_are_refused() {
    let mut room = Room::new("10");
    room.room_id = Some("!room:hs.test".into());
    room.send("@alice:hs.test", "m.room.create", Some(""), create_content(&room.version)).unwrap();
    let err = room
        .send(
            "@alice:hs.test",
            "m.room.member",
            Some("@alice:hs.test"),
            json!({"membership": "join", "x": "y".repeat(70_000)}),
        )
        .unwrap_err();
    assert!(err.contains("larger"), "{err}");
}
