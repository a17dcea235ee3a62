// SPDX-License-Identifier: MIT OR Apache-2.0
//! Stream keys: who may publish which stream name. The key comes with the publish request
//! (RTMP: `NAME?key=K` as the stream name, OBS's "stream key" field; SRT: `k=K` in the
//! streamid) and is checked here in constant time. It is split off the name at once and
//! never logged, stored or sent anywhere.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// The policy of `--publish-keys FILE` / `--publish-secret S` (or none: anyone may publish).
#[derive(Clone, Default)]
pub enum Keys {
    /// No key needed (one given is ignored).
    #[default]
    Open,
    /// `NAME SECRET` lines: NAME may be published with key SECRET only; other names never.
    Table(HashMap<String, Vec<u8>>),
    /// The key of NAME is hex(HMAC-SHA256(secret, NAME)) ([`derive`]).
    Secret(Vec<u8>),
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secrets.
        match self {
            Keys::Open => f.write_str("Keys::Open"),
            Keys::Table(t) => write!(f, "Keys::Table({} names)", t.len()),
            Keys::Secret(_) => f.write_str("Keys::Secret"),
        }
    }
}

/// Why a publish was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    Missing,
    Wrong,
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeyError::Missing => "no stream key given",
            KeyError::Wrong => "wrong stream key",
        })
    }
}

impl Keys {
    /// From the command line: at most one of the two flags.
    pub fn from_args(file: Option<&Path>, secret: Option<&str>) -> Result<Keys> {
        match (file, secret) {
            (Some(_), Some(_)) => bail!("give --publish-keys or --publish-secret, not both"),
            (Some(path), None) => Keys::read(path),
            (None, Some("")) => bail!("--publish-secret must not be empty"),
            (None, Some(s)) => Ok(Keys::Secret(s.as_bytes().to_vec())),
            (None, None) => Ok(Keys::Open),
        }
    }

    /// Reads `NAME SECRET` lines (blank lines and `#` comments skipped).
    pub fn read(path: &Path) -> Result<Keys> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read --publish-keys {}", path.display()))?;
        Keys::parse(&text).with_context(|| format!("--publish-keys {}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Keys> {
        let mut table = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut words = line.split_whitespace();
            let (Some(name), Some(secret), None) = (words.next(), words.next(), words.next())
            else {
                bail!("line {}: expected `NAME SECRET`", i + 1);
            };
            if table
                .insert(name.to_owned(), secret.as_bytes().to_vec())
                .is_some()
            {
                bail!("line {}: {name:?} given twice", i + 1);
            }
        }
        if table.is_empty() {
            bail!("no `NAME SECRET` line");
        }
        Ok(Keys::Table(table))
    }

    pub fn is_open(&self) -> bool {
        matches!(self, Keys::Open)
    }

    /// May `name` be published with `key`? Compared in constant time.
    pub fn check(&self, name: &str, key: Option<&str>) -> Result<(), KeyError> {
        let key = match (self, key) {
            (Keys::Open, _) => return Ok(()),
            (_, None | Some("")) => return Err(KeyError::Missing),
            (_, Some(k)) => k,
        };
        let ok = match self {
            Keys::Open => true,
            Keys::Table(table) => table
                .get(name)
                .is_some_and(|secret| bool::from(secret.as_slice().ct_eq(key.as_bytes()))),
            Keys::Secret(secret) => match hex_decode(key) {
                Some(bytes) => mac(secret, name).verify_slice(&bytes).is_ok(),
                None => false,
            },
        };
        if ok {
            Ok(())
        } else {
            Err(KeyError::Wrong)
        }
    }
}

fn mac(secret: &[u8], name: &str) -> HmacSha256 {
    // HMAC takes keys of any length.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(name.as_bytes());
    mac
}

