// SPDX-License-Identifier: MIT OR Apache-2.0
//! Common Encryption `cbcs` (ISO/IEC 23001-7 §10.4) for fMP4: the form METHOD=SAMPLE-AES
//! takes in fragmented MP4 (RFC 8216bis 4.4.4.4; Apple's HLS authoring spec). The boxes are
//! written by the fMP4 muxer ([`crate::mux::fmp4`]); this module decides what is encrypted and
//! encrypts it, AES-128-CBC from RustCrypto's `aes` + `cbc`.
//!
//! - **Video** (H.264, HEVC; §10.4.2 pattern 1:9, subsample encryption of NAL-structured
//!   video, §9.5): each sample is split into subsamples, one per VCL NAL unit. Its clear part is
//!   every non-VCL NAL unit before it (whole), the 4-byte NAL length and the first
//!   [`VCL_CLEAR_LEADER`] bytes of the VCL NAL unit (its NAL header and the start of the slice
//!   header, which stays readable); the rest of the NAL unit is the protected part, in which
//!   one 16-byte block in ten is encrypted (crypt 1, skip 9) and a last partial block is left
//!   clear (§10.4.2). A VCL NAL unit too short to hold a protected block stays clear.
//! - **VP9** (VP codec ISOBMFF binding, "Common Encryption"): one subsample per frame, its
//!   uncompressed header clear (a fixed bound, see [`super::cbcs_vp9`]), pattern 1:9.
//! - **AV1** (AV1-ISOBMFF v1.2.0 §7): one subsample per tile, everything but the tiles' data
//!   clear, pattern 1:9; finding the tiles takes the frame headers parsed with the state of the
//!   frames before ([`super::cbcs_av1`]), so each track's samples go through a [`Splitter`] in
//!   decode order. A sample it cannot parse is an error naming track, sample and byte.
//! - **Audio** (AAC, AC-3, E-AC-3, Opus): the whole sample is the protected range, no pattern
//!   (tenc crypt 0 / skip 0: every complete block encrypted, the trailing partial block clear),
//!   no subsamples — as Shaka Packager 3.8 writes audio under cbcs.
//! - **IV**: a constant IV per key (tenc default_constant_IV, `default_Per_Sample_IV_Size` 0,
//!   §10.4.1), which restarts the chain at each subsample's protected range (§9.6: "the IV is
//!   reset at the start of each subsample"); the same IV is written in EXT-X-KEY.
//!
//! The slice header is not parsed: the clear leader is a fixed 32 bytes of each VCL NAL unit,
//! as Apple's MPEG-2 Stream Encryption Format uses. That covers the slice headers of common
//! encodes; a decryptor (EME CDM, ffmpeg) does not depend on it.

use aes::cipher::inout::InOutBuf;
use aes::cipher::{BlockEncryptMut, InnerIvInit, KeyInit};
use aes::Aes128Enc;
use bytes::BytesMut;

use super::cbcs_av1::Av1Splitter;
use super::chains::{encrypt_ranges, Range};
use super::Encryption;
use crate::playlist::media::Map;
use crate::sample::{CodecConfig, TrackInfo};
use crate::segmenter::Segment;
use crate::{Error, Result};

type Encryptor = cbc::Encryptor<Aes128Enc>;

const BLOCK: usize = 16;
/// Bytes of each VCL NAL unit left clear after its length field: NAL header + slice header.
pub const VCL_CLEAR_LEADER: usize = 32;
/// NAL unit length field in our samples (4 bytes, as the muxer's avcC/hvcC say).
const NAL_LENGTH: usize = 4;
/// Protected subsamples per sample at most: a sample's `senc` entry (2 + 6 bytes per
/// subsample) must fit `saiz`'s 8-bit size, 42 subsamples; VCL NAL units past this many stay
/// clear, leaving room for clear-only entries.
pub const MAX_PROTECTED_SUBSAMPLES: usize = 32;
/// Bytes copied before they are encrypted (while they are in the cache; several samples, so
/// that several chains are encrypted side by side).
const BATCH: usize = 256 << 10;
/// Video pattern (§10.4.2): 1 encrypted block, 9 clear.
pub const VIDEO_PATTERN: (u8, u8) = (1, 9);
/// ClearKey DRM system ID (W3C Encrypted Media Extensions, "Common PSSH box format").
pub const CLEARKEY_SYSTEM_ID: [u8; 16] = [
    0x10, 0x77, 0xef, 0xec, 0xc0, 0xb2, 0x4d, 0x02, 0xac, 0xe3, 0x3c, 0x1e, 0x52, 0xe2, 0xfb, 0x4b,
];

