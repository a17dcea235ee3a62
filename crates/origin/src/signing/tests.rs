// SPDX-License-Identifier: MIT OR Apache-2.0
use std::net::IpAddr;

use super::rewrite::{rewrite_playlist, with_token};
use super::*;

const NOW: u64 = 1_800_000_000;

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

/// Flips one character of the signature (or of another field).
fn tamper(token: &str, field: usize) -> String {
    let mut fields: Vec<String> = token.split('.').map(str::to_owned).collect();
    // The first character: all six of its bits are data (the last one's low bits are
    // padding, and a non-zero padding bit is a malformed encoding, not another signature).
    let f = &mut fields[field];
    let first = f.remove(0);
    f.insert(0, if first == 'A' { 'B' } else { 'A' });
    fields.join(".")
}

#[test]
fn verify_table() {
    let signer = Signer::new(&["s3cret"]).unwrap();
    let other = Signer::new(&["other"]).unwrap();
    let cam = signer.sign("/cam/", NOW + 60, None).unwrap();
    let cam_ip = signer.sign("/cam/", NOW + 60, ip("192.0.2.7")).unwrap();
    let root = signer.sign("/", NOW + 60, None).unwrap();
    let old = signer.sign("/cam/", NOW - 31, None).unwrap();
    let skewed = signer.sign("/cam/", NOW - 30, None).unwrap();
    let foreign = other.sign("/cam/", NOW + 60, None).unwrap();
    let v6 = signer.sign("/cam/", NOW + 60, ip("2001:db8::1")).unwrap();
    let mapped = signer
        .sign("/cam/", NOW + 60, ip("::ffff:192.0.2.7"))
        .unwrap();
    // Expiry changed by hand: the signature no longer matches.
    let extended = format!("{}{}", NOW + 99_999, &cam[cam.find('.').unwrap()..]);
    let (sig_flipped, prefix_flipped) = (tamper(&cam, 2), tamper(&cam, 1));
    let unmarked = cam_ip.replace(".ip.", ".");
    type Case<'a> = (&'a str, &'a str, Option<IpAddr>, Result<(), Denied>);
    let cases: Vec<Case> = vec![
        (&cam, "/cam/master.m3u8", None, Ok(())),
        (&cam, "/cam/sub/seg_000001.m4s", None, Ok(())),
        (&root, "/anything/x.ts", None, Ok(())),
        (&cam, "/camera/master.m3u8", None, Err(Denied::WrongPath)),
        (&cam, "/other/master.m3u8", None, Err(Denied::WrongPath)),
        (&cam, "/cam", None, Err(Denied::WrongPath)),
        (&old, "/cam/master.m3u8", None, Err(Denied::Expired)),
        (&skewed, "/cam/master.m3u8", None, Ok(())),
        (
            &foreign,
            "/cam/master.m3u8",
            None,
            Err(Denied::BadSignature),
        ),
        (
            &extended,
            "/cam/master.m3u8",
            None,
            Err(Denied::BadSignature),
        ),
        (&sig_flipped, "/cam/x.ts", None, Err(Denied::BadSignature)),
        (&prefix_flipped, "/cam/x.ts", None, Err(Denied::Malformed)),
        (&cam_ip, "/cam/x.ts", ip("192.0.2.7"), Ok(())),
        (&cam_ip, "/cam/x.ts", ip("::ffff:192.0.2.7"), Ok(())),
        (
            &cam_ip,
            "/cam/x.ts",
            ip("192.0.2.8"),
            Err(Denied::BadSignature),
        ),
        (&cam_ip, "/cam/x.ts", None, Err(Denied::BadSignature)),
        (&mapped, "/cam/x.ts", ip("192.0.2.7"), Ok(())),
        (&v6, "/cam/x.ts", ip("2001:db8::1"), Ok(())),
        (
            &v6,
            "/cam/x.ts",
            ip("2001:db8::2"),
            Err(Denied::BadSignature),
        ),
        // An address-bound token with its marker removed is another message.
        (
            &unmarked,
            "/cam/x.ts",
            ip("192.0.2.7"),
            Err(Denied::BadSignature),
        ),
        ("", "/cam/x.ts", None, Err(Denied::Malformed)),
        ("1.2", "/cam/x.ts", None, Err(Denied::Malformed)),
        ("x.Lw.AAAA", "/cam/x.ts", None, Err(Denied::Malformed)),
        ("-1.Lw.AAAA", "/cam/x.ts", None, Err(Denied::Malformed)),
        (
            "99999999999999999999999.Lw.AAAA",
            "/",
            None,
            Err(Denied::Malformed),
        ),
        ("1.Lw.ip.x.AAAA", "/", None, Err(Denied::Malformed)),
        ("1.Lw.AAAA", "/", None, Err(Denied::Malformed)), // short signature
        ("1.Lw==.AAAA", "/", None, Err(Denied::Malformed)),
    ];
    // Twice: the second pass answers the authentic tokens from the verified-token cache, and
    // must decide every case the same (expiry, path and address still checked).
    for pass in 0..2 {
        for (i, (token, path, client, want)) in cases.iter().enumerate() {
            let got = signer.verify(token, path, NOW, *client).map(|_| ());
            assert_eq!(
                got, *want,
                "pass {pass} case {i}: {token} {path} {client:?}"
            );
        }
    }
}

