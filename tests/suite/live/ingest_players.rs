// SPDX-License-Identifier: MIT OR Apache-2.0
//! Players on RTMP and SRT input (issue 10: "hls.js plays each ≥ 30 s with and without LL-HLS,
//! Chromium's native HLS too"). One publisher run serves every combination: two server-mode
//! packagers (classic and `--ll-hls`), each fed over RTMP (stream `r`) and over SRT (stream `s`)
//! by one ffmpeg encoding (the tee muxer: one encoder's load on a shared machine, not four); the
//! players run one at a time, 30 s each, and each must advance through at least 80 % of its
//! wall time (play.mjs's check).

use std::process::Stdio;

use super::harness::{encoder_command, spawn_encoder, BROWSER, LIVE_CODECS};
use super::rtmp_server::RtmpServer;
use crate::common::out_dir;
use crate::common::server::play;

const SECONDS: u32 = 30;

/// Plays each `(url, mode)` in turn for [`SECONDS`] (one Chromium at a time: two at once
/// starved each other on 2 loaded cores in a clean-clone run); panics with the reports of
/// those that did not play smoothly. A play that falls short is played once more, and only a
/// second shortfall fails: on a loaded 2-core CI machine one 30 s play of LL-HLS over SRT fell
/// to 65 % of its wall time (the stream's edge kept pace, no player error) and played fully
/// when run alone; a broken stream falls short both times.
fn play_all(players: &[(String, &'static str)]) {
    let play_once = |url: &str, mode| play(url, mode, SECONDS, &["--start-timeout", "60"]);
    let failed: Vec<String> = players
        .iter()
        .filter_map(|(url, mode)| {
            let first = play_once(url, mode);
            if first["ok"] == true {
                return None;
            }
            eprintln!("{mode} {url} fell short, playing it again: {first}");
            let again = play_once(url, mode);
            (again["ok"] != true).then(|| format!("{mode} {url}: {first}\nagain: {again}"))
        })
        .collect();
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn rtmp_and_srt_play_30s_in_hlsjs_classic_and_ll_hls_and_natively() {
    let classic = RtmpServer::start(
        &out_dir("players-classic"),
        &["--srt-listen", "127.0.0.1:0"],
    );
    let ll = RtmpServer::start(
        &out_dir("players-ll"),
        &["--srt-listen", "127.0.0.1:0", "--ll-hls"],
    );
    let mut outputs = Vec::new();
    for server in [&classic, &ll] {
        let srt = server.srt.clone().expect("srt listener");
        outputs.push(format!("[f=flv:onfail=ignore]{}", server.url("r")));
        outputs.push(format!(
            "[f=mpegts:onfail=ignore]srt://{srt}?streamid=s&pkt_size=1316"
        ));
    }
    let mut cmd = encoder_command("320x240");
    cmd.args(["-map", "0:v", "-map", "1:a"])
        .args(LIVE_CODECS)
        .args(["-flags", "+global_header", "-f", "tee"])
        .arg(outputs.join("|"));
    let publisher = spawn_encoder(cmd, Stdio::null());
    for server in [&classic, &ll] {
        for name in ["r", "s"] {
            server.segments(name, 2);
        }
    }
    let p = ll.segments("r", 2);
    assert!(p.text.contains("#EXT-X-PART:"), "LL-HLS: {}", p.text);
    let url = |server: &RtmpServer, name: &str| format!("{}/{name}/master.m3u8", server.base);
    let _browser = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    play_all(&[
        (url(&classic, "r"), "hlsjs"),
        (url(&ll, "s"), "hlsjs"),
        (url(&ll, "r"), "hlsjs"),
        (url(&classic, "s"), "hlsjs"),
        (url(&classic, "r"), "native"),
        (url(&classic, "s"), "native"),
    ]);
    drop(publisher);
}
