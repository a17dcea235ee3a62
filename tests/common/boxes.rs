// SPDX-License-Identifier: MIT OR Apache-2.0
//! A small MP4 box model for tests that build odd files by rewriting the boxes of ordinary
//! ones (ISO/IEC 14496-12 §4.2: size, type, payload; containers hold boxes).

/// One MP4 box: containers keep their children, the rest their payload.
#[derive(Clone, Debug)]
pub struct Bx {
    pub kind: [u8; 4],
    pub payload: Vec<u8>,
    pub children: Option<Vec<Bx>>,
}

const CONTAINERS: [&[u8; 4]; 8] = [
    b"moov", b"trak", b"mdia", b"minf", b"stbl", b"mvex", b"moof", b"traf",
];

pub fn parse(mut data: &[u8]) -> Vec<Bx> {
    let mut out = Vec::new();
    while data.len() >= 8 {
        let size = u32::from_be_bytes(data[..4].try_into().unwrap()) as usize;
        let kind: [u8; 4] = data[4..8].try_into().unwrap();
        let (hdr, size) = match size {
            0 => (8, data.len()),
            1 => (
                16,
                u64::from_be_bytes(data[8..16].try_into().unwrap()) as usize,
            ),
            s => (8, s),
        };
        let body = &data[hdr..size];
        out.push(if CONTAINERS.contains(&&kind) {
            Bx {
                kind,
                payload: Vec::new(),
                children: Some(parse(body)),
            }
        } else {
            Bx {
                kind,
                payload: body.to_vec(),
                children: None,
            }
        });
        data = &data[size..];
    }
    out
}

pub fn write(boxes: &[Bx], out: &mut Vec<u8>) {
    for b in boxes {
        let mut body = Vec::new();
        match &b.children {
            Some(c) => write(c, &mut body),
            None => body.extend_from_slice(&b.payload),
        }
        if body.len() + 8 > u32::MAX as usize {
            out.extend_from_slice(&1u32.to_be_bytes());
            out.extend_from_slice(&b.kind);
            out.extend_from_slice(&(body.len() as u64 + 16).to_be_bytes());
        } else {
            out.extend_from_slice(&(body.len() as u32 + 8).to_be_bytes());
            out.extend_from_slice(&b.kind);
        }
        out.extend_from_slice(&body);
    }
}

pub fn serialize(boxes: &[Bx]) -> Vec<u8> {
    let mut v = Vec::new();
    write(boxes, &mut v);
    v
}

pub fn child<'a>(boxes: &'a mut [Bx], kind: &[u8; 4]) -> &'a mut Bx {
    boxes
        .iter_mut()
        .find(|b| &b.kind == kind)
        .unwrap_or_else(|| panic!("no {} box", String::from_utf8_lossy(kind)))
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

fn set_be32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

fn children(b: &mut Bx) -> &mut Vec<Bx> {
    b.children.as_mut().expect("a container box")
}

/// `tkhd`'s track_ID (§8.3.2): after version/flags and the creation and modification times.
fn track_id_at(tkhd: &[u8]) -> usize {
    if tkhd[0] == 1 {
        20
    } else {
        12
    }
}

/// `mdhd`'s timescale (§8.4.2), same layout as `tkhd` up to it.
fn timescale(trak: &mut Bx) -> u32 {
    let mdia = child(children(trak), b"mdia");
    let mdhd = &child(children(mdia), b"mdhd").payload;
    be32(mdhd, track_id_at(mdhd))
}

/// A fragment (`moof` + `mdat`) and its start in seconds (`tfdt` of its first `traf`).
struct Fragment {
    start: f64,
    moof: Bx,
    mdat: Bx,
}

