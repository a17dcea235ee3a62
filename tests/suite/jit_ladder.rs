// SPDX-License-Identifier: MIT OR Apache-2.0
//! Just-in-time ladders from mapping files (`/PATH/NAME.json/master.m3u8`): every object reachable
//! from the JIT master equals what `hlsorigin package IN... --audio … --subtitles …` writes for
//! the same files, byte for byte (run id `test` ↔ the ladder's version); m3u8-rs parses the
//! playlists and ffmpeg decodes a variant through HTTP; a touched file gives new URLs; bad mapping
//! files answer 422 naming the problem; Shaka Player and hls.js play the ladder and switch audio
//! language, subtitles and variant; Shaka Player plays a single-file JIT stream.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use m3u8_rs::Playlist;

use super::jit::get;
use super::jit_encrypt::hmac_key;
use super::ladder::{french, package_ladder, rendition};
use crate::common::server::{ladder_tracks_failures, serve, shaka_play_harness};
use crate::common::{fixtures, out_dir, probe, run};

/// The mapping file of the byte-equality test: names, a default and a forced rendition.
const TITLE_JSON: &str = r#"{
  "videos": ["v180.mp4", "v360.mp4"],
  "audio": [{ "file": "fr.mp4", "lang": "fr", "name": "Français" }],
  "subtitles": [
    { "file": "subs/en.vtt", "lang": "en", "default": true },
    { "file": "./subs/fr.srt", "lang": "fr", "forced": true }
  ]
}
"#;

/// The mapping file the players play (two plain subtitle languages).
const PLAY_JSON: &str = r#"{
  "videos": ["v360.mp4", "v180.mp4"],
  "audio": [{ "file": "fr.mp4", "lang": "fr" }],
  "subtitles": [{ "file": "subs/en.vtt", "lang": "en" }, { "file": "subs/fr.srt", "lang": "fr" }]
}
"#;

