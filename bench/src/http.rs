//! A minimal HTTP/1.1 client for the load generator and the start-up probe.
//!
//! The load generator shares two cores with the server it measures, so every
//! microsecond it spends is taken from the server. A general-purpose client
//! (reqwest over hyper) costs several times more CPU per request than
//! writing one pre-built request and scanning the answer for its end, so the
//! hot loops use this instead. It speaks just enough HTTP/1.1 for requests
//! (GET, or PUT/POST with a JSON body) over keep-alive connections: `Content-Length` and chunked
//! bodies, `Connection: close`. It only ever connects to 127.0.0.1.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{Context as _, bail};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Where requests go: always 127.0.0.1, on the URL's port.
#[derive(Debug, Clone)]
pub struct Target {
    /// 127.0.0.1 and the port.
    pub addr: SocketAddr,
    /// The `Host` header, as the URL spelled it.
    pub host: String,
}

/// Reads `http://127.0.0.1:PORT[/...]` (or `localhost`). Anything else is
/// refused: this tool must never load another machine.
pub fn parse_url(url: &str) -> anyhow::Result<Target> {
    let rest = url.strip_prefix("http://").with_context(|| format!("{url}: only http:// URLs are supported"))?;
    let authority = rest.split('/').next().unwrap_or_default();
    let (host, port) = authority.rsplit_once(':').with_context(|| format!("{url}: the URL needs an explicit port"))?;
    if host != "127.0.0.1" && host != "localhost" {
        bail!("{url}: only 127.0.0.1 (or localhost) may be targeted");
    }
    let port: u16 = port.parse().with_context(|| format!("{url}: bad port"))?;
    Ok(Target { addr: SocketAddr::from(([127, 0, 0, 1], port)), host: authority.to_owned() })
}

/// Builds the bytes of a GET request, sent as is on every iteration.
pub fn get_request(target: &Target, path: &str, token: Option<&str>) -> Vec<u8> {
    let mut text =
        format!("GET {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: trellis-bench\r\nAccept: */*\r\n", target.host);
    if let Some(token) = token {
        text.push_str("Authorization: Bearer ");
        text.push_str(token);
        text.push_str("\r\n");
    }
    text.push_str("\r\n");
    text.into_bytes()
}

