// SPDX-License-Identifier: MIT OR Apache-2.0
//! The identity checks around a plan and a render: a file changed after its plan was made is
//! never rendered into a segment (503), whatever the change. Inputs made by ffmpeg (skipped
//! without it, like the media crate's probe tests).

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::process::Command;

use axum::http::HeaderValue;

use super::*;

fn input(name: &str) -> Option<PathBuf> {
    let clip = "testsrc=size=160x120:rate=25:duration=4";
    let x264 = ["-c:v", "libx264", "-g", "25", "-pix_fmt", "yuv420p"];
    ffmpeg(
        "hlsorigin-origin-jit",
        name,
        &[&["-f", "lavfi", "-i", clip], &x264[..]].concat(),
    )
}

/// `name` in the temporary folder `dir`, made by `ffmpeg -y -v error ARGS`; `None` without
/// ffmpeg.
pub(super) fn ffmpeg(dir: &str, name: &str, args: &[&str]) -> Option<PathBuf> {
    let dir = std::env::temp_dir().join(dir);
    std::fs::create_dir_all(&dir).ok()?;
    let path = dir.join(name);
    let out = Command::new("ffmpeg")
        .args(["-y", "-v", "error"])
        .args(args)
        .arg(&path)
        .output()
        .ok()?;
    out.status.success().then_some(path)
}

fn meta_of(path: &PathBuf) -> ObjectMeta {
    let md = std::fs::metadata(path).unwrap();
    ObjectMeta {
        len: md.len(),
        modified: md.modified().ok(),
        etag: HeaderValue::from_static("\"x\""),
    }
}

fn object(path: &PathBuf, meta: &ObjectMeta) -> Object {
    Object {
        meta: meta.clone(),
        body: ObjectBody::File(File::open(path).unwrap()),
    }
}

#[test]
fn changed_file_is_never_rendered() {
    // (case, how the file changes after its plan was made)
    type Change = fn(&PathBuf);
    let cases: &[(&str, Change)] = &[
        ("bytes overwritten in place", |p| {
            let mut f = OpenOptions::new().write(true).open(p).unwrap();
            f.seek(SeekFrom::Start(2000)).unwrap();
            f.write_all(&[0xAB; 64]).unwrap();
        }),
        ("appended to", |p| {
            let mut f = OpenOptions::new().append(true).open(p).unwrap();
            f.write_all(b"more").unwrap();
        }),
    ];
    for (i, (case, change)) in cases.iter().enumerate() {
        let Some(path) = input(&format!("changed{i}.mp4")) else {
            return;
        };
        let meta = meta_of(&path);
        let opts = PackageOptions {
            run_id: version(&meta),
            ..Default::default()
        };
        let reader = Reader::File(super::pread::PosFile::new(File::open(&path).unwrap()));
        let ready = build(reader, &meta, "clip.mp4", &opts).unwrap();
        let before = render(&ready, 0, object(&path, &meta), &meta, "clip.mp4");
        assert!(before.is_ok(), "{case}: unchanged file renders");
        // mtime granularity: make sure the change is visible in the mtime.
        std::thread::sleep(std::time::Duration::from_millis(20));
        change(&path);
        let after = render(&ready, 0, object(&path, &meta), &meta, "clip.mp4");
        let status = after.as_ref().err().map(|r| r.status);
        let rendered = after.as_ref().map(|b| b.len());
        assert_eq!(status, Some(503), "{case}: rendered {rendered:?}");
        let reason = after.err().map(|r| r.reason).unwrap_or_default();
        assert!(reason.contains("changed"), "{case}: {reason}");
    }
}

