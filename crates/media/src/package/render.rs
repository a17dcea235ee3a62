// SPDX-License-Identifier: MIT OR Apache-2.0
//! Rendering: one segment's bytes from its samples (the muxer of the run, [`Mux::write_piece`]),
//! and the [`Writer`] that writes each cut segment into the store and lists it in the media
//! and I-frame playlists. `package` renders every segment in order; just-in-time packaging
//! ([`super::jit`]) renders one segment from a snapshot of the muxer taken before it.

use std::io;

use super::{Format, PackageOptions, Plan, StreamStore};
use crate::crypto::cbc::encrypted_len;
use crate::crypto::cbcs::Cbcs;
use crate::crypto::rotation;
use crate::crypto::sample_aes::SampleAes;
use crate::crypto::segment::WholeSegments;
use crate::crypto::{Encryption, Method};
use crate::mux::fmp4::Fmp4Muxer;
use crate::mux::ts::TsMuxer;
use crate::mux::{KeyframeRange, SegmentMuxer};
use crate::playlist::media::Map;
use crate::playlist::{ByteRange, IFramePlaylist, MediaPlaylist, MediaSegment, PlaylistType};
use crate::segmenter::Segment;
use crate::store::Store;
use crate::{Error, Result};

/// Any [`Store`] as a [`StreamStore`]: the pieces are joined in memory and `put` on commit.
pub(super) struct Joined<'a> {
    pub(super) store: &'a mut dyn Store,
    pub(super) name: Option<String>,
    pub(super) buf: Vec<u8>,
}

impl Store for Joined<'_> {
    fn put(&mut self, name: &str, data: &[u8]) -> io::Result<()> {
        self.store.put(name, data)
    }
    fn append(&mut self, name: &str, data: &[u8]) -> io::Result<u64> {
        self.store.append(name, data)
    }
    fn delete(&mut self, name: &str) -> io::Result<()> {
        self.store.delete(name)
    }
}

impl StreamStore for Joined<'_> {
    fn begin(&mut self, name: &str) -> io::Result<()> {
        self.name = Some(name.to_owned());
        self.buf.clear();
        Ok(())
    }
    fn write_parts(&mut self, parts: &[&[u8]]) -> io::Result<()> {
        for part in parts {
            self.buf.extend_from_slice(part);
        }
        Ok(())
    }
    fn commit(&mut self) -> io::Result<()> {
        let name = self
            .name
            .take()
            .ok_or_else(|| io::Error::other("commit without begin"))?;
        self.store.put(&name, &self.buf)
    }
}

/// The muxer of a run, by format: each has its own way of writing a segment without building
/// it whole in memory.
#[derive(Debug, Clone)]
pub(super) enum Mux {
    Fmp4(Fmp4Muxer),
    Ts(TsMuxer),
}

impl Mux {
    pub(super) fn as_dyn(&mut self) -> &mut dyn SegmentMuxer {
        match self {
            Mux::Fmp4(m) => m,
            Mux::Ts(m) => m,
        }
    }

    /// Writes `piece` — a whole segment, or (`first` false) the next piece of one begun
    /// earlier — into the object `store` has begun; returns the bytes written. Keyframe
    /// offsets ([`SegmentMuxer::keyframes`]) count from the start of this piece.
    pub(super) fn write_piece(
        &mut self,
        piece: &Segment,
        first: bool,
        name: &str,
        store: &mut dyn StreamStore,
        buf: &mut Vec<u8>,
    ) -> Result<u64> {
        let io_err = |e| Error::io(format!("writing {name}"), e);
        buf.clear();
        match self {
            Mux::Fmp4(m) => {
                // styp, moof and mdat headers in `buf`, the payload straight from the samples.
                let pieces = if first {
                    m.write_segment_parts(piece, buf)?
                } else {
                    m.write_continuation_parts(piece, buf)?
                };
                let parts: Vec<&[u8]> = pieces.iter().map(|p| p.bytes(buf)).collect();
                store.write_parts(&parts).map_err(io_err)?;
                Ok(parts.iter().map(|p| p.len() as u64).sum())
            }
            Mux::Ts(m) if store.counts_only() => {
                let size = m.count_segment(piece, buf)?;
                store.write_count(size).map_err(io_err)?;
                Ok(size)
            }
            Mux::Ts(m) => {
                // Every piece starts with PAT and PMT: harmless mid-segment (ISO/IEC 13818-1
                // 2.4.4: PSI may repeat anywhere), and continuity counters go on.
                let mut size = 0u64;
                m.write_segment_streaming(piece, buf, &mut |chunk| {
                    size += chunk.len() as u64;
                    store.write_parts(&[chunk]).map_err(io_err)
                })?;
                Ok(size)
            }
        }
    }
}

