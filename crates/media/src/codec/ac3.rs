// SPDX-License-Identifier: MIT OR Apache-2.0
//! AC-3 and E-AC-3 sync frame headers (ETSI TS 102 366: syncinfo/bsi 4.3.1–4.3.2 and 4.4,
//! E-AC-3 bsi E.1.2.2 / E.1.3) and the MP4 configuration boxes built from them (Annex F:
//! AC3SpecificBox `dac3` F.4, EC3SpecificBox `dec3` F.6).

use bytes::Bytes;

use super::bits::BitReader;

/// Header facts of one sync frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ac3Info {
    pub sample_rate: u32,
    /// Channels of this sync frame (acmod + LFE); E-AC-3 dependent substreams add more.
    pub channels: u16,
    /// Sync frame length in bytes.
    pub frame_len: usize,
    /// 1536 for AC-3; 256 × blocks for E-AC-3.
    pub samples_per_frame: u32,
}

const SYNC_WORD: u32 = 0x0B77;

/// Nominal bit rates in kbit/s indexed by frmsizecod / 2 (Table 4.13).
const BIT_RATES: [u32; 19] = [
    32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 576, 640,
];

/// Full-bandwidth channels per acmod (Table 4.3); 0 is 1+1 dual mono.
const ACMOD_CHANNELS: [u16; 8] = [2, 1, 2, 3, 3, 4, 4, 5];

/// bsid values above this are E-AC-3 (E.1.3.1.6: bsid 11..16).
const MAX_AC3_BSID: u8 = 10;

/// True when the sync frame at `data` is E-AC-3 (bsid > 10). Both syntaxes put bsid in the top
/// five bits of byte 5.
pub fn is_eac3(data: &[u8]) -> bool {
    data.get(5).is_some_and(|b| (b >> 3) > MAX_AC3_BSID) && data.starts_with(&[0x0B, 0x77])
}

fn check_sync(r: &mut BitReader, data: &[u8]) -> Result<(), String> {
    if r.bits(16, "syncword")? != SYNC_WORD {
        return Err(format!(
            "no AC-3 syncword 0x0B77 (first bytes {:02x?})",
            data.get(..2).unwrap_or(data)
        ));
    }
    Ok(())
}

struct Ac3Header {
    fscod: u8,
    frmsizecod: u8,
    bsid: u8,
    bsmod: u8,
    acmod: u8,
    lfeon: bool,
    info: Ac3Info,
}

/// syncinfo() and the head of bsi() (4.3.1, 4.3.2, frame size Table 4.13).
fn ac3_header(data: &[u8]) -> Result<Ac3Header, String> {
    let mut r = BitReader::new(data);
    check_sync(&mut r, data)?;
    r.skip(16, "crc1")?;
    let fscod = r.u8(2, "fscod")?;
    let frmsizecod = r.u8(6, "frmsizecod")?;
    let bsid = r.u8(5, "bsid")?;
    if bsid > MAX_AC3_BSID {
        return Err(format!("bsid {bsid} is E-AC-3, not AC-3"));
    }
    let bsmod = r.u8(3, "bsmod")?;
    let acmod = r.u8(3, "acmod")?;
    if acmod & 1 == 1 && acmod != 1 {
        r.skip(2, "cmixlev")?;
    }
    if acmod & 4 != 0 {
        r.skip(2, "surmixlev")?;
    }
    if acmod == 2 {
        r.skip(2, "dsurmod")?;
    }
    let lfeon = r.flag("lfeon")?;

    let kbps = BIT_RATES
        .get(usize::from(frmsizecod / 2))
        .copied()
        .ok_or_else(|| format!("frmsizecod {frmsizecod} is reserved"))?;
    // Table 4.13 in 16-bit words: 48 kHz 2×kbps, 32 kHz 3×kbps, 44.1 kHz
    // floor(kbps×320/147) plus one padding word for odd frmsizecod.
    let (base_rate, words) = match fscod {
        0 => (48000, kbps * 2),
        1 => (44100, kbps * 320 / 147 + u32::from(frmsizecod & 1)),
        2 => (32000, kbps * 3),
        _ => return Err("fscod 3 is reserved".into()),
    };
    // bsid 9 and 10 signal half and quarter sample rates (4.4.1.6 note).
    let sample_rate = base_rate >> bsid.saturating_sub(8);
    Ok(Ac3Header {
        fscod,
        frmsizecod,
        bsid,
        bsmod,
        acmod,
        lfeon,
        info: Ac3Info {
            sample_rate,
            channels: channel_count(acmod, lfeon),
            frame_len: words as usize * 2,
            samples_per_frame: 1536,
        },
    })
}