/// The stream key of `name` under `--publish-secret secret`: hex(HMAC-SHA256(secret, name)).
pub fn derive(secret: &str, name: &str) -> String {
    mac(secret.as_bytes(), name)
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.as_bytes()
        .chunks(2)
        .map(|pair| {
            let hi = hex_digit(*pair.first()?)?;
            let lo = hex_digit(*pair.get(1)?)?;
            Some(hi << 4 | lo)
        })
        .collect()
}

fn hex_digit(c: u8) -> Option<u8> {
    char::from(c)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// Splits `NAME?key=K&…` (an RTMP stream name with a query) into NAME and the key. Other
/// query parameters are ignored.
pub fn split_key(published: &str) -> (&str, Option<&str>) {
    let Some((name, query)) = published.split_once('?') else {
        return (published, None);
    };
    let key = query.split('&').find_map(|kv| kv.strip_prefix("key="));
    (name, key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split() {
        for (published, name, key) in [
            ("cam", "cam", None),
            ("cam?key=abc", "cam", Some("abc")),
            ("cam?x=1&key=abc&y=2", "cam", Some("abc")),
            ("cam?key=", "cam", Some("")),
            ("cam?x=1", "cam", None),
        ] {
            assert_eq!(split_key(published), (name, key), "{published}");
        }
    }

    /// The derived key is the standard HMAC-SHA256 (RFC 4231 test case 2: key "Jefe").
    #[test]
    fn derive_is_hmac_sha256_hex() {
        assert_eq!(
            derive("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn checks() {
        let secret = Keys::from_args(None, Some("s3cret")).expect("secret");
        let good = derive("s3cret", "cam");
        let table = Keys::parse("# comment\ncam  abc\n\nnews xyz\n").expect("table");
        let open = Keys::Open;
        type Case<'a> = (&'a Keys, &'a str, Option<&'a str>, Result<(), KeyError>);
        let upper = good.to_uppercase();
        let cases: Vec<Case> = vec![
            (&open, "cam", None, Ok(())),
            (&open, "cam", Some("whatever"), Ok(())),
            (&secret, "cam", Some(&good), Ok(())),
            (&secret, "cam", Some(&upper), Ok(())),
            (&secret, "other", Some(&good), Err(KeyError::Wrong)),
            (&secret, "cam", None, Err(KeyError::Missing)),
            (&secret, "cam", Some(""), Err(KeyError::Missing)),
            (&secret, "cam", Some("zz"), Err(KeyError::Wrong)),
            (&secret, "cam", Some("abc"), Err(KeyError::Wrong)),
            (&secret, "cam", Some(&good[..62]), Err(KeyError::Wrong)),
            (&table, "cam", Some("abc"), Ok(())),
            (&table, "news", Some("xyz"), Ok(())),
            (&table, "cam", Some("xyz"), Err(KeyError::Wrong)),
            (&table, "cam", Some("ab"), Err(KeyError::Wrong)),
            (&table, "other", Some("abc"), Err(KeyError::Wrong)),
            (&table, "cam", None, Err(KeyError::Missing)),
        ];
        for (keys, name, key, want) in cases {
            assert_eq!(keys.check(name, key), want, "{keys:?} {name} {key:?}");
        }
    }

    #[test]
    fn bad_tables_and_flags() {
        for (text, want) in [
            ("cam\n", "line 1: expected `NAME SECRET`"),
            ("a b c\n", "line 1: expected"),
            ("a b\na c\n", "line 2: \"a\" given twice"),
            ("# only a comment\n", "no `NAME SECRET` line"),
        ] {
            let e = Keys::parse(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
        let both = Keys::from_args(Some(Path::new("k")), Some("s")).unwrap_err();
        assert!(both.to_string().contains("not both"), "{both}");
        assert!(Keys::from_args(None, Some("")).is_err());
        // The secrets never show in Debug output.
        let dbg = format!("{:?}", Keys::parse("cam abc").expect("table"));
        assert!(!dbg.contains("abc"), "{dbg}");
    }
}
