// SPDX-License-Identifier: MIT OR Apache-2.0
//! `hlsorigin sign /PATH/master.m3u8 --expires 2h [--ip ADDR]`: prints a signed URL path
//! (README "Signed URLs"; the token format is `origin::signing`).

use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Result};
use clap::Args;
use origin::signing::{directory_prefix, normalize_prefix, Signer};

#[derive(Debug, Clone, Args)]
pub struct SignArgs {
    /// Path to sign, as requested from the origin (`/live/cam/master.m3u8`); the token
    /// opens its directory (`/live/cam/`) unless --prefix says otherwise.
    #[arg(value_name = "PATH")]
    pub path: String,
    /// How long the URL stays valid: `90s`, `30m`, `2h`, `7d` (plain number: seconds).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub expires: u64,
    /// Bind the URL to one client address (the one the origin sees).
    #[arg(long, value_name = "ADDR")]
    pub ip: Option<IpAddr>,
    /// Path prefix the token opens (default: PATH's directory).
    #[arg(long, value_name = "PATH")]
    pub prefix: Option<String>,
    /// Secret(s): the first signs (the origin's `--sign-secret`; also read from the config
    /// file's `[sign]`, else `[serve]`, else top-level `sign_secret`).
    #[arg(long = "sign-secret", value_name = "SECRET")]
    pub sign_secrets: Vec<String>,
}

pub fn run(args: SignArgs) -> Result<()> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| anyhow!("system clock before 1970: {e}"))?
        .as_secs();
    println!("{}", signed_url(&args, now)?);
    Ok(())
}

/// PATH with `token=…` added to its query.
fn signed_url(args: &SignArgs, now: u64) -> Result<String> {
    let Some(signer) = Signer::new(&args.sign_secrets) else {
        bail!("sign: no secret; give --sign-secret SECRET (or sign_secret in the config file)");
    };
    if !args.path.starts_with('/') {
        bail!(
            "sign: {:?} must be a path starting with / (as requested from the origin)",
            args.path
        );
    }
    let (path, query) = match args.path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (args.path.as_str(), None),
    };
    let prefix = match &args.prefix {
        Some(p) => normalize_prefix(p)
            .ok_or_else(|| anyhow!("sign: --prefix {p:?} is not a path like /live/"))?,
        None => directory_prefix(path),
    };
    if !path.starts_with(&prefix) {
        bail!("sign: {path} is not under --prefix {prefix}");
    }
    let expires = now.saturating_add(args.expires);
    let token = signer.sign(&prefix, expires, args.ip).ok_or_else(|| {
        anyhow!(
            "sign: {prefix:?} is not a usable path prefix (no `.`, `..` or empty segments, \
             and short enough for a token of at most {} bytes)",
            origin::signing::MAX_TOKEN_LEN
        )
    })?;
    Ok(match query {
        Some(q) if !q.is_empty() => format!("{path}?{q}&token={token}"),
        _ => format!("{path}?token={token}"),
    })
}

/// `90s`, `30m`, `2h`, `7d`, `1w`, or plain seconds.
pub fn parse_duration(s: &str) -> std::result::Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?}: expected a duration like 90s, 30m, 2h or 7d"))?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => {
            return Err(format!(
                "{s:?}: unknown unit {unit:?} (use s, m, h, d or w)"
            ))
        }
    };
    let secs = n
        .checked_mul(scale)
        .ok_or_else(|| format!("{s:?}: too long"))?;
    if secs == 0 {
        return Err(format!(
            "{s:?}: a signed URL must stay valid for at least a second"
        ));
    }
    Ok(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let cases: &[(&str, Result<u64, &str>)] = &[
            ("90s", Ok(90)),
            ("90", Ok(90)),
            ("30m", Ok(1800)),
            ("2h", Ok(7200)),
            ("7d", Ok(604_800)),
            ("1w", Ok(604_800)),
            ("0s", Err("at least a second")),
            ("2x", Err("unknown unit")),
            ("h", Err("expected a duration")),
            ("-1s", Err("expected a duration")),
            ("99999999999999999999d", Err("expected a duration")),
            ("999999999999999999d", Err("too long")),
        ];
        for (input, want) in cases {
            match (parse_duration(input), want) {
                (Ok(got), Ok(w)) => assert_eq!(got, *w, "{input}"),
                (Err(e), Err(w)) => assert!(e.contains(w), "{input}: {e}"),
                (got, want) => panic!("{input}: {got:?}, wanted {want:?}"),
            }
        }
    }

    #[test]
    fn urls_verify_at_the_origin() {
        let args = |path: &str, prefix: Option<&str>, ip: Option<&str>| SignArgs {
            path: path.into(),
            expires: 7200,
            ip: ip.map(|i| i.parse().unwrap()),
            prefix: prefix.map(Into::into),
            sign_secrets: vec!["new".into(), "old".into()],
        };
        let verifier = Signer::new(&["old", "new"]).unwrap();
        let now = 1_800_000_000;
        // (args, request path checked, client, ok)
        let cases = [
            (
                args("/cam/master.m3u8", None, None),
                "/cam/stream.m3u8",
                None,
                true,
            ),
            (
                args("/cam/master.m3u8", None, None),
                "/other/master.m3u8",
                None,
                false,
            ),
            (
                args("/a/b/master.m3u8?x=1", Some("/a"), None),
                "/a/c/s.ts",
                None,
                true,
            ),
            (
                args("/cam/master.m3u8", None, Some("10.0.0.1")),
                "/cam/s.ts",
                Some("10.0.0.1"),
                true,
            ),
            (
                args("/cam/master.m3u8", None, Some("10.0.0.1")),
                "/cam/s.ts",
                Some("10.0.0.2"),
                false,
            ),
        ];
        for (a, path, client, ok) in cases {
            let url = signed_url(&a, now).unwrap();
            assert!(url.starts_with(a.path.as_str()), "{url}");
            let token = url.rsplit_once("token=").unwrap().1;
            let client = client.map(|c: &str| c.parse().unwrap());
            let got = verifier.verify(token, path, now + 7200, client);
            assert_eq!(got.is_ok(), ok, "{url} for {path}: {got:?}");
            assert!(
                verifier
                    .verify(token, path, now + 7200 + 31, client)
                    .is_err(),
                "expires"
            );
        }
        assert!(signed_url(&args("cam/master.m3u8", None, None), now).is_err());
        assert!(signed_url(&args("/cam/master.m3u8", Some("/other"), None), now).is_err());
        let mut none = args("/cam/master.m3u8", None, None);
        none.sign_secrets.clear();
        assert!(signed_url(&none, now).is_err());
    }
}
