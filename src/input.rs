// SPDX-License-Identifier: MIT OR Apache-2.0
//! Opening an input file: sniff the container and hand back a demuxer.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use anyhow::{bail, Context, Result};
use media::demux::mp4::{looks_like_mp4, Mp4Demuxer, Mp4Options};
use media::demux::ts::{looks_like_ts, TsFileDemuxer};
use media::sample::Demuxer;

pub struct OpenOptions {
    pub allow_truncated: bool,
    pub drop_bad_samples: bool,
}

pub fn open(path: &Path, opts: &OpenOptions) -> Result<Box<dyn Demuxer>> {
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let meta = file
        .metadata()
        .with_context(|| format!("cannot stat {}", path.display()))?;
    if meta.is_dir() {
        bail!("{} is a directory, not a media file", path.display());
    }
    let len = meta.len();
    if len == 0 {
        return Err(media::Error::Empty).with_context(|| path.display().to_string());
    }
    let mut head = [0u8; 564];
    let n = read_up_to(&mut file, &mut head).with_context(|| path.display().to_string())?;
    let head = &head[..n];
    file.seek(SeekFrom::Start(0))
        .with_context(|| path.display().to_string())?;
    let demux: Box<dyn Demuxer> = if looks_like_mp4(head) {
        Box::new(
            Mp4Demuxer::open(
                file,
                len,
                Mp4Options {
                    allow_truncated: opts.allow_truncated,
                },
            )
            .with_context(|| path.display().to_string())?
            .with_drop_bad_samples(opts.drop_bad_samples),
        )
    } else if looks_like_ts(head) {
        Box::new(
            TsFileDemuxer::open(BufReader::with_capacity(1 << 20, file))
                .with_context(|| path.display().to_string())?,
        )
    } else {
        let magic: String = head.iter().take(8).map(|b| format!("{b:02x}")).collect();
        return Err(media::Error::UnknownContainer { magic })
            .with_context(|| path.display().to_string());
    };
    Ok(demux)
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}
