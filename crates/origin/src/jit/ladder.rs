// SPDX-License-Identifier: MIT OR Apache-2.0
//! Mapping files served just in time: `/PATH/NAME.json/master.m3u8` (fMP4) and
//! `/PATH/NAME.json/ts/master.m3u8` answer the ladder `package` writes for the files the
//! mapping names ([`super::mapping`]), planned by [`media::package::jit_ladder`]. The version
//! in the objects' names hashes the identity (size and mtime, as a single file's) of the
//! mapping file and of every file it names, so a change to any of them gives new URLs; each
//! request opens them all again, and a segment is rendered from its rendition's file between
//! two identity checks as a single file's is. Refusals: 422 naming the problem (malformed
//! JSON with line and column, a path that leaves the directory, a missing file, the
//! packager's error line with the file).

use std::io::{self, Cursor, Read};
use std::sync::Arc;

use bytes::Bytes;
use media::demux::mp4::{MediaIndex, Mp4Demuxer, Mp4Options};
use media::package::jit::JitPlan;
use media::package::jit_ladder::{plan_ladder, LadderInputs, LadderPlan};
use media::package::ladder_text::SubtitleInput;
use media::package::PackageOptions;
use media::subtitle;
use sha2::{Digest, Sha256};
use tokio::task::spawn_blocking;

use super::mapping::{self, Resolved};
use super::url::JitUrl;
use super::{
    changed, read_spans, reader, refused, unchanged, version, JitSource, Planned, Reader, Ready,
    Refusal,
};
use crate::source::{Object, ObjectBody, ObjectMeta, ObjectSource};

/// Largest mapping file read.
pub const MAX_MAPPING_BYTES: u64 = 1 << 20;
/// Largest subtitle file read.
const MAX_SUBTITLE_BYTES: u64 = 64 << 20;

/// A planned ladder: the index of each file that holds a rendition, and the plan.
pub(crate) struct LadderReady {
    indexes: Vec<Option<MediaIndex>>,
    plan: LadderPlan,
}

impl LadderReady {
    /// The plan of rendition `r`, and the index of its file.
    pub(super) fn rendition(&self, r: usize) -> Option<(&MediaIndex, &JitPlan)> {
        let file = self.plan.file(r)?;
        let index = self.indexes.get(file)?.as_ref()?;
        Some((index, self.plan.rendition(r)?))
    }

    pub(super) fn heap_bytes(&self) -> usize {
        let indexes: usize = self.indexes.iter().flatten().map(|i| i.heap_bytes()).sum();
        indexes + self.plan.heap_bytes()
    }
}

fn unprocessable(reason: String) -> io::Error {
    io::Error::other(refused(422, reason))
}

