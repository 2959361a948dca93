//! `http-client`: outbound HTTP to the hosts an admin allowed.
//!
//! Redirects are not followed (a redirect could lead outside the allowed
//! hosts); the plugin sees the 3xx and may follow it itself if the new host
//! is allowed too. Bodies past the grant's size limit fail the request.

use super::refused;
use crate::bindings::v0_1::trellis::plugin::http_client::Host;
use crate::bindings::v0_1::trellis::plugin::types::Response;
use crate::capabilities::HttpGrant;
use crate::state::StoreState;

/// Whether `url` names a host in the allow-list, written either as a bare
/// host (any port) or as `host:port`.
fn host_allowed(grant: &HttpGrant, url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else { return false };
    let port = url.port_or_known_default();
    grant.allowed_hosts.iter().any(|allowed| match allowed.rsplit_once(':') {
        Some((allowed_host, allowed_port)) if allowed_port.chars().all(|c| c.is_ascii_digit()) => {
            allowed_host.eq_ignore_ascii_case(host) && port.map(|p| p.to_string()).as_deref() == Some(allowed_port)
        }
        _ => allowed.eq_ignore_ascii_case(host),
    })
}

async fn fetch(
    client: &reqwest::Client,
    grant: &HttpGrant,
    method: &str,
    url: reqwest::Url,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
) -> Result<Response, String> {
    let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|_| format!("invalid method {method}"))?;
    let mut request = client.request(method, url).timeout(std::time::Duration::from_millis(grant.timeout_ms));
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let mut response = request.body(body).send().await.map_err(|e| format!("request failed: {e}"))?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_owned())))
        .collect();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| format!("reading the response failed: {e}"))? {
        if (body.len() + chunk.len()) as u64 > grant.max_response_bytes {
            return Err(format!("response larger than {} bytes", grant.max_response_bytes));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Response { status, headers, body })
}

impl Host for StoreState {
    async fn fetch(
        &mut self,
        method: String,
        url: String,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> wasmtime::Result<Result<Response, String>> {
        let ctx = self.ctx.clone();
        let grant = ctx.capabilities.http.as_ref().ok_or_else(|| refused("http"))?;
        let url = match reqwest::Url::parse(&url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => url,
            _ => return Ok(Err(format!("not an http(s) URL: {url}"))),
        };
        if !host_allowed(grant, &url) {
            return Ok(Err(format!("host {} is not in capabilities.http.allowed_hosts", url.host_str().unwrap_or(""))));
        }
        Ok(self.waiting_for(fetch(&ctx.http, grant, &method, url, headers, body)).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list_matches_hosts_and_ports() {
        let grant =
            HttpGrant { allowed_hosts: vec!["cas.example.org".into(), "127.0.0.1:8090".into()], ..Default::default() };
        let allowed = |url: &str| host_allowed(&grant, &reqwest::Url::parse(url).unwrap());
        assert!(allowed("https://cas.example.org/cas/serviceValidate"));
        assert!(allowed("http://CAS.example.org:8443/"));
        assert!(allowed("http://127.0.0.1:8090/x"));
        assert!(!allowed("http://127.0.0.1:8091/x"));
        assert!(!allowed("https://cas.example.org.evil.net/"));
        assert!(!allowed("https://evil.net/?cas.example.org"));
    }
}
