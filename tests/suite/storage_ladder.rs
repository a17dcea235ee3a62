// SPDX-License-Identifier: MIT OR Apache-2.0
//! Ladders and encryption into object storage (issue 12: a storage URL wherever a directory
//! goes), on SeaweedFS started and stopped by the test:
//!
//! - a ladder (two video renditions, an `--audio` file, a WebVTT file) into `s3://…`, served by
//!   `serve s3://…`: m3u8-rs reads the master's variants and AUDIO / SUBTITLES groups, every URI
//!   of every playlist is an object in the bucket, ffprobe decodes a variant through the origin;
//! - `--encrypt aes-128` (TS; ffmpeg fetches the key by its URI through the origin) and
//!   `--encrypt cbcs` (fMP4; `-decryption_key`) decrypt to the clear frames, and not without
//!   the key; `--key-uri` with a generated key writes it locally (0600), never to the bucket;
//! - re-packaging a ladder into the same prefix keeps the old run's objects until the grace.
//!
//! The order of uploads (segments, keys, media playlists, master last) is checked where the
//! store can record it: `cli::ladder`'s unit test over a recording in-memory store.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::common::seaweed::{hlsorigin, serve, Origin, Seaweed, BUCKET};
use crate::common::{out_dir, probe, run};

use super::ladder::{french, rendition};

/// A short WebVTT file covering the clip.
fn webvtt(dir: &Path) -> PathBuf {
    let path = dir.join("en.vtt");
    let mut text = String::from("WEBVTT\n\n");
    for i in 0..6 {
        text.push_str(&format!(
            "00:00:{:02}.000 --> 00:00:{:02}.500\nline {i}\n\n",
            2 * i,
            2 * i + 1
        ));
    }
    std::fs::write(&path, text).expect("vtt");
    path
}

fn ladder_inputs() -> Vec<PathBuf> {
    vec![rendition("640x360", "800k"), rendition("320x180", "300k")]
}