fn channel_count(acmod: u8, lfeon: bool) -> u16 {
    ACMOD_CHANNELS.get(usize::from(acmod)).copied().unwrap_or(0) + u16::from(lfeon)
}

/// Parses an AC-3 sync frame header; `data` starts at the 0x0B77 syncword.
pub fn parse_ac3_frame(data: &[u8]) -> Result<Ac3Info, String> {
    Ok(ac3_header(data)?.info)
}

/// AC3SpecificBox payload (F.4): fscod(2) bsid(5) bsmod(3) acmod(3) lfeon(1)
/// bit_rate_code(5) reserved(5).
pub fn dac3_from_frame(data: &[u8]) -> Result<Bytes, String> {
    let h = ac3_header(data)?;
    let v: u32 = (u32::from(h.fscod) << 22)
        | (u32::from(h.bsid) << 17)
        | (u32::from(h.bsmod) << 14)
        | (u32::from(h.acmod) << 11)
        | (u32::from(h.lfeon) << 10)
        | (u32::from(h.frmsizecod >> 1) << 5);
    let b = v.to_be_bytes();
    Ok(Bytes::copy_from_slice(&[b[1], b[2], b[3]]))
}

struct Eac3Header {
    strmtyp: u8,
    substreamid: u8,
    fscod: u8,
    bsid: u8,
    bsmod: u8,
    acmod: u8,
    lfeon: bool,
    /// Custom channel map of a dependent substream (Table E.1.4), if signalled.
    chanmap: Option<u16>,
    info: Ac3Info,
}

/// E-AC-3 bsi() (E.1.2.2) as far as bsmod in the informational metadata.
fn eac3_header(data: &[u8]) -> Result<Eac3Header, String> {
    let mut r = BitReader::new(data);
    check_sync(&mut r, data)?;
    let strmtyp = r.u8(2, "strmtyp")?;
    if strmtyp == 3 {
        return Err("strmtyp 3 is reserved".into());
    }
    let substreamid = r.u8(3, "substreamid")?;
    let frmsiz = r.bits(11, "frmsiz")?;
    let fscod = r.u8(2, "fscod")?;
    let (sample_rate, blocks) = if fscod == 3 {
        // Reduced sample rates (E.1.3.1.4, Table E.1.3); always 6 blocks.
        let rate = match r.u8(2, "fscod2")? {
            0 => 24000,
            1 => 22050,
            2 => 16000,
            _ => return Err("fscod2 3 is reserved".into()),
        };
        (rate, 6)
    } else {
        let blocks = match r.u8(2, "numblkscod")? {
            0 => 1,
            1 => 2,
            2 => 3,
            _ => 6,
        };
        let rate = match fscod {
            0 => 48000,
            1 => 44100,
            _ => 32000,
        };
        (rate, blocks)
    };
    let acmod = r.u8(3, "acmod")?;
    let lfeon = r.flag("lfeon")?;
    let bsid = r.u8(5, "bsid")?;
    if bsid <= MAX_AC3_BSID {
        return Err(format!("bsid {bsid} is AC-3, not E-AC-3"));
    }
    if bsid > 16 {
        return Err(format!("bsid {bsid} is not decodable (above 16)"));
    }
    let info = Ac3Info {
        sample_rate,
        channels: channel_count(acmod, lfeon),
        frame_len: (frmsiz as usize + 1) * 2,
        samples_per_frame: 256 * blocks,
    };
    let mut h = Eac3Header {
        strmtyp,
        substreamid,
        fscod,
        bsid,
        bsmod: 0,
        acmod,
        lfeon,
        chanmap: None,
        info,
    };
    // The remaining fields only feed dec3; a frame cut short keeps the defaults.
    let _ = eac3_metadata(&mut r, &mut h, blocks);
    Ok(h)
}

