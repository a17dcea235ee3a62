// SPDX-License-Identifier: MIT OR Apache-2.0
//! Signed URLs on fuzzed input: the token parser and verifier (fields, base64url, expiry,
//! prefix, address binding) against a fuzzed request path and client address, a token the
//! signer made for the path's directory (must verify), and the playlist rewriting that adds
//! a token to every URI (must keep the lines). Must never panic.
#![no_main]
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

fn run(mut u: Unstructured<'_>) -> Result<()> {
    let token: &str = u.arbitrary()?;
    let path: &str = u.arbitrary()?;
    let client: Option<std::net::IpAddr> = u.arbitrary()?;
    let playlist = u.take_rest();
    origin::fuzzing::signed(token, path, client, playlist);
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(Unstructured::new(data));
});
