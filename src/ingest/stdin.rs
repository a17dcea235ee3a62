// SPDX-License-Identifier: MIT OR Apache-2.0
//! Standard input: one session from the first byte to end of file, which ends the stream.

use anyhow::{Context, Result};
use bytes::Bytes;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

use super::IngestEvent;

const READ_CHUNK: usize = 64 * 1024;

pub async fn run(tx: mpsc::Sender<IngestEvent>) -> Result<()> {
    let mut stdin = tokio::io::stdin();
    let mut buf = vec![0u8; READ_CHUNK];
    if tx
        .send(IngestEvent::Session {
            peer: "stdin".into(),
        })
        .await
        .is_err()
    {
        return Ok(());
    }
    loop {
        let n = stdin.read(&mut buf).await.context("cannot read stdin")?;
        let event = match n {
            0 => IngestEvent::End,
            n => IngestEvent::Data(Bytes::copy_from_slice(buf.get(..n).unwrap_or_default())),
        };
        let end = event == IngestEvent::End;
        if tx.send(event).await.is_err() || end {
            return Ok(());
        }
    }
}
