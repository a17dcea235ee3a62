// SPDX-License-Identifier: MIT OR Apache-2.0
//! The memory skeleton samples are made of ([`super::skeleton`]): one shared buffer of zeros
//! for the samples that are zeros throughout, and zeroed buffers, reused, for the video samples
//! that carry their NAL heads. A plan of a 10 min 1080p file makes 18,000 of those (34 KB on
//! average); allocating and zeroing each anew was a fifth of the MPEG-TS plan's CPU, and an
//! allocator that hands out fresh pages turns each into page faults. A buffer comes back when
//! the last reference to its sample's bytes is dropped, its head bytes zeroed again, to a pool
//! the plans of the process share: a plan starts with the buffers the plans before it gave
//! back (each would otherwise allocate and zero a segment's worth, ~13 MB for 1080p at
//! 8 Mb/s: 7 % of a TS plan's CPU).

use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use bytes::Bytes;

use crate::error::{Error, Result};

/// Smallest pooled buffer (size classes are powers of two from here).
const MIN_CLASS: u32 = 12;
/// Buffers kept per size class; more are freed (a segment holds a few hundred samples).
const MAX_FREE_PER_CLASS: usize = 512;
/// Bytes of free buffers the process keeps for the plans to come: a few plans' segments
/// in flight at once.
const SHARED_POOL_BYTES: usize = 48 << 20;

/// The pool the plans of the process share.
static SHARED: LazyLock<Arc<Pool>> = LazyLock::new(|| Arc::new(Pool::new(SHARED_POOL_BYTES)));

/// Zeros for skeleton samples: a shared buffer as long as the largest sample, and a pool of
/// zeroed buffers to write NAL heads into.
#[derive(Debug, Clone)]
pub struct SkeletonBuffers {
    zeros: Bytes,
    pool: Arc<Pool>,
}

impl SkeletonBuffers {
    /// Buffers for samples of at most `largest` bytes, from the pool the process shares;
    /// `None` if that much memory cannot be had.
    pub fn new(largest: usize) -> Option<Self> {
        Self::with_pool(largest, Arc::clone(&SHARED))
    }

    fn with_pool(largest: usize, pool: Arc<Pool>) -> Option<Self> {
        let mut zeros = Vec::new();
        zeros.try_reserve_exact(largest).ok()?;
        zeros.resize(largest, 0);
        Some(SkeletonBuffers {
            zeros: Bytes::from(zeros),
            pool,
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
            .pool
            .take(class)
            .unwrap_or_else(|| vec![0u8; 1 << (MIN_CLASS as usize + class)]);
        let mut dirty = Dirty::default();
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
            pool: Arc::clone(&self.pool),
        })
    }
}

/// Free buffers, all zeros, by size class (`1 << (MIN_CLASS + k)` bytes), at most `cap`
/// bytes of them.
#[derive(Debug)]
struct Pool {
    cap: usize,
    free: Mutex<Free>,
}

#[derive(Debug, Default)]
struct Free {
    classes: Vec<Vec<Vec<u8>>>,
    bytes: usize,
}

impl Pool {
    fn new(cap: usize) -> Self {
        Pool {
            cap,
            free: Mutex::default(),
        }
    }

    fn take(&self, class: usize) -> Option<Vec<u8>> {
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        let buf = free.classes.get_mut(class)?.pop()?;
        free.bytes = free.bytes.saturating_sub(buf.len());
        Some(buf)
    }

    /// Keeps `buf` (zeros) for reuse, unless the pool is full.
    fn give(&self, class: usize, buf: Vec<u8>) {
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        if free.bytes.saturating_add(buf.len()) > self.cap {
            return;
        }
        if free.classes.len() <= class {
            free.classes.resize_with(class + 1, Vec::new);
        }
        let len = buf.len();
        if let Some(list) = free.classes.get_mut(class) {
            if list.len() < MAX_FREE_PER_CLASS {
                list.push(buf);
                free.bytes += len;
            }
        }
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
    dirty: Dirty,
    pool: Arc<Pool>,
}

/// Writes inline in a [`Dirty`]: a video sample has one to three NAL units as a rule.
const INLINE_WRITES: usize = 4;

/// Where a pooled buffer was written, to zero it again: the first [`INLINE_WRITES`] ranges
/// without an allocation per sample (a `Vec` each was 0.7 % of a plan's CPU), more in `more`.
#[derive(Debug, Default)]
struct Dirty {
    inline: [(usize, usize); INLINE_WRITES],
    n: usize,
    more: Vec<(usize, usize)>,
}

impl Dirty {
    fn push(&mut self, range: (usize, usize)) {
        match self.inline.get_mut(self.n) {
            Some(slot) => {
                *slot = range;
                self.n += 1;
            }
            None => self.more.push(range),
        }
    }

    fn ranges(&self) -> impl Iterator<Item = &(usize, usize)> {
        self.inline.iter().take(self.n).chain(&self.more)
    }
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        self.buf.get(..self.size).unwrap_or_default()
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        for &(from, to) in self.dirty.ranges() {
            if let Some(d) = self.buf.get_mut(from..to) {
                d.fill(0);
            }
        }
        self.pool.give(self.class, std::mem::take(&mut self.buf));
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
        let pool = SkeletonBuffers::with_pool(10_000, Arc::new(Pool::new(1 << 20)));
        let pool = pool.expect("memory");
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

    /// A sample with more NAL units than [`INLINE_WRITES`]: every head is zeroed on return.
    #[test]
    fn many_writes_come_back_zeroed() {
        let pool = SkeletonBuffers::with_pool(8192, Arc::new(Pool::new(1 << 20)));
        let pool = pool.expect("memory");
        let heads: Vec<(usize, [u8; 6])> = (0..INLINE_WRITES * 3)
            .map(|k| (k * 500, [k as u8 + 1; 6]))
            .collect();
        let a = pool.written(8000, heads.iter().map(|(at, b)| (*at, &b[..])));
        for (at, b) in &heads {
            assert_eq!(&a[*at..at + 6], b, "written at {at}");
        }
        let ptr = a.as_ptr();
        drop(a);
        let b = pool.written(8000, std::iter::empty());
        assert_eq!(b.as_ptr(), ptr, "reused");
        assert!(b.iter().all(|&x| x == 0), "every write zeroed again");
    }

    #[test]
    fn the_pool_keeps_at_most_its_bytes_and_plans_share_it() {
        // Room for two 8 KiB buffers.
        let shared = Arc::new(Pool::new(16 << 10));
        let (one, two) = (
            SkeletonBuffers::with_pool(9000, Arc::clone(&shared)).expect("memory"),
            SkeletonBuffers::with_pool(9000, Arc::clone(&shared)).expect("memory"),
        );
        let held: Vec<Bytes> = (0..3)
            .map(|_| one.written(5000, std::iter::empty()))
            .collect();
        let ptrs: Vec<_> = held.iter().map(|b| b.as_ptr()).collect();
        drop(held);
        let free = shared.free.lock().expect("lock");
        assert_eq!(
            (free.bytes, free.classes[1].len()),
            (16 << 10, 2),
            "the third is freed"
        );
        drop(free);
        // Another plan takes what the first gave back.
        let again = two.written(8000, [(7999, &[5u8][..])].into_iter());
        assert!(ptrs.contains(&again.as_ptr()));
        assert_eq!(shared.free.lock().expect("lock").bytes, 8 << 10);
        drop(again);
        let back = two.written(8000, std::iter::empty());
        assert!(back.iter().all(|&x| x == 0), "given back zeroed");
    }
}
