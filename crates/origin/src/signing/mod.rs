// SPDX-License-Identifier: MIT OR Apache-2.0
//! Signed URLs: expiring tokens that open one stream's directory (a path prefix), sans-IO.
//!
//! A token is the value of the `token` query parameter:
//!
//! ```text
//! EXP.PREFIX.SIG        any client
//! EXP.PREFIX.ip.SIG     only the client address it was signed for
//! ```
//!
//! - `EXP`: expiry, Unix seconds, decimal.
//! - `PREFIX`: the path prefix it opens (`/live/cam/`: starts and ends with `/`), base64url
//!   without padding (RFC 4648 5), so the token needs no percent-encoding.
//! - `ip`: the literal marker that the client address is part of the signature (the address
//!   itself is not in the token; the verifier takes the connection's).
//! - `SIG`: HMAC-SHA256 (RFC 2104) with the secret over
//!   `hlsorigin-url-v1 NUL EXP NUL PREFIX NUL ADDRESS` (ADDRESS empty when not bound),
//!   base64url without padding.
//!
//! Verification ([`Signer::verify`]) checks, in this order, the form (`malformed`), the
//! signature against every configured secret in constant time (`bad signature`; so a forged
//! token learns nothing about expiry or paths), the expiry with [`SKEW_SECS`] of clock skew
//! (`expired`), then that the requested path lies under the prefix (`wrong path`).
//! [`rewrite`] adds the token to the URIs of the playlists it opens.

pub mod rewrite;
mod verified;

use std::net::IpAddr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Clock skew allowed between the signer and the origin, in seconds.
pub const SKEW_SECS: u64 = 30;
/// The query parameter that carries a token.
pub const PARAM: &str = "token";
/// Longest token accepted (a prefix of ~1 KB is far more than any stream path).
pub const MAX_TOKEN_LEN: usize = 2048;
/// Domain separation of the MAC input (a webhook signature can never be a token).
const CONTEXT: &[u8] = b"hlsorigin-url-v1";

/// Why a request was refused; the body of the 403 and the `reason` label of the metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// The path is protected and the request has no `token`.
    Missing,
    /// The token is not of the form above.
    Malformed,
    /// No secret produces this signature (tampered, another secret, or another client
    /// address for an address-bound token).
    BadSignature,
    /// Genuine, but past its expiry (plus [`SKEW_SECS`]).
    Expired,
    /// Genuine and current, but for another path prefix.
    WrongPath,
}

impl Denied {
    pub const ALL: [Denied; 5] = [
        Denied::Missing,
        Denied::Malformed,
        Denied::BadSignature,
        Denied::Expired,
        Denied::WrongPath,
    ];

    /// Metric label.
    pub fn label(self) -> &'static str {
        match self {
            Denied::Missing => "missing",
            Denied::Malformed => "malformed",
            Denied::BadSignature => "bad_signature",
            Denied::Expired => "expired",
            Denied::WrongPath => "wrong_path",
        }
    }

    /// One line for the response body.
    pub fn reason(self) -> &'static str {
        match self {
            Denied::Missing => "forbidden: this stream needs a signed URL (token missing)\n",
            Denied::Malformed => "forbidden: malformed token\n",
            Denied::BadSignature => {
                "forbidden: bad signature (tampered, unknown secret, or another client address)\n"
            }
            Denied::Expired => "forbidden: token expired\n",
            Denied::WrongPath => "forbidden: token is for another path (wrong path)\n",
        }
    }
}

/// A parsed token (its signature not yet checked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub expires: u64,
    pub prefix: String,
    pub ip_bound: bool,
    sig: [u8; 32],
}

impl Token {
    /// Parses the `token` parameter's value (see the module docs).
    pub fn parse(s: &str) -> Result<Token, Denied> {
        if s.len() > MAX_TOKEN_LEN {
            return Err(Denied::Malformed);
        }
        let fields: Vec<&str> = s.split('.').collect();
        let (exp, prefix, ip_bound, sig) = match fields.as_slice() {
            [exp, prefix, sig] => (*exp, *prefix, false, *sig),
            [exp, prefix, "ip", sig] => (*exp, *prefix, true, *sig),
            _ => return Err(Denied::Malformed),
        };
        if exp.is_empty() || !exp.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Denied::Malformed);
        }
        let expires = exp.parse().map_err(|_| Denied::Malformed)?;
        let prefix = URL_SAFE_NO_PAD
            .decode(prefix)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .filter(|p| valid_prefix(p))
            .ok_or(Denied::Malformed)?;
        let sig = URL_SAFE_NO_PAD
            .decode(sig)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or(Denied::Malformed)?;
        Ok(Token {
            expires,
            prefix,
            ip_bound,
            sig,
        })
    }

    /// Whether `path` (a request path starting with `/`, decoded and free of dot segments:
    /// [`crate::path::ObjectPath`]) lies under the prefix.
    pub fn covers(&self, path: &str) -> bool {
        path.starts_with(&self.prefix)
    }
}