/// How the samples of a track are protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// H.264: VCL NAL types 1–5 (ITU-T H.264 Table 7-1).
    Avc,
    /// HEVC: VCL NAL types 0–31 (ITU-T H.265 Table 7-1).
    Hevc,
    /// VP9: each frame after its uncompressed header ([`super::cbcs_vp9`]).
    Vp9,
    /// AV1: each tile's data ([`super::cbcs_av1`]); needs a [`Splitter`].
    Av1,
    /// Audio: the whole sample, no pattern.
    Whole,
}

impl Layout {
    /// The layout of `track` under cbcs; fails for a codec this packager does not protect.
    pub fn of(track: &TrackInfo) -> Result<Layout> {
        match &track.config {
            CodecConfig::Avc { .. } => Ok(Layout::Avc),
            CodecConfig::Hevc { .. } => Ok(Layout::Hevc),
            CodecConfig::Vp9 { .. } => Ok(Layout::Vp9),
            CodecConfig::Av1 { .. } => Ok(Layout::Av1),
            CodecConfig::Aac { .. }
            | CodecConfig::Ac3 { .. }
            | CodecConfig::Eac3 { .. }
            | CodecConfig::Opus { .. } => Ok(Layout::Whole),
            other => Err(Error::Encryption(format!(
                "track {}: --encrypt cbcs covers H.264, HEVC, VP9, AV1, AAC, AC-3, E-AC-3 and \
                 Opus, not {}; use --encrypt aes-128",
                track.id,
                other.name()
            ))),
        }
    }

    /// The (crypt, skip) pattern written in `tenc` (§8.2.2): 1:9 for video, 0:0 for audio.
    pub fn pattern(self) -> (u8, u8) {
        match self {
            Layout::Whole => (0, 0),
            _ => VIDEO_PATTERN,
        }
    }

    fn is_vcl(self, nal: &[u8]) -> bool {
        match (self, nal.first()) {
            (Layout::Avc, Some(h)) => (1..=5).contains(&(h & 0x1F)),
            (Layout::Hevc, Some(h)) => ((h >> 1) & 0x3F) < 32,
            _ => false,
        }
    }
}

/// One subsample (§7.2.2 `senc`): clear bytes then protected bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subsample {
    pub clear: u16,
    pub protected: u32,
}

/// How the samples of one track are split into subsamples, fed the track's samples in decode
/// order, each once: stateless for every layout but AV1, whose tile finder keeps the sequence
/// header and reference state ([`super::cbcs_av1`]).
#[derive(Debug, Clone)]
pub struct Splitter {
    layout: Layout,
    av1: Option<Box<Av1Splitter>>,
}

impl Splitter {
    /// The splitter of `track` (its layout per [`Layout::of`]).
    pub fn new(track: &TrackInfo) -> Result<Self> {
        Self::with_layout(Layout::of(track)?, &track.config)
            .map_err(|e| Error::Encryption(format!("track {}: {e}", track.id)))
    }

