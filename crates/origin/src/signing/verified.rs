// SPDX-License-Identifier: MIT OR Apache-2.0
//! Tokens already found authentic. A player sends the same token with every playlist reload
//! and segment, so after the first request its token is looked up here instead of computing
//! HMAC-SHA256 again (the MAC was 14–15 % of a signed playlist request: BENCHMARKS.md).
//!
//! Only authentic tokens are kept (a flood of forged tokens never fills it with refusals), keyed
//! by the token string and the client address it was checked for (an address-bound token is
//! authentic for one address only). Expiry and path are not part of authenticity: the caller
//! checks them on every request. The map is bounded: when it is full it starts over. It is
//! behind a read-write lock: every request reads it, only a new token writes, so the worker
//! threads never park on each other for a lookup.

use std::net::IpAddr;
use std::sync::{Arc, PoisonError, RwLock};

use super::Token;

/// Tokens kept at most (about 200 bytes each).
const CAPACITY: usize = 4096;

/// Token string → the client address it was checked for, and the parsed token. Only
/// authentic tokens are keys (nobody without a secret can choose colliding ones), so the fast
/// unkeyed hash is safe here.
type Map = rustc_hash::FxHashMap<Box<str>, (Option<IpAddr>, Token)>;

/// Shared by the clones of one [`super::Signer`].
#[derive(Debug, Default, Clone)]
pub(super) struct Verified(Arc<RwLock<Map>>);

impl Verified {
    /// `f` of the token `token` checked for `client`, if it was found authentic before (no
    /// copy of the token: this is every signed request's path).
    pub(super) fn with<R>(
        &self,
        token: &str,
        client: Option<IpAddr>,
        f: impl FnOnce(&Token) -> R,
    ) -> Option<R> {
        let map = self.0.read().unwrap_or_else(PoisonError::into_inner);
        map.get(token)
            .filter(|(ip, _)| *ip == client)
            .map(|(_, t)| f(t))
    }

    /// Remembers that `token` is authentic for `client`.
    pub(super) fn insert(&self, token: &str, client: Option<IpAddr>, t: &Token) {
        let mut map = self.0.write().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= CAPACITY && !map.contains_key(token) {
            map.clear();
        }
        map.insert(token.into(), (client, t.clone()));
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.0.read().unwrap_or_else(PoisonError::into_inner).len()
    }
}