/// The media object being written: one segment, possibly in several pieces.
pub(super) struct OpenObject {
    uri: String,
    /// Where it starts in the single file (`--single-file`), else 0.
    offset: u64,
    size: u64,
    /// Keyframes so far, offsets from the start of the object.
    keys: Vec<KeyframeRange>,
}

/// Writes the media objects as segments are cut, and lists them in the media and I-frame
/// playlists.
pub(super) struct Writer<'s> {
    pub(super) store: &'s mut dyn StreamStore,
    pub(super) muxer: Mux,
    pub(super) has_video: bool,
    pub(super) single_file: bool,
    pub(super) base: String,
    pub(super) ext: &'static str,
    pub(super) single_name: String,
    pub(super) playlist: MediaPlaylist,
    pub(super) iframes: IFramePlaylist,
    /// TS: whether some I-frame entry lacks its own PAT/PMT, and where the first segment's are.
    pub(super) ts_needs_map: bool,
    pub(super) first_segment: Option<(String, u64)>,
    pub(super) open: Option<OpenObject>,
    /// --single-file: one piece's bytes before they are appended (reused).
    pub(super) single_buf: Vec<u8>,
    pub(super) buf: Vec<u8>,
    /// METHOD=AES-128: the segments' cipher, and the I-frame file's name.
    pub(super) aes: Option<(WholeSegments, String)>,
    /// METHOD=SAMPLE-AES.
    pub(super) sample_aes: Option<SampleAes>,
    /// METHOD=SAMPLE-AES in fMP4: CENC cbcs.
    pub(super) cbcs: Option<Cbcs>,
    /// Told of every piece before it is rendered (just-in-time packaging records the plan).
    pub(super) observer: Option<Box<Observer<'s>>>,
}

/// Sees each piece of a segment before it is rendered: the piece, whether it opens its
/// segment, the muxer's state before it and (for a piece that opens its segment, when the
/// samples are encrypted) the encryption's — what rendering it again needs.
pub(super) type Observer<'o> = dyn FnMut(&Segment, bool, &Mux, Option<SegmentCrypto>) + 'o;

/// The encryption a segment starts from ([`Cbcs::snapshot`], [`SampleAes::snapshot`], AES-128's
/// keys and I-frame file so far): just-in-time packaging encrypts a segment it renders again
/// with it.
pub(super) enum SegmentCrypto {
    SampleAes(SampleAes),
    Cbcs(Cbcs),
    /// AES-128: the segment is encrypted whole once rendered; its keyframes start the I-frame
    /// file's entries at (entry number, byte offset).
    Aes(Encryption, (usize, u64)),
}

impl std::fmt::Debug for SegmentCrypto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.write_str(match self {
            SegmentCrypto::SampleAes(_) => "SegmentCrypto::SampleAes",
            SegmentCrypto::Cbcs(_) => "SegmentCrypto::Cbcs",
            SegmentCrypto::Aes(..) => "SegmentCrypto::Aes",
        })
    }
}

impl Clone for SegmentCrypto {
    fn clone(&self) -> Self {
        match self {
            SegmentCrypto::SampleAes(s) => SegmentCrypto::SampleAes(s.snapshot()),
            SegmentCrypto::Cbcs(c) => SegmentCrypto::Cbcs(c.snapshot()),
            SegmentCrypto::Aes(e, at) => SegmentCrypto::Aes(e.clone(), *at),
        }
    }
}

impl SegmentCrypto {
    /// Encrypts the samples of `piece` (`first`: the piece that opens its segment); AES-128
    /// leaves them clear.
    pub(super) fn encrypt_piece(&mut self, piece: &mut Segment, first: bool) -> Result<()> {
        match self {
            SegmentCrypto::SampleAes(s) => {
                s.encrypt_piece(piece, first);
                Ok(())
            }
            SegmentCrypto::Cbcs(c) => c.encrypt_piece(piece, first),
            SegmentCrypto::Aes(..) => Ok(()),
        }
    }
}