    /// The splitter of a track of `layout` and `config`; fails for an AV1 track whose av1C
    /// cannot be parsed.
    pub fn with_layout(layout: Layout, config: &CodecConfig) -> std::result::Result<Self, String> {
        let av1 = match (layout, config) {
            (Layout::Av1, CodecConfig::Av1 { av1c }) => Some(Box::new(Av1Splitter::new(av1c)?)),
            (Layout::Av1, other) => return Err(format!("AV1 layout for {}", other.name())),
            _ => None,
        };
        Ok(Splitter { layout, av1 })
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The subsamples of the track's next sample, appended to `out` (none for [`Layout::Whole`]).
    pub fn split(
        &mut self,
        data: &[u8],
        out: &mut Vec<Subsample>,
    ) -> std::result::Result<(), String> {
        match (&mut self.av1, self.layout) {
            (Some(av1), _) => av1.subsamples(data, out),
            (None, Layout::Av1) => Err("AV1 track without its tile finder".into()),
            (None, Layout::Whole) => Ok(()),
            (None, layout) => {
                subsamples(layout, data, out);
                Ok(())
            }
        }
    }
}

/// The subsamples of a video sample (`layout` Avc, Hevc or Vp9; nothing for the others, which
/// need a [`Splitter`]), appended to `out`. The split only
/// reads NAL length fields and NAL headers, which stay clear, so it gives the same answer on
/// the plaintext and on the ciphertext. A sample whose NAL lengths overrun it ends with its
/// remaining bytes clear. VCL NAL units after the first [`MAX_PROTECTED_SUBSAMPLES`] stay clear.
pub fn subsamples(layout: Layout, data: &[u8], out: &mut Vec<Subsample>) {
    match layout {
        Layout::Vp9 => return super::cbcs_vp9::subsamples(data, out),
        Layout::Av1 | Layout::Whole => return,
        Layout::Avc | Layout::Hevc => {}
    }
    let first = out.len();
    let mut clear: usize = 0;
    let mut pos = 0usize;
    while pos < data.len() {
        let len = data
            .get(pos..pos + NAL_LENGTH)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize);
        let end = len.and_then(|l| pos.checked_add(NAL_LENGTH + l));
        let Some(end) = end.filter(|&e| e <= data.len()) else {
            clear += data.len() - pos;
            break;
        };
        let nal = &data[pos + NAL_LENGTH..end];
        let protected = nal.len().saturating_sub(VCL_CLEAR_LEADER);
        if layout.is_vcl(nal) && protected >= BLOCK && out.len() - first < MAX_PROTECTED_SUBSAMPLES
        {
            clear += NAL_LENGTH + VCL_CLEAR_LEADER;
            push_clear(&mut clear, out);
            out.push(Subsample {
                clear: clear as u16, // push_clear left less than 65536
                protected: protected as u32,
            });
            clear = 0;
        } else {
            clear += end - pos;
        }
        pos = end;
    }
    if clear > 0 {
        push_clear(&mut clear, out);
        out.push(Subsample {
            clear: clear as u16,
            protected: 0,
        });
    }
}

/// Appends a subsample of `clear` bytes then `protected` bytes, after clear-only subsamples
/// while `clear` does not fit the 16-bit field.
pub(super) fn push_clear_subsample(mut clear: usize, protected: usize, out: &mut Vec<Subsample>) {
    push_clear(&mut clear, out);
    out.push(Subsample {
        clear: clear as u16, // push_clear left less than 65536
        protected: u32::try_from(protected).unwrap_or(u32::MAX),
    });
}

/// Emits clear-only subsamples until `clear` fits the 16-bit field.
fn push_clear(clear: &mut usize, out: &mut Vec<Subsample>) {
    while *clear > usize::from(u16::MAX) {
        out.push(Subsample {
            clear: u16::MAX,
            protected: 0,
        });
        *clear -= usize::from(u16::MAX);
    }
}

/// Encrypts one protected range in place (§10.4.2): the chain starts from `iv`; of the
/// complete blocks, `crypt` are encrypted then `skip` left clear, repeatedly (crypt 0 and skip
/// 0: every complete block); a trailing partial block stays clear.
pub fn encrypt_range(key: &[u8; 16], iv: &[u8; 16], pattern: (u8, u8), data: &mut [u8]) {
    encrypt_range_with(&Aes128Enc::new(key.into()), iv, pattern, data);
}

/// [`encrypt_range`] under `cipher` (the key schedule computed once per key, not per range).
/// The chain only visits the encrypted blocks: each run of `crypt` blocks is one call to the
/// CBC encryptor (without a pattern, every complete block in one call), the `skip` blocks are
/// stepped over, never read.
pub fn encrypt_range_with(
    cipher: &Aes128Enc,
    iv: &[u8; 16],
    (crypt, skip): (u8, u8),
    data: &mut [u8],
) {
    let mut enc = Encryptor::inner_iv_init(cipher.clone(), iv.into());
    let whole = data.len() / BLOCK * BLOCK;
    let (run, stride) = if crypt == 0 && skip == 0 {
        (whole, whole.max(BLOCK))
    } else {
        let crypt = usize::from(crypt) * BLOCK;
        (crypt, crypt + usize::from(skip) * BLOCK)
    };
    for chunk in data[..whole].chunks_mut(stride) {
        let n = run.min(chunk.len());
        let (blocks, _) = InOutBuf::from(&mut chunk[..n]).into_chunks();
        enc.encrypt_blocks_inout_mut(blocks);
    }
}

