// SPDX-License-Identifier: MIT OR Apache-2.0
//! The memory skeleton samples are made of ([`super::skeleton`]): one shared buffer of zeros
//! for the samples that are zeros throughout, and zeroed buffers, reused, for the video samples
//! that carry their NAL heads. A plan of a 10 min 1080p file makes 18,000 of those (34 KB on
//! average); allocating and zeroing each anew was a fifth of the MPEG-TS plan's CPU, and an
//! allocator that hands out fresh pages turns each into page faults. A buffer comes back when
//! the last reference to its sample's bytes is dropped, its head bytes zeroed again.

use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;

use crate::error::{Error, Result};

/// Smallest pooled buffer (size classes are powers of two from here).
const MIN_CLASS: u32 = 12;
/// Buffers kept per size class; more are freed (a segment holds a few hundred samples).
const MAX_FREE_PER_CLASS: usize = 512;

/// Zeros for skeleton samples: a shared buffer as long as the largest sample, and a pool of
/// zeroed buffers to write NAL heads into.
#[derive(Debug, Clone)]
pub struct SkeletonBuffers {
    zeros: Bytes,
    /// Free buffers by size class (`1 << (MIN_CLASS + k)` bytes), all zeros.
    free: Arc<Mutex<Vec<Vec<Vec<u8>>>>>,
}

impl SkeletonBuffers {
    /// Buffers for samples of at most `largest` bytes; `None` if that much memory cannot be had.
    pub fn new(largest: usize) -> Option<Self> {
        let mut zeros = Vec::new();
        zeros.try_reserve_exact(largest).ok()?;
        zeros.resize(largest, 0);
        Some(SkeletonBuffers {
            zeros: Bytes::from(zeros),
            free: Arc::default(),
        })
    }

    /// `size` bytes of the shared zeros.
    pub(super) fn zeros(&self, size: usize, offset: u64) -> Result<Bytes> {
        if size > self.zeros.len() {
            return Err(Error::mp4(
                format!("sample of {size} bytes larger than the skeleton buffer"),
                offset,
            ));
        }
        Ok(self.zeros.slice(..size))
    }

    /// `size` bytes of zeros with `writes` written in (position, bytes; one that does not fit
    /// is left out), as one sample's bytes.
    pub(super) fn written<'a>(
        &self,
        size: usize,
        writes: impl Iterator<Item = (usize, &'a [u8])>,
    ) -> Bytes {
        let class = size_class(size);
        let mut buf = self
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(class)
            .and_then(Vec::pop)
            .unwrap_or_else(|| vec![0u8; 1 << (MIN_CLASS as usize + class)]);
        let mut dirty = Vec::new();
        for (at, src) in writes {
            let end = at.saturating_add(src.len());
            // A write that does not fit the sample is left out.
            if let (true, Some(dst)) = (end <= size, buf.get_mut(at..end)) {
                dst.copy_from_slice(src);
                dirty.push((at, end));
            }
        }
        Bytes::from_owner(Pooled {
            buf,
            size,
            class,
            dirty,
            free: Arc::clone(&self.free),
        })
    }
}

/// The size class of a `size`-byte buffer: the smallest power of two ≥ `size`, from
/// `1 << MIN_CLASS`.
fn size_class(size: usize) -> usize {
    let bits = usize::BITS - size.saturating_sub(1).leading_zeros();
    bits.saturating_sub(MIN_CLASS) as usize
}

/// One sample's bytes in a pooled buffer.
struct Pooled {
    buf: Vec<u8>,
    size: usize,
    class: usize,
    /// The ranges written, zeroed again before the buffer goes back.
    dirty: Vec<(usize, usize)>,
    free: Arc<Mutex<Vec<Vec<Vec<u8>>>>>,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        self.buf.get(..self.size).unwrap_or_default()
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        for &(from, to) in &self.dirty {
            if let Some(d) = self.buf.get_mut(from..to) {
                d.fill(0);
            }
        }
        let buf = std::mem::take(&mut self.buf);
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        if free.len() <= self.class {
            free.resize_with(self.class + 1, Vec::new);
        }
        if let Some(list) = free.get_mut(self.class) {
            if list.len() < MAX_FREE_PER_CLASS {
                list.push(buf);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_classes_are_powers_of_two_from_4_kib() {
        for (size, class) in [
            (0, 0),
            (1, 0),
            (4096, 0),
            (4097, 1),
            (8192, 1),
            (8193, 2),
            (1 << 20, 8),
        ] {
            assert_eq!(size_class(size), class, "size {size}");
            assert!(size <= 1 << (MIN_CLASS as usize + class));
        }
    }

    #[test]
    fn a_buffer_comes_back_zeroed_and_is_reused() {
        let pool = SkeletonBuffers::new(10_000).expect("memory");
        let a = pool.written(
            5000,
            [(0, &[1u8, 2, 3][..]), (4998, &[7, 8, 9][..])].into_iter(),
        );
        assert_eq!(a.len(), 5000);
        assert_eq!(&a[..4], &[1, 2, 3, 0]);
        assert!(
            a[4996..].iter().all(|&x| x == 0),
            "a write past the size is left out"
        );
        let ptr = a.as_ptr();
        drop(a);
        let b = pool.written(6000, std::iter::empty());
        assert_eq!(b.as_ptr(), ptr, "the same class reuses the buffer");
        assert!(b.iter().all(|&x| x == 0), "given back zeroed");
        let c = pool.written(6000, std::iter::empty());
        assert_ne!(c.as_ptr(), ptr, "a buffer in use is not handed out twice");
        assert_eq!(pool.zeros(10_000, 0).map(|z| z.len()).ok(), Some(10_000));
        assert!(pool.zeros(10_001, 0).is_err());
    }
}
