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
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Command;

const SUBCOMMANDS: &[&str] = &["package", "serve", "live", "sign"];

/// Keys whose flag has another name: `[serve] root` fills in ROOT only when the command line
/// names none (a `--root` there would conflict with the positional ROOT).
const RENAMED: &[(&str, &str, &str)] = &[("serve", "root", "config-root")];

/// Removes `--config FILE` from `args` and splices the file's settings in as flags. Every key
/// must be a flag of its table's command (`cli` describes them).
pub fn expand(mut args: Vec<OsString>, cli: &Command) -> Result<Vec<OsString>> {
    let Some(path) = take_config_flag(&mut args)? else {
        return Ok(args);
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    let table: toml::Table = text
        .parse()
        .with_context(|| format!("config file {}", path.display()))?;
    check_keys(&table, cli, &path)?;
    // `[storage]`: object-storage settings for every command (not flags).
    if let Some(settings) = super::config_storage::parse(&table, &path)? {
        origin::source::store::set_storage_settings(settings);
    }
    let sub = args
        .get(1)
        .and_then(|a| a.to_str())
        .filter(|a| SUBCOMMANDS.contains(a))
        .map(str::to_owned);
    let mut flags = Vec::new();
    let section = sub.as_deref().unwrap_or("run");
    for (key, value) in &table {
        match value {
            toml::Value::Table(t) if key == section => push_flags(section, t, &mut flags, &path)?,
            toml::Value::Table(_) => {}
            _ if sub.is_none() => push_flag(section, key, value, &mut flags, &path)?,
            _ => {}
        }
    }
    if section == "sign" {
        sign_secret_elsewhere(&table, &mut flags, &path)?;
    }
    let at = if sub.is_some() { 2 } else { 1 };
    let at = at.min(args.len());
    args.splice(at..at, flags);
    Ok(args)
}

/// The flag a key of `section` sets, without the leading `--`.
fn flag_name(section: &str, key: &str) -> String {
    let flag = key.replace('_', "-");
    RENAMED
        .iter()
        .find(|(s, k, _)| *s == section && *k == flag)
        .map_or(flag, |(_, _, to)| (*to).to_owned())
}

/// Fails on a key that is no flag of its table's command, or on an unknown table, naming the
/// file and the nearest flag.
fn check_keys(table: &toml::Table, cli: &Command, path: &Path) -> Result<()> {
    let file = path.display();
    for (key, value) in table {
        let (section, keys, cmd) = match value {
            toml::Value::Table(_) if key == super::config_storage::TABLE => continue,
            toml::Value::Table(t) => match cli.find_subcommand(key) {
                Some(sub) if SUBCOMMANDS.contains(&key.as_str()) => (key.as_str(), t, sub),
                _ if key == "run" => ("run", t, cli),
                _ => bail!(
                    "config file {file}: unknown table [{key}]; the tables are [serve], \
                     [package], [live], [sign], [run] and [storage] (top-level keys are the \
                     default run's)"
                ),
            },
            _ => continue,
        };
        check_table(section, keys, cmd, cli, path)?;
    }
    let top: toml::Table = table
        .iter()
        .filter(|(_, v)| !v.is_table())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    check_table("run", &top, cli, cli, path)
}

fn check_table(
    section: &str,
    keys: &toml::Table,
    cmd: &Command,
    cli: &Command,
    path: &Path,
) -> Result<()> {
    let mut known: Vec<String> = Vec::new();
    for arg in cmd
        .get_arguments()
        .chain(cli.get_arguments().filter(|a| a.is_global_set()))
    {
        known.extend(arg.get_long().map(str::to_owned));
        known.extend(
            arg.get_all_aliases()
                .into_iter()
                .flatten()
                .map(str::to_owned),
        );
    }
    for key in keys.keys() {
        if known.contains(&flag_name(section, key)) {
            continue;
        }
        let nearest = known
            .iter()
            .filter(|k| !k.starts_with("config"))
            .min_by_key(|k| edit_distance(k, &key.replace('_', "-")))
            .map(|k| format!("; did you mean {}?", k.replace('-', "_")))
            .unwrap_or_default();
        let place = if section == "run" {
            "for the default run (top level or [run])".to_owned()
        } else {
            format!("in [{section}]")
        };
        let help = if section == "run" {
            "hlsorigin --help".to_owned()
        } else {
            format!("hlsorigin {section} --help")
        };
        bail!(
            "config file {}: unknown key {key:?} {place}{nearest} (keys are the flag names \
             of `{help}`)",
            path.display()
        );
    }
    Ok(())
}

/// Levenshtein distance, for suggesting the flag a mistyped key meant.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (diag + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// A clap error about a value the config file gave (the command line `own` does not set that
/// flag), as one line naming the file and the key; None for errors of the command line.
pub fn blame(err: &clap::Error, own: &[OsString]) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(
        err.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    ) {
        return None;
    }
    let mut own = own.to_vec();
    let path = take_config_flag(&mut own).ok()??;
    let Some(ContextValue::String(arg)) = err.get(ContextKind::InvalidArg) else {
        return None;
    };
    let flag = arg.split_whitespace().next()?;
    let value = match err.get(ContextKind::InvalidValue) {
        Some(ContextValue::String(v)) => v.as_str(),
        _ => return None,
    };
    // The user's own `--flag VALUE` or `--flag=VALUE` with this very value?
    let own: Vec<String> = own
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let given = own.windows(2).any(|w| w[0] == flag && w[1] == value)
        || own.contains(&format!("{flag}={value}"));
    if given || !flag.starts_with("--") {
        return None;
    }
    let reason = err.to_string();
    let reason = reason.lines().next().unwrap_or_default();
    let reason = reason.strip_prefix("error: ").unwrap_or(reason);
    Some(format!(
        "config file {}: key {}: {reason}",
        path.display(),
        flag.trim_start_matches("--").replace('-', "_")
    ))
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

/// `hlsorigin sign` signs with the origin's secret: without a `[sign] sign_secret`, the one
/// of `[serve]`, else the top-level (default run) one.
fn sign_secret_elsewhere(
    table: &toml::Table,
    flags: &mut Vec<OsString>,
    path: &Path,
) -> Result<()> {
    let key = "sign_secret";
    let own = |section: &str| table.get(section)?.as_table()?.get(key);
    if own("sign").is_some() {
        return Ok(());
    }
    match own("serve").or(table.get(key)) {
        Some(value) => push_flag("sign", key, value, flags, path),
        None => Ok(()),
    }
}

fn push_flags(
    section: &str,
    t: &toml::Table,
    flags: &mut Vec<OsString>,
    path: &Path,
) -> Result<()> {
    for (k, v) in t {
        push_flag(section, k, v, flags, path)?;
    }
    Ok(())
}

fn push_flag(
    section: &str,
    key: &str,
    value: &toml::Value,
    flags: &mut Vec<OsString>,
    path: &Path,
) -> Result<()> {
    let flag = format!("--{}", flag_name(section, key));
    match value {
        toml::Value::Boolean(true) => flags.push(flag.into()),
        toml::Value::Boolean(false) => {}
        toml::Value::String(s) => flags.extend([flag.into(), s.into()]),
        toml::Value::Integer(n) => flags.extend([flag.into(), n.to_string().into()]),
        toml::Value::Float(x) => flags.extend([flag.into(), x.to_string().into()]),
        // A repeatable flag: `webhook = ["http://a/", "http://b/"]` is `--webhook` twice.
        toml::Value::Array(items) if items.iter().all(|i| !i.is_array() && !i.is_table()) => {
            for item in items {
                push_flag(section, key, item, flags, path)?;
            }
        }
        other => bail!(
            "config file {}: {key} = {other} is not a string, number, boolean or list of them",
            path.display()
        ),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    fn expand_with(text: &str, argv: &[&str]) -> Result<Vec<OsString>> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, text).unwrap();
        let f = file.to_str().unwrap();
        let argv: Vec<String> = argv.iter().map(|a| a.replace("FILE", f)).collect();
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        expand(args(&argv), &crate::cli::Cli::command())
    }

    /// A list is a repeated flag (`--webhook` takes several URLs).
    #[test]
    fn lists_repeat_their_flag() {
        let text =
            "[serve]\nwebhook = [\"http://a/\", \"http://b/\"]\nwebhook_types = \"stream.added\"\n";
        let got = expand_with(text, &["h", "serve", "--config", "FILE"]).unwrap();
        let want = [
            "h",
            "serve",
            "--webhook",
            "http://a/",
            "--webhook",
            "http://b/",
            "--webhook-types",
            "stream.added",
        ];
        assert_eq!(got, args(&want));
        let nested = "[serve]\nwebhook = [[\"x\"]]\n";
        assert!(expand_with(nested, &["h", "serve", "--config", "FILE"]).is_err());
    }

    #[test]
    fn file_values_become_flags_before_the_users_own() {
        let text = "listen = \"0.0.0.0:9\"\nmedia = \"m\"\n[serve]\ncache_error = \"no-store\"\n\
             max_connections = 5\nroot = \"/srv\"\n[package]\nsingle_file = true\nquiet = false\n\
             [live]\ncors_origin = \"x\"\n";
        let cases: &[(&[&str], &[&str])] = &[
            (
                &["h", "--config", "FILE"],
                &["h", "--listen", "0.0.0.0:9", "--media", "m"],
            ),
            (
                &["h", "serve", "--config", "FILE", "root"],
                &[
                    "h",
                    "serve",
                    "--cache-error",
                    "no-store",
                    "--max-connections",
                    "5",
                    "--config-root",
                    "/srv",
                    "root",
                ],
            ),
            (
                &["h", "package", "--config=FILE", "in.mp4"],
                &["h", "package", "--single-file", "in.mp4"],
            ),
            (
                &["h", "live", "--config", "FILE"],
                &["h", "live", "--cors-origin", "x"],
            ),
            (&["h", "serve", "x"], &["h", "serve", "x"]),
        ];
        for (input, want) in cases {
            assert_eq!(expand_with(text, input).unwrap(), args(want), "{input:?}");
        }
        assert!(expand(args(&["h", "--config"]), &crate::cli::Cli::command()).is_err());
        let missing = args(&["h", "--config", "/nonexistent.toml"]);
        assert!(expand(missing, &crate::cli::Cli::command()).is_err());
    }

    /// `hlsorigin sign` signs with the origin's secret: its own `[sign]` table, else
    /// `[serve]`, else the top-level one.
    #[test]
    fn sign_takes_the_origins_secret() {
        let argv = ["h", "sign", "--config", "FILE", "/a/m.m3u8"];
        let cases: &[(&str, &[&str])] = &[
            (
                "[sign]\nsign_secret = \"own\"\n[serve]\nsign_secret = \"s\"\n",
                &["own"],
            ),
            (
                "sign_secret = \"top\"\n[serve]\nsign_secret = [\"new\", \"old\"]\n",
                &["new", "old"],
            ),
            ("sign_secret = \"top\"\n", &["top"]),
            ("[serve]\ncors_origin = \"x\"\n", &[]),
        ];
        for (text, secrets) in cases {
            let mut want = vec!["h", "sign"];
            for s in *secrets {
                want.extend(["--sign-secret", s]);
            }
            want.push("/a/m.m3u8");
            assert_eq!(expand_with(text, &argv).unwrap(), args(&want), "{text}");
        }
    }

    /// A bad value from the file names the file and the key; one from the command line is
    /// left to clap.
    #[test]
    fn bad_values_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("v.toml");
        std::fs::write(
            &file,
            "[serve]\nlisten = \"nope\"\nmax_connections = \"many\"\n",
        )
        .unwrap();
        let f = file.to_str().unwrap();
        let cli = crate::cli::Cli::command();
        let check = |own: &[&str]| {
            let own = args(own);
            let expanded = expand(own.clone(), &cli).unwrap();
            let err = cli.clone().try_get_matches_from(expanded).unwrap_err();
            blame(&err, &own)
        };
        let from_file = check(&["h", "serve", "--config", f]).expect("blamed on the file");
        assert!(
            from_file.starts_with(&format!("config file {f}: key ")),
            "{from_file}"
        );
        assert!(
            from_file.contains("nope") || from_file.contains("many"),
            "{from_file}"
        );
        let own = check(&["h", "serve", "--listen", "bad"]);
        assert_eq!(own, None, "no config file");
        std::fs::write(&file, "[serve]\nlisten = \"127.0.0.1:0\"\n").unwrap();
        let own = check(&["h", "serve", "--config", f, "--listen=bad"]);
        assert_eq!(own, None, "the command line's own value");
    }

    /// A key that is no flag of its command is an error naming the file, the key, where it is
    /// and the nearest flag (issue 14, item 12).
    #[test]
    fn unknown_keys_name_the_file_and_the_nearest_flag() {
        let cases: &[(&str, &[&str])] = &[
            (
                "listn = \"x\"\n",
                &["\"listn\"", "default run", "did you mean listen?"],
            ),
            (
                "[serve]\ncors_orign = \"x\"\n",
                &["\"cors_orign\"", "[serve]", "cors_origin?"],
            ),
            (
                "[package]\nsegment_durration = 2\n",
                &["[package]", "segment_duration?"],
            ),
            ("[live]\nplaylists = \"x\"\n", &["\"playlists\"", "[live]"]),
            (
                "segment_duration = 2\n",
                &["\"segment_duration\"", "default run"],
            ),
            ("[srve]\nlisten = \"x\"\n", &["unknown table [srve]"]),
        ];
        for (text, needles) in cases {
            // Checked whichever command runs.
            for argv in [
                &["h", "--config", "FILE"][..],
                &["h", "serve", "--config", "FILE"],
            ] {
                let e = expand_with(text, argv).unwrap_err().to_string();
                assert!(e.starts_with("config file ") && e.contains("c.toml"), "{e}");
                for n in *needles {
                    assert!(e.contains(n), "{text:?}: {e:?} should mention {n}");
                }
            }
        }
    }
}
