// SPDX-License-Identifier: MIT OR Apache-2.0
//! `package --encrypt`: the output decrypts with the key and only with it, checked with
//! independent tools — ffmpeg's HLS demuxer (which decrypts AES-128), `openssl enc` for single
//! objects, m3u8-rs for the playlists — and played by hls.js in Chromium.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::server::{play, serve};
use crate::common::{bin, fixtures, out_dir, package, probe, run};

const KEY: &str = "000102030405060708090a0b0c0d0e0f";

fn media(dir: &Path, name: &str) -> m3u8_rs::MediaPlaylist {
    let text = std::fs::read(dir.join(name)).unwrap();
    m3u8_rs::parse_media_playlist_res(&text).unwrap_or_else(|e| panic!("{name}: {e:?}"))
}

fn key_tags(p: &m3u8_rs::MediaPlaylist) -> Vec<(usize, String, String)> {
    p.segments
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let k = s.key.as_ref()?;
            Some((
                i,
                format!("{}", k.method),
                k.uri.clone().unwrap_or_default(),
            ))
        })
        .collect()
}

/// `ffmpeg -allowed_extensions ALL -i PLAYLIST` decoding every frame: (video frames, errors).
fn ffmpeg_decode(playlist: &Path) -> (u64, String) {
    let out = run(Command::new("ffprobe")
        .args(["-v", "error", "-allowed_extensions", "ALL", "-count_frames"])
        .args([
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=nb_read_frames",
        ])
        .args(["-of", "csv=p=0"])
        .arg(playlist));
    // The stream is listed under its program and on its own: the first number.
    let frames = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    (frames, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// `openssl enc -d -aes-128-cbc`: an implementation of AES-CBC + PKCS7 that is not ours.
fn openssl_decrypt(data: &[u8], key: &[u8], iv: u128) -> Option<Vec<u8>> {
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    // Tests run in parallel: one directory per call (`out_dir` empties the one it names, so a
    // shared one would lose another call's files).
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = out_dir(&format!("encrypt-openssl-{n}"));
    std::fs::create_dir_all(&dir).unwrap();
    let (inp, outp) = (dir.join("in"), dir.join("out"));
    std::fs::write(&inp, data).unwrap();
    let o = run(Command::new("openssl")
        .args(["enc", "-d", "-aes-128-cbc", "-K", &hex(key)])
        .args(["-iv", &format!("{iv:032x}")])
        .arg("-in")
        .arg(&inp)
        .arg("-out")
        .arg(&outp));
    o.status.success().then(|| std::fs::read(&outp).unwrap())
}

fn input_video_frames(input: &Path) -> u64 {
    probe::video_frame_and_packet_counts(input).0
}

fn package_encrypted(name: &str, format: &str, extra: &[&str]) -> PathBuf {
    let out = out_dir(name);
    let mut args = vec![
        "--format",
        format,
        "--segment-duration",
        "2",
        "--encrypt",
        "aes-128",
    ];
    args.extend_from_slice(extra);
    package(&fixtures::playback(), &out, &args);
    out
}

/// The video frames ffprobe decodes from `bytes` (`with` in front of them: the fMP4 init
/// segment); none when it cannot open them at all.
fn frames_of(dir: &Path, tag: &str, with: &[u8], bytes: &[u8]) -> Vec<probe::Frame> {
    let ext = if with.is_empty() { "ts" } else { "mp4" };
    let file = dir.join(format!("probe-{tag}.{ext}"));
    std::fs::write(&file, [with, bytes].concat()).unwrap();
    let opens = run(Command::new("ffprobe").args(["-v", "error"]).arg(&file))
        .status
        .success();
    if !opens {
        return Vec::new();
    }
    probe::frames(&file)
        .into_iter()
        .filter(|f| f.kind == "video")
        .collect()
}

#[test]
fn aes_128_ts_and_fmp4_decrypt_with_the_key_only() {
    let input = fixtures::playback();
    let want_frames = input_video_frames(&input);
    let key: Vec<u8> = (0..16).collect();
    for format in ["ts", "fmp4"] {
        let out = package_encrypted(&format!("encrypt-aes-{format}"), format, &["--key", KEY]);
        let pl = media(&out, "stream.m3u8");
        // RFC 8216bis 4.4.4.4: one EXT-X-KEY before the first segment; no IV attribute (the
        // media sequence number is the IV).
        assert_eq!(
            key_tags(&pl),
            vec![(0, "AES-128".into(), "key_0.bin".into())],
            "{format}"
        );
        assert!(pl.segments[0].key.as_ref().unwrap().iv.is_none());
        assert_eq!(
            std::fs::read(out.join("key_0.bin")).unwrap(),
            key,
            "{format}"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(out.join("key_0.bin"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{format}");
        }
        // ffmpeg decrypts (the key file through the playlist) and decodes every frame.
        let (frames, errors) = ffmpeg_decode(&out.join("master.m3u8"));
        assert_eq!(frames, want_frames, "{format}: {errors}");
        assert!(errors.is_empty(), "{format}: {errors}");
        // Without the key: a raw segment does not decode; openssl with the key and the
        // segment's sequence number as IV turns it into one that does.
        let init = pl.segments[0]
            .map
            .as_ref()
            .map(|m| std::fs::read(out.join(&m.uri)).unwrap())
            .unwrap_or_default();
        let msn = 1usize;
        let raw = std::fs::read(out.join(&pl.segments[msn].uri)).unwrap();
        assert!(
            frames_of(&out, "raw", &init, &raw).is_empty(),
            "{format}: an encrypted segment decodes without its key"
        );
        assert!(openssl_decrypt(&raw, &[7; 16], msn as u128)
            .is_none_or(|p| { frames_of(&out, "wrong", &init, &p).is_empty() }));
        let plain = openssl_decrypt(&raw, &key, msn as u128).expect("openssl decrypts");
        let got = frames_of(&out, "plain", &init, &plain);
        assert!(
            got.first().is_some_and(|f| f.key),
            "{format}: {} frames",
            got.len()
        );
        // The I-frame playlist: each entry decrypts on its own (IV = its sequence number) to
        // a keyframe.
        let ifr = media(&out, "stream_iframes.m3u8");
        assert_eq!(
            key_tags(&ifr),
            vec![(0, "AES-128".into(), "key_0.bin".into())]
        );
        assert_eq!(ifr.segments.len(), 6, "{format}: one keyframe per 2 s");
        let file = std::fs::read(out.join(&ifr.segments[0].uri)).unwrap();
        for (i, s) in ifr.segments.iter().enumerate() {
            let r = s.byte_range.as_ref().expect("byte range");
            let off = r.offset.unwrap() as usize;
            let bytes = &file[off..off + r.length as usize];
            let plain = openssl_decrypt(bytes, &key, i as u128).expect("entry decrypts alone");
            let got = frames_of(&out, "iframe", &init, &plain);
            assert!(got.first().is_some_and(|f| f.key), "{format} entry {i}");
        }
        // hlsorigin validate decrypts segments and I-frame entries: no finding.
        let v = run(Command::new(bin()).arg("validate").arg(&out));
        assert!(
            v.status.success(),
            "{format}: {}",
            String::from_utf8_lossy(&v.stdout)
        );
    }
}

#[test]
fn aes_128_single_file_ranges_decrypt_alone() {
    let key: Vec<u8> = (0..16).collect();
    for format in ["ts", "fmp4"] {
        let out = package_encrypted(
            &format!("encrypt-single-{format}"),
            format,
            &["--key", KEY, "--single-file"],
        );
        let pl = media(&out, "stream.m3u8");
        assert_eq!(
            key_tags(&pl),
            vec![(0, "AES-128".into(), "key_0.bin".into())]
        );
        let file = std::fs::read(out.join(&pl.segments[0].uri)).unwrap();
        let init = match &pl.segments[0].map {
            Some(m) => {
                let r = m.byte_range.as_ref().expect("init byte range");
                let off = r.offset.unwrap() as usize;
                file[off..off + r.length as usize].to_vec()
            }
            None => Vec::new(),
        };
        // RFC 8216 5.2: CBC restarts at each media segment — each byte range decrypts on its
        // own, with its sequence number as IV, and the ranges tile the file after the init.
        let mut end = init.len() as u64;
        for (msn, s) in pl.segments.iter().enumerate() {
            let r = s.byte_range.as_ref().expect("byte range");
            assert_eq!(r.offset, Some(end), "{format} segment {msn}");
            end += r.length;
            let bytes = &file[r.offset.unwrap() as usize..end as usize];
            let plain = openssl_decrypt(bytes, &key, msn as u128).expect("range decrypts alone");
            let got = frames_of(&out, "single", &init, &plain);
            assert!(got.first().is_some_and(|f| f.key), "{format} segment {msn}");
        }
        assert_eq!(end, file.len() as u64);
        let v = run(Command::new(bin()).arg("validate").arg(&out));
        assert!(
            v.status.success(),
            "{format}: {}",
            String::from_utf8_lossy(&v.stdout)
        );
    }
}

#[test]
fn generated_rotating_keys_and_key_uri() {
    let input = fixtures::playback();
    // Generated key, a new one every 2 segments: key_0..key_2 for 6 segments.
    let out = package_encrypted("encrypt-rotation", "ts", &["--key-rotation", "2"]);
    let pl = media(&out, "stream.m3u8");
    let tags = key_tags(&pl);
    let want: Vec<(usize, String, String)> = (0..3)
        .map(|n| (n * 2, "AES-128".into(), format!("key_{n}.bin")))
        .collect();
    assert_eq!(tags, want);
    let keys: Vec<Vec<u8>> = (0..3)
        .map(|n| std::fs::read(out.join(format!("key_{n}.bin"))).unwrap())
        .collect();
    assert!(keys.iter().all(|k| k.len() == 16));
    assert!(keys[0] != keys[1] && keys[1] != keys[2] && keys[0] != keys[2]);
    assert!(!out.join("key_3.bin").exists());
    let (frames, errors) = ffmpeg_decode(&out.join("master.m3u8"));
    assert_eq!(frames, input_video_frames(&input), "{errors}");
    // Segment 3 is under key 1, not key 0.
    let raw = std::fs::read(out.join(&pl.segments[3].uri)).unwrap();
    assert!(openssl_decrypt(&raw, &keys[1], 3).is_some());
    assert!(openssl_decrypt(&raw, &keys[0], 3).is_none_or(|p| p.first() != Some(&0x47)));
    let v = run(Command::new(bin()).arg("validate").arg(&out));
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));

    // --key-uri with a generated key: the URI in the playlist, the key in a dotfile (not
    // served) to install on the key server; its path printed.
    let out = out_dir("encrypt-key-uri");
    let o = package(
        &input,
        &out,
        &[
            "--format",
            "fmp4",
            "--segment-duration",
            "2",
            "--encrypt",
            "aes-128",
            "--key-uri",
            "https://keys.example/v1/{n}",
            "--key-rotation",
            "3",
        ],
    );
    let pl = media(&out, "stream.m3u8");
    let uris: Vec<String> = key_tags(&pl).into_iter().map(|t| t.2).collect();
    assert_eq!(
        uris,
        ["https://keys.example/v1/0", "https://keys.example/v1/1"]
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    for n in 0..2 {
        let path = out.join(format!(".key_{n}.bin"));
        assert_eq!(std::fs::read(&path).unwrap().len(), 16);
        assert!(stdout.contains(&path.display().to_string()), "{stdout}");
    }
    assert!(!out.join("key_0.bin").exists());
    // A given key with --key-uri is not written anywhere.
    let out = out_dir("encrypt-key-uri-given");
    package(
        &input,
        &out,
        &["--encrypt", "aes-128", "--key", KEY, "--key-uri", "/keys/a"],
    );
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.contains("key")), "{names:?}");
    assert_eq!(key_tags(&media(&out, "stream.m3u8"))[0].2, "/keys/a");
}

/// `ffmpeg -f framemd5` of one stream of `playlist`: the frames' checksums in order.
fn frame_md5s(playlist: &Path, stream: &str) -> Vec<String> {
    let out = run(Command::new("ffmpeg")
        .args(["-v", "quiet", "-allowed_extensions", "ALL", "-i"])
        .arg(playlist)
        .args(["-map", stream, "-f", "framemd5", "-"]));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit(',').next().map(|m| m.trim().to_owned()))
        .collect()
}

