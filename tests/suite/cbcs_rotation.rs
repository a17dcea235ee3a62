// SPDX-License-Identifier: MIT OR Apache-2.0
//! `package --format fmp4 --encrypt cbcs --key-rotation 2` (crates/media/src/crypto/rotation.rs):
//! every period of two segments has its own key, key ID, IV and init segment. Checked with
//! m3u8-rs (EXT-X-MAP and EXT-X-KEY change together, in the media and I-frame playlists of a
//! single rendition and of a ladder, audio too), openssl (the documented key, KID and IV
//! derivation), a box walk of each init segment (`tenc`, `pssh`), ffmpeg (each period decrypts
//! with its own key behind its own init segment to the clear packaging's frames, and not with
//! another period's key or init segment) and Shaka Player in Chromium (ClearKey EME) playing
//! across two key changes.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Stdio};

use super::cbcs::decoded_playlist;
use super::ladder::{french, master, package_ladder, rendition};
use crate::common::server::{drm_harness, serve};
use crate::common::{fixtures, out_dir, package, run};

const KEY: &str = "8899aabbccddeeff0011223344556677";

/// One key period of a media playlist: its init segment, its EXT-X-KEY and its entries.
#[derive(Debug)]
struct Period {
    /// Index of the period's first entry.
    first: usize,
    map: m3u8_rs::Map,
    key: m3u8_rs::Key,
    entries: Vec<(String, Option<m3u8_rs::ByteRange>)>,
}

fn media(dir: &Path, name: &str) -> m3u8_rs::MediaPlaylist {
    let text = std::fs::read(dir.join(name)).unwrap();
    m3u8_rs::parse_media_playlist_res(&text)
        .unwrap_or_else(|e| panic!("{name}: {e:?}\n{}", String::from_utf8_lossy(&text)))
}