/// The same for a TS input file: planned (demuxed once), rendered from its checkpoint, and
/// refused with 503 once changed.
#[test]
fn changed_ts_file_is_never_rendered() {
    let Some(mp4) = input("ts-source.mp4") else {
        return;
    };
    let path = mp4.with_extension("ts");
    let out = Command::new("ffmpeg")
        .args(["-y", "-v", "error", "-i"])
        .arg(&mp4)
        .args(["-c", "copy", "-f", "mpegts"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta = meta_of(&path);
    let opts = PackageOptions {
        format: media::package::Format::Ts,
        segment_duration: 1.0,
        run_id: version(&meta),
        ..Default::default()
    };
    let reader = Reader::File(super::pread::PosFile::new(File::open(&path).unwrap()));
    let ready = build(reader, &meta, "clip.ts", &opts).unwrap();
    assert!(
        matches!(&*ready, Ready::Ts(_)),
        "a TS file gets a TS input plan"
    );
    for seg in 0..3 {
        let got = render(&ready, seg, object(&path, &meta), &meta, "clip.ts");
        assert!(got.is_ok_and(|b| b.len() > 188), "segment {seg} renders");
    }
    std::thread::sleep(std::time::Duration::from_millis(20));
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(&[0x47; 188]).unwrap();
    let after = render(&ready, 1, object(&path, &meta), &meta, "clip.ts");
    assert_eq!(after.err().map(|r| r.status), Some(503));
}

/// A file that is not an MP4 is refused with 415, one that is damaged with 422.
#[test]
fn refusals() {
    let dir = std::env::temp_dir().join("hlsorigin-origin-jit");
    std::fs::create_dir_all(&dir).unwrap();
    let text = dir.join("notes.mp4");
    std::fs::write(&text, b"just some text, no boxes at all\n").unwrap();
    let damaged = dir.join("damaged.mp4");
    // A plausible ftyp, then a moov whose size runs past the end of the file.
    let mut bytes = b"\0\0\0\x10ftypisom\0\0\0\0".to_vec();
    bytes.extend_from_slice(b"\0\0\x10\0moov\0\0\0\0");
    std::fs::write(&damaged, &bytes).unwrap();
    for (path, want) in [(&text, 415), (&damaged, 422)] {
        let meta = meta_of(path);
        let reader = Reader::File(super::pread::PosFile::new(File::open(path).unwrap()));
        let got = build(reader, &meta, "f.mp4", &PackageOptions::default());
        assert_eq!(
            got.err().map(|r| r.status),
            Some(want),
            "{}",
            path.display()
        );
    }
}

/// Over object storage (ranged GETs pinned by ETag): every object equals `package`'s output
/// for the same bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_storage_equals_package() {
    let Some(path) = input("remote.mp4") else {
        return;
    };
    let bytes = std::fs::read(&path).unwrap();
    let jit = stored("clip.mp4", &bytes, None).await;
    let opts = PackageOptions {
        segment_duration: 2.0,
        run_id: "test".into(),
        ..Default::default()
    };
    let want = packaged(&bytes, &opts);
    assert_jit_equals(&jit, "/v/clip.mp4/", &want, ".m4s").await;
}

/// `bytes` as object `vod/v/NAME` of an in-memory object store, served just in time (2 s
/// segments) from prefix `vod`, encrypted as `protection` says.
async fn stored(
    name: &str,
    bytes: &[u8],
    protection: Option<JitProtection>,
) -> JitSource<crate::source::store::StoreSource> {
    use object_store::path::Path as Key;
    use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

    use crate::source::store::counting::CountingStore;
    use crate::source::store::StoreSource;

    let store = Arc::new(CountingStore::default());
    let payload = PutPayload::from(bytes.to_vec());
    let key = Key::from(format!("vod/v/{name}"));
    store.put(&key, payload).await.unwrap();
    let source = StoreSource::new(Arc::clone(&store) as Arc<dyn ObjectStore>, "vod");
    JitSource::new(source, 2.0, 64 << 20).with_protection(protection)
}

/// What `package` writes of the MP4 `bytes` with `opts`.
fn packaged(bytes: &[u8], opts: &PackageOptions) -> media::store::MemStore {
    let mut want = media::store::MemStore::default();
    let len = bytes.len() as u64;
    let mut demux = Mp4Demuxer::open(Cursor::new(bytes), len, Mp4Options::default()).unwrap();
    media::package::package(&mut demux, opts, &mut want, &mut |_| {}).unwrap();
    want
}

/// Every object of `want` (run id `test`) equals the object of the same name under `base`
/// (the version its media playlist names, segments ending in `ext`), whether in memory or
/// made per range; returns the names compared.
async fn assert_jit_equals<S: ObjectSource>(
    jit: &JitSource<S>,
    base: &str,
    want: &media::store::MemStore,
    ext: &str,
) -> Vec<String> {
    let open = |name: String| {
        let p = ObjectPath::from_request_path(&format!("{base}{name}")).unwrap();
        async move {
            let o = jit.open(&p).await.unwrap();
            let len = o.meta.len;
            match o.body {
                ObjectBody::Memory(b) => b,
                ObjectBody::Ranged(r) => spawn_blocking(move || r.read_range(0, len))
                    .await
                    .unwrap()
                    .unwrap(),
                _ => panic!("{name}: neither in memory nor made per range"),
            }
        }
    };
    let media = open("stream.m3u8".into()).await;
    let text = String::from_utf8(media.to_vec()).unwrap();
    let line = text.lines().find(|l| l.ends_with(ext)).unwrap();
    let version = line.split('_').nth(1).unwrap().to_owned();
    let mut names = Vec::new();
    for (name, data) in &want.objects {
        let got = open(name.replace("_test_", &format!("_{version}_"))).await;
        let got = if name.ends_with(".m3u8") {
            String::from_utf8(got.to_vec())
                .unwrap()
                .replace(&format!("_{version}_"), "_test_")
                .into_bytes()
        } else {
            got.to_vec()
        };
        assert!(got == *data, "{name} differs from package's");
        names.push(name.clone());
    }
    names
}

/// A mapping file over object storage (ranged GETs pinned by ETag): every object of the
/// ladder equals the ladder planned and rendered locally from the same bytes; a mapping file
/// naming a missing object answers 422 naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_storage_mapping_file() {
    use media::package::jit_ladder::{plan_ladder, LadderInputs};
    use media::package::ladder_text::{RenditionSpec, SubtitleInput};
    use object_store::path::Path as Key;
    use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

    use crate::source::store::counting::CountingStore;
    use crate::source::store::StoreSource;

    let Some(path) = input("remote_ladder.mp4") else {
        return;
    };
    let video = std::fs::read(&path).unwrap();
    let vtt = b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHi\n".to_vec();
    let json = br#"{"videos": ["clip.mp4"], "subtitles": [{"file": "s/en.vtt", "lang": "en"}]}"#;
    let missing = br#"{"videos": ["clip.mp4"], "audio": [{"file": "gone.m4a"}]}"#;
    let store = Arc::new(CountingStore::default());
    for (key, bytes) in [
        ("vod/v/clip.mp4", video.clone()),
        ("vod/v/s/en.vtt", vtt.clone()),
        ("vod/v/t.json", json.to_vec()),
        ("vod/v/missing.json", missing.to_vec()),
    ] {
        store
            .put(&Key::from(key), PutPayload::from(bytes))
            .await
            .unwrap();
    }
    let source = StoreSource::new(Arc::clone(&store) as Arc<dyn ObjectStore>, "vod");
    let jit = JitSource::new(source, 2.0, 64 << 20);
    let open = |name: String| {
        let p = ObjectPath::from_request_path(&format!("/v/{name}")).unwrap();
        let jit = &jit;
        async move { jit.open(&p).await }
    };
    let body = |o: Object| match o.body {
        ObjectBody::Memory(b) => b,
        _ => panic!("not in memory"),
    };

    let playlist = body(open("t.json/video_0.m3u8".into()).await.unwrap());
    let text = String::from_utf8(playlist.to_vec()).unwrap();
    let line = text.lines().find(|l| l.starts_with("video_0_")).unwrap();
    let version = line["video_0_".len()..]
        .split('_')
        .next()
        .unwrap()
        .to_owned();

    let opts = PackageOptions {
        segment_duration: 2.0,
        run_id: version,
        ..Default::default()
    };
    let files = vec![("v/clip.mp4".to_owned(), video.len() as u64)];
    let inputs = LadderInputs {
        files: &files,
        videos: &[0],
        audio: &[],
        subtitles: vec![SubtitleInput {
            subs: media::subtitle::parse(std::str::from_utf8(&vtt).unwrap()).unwrap(),
            spec: RenditionSpec {
                lang: Some("en".into()),
                ..RenditionSpec::default()
            },
        }],
    };
    let (indexes, plan) = plan_ladder(inputs, &opts, &mut |_| {
        Mp4Demuxer::open(
            Cursor::new(video.clone()),
            video.len() as u64,
            Mp4Options::default(),
        )
    })
    .unwrap();
    let index = indexes[0].as_ref().unwrap();
    let names = plan.names();
    assert!(names.iter().any(|n| n.ends_with(".vtt")), "{names:?}");
    assert!(names.iter().any(|n| n.starts_with("video_0_")), "{names:?}");
    for name in names {
        let want = match plan.object(&name) {
            Some(b) => b.to_vec(),
            None => {
                let (r, seg) = plan.segment(&name).unwrap();
                let read: Vec<(Span, Bytes)> = plan
                    .spans(index, r, seg)
                    .into_iter()
                    .map(|s| {
                        let (a, b) = (s.offset as usize, (s.offset + s.len) as usize);
                        (s, Bytes::copy_from_slice(&video[a..b]))
                    })
                    .collect();
                plan.render(index, r, seg, &read).unwrap()
            }
        };
        let got = body(open(format!("t.json/{name}")).await.unwrap());
        assert!(got.to_vec() == want, "{name} differs");
    }

    // The index cache counts the ladder's plan and the file's index.
    let (bytes, entries) = jit.cache.usage();
    assert_eq!(entries, 1);
    assert!(
        bytes >= plan.heap_bytes() + index.heap_bytes(),
        "{bytes} bytes counted"
    );

    let err = open("missing.json/master.m3u8".into()).await.unwrap_err();
    let r = refusal(&err).expect("a refusal");
    assert_eq!(r.status, 422, "{}", r.reason);
    assert!(
        r.reason.contains("v/gone.m4a: no such file"),
        "{}",
        r.reason
    );
}