/// Whether `p` is a usable prefix: `/`-delimited on both ends, no empty, `.` or `..`
/// segment, no control characters or backslashes (the request paths it is compared with have
/// none, [`crate::path`]).
pub fn valid_prefix(p: &str) -> bool {
    let Some(inner) = p.strip_prefix('/') else {
        return false;
    };
    if inner.is_empty() {
        return true;
    }
    let Some(inner) = inner.strip_suffix('/') else {
        return false;
    };
    inner.split('/').all(|seg| {
        !seg.is_empty()
            && seg != "."
            && seg != ".."
            && !seg.chars().any(|c| c == '\\' || c.is_control())
    })
}

/// The directory a path is in, as a prefix: `/a/b/master.m3u8` → `/a/b/`; a path ending in
/// `/` is its own prefix.
pub fn directory_prefix(path: &str) -> String {
    match path.rfind('/') {
        Some(i) => path.get(..=i).unwrap_or("/").to_owned(),
        None => "/".to_owned(),
    }
}

/// The secrets: the first signs, every one verifies (rotation).
#[derive(Clone)]
pub struct Signer {
    /// One HMAC state per secret, keyed once (RFC 2104's inner and outer key blocks are
    /// hashed here, not on every request); each MAC starts from a clone.
    secrets: Vec<Hmac<Sha256>>,
    /// Tokens found authentic before (see [`verified`]).
    verified: verified::Verified,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("secrets", &self.secrets.len())
            .finish()
    }
}

impl Signer {
    /// `None` without secrets (signing off). Empty secrets are skipped.
    pub fn new<S: AsRef<[u8]>>(secrets: &[S]) -> Option<Signer> {
        let secrets: Vec<Hmac<Sha256>> = secrets
            .iter()
            .map(AsRef::as_ref)
            .filter(|s| !s.is_empty())
            .filter_map(|s| Hmac::<Sha256>::new_from_slice(s).ok())
            .collect();
        (!secrets.is_empty()).then(|| Signer {
            secrets,
            verified: verified::Verified::default(),
        })
    }

    /// A token for `prefix` (see [`valid_prefix`]) expiring at `expires` (Unix seconds),
    /// bound to `ip` if given; `None` for a prefix that is not valid, or so long that the
    /// token would exceed [`MAX_TOKEN_LEN`] (it would never verify).
    pub fn sign(&self, prefix: &str, expires: u64, ip: Option<IpAddr>) -> Option<String> {
        if !valid_prefix(prefix) {
            return None;
        }
        let secret = self.secrets.first()?;
        let sig = mac(secret, expires, prefix, ip)?.finalize().into_bytes();
        let p = URL_SAFE_NO_PAD.encode(prefix);
        let s = URL_SAFE_NO_PAD.encode(sig);
        let token = match ip {
            Some(_) => format!("{expires}.{p}.ip.{s}"),
            None => format!("{expires}.{p}.{s}"),
        };
        (token.len() <= MAX_TOKEN_LEN).then_some(token)
    }

    /// Verifies `token` for a request of `path` (starting with `/`, as
    /// [`Token::covers`] wants it) at `now` (Unix seconds) from `client`.
    pub fn verify(
        &self,
        token: &str,
        path: &str,
        now: u64,
        client: Option<IpAddr>,
    ) -> Result<Token, Denied> {
        let t = self.authentic(token, client)?;
        if now > t.expires.saturating_add(SKEW_SECS) {
            return Err(Denied::Expired);
        }
        if !t.covers(path) {
            return Err(Denied::WrongPath);
        }
        Ok(t)
    }

    /// As [`Self::verify`], without handing out the token: a token found authentic before is
    /// checked where it is kept (no copy, no allocation).
    pub fn check(
        &self,
        token: &str,
        path: &str,
        now: u64,
        client: Option<IpAddr>,
    ) -> Result<(), Denied> {
        let judge = |t: &Token| {
            if now > t.expires.saturating_add(SKEW_SECS) {
                Err(Denied::Expired)
            } else if !t.covers(path) {
                Err(Denied::WrongPath)
            } else {
                Ok(())
            }
        };
        match self.verified.with(token, client, judge) {
            Some(result) => result,
            None => self.verify(token, path, now, client).map(|_| ()),
        }
    }

    /// Parses `token` and checks its signature (not its expiry or path).
    pub fn authentic(&self, token: &str, client: Option<IpAddr>) -> Result<Token, Denied> {
        if let Some(t) = self.verified.with(token, client, Token::clone) {
            return Ok(t);
        }
        let t = Token::parse(token)?;
        let ip = if t.ip_bound {
            Some(client.ok_or(Denied::BadSignature)?)
        } else {
            None
        };
        // `verify_slice` compares in constant time (the `subtle` crate underneath).
        let ok = self.secrets.iter().any(|secret| {
            mac(secret, t.expires, &t.prefix, ip).is_some_and(|m| m.verify_slice(&t.sig).is_ok())
        });
        if ok {
            self.verified.insert(token, client, &t);
            Ok(t)
        } else {
            Err(Denied::BadSignature)
        }
    }
}