#[test]
fn sample_aes_ts_decodes_as_the_clear_output() {
    let input = fixtures::playback();
    let clear = out_dir("encrypt-sample-aes-clear");
    package(
        &input,
        &clear,
        &["--format", "ts", "--segment-duration", "2"],
    );
    let out = out_dir("encrypt-sample-aes");
    package(
        &input,
        &out,
        &[
            "--format",
            "ts",
            "--segment-duration",
            "2",
            "--encrypt",
            "sample-aes",
            "--key",
            KEY,
        ],
    );
    let pl = media(&out, "stream.m3u8");
    let tags = key_tags(&pl);
    assert_eq!(tags, vec![(0, "SAMPLE-AES".into(), "key_0.bin".into())]);
    let k = pl.segments[0].key.as_ref().unwrap();
    assert_eq!(k.keyformat.as_deref(), Some("identity"));
    assert!(k.iv.as_deref().is_some_and(|iv| iv.len() == 34), "{k:?}");
    assert!(pl.version.unwrap_or(1) >= 5);
    let ifr = media(&out, "stream_iframes.m3u8");
    assert_eq!(
        key_tags(&ifr),
        tags,
        "the I-frame playlist names the key too"
    );
    // The PMT (Apple's MPEG-2 Stream Encryption Format 2.3): encrypted stream types and the
    // private data indicator / audio setup descriptors.
    let seg0 = std::fs::read(out.join(&pl.segments[0].uri)).unwrap();
    let pmt = &seg0[188..376];
    for needle in [&b"zavc"[..], b"aacd", b"apad", b"zaac"] {
        assert!(
            pmt.windows(4).any(|w| w == needle),
            "PMT lacks {:?}",
            String::from_utf8_lossy(needle)
        );
    }
    assert!(
        pmt.windows(3).any(|w| w == [0xDB, 0xE1, 0x00]),
        "H.264 SAMPLE-AES stream type 0xDB on PID 0x100"
    );
    assert!(pmt.contains(&0xCF), "AAC SAMPLE-AES stream type 0xCF");
    // ffmpeg's HLS demuxer decrypts SAMPLE-AES: every audio frame as in the clear output, and
    // every video frame but those that depend on the stream's last video frame — which
    // ffmpeg's TS demuxer only emits after the playlist has ended, when no segment (and so no
    // key) applies to it any more.
    let (a, b) = (
        frame_md5s(&out.join("master.m3u8"), "0:a"),
        frame_md5s(&clear.join("master.m3u8"), "0:a"),
    );
    assert!(
        !a.is_empty() && a == b,
        "audio: {} vs {} frames",
        a.len(),
        b.len()
    );
    let (v, w) = (
        frame_md5s(&out.join("master.m3u8"), "0:v"),
        frame_md5s(&clear.join("master.m3u8"), "0:v"),
    );
    assert_eq!(v.len(), w.len());
    let differ: Vec<usize> = (0..v.len()).filter(|&i| v[i] != w[i]).collect();
    assert!(
        differ.iter().all(|&i| i + 4 >= v.len()),
        "frames decoded differently: {differ:?} of {}",
        v.len()
    );
    // hlsorigin validate checks the playlists (the samples it cannot decrypt are not judged).
    let v = run(Command::new(bin()).arg("validate").arg(&out));
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
    // The segments alone (without the key) do not decode cleanly.
    let raw = out.join(&pl.segments[1].uri);
    assert!(
        !probe::decode_errors(&raw).is_empty(),
        "a SAMPLE-AES segment decodes without its key"
    );
}

