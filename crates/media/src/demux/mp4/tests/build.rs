// SPDX-License-Identifier: MIT OR Apache-2.0
//! A small MP4 writer for byte fixtures: plain files (moov first or last, stco/co64,
//! stsz/stz2, several chunks and sample descriptions) and fragmented files with each way of
//! placing fragment data (§8.8.7.1). Standard leaf boxes are encoded with `mp4-atom`.

use mp4_atom::{
    Co64, Ctts, CttsEntry, Elst, ElstEntry, Encode, Hdlr, Mdhd, Mfhd, Mvhd, Stco, Stsc, StscEntry,
    Stss, Stsz, StszSamples, Stts, SttsEntry, Tfdt, Tfhd, Tkhd, Trex, Trun, TrunEntry,
};

pub fn enc<T: Encode>(b: &T) -> Vec<u8> {
    let mut v = Vec::new();
    b.encode(&mut v).unwrap_or_else(|e| panic!("encode: {e}"));
    v
}

pub fn bx(kind: &[u8; 4], parts: &[&[u8]]) -> Vec<u8> {
    let len: usize = 8 + parts.iter().map(|p| p.len()).sum::<usize>();
    let mut v = Vec::with_capacity(len);
    v.extend_from_slice(&(len as u32).to_be_bytes());
    v.extend_from_slice(kind);
    for p in parts {
        v.extend_from_slice(p);
    }
    v
}

#[derive(Debug, Clone)]
pub struct S {
    pub data: Vec<u8>,
    pub dur: u32,
    pub cts: i32,
    pub sync: bool,
}

/// A video sample: one NAL (IDR or non-IDR slice) with a 4-byte length, `n` filler bytes.
pub fn vs(i: usize, dur: u32, cts: i32, sync: bool) -> S {
    let n = 5 + i % 7;
    let mut data = vec![0, 0, 0, n as u8 + 1, if sync { 0x65 } else { 0x41 }];
    data.extend((0..n).map(|k| (i + k) as u8));
    S {
        data,
        dur,
        cts,
        sync,
    }
}

pub fn aus(i: usize, dur: u32) -> S {
    S {
        data: vec![0x21, i as u8, (i >> 8) as u8, 0xAA],
        dur,
        cts: 0,
        sync: true,
    }
}

#[derive(Debug, Clone)]
pub struct T {
    pub id: u32,
    pub handler: [u8; 4],
    pub timescale: u32,
    pub entries: Vec<Vec<u8>>,
    pub samples: Vec<S>,
    pub elst: Vec<ElstEntry>,
    /// Sample description index of chunk i (1 when missing).
    pub chunk_sdi: Vec<u32>,
    pub write_stss: bool,
    /// Replace the tables by one chunk of 2^32−1 samples of this size (hostile input).
    pub huge: Option<u32>,
}

pub fn video(id: u32, samples: Vec<S>) -> T {
    T {
        id,
        handler: *b"vide",
        timescale: 90_000,
        entries: vec![avc1_entry(4)],
        samples,
        elst: Vec::new(),
        chunk_sdi: Vec::new(),
        write_stss: true,
        huge: None,
    }
}

pub fn audio(id: u32, samples: Vec<S>) -> T {
    T {
        id,
        handler: *b"soun",
        timescale: 48_000,
        entries: vec![mp4a_entry()],
        samples,
        elst: Vec::new(),
        chunk_sdi: Vec::new(),
        write_stss: false,
        huge: None,
    }
}

/// VisualSampleEntry fields (ISO/IEC 14496-12 §12.1.3), 78 bytes.
pub fn visual_fields(width: u16, height: u16) -> Vec<u8> {
    let mut v = vec![0u8; 6];
    v.extend_from_slice(&1u16.to_be_bytes()); // data_reference_index
    v.extend_from_slice(&[0u8; 16]);
    v.extend_from_slice(&width.to_be_bytes());
    v.extend_from_slice(&height.to_be_bytes());
    v.extend_from_slice(&0x0048_0000u32.to_be_bytes());
    v.extend_from_slice(&0x0048_0000u32.to_be_bytes());
    v.extend_from_slice(&0u32.to_be_bytes());
    v.extend_from_slice(&1u16.to_be_bytes());
    v.extend_from_slice(&[0u8; 32]);
    v.extend_from_slice(&0x0018u16.to_be_bytes());
    v.extend_from_slice(&(-1i16).to_be_bytes());
    v
}