impl<S: ObjectSource> JitSource<S> {
    /// Object `url.name` of the ladder mapping file `json` describes.
    pub(super) async fn open_mapping(&self, url: JitUrl, json: Object) -> io::Result<Object> {
        let name = url.file.as_str().to_owned();
        let json_meta = json.meta.clone();
        let text = read_whole(&json, &name, MAX_MAPPING_BYTES).await?;
        let resolved = mapping::parse(&name, &text)
            .and_then(|m| mapping::resolve(&m, &url.file))
            .map_err(unprocessable)?;
        let mut files = Vec::with_capacity(resolved.files.len());
        for path in &resolved.files {
            match self.inner.open(path).await {
                Ok(o) => files.push(o),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(unprocessable(format!(
                        "{name}: {}: no such file",
                        path.as_str()
                    )))
                }
                Err(e) => return Err(e),
            }
        }
        let (key, opts) = self.plan_inputs(&url, ladder_version(&json_meta, &files))?;
        let encryption = opts.encryption.clone();
        let readers = files.iter().map(reader).collect::<io::Result<Vec<_>>>()?;
        let metas: Vec<ObjectMeta> = files.iter().map(|f| f.meta.clone()).collect();
        let ready = self
            .plan_cached(&key, move || {
                build(readers, &metas, &name, &resolved, &opts)
            })
            .await?;
        let Ready::Ladder(ladder) = &*ready else {
            return Err(io::ErrorKind::NotFound.into());
        };
        let master = ladder.plan.object("master.m3u8");
        let etag = self.etag(&key, url.format, &url.name)?;
        if let Some((r, len)) = ladder.plan.iframe_file(&url.name) {
            let file = ladder
                .plan
                .file(r)
                .and_then(|f| files.into_iter().nth(f))
                .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
            let meta = ObjectMeta {
                len,
                modified: json_meta.modified,
                etag,
            };
            let ready = Arc::clone(&ready);
            let name = url.name.clone();
            return Ok(super::iframes::IframeFile::object(
                ready,
                Some(r),
                file,
                meta,
                name,
            ));
        }
        let bytes = if let Some(b) = ladder.plan.object(&url.name) {
            b.clone()
        } else if let Some(k) = self.key_object(encryption.as_ref(), &url.name, master) {
            k
        } else if let Some((r, seg)) = ladder.plan.segment(&url.name) {
            let file = ladder
                .plan
                .file(r)
                .and_then(|f| files.into_iter().nth(f))
                .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
            let ready = Arc::clone(&ready);
            let name = url.name.clone();
            self.render_blocking(&key, move || render(&ready, r, seg, file, &name))
                .await?
        } else {
            return Err(io::ErrorKind::NotFound.into());
        };
        Ok(Object {
            meta: ObjectMeta {
                len: bytes.len() as u64,
                modified: json_meta.modified,
                etag,
            },
            body: ObjectBody::Memory(bytes),
        })
    }
}