/// AES-128 over object storage (MPEG-TS, keys rotating): every object `package --encrypt
/// aes-128 --key K --key-rotation 1` writes — the I-frame file made per range, the keys
/// served by the origin — equals the JIT object, K = HMAC-SHA256(secret, path).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_storage_aes_128_equals_package() {
    use media::crypto::{Encryption, Method};

    let Some(path) = input("remote_aes.mp4") else {
        return;
    };
    let bytes = std::fs::read(&path).unwrap();
    let methods = ["aes-128".to_owned()];
    let protection = JitProtection::new(&methods, Some("store-secret-0123456789"), Some(1), None)
        .unwrap()
        .unwrap();
    let key = protection.key("v/a.mp4");
    let jit = stored("a.mp4", &bytes, Some(protection)).await;
    let enc = Encryption {
        method: Method::Aes128,
        key,
        rotation: Some(1),
        key_uri: None,
    };
    let opts = PackageOptions {
        format: Format::Ts,
        segment_duration: 2.0,
        run_id: "test".into(),
        encryption: Some(enc.clone()),
        ..Default::default()
    };
    let mut want = packaged(&bytes, &opts);
    // `package` leaves the keys to the CLI: key n of the rotation, one per segment.
    let segments = want
        .objects
        .keys()
        .filter(|n| n.starts_with("stream_test_0"))
        .count();
    assert!(segments >= 2, "{segments} segments");
    for n in 0..enc.keys_used(segments as u64) {
        want.objects
            .insert(media::crypto::key_file_name(n), enc.key(n).to_vec());
    }
    let names = assert_jit_equals(&jit, "/v/a.mp4/ts/", &want, ".ts").await;
    let iframe_files = names.iter().filter(|n| n.ends_with("_iframes.ts")).count();
    assert_eq!(iframe_files, 1, "the I-frame file was compared");
}

