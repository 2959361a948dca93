//! A minimal web browser for single sign-on tests: it keeps cookies per
//! host, never follows redirects on its own (tests look at each hop), and
//! reads hidden form fields out of pages.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// One HTTP answer.
#[derive(Debug, Clone)]
pub struct Page {
    /// HTTP status.
    pub status: u16,
    /// The `Location` header of a redirect.
    pub location: Option<String>,
    /// Every header, lower-case names.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub body: String,
}

impl Page {
    /// The value of a hidden (or any) input field named `name`.
    pub fn input_value(&self, name: &str) -> Option<String> {
        let marker = format!("name=\"{name}\"");
        let at = self.body.find(&marker)?;
        let tag_start = self.body[..at].rfind('<')?;
        let tag_end = at + self.body[at..].find('>')?;
        let tag = &self.body[tag_start..tag_end];
        let value_at = tag.find("value=")? + "value=".len();
        let quote = tag[value_at..].chars().next().filter(|q| *q == '"' || *q == '\'')?;
        let value_end = value_at + 1 + tag[value_at + 1..].find(quote)?;
        Some(html_unescape(&tag[value_at + 1..value_end]))
    }

    /// A header value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }
}

/// Undoes the escaping HTML templates apply to attribute values: the named
/// entities and numeric character references.
pub fn html_unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        let Some(end) = after.find(';') else {
            out.push_str(after);
            return out;
        };
        let entity = &after[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &after[end + 1..];
            }
            None => {
                out.push('&');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The browser.
#[derive(Debug)]
pub struct Browser {
    http: reqwest::Client,
    /// (host:port, cookie name) → value.
    cookies: Mutex<BTreeMap<(String, String), String>>,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    /// A browser with no cookies.
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("build the HTTP client");
        Self { http, cookies: Mutex::new(BTreeMap::new()) }
    }

    /// `GET url`.
    pub async fn get(&self, url: &str) -> Page {
        self.send(self.http.get(url), url).await
    }

    /// `POST url` with a form.
    pub async fn post_form(&self, url: &str, fields: &[(&str, &str)]) -> Page {
        let body: String = fields
            .iter()
            .map(|(key, value)| format!("{}={}", form_encode(key), form_encode(value)))
            .collect::<Vec<_>>()
            .join("&");
        let request = self.http.post(url).header("content-type", "application/x-www-form-urlencoded").body(body);
        self.send(request, url).await
    }

    async fn send(&self, request: reqwest::RequestBuilder, url: &str) -> Page {
        let authority = authority(url);
        let cookie_header: String = {
            let cookies = self.cookies.lock().expect("cookie jar");
            cookies
                .iter()
                .filter(|((host, _), _)| *host == authority)
                .map(|((_, name), value)| format!("{name}={value}"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let request = if cookie_header.is_empty() { request } else { request.header("cookie", cookie_header) };
        let response = request.send().await.unwrap_or_else(|e| panic!("request to {url} failed: {e}"));
        let status = response.status().as_u16();
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .filter_map(|(name, value)| Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned())))
            .collect();
        {
            let mut cookies = self.cookies.lock().expect("cookie jar");
            for (_, value) in headers.iter().filter(|(name, _)| name == "set-cookie") {
                let pair = value.split(';').next().unwrap_or_default();
                if let Some((name, value)) = pair.split_once('=') {
                    let key = (authority.clone(), name.trim().to_owned());
                    if value.is_empty() || value.contains("Max-Age=0") {
                        cookies.remove(&key);
                    } else {
                        cookies.insert(key, value.to_owned());
                    }
                }
            }
        }
        let location = headers.iter().find(|(name, _)| name == "location").map(|(_, value)| value.clone());
        let body = response.text().await.unwrap_or_default();
        Page { status, location, headers, body }
    }

    /// The value of a cookie this browser holds for `url`'s host.
    pub fn cookie(&self, url: &str, name: &str) -> Option<String> {
        self.cookies.lock().expect("cookie jar").get(&(authority(url), name.to_owned())).cloned()
    }
}

fn authority(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split(['/', '?', '#']).next().unwrap_or_default().to_owned()
}

/// `application/x-www-form-urlencoded` encoding of one value.
pub fn form_encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(char::from(byte)),
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// The decoded value of a query parameter of `url`.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1.split('#').next().unwrap_or_default();
    query.split('&').filter_map(|pair| pair.split_once('=')).find(|(key, _)| *key == name).map(|(_, value)| {
        let bytes = value.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%'
                && i + 2 < bytes.len()
                && let Ok(byte) = u8::from_str_radix(&value[i + 1..i + 3], 16)
            {
                out.push(byte);
                i += 3;
                continue;
            }
            out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    })
}
