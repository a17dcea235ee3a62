// SPDX-License-Identifier: MIT OR Apache-2.0
//! Key rotation under `cbcs` (`--encrypt cbcs --key-rotation N`): each crypto period of N
//! segments has its own key, key ID and constant IV, and its own initialization section.
//!
//! - **Keys, key IDs, IVs.** Key *n* is AES-128(master, *n*) ([`super::Encryption::key`]); its
//!   key ID is AES-128(key *n*, 0xEE…EE) ([`super::Encryption::kid`]) and its constant IV
//!   AES-128(key *n*, 0xFF…FF) ([`super::Encryption::key_iv`]): deterministic (the same master
//!   gives the same KIDs on every run, so a license server can be told them ahead), distinct
//!   per period, and revealing neither the key nor the master. Key *n* of a period is written
//!   as `key_<n>.bin` (mode 0600), as for the other methods.
//! - **One init segment per period** (`<rendition>_init.mp4` for key 0, `<rendition>_init_<n>.mp4`
//!   for key *n* ≥ 1, or a byte range of the single file): the same `moov` but for `tenc`
//!   (default_KID and constant IV of the period, ISO/IEC 23001-7 §8.2) and the ClearKey `pssh`
//!   (§8.1, the period's KID). The media playlist lists, where a period starts, its EXT-X-MAP
//!   (RFC 8216bis 4.4.4.5: a Media Initialization Section applies until the next EXT-X-MAP)
//!   and then its EXT-X-KEY (4.4.4.4, METHOD=SAMPLE-AES, KEYFORMAT="identity", the key URI and
//!   the period's IV); the I-frame playlist does the same. No EXT-X-DISCONTINUITY: tracks,
//!   codecs and timestamps go on unchanged (4.4.4.3 asks for one only when they change).
//!
//! Why not one init segment with `seig` sample groups (`sgpd`/`sbgp` in each `traf`, the KID of
//! each fragment, §6 and §8.2.3 of ISO/IEC 23001-7, `pssh` in `moof`), Shaka Packager's
//! `--crypto_period_duration` layout: the players and tools at hand do not all read it.
//! ffmpeg's mov demuxer skips `seig` (its `sgpd` reader keeps only other grouping types) and
//! takes the constant IV of `tenc` for every sample, so it could decrypt no period but the
//! one `tenc` names. Shaka Player's HLS identity
//! key path (Shaka 4+) maps each EXT-X-KEY's key to the `tenc` default_KID of the init
//! segment its EXT-X-MAP names — with one init segment every key would be given the same KID.
//! With a period's own init segment both work: ffmpeg decrypts each period from its init
//! segment with `-decryption_key` of that period, Shaka plays across the changes from the
//! playlist alone (or with every KID:key pair in `drm.clearKeys`), and Chromium's MSE takes a
//! new init segment with the same codecs as it takes any (the KID is per sample for its CDM).
//! The cost is a few hundred bytes per period. hls.js (1.7) does not play `cbcs` with
//! KEYFORMAT "identity", rotation or not: it treats identity SAMPLE-AES as Apple's TS format
//! and refuses it in fMP4 ("The MP4 demuxer does not support SAMPLE-AES decryption").
//!
//! EXT-X-SESSION-KEY (RFC 8216bis 4.4.6.5): one per key, as with the other methods (each has
//! its own URI; METHOD, KEYFORMAT and IV are those of its EXT-X-KEY).

use super::{playlist, Encryption};
use crate::playlist::ll::write_map;
use crate::playlist::media::Map;

/// Playlist `text` with the key tags of `keys` (the key number of each entry): at each change,
/// the EXT-X-MAP of the new period when `maps` has one (periods after the first), then its
/// EXT-X-KEY.
pub fn tagged(enc: &Encryption, maps: &[(u64, Map)], text: &str, keys: &[u64]) -> String {
    let tags: Vec<(usize, String)> = playlist::key_changes(keys.iter().copied())
        .into_iter()
        .map(|(i, n)| {
            let mut tag = String::new();
            if let Some((_, map)) = maps.iter().find(|(m, _)| *m == n) {
                write_map(map, &mut tag);
            }
            tag.push_str(&enc.key_tag(n));
            (i, tag)
        })
        .collect();
    playlist::insert_key_tags(text, &tags, enc.min_version())
}

/// The name of key period `n`'s init segment for rendition file base `base`: the first keeps
/// the name it has without rotation.
pub fn init_name(base: &str, n: u64) -> String {
    if n == 0 {
        format!("{base}_init.mp4")
    } else {
        format!("{base}_init_{n}.mp4")
    }
}

#[cfg(test)]
#[path = "rotation_tests.rs"]
mod tests;