impl<'s> Writer<'s> {
    /// A writer for `plan`'s rendition; writes its initialization section (fMP4).
    pub(super) fn new(
        store: &'s mut dyn StreamStore,
        plan: &Plan,
        mut muxer: Mux,
        opts: &PackageOptions,
    ) -> Result<Self> {
        let mut playlist = MediaPlaylist {
            playlist_type: Some(PlaylistType::Vod),
            independent_segments: true,
            end_list: true,
            ..Default::default()
        };
        let cbcs = cbcs(opts, plan, &mut muxer)?;
        if let Some(init) = muxer.as_dyn().init_segment()? {
            let single = opts.single_file.then_some(plan.single_name.as_str());
            let name = rotation::init_name(&plan.base, 0);
            playlist.map = Some(write_init(store, single, &name, &init)?);
        }
        Ok(Writer {
            store,
            muxer,
            has_video: plan.video_index.is_some(),
            single_file: opts.single_file,
            base: plan.base.clone(),
            ext: plan.ext,
            single_name: plan.single_name.clone(),
            playlist,
            iframes: IFramePlaylist::vod(),
            ts_needs_map: false,
            first_segment: None,
            open: None,
            single_buf: Vec::new(),
            buf: Vec::new(),
            aes: aes_128(opts, plan)?,
            sample_aes: sample_aes(opts, plan)?,
            cbcs,
            observer: None,
        })
    }

    /// Writes a piece of the current segment; `last`: the piece that completes it (then the
    /// segment's duration is known and it is listed). Returns the end of a completed segment,
    /// in seconds.
    pub(super) fn emit(&mut self, mut piece: Segment, last: bool) -> Result<Option<f64>> {
        let first = self.open.is_none();
        if first {
            self.start_key_period(piece.index)?;
        }
        if let Some(observe) = &mut self.observer {
            // After the key period's init segment: the muxer carries that period's protection.
            let crypto = match (first, &self.sample_aes, &self.cbcs, &self.aes) {
                (false, ..) => None,
                (true, Some(s), ..) => Some(SegmentCrypto::SampleAes(s.snapshot())),
                (true, None, Some(c), _) => Some(SegmentCrypto::Cbcs(c.snapshot())),
                (true, None, None, Some((a, _))) => Some(SegmentCrypto::Aes(
                    a.encryption().clone(),
                    a.iframes_written(),
                )),
                (true, None, None, None) => None,
            };
            observe(&piece, first, &self.muxer, crypto);
        }
        if let Some(s) = &mut self.sample_aes {
            s.encrypt_piece(&mut piece, first);
        }
        if let Some(c) = &mut self.cbcs {
            if self.store.counts_only() {
                // A plan: cbcs keeps every size, only the subsamples count (`senc`).
                c.split_piece(&piece, first)?;
            } else {
                c.encrypt_piece(&mut piece, first)?;
            }
        }
        let object = self.open.get_or_insert_with(|| OpenObject {
            uri: if self.single_file {
                self.single_name.clone()
            } else {
                // Named by media sequence number (6 digits from 0), as live segments are
                // (RFC 8216bis 4.4.3.2: the first segment's number is EXT-X-MEDIA-SEQUENCE, 0).
                format!("{}_{:06}.{}", self.base, piece.index, self.ext)
            },
            offset: 0,
            size: 0,
            keys: Vec::new(),
        });
        let store = &mut *self.store;
        // The last piece of a segment written in pieces may be empty (the cut came right
        // after a piece was written).
        let size = if piece.samples.is_empty() && !first {
            0
        } else if let (true, Some(aes)) = (self.single_file, &mut self.aes) {
            let mux = (&mut self.muxer, &mut self.buf);
            let single = Some(&mut self.single_buf);
            let size = write_aes_piece(aes, mux, (&piece, first), object, store, single)?;
            object.size = object.size.saturating_add(size);
            return self.complete(last, &piece);
        } else if self.single_file {
            // The piece is put together in memory (at most --max-buffer-mib of samples), then
            // appended to the single file.
            let mut joined = Joined {
                store: &mut *store,
                name: None,
                buf: std::mem::take(&mut self.single_buf),
            };
            joined.buf.clear();
            let size = self.muxer.write_piece(
                &piece,
                first,
                &self.single_name,
                &mut joined,
                &mut self.buf,
            )?;
            let bytes = joined.buf;
            let at = append(store, &self.single_name, &bytes)?;
            if first {
                object.offset = at;
            }
            self.single_buf = bytes;
            size
        } else {
            if first {
                store
                    .begin(&object.uri)
                    .map_err(|e| Error::io(format!("writing {}", object.uri), e))?;
            }
            if let Some(aes) = &mut self.aes {
                let mux = (&mut self.muxer, &mut self.buf);
                let size = write_aes_piece(aes, mux, (&piece, first), object, store, None)?;
                object.size = object.size.saturating_add(size);
                return self.complete(last, &piece);
            }
            self.muxer
                .write_piece(&piece, first, &object.uri, store, &mut self.buf)?
        };
        if self.has_video && size > 0 {
            let before = object.size;
            object.keys.extend(
                self.muxer
                    .as_dyn()
                    .keyframes()
                    .iter()
                    .map(|k| KeyframeRange {
                        offset: k.offset.saturating_add(before),
                        ..*k
                    }),
            );
        }
        object.size = object.size.saturating_add(size);
        self.complete(last, &piece)
    }