/// Encrypts one sample in place as `splitter` (the track's next sample) says, under `cipher`
/// (the key's schedule); `scratch` is reused between calls.
pub fn encrypt_sample(
    splitter: &mut Splitter,
    cipher: &Aes128Enc,
    iv: &[u8; 16],
    data: &mut [u8],
    scratch: &mut Vec<Subsample>,
) -> std::result::Result<(), String> {
    let pattern = splitter.layout().pattern();
    if splitter.layout() == Layout::Whole {
        encrypt_range_with(cipher, iv, pattern, data);
        return Ok(());
    }
    scratch.clear();
    splitter.split(data, scratch)?;
    let mut pos = 0usize;
    for s in scratch.iter() {
        let from = pos + usize::from(s.clear);
        let to = from + s.protected as usize;
        if let Some(range) = data.get_mut(from..to) {
            encrypt_range_with(cipher, iv, pattern, range);
        }
        pos = to;
    }
    Ok(())
}

/// The cbcs state of one rendition: the key, IV and layout of each track, and the key period
/// whose `tenc`/`pssh` the muxer's initialization section carries now.
///
/// Key rotation (`--key-rotation N`) gives every period of N segments its own key and key ID
/// (see [`super::rotation`]): the period's segments follow their own init segment, listed
/// with a new EXT-X-MAP next to the period's EXT-X-KEY.
pub struct Cbcs {
    enc: Encryption,
    layouts: Vec<Layout>,
    /// Per track: its splitter, its id (for messages) and the samples it has split.
    splitters: Vec<(Splitter, u32, u64)>,
    scratch: Vec<Subsample>,
    /// The protected tracks' samples of the piece being encrypted (reused).
    arena: BytesMut,
    /// Protected ranges in `arena`: under the video pattern, and whole (no pattern).
    patterned: Vec<Range>,
    whole: Vec<Range>,
    segment_keys: Vec<u64>,
    iframe_keys: Vec<u64>,
    /// The key number of the init segment written last.
    period: u64,
    /// EXT-X-MAP of each key period after the first (the first is the playlist's own).
    maps: Vec<(u64, Map)>,
}

impl Cbcs {
    /// Fails for a codec cbcs is not applied to here.
    pub fn new(enc: Encryption, tracks: &[TrackInfo]) -> Result<Self> {
        let splitters = tracks
            .iter()
            .map(|t| Ok((Splitter::new(t)?, t.id, 0)))
            .collect::<Result<Vec<_>>>()?;
        let layouts = splitters.iter().map(|(s, _, _)| s.layout()).collect();
        Ok(Cbcs::with(enc, layouts, splitters, 0))
    }

    /// A state with nothing listed yet, its init segment carrying key period `period`.
    fn with(
        enc: Encryption,
        layouts: Vec<Layout>,
        splitters: Vec<(Splitter, u32, u64)>,
        period: u64,
    ) -> Cbcs {
        Cbcs {
            enc,
            layouts,
            splitters,
            scratch: Vec::new(),
            arena: BytesMut::new(),
            patterned: Vec::new(),
            whole: Vec::new(),
            segment_keys: Vec::new(),
            iframe_keys: Vec::new(),
            period,
            maps: Vec::new(),
        }
    }

    /// The state the next segment's encryption starts from — keys, layouts and each track's
    /// splitter (AV1 carries its reference state) — without what was listed so far: enough to
    /// encrypt that segment again on its own (just-in-time packaging, `package::jit`).
    pub fn snapshot(&self) -> Cbcs {
        let splitters = self.splitters.clone();
        Cbcs::with(
            self.enc.clone(),
            self.layouts.clone(),
            splitters,
            self.period,
        )
    }

    /// What the fMP4 muxer writes into the first init segment and the fragments: key 0.
    pub fn protection(&self) -> Protection {
        self.protection_of(0)
    }

    /// The `tenc`/`pssh` contents of key period `n`: its key ID and constant IV.
    pub fn protection_of(&self, n: u64) -> Protection {
        Protection {
            kid: self.enc.kid(n),
            iv: self.enc.key_iv(n),
            layouts: self.layouts.clone(),
        }
    }