#[test]
fn verified_tokens_are_cached_for_their_client_only_and_forgeries_never() {
    let signer = Signer::new(&["s3cret"]).unwrap();
    let cam = signer.sign("/cam/", NOW + 60, None).unwrap();
    let bound = signer.sign("/cam/", NOW + 60, ip("192.0.2.7")).unwrap();
    let forged = tamper(&cam, 2);
    // (token, client, authentic, tokens cached after the call)
    let cases = [
        (&forged, None, false, 0),
        (&forged, None, false, 0),
        (&cam, None, true, 1),
        (&cam, None, true, 1),
        (&bound, ip("192.0.2.7"), true, 2),
        // Cached for 192.0.2.7: another address is checked again, and refused.
        (&bound, ip("192.0.2.8"), false, 2),
        (&bound, ip("192.0.2.7"), true, 2),
    ];
    for (i, (token, client, authentic, cached)) in cases.into_iter().enumerate() {
        assert_eq!(
            signer.authentic(token, client).is_ok(),
            authentic,
            "case {i}"
        );
        assert_eq!(signer.verified.len(), cached, "case {i}");
    }
    // Genuine and cached, but past its expiry: still refused.
    let late = NOW + 60 + SKEW_SECS + 1;
    assert_eq!(
        signer.verify(&cam, "/cam/x.ts", late, None),
        Err(Denied::Expired)
    );
    // A clone (another server task) shares the cache.
    assert_eq!(signer.clone().verified.len(), 2);
}

#[test]
fn rotation_first_signs_all_verify() {
    let old = Signer::new(&["old"]).unwrap();
    let rotated = Signer::new(&["new", "old"]).unwrap();
    let new_only = Signer::new(&["new"]).unwrap();
    let by_old = old.sign("/a/", NOW + 10, None).unwrap();
    let by_rotated = rotated.sign("/a/", NOW + 10, None).unwrap();
    assert!(rotated.verify(&by_old, "/a/x", NOW, None).is_ok());
    assert!(rotated.verify(&by_rotated, "/a/x", NOW, None).is_ok());
    assert!(new_only.verify(&by_rotated, "/a/x", NOW, None).is_ok());
    assert_eq!(
        old.verify(&by_rotated, "/a/x", NOW, None).map(|_| ()),
        Err(Denied::BadSignature)
    );
    assert!(Signer::new::<&str>(&[]).is_none());
    assert!(Signer::new(&[""]).is_none());
}

#[test]
fn prefixes() {
    let valid = [
        ("/", true),
        ("/a/", true),
        ("/a/b c/", true),
        ("", false),
        ("/a", false),
        ("a/", false),
        ("//", false),
        ("/a//", false),
        ("/../", false),
        ("/./", false),
        ("/a\\b/", false),
        ("/a\n/", false),
    ];
    for (p, want) in valid {
        assert_eq!(valid_prefix(p), want, "{p:?}");
    }
    let normal = [
        ("/live", Some("/live/")),
        ("live/", Some("/live/")),
        ("/", Some("/")),
        ("", Some("/")),
        ("/a/b/", Some("/a/b/")),
        ("/a/../b", None),
        ("/a//b", None),
    ];
    for (p, want) in normal {
        assert_eq!(normalize_prefix(p).as_deref(), want, "{p:?}");
    }
    let dirs = [
        ("/a/b/master.m3u8", "/a/b/"),
        ("/master.m3u8", "/"),
        ("/a/", "/a/"),
    ];
    for (p, want) in dirs {
        assert_eq!(directory_prefix(p), want, "{p:?}");
    }
    let signer = Signer::new(&["k"]).unwrap();
    assert!(signer.sign("/a", NOW, None).is_none(), "not a prefix");
}