/// A span of an object in memory is a slice of it; past the end is `UnexpectedEof`.
#[test]
fn memory_spans_are_slices_or_say_the_object_is_short() {
    let whole = Bytes::from_static(b"0123456789");
    let mut reader = Reader::Memory(Cursor::new(whole.clone()));
    // (offset, length, bytes or None for UnexpectedEof)
    let cases: [(u64, usize, Option<&[u8]>); 5] = [
        (0, 0, Some(b"")),
        (0, 10, Some(b"0123456789")),
        (3, 4, Some(b"3456")),
        (9, 2, None),
        (u64::MAX, 1, None),
    ];
    for (offset, len, want) in cases {
        let got = reader.read_span(offset, len);
        match want {
            Some(want) => assert_eq!(&got.unwrap()[..], want, "{len} at {offset}"),
            None => assert_eq!(
                got.unwrap_err().kind(),
                io::ErrorKind::UnexpectedEof,
                "{len} at {offset}"
            ),
        }
    }
}

/// `/api/streams` of a library: media files and valid mapping files are offered as streams
/// beside packaged ones (a packaged stream's own files are not); listing plans nothing, and
/// an entry has its details once its master was asked for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn library_listing_offers_files_and_plans_none() {
    use crate::http::streams::DetailsCache;
    use crate::source::FsSource;

    let Some(clip) = input("listed.mp4") else {
        return;
    };
    let root = std::env::temp_dir().join(format!("hlsorigin-jit-listing-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("lib")).unwrap();
    std::fs::create_dir_all(root.join("pkg")).unwrap();
    std::fs::copy(&clip, root.join("lib/clip.mp4")).unwrap();
    std::fs::copy(&clip, root.join("pkg/init.mp4")).unwrap();
    std::fs::write(root.join("pkg/master.m3u8"), "#EXTM3U\n").unwrap();
    std::fs::write(root.join("lib/ladder.json"), r#"{"videos": ["clip.mp4"]}"#).unwrap();
    std::fs::write(
        root.join("lib/package.json"),
        r#"{"name": "not a mapping"}"#,
    )
    .unwrap();
    let jit = JitSource::new(FsSource::new(&root).unwrap(), 2.0, 64 << 20);

    let listed = jit.list_streams().await.unwrap();
    let want = [
        "lib/clip.mp4/master.m3u8",
        "lib/ladder.json/master.m3u8",
        "pkg/master.m3u8",
    ];
    assert_eq!(listed, want);
    assert_eq!(jit.cache.usage(), (0, 0), "listing planned something");

    let details = DetailsCache::default();
    let entry = details.entry(&jit, "lib/clip.mp4/master.m3u8").await;
    assert_eq!(
        (&entry["kind"], &entry["state"]),
        (&"vod".into(), &"ended".into())
    );
    assert!(entry.get("duration").is_none(), "{entry}");
    assert_eq!(jit.cache.usage().1, 0, "the entry planned the file");

    let master = ObjectPath::from_request_path("/lib/clip.mp4/master.m3u8").unwrap();
    assert!(jit.would_package(&master).await);
    jit.open(&master).await.unwrap();
    assert!(!jit.would_package(&master).await);
    let entry = details.entry(&jit, "lib/clip.mp4/master.m3u8").await;
    let duration = entry["duration"].as_f64().unwrap_or(0.0);
    assert!((duration - 4.0).abs() < 0.1, "{entry}");
    assert_eq!(entry["renditions"][0]["resolution"], "160x120", "{entry}");
    let _ = std::fs::remove_dir_all(&root);
}

/// A listing reads a JSON file to tell a mapping file only when its ETag changed: the same
/// bytes count rewritten in place under the same mtime keep the first verdict (the file was not
/// read again); a new mtime or new content is judged anew.
#[tokio::test]
async fn listing_judges_json_files_once_per_version() {
    use crate::source::FsSource;
    use std::time::{Duration, SystemTime};

    let root = std::env::temp_dir().join(format!("hlsorigin-jit-verdicts-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("lib")).unwrap();
    let ladder = root.join("lib/ladder.json");
    let other = root.join("lib/package.json");
    let mapping = r#"{"videos": ["clip.mp4"]}"#;
    std::fs::write(&ladder, mapping).unwrap();
    std::fs::write(&other, r#"{"name": "not a mapping"}"#).unwrap();
    let set_mtime = |path: &std::path::Path, t: SystemTime| {
        let f = std::fs::File::options().write(true).open(path).unwrap();
        f.set_modified(t).unwrap();
    };
    let jit = JitSource::new(FsSource::new(&root).unwrap(), 2.0, 64 << 20);
    let ladder_url = "lib/ladder.json/master.m3u8";
    let other_url = "lib/package.json/master.m3u8";

    assert_eq!(jit.list_streams().await.unwrap(), [ladder_url]);
    // Broken in place (same length, same mtime, same inode): the same ETag, the same verdict.
    let mtime = std::fs::metadata(&ladder).unwrap().modified().unwrap();
    let broken = mapping.replace('}', " ");
    std::fs::write(&ladder, &broken).unwrap();
    set_mtime(&ladder, mtime);
    assert_eq!(
        jit.list_streams().await.unwrap(),
        [ladder_url],
        "an unchanged ETag was judged again"
    );
    // A new mtime: read again, no longer a mapping file.
    set_mtime(&ladder, mtime + Duration::from_secs(5));
    assert!(jit.list_streams().await.unwrap().is_empty());
    // New content in the other file: judged anew, now a mapping file.
    // (The same length as before: a distinct mtime makes it a new version even where the
    // filesystem's clock is coarse.)
    std::fs::write(&other, mapping).unwrap();
    set_mtime(&other, mtime + Duration::from_secs(10));
    assert_eq!(jit.list_streams().await.unwrap(), [other_url]);
    let _ = std::fs::remove_dir_all(&root);
}
