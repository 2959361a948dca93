//! HTTP routes served by plugins.

use super::call_role;
use crate::bindings::v0_1::trellis::plugin::types::Request;
use crate::fault::Fault;
use crate::host_api::{PluginRequest, PluginResponse};
use crate::loaded::{Callback, LoadedPlugin};

/// Hands a request to a plugin. `Ok(None)`: the plugin does not serve it.
pub async fn handle_request(plugin: &LoadedPlugin, request: PluginRequest) -> Result<Option<PluginResponse>, Fault> {
    let request = Request {
        method: request.method,
        path: request.path,
        query: request.query,
        headers: request.headers,
        body: request.body,
        user_id: request.user_id,
        device_id: request.device_id,
    };
    let answer =
        call_role!(plugin, Callback::HandleRequest, http_routes, |guest, store| guest.call_handle(store, &request))?;
    Ok(answer.flatten().map(|response| PluginResponse {
        status: response.status,
        headers: response.headers,
        body: response.body,
    }))
}