/// The periods of media playlist `name`: a new one wherever an EXT-X-KEY appears, which must
/// come with its EXT-X-MAP (except the first, whose map is the header's).
fn key_periods(dir: &Path, name: &str) -> Vec<Period> {
    let pl = media(dir, name);
    let mut out: Vec<Period> = Vec::new();
    let mut map = None;
    for (i, s) in pl.segments.iter().enumerate() {
        if let Some(m) = &s.map {
            assert!(
                s.key.is_some(),
                "{name} entry {i}: EXT-X-MAP without a new key"
            );
            map = Some(m.clone());
        }
        if let Some(k) = &s.key {
            let period_map = map.clone().expect("EXT-X-MAP before the first key");
            if let Some(last) = out.last() {
                assert_ne!(
                    last.map, period_map,
                    "{name} entry {i}: key changes, map not"
                );
            }
            out.push(Period {
                first: i,
                map: period_map,
                key: k.clone(),
                entries: Vec::new(),
            });
        }
        let period = out.last_mut().expect("an EXT-X-KEY before the first entry");
        // m3u8-rs leaves a byte range's offset out when it follows the previous one.
        period.entries.push((s.uri.clone(), s.byte_range.clone()));
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// AES-128-ECB of one block with openssl: the derivations rotation.rs documents.
fn aes_block(key: &[u8], block: &[u8]) -> Vec<u8> {
    let mut child = Command::new("openssl")
        .args(["enc", "-aes-128-ecb", "-nopad", "-K", &hex(key)])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("openssl");
    use std::io::Write as _;
    child.stdin.take().unwrap().write_all(block).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    out.stdout
}

/// Bytes of `uri` in `dir`, or of its byte range.
fn read(dir: &Path, uri: &str, range: Option<(u64, u64)>) -> Vec<u8> {
    let all = std::fs::read(dir.join(uri)).unwrap();
    match range {
        Some((len, off)) => all[off as usize..(off + len) as usize].to_vec(),
        None => all,
    }
}

fn map_bytes(dir: &Path, map: &m3u8_rs::Map) -> Vec<u8> {
    let range = map
        .byte_range
        .as_ref()
        .map(|r| (r.length, r.offset.unwrap()));
    read(dir, &map.uri, range)
}

/// The payloads of every box named `kind` under `data`, descending into the containers of an
/// init segment's protection (ISO/IEC 14496-12 and 23001-7 box layout, walked here on its own).
fn boxes<'a>(data: &'a [u8], kind: &[u8; 4], out: &mut Vec<&'a [u8]>) {
    let mut pos = 0;
    while pos + 8 <= data.len() {
        let size = u32::from_be_bytes(data[pos..pos + 4].try_into().unwrap()) as usize;
        let name = &data[pos + 4..pos + 8];
        assert!(
            size >= 8 && pos + size <= data.len(),
            "box {name:?} at {pos}"
        );
        let body = &data[pos + 8..pos + size];
        if name == kind {
            out.push(body);
        }
        // Children start after: nothing (containers), the full box header and entry count
        // (stsd), or the sample entry's fields (visual 78, audio 28 bytes).
        let skip = match name {
            b"moov" | b"trak" | b"mdia" | b"minf" | b"stbl" | b"sinf" | b"schi" => Some(0),
            b"stsd" => Some(8),
            b"encv" => Some(78),
            b"enca" => Some(28),
            _ => None,
        };
        if let Some(skip) = skip {
            boxes(&body[skip..], kind, out);
        }
        pos += size;
    }
}

/// Checks the init segment of a period: every track's `tenc` (v1, protected, constant IV)
/// names `kid` and `iv`, and the ClearKey `pssh` lists `kid`.
fn check_init(init: &[u8], kid: &[u8], iv: &[u8], tracks: usize, what: &str) {
    let mut tencs = Vec::new();
    boxes(init, b"tenc", &mut tencs);
    assert_eq!(tencs.len(), tracks, "{what}: one tenc per track");
    for t in tencs {
        assert_eq!(t[0], 1, "{what}: tenc version");
        assert_eq!((t[6], t[7]), (1, 0), "{what}: protected, constant IV");
        assert_eq!(&t[8..24], kid, "{what}: tenc default_KID");
        assert_eq!((t[24], &t[25..41]), (16, iv), "{what}: tenc constant IV");
    }
    // ISO/IEC 23001-7 10.4 (and Apple's cbcs profile): video 1:9 (1 encrypted 16-byte block
    // in 10), audio 0:0 (whole-block CBC); the pattern byte is crypt << 4 | skip.
    let mut patterns = Vec::new();
    for (entry, skip, want) in [(b"encv", 78, 0x19), (b"enca", 28, 0x00)] {
        let mut entries = Vec::new();
        boxes(init, entry, &mut entries);
        for e in entries {
            let mut t = Vec::new();
            boxes(&e[skip..], b"tenc", &mut t);
            assert_eq!(t.len(), 1, "{what}: one tenc in {entry:?}");
            assert_eq!(t[0][5], want, "{what}: {entry:?} tenc pattern");
            patterns.push(t[0][5]);
        }
    }
    assert_eq!(patterns.len(), tracks, "{what}: encv/enca per track");
    let mut pssh = Vec::new();
    boxes(init, b"pssh", &mut pssh);
    assert_eq!(pssh.len(), 1, "{what}: pssh");
    assert_eq!(&pssh[0][4..20], unhex("1077efecc0b24d02ace33c1e52e2fb4b"));
    assert_eq!(&pssh[0][20..24], 1u32.to_be_bytes(), "{what}: one KID");
    assert_eq!(&pssh[0][24..40], kid, "{what}: pssh KID");
}

/// `dir/key_<n>.bin` checked against the derivation (key n = AES(master, n)), mode 0600.
fn period_key(dir: &Path, n: u64) -> Vec<u8> {
    let path = dir.join(format!("key_{n}.bin"));
    let key = std::fs::read(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{}", path.display());
    assert_eq!(key, aes_block(&unhex(KEY), &u128::from(n).to_be_bytes()));
    key
}

/// ffmpeg's frame MD5s of each fragment of `entries` decoded behind `init` with `key` (see
/// suite::cbcs: one fragment per file), and its error output.
fn decode_period(
    dir: &Path,
    init: &[u8],
    entries: &[(String, Option<(u64, u64)>)],
    key: &[u8],
) -> (Vec<String>, String) {
    let file = dir.join("probe-period.mp4");
    let (mut md5s, mut errors) = (Vec::new(), String::new());
    for (uri, range) in entries {
        let segment = read(dir, uri, *range);
        for frag in super::cbcs::fragments(&segment) {
            std::fs::write(&file, [init, frag].concat()).unwrap();
            let out = run(Command::new("ffmpeg")
                .args(["-v", "error", "-decryption_key", &hex(key), "-i"])
                .arg(&file)
                .args(["-f", "framemd5", "-"]));
            errors.push_str(&String::from_utf8_lossy(&out.stderr));
            md5s.extend(
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .filter(|l| !l.starts_with('#'))
                    .map(str::to_owned),
            );
        }
    }
    (md5s, errors)
}

/// Each entry's byte range with its offset made explicit (m3u8-rs leaves it out when it
/// follows the previous range of the same file).
fn ranges(period: &Period, start: &mut u64) -> Vec<(String, Option<(u64, u64)>)> {
    period
        .entries
        .iter()
        .map(|(uri, br)| {
            let range = br.as_ref().map(|r| {
                let off = r.offset.unwrap_or(*start);
                *start = off + r.length;
                (r.length, off)
            });
            (uri.clone(), range)
        })
        .collect()
}

/// Checks every period of media playlist `name` in `enc` against the same playlist of the clear
/// packaging `clear` (frame MD5s), and that a wrong key or a wrong init segment does not give
/// them. Returns the periods.
fn check_playlist(enc: &Path, clear: &Path, name: &str, tracks: usize) -> Vec<Period> {
    let periods = key_periods(enc, name);
    let (want, clear_errors) = decoded_playlist(clear, name, None);
    assert!(clear_errors.is_empty(), "{name}: {clear_errors}");
    let (mut done, mut start) = (0usize, 0u64);
    for (n, p) in periods.iter().enumerate() {
        let n = n as u64;
        let key = period_key(enc, n);
        // EXT-X-KEY: key n's URI, its IV = AES(key n, 0xFF…), KEYFORMAT identity.
        let iv = aes_block(&key, &[0xFF; 16]);
        let kid = aes_block(&key, &[0xEE; 16]);
        assert_eq!(format!("{}", p.key.method), "SAMPLE-AES", "{name}");
        assert_eq!(p.key.uri.as_deref(), Some(format!("key_{n}.bin").as_str()));
        assert_eq!(
            p.key.iv.as_deref(),
            Some(format!("0x{}", hex(&iv)).as_str())
        );
        assert_eq!(p.key.keyformat.as_deref(), Some("identity"));
        let init = map_bytes(enc, &p.map);
        check_init(&init, &kid, &iv, tracks, &format!("{name} period {n}"));
        let entries = ranges(p, &mut start);
        let (md5s, errors) = decode_period(enc, &init, &entries, &key);
        assert!(errors.is_empty(), "{name} period {n}: {errors}");
        let clear_part = want.get(done..done + md5s.len()).unwrap_or_default();
        assert!(
            md5s == clear_part,
            "{name} period {n}: not the clear frames"
        );
        done += md5s.len();
        if n == 1 {
            // Period 1 with key 0 behind its own init, or with key 1 behind period 0's init
            // (another constant IV): not the clear frames.
            let first = map_bytes(enc, &periods[0].map);
            let other_key = decode_period(enc, &init, &entries, &period_key(enc, 0)).0;
            assert!(
                other_key != clear_part,
                "{name}: period 1 decrypts with key 0"
            );
            let other_init = decode_period(enc, &first, &entries, &key).0;
            assert!(
                other_init != clear_part,
                "{name}: period 1 decrypts behind init 0"
            );
        }
    }
    assert_eq!(done, want.len(), "{name}: every frame decrypted");
    periods
}

fn package_fmp4(input: &Path, out: &Path, extra: &[&str]) {
    let mut args = vec!["--format", "fmp4", "--segment-duration", "2", "--quiet"];
    args.extend_from_slice(extra);
    package(input, out, &args);
}

#[test]
fn rotating_cbcs_keys_decrypt_per_period_and_play_in_shaka() {
    let root = out_dir("cbcs-rotation");
    std::fs::create_dir_all(&root).unwrap();
    let input = fixtures::playback();
    let rotate = ["--encrypt", "cbcs", "--key", KEY, "--key-rotation", "2"];
    let (clear, enc) = (root.join("clear"), root.join("enc"));
    package_fmp4(&input, &clear, &[]);
    package_fmp4(&input, &enc, &rotate);

    let periods = check_playlist(&enc, &clear, "stream.m3u8", 2);
    assert!(periods.len() >= 3, "{periods:?}");
    let firsts: Vec<usize> = periods.iter().map(|p| p.first).collect();
    assert_eq!(
        firsts,
        (0..periods.len()).map(|n| 2 * n).collect::<Vec<_>>()
    );
    let maps: Vec<&str> = periods.iter().map(|p| p.map.uri.as_str()).collect();
    // --run-id test: the rendition's files are stream_test_*.
    assert_eq!(
        maps[..3],
        [
            "stream_test_init.mp4",
            "stream_test_init_1.mp4",
            "stream_test_init_2.mp4"
        ]
    );
    // The I-frame playlist changes key and map at the same segments.
    let iframes = key_periods(&enc, "stream_iframes.m3u8");
    let iframe_maps: Vec<&str> = iframes.iter().map(|p| p.map.uri.as_str()).collect();
    assert_eq!(iframe_maps, maps);
    for (i, p) in iframes.iter().zip(&periods) {
        assert_eq!(i.key, p.key);
        assert!(i
            .entries
            .iter()
            .all(|(u, _)| p.entries.iter().any(|(v, _)| u == v)));
    }
    // RFC 8216bis 4.4.6.5: the master preloads every key with its EXT-X-KEY attributes.
    let m = master(&enc);
    let session: Vec<_> = m.session_key.iter().map(|k| k.0.clone()).collect();
    let keys: Vec<_> = periods.iter().map(|p| p.key.clone()).collect();
    assert_eq!(session, keys);

    // --single-file: each period's init segment is a byte range of the one file.
    let single = root.join("single");
    package_fmp4(
        &input,
        &single,
        &[&rotate[..], &["--single-file"][..]].concat(),
    );
    let sp = check_playlist(&single, &clear, "stream.m3u8", 2);
    assert_eq!(sp.len(), periods.len());
    assert!(sp.iter().all(|p| p.map.byte_range.is_some()), "{sp:?}");

    // Shaka Player plays across two key changes: with every KID:key pair given (drm.clearKeys),
    // and from the playlist alone (identity keys, each bound to the KID of its period's init).
    let pl = media(&enc, "stream.m3u8");
    let third: f32 = pl.segments[..periods[2].first]
        .iter()
        .map(|s| s.duration)
        .sum();
    let seconds = format!("{:.1}", third + 0.8);
    let pairs: Vec<String> = (0..periods.len() as u64)
        .map(|n| {
            let key = period_key(&enc, n);
            format!("{}:{}", hex(&aes_block(&key, &[0xEE; 16])), hex(&key))
        })
        .collect();
    let pairs = pairs.join(",");
    let server = serve(&root, &[]);
    let url = format!("{}/enc/master.m3u8", server.base);
    for extra in [&["--keys", pairs.as_str()][..], &[][..]] {
        let mut args = vec!["--url", url.as_str(), "--seconds", seconds.as_str()];
        args.extend_from_slice(extra);
        let report = drm_harness(&args);
        assert_eq!(report["ok"], true, "{extra:?}: {report}");
        let fetched: Vec<&str> = report["fetched"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        for init in &maps[..3] {
            assert!(
                fetched.iter().any(|f| f.ends_with(init)),
                "{extra:?}: {init} not fetched: {fetched:?}"
            );
        }
    }
}

/// A ladder (two video variants, their audio and a French rendition): every rendition changes
/// key and init segment at the same segment, and every period of every media playlist decrypts
/// with its key to the clear ladder's frames.
#[test]
fn rotating_cbcs_ladder_changes_keys_together() {
    let root = out_dir("cbcs-rotation-ladder");
    std::fs::create_dir_all(&root).unwrap();
    let inputs = [rendition("1280x720", "1500k"), rendition("640x360", "400k")];
    let audio = format!("{},lang=fr", french().display());
    let base = [
        "--audio",
        &audio,
        "--format",
        "fmp4",
        "--segment-duration",
        "2",
        "--quiet",
    ];
    let (clear, enc) = (root.join("clear"), root.join("enc"));
    package_ladder(&inputs, &clear, &base);
    let rotate = ["--encrypt", "cbcs", "--key", KEY, "--key-rotation", "2"];
    package_ladder(&inputs, &enc, &[&base[..], &rotate[..]].concat());
    let m = master(&enc);
    let mut uris: Vec<String> = m.variants.iter().map(|v| v.uri.clone()).collect();
    uris.extend(m.alternatives.iter().filter_map(|a| a.uri.clone()));
    uris.sort();
    uris.dedup();
    assert_eq!(uris.len(), 6, "{uris:?}: 2 variants + 2 I-frame + 2 audio");
    let mut starts = Vec::new();
    for uri in uris.iter().filter(|u| !u.contains("iframes")) {
        let periods = check_playlist(&enc, &clear, uri, 1);
        assert!(periods.len() >= 3, "{uri}: {periods:?}");
        starts.push(periods.iter().map(|p| p.first).collect::<Vec<_>>());
        let keys: Vec<_> = periods.iter().map(|p| p.key.clone()).collect();
        let session: Vec<_> = m.session_key.iter().map(|k| k.0.clone()).collect();
        assert_eq!(session[..keys.len()], keys, "{uri}");
        if let Some(i) = uris
            .iter()
            .find(|i| **i == uri.replace(".m3u8", "_iframes.m3u8"))
        {
            // The variant's I-frame playlist: the same keys and init segments.
            let iframes = key_periods(&enc, i);
            let pairs = |ps: &[Period]| -> Vec<_> {
                ps.iter().map(|p| (p.key.clone(), p.map.clone())).collect()
            };
            assert_eq!(pairs(&iframes), pairs(&periods), "{i}");
        }
    }
    // Every rendition changes key at segments 0, 2, 4… (an audio rendition may have one more
    // segment than the video: the audio outlasts the last video cut).
    let every_two = |s: &Vec<usize>| s.iter().enumerate().all(|(n, &i)| i == 2 * n);
    assert!(starts.iter().all(every_two), "{starts:?}");

    // Shaka Player plays the ladder (video and audio renditions) across two key changes from
    // the playlists alone: each key bound to the KID of its rendition's period init segment.
    let pl = media(&enc, "video_0.m3u8");
    let third: f32 = pl.segments[..4].iter().map(|s| s.duration).sum();
    let seconds = format!("{:.1}", third + 0.8);
    let server = serve(&root, &[]);
    let url = format!("{}/enc/master.m3u8", server.base);
    let report = drm_harness(&["--url", &url, "--seconds", &seconds]);
    assert_eq!(report["ok"], true, "{report}");
    let fetched = report["fetched"].to_string();
    for init in ["_init_1.mp4", "_init_2.mp4"] {
        assert!(
            fetched.contains(&format!("audio_0_test{init}")),
            "{fetched}"
        );
    }
}