fn mac(
    keyed: &Hmac<Sha256>,
    expires: u64,
    prefix: &str,
    ip: Option<IpAddr>,
) -> Option<Hmac<Sha256>> {
    let mut m = keyed.clone();
    m.update(CONTEXT);
    m.update(b"\0");
    m.update(expires.to_string().as_bytes());
    m.update(b"\0");
    m.update(prefix.as_bytes());
    m.update(b"\0");
    if let Some(ip) = ip {
        // An IPv4 client seen over an IPv6 socket (`::ffff:a.b.c.d`) is that IPv4 address.
        m.update(ip.to_canonical().to_string().as_bytes());
    }
    Some(m)
}

/// The first `token` parameter of a query string, percent-decoded (borrowed from the query
/// when it has no escapes, as the tokens [`Signer::sign`] makes).
pub fn token_of(query: Option<&str>) -> Option<std::borrow::Cow<'_, str>> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == PARAM).then(|| percent_encoding::percent_decode_str(v).decode_utf8_lossy())
    })
}

/// Which paths need a token, and the secrets that sign them.
#[derive(Debug, Clone)]
pub struct Policy {
    pub signer: Signer,
    /// Protected prefixes (`/` when none was configured: every stream).
    prefixes: Vec<String>,
}

impl Policy {
    /// `None` when there are no secrets (nothing is protected). `prefixes` as given on the
    /// command line (`/live`, `live/`, `/live/`: all mean `/live/`); none: everything.
    pub fn new<S: AsRef<[u8]>>(
        secrets: &[S],
        prefixes: &[String],
    ) -> Result<Option<Policy>, String> {
        let Some(signer) = Signer::new(secrets) else {
            if prefixes.is_empty() {
                return Ok(None);
            }
            return Err("signed_prefix needs at least one sign_secret".into());
        };
        let mut out = Vec::new();
        for p in prefixes {
            out.push(
                normalize_prefix(p)
                    .ok_or_else(|| format!("signed_prefix {p:?} is not a path like /live/"))?,
            );
        }
        if out.is_empty() {
            out.push("/".to_owned());
        }
        Ok(Some(Policy {
            signer,
            prefixes: out,
        }))
    }

    /// Whether `path` (starting with `/`) needs a token.
    pub fn protects(&self, path: &str) -> bool {
        self.prefixes.iter().any(|p| path.starts_with(p.as_str()))
    }
}

impl Policy {
    /// Everything protected and no secret verifies: what a server with an invalid signing
    /// configuration serves (closed, not open).
    pub fn deny_all() -> Policy {
        Policy {
            signer: Signer {
                secrets: Vec::new(),
                verified: verified::Verified::default(),
            },
            prefixes: vec!["/".to_owned()],
        }
    }

    /// What listings show a client with `grant` (a genuine, current token) or none.
    pub fn visibility(&self, grant: Option<&Token>) -> Visibility {
        Visibility {
            protected: self.prefixes.clone(),
            granted: grant.map(|t| t.prefix.clone()),
        }
    }
}

/// Which streams a listing (`/api/streams`, `/api/events`) shows one client: unprotected
/// ones, and protected ones under the prefix its token opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visibility {
    protected: Vec<String>,
    granted: Option<String>,
}

impl Visibility {
    /// Whether the playlist at `path` (`/a/master.m3u8`) is shown.
    pub fn shows_path(&self, path: &str) -> bool {
        let open = !self.protected.iter().any(|p| path.starts_with(p.as_str()));
        open || self.granted.as_deref().is_some_and(|g| path.starts_with(g))
    }

    /// Whether the events of stream `name` (its directory `/name/`) are shown; a directory
    /// only partly protected counts as protected.
    pub fn shows_stream(&self, name: &str) -> bool {
        let name = name.trim_matches('/');
        if name.is_empty() {
            return true;
        }
        let dir = format!("/{name}/");
        let open = !self
            .protected
            .iter()
            .any(|p| dir.starts_with(p.as_str()) || p.starts_with(&dir));
        open || self.granted.as_deref().is_some_and(|g| dir.starts_with(g))
    }
}

/// `/live`, `live/`, `/live/` → `/live/`; `/` stays.
pub fn normalize_prefix(p: &str) -> Option<String> {
    let trimmed = p.trim_matches('/');
    let out = if trimmed.is_empty() {
        "/".to_owned()
    } else {
        format!("/{trimmed}/")
    };
    valid_prefix(&out).then_some(out)
}

#[cfg(test)]
mod tests;