    /// cbcs with key rotation: before the segment with media sequence number `msn` that opens a
    /// new key period, that period's init segment (its `tenc` key ID and IV, its `pssh`; see
    /// [`crate::crypto::rotation`]), listed with the period's EXT-X-KEY (RFC 8216bis 4.4.4.5).
    fn start_key_period(&mut self, msn: u64) -> Result<()> {
        let (Some(c), Mux::Fmp4(m)) = (&mut self.cbcs, &mut self.muxer) else {
            return Ok(());
        };
        let Some((n, protection)) = c.next_period(msn) else {
            return Ok(());
        };
        m.protect(protection)?;
        let Some(init) = m.init_segment()? else {
            return Ok(());
        };
        let single = self.single_file.then_some(self.single_name.as_str());
        let name = rotation::init_name(&self.base, n);
        c.period_map(n, write_init(&mut *self.store, single, &name, &init)?);
        Ok(())
    }

    /// After the `last` piece of a segment, lists it.
    fn complete(&mut self, last: bool, piece: &Segment) -> Result<Option<f64>> {
        if !last {
            return Ok(None);
        }
        let Some(mut object) = self.open.take() else {
            return Ok(None);
        };
        if let Some((aes, _)) = &mut self.aes {
            // The last block, padded (RFC 8216 5.2: PKCS7).
            let io_err = |e| Error::io(format!("writing {}", object.uri), e);
            if self.single_file {
                let last = aes.last_block().map_err(io_err)?;
                self.store.append(&object.uri, last).map_err(io_err)?;
            } else {
                aes.finish_segment(&mut *self.store).map_err(io_err)?;
            }
            object.size = encrypted_len(object.size);
        }
        self.list(object, piece)
    }

    /// Closes the completed segment `object` (cut as `segment`) and lists it.
    fn list(&mut self, object: OpenObject, segment: &Segment) -> Result<Option<f64>> {
        if !self.single_file {
            self.store
                .commit()
                .map_err(|e| Error::io(format!("writing {}", object.uri), e))?;
        }
        let byterange = self.single_file.then_some(ByteRange {
            length: object.size,
            offset: object.offset,
        });
        if let Some(s) = &mut self.sample_aes {
            s.listed(object.keys.len());
        }
        if let Some(c) = &mut self.cbcs {
            c.listed(object.keys.len());
        }
        if let (true, Some((_, iframe_name))) = (self.has_video, &self.aes) {
            // AES-128: the keyframes were copied into the I-frame file, each with its PAT/PMT.
            self.iframes.push_segment(iframe_name, 0, &object.keys);
        } else if self.has_video {
            self.iframes
                .push_segment(&object.uri, object.offset, &object.keys);
            self.ts_needs_map |= object.keys.iter().any(|k| k.offset != 0);
            self.first_segment
                .get_or_insert_with(|| (object.uri.clone(), object.offset));
        }
        let duration = segment.duration_secs();
        self.playlist.segments.push(MediaSegment {
            uri: object.uri,
            duration,
            byterange,
            discontinuity: false,
            program_date_time: None,
            size: object.size,
        });
        Ok(Some(segment.start_secs() + duration))
    }
}

pub(super) fn put(store: &mut dyn StreamStore, name: &str, data: &[u8]) -> Result<()> {
    store
        .put(name, data)
        .map_err(|e| Error::io(format!("writing {name}"), e))
}

/// Writes an init segment as `name`, or appends it to the single file `single`; its EXT-X-MAP.
fn write_init(
    store: &mut dyn StreamStore,
    single: Option<&str>,
    name: &str,
    init: &[u8],
) -> Result<Map> {
    Ok(match single {
        Some(single) => Map {
            uri: single.to_owned(),
            byterange: Some(ByteRange {
                length: init.len() as u64,
                offset: append(store, single, init)?,
            }),
        },
        None => {
            put(store, name, init)?;
            Map {
                uri: name.to_owned(),
                byterange: None,
            }
        }
    })
}

