//! `kv`: a store private to each plugin, within its quota.

use super::refused;
use crate::bindings::v0_1::trellis::plugin::kv::Host;
use crate::state::StoreState;

/// Keys are short names, not data.
const MAX_KEY: usize = 512;

impl StoreState {
    fn kv_quota(&self) -> wasmtime::Result<u64> {
        self.ctx.capabilities.kv.as_ref().map(|grant| grant.quota_bytes).ok_or_else(|| refused("kv"))
    }
}

impl Host for StoreState {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<Vec<u8>>> {
        self.kv_quota()?;
        let ctx = self.ctx.clone();
        self.waiting(ctx.host.kv_get(&ctx.name, &key)).await
    }

    async fn set(&mut self, key: String, value: Vec<u8>) -> wasmtime::Result<Result<(), String>> {
        let quota = self.kv_quota()?;
        if key.len() > MAX_KEY {
            return Ok(Err(format!("keys are at most {MAX_KEY} bytes")));
        }
        let ctx = self.ctx.clone();
        self.waiting(ctx.host.kv_set(&ctx.name, &key, &value, quota)).await
    }

    async fn increment(&mut self, key: String, delta: i64) -> wasmtime::Result<Result<i64, String>> {
        let quota = self.kv_quota()?;
        if key.len() > MAX_KEY {
            return Ok(Err(format!("keys are at most {MAX_KEY} bytes")));
        }
        let ctx = self.ctx.clone();
        self.waiting(ctx.host.kv_increment(&ctx.name, &key, delta, quota)).await
    }

    async fn delete(&mut self, key: String) -> wasmtime::Result<bool> {
        self.kv_quota()?;
        let ctx = self.ctx.clone();
        self.waiting(ctx.host.kv_delete(&ctx.name, &key)).await
    }

    async fn keys(&mut self, prefix: String, limit: u32) -> wasmtime::Result<Vec<String>> {
        self.kv_quota()?;
        let ctx = self.ctx.clone();
        self.waiting(ctx.host.kv_list(&ctx.name, &prefix, limit.min(1000))).await
    }
}
