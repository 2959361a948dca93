//! HTTP routes served by plugins.

use super::call_role;
use crate::fault::Fault;
use crate::host_api::{PluginRequest, PluginResponse};
use crate::imports::{request_to_wit, response_from_wit};
use crate::loaded::{Callback, LoadedPlugin};

/// Hands a request to a plugin. `Ok(None)`: the plugin does not serve it.
pub async fn handle_request(plugin: &LoadedPlugin, request: PluginRequest) -> Result<Option<PluginResponse>, Fault> {
    let request = request_to_wit(request);
    let answer =
        call_role!(plugin, Callback::HandleRequest, http_routes, |guest, store| guest.call_handle(store, &request))?;
    Ok(answer.flatten().map(response_from_wit))
}