/// From dialnorm to bsmod (E.1.2.2): fills `chanmap` and `bsmod`.
fn eac3_metadata(r: &mut BitReader, h: &mut Eac3Header, blocks: u32) -> Result<(), String> {
    r.skip(5, "dialnorm")?;
    if r.flag("compre")? {
        r.skip(8, "compr")?;
    }
    if h.acmod == 0 {
        r.skip(5, "dialnorm2")?;
        if r.flag("compr2e")? {
            r.skip(8, "compr2")?;
        }
    }
    if h.strmtyp == 1 && r.flag("chanmape")? {
        h.chanmap = Some(u16::try_from(r.bits(16, "chanmap")?).unwrap_or(0));
    }
    if r.flag("mixmdate")? {
        if h.acmod > 2 {
            r.skip(2, "dmixmod")?;
        }
        if h.acmod & 1 == 1 && h.acmod > 2 {
            r.skip(6, "ltrtcmixlev/lorocmixlev")?;
        }
        if h.acmod & 4 != 0 {
            r.skip(6, "ltrtsurmixlev/lorosurmixlev")?;
        }
        if h.lfeon && r.flag("lfemixlevcode")? {
            r.skip(5, "lfemixlevcod")?;
        }
        if h.strmtyp == 0 {
            if r.flag("pgmscle")? {
                r.skip(6, "pgmscl")?;
            }
            if h.acmod == 0 && r.flag("pgmscl2e")? {
                r.skip(6, "pgmscl2")?;
            }
            if r.flag("extpgmscle")? {
                r.skip(6, "extpgmscl")?;
            }
            match r.u8(2, "mixdef")? {
                1 => r.skip(5, "premixcmpsel/drcsrc/premixcmpscl")?,
                2 => r.skip(12, "mixdata")?,
                3 => {
                    let len = r.bits(5, "mixdeflen")? as usize;
                    r.skip(8 * (len + 2), "mixdata")?;
                }
                _ => {}
            }
            if h.acmod < 2 {
                if r.flag("paninfoe")? {
                    r.skip(14, "panmean/paninfo")?;
                }
                if h.acmod == 0 && r.flag("paninfo2e")? {
                    r.skip(14, "panmean2/paninfo2")?;
                }
            }
            if r.flag("frmmixcfginfoe")? {
                if blocks == 1 {
                    r.skip(5, "blkmixcfginfo")?;
                } else {
                    for _ in 0..blocks {
                        if r.flag("blkmixcfginfoe")? {
                            r.skip(5, "blkmixcfginfo")?;
                        }
                    }
                }
            }
        }
    }
    if r.flag("infomdate")? {
        h.bsmod = r.u8(3, "bsmod")?;
    }
    Ok(())
}

/// Parses an E-AC-3 sync frame header; `data` starts at the 0x0B77 syncword.
pub fn parse_eac3_frame(data: &[u8]) -> Result<Ac3Info, String> {
    Ok(eac3_header(data)?.info)
}

/// chan_loc (Table F.6.1, bit 0 = Lc/Rc … bit 8 = LFE2) from a dependent substream's chanmap
/// (Table E.1.4, most significant bit = L): Lc/Rc..Vhc are chanmap bits 10..3, LFE2 is bit 1.
fn chan_loc_from_chanmap(chanmap: u16) -> u16 {
    let mut loc = 0;
    for i in 0..8 {
        if chanmap & (1 << (10 - i)) != 0 {
            loc |= 1 << i;
        }
    }
    if chanmap & 0b10 != 0 {
        loc |= 1 << 8;
    }
    loc
}

