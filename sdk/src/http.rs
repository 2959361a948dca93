//! Outbound HTTP to the hosts the admin allowed (`http` capability).
//! Redirects are not followed.

use crate::bindings::trellis::plugin::http_client as host;
use crate::types::Response;

/// Sends a request.
pub fn fetch(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<Response, String> {
    let headers: Vec<(String, String)> = headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    host::fetch(method, url, &headers, body).map(Response::from)
}

/// A GET request.
pub fn get(url: &str) -> Result<Response, String> {
    fetch("GET", url, &[], &[])
}