    /// Called with the media sequence number of each segment before it is written: when it
    /// opens a key period other than the init segment's, that period's key number and
    /// protection — the muxer then needs a new init segment ([`Cbcs::period_map`]).
    pub fn next_period(&mut self, msn: u64) -> Option<(u64, Protection)> {
        let n = self.enc.key_index(msn);
        if n == self.period {
            return None;
        }
        self.period = n;
        Some((n, self.protection_of(n)))
    }

    /// Where the init segment of key period `n` was written (its EXT-X-MAP).
    pub fn period_map(&mut self, n: u64, map: Map) {
        self.maps.push((n, map));
    }

    /// Encrypts the samples of `piece`; `first`: the piece that opens its segment. The
    /// protected tracks' samples are copied once into one buffer, reused from piece to piece
    /// (no allocation per sample), encrypted there all at once (every protected range is its
    /// own chain, [`chains`](super::chains)), and the samples become slices of it. Fails for an
    /// AV1 sample whose headers cannot be parsed; the piece's samples are then left as they
    /// were (the AV1 state is not: the run cannot go on).
    pub fn encrypt_piece(&mut self, piece: &mut Segment, first: bool) -> Result<()> {
        let n = self.enc.key_index(piece.index);
        let cipher = Aes128Enc::new(&self.enc.key(n).into());
        let iv = self.enc.key_iv(n);
        let layouts = self.layouts.clone(); // a few bytes
        let layout_of = |track: usize| layouts.get(track).copied();
        let samples = &mut piece.samples;
        let total = samples.iter().filter(|s| layout_of(s.track).is_some());
        self.arena.reserve(total.map(|s| s.data.len()).sum());
        self.patterned.clear();
        self.whole.clear();
        let mut encrypted = 0usize;
        for s in samples.iter() {
            let Some(layout) = layout_of(s.track) else {
                continue;
            };
            if self.arena.len() - encrypted >= BATCH {
                // Encrypt what was copied while it is still in the cache.
                self.encrypt_pending(&cipher, &iv);
                encrypted = self.arena.len();
            }
            let start = self.arena.len();
            self.arena.extend_from_slice(&s.data);
            if layout.pattern() == (0, 0) {
                let len = s.data.len();
                self.whole.push(Range { start, len });
                continue;
            }
            if let Err(e) = self.split(s) {
                self.arena.clear();
                self.patterned.clear();
                self.whole.clear();
                return Err(e);
            }
            let mut pos = start;
            for sub in &self.scratch {
                pos += usize::from(sub.clear);
                let len = sub.protected as usize;
                self.patterned.push(Range { start: pos, len });
                pos += len;
            }
        }
        self.encrypt_pending(&cipher, &iv);
        let all = self.arena.split().freeze();
        let mut at = 0usize;
        for s in samples.iter_mut() {
            if layout_of(s.track).is_some() {
                let len = s.data.len();
                s.data = all.slice(at..at + len);
                at += len;
            }
        }
        if first {
            self.segment_keys.push(n);
        }
        Ok(())
    }

    /// What [`Self::encrypt_piece`] does but the encryption: each protected sample split into
    /// its subsamples (AV1 state carried on, errors the same), the segment's key noted. For a
    /// plan that only measures (cbcs leaves every size as it is).
    pub fn split_piece(&mut self, piece: &Segment, first: bool) -> Result<()> {
        let n = self.enc.key_index(piece.index);
        for s in &piece.samples {
            let patterned = self
                .layouts
                .get(s.track)
                .is_some_and(|l| l.pattern() != (0, 0));
            if patterned {
                self.split(s)?;
            }
        }
        if first {
            self.segment_keys.push(n);
        }
        Ok(())
    }

    /// Splits sample `s` of a patterned track into `scratch`'s subsamples.
    fn split(&mut self, s: &crate::sample::Sample) -> Result<()> {
        self.scratch.clear();
        let Some((splitter, id, count)) = self.splitters.get_mut(s.track) else {
            return Ok(());
        };
        let split = splitter.split(&s.data, &mut self.scratch);
        *count += 1;
        split.map_err(|e| {
            Error::Encryption(format!(
                "cbcs: track {id}, sample {} (dts {}): {e}",
                *count - 1,
                s.dts
            ))
        })
    }

    /// Encrypts the ranges gathered in `arena` since the last call.
    fn encrypt_pending(&mut self, cipher: &Aes128Enc, iv: &[u8; 16]) {
        encrypt_ranges(cipher, iv, VIDEO_PATTERN, &mut self.arena, &self.patterned);
        encrypt_ranges(cipher, iv, (0, 0), &mut self.arena, &self.whole);
        self.patterned.clear();
        self.whole.clear();
    }