#[test]
fn bad_keys_and_combinations_are_one_line_errors_and_leave_nothing() {
    let input = fixtures::playback();
    let dir = out_dir("encrypt-bad");
    std::fs::create_dir_all(&dir).unwrap();
    let short = dir.join("short.key");
    std::fs::write(&short, [1u8; 20]).unwrap();
    let short = short.display().to_string();
    let cases: &[(&[&str], &str)] = &[
        (&["--encrypt", "aes-128", "--key", "0011"], "16 bytes"),
        (
            &[
                "--encrypt",
                "aes-128",
                "--key",
                "zz0102030405060708090a0b0c0d0e0f",
            ],
            "hexadecimal",
        ),
        (&["--encrypt", "aes-128", "--key-file", &short], "20 bytes"),
        (&["--key", KEY], "need --encrypt"),
        (
            &["--encrypt", "aes-128", "--key-rotation", "0"],
            "at least 1",
        ),
        (
            &[
                "--encrypt",
                "aes-128",
                "--key-rotation",
                "2",
                "--key-uri",
                "https://k/x",
            ],
            "{n}",
        ),
        (
            &["--encrypt", "sample-aes", "--format", "fmp4"],
            "--encrypt cbcs",
        ),
        (&["--encrypt", "cbcs", "--format", "ts"], "--format fmp4"),
    ];
    for (args, want) in cases {
        let out = dir.join("out");
        let o = run(Command::new(bin())
            .arg("package")
            .arg(&input)
            .arg("-o")
            .arg(&out)
            .args(*args));
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(!out.exists(), "{args:?}: output left behind");
    }
}