fn append(store: &mut dyn StreamStore, name: &str, data: &[u8]) -> Result<u64> {
    store
        .append(name, data)
        .map_err(|e| Error::io(format!("writing {name}"), e))
}

/// METHOD=AES-128: writes `piece` (`first`: the one that opens its segment) through the cipher
/// into the object begun for `object` — or, `--single-file`, into `single` (reused) and appended
/// to the one file —, and copies its keyframes into the I-frame file (see
/// [`crate::crypto::segment`]). Returns the plaintext bytes written.
fn write_aes_piece(
    (aes, iframe_name): &mut (WholeSegments, String),
    (muxer, buf): (&mut Mux, &mut Vec<u8>),
    (piece, first): (&Segment, bool),
    object: &mut OpenObject,
    store: &mut dyn StreamStore,
    single: Option<&mut Vec<u8>>,
) -> Result<u64> {
    if first {
        aes.begin_segment(piece.index);
    }
    let uri = &object.uri;
    let size = match single {
        None => muxer.write_piece(piece, first, uri, &mut aes.piece_store(store), buf)?,
        Some(single) => {
            let mut joined = Joined {
                store: &mut *store,
                name: None,
                buf: std::mem::take(single),
            };
            joined.buf.clear();
            let size =
                muxer.write_piece(piece, first, uri, &mut aes.piece_store(&mut joined), buf)?;
            *single = joined.buf;
            let at = append(store, uri, single)?;
            if first {
                object.offset = at;
            }
            size
        }
    };
    let psi = match muxer {
        Mux::Ts(m) => Some(m.psi_len()),
        Mux::Fmp4(_) => None,
    };
    let ranges = aes
        .write_iframes(muxer.as_dyn().keyframes(), psi, store, iframe_name)
        .map_err(|e| Error::io(format!("writing {iframe_name}"), e))?;
    object.keys.extend(ranges);
    Ok(size)
}

/// The AES-128 state of a run with `--encrypt aes-128` (RFC 8216bis 4.4.4.4), and the name of
/// its I-frame file (see [`crate::crypto::segment`]).
fn aes_128(opts: &PackageOptions, plan: &Plan) -> Result<Option<(WholeSegments, String)>> {
    let Some(enc) = opts
        .encryption
        .as_ref()
        .filter(|e| e.method == Method::Aes128)
    else {
        return Ok(None);
    };
    let name = format!("{}_iframes.{}", plan.base, plan.ext);
    Ok(Some((
        WholeSegments::new(enc.clone(), plan.video_index.is_some()),
        name,
    )))
}

/// The SAMPLE-AES state of a run with `--encrypt sample-aes` (MPEG-TS only: in fMP4, SAMPLE-AES
/// is CENC `cbcs`, RFC 8216bis 4.4.4.4).
fn sample_aes(opts: &PackageOptions, plan: &Plan) -> Result<Option<SampleAes>> {
    let Some(enc) = opts
        .encryption
        .as_ref()
        .filter(|e| e.method == Method::SampleAes)
    else {
        return Ok(None);
    };
    if opts.format != Format::Ts {
        return Err(Error::Encryption(
            "--encrypt sample-aes is the MPEG-TS format (Apple's MPEG-2 Stream Encryption); \
             for fMP4 use --encrypt cbcs, or add --format ts"
                .into(),
        ));
    }
    Ok(Some(SampleAes::new(enc.clone(), &plan.tracks)?))
}

/// The cbcs state of a run with `--encrypt cbcs` (fMP4 only, ISO/IEC 23001-7 §10.4); protects
/// the fMP4 muxer (its init segment and fragments).
fn cbcs(opts: &PackageOptions, plan: &Plan, muxer: &mut Mux) -> Result<Option<Cbcs>> {
    let Some(enc) = opts
        .encryption
        .as_ref()
        .filter(|e| e.method == Method::Cbcs)
    else {
        return Ok(None);
    };
    let Mux::Fmp4(m) = muxer else {
        return Err(Error::Encryption(
            "--encrypt cbcs is Common Encryption for fMP4; add --format fmp4, or use \
             --encrypt sample-aes (or aes-128) for MPEG-TS"
                .into(),
        ));
    };
    let c = Cbcs::new(enc.clone(), &plan.tracks)?;
    m.protect(c.protection())?;
    Ok(Some(c))
}
