//! `config`: the plugin's own config section and the server name.

use crate::bindings::v0_1::trellis::plugin::config::Host;
use crate::state::StoreState;

impl Host for StoreState {
    async fn get(&mut self) -> wasmtime::Result<String> {
        Ok(self.ctx.config_json.clone())
    }

    async fn server_name(&mut self) -> wasmtime::Result<String> {
        Ok(self.ctx.host.server_name().to_owned())
    }
}