/// EC3SpecificBox payload (F.6) for a stream with one independent substream. `data` starts
/// at the independent sync frame; dependent substream frames (strmtyp 1) directly following
/// it in `data` are counted into num_dep_sub and chan_loc.
pub fn dec3_from_frame(data: &[u8]) -> Result<Bytes, String> {
    let h = eac3_header(data)?;
    if h.strmtyp == 1 {
        return Err("first E-AC-3 frame is a dependent substream".into());
    }
    // data_rate in kbit/s, rounded (F.6.2.2): the sum over the access unit's substreams.
    let rate = |i: &Ac3Info| {
        (i.frame_len as u64 * 8 * u64::from(i.sample_rate)) / u64::from(i.samples_per_frame)
    };
    let mut bits_per_sec = rate(&h.info);
    let mut num_dep_sub: u32 = 0;
    let mut chan_loc: u16 = 0;
    let mut pos = h.info.frame_len;
    while let Some(dep) = data.get(pos..).and_then(|d| eac3_header(d).ok()) {
        if dep.strmtyp != 1 || dep.substreamid > 7 || num_dep_sub >= 15 {
            break;
        }
        num_dep_sub += 1;
        chan_loc |= dep.chanmap.map_or(0, chan_loc_from_chanmap);
        bits_per_sec += rate(&dep.info);
        pos = pos.saturating_add(dep.info.frame_len);
    }
    let data_rate = ((bits_per_sec + 500) / 1000).min(0x1FFF);

    // data_rate(13) num_ind_sub(3) | fscod(2) bsid(5) reserved(1) asvc(1) bsmod(3) acmod(3)
    // lfeon(1) reserved(3) num_dep_sub(4) then chan_loc(9) or reserved(1).
    let mut v: u64 = data_rate << 3;
    v = (v << 2) | u64::from(h.fscod);
    v = (v << 5) | u64::from(h.bsid);
    v <<= 2;
    v = (v << 3) | u64::from(h.bsmod);
    v = (v << 3) | u64::from(h.acmod);
    v = (v << 1) | u64::from(h.lfeon);
    v <<= 3;
    v = (v << 4) | u64::from(num_dep_sub);
    let len = if num_dep_sub > 0 {
        v = (v << 9) | u64::from(chan_loc);
        6
    } else {
        v <<= 1;
        5
    };
    let b = v.to_be_bytes();
    Ok(Bytes::copy_from_slice(b.get(8 - len..).unwrap_or(&[])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::hex;

    /// First bytes of sync frames written by ffmpeg 5.1's ac3/eac3 encoders, with what
    /// ffprobe reports and the dac3/dec3 payload ffmpeg's MP4 muxer wrote for the stream.
    const AC3: &[(&str, &str, Ac3Info, &str)] = &[
        (
            "48k stereo 192k",
            "0b77fe95144043e106f46370c0c0c21818187ff7aefdf3e7",
            Ac3Info {
                sample_rate: 48000,
                channels: 2,
                frame_len: 768,
                samples_per_frame: 1536,
            },
            "101140",
        ),
        (
            "44.1k 5.1 448k",
            "0b770dce5e40ebf8403eff9dffc2107f0fe1fc37570fa157",
            Ac3Info {
                sample_rate: 44100,
                channels: 6,
                frame_len: 1950,
                samples_per_frame: 1536,
            },
            "503de0",
        ),
        (
            "32k mono 96k",
            "0b77952f8c402f842bf1cefab0fdf3f7cfa1be7cf9f577cf",
            Ac3Info {
                sample_rate: 32000,
                channels: 1,
                frame_len: 576,
                samples_per_frame: 1536,
            },
            "9008c0",
        ),
    ];

    const EAC3: &[(&str, &str, Ac3Info, &str)] = &[
        (
            "48k 5.1 384k",
            "0b7702ff3f87c000208020000200400003e01fba7e1e0101",
            Ac3Info {
                sample_rate: 48000,
                channels: 6,
                frame_len: 1536,
                samples_per_frame: 1536,
            },
            "0c00200f00",
        ),
        (
            "44.1k stereo 128k",
            "0b7701157487c00020842108320057060606060181818187",
            Ac3Info {
                sample_rate: 44100,
                channels: 2,
                frame_len: 556,
                samples_per_frame: 1536,
            },
            "0400600400",
        ),
        (
            "32k mono 64k",
            "0b7700bfb287c00021060050e77d587ef9fbe7d0df3e7cfa",
            Ac3Info {
                sample_rate: 32000,
                channels: 1,
                frame_len: 384,
                samples_per_frame: 1536,
            },
            "0200a00200",
        ),
    ];

    #[test]
    fn parses_ac3_frames() {
        for (name, frame, want, dac3) in AC3 {
            let data = hex(frame);
            assert_eq!(parse_ac3_frame(&data).as_ref(), Ok(want), "{name}");
            assert_eq!(hex(dac3), &dac3_from_frame(&data).unwrap()[..], "{name}");
            assert!(!is_eac3(&data), "{name}");
            assert!(parse_eac3_frame(&data).is_err(), "{name}");
        }
    }

    #[test]
    fn parses_eac3_frames() {
        for (name, frame, want, dec3) in EAC3 {
            let data = hex(frame);
            assert_eq!(parse_eac3_frame(&data).as_ref(), Ok(want), "{name}");
            assert_eq!(hex(dec3), &dec3_from_frame(&data).unwrap()[..], "{name}");
            assert!(is_eac3(&data), "{name}");
            assert!(parse_ac3_frame(&data).is_err(), "{name}");
        }
    }

    #[test]
    fn ac3_frame_size_table() {
        // Table 4.13 spot checks: (fscod, frmsizecod, words)
        for (fscod, code, words) in [
            (0u8, 0u8, 64usize),
            (0, 37, 1280),
            (1, 0, 69),
            (1, 1, 70),
            (1, 36, 1393),
            (1, 37, 1394),
            (2, 0, 96),
            (2, 37, 1920),
        ] {
            let frame = [0x0B, 0x77, 0, 0, (fscod << 6) | code, 0x40, 0x40, 0, 0];
            let got = parse_ac3_frame(&frame).unwrap();
            assert_eq!(got.frame_len, words * 2, "fscod {fscod} frmsizecod {code}");
        }
        assert!(parse_ac3_frame(&[0x0B, 0x77, 0, 0, 38, 0x40, 0x40]).is_err());
        assert!(parse_ac3_frame(&[0x0B, 0x77, 0, 0, 0xC0, 0x40, 0x40]).is_err());
        assert!(parse_ac3_frame(&[0x0B, 0x78, 0, 0, 0, 0x40, 0x40]).is_err());
    }

    #[test]
    fn eac3_reduced_rate_and_blocks() {
        // fscod 3, fscod2 1 (22.05 kHz): 6 blocks. acmod 2, bsid 16.
        let frame = [0x0B, 0x77, 0x00, 0x7F, 0xD4, 0x80, 0, 0];
        let got = parse_eac3_frame(&frame).unwrap();
        assert_eq!(
            (got.sample_rate, got.samples_per_frame, got.channels),
            (22050, 1536, 2)
        );
        assert_eq!(got.frame_len, 256);
        // fscod 0, numblkscod 0 → 1 block (256 samples).
        let frame = [0x0B, 0x77, 0x00, 0x7F, 0x04, 0x80, 0, 0];
        assert_eq!(parse_eac3_frame(&frame).unwrap().samples_per_frame, 256);
        // fscod2 3 and strmtyp 3 are reserved.
        assert!(parse_eac3_frame(&[0x0B, 0x77, 0x00, 0x7F, 0xF4, 0x80]).is_err());
        assert!(parse_eac3_frame(&[0x0B, 0x77, 0xC0, 0x7F, 0x34, 0x80]).is_err());
    }

    #[test]
    fn dec3_counts_dependent_substreams() {
        // Independent 5.1 frame (the 48k fixture, padded to its 1536 bytes) followed by a
        // dependent substream with chanmap Lrs/Rrs (chanmap bit 9) — a 7.1 access unit.
        let mut au = hex(EAC3[0].1);
        au.resize(1536, 0);
        // strmtyp 1, substreamid 0, frmsiz 255 (512 bytes), fscod 0, numblkscod 3,
        // acmod 2, lfeon 0, bsid 16, dialnorm 0, compre 0, chanmape 1, chanmap 0x0200.
        let mut w = crate::codec::bits::BitWriter::default();
        w.put(16, 0x0B77)
            .put(2, 1)
            .put(3, 0)
            .put(11, 255)
            .put(2, 0)
            .put(2, 3);
        w.put(3, 2)
            .flag(false)
            .put(5, 16)
            .put(5, 0)
            .flag(false)
            .flag(true)
            .put(16, 0x0200);
        let mut dep = w.bytes();
        dep.resize(512, 0);
        au.extend_from_slice(&dep);
        let dec3 = dec3_from_frame(&au).unwrap();
        // data_rate 384 + 128 = 512 kbit/s; num_dep_sub 1, chan_loc bit 1 (Lrs/Rrs).
        assert_eq!(&dec3[..], &[0x10, 0x00, 0x20, 0x0F, 0x02, 0x02]);
        assert_eq!(chan_loc_from_chanmap(0x0400), 1);
        assert_eq!(chan_loc_from_chanmap(0x0002), 0x100);
        // A dependent frame alone cannot start a dec3.
        assert!(dec3_from_frame(&dep).is_err());
    }

    #[test]
    fn never_panics_on_prefixes_or_noise() {
        let mut inputs: Vec<Vec<u8>> = AC3.iter().chain(EAC3).map(|(_, f, _, _)| hex(f)).collect();
        let mut s = 0x5151_7272_0B77_1234u64;
        for len in 0..64 {
            let mut v = vec![0x0B, 0x77];
            v.extend((0..len).map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 16) as u8
            }));
            inputs.push(v);
        }
        for data in &inputs {
            for n in 0..=data.len() {
                let d = &data[..n];
                let _ = (parse_ac3_frame(d), parse_eac3_frame(d), is_eac3(d));
                let _ = (dac3_from_frame(d), dec3_from_frame(d));
            }
        }
    }
}