/// The version of a ladder: a hash of the versions of the mapping file and of every file it
/// names, in order.
fn ladder_version(json: &ObjectMeta, files: &[Object]) -> String {
    let mut all = version(json);
    for f in files {
        all.push(':');
        all.push_str(&version(&f.meta));
    }
    let digest = Sha256::digest(all.as_bytes());
    digest.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

/// All of a small object's bytes (a mapping or subtitle file), at most `max`.
pub(super) async fn read_whole(object: &Object, name: &str, max: u64) -> io::Result<Vec<u8>> {
    if object.meta.len > max {
        return Err(unprocessable(format!(
            "{name}: {} bytes, more than the {max} read",
            object.meta.len
        )));
    }
    let r = reader(object)?;
    let name = name.to_owned();
    spawn_blocking(move || read_reader(r, &name))
        .await
        .map_err(io::Error::other)?
        .map_err(io::Error::other)
}

fn read_reader(mut r: Reader, name: &str) -> Result<Vec<u8>, Refusal> {
    let mut bytes = Vec::new();
    r.read_to_end(&mut bytes)
        .map_err(|e| refused(422, format!("{name}: {e}")))?;
    Ok(bytes)
}

/// Plans the ladder (blocking): reads and parses the subtitle files, plans every rendition,
/// and checks that no file changed meanwhile (503).
fn build(
    readers: Vec<Reader>,
    metas: &[ObjectMeta],
    json: &str,
    resolved: &Resolved,
    opts: &PackageOptions,
) -> Planned {
    let started = std::time::Instant::now();
    let names: Vec<String> = resolved
        .files
        .iter()
        .map(|p| p.as_str().to_owned())
        .collect();
    let probes = readers
        .iter()
        .map(Reader::duplicate)
        .collect::<io::Result<Vec<_>>>()
        .map_err(|e| refused(500, format!("{json}: {e}")))?;
    let mut subtitles = Vec::new();
    for (file, spec) in &resolved.subtitles {
        let (reader, name) = (probes.get(*file), names.get(*file));
        let (Some(reader), Some(name)) = (reader, name) else {
            return Err(refused(500, format!("{json}: no file {file}")));
        };
        let len = metas.get(*file).map_or(0, |m| m.len);
        let (subs, language) = read_subtitles(reader, len, name).map_err(|r| in_json(json, r))?;
        let mut spec = spec.clone();
        if spec.lang.is_none() {
            // An MP4's text track: its language unless the entry gives one (as `package`).
            spec.lang = language;
        }
        subtitles.push(SubtitleInput { subs, spec });
    }
    let files: Vec<(String, u64)> = names
        .iter()
        .zip(metas)
        .map(|(n, m)| (n.clone(), m.len))
        .collect();
    let inputs = LadderInputs {
        files: &files,
        videos: &resolved.videos,
        audio: &resolved.audio,
        subtitles,
    };
    let mut open = |n: usize| -> media::Result<Mp4Demuxer<Reader>> {
        let reader = readers
            .get(n)
            .ok_or(media::Error::NoTracks)?
            .duplicate()
            .map_err(|e| media::Error::io("opening", e))?;
        let len = metas.get(n).map_or(0, |m| m.len);
        Mp4Demuxer::open(reader, len, Mp4Options::default())
    };
    let (indexes, plan) =
        plan_ladder(inputs, opts, &mut open).map_err(|e| refused(422, format!("{json}: {e}")))?;
    for (probe, (meta, name)) in probes.iter().zip(metas.iter().zip(&names)) {
        if !unchanged(probe, meta) {
            return Err(changed(name));
        }
    }
    tracing::info!(
        file = json,
        format = opts.format.name(),
        objects = plan.names().len(),
        ms = started.elapsed().as_secs_f64() * 1000.0,
        "ladder planned for just-in-time packaging"
    );
    Ok(Arc::new(Ready::Ladder(LadderReady { indexes, plan })))
}

/// A refusal about a file the mapping file `json` names, prefixed with it.
fn in_json(json: &str, r: Refusal) -> Refusal {
    refused(r.status, format!("{json}: {}", r.reason))
}

/// Reads and parses a subtitle file as `package --subtitles` does: WebVTT or SRT in UTF-8, or
/// an MP4 holding a text track (its language too).
fn read_subtitles(
    reader: &Reader,
    len: u64,
    name: &str,
) -> Result<(subtitle::Subtitles, Option<String>), Refusal> {
    if len > MAX_SUBTITLE_BYTES {
        return Err(refused(
            422,
            format!("{name}: {len} bytes: too large for subtitles"),
        ));
    }
    let r = reader
        .duplicate()
        .map_err(|e| refused(500, format!("{name}: {e}")))?;
    let bytes = read_reader(r, name)?;
    // ISO/IEC 14496-12 4.2: size, then a top-level box type a file starts with.
    let mp4 = matches!(
        bytes.get(4..8),
        Some(b"ftyp" | b"styp" | b"moov" | b"free" | b"wide" | b"mdat")
    );
    if mp4 {
        let len = bytes.len() as u64;
        let mut tracks = Mp4Demuxer::text_tracks(Cursor::new(bytes), len)
            .map_err(|e| refused(422, format!("{name}: {e}")))?;
        if tracks.is_empty() {
            return Err(refused(
                422,
                format!("{name}: an MP4 file without a text track (tx3g or wvtt)"),
            ));
        }
        let track = tracks.remove(0);
        return Ok((track.subtitles, track.language));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        refused(
            422,
            format!(
                "{name}: not UTF-8 text (byte {}): WebVTT and SRT files must be UTF-8",
                e.utf8_error().valid_up_to()
            ),
        )
    })?;
    let subs = subtitle::parse(&text).map_err(|e| refused(422, format!("{name}: {e}")))?;
    Ok((subs, None))
}

/// Renders segment `seg` of rendition `r` from its file, read between two identity checks.
fn render(ready: &Ready, r: usize, seg: usize, file: Object, name: &str) -> Result<Bytes, Refusal> {
    let Ready::Ladder(ladder) = ready else {
        return Err(refused(500, format!("{name}: not a ladder's plan")));
    };
    let index = ladder
        .plan
        .file(r)
        .and_then(|f| ladder.indexes.get(f))
        .and_then(Option::as_ref)
        .ok_or_else(|| refused(500, format!("{name}: no index")))?;
    let meta = file.meta.clone();
    let read = read_spans(&file, &meta, name, ladder.plan.spans(index, r, seg))?;
    ladder
        .plan
        .render(index, r, seg, &read)
        .map(Bytes::from)
        .map_err(|_| changed(name))
}