pub const SPS: [u8; 4] = [0x67, 0x64, 0x00, 0x1F];
pub const PPS: [u8; 2] = [0x68, 0xEE];

pub fn avc1_entry(length_size: u8) -> Vec<u8> {
    let mut avcc = vec![1, 0x64, 0x00, 0x1F, 0xFC | (length_size - 1), 0xE1, 0, 4];
    avcc.extend_from_slice(&SPS);
    avcc.extend_from_slice(&[1, 0, 2]);
    avcc.extend_from_slice(&PPS);
    bx(b"avc1", &[&visual_fields(320, 240), &bx(b"avcC", &[&avcc])])
}

/// AudioSampleEntry fields (§12.2.3), 28 bytes.
pub fn audio_fields(channels: u16, rate: u16) -> Vec<u8> {
    let mut v = vec![0u8; 6];
    v.extend_from_slice(&1u16.to_be_bytes());
    v.extend_from_slice(&[0u8; 8]);
    v.extend_from_slice(&channels.to_be_bytes());
    v.extend_from_slice(&16u16.to_be_bytes());
    v.extend_from_slice(&[0u8; 4]);
    v.extend_from_slice(&rate.to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v
}

/// AAC LC 48 kHz stereo: ASC 0x11 0x90.
pub fn mp4a_entry() -> Vec<u8> {
    let esds: &[u8] = &[
        0, 0, 0, 0, // version/flags
        0x03, 25, 0, 1, 0, // ES_Descriptor
        0x04, 17, 0x40, 0x15, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // DecoderConfigDescriptor
        0x05, 2, 0x11, 0x90, // DecoderSpecificInfo
        0x06, 1, 2, // SLConfigDescriptor
    ];
    bx(b"mp4a", &[&audio_fields(2, 48_000), &bx(b"esds", &[esds])])
}

fn full(kind: &[u8; 4], version_flags: u32, body: &[u8]) -> Vec<u8> {
    bx(kind, &[&version_flags.to_be_bytes(), body])
}

fn stsd(entries: &[Vec<u8>]) -> Vec<u8> {
    let mut body = (entries.len() as u32).to_be_bytes().to_vec();
    for e in entries {
        body.extend_from_slice(e);
    }
    full(b"stsd", 0, &body)
}

fn stz2(sizes: &[u32]) -> Vec<u8> {
    let mut body = vec![0, 0, 0, 16];
    body.extend_from_slice(&(sizes.len() as u32).to_be_bytes());
    for &s in sizes {
        body.extend_from_slice(&(s as u16).to_be_bytes());
    }
    full(b"stz2", 0, &body)
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Layout {
    pub moov_first: bool,
    /// Samples per chunk (0 = 3).
    pub chunk: usize,
    pub co64: bool,
    pub stz2: bool,
}

fn mvhd() -> Vec<u8> {
    enc(&Mvhd {
        timescale: 1000,
        rate: 1u16.into(),
        volume: 1u8.into(),
        ..Default::default()
    })
}

/// The trak of `t` with the given sample tables (`chunks`: (offset, sample count)).
fn trak(t: &T, chunks: &[(u64, usize)], l: &Layout) -> Vec<u8> {
    let tkhd = enc(&Tkhd {
        track_id: t.id,
        enabled: true,
        width: 320u16.into(),
        height: 240u16.into(),
        ..Default::default()
    });
    let edts = if t.elst.is_empty() {
        Vec::new()
    } else {
        bx(
            b"edts",
            &[&enc(&Elst {
                entries: t.elst.clone(),
            })],
        )
    };
    let mdhd = enc(&Mdhd {
        timescale: t.timescale,
        duration: t.samples.iter().map(|s| u64::from(s.dur)).sum(),
        language: "eng".into(),
        ..Default::default()
    });
    let hdlr = enc(&Hdlr {
        handler: t.handler.into(),
        name: "h".into(),
    });
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for s in &t.samples {
        match runs.last_mut() {
            Some(r) if r.1 == s.dur => r.0 += 1,
            _ => runs.push((1, s.dur)),
        }
    }
    let stts = enc(&Stts {
        entries: runs
            .iter()
            .map(|&(sample_count, sample_delta)| SttsEntry {
                sample_count,
                sample_delta,
            })
            .collect(),
    });
    let ctts = if t.samples.iter().any(|s| s.cts != 0) {
        enc(&Ctts {
            entries: t
                .samples
                .iter()
                .map(|s| CttsEntry {
                    sample_count: 1,
                    sample_offset: i64::from(s.cts),
                })
                .collect(),
        })
    } else {
        Vec::new()
    };
    let stss = if t.write_stss {
        enc(&Stss {
            entries: (1u32..)
                .zip(&t.samples)
                .filter(|(_, s)| s.sync)
                .map(|(n, _)| n)
                .collect(),
        })
    } else {
        Vec::new()
    };
    let mut stsc = Vec::<StscEntry>::new();
    for (i, &(_, n)) in chunks.iter().enumerate() {
        let sdi = t.chunk_sdi.get(i).copied().unwrap_or(1);
        match stsc.last() {
            Some(e) if e.samples_per_chunk == n as u32 && e.sample_description_index == sdi => {}
            _ => stsc.push(StscEntry {
                first_chunk: i as u32 + 1,
                samples_per_chunk: n as u32,
                sample_description_index: sdi,
            }),
        }
    }
    let stsc = enc(&Stsc { entries: stsc });
    let sizes: Vec<u32> = t.samples.iter().map(|s| s.data.len() as u32).collect();
    let stsz = if l.stz2 {
        stz2(&sizes)
    } else {
        enc(&Stsz {
            samples: StszSamples::Different { sizes },
        })
    };
    let stco = if l.co64 {
        enc(&Co64 {
            entries: chunks.iter().map(|c| c.0).collect(),
        })
    } else {
        enc(&Stco {
            entries: chunks.iter().map(|c| c.0 as u32).collect(),
        })
    };
    let (stts, stsc, stsz) = match t.huge {
        Some(size) => (
            enc(&Stts {
                entries: vec![SttsEntry {
                    sample_count: u32::MAX,
                    sample_delta: 1,
                }],
            }),
            enc(&Stsc {
                entries: vec![StscEntry {
                    first_chunk: 1,
                    samples_per_chunk: u32::MAX,
                    sample_description_index: 1,
                }],
            }),
            enc(&Stsz {
                samples: StszSamples::Identical {
                    count: u32::MAX,
                    size,
                },
            }),
        ),
        None => (stts, stsc, stsz),
    };
    let stbl = bx(
        b"stbl",
        &[&stsd(&t.entries), &stts, &ctts, &stss, &stsc, &stsz, &stco],
    );
    let minf = bx(b"minf", &[&stbl]);
    let mdia = bx(b"mdia", &[&mdhd, &hdlr, &minf]);
    bx(b"trak", &[&tkhd, &edts, &mdia])
}

pub fn ftyp() -> Vec<u8> {
    bx(b"ftyp", &[b"isom", &[0, 0, 2, 0], b"isomiso2avc1mp41"])
}

/// A non-fragmented file: chunks of `l.chunk` samples, interleaved track by track.
pub fn plain(tracks: &[T], l: Layout) -> Vec<u8> {
    let per = if l.chunk == 0 { 3 } else { l.chunk };
    // mdat payload and chunk positions relative to it.
    let mut payload = Vec::new();
    let mut chunks: Vec<Vec<(u64, usize)>> = vec![Vec::new(); tracks.len()];
    let rounds = tracks
        .iter()
        .map(|t| t.samples.len().div_ceil(per))
        .max()
        .unwrap_or(0);
    for r in 0..rounds {
        for (ti, t) in tracks.iter().enumerate() {
            let part: Vec<&S> = t.samples.iter().skip(r * per).take(per).collect();
            if part.is_empty() {
                continue;
            }
            chunks[ti].push((payload.len() as u64, part.len()));
            for s in part {
                payload.extend_from_slice(&s.data);
            }
        }
    }
    let moov = |base: u64| {
        let traks: Vec<Vec<u8>> = tracks
            .iter()
            .zip(&chunks)
            .map(|(t, c)| {
                let abs: Vec<(u64, usize)> = c.iter().map(|&(o, n)| (o + base, n)).collect();
                trak(t, &abs, &l)
            })
            .collect();
        let mut parts: Vec<&[u8]> = Vec::new();
        let mv = mvhd();
        parts.push(&mv);
        for t in &traks {
            parts.push(t);
        }
        bx(b"moov", &parts)
    };
    let ftyp = ftyp();
    let moov_len = moov(0).len() as u64;
    let base = ftyp.len() as u64 + if l.moov_first { moov_len } else { 0 } + 8;
    let moov = moov(base);
    let mdat = bx(b"mdat", &[&payload]);
    let mut out = ftyp;
    if l.moov_first {
        out.extend_from_slice(&moov);
        out.extend_from_slice(&mdat);
    } else {
        out.extend_from_slice(&mdat);
        out.extend_from_slice(&moov);
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    /// default-base-is-moof, trun data_offset relative to the moof.
    Moof,
    /// tfhd base_data_offset = the absolute start of the traf's data, no data_offset.
    Explicit,
    /// No flags: the first traf's base is the moof start (its trun has a data_offset), later
    /// trafs continue where the previous traf's data ended.
    Implicit,
}

#[derive(Debug, Clone, Copy)]
pub struct Frag {
    pub per: usize,
    pub base: Base,
    /// Two truns per traf, the second without data_offset.
    pub split_truns: bool,
    /// Use tfhd defaults (duration/size) and sample-less truns for audio tracks with constant
    /// sample size and duration.
    pub inherit_audio: bool,
    /// Add this to every tfdt from the second fragment on (a timeline gap).
    pub gap: u64,
}

/// A fragmented file: empty moov with mvex, then moof/mdat pairs of `f.per` samples a track.
pub fn fragmented(tracks: &[T], f: Frag) -> Vec<u8> {
    let mut out = ftyp();
    let traks: Vec<Vec<u8>> = tracks
        .iter()
        .map(|t| {
            let mut empty = t.clone();
            empty.samples.clear();
            empty.elst = t.elst.clone();
            trak(&empty, &[], &Layout::default())
        })
        .collect();
    let trex: Vec<Vec<u8>> = tracks
        .iter()
        .map(|t| {
            enc(&Trex {
                track_id: t.id,
                default_sample_description_index: 1,
                default_sample_duration: 0,
                default_sample_size: 0,
                default_sample_flags: 0x0001_0000,
            })
        })
        .collect();
    let mvex_parts: Vec<&[u8]> = trex.iter().map(|v| v.as_slice()).collect();
    let mvex = bx(b"mvex", &mvex_parts);
    let mv = mvhd();
    let mut parts: Vec<&[u8]> = vec![&mv];
    parts.extend(traks.iter().map(|t| t.as_slice()));
    parts.push(&mvex);
    out.extend_from_slice(&bx(b"moov", &parts));

    let frags = tracks
        .iter()
        .map(|t| t.samples.len().div_ceil(f.per))
        .max()
        .unwrap_or(0);
    let mut dts: Vec<u64> = vec![0; tracks.len()];
    for fi in 0..frags {
        let moof_start = out.len() as u64;
        let chosen: Vec<&[S]> = tracks
            .iter()
            .map(|t| {
                let a = (fi * f.per).min(t.samples.len());
                let b = ((fi + 1) * f.per).min(t.samples.len());
                &t.samples[a..b]
            })
            .collect();
        let tfdts: Vec<u64> = dts
            .iter()
            .map(|&d| if fi > 0 { d + f.gap } else { d })
            .collect();
        // Build once with zero offsets to learn the moof size, then for real.
        let build = |payload_start: u64| {
            let mut trafs = Vec::new();
            let mut data_pos = payload_start; // absolute position of this traf's data
            for (ti, (t, ss)) in tracks.iter().zip(&chosen).enumerate() {
                if ss.is_empty() {
                    continue;
                }
                let inherit = f.inherit_audio
                    && t.handler == *b"soun"
                    && ss
                        .iter()
                        .all(|s| s.data.len() == ss[0].data.len() && s.dur == ss[0].dur);
                let first_traf = trafs.is_empty();
                let mut tfhd = Tfhd {
                    track_id: t.id,
                    ..Default::default()
                };
                if inherit {
                    tfhd.default_sample_duration = Some(ss[0].dur);
                    tfhd.default_sample_size = Some(ss[0].data.len() as u32);
                    tfhd.default_sample_flags = Some(0);
                }
                let rel = (data_pos - moof_start) as i32;
                match f.base {
                    Base::Moof => tfhd.default_base_is_moof = true,
                    Base::Explicit => tfhd.base_data_offset = Some(data_pos),
                    Base::Implicit => {}
                }
                let halves: Vec<&[S]> = if f.split_truns && ss.len() > 1 {
                    let (a, b) = ss.split_at(ss.len() / 2);
                    vec![a, b]
                } else {
                    vec![ss]
                };
                let mut truns = Vec::new();
                for (hi, h) in halves.iter().enumerate() {
                    let data_offset = match (f.base, hi, first_traf) {
                        (_, 1.., _) => None,
                        (Base::Moof, 0, _) => Some(rel),
                        (Base::Explicit, 0, _) => None,
                        (Base::Implicit, 0, true) => Some(rel),
                        (Base::Implicit, 0, false) => None,
                    };
                    let samples = if inherit {
                        mp4_atom::TrunSamples::Inherited {
                            count: h.len() as u32,
                            first_flags: None,
                        }
                    } else {
                        mp4_atom::TrunSamples::Explicit(
                            h.iter()
                                .map(|s| TrunEntry {
                                    duration: Some(s.dur),
                                    size: Some(s.data.len() as u32),
                                    flags: Some(if s.sync { 0 } else { 0x0001_0000 }),
                                    cts: Some(i64::from(s.cts)),
                                })
                                .collect(),
                        )
                    };
                    truns.push(enc(&Trun {
                        data_offset,
                        samples,
                    }));
                }
                let tfhd = enc(&tfhd);
                let tfdt = enc(&Tfdt {
                    base_media_decode_time: tfdts[ti],
                });
                let mut p: Vec<&[u8]> = vec![&tfhd, &tfdt];
                p.extend(truns.iter().map(|t| t.as_slice()));
                trafs.push(bx(b"traf", &p));
                data_pos += ss.iter().map(|s| s.data.len() as u64).sum::<u64>();
            }
            let mfhd = enc(&Mfhd {
                sequence_number: fi as u32 + 1,
            });
            let mut p: Vec<&[u8]> = vec![&mfhd];
            p.extend(trafs.iter().map(|t| t.as_slice()));
            bx(b"moof", &p)
        };
        let moof_len = build(moof_start).len() as u64;
        let moof = build(moof_start + moof_len + 8);
        assert_eq!(moof.len() as u64, moof_len);
        let payload: Vec<u8> = chosen
            .iter()
            .flat_map(|ss| ss.iter().flat_map(|s| s.data.iter().copied()))
            .collect();
        out.extend_from_slice(&moof);
        out.extend_from_slice(&bx(b"mdat", &[&payload]));
        for (ti, ss) in chosen.iter().enumerate() {
            dts[ti] = tfdts[ti] + ss.iter().map(|s| u64::from(s.dur)).sum::<u64>();
        }
    }
    out
}
