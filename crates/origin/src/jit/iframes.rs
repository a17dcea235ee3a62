// SPDX-License-Identifier: MIT OR Apache-2.0
//! The I-frame file of AES-128 just-in-time output (`stream_VERSION_iframes.ts|m4s`,
//! `crypto::segment` in the media crate): each keyframe copied out of its segment and
//! encrypted on its own. It is never made whole: a request for a byte range renders the
//! entries of the segments that range covers ([`JitPlan::iframe_segments`]), read between two
//! identity checks like any segment, so a player fetching one I-frame entry costs one
//! segment's render.

use std::io;
use std::sync::Arc;

use bytes::Bytes;
use media::demux::mp4::MediaIndex;
use media::package::jit::JitPlan;
use media::package::jit_ts::TsInputPlan;

use super::{changed, read_spans, refused, render_ts, Reader, Ready, Refusal};
use crate::source::{Object, ObjectBody, ObjectMeta, RangedObject};

/// The I-frame file of a plan, rendered per range.
pub(super) struct IframeFile {
    ready: Arc<Ready>,
    /// A ladder's rendition; `None`: a single file's plan.
    rendition: Option<usize>,
    /// The media file the rendition is made from.
    file: Object,
    /// Its name, for errors.
    name: String,
}

impl std::fmt::Debug for IframeFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IframeFile")
            .field("name", &self.name)
            .field("rendition", &self.rendition)
            .finish_non_exhaustive()
    }
}

impl IframeFile {
    /// The object `meta` describes (the I-frame file's length and ETag), made from `file`.
    pub(super) fn object(
        ready: Arc<Ready>,
        rendition: Option<usize>,
        file: Object,
        meta: ObjectMeta,
        name: String,
    ) -> Object {
        let body = IframeFile {
            ready,
            rendition,
            file,
            name,
        };
        Object {
            meta,
            body: ObjectBody::Ranged(Arc::new(body)),
        }
    }

    /// The plan of the rendition, and the index of its MP4 file (`None`: a TS file).
    fn plan(&self) -> Result<(Option<&MediaIndex>, &JitPlan), Refusal> {
        let missing = || refused(500, format!("{}: no such rendition", self.name));
        match (&*self.ready, self.rendition) {
            (Ready::File { index, plan }, None) => Ok((Some(index), plan)),
            (Ready::Ts(t), None) => Ok((None, t.plan())),
            (Ready::Ladder(l), Some(r)) => {
                let (index, plan) = l.rendition(r).ok_or_else(missing)?;
                Ok((Some(index), plan))
            }
            _ => Err(missing()),
        }
    }

    /// The entries of segment `seg`: where they start in the I-frame file, and their bytes.
    fn entries(&self, seg: usize) -> Result<(u64, Vec<u8>), Refusal> {
        let (index, plan) = self.plan()?;
        let meta = &self.file.meta;
        let Some(index) = index else {
            return self.ts_entries(seg);
        };
        let read = read_spans(&self.file, meta, &self.name, plan.spans(index, seg))?;
        plan.render_iframes_read(index, seg, &read)
            .map_err(|_| changed(&self.name))
    }

    /// [`Self::entries`] of a TS file, demuxed from the segment's checkpoint.
    fn ts_entries(&self, seg: usize) -> Result<(u64, Vec<u8>), Refusal> {
        let Ready::Ts(plan) = &*self.ready else {
            return Err(refused(500, format!("{}: not a TS file", self.name)));
        };
        let render = |t: &TsInputPlan, r: &mut Reader| t.render_iframes(seg, r);
        render_ts(plan, seg, &self.file, &self.file.meta, &self.name, render)
    }
}

impl RangedObject for IframeFile {
    fn read_range(&self, start: u64, len: u64) -> io::Result<Bytes> {
        let (_, plan) = self.plan().map_err(io::Error::other)?;
        let end = start.saturating_add(len);
        let mut out: Vec<u8> = Vec::new();
        let mut first = None;
        for seg in plan.iframe_segments(start..end) {
            let (at, bytes) = self.entries(seg).map_err(io::Error::other)?;
            first.get_or_insert(at);
            out.extend(bytes);
        }
        let from = usize::try_from(start - first.unwrap_or(start)).unwrap_or(usize::MAX);
        let to = usize::try_from(len)
            .ok()
            .and_then(|l| from.checked_add(l))
            .unwrap_or(usize::MAX);
        let bytes = out.get(from..to).ok_or_else(|| {
            io::Error::other(format!(
                "{}: bytes {start}..{end} of the I-frame file not rendered",
                self.name
            ))
        })?;
        Ok(Bytes::copy_from_slice(bytes))
    }
}
