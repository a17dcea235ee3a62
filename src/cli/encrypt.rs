// SPDX-License-Identifier: MIT OR Apache-2.0
//! `package --encrypt …`: the encryption flags, the key (given or generated) and the key files.
//!
//! Key files: without `--key-uri` every key is written into OUTDIR as `key_<n>.bin` (16 raw
//! octets, mode 0600, RFC 8216bis 5.1) and EXT-X-KEY names it relatively, so the origin serves
//! it next to the segments — convenient, and it stops nothing but casual copying of segments:
//! whoever can read the playlist can read the key. For real protection, pass `--key-uri` to an
//! authenticated key server; a generated key is then written as `OUTDIR/.key_<n>.bin` (a
//! dotfile: never served by the origin) for you to install there, and a given key (`--key`,
//! `--key-file`) is not written at all.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use media::crypto::{key_file_name, Encryption, Method};
use rand::TryRngCore as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EncryptArg {
    /// Whole segments, AES-128-CBC (RFC 8216bis 4.4.4.4), TS and fMP4.
    #[value(name = "aes-128")]
    Aes128,
    /// Samples encrypted, MPEG-TS only (Apple's MPEG-2 Stream Encryption Format): H.264, AAC,
    /// AC-3, E-AC-3.
    SampleAes,
    /// Common Encryption cbcs, fMP4 only (METHOD=SAMPLE-AES, ClearKey pssh): H.264, HEVC,
    /// VP9, AV1, AAC, AC-3, E-AC-3, Opus. With --key-rotation each key period has its own init
    /// segment.
    Cbcs,
}

#[derive(Debug, Clone, Args)]
pub struct EncryptArgs {
    /// Encrypt the segments (EXT-X-KEY). Key from --key/--key-file, else generated.
    #[arg(long, value_enum, value_name = "METHOD")]
    pub encrypt: Option<EncryptArg>,
    /// The 16-byte key as 32 hexadecimal digits.
    #[arg(long, value_name = "HEX", conflicts_with = "key_file")]
    pub key: Option<String>,
    /// A file holding the key: 16 octets, or 32 hexadecimal digits.
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// URI players fetch the key from (EXT-X-KEY URI); `{n}` is replaced by the key number.
    /// Default: key_<n>.bin beside the playlists.
    #[arg(long, value_name = "URI")]
    pub key_uri: Option<String>,
    /// A new key every N segments (derived from the key given or generated).
    #[arg(long, value_name = "N")]
    pub key_rotation: Option<u32>,
}

/// The encryption asked for, and whether its key was generated here.
#[derive(Debug, Clone)]
pub struct Keys {
    pub encryption: Encryption,
    pub generated: bool,
}

impl EncryptArgs {
    /// The encryption of the flags (checked against each other); `None` without `--encrypt`.
    pub fn keys(&self) -> Result<Option<Keys>> {
        let Some(method) = self.encrypt else {
            if self.key.is_some()
                || self.key_file.is_some()
                || self.key_uri.is_some()
                || self.key_rotation.is_some()
            {
                bail!("--key, --key-file, --key-uri and --key-rotation need --encrypt");
            }
            return Ok(None);
        };
        if self.key_rotation == Some(0) {
            bail!("--key-rotation must be at least 1 (segments per key)");
        }
        if let (Some(_), Some(uri)) = (self.key_rotation, &self.key_uri) {
            if !uri.contains("{n}") {
                bail!(
                    "--key-uri {uri:?}: with --key-rotation it must contain {{n}}, the key number"
                );
            }
        }
        if let Some(uri) = &self.key_uri {
            if uri.is_empty() || uri.contains(['"', '\n', '\r']) {
                bail!("--key-uri {uri:?}: not a URI (empty, or with a quote or line break)");
            }
        }
        let (key, generated) = match (&self.key, &self.key_file) {
            (Some(hex), _) => (parse_hex(hex).context("--key")?, false),
            (None, Some(path)) => (read_key_file(path)?, false),
            (None, None) => (generate_key()?, true),
        };
        Ok(Some(Keys {
            encryption: Encryption {
                method: match method {
                    EncryptArg::Aes128 => Method::Aes128,
                    EncryptArg::SampleAes => Method::SampleAes,
                    EncryptArg::Cbcs => Method::Cbcs,
                },
                key,
                rotation: self.key_rotation,
                key_uri: self.key_uri.clone(),
            },
            generated,
        }))
    }
}

