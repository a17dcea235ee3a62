// SPDX-License-Identifier: MIT OR Apache-2.0
//! Where segments and playlists go. The segmenter writes through [`Store`]; the origin reads
//! through its own trait; neither knows the other.

use std::collections::BTreeMap;
use std::io;

/// A flat namespace of named objects ("seg_000000.m4s", "video.m3u8").
pub trait Store {
    /// Writes a whole object so that readers see either the old or the new bytes, never a mix
    /// (RFC 8216bis 6.2.1: playlist updates MUST be atomic).
    fn put(&mut self, name: &str, data: &[u8]) -> io::Result<()>;
    /// Appends to an object and returns the byte offset where `data` starts (single-file mode).
    fn append(&mut self, name: &str, data: &[u8]) -> io::Result<u64>;
    /// Removes an object; removing one that does not exist is not an error.
    fn delete(&mut self, name: &str) -> io::Result<()>;
}

/// An in-memory store, for tests and for callers that serve from memory.
#[derive(Debug, Default, Clone)]
pub struct MemStore {
    pub objects: BTreeMap<String, Vec<u8>>,
}

impl Store for MemStore {
    fn put(&mut self, name: &str, data: &[u8]) -> io::Result<()> {
        self.objects.insert(name.to_owned(), data.to_vec());
        Ok(())
    }
    fn append(&mut self, name: &str, data: &[u8]) -> io::Result<u64> {
        let obj = self.objects.entry(name.to_owned()).or_default();
        let offset = obj.len() as u64;
        obj.extend_from_slice(data);
        Ok(offset)
    }
    fn delete(&mut self, name: &str) -> io::Result<()> {
        self.objects.remove(name);
        Ok(())
    }
}
