// SPDX-License-Identifier: MIT OR Apache-2.0
//! Enhanced RTMP v2 multitrack messages ("Multitrack Streaming via Enhanced RTMP"; the
//! Multitrack packet type of ExVideoTagHeader / ExAudioTagHeader): the demuxer keeps one video
//! and one audio track, so it takes track 0 — the default / highest-priority track the spec
//! recommends numbering 0 — and ignores the others.

/// AvMultitrackType (high 4 bits of the byte after the header).
const ONE_TRACK: u8 = 0;
const MANY_TRACKS_MANY_CODECS: u8 = 2;

/// One track of a multitrack message: its packet type, FourCC and payload.
pub(super) type Track<'a> = (u8, [u8; 4], &'a [u8]);

/// Track 0 of a multitrack body: (its packet type, FourCC, payload), or `None` when the
/// message carries no track 0. `body` starts at the AvMultitrackType/PacketType byte;
/// `multitrack` is the packet type value that must not repeat inside.
pub(super) fn track0(body: &[u8], multitrack: u8) -> Result<Option<Track<'_>>, String> {
    let (&b, mut rest) = body
        .split_first()
        .ok_or("multitrack message without its type")?;
    let (kind, packet_type) = (b >> 4, b & 0x0F);
    if kind > MANY_TRACKS_MANY_CODECS {
        return Err(format!("reserved AvMultitrackType {kind}"));
    }
    if packet_type == multitrack {
        return Err("multitrack packet type nested in a multitrack message".into());
    }
    let fourcc = |rest: &mut &[u8]| -> Result<[u8; 4], String> {
        let f: [u8; 4] = rest
            .get(..4)
            .and_then(|f| f.try_into().ok())
            .ok_or("multitrack FourCC cut off")?;
        *rest = rest.get(4..).unwrap_or_default();
        Ok(f)
    };
    let shared = if kind == MANY_TRACKS_MANY_CODECS {
        None
    } else {
        Some(fourcc(&mut rest)?)
    };
    while !rest.is_empty() {
        let codec = match shared {
            Some(f) => f,
            None => fourcc(&mut rest)?,
        };
        let (&track_id, after) = rest.split_first().ok_or("multitrack track id cut off")?;
        let (data, after) = if kind == ONE_TRACK {
            (after, &[][..])
        } else {
            let size = after
                .get(..3)
                .map(|s| s.iter().fold(0usize, |a, &x| (a << 8) | usize::from(x)))
                .ok_or("multitrack track size cut off")?;
            let data = after
                .get(3..3 + size)
                .ok_or_else(|| format!("multitrack track {track_id}: {size} bytes cut off"))?;
            (data, after.get(3 + size..).unwrap_or_default())
        };
        if track_id == 0 {
            return Ok(Some((packet_type, codec, data)));
        }
        rest = after;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn track0_table() {
        type Want<'a> = Result<Option<(u8, &'a [u8; 4], &'a [u8])>, &'a str>;
        let cases: [(&[u8], Want<'_>); 7] = [
            (b"\x01hvc1\x00abc", Ok(Some((1, b"hvc1", b"abc")))),
            // ManyTracks: track 1 first, then track 0
            (
                b"\x11hvc1\x01\x00\x00\x02xy\x00\x00\x00\x01z",
                Ok(Some((1, b"hvc1", b"z"))),
            ),
            // ManyTracksManyCodecs: a FourCC per track
            (
                b"\x20av01\x01\x00\x00\x01xhvc1\x00\x00\x00\x00",
                Ok(Some((0, b"hvc1", b""))),
            ),
            (b"\x11hvc1\x02\x00\x00\x01x", Ok(None)),
            (b"\x16hvc1", Err("nested")),
            (b"\x31hvc1", Err("reserved AvMultitrackType 3")),
            (b"\x11hvc1\x00\x00\x00\x09ab", Err("9 bytes cut off")),
        ];
        for (body, want) in cases {
            let got = track0(body, 6);
            match (&got, want) {
                (Ok(g), Ok(w)) => assert_eq!(*g, w.map(|(t, f, d)| (t, *f, d)), "{body:02x?}"),
                (Err(g), Err(w)) => assert!(g.contains(w), "{g}"),
                _ => panic!("{body:02x?}: {got:?}"),
            }
        }
    }
}