/// `DIR/root/t/`: a 2-rendition ladder with aligned GOPs (320x180 and 640x360, English AAC
/// in both), a French AAC file, a WebVTT and an SRT file, and the mapping files.
fn ladder_root(name: &str) -> (PathBuf, PathBuf) {
    let dir = out_dir(name);
    let t = dir.join("root/t");
    std::fs::create_dir_all(t.join("subs")).expect("root");
    std::fs::copy(rendition("320x180", "200k"), t.join("v180.mp4")).expect("copy");
    std::fs::copy(rendition("640x360", "400k"), t.join("v360.mp4")).expect("copy");
    std::fs::copy(french(), t.join("fr.mp4")).expect("copy");
    std::fs::write(
        t.join("subs/en.vtt"),
        "WEBVTT\n\n00:00:00.500 --> 00:00:01.500\nHello\n\n\
         00:00:03.000 --> 00:00:04.500\nAcross the boundary\n\n00:00:08.000 --> 00:00:11.000\nBye\n",
    )
    .expect("vtt");
    std::fs::write(
        t.join("subs/fr.srt"),
        "1\n00:00:00,500 --> 00:00:03,000\nBonjour & bienvenue\n\n\
         2\n00:00:07,000 --> 00:00:10,000\nAu revoir\n",
    )
    .expect("srt");
    std::fs::write(t.join("title.json"), TITLE_JSON).expect("json");
    std::fs::write(t.join("play.json"), PLAY_JSON).expect("json");
    std::fs::write(t.join("one.json"), r#"{"videos": ["v180.mp4"]}"#).expect("json");
    (dir, t)
}

/// The version in the JIT objects' names (`video_N_VERSION_000000.m4s`) of the media
/// playlist `playlist` of rendition `video_N`.
fn version_of(playlist: &str, rendition: &str) -> String {
    let prefix = format!("{rendition}_");
    let line = playlist
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no segment in\n{playlist}"));
    line[prefix.len()..]
        .split('_')
        .next()
        .expect("version")
        .to_owned()
}

/// Every object name reachable from the master at `base` (playlists, init and media segments,
/// WebVTT segments), read through HTTP and parsed by m3u8-rs.
fn reachable(server: &str, base: &str) -> BTreeSet<String> {
    let master = get(server, &format!("{base}master.m3u8"));
    assert_eq!(master.status, 200, "{base}master.m3u8: {}", master.text());
    let m = match m3u8_rs::parse_playlist_res(&master.body) {
        Ok(Playlist::MasterPlaylist(m)) => m,
        other => panic!("{base}master.m3u8: not a master: {other:?}"),
    };
    let mut playlists: BTreeSet<String> = m.variants.iter().map(|v| v.uri.clone()).collect();
    playlists.extend(m.alternatives.iter().filter_map(|a| a.uri.clone()));
    let mut names: BTreeSet<String> = playlists.clone();
    names.insert("master.m3u8".into());
    for p in &playlists {
        let r = get(server, &format!("{base}{p}"));
        assert_eq!(r.status, 200, "{base}{p}");
        let media = match m3u8_rs::parse_playlist_res(&r.body) {
            Ok(Playlist::MediaPlaylist(m)) => m,
            other => panic!("{base}{p}: not a media playlist: {other:?}"),
        };
        for s in &media.segments {
            names.insert(s.uri.clone());
            if let Some(map) = &s.map {
                names.insert(map.uri.clone());
            }
            if let Some(uri) = s.key.as_ref().and_then(|k| k.uri.as_ref()) {
                names.insert(uri.clone());
            }
        }
    }
    names
}

/// Every object reachable from the JIT master of `title.json` equals `package`'s for the same
/// inputs and options (TS and fMP4), and `package` wrote nothing the JIT master does not reach.
#[test]
fn jit_ladder_equals_package() {
    let (dir, t) = ladder_root("jit_ladder_equals_package");
    let server = serve(&dir.join("root"), &["--jit-segment-duration", "4"]);
    let inputs = [t.join("v180.mp4"), t.join("v360.mp4")];
    for (format, prefix) in [("fmp4", ""), ("ts", "ts/")] {
        let out = dir.join(format!("pkg-{format}"));
        package_title(&t, &out, &["--format", format]);
        let base = format!("/t/title.json/{prefix}");
        let package_names = compare(&server.base, &base, &out, "video_0", format);
        assert!(
            package_names.iter().any(|n| n.ends_with(".vtt"))
                && package_names.iter().any(|n| n.starts_with("audio_1_"))
                && package_names.contains("video_1_iframes.m3u8"),
            "{format}: {package_names:?}"
        );
        // ffmpeg decodes the larger variant and the French audio through HTTP.
        for p in ["video_1.m3u8", "audio_1.m3u8"] {
            let url = format!("{}{base}{p}", server.base);
            let errors = probe::decode_errors(Path::new(&url));
            assert!(
                errors.is_empty(),
                "{format}: ffmpeg decoding {url}: {errors}"
            );
            let secs = probe::media_duration(Path::new(&url));
            assert!((secs - 12.0).abs() < 0.3, "{format}: {p} lasts {secs} s");
        }
        // One video file and nothing else is what `package FILE` writes: the single muxed
        // rendition, not a ladder.
        let out = dir.join(format!("pkg-one-{format}"));
        let args = ["--format", format, "--segment-duration", "4"];
        package_ladder(&inputs[..1], &out, &args);
        let names = compare(
            &server.base,
            &format!("/t/one.json/{prefix}"),
            &out,
            "stream",
            format,
        );
        assert!(names.contains("stream_iframes.m3u8"), "{format}: {names:?}");
    }
}

/// Encrypted (`--jit-encrypt cbcs,aes-128`: cbcs in fMP4, AES-128 in TS), every object of the
/// ladder — keys and AES-128's I-frame files included — equals `package --encrypt`'s with the
/// key HMAC-SHA256(secret, `t/title.json`) (openssl); ffmpeg decodes the AES-128 variant.
#[test]
fn jit_ladder_encrypted_equals_package() {
    let (dir, t) = ladder_root("jit_ladder_encrypted");
    let secret = "ladder-secret-0123456789";
    let args = [
        "--jit-segment-duration",
        "4",
        "--jit-encrypt",
        "cbcs,aes-128",
        "--jit-key-secret",
        secret,
    ];
    let server = serve(&dir.join("root"), &args);
    let key = hmac_key(secret, "t/title.json");
    for (format, method, prefix) in [("fmp4", "cbcs", ""), ("ts", "aes-128", "ts/")] {
        let out = dir.join(format!("pkg-{format}"));
        let args = ["--format", format, "--encrypt", method, "--key", &key];
        package_title(&t, &out, &args);
        let base = format!("/t/title.json/{prefix}");
        let names = compare(&server.base, &base, &out, "video_0", format);
        assert!(names.contains("key_0.bin"), "{format}: {names:?}");
        if method == "aes-128" {
            assert!(
                names
                    .iter()
                    .any(|n| n.starts_with("video_1_") && n.ends_with("_iframes.ts")),
                "{format}: {names:?}"
            );
            let url = format!("{}{base}video_1.m3u8", server.base);
            let errors = probe::decode_errors(Path::new(&url));
            assert!(errors.is_empty(), "ffmpeg decoding {url}: {errors}");
        }
    }
}

/// `package` of what `title.json` in `t` maps (two videos, French audio, two subtitle files),
/// 4 s segments, with `extra` options, into `out`.
fn package_title(t: &Path, out: &Path, extra: &[&str]) {
    let inputs = [t.join("v180.mp4"), t.join("v360.mp4")];
    let fr = format!("{},lang=fr,name=Français", t.join("fr.mp4").display());
    let en_subs = format!("{},lang=en,default", t.join("subs/en.vtt").display());
    let fr_subs = format!("{},lang=fr,forced", t.join("subs/fr.srt").display());
    let mut args = vec!["--segment-duration", "4", "--audio", &fr];
    args.extend(["--subtitles", &en_subs, "--subtitles", &fr_subs]);
    args.extend_from_slice(extra);
    package_ladder(&inputs, out, &args);
}

/// Compares every object `package` wrote into `out` (run id `test`) with the JIT object of
/// the same name under `base` (the version of media playlist `rendition`.m3u8 for the run
/// id), and the names with those reachable from the JIT master; returns the JIT names.
fn compare(
    server: &str,
    base: &str,
    out: &Path,
    rendition: &str,
    format: &str,
) -> BTreeSet<String> {
    let media = get(server, &format!("{base}{rendition}.m3u8"));
    assert_eq!(media.status, 200, "{format}: {}", media.text());
    let version = version_of(&media.text(), rendition);
    let jit_names = reachable(server, base);
    let mut package_names = BTreeSet::new();
    for entry in std::fs::read_dir(out).expect("package output") {
        let name = entry
            .expect("entry")
            .file_name()
            .into_string()
            .expect("utf-8");
        if name.starts_with('.') {
            continue;
        }
        let want = std::fs::read(out.join(&name)).expect("read");
        let jit_name = name.replace("_test_", &format!("_{version}_"));
        let got = get(server, &format!("{base}{jit_name}"));
        assert_eq!(
            got.status,
            200,
            "{format}: {base}{jit_name}: {}",
            got.text()
        );
        if name.ends_with(".m3u8") {
            let got = got.text().replace(&format!("_{version}_"), "_test_");
            let want = String::from_utf8(want).expect("utf-8");
            crate::common::assert_text_eq(&format!("{format} {base}{name}"), &want, &got);
        } else {
            assert!(
                got.body == want,
                "{format}: {base}{name} differs from package's"
            );
        }
        package_names.insert(jit_name);
    }
    // Every object `package` wrote is reachable from the master (and no other one is).
    assert_eq!(jit_names, package_names, "{format} {base}: objects");
    package_names
}

/// Same URL → same ETag, segments immutable; touching a file the mapping names (or the
/// mapping file) gives new names, and the old segment URLs are gone.
#[test]
fn jit_ladder_versions() {
    let (dir, t) = ladder_root("jit_ladder_versions");
    let server = serve(&dir.join("root"), &[]);
    let video = get(&server.base, "/t/title.json/video_1.m3u8").text();
    let version = version_of(&video, "video_1");
    let seg = format!("/t/title.json/audio_1_{version}_000000.m4s");
    let (a, b) = (get(&server.base, &seg), get(&server.base, &seg));
    assert_eq!(a.status, 200, "{}", a.text());
    assert!(a.body == b.body, "same bytes");
    assert!(a.header("etag").is_some());
    assert_eq!(a.header("etag"), b.header("etag"));
    let cc = a.header("cache-control").unwrap_or("");
    assert!(cc.contains("immutable"), "segment Cache-Control {cc}");
    let mut versions = vec![version];
    for touched in ["fr.mp4", "subs/fr.srt", "title.json"] {
        let out = run(Command::new("touch")
            .args(["-d", &format!("2001-02-0{} 04:05:06", versions.len())])
            .arg(t.join(touched)));
        assert!(out.status.success());
        std::thread::sleep(Duration::from_millis(1200));
        let video = get(&server.base, "/t/title.json/video_1.m3u8").text();
        let now = version_of(&video, "video_1");
        assert!(
            !versions.contains(&now),
            "{touched} touched: version {now} again"
        );
        let old = format!("/t/title.json/audio_1_{}_000000.m4s", versions[0]);
        assert_eq!(
            get(&server.base, &old).status,
            404,
            "{touched}: old URL gone"
        );
        let new = get(
            &server.base,
            &format!("/t/title.json/audio_1_{now}_000000.m4s"),
        );
        assert!(
            new.status == 200 && new.body == a.body,
            "{touched}: same bytes, new name"
        );
        versions.push(now);
    }
}

/// Bad mapping files answer 422 with the problem in the body (short Cache-Control).
#[test]
fn jit_ladder_refusals() {
    let (dir, t) = ladder_root("jit_ladder_refusals");
    std::fs::create_dir_all(dir.join("root/other")).expect("dir");
    std::fs::copy(t.join("v180.mp4"), dir.join("root/other/v.mp4")).expect("copy");
    // (mapping file, what the 422's body must say)
    let cases = [
        ("{\"videos\": [\"v180.mp4\",]}", "line 1 column"),
        (
            "{\"videos\": [\"v180.mp4\"],\n \"audio\": [{\"lang\": \"fr\"}]}",
            "missing field `file`",
        ),
        ("{\"videos\": [\"../other/v.mp4\"]}", "\"..\" is refused"),
        (
            "{\"videos\": [\"/etc/passwd\"]}",
            "absolute paths are refused",
        ),
        (
            "{\"videos\": [\"v180.mp4\"], \"audio\": [{\"file\": \"nope.m4a\"}]}",
            "t/nope.m4a: no such file",
        ),
        (
            "{\"videos\": [\"v180.mp4\", \"fr.mp4\"]}",
            "t/fr.mp4: no video track",
        ),
        (
            "{\"videos\": [\"v180.mp4\"], \"subtitles\": [{\"file\": \"v180.mp4\"}]}",
            "without a text track",
        ),
    ];
    let server = serve(&dir.join("root"), &[]);
    for (i, (json, want)) in cases.iter().enumerate() {
        std::fs::write(t.join(format!("bad{i}.json")), json).expect("write");
        let r = get(&server.base, &format!("/t/bad{i}.json/master.m3u8"));
        assert_eq!(r.status, 422, "{json}: {}", r.text());
        assert!(r.text().contains(want), "{json}: {}", r.text());
        assert!(
            r.text().starts_with(&format!("t/bad{i}.json: ")),
            "{}",
            r.text()
        );
        let cc = r.header("cache-control").unwrap_or("");
        assert!(cc.contains("max-age=1"), "short Cache-Control, got {cc}");
    }
    // A mapping file itself is still served as it is.
    let r = get(&server.base, "/t/title.json");
    assert_eq!((r.status, r.text().as_str()), (200, TITLE_JSON));
}

/// Shaka Player and hls.js play the JIT ladder (fMP4 and TS): English and French audio and
/// subtitles listed, audio language and subtitles switched, another variant selected.
#[test]
fn jit_ladder_plays_in_shaka_and_hlsjs() {
    let (dir, _) = ladder_root("jit_ladder_players");
    let server = serve(&dir.join("root"), &["--jit-segment-duration", "2"]);
    let urls = ["", "ts/"].map(|p| format!("{}/t/play.json/{p}master.m3u8", server.base));
    let failures = ladder_tracks_failures(&urls);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Shaka Player plays a single file's JIT stream, fMP4 and TS.
#[test]
fn jit_single_file_plays_in_shaka() {
    let dir = out_dir("jit_single_file_shaka");
    let file = dir.join("root/v/clip.mp4");
    std::fs::create_dir_all(file.parent().expect("parent")).expect("root");
    std::fs::copy(fixtures::playback(), &file).expect("copy");
    let server = serve(&dir.join("root"), &[]);
    let mut failures = Vec::new();
    for prefix in ["", "ts/"] {
        let url = format!("{}/v/clip.mp4/{prefix}master.m3u8", server.base);
        let report = shaka_play_harness(&["--url", &url, "--seconds", "6"]);
        if report["ok"] != true {
            failures.push(format!("{url}: {report}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
