//! `accounts`: registering users and linking external identities.

use super::convert::matrix_error_to_wit;
use super::refused;
use crate::bindings::v0_1::trellis::plugin::accounts::Host;
use crate::bindings::v0_1::trellis::plugin::types::MatrixError;
use crate::state::StoreState;

impl StoreState {
    fn check_accounts(&self) -> wasmtime::Result<()> {
        if self.ctx.capabilities.accounts { Ok(()) } else { Err(refused("accounts")) }
    }
}

impl Host for StoreState {
    async fn register(
        &mut self,
        localpart: String,
        display_name: Option<String>,
    ) -> wasmtime::Result<Result<String, MatrixError>> {
        self.check_accounts()?;
        let ctx = self.ctx.clone();
        let registered = self.waiting(ctx.host.register_user(&localpart, display_name.as_deref())).await?;
        Ok(registered.map_err(matrix_error_to_wit))
    }

    async fn exists(&mut self, user_id: String) -> wasmtime::Result<bool> {
        self.check_accounts()?;
        let ctx = self.ctx.clone();
        self.waiting(ctx.host.user_exists(&user_id)).await
    }

    async fn link_external_id(
        &mut self,
        provider: String,
        remote_id: String,
        user_id: String,
    ) -> wasmtime::Result<Result<(), MatrixError>> {
        self.check_accounts()?;
        let ctx = self.ctx.clone();
        let linked = self.waiting(ctx.host.link_external_id(&provider, &remote_id, &user_id)).await?;
        Ok(linked.map_err(matrix_error_to_wit))
    }

    async fn find_external_id(&mut self, provider: String, remote_id: String) -> wasmtime::Result<Option<String>> {
        self.check_accounts()?;
        let ctx = self.ctx.clone();
        self.waiting(ctx.host.find_external_id(&provider, &remote_id)).await
    }
}