    /// The segment listed last had `keyframes` I-frame entries.
    pub fn listed(&mut self, keyframes: usize) {
        let n = self.segment_keys.last().copied().unwrap_or(0);
        self.iframe_keys.extend(std::iter::repeat_n(n, keyframes));
    }

    /// The media playlist `text` with its EXT-X-KEY (and, per key period, EXT-X-MAP) tags.
    pub fn media_playlist(&self, text: &str) -> String {
        super::rotation::tagged(&self.enc, &self.maps, text, &self.segment_keys)
    }

    /// The I-frame playlist `text` with its EXT-X-KEY (and, per key period, EXT-X-MAP) tags.
    pub fn iframe_playlist(&self, text: &str) -> String {
        super::rotation::tagged(&self.enc, &self.maps, text, &self.iframe_keys)
    }
}

/// What the fMP4 muxer needs to describe a cbcs rendition: the key ID, the constant IV and
/// each track's layout (in the muxer's track order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protection {
    pub kid: [u8; 16],
    pub iv: [u8; 16],
    pub layouts: Vec<Layout>,
}

/// `sinf` (§8.12 of ISO/IEC 14496-12; CENC §8.2) for a sample entry whose original format is
/// `format`: `frma`, `schm` cbcs 1.0, `schi/tenc` version 1 (protected, no per-sample IV, the
/// pattern, the key ID, the 16-byte constant IV).
pub fn sinf(format: [u8; 4], layout: Layout, kid: &[u8; 16], iv: &[u8; 16]) -> Vec<u8> {
    let (crypt, skip) = layout.pattern();
    let mut tenc = Vec::with_capacity(49);
    tenc.extend_from_slice(&[1, 0, 0, 0]); // version 1, flags 0
    tenc.push(0); // reserved
    tenc.push((crypt << 4) | (skip & 0x0F)); // default_crypt_byte_block, default_skip_byte_block
    tenc.push(1); // default_isProtected
    tenc.push(0); // default_Per_Sample_IV_Size: 0, a constant IV follows
    tenc.extend_from_slice(kid);
    tenc.push(16); // default_constant_IV_size
    tenc.extend_from_slice(iv);
    let mut schi = Vec::new();
    put_box(&mut schi, b"tenc", &tenc);
    let mut body = Vec::with_capacity(97);
    put_box(&mut body, b"frma", &format);
    // schm: version 0, flags 0, scheme_type 'cbcs', scheme_version 0x00010000 (§4.2).
    put_box(
        &mut body,
        b"schm",
        &[0, 0, 0, 0, b'c', b'b', b'c', b's', 0, 1, 0, 0],
    );
    put_box(&mut body, b"schi", &schi);
    let mut out = Vec::with_capacity(body.len() + 8);
    put_box(&mut out, b"sinf", &body);
    out
}

/// A version 1 `pssh` (§8.1) of the ClearKey system listing `kid` (W3C "Common PSSH box
/// format"), so an EME player finds the key ID in the init segment.
pub fn clearkey_pssh(kid: &[u8; 16]) -> Vec<u8> {
    let mut body = Vec::with_capacity(44);
    body.extend_from_slice(&[1, 0, 0, 0]); // version 1, flags 0
    body.extend_from_slice(&CLEARKEY_SYSTEM_ID);
    body.extend_from_slice(&1u32.to_be_bytes()); // KID_count
    body.extend_from_slice(kid);
    body.extend_from_slice(&0u32.to_be_bytes()); // DataSize
    let mut out = Vec::with_capacity(body.len() + 8);
    put_box(&mut out, b"pssh", &body);
    out
}

fn put_box(out: &mut Vec<u8>, kind: &[u8; 4], body: &[u8]) {
    out.extend_from_slice(&((body.len() + 8) as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(body);
}

/// Test check: the subsamples of a sample cover all of its `len` bytes.
#[cfg(test)]
pub(super) fn assert_cover(subsamples: &[Subsample], len: usize, what: &str) {
    let total: usize = subsamples
        .iter()
        .map(|s| usize::from(s.clear) + s.protected as usize)
        .sum();
    assert_eq!(total, len, "{what}: subsamples cover the sample");
}

#[cfg(test)]
#[path = "cbcs_tests.rs"]
mod tests;
