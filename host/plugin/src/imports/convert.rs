//! Conversions between the generated 0.1 types and the host's own.

use crate::bindings::v0_1::trellis::plugin::types as wit;
use crate::host_api::{MatrixError, PluginEvent, PluginRequest, PluginResponse};

/// Host event to WIT event.
pub fn event_to_wit(event: &PluginEvent) -> wit::Event {
    wit::Event {
        event_id: event.event_id.clone(),
        room_id: event.room_id.clone(),
        sender: event.sender.clone(),
        event_type: event.event_type.clone(),
        state_key: event.state_key.clone(),
        content: event.content.to_string(),
        origin_server_ts: event.origin_server_ts,
        unsigned: event.unsigned.to_string(),
    }
}

/// Host error to WIT error.
pub fn matrix_error_to_wit(error: MatrixError) -> wit::MatrixError {
    wit::MatrixError { status: error.status, errcode: error.errcode, message: error.message }
}

/// WIT error to host error. A plugin may not answer with a success status
/// or a non-Matrix code; those become 403 `M_FORBIDDEN`.
pub fn matrix_error_from_wit(error: wit::MatrixError) -> MatrixError {
    let status = if (400..600).contains(&error.status) { error.status } else { 403 };
    let errcode = if error.errcode.starts_with("M_") || error.errcode.contains('.') {
        error.errcode
    } else {
        "M_FORBIDDEN".to_owned()
    };
    MatrixError { status, errcode, message: error.message }
}

/// Host request to WIT request (plugin routes, SSO callbacks).
pub fn request_to_wit(request: PluginRequest) -> wit::Request {
    wit::Request {
        method: request.method,
        path: request.path,
        query: request.query,
        headers: request.headers,
        body: request.body,
        user_id: request.user_id,
        device_id: request.device_id,
    }
}

/// WIT response to host response.
pub fn response_from_wit(response: wit::Response) -> PluginResponse {
    PluginResponse { status: response.status, headers: response.headers, body: response.body }
}