#[test]
fn policy() {
    let all = Policy::new(&["k"], &[]).unwrap().unwrap();
    assert!(all.protects("/x/master.m3u8"));
    let some = Policy::new(&["k"], &["/paid".to_owned(), "vip/".to_owned()])
        .unwrap()
        .unwrap();
    let cases = [
        ("/paid/a/master.m3u8", true),
        ("/vip/x.ts", true),
        ("/paidx/m.m3u8", false),
        ("/free/master.m3u8", false),
    ];
    for (p, want) in cases {
        assert_eq!(some.protects(p), want, "{p}");
    }
    // Listings: (stream path or name, shown without a token, shown with a token for /paid/a/).
    let grant = Token::parse(&some.signer.sign("/paid/a/", NOW, None).unwrap()).unwrap();
    let (none, granted) = (some.visibility(None), some.visibility(Some(&grant)));
    let paths = [
        ("/free/master.m3u8", true, true),
        ("/paid/a/master.m3u8", false, true),
        ("/paid/b/master.m3u8", false, false),
        ("/top.m3u8", true, true),
    ];
    for (p, without, with) in paths {
        assert_eq!(
            (none.shows_path(p), granted.shows_path(p)),
            (without, with),
            "{p}"
        );
    }
    let streams = [
        ("free", true, true),
        ("paid/a", false, true),
        ("paid", false, false),
        ("vip", false, false),
        ("", true, true),
    ];
    for (s, without, with) in streams {
        assert_eq!(
            (none.shows_stream(s), granted.shows_stream(s)),
            (without, with),
            "{s:?}"
        );
    }
    assert!(Policy::new::<&str>(&[], &[]).unwrap().is_none());
    assert!(Policy::new::<&str>(&[], &["/a".to_owned()]).is_err());
    assert!(Policy::new(&["k"], &["/a/../b".to_owned()]).is_err());
}

#[test]
fn token_parameter() {
    let cases = [
        (None, None),
        (Some(""), None),
        (Some("a=1"), None),
        (Some("token=abc"), Some("abc")),
        (Some("_HLS_msn=3&token=a.b.c&token=x"), Some("a.b.c")),
        (Some("tokens=1&token=%41"), Some("A")),
        (Some("token"), None),
    ];
    for (q, want) in cases {
        assert_eq!(token_of(q).as_deref(), want, "{q:?}");
    }
}

#[test]
fn uris_get_the_token() {
    let cases = [
        ("seg.ts", "seg.ts?token=T"),
        ("a/b.m4s?x=1", "a/b.m4s?x=1&token=T"),
        ("/abs/path.m3u8", "/abs/path.m3u8?token=T"),
        ("s.ts?", "s.ts?token=T"),
        ("s.ts#frag", "s.ts?token=T#frag"),
        ("https://cdn/x.ts", "https://cdn/x.ts"),
        ("//cdn/x.ts", "//cdn/x.ts"),
        ("skd://key", "skd://key"),
        ("data:text/plain,x", "data:text/plain,x"),
        ("s.ts?token=U", "s.ts?token=U"),
        ("../up/s.ts", "../up/s.ts?token=T"),
        ("a:b/c.ts", "a:b/c.ts"),
        ("1a:b.ts", "1a:b.ts?token=T"),
    ];
    for (uri, want) in cases {
        assert_eq!(with_token(uri, "T"), want, "{uri}");
    }
}

