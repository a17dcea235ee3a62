// SPDX-License-Identifier: MIT OR Apache-2.0
//! The I-frame playlist of a live stream (Apple 6.1, RFC 8216bis 4.4.3.6), checked over HTTP
//! the way a player uses it: the multivariant playlist lists it, and every entry — its byte
//! range fetched with a Range request, after its EXT-X-MAP — decodes on its own to one video
//! keyframe (ffprobe, not our demuxer).

use super::harness::{get, get_range};
use crate::common::out_dir;
use crate::common::probe;

/// Checks the I-frame playlist of the stream in `/{dir}/`; `ended`: whether the stream has
/// ended (then the I-frame playlist has EXT-X-ENDLIST too). Decodes at most `max` entries.
pub fn assert_i_frames_decode(base: &str, dir: &str, ended: bool, max: usize) {
    let master = get(base, &format!("/{dir}/master.m3u8"));
    assert_eq!(master.status, 200, "{dir}: master");
    let m = match m3u8_rs::parse_playlist_res(&master.body) {
        Ok(m3u8_rs::Playlist::MasterPlaylist(m)) => m,
        other => panic!("{dir}: master: {other:?}\n{}", master.text()),
    };
    let streams: Vec<_> = m.variants.iter().filter(|v| v.is_i_frame).collect();
    assert_eq!(
        streams.len(),
        1,
        "{dir}: EXT-X-I-FRAME-STREAM-INF\n{}",
        master.text()
    );
    let iv = streams[0];
    let codecs = iv.codecs.clone().unwrap_or_default();
    assert!(
        (codecs.starts_with("avc1.") || codecs.starts_with("avc3.")) && !codecs.contains(','),
        "{dir}: the video codec only: {codecs}"
    );
    assert!(iv.resolution.is_some() && iv.bandwidth > 0, "{dir}: {iv:?}");

    let r = get(base, &format!("/{dir}/{}", iv.uri));
    assert_eq!(r.status, 200, "{dir}: {}", iv.uri);
    let pl = match m3u8_rs::parse_playlist_res(&r.body) {
        Ok(m3u8_rs::Playlist::MediaPlaylist(p)) => p,
        other => panic!("{dir}: {}: {other:?}\n{}", iv.uri, r.text()),
    };
    assert!(pl.i_frames_only, "{dir}: EXT-X-I-FRAMES-ONLY\n{}", r.text());
    assert_eq!(pl.end_list, ended, "{dir}: EXT-X-ENDLIST\n{}", r.text());
    assert!(pl.segments.len() >= 2, "{dir}: entries\n{}", r.text());

    let scratch = out_dir(&format!("{dir}-iframes"));
    std::fs::create_dir_all(&scratch).expect("scratch");
    let fetch = |uri: &str, range: Option<&m3u8_rs::ByteRange>| -> Vec<u8> {
        let path = format!("/{dir}/{uri}");
        match range {
            Some(b) => {
                let offset = b.offset.expect("explicit offset");
                let r = get_range(base, &path, offset, b.length);
                assert_eq!(r.status, 206, "{dir}: {uri} {offset}+{}", b.length);
                assert_eq!(r.body.len() as u64, b.length, "{dir}: {uri}");
                r.body
            }
            None => {
                let r = get(base, &path);
                assert_eq!(r.status, 200, "{dir}: {uri}");
                r.body
            }
        }
    };
    // Every range first (the entries' segments leave the window as time passes), then ffprobe.
    let mut map = None;
    let mut fetched = Vec::new();
    for (i, s) in pl.segments.iter().enumerate() {
        if s.map.is_some() {
            map = s.map.clone();
        }
        if fetched.len() == max {
            break;
        }
        let range = s
            .byte_range
            .as_ref()
            .expect("EXT-X-BYTERANGE on every entry");
        let mut data = map
            .as_ref()
            .map(|m| fetch(&m.uri, m.byte_range.as_ref()))
            .unwrap_or_default();
        data.extend_from_slice(&fetch(&s.uri, Some(range)));
        fetched.push((i, s.uri.clone(), range.length, data));
    }
    for (i, uri, length, data) in fetched {
        let ext = if uri.ends_with(".ts") { "ts" } else { "mp4" };
        let frames = probe::video_frames_of(&scratch.join(format!("iframe{i}.{ext}")), &data);
        assert_eq!(
            frames.len(),
            1,
            "{dir}: entry {i} ({length} bytes of {uri}) decodes to one video frame: {frames:?}"
        );
        assert!(frames[0].key, "{dir}: entry {i} is a keyframe: {frames:?}");
    }
}
