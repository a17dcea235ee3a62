// SPDX-License-Identifier: MIT OR Apache-2.0
//! Command-line interface: `package`, `serve`, `live`, and the default run (no subcommand).

mod config_file;
mod config_storage;
mod default_run;
mod descriptor;
mod encrypt;
mod ladder;
mod live;
mod live_server;
mod package;
mod progress;
mod serve;
mod sign;
mod storage_keys;
mod subtitles;
mod validate;

use std::io::IsTerminal;
use std::net::{SocketAddr, ToSocketAddrs};

use anyhow::Result;
use clap::{Parser, Subcommand};

pub use package::PackageArgs;

#[derive(Debug, Parser)]
#[command(
    name = "hlsorigin",
    version,
    about = "Package video into HLS and serve it as a CDN-friendly origin",
    long_about = "Package video into HLS and serve it as a CDN-friendly origin.\n\n\
        With no subcommand: package every video in ./media into ./playlists, watch ./media for new \
        files, and serve ./playlists on http://127.0.0.1:8080."
)]
#[command(args_conflicts_with_subcommands = true, args_override_self = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options of the default run (no subcommand).
    #[command(flatten)]
    pub run: default_run::DefaultRunArgs,
    /// TOML file with settings for any flag (keys = flag names; see README). Flags win over the file.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
    /// More logging (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Package a file (MP4/MOV/fragmented MP4/MPEG-TS) into HLS.
    Package(PackageArgs),
    /// Serve a directory of HLS streams over HTTP.
    Serve(Box<serve::ServeArgs>),
    /// Package a live MPEG-TS input (UDP, TCP, stdin) as live HLS / LL-HLS, optionally serving it.
    Live(Box<live::LiveArgs>),
    /// Check a stream (URL or directory) against the HLS rules; exit 1 when a MUST fails.
    Validate(validate::ValidateArgs),
    /// Print a signed URL path (`?token=…`) for a stream served with --sign-secret.
    Sign(sign::SignArgs),
    /// Print the stream key of NAME under --publish-secret (hex HMAC-SHA256 of NAME).
    Key(live_server::KeyArgs),
}

/// `--listen HOST:PORT`: an IP address, or a host name resolved now (`localhost:8080`; IPv4
/// first when the name has both, as `127.0.0.1` is what most clients try).
pub fn parse_listen(s: &str) -> std::result::Result<SocketAddr, String> {
    if let Ok(addr) = s.parse() {
        return Ok(addr);
    }
    let hint = "expected HOST:PORT, e.g. 127.0.0.1:8080, localhost:8080 or [::]:8080";
    if s.rsplit_once(':')
        .is_none_or(|(_, port)| port.parse::<u16>().is_err())
    {
        return Err(format!("{s:?}: {hint}"));
    }
    let addrs: Vec<SocketAddr> = s
        .to_socket_addrs()
        .map_err(|e| format!("{s:?}: cannot resolve the host ({e}); {hint}"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| format!("{s:?}: the host resolves to no address; {hint}"))
}

/// Parses the command line, with `--config FILE` settings spliced in (see [`config_file`]).
pub fn parse() -> Result<Cli> {
    let own: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let args = config_file::expand(own.clone(), &<Cli as clap::CommandFactory>::command())?;
    match <Cli as Parser>::try_parse_from(&args) {
        Ok(cli) => Ok(cli),
        Err(e) => match config_file::blame(&e, &own) {
            Some(msg) => Err(anyhow::anyhow!(msg)),
            None => e.exit(),
        },
    }
}

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Some(Command::Package(args)) => package::run(args),
        Some(Command::Serve(args)) => serve::run(*args),
        Some(Command::Live(args)) => live::run(*args),
        Some(Command::Validate(args)) => validate::run(args),
        Some(Command::Sign(args)) => sign::run(args),
        Some(Command::Key(args)) => live_server::print_key(&args),
        None => default_run::run(cli.run),
    }
}