#[test]
fn playlists_are_rewritten() {
    let cases: &[(&str, &str)] = &[
        // Multivariant: variants, I-frame playlists, renditions, session keys and data.
        (
            "#EXTM3U\n#EXT-X-SESSION-KEY:METHOD=AES-128,URI=\"k.bin\"\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"x,URI=y\",URI=\"a/en.m3u8\"\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"avc1.64001f,mp4a.40.2\"\nstream.m3u8\n#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,URI=\"stream_iframes.m3u8\"\n",
            "#EXTM3U\n#EXT-X-SESSION-KEY:METHOD=AES-128,URI=\"k.bin?token=T\"\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"x,URI=y\",URI=\"a/en.m3u8?token=T\"\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"avc1.64001f,mp4a.40.2\"\nstream.m3u8?token=T\n#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,URI=\"stream_iframes.m3u8?token=T\"\n",
        ),
        // Media playlist: map, key, byte ranges of one file, CRLF kept.
        (
            "#EXTM3U\r\n#EXT-X-MAP:URI=\"init.mp4\",BYTERANGE=\"720@0\"\r\n#EXT-X-KEY:METHOD=AES-128,URI=\"https://keys/k\",IV=0x1\r\n#EXTINF:2.0,\r\n#EXT-X-BYTERANGE:100@720\r\nall.mp4\r\n\r\n#EXT-X-ENDLIST\r\n",
            "#EXTM3U\r\n#EXT-X-MAP:URI=\"init.mp4?token=T\",BYTERANGE=\"720@0\"\r\n#EXT-X-KEY:METHOD=AES-128,URI=\"https://keys/k\",IV=0x1\r\n#EXTINF:2.0,\r\n#EXT-X-BYTERANGE:100@720\r\nall.mp4?token=T\r\n\r\n#EXT-X-ENDLIST\r\n",
        ),
        // LL-HLS: parts, preload hint, rendition reports; no final newline.
        (
            "#EXT-X-PART:DURATION=0.2,URI=\"s_1.0.m4s\",INDEPENDENT=YES\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"s_1.1.m4s\"\n#EXT-X-RENDITION-REPORT:URI=\"../lo/stream.m3u8\",LAST-MSN=1,LAST-PART=0\n#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES\nseg.m4s",
            "#EXT-X-PART:DURATION=0.2,URI=\"s_1.0.m4s?token=T\",INDEPENDENT=YES\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"s_1.1.m4s?token=T\"\n#EXT-X-RENDITION-REPORT:URI=\"../lo/stream.m3u8?token=T\",LAST-MSN=1,LAST-PART=0\n#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES\nseg.m4s?token=T",
        ),
        // Comments and malformed attribute lists are copied.
        (
            "# a comment URI=\"x\"\n#EXT-X-MAP:URI=\"open\n#EXT-X-MAP:junk,URI=\"i.mp4\"\n",
            "# a comment URI=\"x\"\n#EXT-X-MAP:URI=\"open\n#EXT-X-MAP:junk,URI=\"i.mp4\"\n",
        ),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let got = rewrite_playlist(text.as_bytes(), "T").unwrap();
        assert_eq!(got, *want, "case {i}");
    }
    assert!(rewrite_playlist(b"\xff\xfe", "T").is_none());
}

/// The independent parser sees the same playlist with the token on every URI.
#[test]
fn rewritten_playlists_parse_with_m3u8_rs() {
    let text = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:2.000,\ns_000000.m4s\n#EXTINF:2.000,\ns_000001.m4s\n#EXT-X-ENDLIST\n";
    let got = rewrite_playlist(text.as_bytes(), "1.Lw.sig").unwrap();
    let parsed = m3u8_rs::parse_media_playlist_res(got.as_bytes()).unwrap();
    let uris: Vec<_> = parsed.segments.iter().map(|s| s.uri.as_str()).collect();
    assert_eq!(
        uris,
        ["s_000000.m4s?token=1.Lw.sig", "s_000001.m4s?token=1.Lw.sig"]
    );
    let map = parsed.segments[0].map.as_ref().unwrap();
    assert_eq!(map.uri, "init.mp4?token=1.Lw.sig");
}

/// A token is never longer than the verifier accepts: a prefix too long for one is refused
/// at signing (found by the `signed` fuzz target: the token for a 2 KB directory did not
/// verify), and the longest that signs verifies.
#[test]
fn tokens_too_long_to_verify_are_not_signed() {
    let signer = Signer::new(&["s3cret"]).unwrap();
    let prefix = |n: usize| format!("/{}/", "a".repeat(n));
    for ip in [None, ip("192.0.2.7")] {
        let longest = (1..2048)
            .take_while(|&n| signer.sign(&prefix(n), NOW, ip).is_some())
            .last()
            .expect("short prefixes sign");
        assert!(longest > 1400, "{longest}");
        let token = signer.sign(&prefix(longest), NOW, ip).unwrap();
        assert!(token.len() <= MAX_TOKEN_LEN);
        let path = format!("{}x.m3u8", prefix(longest));
        assert!(signer.verify(&token, &path, NOW, ip).is_ok());
        assert_eq!(signer.sign(&prefix(longest + 1), NOW, ip), None);
    }
}
