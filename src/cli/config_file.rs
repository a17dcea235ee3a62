// SPDX-License-Identifier: MIT OR Apache-2.0
//! `--config FILE`: a TOML file for everything the flags set.
//!
//! Keys are the long flag names (`listen`, `segment_duration` or `segment-duration`, `cache_segment`, …).
//! Top-level keys apply to the default run; a `[serve]`, `[package]` or `[live]` table applies to that
//! subcommand (the default run also reads `[run]`). Flags given on the command line win over the file:
//! the file's values are turned into flags placed before the user's own, and later flags override
//! earlier ones.
//!
//! ```toml
//! listen = "0.0.0.0:8080"
//! media = "/srv/media"
//! [serve]
//! cache_vod_playlist = "public, max-age=300"
//! ```

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};

const SUBCOMMANDS: &[&str] = &["package", "serve", "live"];

/// Removes `--config FILE` from `args` and splices the file's settings in as flags.
pub fn expand(mut args: Vec<OsString>) -> Result<Vec<OsString>> {
    let Some(path) = take_config_flag(&mut args)? else {
        return Ok(args);
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    let table: toml::Table = text
        .parse()
        .with_context(|| format!("config file {}", path.display()))?;
    let sub = args
        .get(1)
        .and_then(|a| a.to_str())
        .filter(|a| SUBCOMMANDS.contains(a))
        .map(str::to_owned);
    let mut flags = Vec::new();
    let section = sub.as_deref().unwrap_or("run");
    for (key, value) in &table {
        match value {
            toml::Value::Table(t) if key == section => push_flags(t, &mut flags, &path)?,
            toml::Value::Table(_) => {}
            _ if sub.is_none() => push_flag(key, value, &mut flags, &path)?,
            _ => {}
        }
    }
    let at = if sub.is_some() { 2 } else { 1 };
    let at = at.min(args.len());
    args.splice(at..at, flags);
    Ok(args)
}

fn take_config_flag(args: &mut Vec<OsString>) -> Result<Option<PathBuf>> {
    let mut i = 1;
    while i < args.len() {
        let a = args[i].to_string_lossy().into_owned();
        if a == "--" {
            break;
        }
        if a == "--config" {
            if i + 1 >= args.len() {
                bail!("--config needs a file name");
            }
            let path = PathBuf::from(args.remove(i + 1));
            args.remove(i);
            return Ok(Some(path));
        }
        if let Some(p) = a.strip_prefix("--config=") {
            let path = PathBuf::from(p);
            args.remove(i);
            return Ok(Some(path));
        }
        i += 1;
    }
    Ok(None)
}

fn push_flags(t: &toml::Table, flags: &mut Vec<OsString>, path: &std::path::Path) -> Result<()> {
    for (k, v) in t {
        push_flag(k, v, flags, path)?;
    }
    Ok(())
}

fn push_flag(
    key: &str,
    value: &toml::Value,
    flags: &mut Vec<OsString>,
    path: &std::path::Path,
) -> Result<()> {
    let flag = format!("--{}", key.replace('_', "-"));
    match value {
        toml::Value::Boolean(true) => flags.push(flag.into()),
        toml::Value::Boolean(false) => {}
        toml::Value::String(s) => flags.extend([flag.into(), s.into()]),
        toml::Value::Integer(n) => flags.extend([flag.into(), n.to_string().into()]),
        toml::Value::Float(x) => flags.extend([flag.into(), x.to_string().into()]),
        other => bail!(
            "config file {}: {key} = {other} is not a string, number or boolean",
            path.display()
        ),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn file_values_become_flags_before_the_users_own() {
        let dir = std::env::temp_dir().join(format!("hlsorigin-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        std::fs::write(
            &file,
            "listen = \"0.0.0.0:9\"\nsegment_duration = 4.0\n[serve]\ncache_error = \"no-store\"\n\
             max_connections = 5\n[package]\nsingle_file = true\nquiet = false\n",
        )
        .unwrap();
        let f = file.to_str().unwrap();
        let cases: &[(&[&str], &[&str])] = &[
            (
                &["h", "--config", f],
                &["h", "--listen", "0.0.0.0:9", "--segment-duration", "4"],
            ),
            (
                &["h", "serve", "--config", f, "root"],
                &[
                    "h",
                    "serve",
                    "--cache-error",
                    "no-store",
                    "--max-connections",
                    "5",
                    "root",
                ],
            ),
            (
                &["h", "package", &format!("--config={f}"), "in.mp4"],
                &["h", "package", "--single-file", "in.mp4"],
            ),
            (&["h", "serve", "x"], &["h", "serve", "x"]),
        ];
        for (input, want) in cases {
            assert_eq!(expand(args(input)).unwrap(), args(want), "{input:?}");
        }
        assert!(expand(args(&["h", "--config"])).is_err());
        assert!(expand(args(&["h", "--config", "/nonexistent.toml"])).is_err());
    }
}
