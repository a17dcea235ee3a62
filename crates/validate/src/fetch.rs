// SPDX-License-Identifier: MIT OR Apache-2.0
//! Reading playlists and segments from a directory or over HTTP(S), with byte ranges, and
//! resolving the relative URIs a playlist holds (RFC 3986 5.2 for URLs).

use std::io::{Read, Seek, SeekFrom};
use std::time::{Duration, Instant};

/// Largest object read (a single-file stream is read range by range, never whole).
const MAX_BODY: u64 = 512 << 20;

/// One response: status (200 for files), body, Content-Type and how long it took.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub status: u16,
    pub body: Vec<u8>,
    pub content_type: Option<String>,
    pub cache_control: Option<String>,
    pub elapsed: Duration,
}

/// Reads resources by path or URL. One HTTP agent (connection reuse) for a whole run.
pub struct Fetcher {
    agent: ureq::Agent,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fetcher")
    }
}

impl Default for Fetcher {
    fn default() -> Self {
        Self::new(Duration::from_secs(30))
    }
}

pub fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

impl Fetcher {
    /// `timeout` bounds each whole request (blocking reloads are held up to 3 target durations).
    pub fn new(timeout: Duration) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build()
            .into();
        Fetcher { agent }
    }

    /// Reads `uri` whole, or `len` bytes from `offset` (EXT-X-BYTERANGE). Err is a one-line
    /// reason (connection refused, no such file); HTTP errors are a status, not an Err.
    pub fn get(&self, uri: &str, range: Option<(u64, u64)>) -> Result<Fetched, String> {
        let started = Instant::now();
        let mut out = if is_url(uri) {
            self.get_http(uri, range)?
        } else {
            get_file(uri, range)?
        };
        out.elapsed = started.elapsed();
        Ok(out)
    }

    fn get_http(&self, uri: &str, range: Option<(u64, u64)>) -> Result<Fetched, String> {
        let mut req = self.agent.get(uri);
        if let Some((offset, len)) = range {
            let last = offset.saturating_add(len.max(1) - 1);
            req = req.header("Range", format!("bytes={offset}-{last}"));
        }
        let mut resp = req.call().map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let (content_type, cache_control) = (header("content-type"), header("cache-control"));
        let mut body = resp
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(|e| format!("reading the body: {e}"))?;
        // A server that ignores Range answers 200 with the whole object: take the range.
        if let (Some((offset, len)), 200) = (range, status) {
            let start = usize::try_from(offset)
                .unwrap_or(usize::MAX)
                .min(body.len());
            let end = usize::try_from(offset.saturating_add(len))
                .unwrap_or(usize::MAX)
                .min(body.len());
            body = body.get(start..end).unwrap_or_default().to_vec();
        }
        Ok(Fetched {
            status,
            body,
            content_type,
            cache_control,
            elapsed: Duration::ZERO,
        })
    }
}

fn get_file(path: &str, range: Option<(u64, u64)>) -> Result<Fetched, String> {
    let mut file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut body = Vec::new();
    match range {
        None => {
            file.take(MAX_BODY)
                .read_to_end(&mut body)
                .map_err(|e| e.to_string())?;
        }
        Some((offset, len)) => {
            file.seek(SeekFrom::Start(offset))
                .map_err(|e| e.to_string())?;
            file.take(len.min(MAX_BODY))
                .read_to_end(&mut body)
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(Fetched {
        status: 200,
        body,
        content_type: None,
        cache_control: None,
        elapsed: Duration::ZERO,
    })
}

/// Resolves `uri` (as written in a playlist) against the playlist's own location `base`.
pub fn resolve(base: &str, uri: &str) -> String {
    if is_url(uri) {
        return uri.to_owned();
    }
    if !is_url(base) {
        let dir = std::path::Path::new(base)
            .parent()
            .unwrap_or(std::path::Path::new(""));
        return dir.join(uri).to_string_lossy().into_owned();
    }
    // RFC 3986 5.2.2 for the cases playlists use: absolute path or relative path with query.
    let base = base.split(['?', '#']).next().unwrap_or(base);
    let scheme_end = base.find("://").map_or(0, |p| p + 3);
    let authority_end = base
        .get(scheme_end..)
        .and_then(|s| s.find('/'))
        .map_or(base.len(), |p| p + scheme_end);
    let (origin, path) = base.split_at(authority_end);
    let (rel_path, query) = match uri.find(['?', '#']) {
        Some(p) => uri.split_at(p),
        None => (uri, ""),
    };
    let joined = if rel_path.starts_with('/') {
        rel_path.to_owned()
    } else if rel_path.is_empty() {
        path.to_owned()
    } else {
        let dir = path.rfind('/').map_or("/", |p| &path[..=p]);
        format!("{dir}{rel_path}")
    };
    format!("{origin}{}{query}", remove_dot_segments(&joined))
}

/// RFC 3986 5.2.4, on a path that starts with '/'.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let last = segments.len().saturating_sub(1);
    for (i, seg) in segments.iter().enumerate() {
        match *seg {
            "." => {
                if i == last {
                    out.push("");
                }
            }
            ".." => {
                out.pop();
                if i == last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_like_rfc_3986() {
        let cases = [
            ("http://h:1/a/b/m.m3u8", "s.ts", "http://h:1/a/b/s.ts"),
            (
                "http://h:1/a/b/m.m3u8?x=1",
                "s.ts?y=2",
                "http://h:1/a/b/s.ts?y=2",
            ),
            ("http://h:1/a/b/m.m3u8", "../c/s.ts", "http://h:1/a/c/s.ts"),
            ("http://h:1/a/b/m.m3u8", "/x.ts", "http://h:1/x.ts"),
            (
                "http://h:1/a/b/m.m3u8",
                "./v/../w.ts",
                "http://h:1/a/b/w.ts",
            ),
            ("http://h:1/a/m.m3u8", "https://o/s.ts", "https://o/s.ts"),
            ("http://h:1", "s.ts", "http://h:1/s.ts"),
            (
                "/srv/x/master.m3u8",
                "v/stream.m3u8",
                "/srv/x/v/stream.m3u8",
            ),
            ("master.m3u8", "stream.m3u8", "stream.m3u8"),
        ];
        for (base, uri, want) in cases {
            assert_eq!(resolve(base, uri), want, "{base} + {uri}");
        }
    }

    #[test]
    fn file_ranges() {
        let dir = std::env::temp_dir().join(format!("validate-fetch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("f.bin");
        std::fs::write(&p, b"0123456789").unwrap();
        let f = Fetcher::default();
        let p = p.to_string_lossy().into_owned();
        let cases = [
            (None, &b"0123456789"[..]),
            (Some((2, 3)), b"234"),
            (Some((8, 5)), b"89"),
        ];
        for (range, want) in cases {
            assert_eq!(f.get(&p, range).unwrap().body, want, "{range:?}");
        }
        assert!(f.get(&format!("{p}.missing"), None).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