/// The tracks of several fragmented MP4s (ISO/IEC 14496-12 §8.8: `moov` with `mvex`, then
/// `moof` + `mdat` pairs) in one fragmented MP4, the way a muxer that writes all of them at
/// once would: the first file's `ftyp` and `moov` with every other file's `trak` and `trex`
/// added (track_IDs renumbered in order), the fragments of all files in order of time, `mfhd`
/// sequence numbers renumbered. Each `tfhd` must have default-base-is-moof (its data offsets
/// then stay right wherever the fragment goes); `sidx`, `styp` and `mfra` are dropped.
pub fn merge_fragmented(files: &[Vec<u8>]) -> Vec<u8> {
    let mut head: Vec<Bx> = Vec::new();
    let mut fragments = Vec::new();
    let mut next_id = 1u32;
    for (n, data) in files.iter().enumerate() {
        // Old track_ID, new track_ID, timescale.
        let mut ids: Vec<(u32, u32, u32)> = Vec::new();
        let mut moov = None;
        let mut moof = None;
        for mut b in parse(data) {
            match &b.kind {
                b"moov" => {
                    renumber_tracks(&mut b, &mut next_id, &mut ids);
                    moov = Some(b);
                }
                b"moof" => moof = Some(b),
                b"mdat" => {
                    let mut moof = moof.take().expect("a moof before each mdat");
                    let start = renumber_fragment(&mut moof, &ids);
                    fragments.push(Fragment {
                        start,
                        moof,
                        mdat: b,
                    });
                }
                b"ftyp" if n == 0 => head.push(b),
                _ => {}
            }
        }
        let moov = moov.expect("a moov");
        match head.iter_mut().find(|b| &b.kind == b"moov") {
            None => head.push(moov),
            Some(first) => add_tracks(first, moov),
        }
    }
    fragments.sort_by(|a, b| a.start.total_cmp(&b.start));
    let mut out = head;
    for (seq, mut f) in fragments.into_iter().enumerate() {
        let mfhd = child(children(&mut f.moof), b"mfhd");
        set_be32(&mut mfhd.payload, 4, seq as u32 + 1);
        out.push(f.moof);
        out.push(f.mdat);
    }
    serialize(&out)
}

/// Gives the tracks of `moov` (`tkhd`, `trex`) the next track_IDs, recording them in `ids`.
fn renumber_tracks(moov: &mut Bx, next_id: &mut u32, ids: &mut Vec<(u32, u32, u32)>) {
    for trak in children(moov).iter_mut().filter(|b| &b.kind == b"trak") {
        let scale = timescale(trak);
        let tkhd = &mut child(children(trak), b"tkhd").payload;
        let at = track_id_at(tkhd);
        ids.push((be32(tkhd, at), *next_id, scale));
        set_be32(tkhd, at, *next_id);
        *next_id += 1;
    }
    let mvex = children(child(children(moov), b"mvex"));
    for trex in mvex.iter_mut().filter(|b| &b.kind == b"trex") {
        let old = be32(&trex.payload, 4);
        let new = ids
            .iter()
            .find(|(o, ..)| *o == old)
            .expect("trex of a track")
            .1;
        set_be32(&mut trex.payload, 4, new);
    }
}

/// Renumbers the `tfhd` track_IDs of `moof` (§8.8.7) as `ids` says; its start in seconds.
fn renumber_fragment(moof: &mut Bx, ids: &[(u32, u32, u32)]) -> f64 {
    let mut start = None;
    for traf in children(moof).iter_mut().filter(|b| &b.kind == b"traf") {
        let tfhd = &mut child(children(traf), b"tfhd").payload;
        let flags = be32(tfhd, 0) & 0xFF_FFFF;
        assert!(
            flags & 0x02_0000 != 0 && flags & 1 == 0,
            "tfhd flags {flags:#x}: default-base-is-moof and no base-data-offset needed"
        );
        let &(_, new, scale) = ids
            .iter()
            .find(|(o, ..)| *o == be32(tfhd, 4))
            .expect("traf of a track");
        set_be32(tfhd, 4, new);
        let tfdt = &child(children(traf), b"tfdt").payload;
        let base = if tfdt[0] == 1 {
            u64::from_be_bytes(tfdt[4..12].try_into().unwrap())
        } else {
            u64::from(be32(tfdt, 4))
        };
        start.get_or_insert(base as f64 / f64::from(scale));
    }
    start.expect("a traf")
}

/// Adds the tracks of `moov` (its `trak` and `trex` boxes) to `target`.
fn add_tracks(target: &mut Bx, moov: Bx) {
    let mut traks = Vec::new();
    let mut trexes = Vec::new();
    for b in moov.children.expect("moov children") {
        match &b.kind {
            b"trak" => traks.push(b),
            b"mvex" => trexes.extend(
                b.children
                    .expect("mvex children")
                    .into_iter()
                    .filter(|b| &b.kind == b"trex"),
            ),
            _ => {}
        }
    }
    let boxes = children(target);
    let at = boxes
        .iter()
        .position(|b| &b.kind == b"mvex")
        .expect("an mvex");
    for (k, trak) in traks.into_iter().enumerate() {
        boxes.insert(at + k, trak);
    }
    children(child(boxes, b"mvex")).extend(trexes);
}