impl Keys {
    /// Writes the key files of a run that wrote `segments` segments into `dir` (see the module
    /// documentation); returns their names.
    pub fn write(&self, dir: &Path, segments: usize) -> Result<Vec<String>> {
        let enc = &self.encryption;
        let hidden = match (&enc.key_uri, self.generated) {
            (None, _) => false,
            (Some(_), true) => true,
            (Some(_), false) => return Ok(Vec::new()),
        };
        let mut names = Vec::new();
        for n in 0..enc.keys_used(segments as u64) {
            let name = if hidden {
                format!(".{}", key_file_name(n))
            } else {
                key_file_name(n)
            };
            write_private(&dir.join(&name), &enc.key(n))?;
            names.push(name);
        }
        Ok(names)
    }
}

/// 32 hexadecimal digits (an optional `0x` in front) → 16 octets.
fn parse_hex(s: &str) -> Result<[u8; 16]> {
    let t = s.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    if t.len() != 32 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!(
            "a key is 16 bytes: 32 hexadecimal digits, found {} characters{}",
            t.len(),
            if t.bytes().all(|b| b.is_ascii_hexdigit()) {
                ""
            } else {
                " (not all hexadecimal)"
            }
        );
    }
    let mut key = [0u8; 16];
    for (i, k) in key.iter_mut().enumerate() {
        *k = u8::from_str_radix(&t[2 * i..2 * i + 2], 16)?;
    }
    Ok(key)
}

fn read_key_file(path: &Path) -> Result<[u8; 16]> {
    let bytes = std::fs::read(path).with_context(|| format!("--key-file {}", path.display()))?;
    if let Ok(key) = <[u8; 16]>::try_from(bytes.as_slice()) {
        return Ok(key);
    }
    match std::str::from_utf8(&bytes).ok().map(parse_hex) {
        Some(Ok(key)) => Ok(key),
        _ => bail!(
            "--key-file {}: {} bytes; a key file holds 16 bytes (or 32 hexadecimal digits)",
            path.display(),
            bytes.len()
        ),
    }
}

/// 16 octets from the operating system's CSPRNG.
fn generate_key() -> Result<[u8; 16]> {
    let mut key = [0u8; 16];
    rand::rngs::OsRng
        .try_fill_bytes(&mut key)
        .context("cannot get random bytes for the key")?;
    Ok(key)
}

/// Creates `path` readable and writable by its owner only (0600) and writes `data`.
pub(crate) fn write_private(path: &Path, data: &[u8]) -> Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(data)
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_keys() {
        let cases: &[(&str, bool)] = &[
            ("000102030405060708090a0b0c0d0e0f", true),
            ("0x000102030405060708090A0B0C0D0E0F", true),
            (" 000102030405060708090a0b0c0d0e0f\n", true),
            ("000102030405060708090a0b0c0d0e", false),
            ("000102030405060708090a0b0c0d0e0f00", false),
            ("zz0102030405060708090a0b0c0d0e0f", false),
            ("", false),
        ];
        for (s, ok) in cases {
            assert_eq!(parse_hex(s).is_ok(), *ok, "{s:?}");
        }
        assert_eq!(
            parse_hex("000102030405060708090a0b0c0d0e0f").unwrap(),
            core::array::from_fn::<u8, 16, _>(|i| i as u8)
        );
    }
}