#[test]
fn hlsjs_plays_aes_128_sample_aes_and_rotating_keys() {
    let root = out_dir("encrypt-browser");
    std::fs::create_dir_all(&root).unwrap();
    let input = fixtures::playback();
    let cases: &[(&str, &[&str])] = &[
        ("ts", &["--format", "ts"]),
        ("fmp4", &["--format", "fmp4"]),
        ("fmp4-single", &["--format", "fmp4", "--single-file"]),
        ("rotation", &["--format", "ts", "--key-rotation", "1"]),
        ("sample-aes", &["--format", "ts", "--encrypt", "sample-aes"]),
        (
            "sample-aes-rotation",
            &[
                "--format",
                "ts",
                "--encrypt",
                "sample-aes",
                "--key-rotation",
                "1",
            ],
        ),
    ];
    for (name, args) in cases {
        let mut a = vec!["--segment-duration", "2", "--quiet"];
        if !args.contains(&"--encrypt") {
            a.extend(["--encrypt", "aes-128"]);
        }
        a.extend_from_slice(args);
        package(&input, &root.join(name), &a);
    }
    let server = serve(&root, &[]);
    let mut failures = vec![];
    for (name, _) in cases {
        let url = format!("{}/{name}/master.m3u8", server.base);
        // 7 s from 0: across the key changes of `rotation` (one key per 2 s segment).
        let report = play(&url, "hlsjs", 7, &[]);
        if report["ok"] != true {
            failures.push(format!("{name}: {report}"));
        }
    }
    assert!(
        failures.is_empty(),
        "playback failures:\n{}",
        failures.join("\n")
    );
}
