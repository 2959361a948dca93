//! MSC4155 invite filtering: each user's
//! `org.matrix.msc4155.invite_permission_config` account data decides who
//! may invite them. Blocked inviters get 403 `M_INVITE_BLOCKED`; invites
//! from ignored inviters are kept but hidden from the invitee's `/sync`.

mod rules;

use rules::{Action, InviteRules};
use trellis_sdk::{MatrixError, Plugin, SpamChecker, Verdict};

/// The account data type of the MSC.
const CONFIG_TYPE: &str = "org.matrix.msc4155.invite_permission_config";
/// The stable successor (MSC4380, spec v1.18); the server itself enforces
/// its `default_action`, and its presence makes the MSC4155 data moot.
const STABLE_TYPE: &str = "m.invite_permission_config";

struct InviteFiltering;

impl Plugin for InviteFiltering {}

/// What the invitee's rules say about `inviter`.
fn action_for(invitee: &str, inviter: &str) -> Action {
    if trellis_sdk::rooms::account_data(invitee, None, STABLE_TYPE).is_some() {
        return Action::Allow;
    }
    match trellis_sdk::rooms::account_data(invitee, None, CONFIG_TYPE) {
        Some(config) => InviteRules::from_content(&config).action_for(inviter),
        None => Action::Allow,
    }
}

impl SpamChecker for InviteFiltering {
    fn user_may_invite(inviter: &str, invitee: &str, _room_id: &str) -> Verdict {
        match action_for(invitee, inviter) {
            Action::Block => {
                Verdict::Deny(MatrixError::new(403, "M_INVITE_BLOCKED", "You are not permitted to invite this user."))
            }
            Action::Allow | Action::Ignore => Verdict::Allow,
        }
    }

    fn invite_visible_to_invitee(invitee: &str, inviter: &str, _room_id: &str) -> Verdict {
        match action_for(invitee, inviter) {
            Action::Ignore | Action::Block => {
                Verdict::Deny(MatrixError::forbidden("hidden by the invitee's invite rules"))
            }
            Action::Allow => Verdict::Allow,
        }
    }
}

trellis_sdk::plugin!(InviteFiltering, roles: [SpamChecker]);
