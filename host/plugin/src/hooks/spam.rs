//! Synapse's spam checker callbacks. Each returns `Err` with the Matrix error
//! of the first plugin that denied.

use super::decide;
use crate::host_api::{MatrixError, PluginEvent};
use crate::imports::event_to_wit;
use crate::loaded::Callback;
use crate::manager::PluginManager;

impl PluginManager {
    /// A local user's event, before it is persisted.
    pub async fn check_event_for_spam(&self, event: &PluginEvent) -> Result<(), MatrixError> {
        let event = event_to_wit(event);
        decide!(self, Callback::CheckEventForSpam, spam_check, |guest, store| guest
            .call_check_event_for_spam(store, &event))
    }

    /// An event received over federation; `Err` means drop it silently.
    pub async fn should_drop_federated_event(&self, event: &PluginEvent) -> Result<(), MatrixError> {
        let event = event_to_wit(event);
        decide!(self, Callback::ShouldDropFederatedEvent, spam_check, |guest, store| guest
            .call_should_drop_federated_event(store, &event))
    }

    /// A user joining a room.
    pub async fn user_may_join_room(&self, user_id: &str, room_id: &str, is_invited: bool) -> Result<(), MatrixError> {
        decide!(self, Callback::UserMayJoinRoom, spam_check, |guest, store| guest
            .call_user_may_join_room(store, user_id, room_id, is_invited))
    }

    /// A local user inviting someone.
    pub async fn user_may_invite(&self, inviter: &str, invitee: &str, room_id: &str) -> Result<(), MatrixError> {
        decide!(self, Callback::UserMayInvite, spam_check, |guest, store| guest
            .call_user_may_invite(store, inviter, invitee, room_id))
    }

    /// Whether a pending invite is shown in the invitee's `/sync`.
    pub async fn invite_visible_to_invitee(&self, invitee: &str, inviter: &str, room_id: &str) -> bool {
        let decision: Result<(), MatrixError> =
            decide!(self, Callback::InviteVisibleToInvitee, spam_check, |guest, store| guest
                .call_invite_visible_to_invitee(store, invitee, inviter, room_id));
        decision.is_ok()
    }

    /// Whether any plugin may hide invites, so /sync can skip the calls.
    pub fn filters_invites(&self) -> bool {
        self.any_implements(Callback::InviteVisibleToInvitee, |plugin| plugin.roles.spam_check.is_some())
    }

    /// An invite arriving over federation.
    pub async fn federated_user_may_invite(&self, event: &PluginEvent) -> Result<(), MatrixError> {
        let event = event_to_wit(event);
        decide!(self, Callback::FederatedUserMayInvite, spam_check, |guest, store| guest
            .call_federated_user_may_invite(store, &event))
    }

    /// A third-party (email, phone) invite.
    pub async fn user_may_send_3pid_invite(
        &self,
        inviter: &str,
        medium: &str,
        address: &str,
        room_id: &str,
    ) -> Result<(), MatrixError> {
        decide!(self, Callback::UserMaySend3pidInvite, spam_check, |guest, store| guest
            .call_user_may_send_3pid_invite(store, inviter, medium, address, room_id))
    }

    /// A user creating a room.
    pub async fn user_may_create_room(&self, user_id: &str) -> Result<(), MatrixError> {
        decide!(self, Callback::UserMayCreateRoom, spam_check, |guest, store| guest
            .call_user_may_create_room(store, user_id))
    }

    /// A user creating a room alias.
    pub async fn user_may_create_room_alias(&self, user_id: &str, alias: &str) -> Result<(), MatrixError> {
        decide!(self, Callback::UserMayCreateRoomAlias, spam_check, |guest, store| guest
            .call_user_may_create_room_alias(store, user_id, alias))
    }

    /// A user publishing a room in the directory.
    pub async fn user_may_publish_room(&self, user_id: &str, room_id: &str) -> Result<(), MatrixError> {
        decide!(self, Callback::UserMayPublishRoom, spam_check, |guest, store| guest
            .call_user_may_publish_room(store, user_id, room_id))
    }

    /// A user sending a state event.
    pub async fn user_may_send_state_event(
        &self,
        user_id: &str,
        room_id: &str,
        event_type: &str,
        state_key: &str,
        content: &serde_json::Value,
    ) -> Result<(), MatrixError> {
        let content = content.to_string();
        decide!(self, Callback::UserMaySendStateEvent, spam_check, |guest, store| guest
            .call_user_may_send_state_event(store, user_id, room_id, event_type, state_key, &content))
    }

    /// Whether a user may appear in user-directory results (`Err`: hide).
    pub async fn check_username_for_spam(&self, user_id: &str, display_name: Option<&str>) -> Result<(), MatrixError> {
        decide!(self, Callback::CheckUsernameForSpam, spam_check, |guest, store| guest.call_check_username_for_spam(
            store,
            user_id,
            display_name
        ))
    }

    /// Whether any plugin checks user-directory entries, so the directory
    /// can skip the per-result calls when none does.
    pub fn checks_usernames(&self) -> bool {
        self.any_implements(Callback::CheckUsernameForSpam, |plugin| plugin.roles.spam_check.is_some())
    }

    /// A registration about to happen.
    pub async fn check_registration_for_spam(
        &self,
        username: Option<&str>,
        user_agent: Option<&str>,
        ip: Option<&str>,
        auth_provider: Option<&str>,
    ) -> Result<(), MatrixError> {
        decide!(self, Callback::CheckRegistrationForSpam, spam_check, |guest, store| guest
            .call_check_registration_for_spam(store, username, user_agent, ip, auth_provider))
    }

    /// An uploaded file (wired when the media repository lands).
    pub async fn check_media_file_for_spam(
        &self,
        media_id: &str,
        content_type: &str,
        length: u64,
    ) -> Result<(), MatrixError> {
        decide!(self, Callback::CheckMediaFileForSpam, spam_check, |guest, store| guest.call_check_media_file_for_spam(
            store,
            media_id,
            content_type,
            length
        ))
    }

    /// A login about to succeed.
    pub async fn check_login_for_spam(
        &self,
        user_id: &str,
        device_id: Option<&str>,
        display_name: Option<&str>,
        ip: Option<&str>,
        auth_provider: Option<&str>,
    ) -> Result<(), MatrixError> {
        decide!(self, Callback::CheckLoginForSpam, spam_check, |guest, store| guest.call_check_login_for_spam(
            store,
            user_id,
            device_id,
            display_name,
            ip,
            auth_provider
        ))
    }
}