/// `package INPUTS -o URL ARGS` into `weed`, from `cwd`; its stdout.
fn package(weed: &Seaweed, inputs: &[PathBuf], url: &str, args: &[&str], cwd: &Path) -> String {
    let out = hlsorigin(weed)
        .current_dir(cwd)
        .arg("package")
        .args(inputs)
        .args(["-o", url, "--segment-duration", "2"])
        .args(args)
        .output()
        .expect("run hlsorigin package");
    assert!(
        out.status.success(),
        "package {url} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn text(weed: &Seaweed, key: &str) -> String {
    let (status, body) = weed.get(key);
    assert_eq!(status, 200, "{key}");
    String::from_utf8(body).expect("utf-8")
}

fn master(weed: &Seaweed, key: &str) -> m3u8_rs::MasterPlaylist {
    let t = text(weed, key);
    m3u8_rs::parse_master_playlist_res(t.as_bytes()).unwrap_or_else(|e| panic!("{e:?}\n{t}"))
}

/// `dir/uri` as a key (URIs are relative, `..`-free).
fn join(dir: &str, uri: &str) -> String {
    format!("{dir}/{uri}")
}

/// Every key the master at `prefix/master.m3u8` names, directly or through its media
/// playlists (segments, init segments, keys), each checked to be an object of the bucket.
fn named_objects(weed: &Seaweed, prefix: &str) -> BTreeSet<String> {
    let stored: BTreeSet<String> = weed.keys(&format!("{prefix}/")).into_iter().collect();
    let m = master(weed, &format!("{prefix}/master.m3u8"));
    let mut playlists: Vec<String> = m.variants.iter().map(|v| v.uri.clone()).collect();
    playlists.extend(m.alternatives.iter().filter_map(|a| a.uri.clone()));
    let mut named = BTreeSet::new();
    named.extend(m.session_key.iter().filter_map(|k| k.0.uri.clone()));
    for uri in playlists {
        let key = join(prefix, &uri);
        let dir = key.rsplit_once('/').map_or("", |(d, _)| d).to_owned();
        let t = text(weed, &key);
        let pl = m3u8_rs::parse_media_playlist_res(t.as_bytes())
            .unwrap_or_else(|e| panic!("{key}: {e:?}"));
        named.insert(key);
        for s in &pl.segments {
            named.insert(join(&dir, &s.uri));
            named.extend(s.map.as_ref().map(|m| join(&dir, &m.uri)));
            named.extend(
                s.key
                    .as_ref()
                    .and_then(|k| k.uri.as_ref())
                    .map(|u| join(&dir, u)),
            );
        }
    }
    let named: BTreeSet<String> = named
        .into_iter()
        .map(|k| {
            if k.starts_with(prefix) {
                k
            } else {
                join(prefix, &k)
            }
        })
        .collect();
    let missing: Vec<_> = named.difference(&stored).collect();
    assert!(
        missing.is_empty(),
        "named but not in the bucket: {missing:?}"
    );
    named
}

#[test]
fn ladder_into_storage_served_by_an_origin() {
    let weed = Seaweed::start("ladder");
    let cwd = out_dir("storage-ladder");
    std::fs::create_dir_all(&cwd).expect("dir");
    let vtt = webvtt(&cwd);
    let audio = format!("{},lang=fr,name=Français", french().display());
    let subs = format!("{},lang=en", vtt.display());
    let url = format!("s3://{BUCKET}/lad/clip");
    let inputs = ladder_inputs();
    package(
        &weed,
        &inputs,
        &url,
        &["--audio", &audio, "--subtitles", &subs],
        &cwd,
    );
    let m = master(&weed, "lad/clip/master.m3u8");
    let variants: Vec<_> = m.variants.iter().filter(|v| !v.is_i_frame).collect();
    assert_eq!(variants.len(), 2, "{:?}", m.variants);
    use m3u8_rs::AlternativeMediaType as T;
    let of = |t: T| m.alternatives.iter().filter(|a| a.media_type == t).count();
    assert!(
        of(T::Audio) >= 2,
        "English (inputs) + French: {:?}",
        m.alternatives
    );
    assert_eq!(of(T::Subtitles), 1, "{:?}", m.alternatives);
    assert!(variants
        .iter()
        .all(|v| v.audio.is_some() && v.subtitles.is_some()));
    let named = named_objects(&weed, "lad/clip");
    assert!(named.iter().any(|k| k.ends_with(".vtt")), "{named:?}");
    let origin = serve(&weed, &format!("s3://{BUCKET}/lad"));
    let v = format!("{}/clip/{}", origin.base, variants[0].uri);
    let errors = probe::decode_errors(Path::new(&v));
    assert!(errors.is_empty(), "ffmpeg decoding {v}: {errors}");
    let streams = probe::streams(Path::new(&format!("{}/clip/master.m3u8", origin.base)));
    assert!(
        streams.iter().any(|s| s.kind == "video" && s.width == 640),
        "{streams:?}"
    );
    let d = probe::media_duration(Path::new(&v));
    assert!(d > 10.0, "{v}: ffprobe duration {d}");
}

/// ffmpeg decoding `url` (keys fetched by URI); (frame MD5s of stream 0, stderr).
fn frames(url: &str, key: Option<&str>) -> (Vec<String>, String) {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-v", "error"]);
    if url.ends_with(".m3u8") {
        cmd.args(["-allowed_extensions", "ALL"]);
    }
    if let Some(k) = key {
        cmd.args(["-decryption_key", k]);
    }
    let out = run(cmd.args(["-i", url, "-map", "0:v:0", "-f", "framemd5", "-"]));
    let md5s = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit(',').next().map(|m| m.trim().to_owned()))
        .collect();
    (md5s, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The first media segment of the first variant (with its init segment, if any), fetched
/// through `origin` from the stream at `/name/`.
fn first_segment(origin: &Origin, name: &str) -> Vec<u8> {
    let (_, _, body) = origin.get(&format!("/{name}/master.m3u8"));
    let m = m3u8_rs::parse_master_playlist_res(&body).expect("master");
    let media_path = format!("/{name}/{}", m.variants[0].uri);
    let dir = media_path
        .rsplit_once('/')
        .map_or("", |(d, _)| d)
        .to_owned();
    let (_, _, body) = origin.get(&media_path);
    let pl = m3u8_rs::parse_media_playlist_res(&body).expect("media");
    let mut bytes = Vec::new();
    if let Some(map) = &pl.segments[0].map {
        bytes.extend(origin.get(&format!("{dir}/{}", map.uri)).2);
    }
    let (status, _, seg) = origin.get(&format!("{dir}/{}", pl.segments[0].uri));
    assert_eq!(status, 200);
    bytes.extend(seg);
    bytes
}

#[test]
fn encrypted_streams_into_storage_decrypt_through_the_origin() {
    const KEY: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
    let weed = Seaweed::start("encrypt");
    let cwd = out_dir("storage-encrypt");
    std::fs::create_dir_all(&cwd).expect("dir");
    let input = vec![crate::common::fixtures::playback()];
    let enc = |name: &str, args: &[&str]| {
        package(
            &weed,
            &input,
            &format!("s3://{BUCKET}/enc/{name}"),
            args,
            &cwd,
        )
    };
    enc("clear_ts", &["--format", "ts", "--quiet"]);
    enc("clear_fmp4", &["--quiet"]);
    // A generated key: uploaded beside the run's playlists, its URL printed.
    let printed = enc("aes", &["--format", "ts", "--encrypt", "aes-128"]);
    let key_line = printed
        .lines()
        .find_map(|l| l.strip_prefix("key: "))
        .unwrap_or_else(|| panic!("no key line: {printed}"));
    assert!(
        key_line.starts_with(&format!("s3://{BUCKET}/enc/aes/"))
            && key_line.ends_with("/key_0.bin"),
        "{key_line}"
    );
    enc("cbcs", &["--encrypt", "cbcs", "--key", KEY, "--quiet"]);
    let named = named_objects(&weed, "enc/aes");
    assert!(named.iter().any(|k| k.ends_with("/key_0.bin")), "{named:?}");
    let origin = serve(&weed, &format!("s3://{BUCKET}/enc"));

    // AES-128: ffmpeg's HLS demuxer fetches the key by its URI, through the origin.
    let (want, errors) = frames(&format!("{}/clear_ts/master.m3u8", origin.base), None);
    assert!(errors.is_empty() && want.len() > 100, "{errors}");
    let (got, errors) = frames(&format!("{}/aes/master.m3u8", origin.base), None);
    assert!(
        errors.is_empty(),
        "decrypting aes-128 through the origin: {errors}"
    );
    assert!(got == want, "decrypted frames differ from the clear ones");
    // A segment without its key is no MPEG-TS at all.
    let dir = cwd.clone();
    let seg = dir.join("aes-first.ts");
    std::fs::write(&seg, first_segment(&origin, "aes")).expect("segment");
    let (none, _) = frames(seg.to_str().expect("utf-8"), None);
    assert!(
        none.is_empty(),
        "{} frames from an encrypted segment",
        none.len()
    );

    // cbcs: init + first segment through the origin, decrypted with -decryption_key, are
    // the clear stream's first frames; without the key they are not.
    let file = |name: &str| {
        let p = dir.join(format!("{name}-first.mp4"));
        std::fs::write(&p, first_segment(&origin, name)).expect("segment");
        p.display().to_string()
    };
    let (clear, cbcs) = (file("clear_fmp4"), file("cbcs"));
    let (want, errors) = frames(&clear, None);
    assert!(errors.is_empty() && !want.is_empty(), "{errors}");
    let (got, errors) = frames(&cbcs, Some(KEY));
    assert!(errors.is_empty(), "decrypting cbcs: {errors}");
    assert!(
        got == want,
        "decrypted cbcs frames differ from the clear ones"
    );
    let (none, _) = frames(&cbcs, None);
    assert_ne!(none, want, "cbcs frames decoded without the key");

    // --key-uri with a generated key: written locally (0600), never uploaded.
    let printed = enc(
        "keyserver",
        &[
            "--encrypt",
            "aes-128",
            "--key-uri",
            "https://keys.example/k",
        ],
    );
    let local = printed
        .lines()
        .find_map(|l| l.strip_prefix("key: "))
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("no key line: {printed}"));
    let local = if local.is_absolute() {
        local
    } else {
        cwd.join(local)
    };
    assert_eq!(std::fs::read(&local).expect("local key").len(), 16);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&local)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let keys = weed.keys("enc/keyserver/");
    assert!(keys.iter().all(|k| !k.ends_with(".bin")), "{keys:?}");
    std::fs::remove_file(&local).expect("rm key");
}