/// Logs go to stderr. `package --quiet` does not change them: it silences the progress bar
/// and the summary, not warnings.
pub fn init_tracing(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        // mp4-atom warns about every box it does not model (`btrt` in an ffmpeg AC-3 entry):
        // noise for the user; our demuxer reports what matters. Shown with -v.
        0 => "warn,mp4_atom=error,hlsorigin=info,origin=info",
        1 => "info",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn parse(argv: &str) -> std::result::Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("hlsorigin").chain(argv.split_whitespace()))
    }

    /// The origin's options as each command parsed them.
    fn origin_of(cli: &Cli) -> &origin::ServeConfig {
        match &cli.command {
            None => &cli.run.serve,
            Some(Command::Serve(s)) => &s.origin,
            Some(Command::Live(l)) => &l.origin,
            Some(
                Command::Package(_) | Command::Validate(_) | Command::Sign(_) | Command::Key(_),
            ) => {
                panic!("no origin options")
            }
        }
    }

    /// `serve`, `live` and the default run take the same origin options (issue 14, item 13).
    #[test]
    fn one_set_of_origin_options() {
        let origin_flags = "--cors-origin https://a.example --cache-segment no-store \
            --cache-live-playlist-max-age 1 --hlsjs-url /h.js --hot-cache-mib 0 \
            --max-connections 7 --tls-cert c.pem --tls-key k.pem --webhook http://a/ \
            --webhook https://b/ --webhook-types stream.added --webhook-secret k";
        for command in ["", "serve", "live --input udp://127.0.0.1:1 --name n"] {
            let cli = parse(&format!("{command} --listen localhost:0 {origin_flags}"))
                .unwrap_or_else(|e| panic!("{command:?}: {e}"));
            let o = origin_of(&cli);
            assert_eq!(o.cors_origin, "https://a.example", "{command:?}");
            assert_eq!(o.cache_segment, "no-store", "{command:?}");
            assert_eq!(o.cache_live_playlist_max_age, Some(1), "{command:?}");
            assert_eq!(o.hlsjs_url, "/h.js", "{command:?}");
            assert_eq!(o.hot_cache_mib, 0, "{command:?}");
            assert_eq!(o.max_connections, 7, "{command:?}");
            assert!(o.tls_cert.is_some() && o.tls_key.is_some(), "{command:?}");
            assert_eq!(o.webhooks, ["http://a/", "https://b/"], "{command:?}");
            assert_eq!(
                o.webhook_types.as_deref(),
                Some("stream.added"),
                "{command:?}"
            );
            assert_eq!(o.webhook_secret.as_deref(), Some("k"), "{command:?}");
        }
    }

    /// Where the served directory comes from, per command line (None: rejected).
    #[test]
    fn roots() {
        let cases: &[(&str, Option<&str>)] = &[
            ("", Some("playlists")),
            ("--root www", Some("www")),
            ("--playlists www", Some("www")),
            ("serve", Some(".")),
            ("serve a", Some("a")),
            ("serve --root b", Some("b")),
            ("serve a --root b", None),
            ("serve --root b a", None),
            ("serve --config-root c", Some("c")),
            ("serve a --config-root c", Some("a")),
        ];
        for (argv, want) in cases {
            let got = parse(argv).ok().map(|cli| match cli.command {
                None => cli.run.playlists,
                Some(Command::Serve(s)) => s.dir.or(s.root).or(s.config_root).unwrap_or(".".into()),
                _ => unreachable!(),
            });
            assert_eq!(got.as_deref(), want.map(std::path::Path::new), "{argv:?}");
        }
    }

    /// `--help` states each default once (clap's `[default: …]`), and `package` takes one input.
    #[test]
    fn help_states_defaults_once() {
        let mut cli = Cli::command();
        cli.build();
        let mut commands = vec![cli.clone()];
        commands.extend(cli.get_subcommands().cloned());
        for cmd in &commands {
            for arg in cmd.get_arguments() {
                if arg.get_default_values().is_empty() {
                    continue;
                }
                let help = format!(
                    "{} {}",
                    arg.get_help().map(|h| h.to_string()).unwrap_or_default(),
                    arg.get_long_help()
                        .map(|h| h.to_string())
                        .unwrap_or_default()
                );
                assert!(
                    !help.contains("Default:"),
                    "{} --{}: default stated in the text too: {help}",
                    cmd.get_name(),
                    arg.get_id()
                );
            }
        }
        let usage = cli
            .find_subcommand_mut("package")
            .expect("package")
            .render_usage()
            .to_string();
        // Several inputs make a ladder (README "Ladders").
        assert!(usage.contains("<INPUT>..."), "{usage}");
    }

    #[test]
    fn listen_addresses() {
        let cases: &[(&str, Result<&str, &str>)] = &[
            ("127.0.0.1:8080", Ok("127.0.0.1:8080")),
            ("0.0.0.0:0", Ok("0.0.0.0:0")),
            ("[::1]:9", Ok("[::1]:9")),
            ("localhost:8080", Ok("127.0.0.1:8080")),
            ("localhost", Err("expected HOST:PORT")),
            ("localhost:http", Err("expected HOST:PORT")),
            ("127.0.0.1:99999", Err("expected HOST:PORT")),
            ("no-such-host.invalid:80", Err("cannot resolve the host")),
        ];
        for (input, want) in cases {
            match (parse_listen(input), want) {
                (Ok(got), Ok(w)) => assert_eq!(got.to_string(), *w, "{input}"),
                (Err(e), Err(w)) => assert!(e.contains(w), "{input}: {e}"),
                (got, want) => panic!("{input}: {got:?}, wanted {want:?}"),
            }
        }
    }

    /// Storage runs: `--gc-grace` defaults to 10 minutes for `package` and the default run
    /// (issue 12), and takes `90s` / `1h` / plain seconds.
    #[test]
    fn gc_grace_defaults_to_ten_minutes() {
        let cases = [
            ("", 600),
            ("--gc-grace 90s", 90),
            ("--gc-grace 1h", 3600),
            ("--gc-grace 5", 5),
        ];
        for (flag, secs) in cases {
            let cli = parse(&format!("package in.mp4 -o s3://b/p {flag}")).expect("package");
            let Some(Command::Package(p)) = &cli.command else {
                panic!("{flag}: not package");
            };
            assert_eq!(p.gc_grace.as_secs(), secs, "package {flag}");
            let cli = parse(&format!("--playlists s3://b/p {flag}")).expect("default run");
            assert_eq!(cli.run.gc_grace.as_secs(), secs, "default run {flag}");
        }
    }
}