/// Builds the bytes of a request with an optional JSON body.
pub fn request(target: &Target, method: &str, path: &str, token: Option<&str>, body: Option<&[u8]>) -> Vec<u8> {
    let mut text =
        format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: trellis-bench\r\nAccept: */*\r\n", target.host);
    if let Some(token) = token {
        text.push_str("Authorization: Bearer ");
        text.push_str(token);
        text.push_str("\r\n");
    }
    if let Some(body) = body {
        text.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()));
    } else if method != "GET" && method != "HEAD" {
        text.push_str("Content-Length: 0\r\n");
    }
    text.push_str("\r\n");
    let mut bytes = text.into_bytes();
    if let Some(body) = body {
        bytes.extend_from_slice(body);
    }
    bytes
}

/// Percent-encodes a query-string value or a path segment (everything but
/// RFC 3986's unreserved characters).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A complete response found at the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub struct Parsed {
    /// HTTP status code.
    pub status: u16,
    /// Bytes of the buffer the response took.
    pub consumed: usize,
    /// The server will close the connection after this response.
    pub close: bool,
    /// The (de-chunked) body, when it was asked for.
    pub body: Option<Vec<u8>>,
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Looks for one complete response at the start of `buf`. `Ok(None)` means
/// more bytes are needed.
pub fn parse_response(buf: &[u8], want_body: bool) -> anyhow::Result<Option<Parsed>> {
    let Some(head_end) = find(buf, b"\r\n\r\n") else {
        if buf.len() > 64 * 1024 {
            bail!("response head larger than 64 KiB");
        }
        return Ok(None);
    };
    let head = std::str::from_utf8(&buf[..head_end]).context("response head is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let status: u16 =
        parts.next().and_then(|s| s.parse().ok()).with_context(|| format!("bad status line {status_line:?}"))?;
    let mut close = version == "HTTP/1.0";
    let mut content_length = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            content_length = Some(value.parse::<usize>().context("bad Content-Length")?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            let value = value.to_ascii_lowercase();
            if value.contains("close") {
                close = true;
            } else if value.contains("keep-alive") {
                close = false;
            }
        }
    }
    let body_start = head_end + 4;
    if chunked {
        let mut pos = body_start;
        let mut body = want_body.then(Vec::new);
        loop {
            let Some(line_len) = find(&buf[pos..], b"\r\n") else { return Ok(None) };
            let line = std::str::from_utf8(&buf[pos..pos + line_len]).context("bad chunk size line")?;
            let size_text = line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size_text, 16).with_context(|| format!("bad chunk size {line:?}"))?;
            let data_start = pos + line_len + 2;
            if size == 0 {
                // No trailers are expected: the last chunk ends with an empty line.
                if buf.len() < data_start + 2 {
                    return Ok(None);
                }
                return Ok(Some(Parsed { status, consumed: data_start + 2, close, body }));
            }
            if buf.len() < data_start + size + 2 {
                return Ok(None);
            }
            if let Some(body) = body.as_mut() {
                body.extend_from_slice(&buf[data_start..data_start + size]);
            }
            pos = data_start + size + 2;
        }
    }
    let length = match content_length {
        Some(length) => length,
        None if status == 204 || status == 304 || (100..200).contains(&status) => 0,
        None => bail!("response with neither Content-Length nor chunked encoding (status {status})"),
    };
    if buf.len() < body_start + length {
        return Ok(None);
    }
    let body = want_body.then(|| buf[body_start..body_start + length].to_vec());
    Ok(Some(Parsed { status, consumed: body_start + length, close, body }))
}

/// Opens a connection (Nagle off: requests are small and latency matters).
pub async fn connect(target: &Target) -> anyhow::Result<tokio::net::TcpStream> {
    let stream =
        tokio::net::TcpStream::connect(target.addr).await.with_context(|| format!("connect {}", target.addr))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Sends one request and reads its response. `buf` is scratch space reused
/// between calls, so the steady state allocates nothing.
pub async fn exchange(
    stream: &mut tokio::net::TcpStream,
    request: &[u8],
    buf: &mut Vec<u8>,
    want_body: bool,
) -> anyhow::Result<Parsed> {
    stream.write_all(request).await?;
    buf.clear();
    loop {
        buf.reserve(4096);
        let n = stream.read_buf(buf).await?;
        if n == 0 {
            bail!("connection closed by the server");
        }
        if let Some(parsed) = parse_response(buf, want_body)? {
            return Ok(parsed);
        }
    }
}

/// One blocking request on a new connection, for the start-up probe.
/// Fails fast when nothing listens yet (connection refused).
pub fn get_once(target: &Target, path: &str, timeout: Duration) -> anyhow::Result<Parsed> {
    let mut stream = TcpStream::connect_timeout(&target.addr, timeout)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(&get_request(target, path, None))?;
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            bail!("connection closed by the server");
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(parsed) = parse_response(&buf, true)? {
            return Ok(parsed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = parse_url("http://127.0.0.1:8481").unwrap();
        assert_eq!(t.addr, SocketAddr::from(([127, 0, 0, 1], 8481)));
        assert_eq!(t.host, "127.0.0.1:8481");
        assert!(parse_url("http://localhost:80/x").is_ok());
        assert!(parse_url("http://example.org:80").is_err());
        assert!(parse_url("https://127.0.0.1:80").is_err());
        assert!(parse_url("http://127.0.0.1").is_err());
    }

    #[test]
    fn content_length() {
        let full = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-type: x\r\n\r\nhello";
        for cut in 0..full.len() {
            assert_eq!(parse_response(&full[..cut], true).unwrap(), None, "cut at {cut}");
        }
        let parsed = parse_response(full, true).unwrap().unwrap();
        assert_eq!(parsed, Parsed { status: 200, consumed: full.len(), close: false, body: Some(b"hello".to_vec()) });
    }

    #[test]
    fn chunked_and_close() {
        let full = b"HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        for cut in 0..full.len() {
            assert_eq!(parse_response(&full[..cut], false).unwrap(), None, "cut at {cut}");
        }
        let parsed = parse_response(full, true).unwrap().unwrap();
        assert_eq!(parsed, Parsed { status: 401, consumed: full.len(), close: true, body: Some(b"abcde".to_vec()) });
    }

    #[test]
    fn requests_with_bodies() {
        let t = parse_url("http://127.0.0.1:8481").unwrap();
        let bytes = request(&t, "PUT", "/x", Some("tok"), Some(b"{}"));
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("PUT /x HTTP/1.1\r\n"));
        assert!(text.contains("Authorization: Bearer tok\r\n"));
        assert!(text.ends_with("Content-Length: 2\r\n\r\n{}"));
        let post = String::from_utf8(request(&t, "POST", "/y", None, None)).unwrap();
        assert!(post.ends_with("Content-Length: 0\r\n\r\n"));
        assert_eq!(encode("!a:b/c d{\"x\"}"), "%21a%3Ab%2Fc%20d%7B%22x%22%7D");
    }

    #[test]
    fn http10_closes_and_204_has_no_body() {
        let parsed = parse_response(b"HTTP/1.0 204 No Content\r\n\r\n", false).unwrap().unwrap();
        assert!(parsed.close);
        assert_eq!(parsed.consumed, 27);
        assert!(parse_response(b"HTTP/1.1 200 OK\r\n\r\n", false).is_err());
    }
}
