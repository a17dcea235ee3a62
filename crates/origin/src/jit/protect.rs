// SPDX-License-Identifier: MIT OR Apache-2.0
//! Encryption of just-in-time output (README "Just-in-time packaging", encryption):
//! `--jit-encrypt cbcs` protects the fMP4 output (`/FILE.mp4/…`) with Common Encryption
//! `cbcs`, `--jit-encrypt sample-aes` the MPEG-TS output (`/FILE.mp4/ts/…`) with Apple's
//! SAMPLE-AES — each exactly as `package --encrypt` writes it with the stream's key. With
//! encryption on, a format no method names is not served (never a clear copy of a protected
//! stream).
//!
//! Keys are derived, never stored: the master key of a stream is the first 16 bytes of
//! HMAC-SHA256(`--jit-key-secret`, PATH), PATH being the file's (or mapping file's) path under
//! the root without a leading `/` (`movies/title.mp4`). So every origin with the secret
//! serves the same bytes, and a key server can compute the same keys. `--jit-key-rotation N`
//! rotates them every N segments as `package --key-rotation` does. Without `--jit-key-uri`
//! the origin serves key *n* itself as `key_<n>.bin` beside the playlists (protect it with
//! signed URLs); with it, the playlists name that URI (`{path}`: PATH, `{n}`: key number) and
//! the origin serves no key.

use bytes::Bytes;
use hmac::{Hmac, Mac};
use media::crypto::{Encryption, Method};
use media::package::Format;
use sha2::{Digest, Sha256};

use super::{refused, Refusal};

/// How just-in-time output is encrypted (`--jit-encrypt`, `--jit-key-*`).
#[derive(Clone)]
pub struct JitProtection {
    fmp4: Option<Method>,
    ts: Option<Method>,
    secret: Vec<u8>,
    rotation: Option<u32>,
    key_uri: Option<String>,
}

impl std::fmt::Debug for JitProtection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.debug_struct("JitProtection")
            .field("fmp4", &self.fmp4)
            .field("ts", &self.ts)
            .field("rotation", &self.rotation)
            .field("key_uri", &self.key_uri)
            .finish_non_exhaustive()
    }
}

impl JitProtection {
    /// From the options: `methods` (`cbcs`, `sample-aes`); `None` when none is given. Errors
    /// name the option to change.
    pub fn new(
        methods: &[String],
        secret: Option<&str>,
        rotation: Option<u32>,
        key_uri: Option<&str>,
    ) -> Result<Option<Self>, String> {
        let mut p = JitProtection {
            fmp4: None,
            ts: None,
            secret: Vec::new(),
            rotation: rotation.filter(|&n| n > 0),
            key_uri: key_uri.map(str::to_owned),
        };
        let mut whole = false;
        for m in methods.iter().map(|m| m.trim()).filter(|m| !m.is_empty()) {
            match m.to_ascii_lowercase().as_str() {
                "cbcs" => p.fmp4 = Some(Method::Cbcs),
                "sample-aes" => p.ts = Some(Method::SampleAes),
                "aes-128" => whole = true,
                other => {
                    return Err(format!(
                        "jit_encrypt: unknown method {other:?}; use cbcs (fMP4), sample-aes \
                         (MPEG-TS) and/or aes-128 (whole segments, the formats the others do \
                         not name)"
                    ))
                }
            }
        }
        if whole {
            p.fmp4.get_or_insert(Method::Aes128);
            p.ts.get_or_insert(Method::Aes128);
        }
        if p.fmp4.is_none() && p.ts.is_none() {
            if secret.is_some() || rotation.is_some() || key_uri.is_some() {
                return Err("jit_key_secret, jit_key_rotation and jit_key_uri need \
                            jit_encrypt (cbcs, sample-aes, aes-128)"
                    .into());
            }
            return Ok(None);
        }
        match secret {
            Some(s) if s.len() >= 16 => p.secret = s.as_bytes().to_vec(),
            Some(_) => return Err("jit_key_secret: at least 16 characters".into()),
            None => return Err("jit_encrypt needs jit_key_secret (the keys derive from it)".into()),
        }
        Ok(Some(p))
    }

    /// The master key of the stream at `path` (its file's path under the root):
    /// HMAC-SHA256(secret, path), first 16 bytes.
    pub fn key(&self, path: &str) -> [u8; 16] {
        let mut mac = <Hmac<Sha256>>::new_from_slice(&self.secret)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(path.as_bytes());
        let tag = mac.finalize().into_bytes();
        let mut key = [0u8; 16];
        key.copy_from_slice(tag.get(..16).unwrap_or(&[0; 16]));
        key
    }

    /// How the `format` output of the stream at `path` is encrypted; 404 when encryption is
    /// on but names no method for `format`.
    pub fn encryption(&self, path: &str, format: Format) -> Result<Encryption, Refusal> {
        let path = path.trim_start_matches('/');
        let method = match format {
            Format::Fmp4 => self.fmp4,
            Format::Ts => self.ts,
        };
        let Some(method) = method else {
            return Err(refused(
                404,
                format!(
                    "{path}: {} output is not served: --jit-encrypt names no method for it",
                    format.name()
                ),
            ));
        };
        Ok(Encryption {
            method,
            key: self.key(path),
            rotation: self.rotation,
            key_uri: self
                .key_uri
                .as_ref()
                .map(|u| u.replace("{path}", &uri_path(path))),
        })
    }