/// The run directories under `prefix/` (not the `.hlsorigin` markers).
fn runs(weed: &Seaweed, prefix: &str) -> BTreeSet<String> {
    weed.keys(&format!("{prefix}/"))
        .iter()
        .filter_map(|k| k.strip_prefix(&format!("{prefix}/")))
        .filter(|k| !k.starts_with('.') && k.contains('/'))
        .filter_map(|k| k.split('/').next().map(str::to_owned))
        .collect()
}

#[test]
fn repackaging_a_ladder_keeps_the_old_run_until_the_grace() {
    let weed = Seaweed::start("reladder");
    let cwd = out_dir("storage-reladder");
    std::fs::create_dir_all(&cwd).expect("dir");
    let url = format!("s3://{BUCKET}/rl/clip");
    let inputs = ladder_inputs();
    let args = ["--gc-grace", "6s", "--quiet", "--format", "ts"];
    package(&weed, &inputs, &url, &args, &cwd);
    let first = named_objects(&weed, "rl/clip");
    package(&weed, &inputs, &url, &args, &cwd);
    let second = named_objects(&weed, "rl/clip");
    assert!(first.is_disjoint(&second), "a new run id: new keys");
    let stored: BTreeSet<String> = weed.keys("rl/clip/").into_iter().collect();
    let kept: Vec<_> = first
        .iter()
        .filter(|k| !k.ends_with("master.m3u8"))
        .collect();
    assert!(
        kept.iter().all(|k| stored.contains(*k)),
        "the old run's objects stay within the grace"
    );
    assert_eq!(runs(&weed, "rl/clip").len(), 2);
    // Within the grace a third run deletes nothing.
    package(&weed, &inputs, &url, &args, &cwd);
    assert_eq!(runs(&weed, "rl/clip").len(), 3);
    std::thread::sleep(Duration::from_secs(7));
    package(&weed, &inputs, &url, &args, &cwd);
    let left = runs(&weed, "rl/clip");
    // Runs 1 and 2 were superseded more than the grace ago: gone; 3 waits, 4 is current.
    assert_eq!(left.len(), 2, "{left:?}");
    let stored: BTreeSet<String> = weed.keys("rl/clip/").into_iter().collect();
    assert!(
        first
            .iter()
            .filter(|k| !k.ends_with("master.m3u8"))
            .all(|k| !stored.contains(k)),
        "the first run is deleted after the grace"
    );
    named_objects(&weed, "rl/clip");
}