    /// Key object `name` (`key_<n>.bin`) of the stream at `path`, if the origin serves keys
    /// and `master` (the stream's master playlist) lists it.
    pub fn key_object(&self, enc: &Encryption, name: &str, master: &[u8]) -> Option<Bytes> {
        if self.key_uri.is_some() {
            return None;
        }
        let n: u64 = name
            .strip_prefix("key_")?
            .strip_suffix(".bin")?
            .parse()
            .ok()?;
        let listed = format!("URI=\"{}\"", media::crypto::key_file_name(n));
        let master = std::str::from_utf8(master).ok()?;
        master
            .contains(&listed)
            .then(|| Bytes::copy_from_slice(&enc.key(n)))
    }

    /// A short digest of what changes the bytes served (method, keys, rotation, key URI), for
    /// the ETag: origins configured alike give alike ETags.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        h.update(format!(
            "{:?}|{:?}|{:?}|{:?}|",
            self.fmp4, self.ts, self.rotation, self.key_uri
        ));
        h.update(&self.secret);
        h.finalize()
            .iter()
            .take(4)
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// `path` as it goes into a URI: every byte but the unreserved ones and `/` percent-encoded
/// (RFC 3986 2.3, 2.1), so a file named with spaces or non-ASCII letters gives a key URI
/// players can fetch.
fn uri_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(methods: &[&str]) -> Result<Option<JitProtection>, String> {
        let m: Vec<String> = methods.iter().map(|s| (*s).to_owned()).collect();
        JitProtection::new(&m, Some("0123456789abcdef-secret"), None, None)
    }

    #[test]
    fn options_table() {
        // (methods, ok, message part)
        use Method::{Aes128, Cbcs, SampleAes};
        type Want = Result<(Option<Method>, Option<Method>), &'static str>;
        // (methods, (fMP4, TS) or a part of the error)
        let cases: &[(&[&str], Want)] = &[
            (&["cbcs"], Ok((Some(Cbcs), None))),
            (&["sample-aes", "cbcs"], Ok((Some(Cbcs), Some(SampleAes)))),
            (&["aes-128"], Ok((Some(Aes128), Some(Aes128)))),
            (&["cbcs", "aes-128"], Ok((Some(Cbcs), Some(Aes128)))),
            (
                &["AES-128", "sample-aes"],
                Ok((Some(Aes128), Some(SampleAes))),
            ),
            (&["cenc"], Err("unknown method")),
        ];
        for (methods, want) in cases {
            match (p(methods), want) {
                (Ok(Some(got)), Ok(want)) => {
                    assert_eq!((got.fmp4, got.ts), *want, "{methods:?}")
                }
                (Err(e), Err(part)) => assert!(e.contains(part), "{methods:?}: {e}"),
                (got, _) => panic!("{methods:?}: {got:?}"),
            }
        }
        assert!(JitProtection::new(&[], None, None, None).unwrap().is_none());
        let short = JitProtection::new(&["cbcs".into()], Some("short"), None, None);
        assert!(short.unwrap_err().contains("16"));
        let none = JitProtection::new(&["cbcs".into()], None, None, None);
        assert!(none.unwrap_err().contains("jit_key_secret"));
        let orphan = JitProtection::new(&[], Some("0123456789abcdef"), None, None);
        assert!(orphan.unwrap_err().contains("need"));
    }

    #[test]
    fn keys_derive_from_secret_and_path() {
        let a = p(&["cbcs"]).unwrap().unwrap();
        assert_eq!(a.key("m/a.mp4"), a.key("m/a.mp4"));
        assert_ne!(a.key("m/a.mp4"), a.key("m/b.mp4"));
        // RFC 4231 test case 2: HMAC-SHA256("Jefe", "what do ya want for nothing?").
        let jefe = JitProtection {
            secret: b"Jefe".to_vec(),
            ..a.clone()
        };
        let want = "5bdcc146bf60754e6a042426089575c7";
        let got: String = jefe
            .key("what do ya want for nothing?")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(got, want);
        // A format without a method is not served.
        assert_eq!(a.encryption("m/a.mp4", Format::Ts).unwrap_err().status, 404);
        let enc = a.encryption("m/a.mp4", Format::Fmp4).unwrap();
        assert_eq!(enc.method, Method::Cbcs);
        let master = b"#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI=\"key_0.bin\"\n";
        assert_eq!(
            a.key_object(&enc, "key_0.bin", master).as_deref(),
            Some(&enc.key(0)[..])
        );
        assert!(a.key_object(&enc, "key_1.bin", master).is_none());
        assert!(a.key_object(&enc, "key_x.bin", master).is_none());
    }

    #[test]
    fn key_uri_names_the_path_percent_encoded() {
        let m = ["sample-aes".to_owned()];
        let uri = Some("https://k.example/{path}/{n}");
        let p = JitProtection::new(&m, Some("0123456789abcdef"), None, uri)
            .unwrap()
            .unwrap();
        for (path, want) in [
            ("/a/b.mp4", "https://k.example/a/b.mp4/0"),
            (
                "films/Été 1.mp4",
                "https://k.example/films/%C3%89t%C3%A9%201.mp4/0",
            ),
            ("x?y#z.mp4", "https://k.example/x%3Fy%23z.mp4/0"),
        ] {
            let enc = p.encryption(path, Format::Ts).unwrap();
            assert_eq!(enc.key_uri(0), want, "{path}");
            // The key still derives from the path itself (no leading `/`).
            assert_eq!(enc.key, p.key(path.trim_start_matches('/')), "{path}");
        }
    }
}
