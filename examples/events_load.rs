// SPDX-License-Identifier: MIT OR Apache-2.0
//! Load client for `/api/events` (benches/events.sh, issue 15): opens N WebSocket or
//! long-poll subscribers against one server on loopback, records when each event arrives,
//! and prints the server's RSS before / after connecting them and the fan-out latency
//! (event `time` → received here, same machine, same clock).
//!
//! ```text
//! cargo run --release --example events_load -- --addr 127.0.0.1:19200 --mode ws -n 10000 \
//!     --pid SERVER_PID --types segment.published,part.published --seconds 30
//! ```
//!
//! - `ws`: one WebSocket per subscriber (`/api/events?types=…`), read until the end.
//! - `poll`: one keep-alive HTTP/1.1 connection per subscriber, looping
//!   `GET /api/events?since=SEQ&timeout=25&types=…` with SEQ the last seq received.
//!
//! Only events whose `time` falls in the measuring window (after every subscriber is
//! connected and `--settle` seconds passed) count. Per event: how many subscribers got it
//! and when the last one did; p50/p99 over the events that reached every subscriber still
//! connected. The event `time` has millisecond resolution (truncated), so a latency reads up
//! to 1 ms high. Connections come from 127.0.0.2… (`--sources` addresses) so ephemeral ports
//! never run short. Everything is bounded in time (`--connect-timeout`, `--seconds`).

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use clap::{Parser, ValueEnum};
use futures_util::StreamExt;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Mode {
    Ws,
    Poll,
}

#[derive(Parser, Debug, Clone)]
struct Args {
    /// Server address (loopback only).
    #[arg(long)]
    addr: SocketAddrV4,
    #[arg(long, value_enum)]
    mode: Mode,
    /// Subscribers.
    #[arg(short, default_value_t = 10_000)]
    n: usize,
    /// Server process whose RSS is read from /proc.
    #[arg(long)]
    pid: u32,
    /// `types=` of the subscription; the events measured are these.
    #[arg(long, default_value = "segment.published,part.published")]
    types: String,
    /// Measuring window, seconds.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Pause after the last subscriber connected, before the window (and the RSS reading).
    #[arg(long, default_value_t = 3)]
    settle: u64,
    /// Give up connecting after this many seconds.
    #[arg(long, default_value_t = 120)]
    connect_timeout: u64,
    /// Handshakes in flight at once.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Source addresses 127.0.0.2 … 127.0.0.(1+sources).
    #[arg(long, default_value_t = 8)]
    sources: u8,
    /// Client runtime threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Long-poll `timeout=`.
    #[arg(long, default_value_t = 25)]
    poll_timeout: u64,
}

/// What the subscribers saw.
#[derive(Default)]
struct Stats {
    /// seq → (receivers, latest receive latency ms).
    per_seq: HashMap<u64, (u32, f64)>,
    /// Every delivery's latency in the window, ms.
    all: Vec<f64>,
}

struct Shared {
    args: Args,
    stats: Mutex<Stats>,
    connected: AtomicUsize,
    failed: AtomicUsize,
    ended: AtomicUsize,
    bad_answers: AtomicUsize,
    /// Measuring window, ms since the epoch (0 until set).
    window_start: AtomicI64,
    window_end: AtomicI64,
}

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

fn main() -> Result<()> {
    let args = Args::parse();
    if !args.addr.ip().is_loopback() {
        bail!("--addr must be on 127.0.0.0/8");
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()?
        .block_on(run(args))
}

async fn run(args: Args) -> Result<()> {
    let shared = Arc::new(Shared {
        args: args.clone(),
        stats: Mutex::default(),
        connected: AtomicUsize::new(0),
        failed: AtomicUsize::new(0),
        ended: AtomicUsize::new(0),
        bad_answers: AtomicUsize::new(0),
        window_start: AtomicI64::new(0),
        window_end: AtomicI64::new(0),
    });
    let rss_before = rss_kib(args.pid)?;
    let started = Instant::now();
    let gate = Arc::new(Semaphore::new(args.concurrency.max(1)));
    for i in 0..args.n {
        let (shared, gate) = (Arc::clone(&shared), Arc::clone(&gate));
        tokio::spawn(async move {
            let permit = gate.acquire_owned().await.ok();
            let result = match shared.args.mode {
                Mode::Ws => ws_subscriber(i, &shared, permit).await,
                Mode::Poll => poll_subscriber(i, &shared, permit).await,
            };
            if let Err(e) = result {
                if shared.failed.fetch_add(1, Relaxed) < 3 {
                    eprintln!("subscriber {i}: {e:#}");
                }
            }
        });
    }
    let deadline = started + Duration::from_secs(args.connect_timeout);
    while shared.connected.load(Relaxed) + shared.failed.load(Relaxed) < args.n
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let connect_s = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(args.settle)).await;
    let rss_connected = rss_kib(args.pid)?;
    let start = now_ms() as i64;
    eprintln!(
        "window: {} subscribers connected in {connect_s:.1} s, measuring {} s",
        shared.connected.load(Relaxed),
        args.seconds
    );
    shared.window_start.store(start, Relaxed);
    shared
        .window_end
        .store(start + args.seconds as i64 * 1000, Relaxed);
    let cpu_start = [cpu_s(&args.pid.to_string()), cpu_s("self")];
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    let rss_end = rss_kib(args.pid)?;
    let cpu = [
        cpu_s(&args.pid.to_string()) - cpu_start[0],
        cpu_s("self") - cpu_start[1],
    ];
    // Deliveries of the window's last events still in flight.
    tokio::time::sleep(Duration::from_secs(2)).await;
    report(
        &shared,
        [rss_before, rss_connected, rss_end],
        connect_s,
        cpu,
    );
    Ok(())
}

/// A TCP connection to the server from one of the source addresses.
async fn connect(i: usize, shared: &Shared) -> Result<TcpStream> {
    let src = Ipv4Addr::new(
        127,
        0,
        0,
        2 + (i % shared.args.sources.max(1) as usize) as u8,
    );
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::V4(SocketAddrV4::new(src, 0)))?;
    let stream = tokio::time::timeout(
        Duration::from_secs(30),
        socket.connect(SocketAddr::V4(shared.args.addr)),
    )
    .await
    .context("connect timed out")?
    .with_context(|| format!("connect from {src}"))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

async fn ws_subscriber(
    i: usize,
    shared: &Shared,
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
) -> Result<()> {
    let stream = connect(i, shared).await?;
    let url = format!(
        "ws://{}/api/events?types={}",
        shared.args.addr, shared.args.types
    );
    // Small buffers: 10,000 clients share the machine with the server.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let handshake = tokio_tungstenite::client_async_with_config(url, stream, Some(config));
    let (mut ws, _) = tokio::time::timeout(Duration::from_secs(30), handshake)
        .await
        .context("handshake timed out")?
        .context("handshake")?;
    shared.connected.fetch_add(1, Relaxed);
    drop(permit);
    while let Some(msg) = ws.next().await {
        match msg {
            Ok(Message::Text(text)) => record(shared, text.as_str(), now_ms()),
            Ok(Message::Close(frame)) => {
                eprintln!("subscriber {i}: closed by the server: {frame:?}");
                break;
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    shared.ended.fetch_add(1, Relaxed);
    Ok(())
}

async fn poll_subscriber(
    i: usize,
    shared: &Shared,
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
) -> Result<()> {
    let stream = connect(i, shared).await?;
    let mut conn = BufReader::with_capacity(2048, stream);
    let mut since: Option<u64> = None;
    let mut permit = permit;
    loop {
        let query = match since {
            Some(s) => format!("since={s}&"),
            None => String::new(),
        };
        let req = format!(
            "GET /api/events?{query}timeout={}&types={} HTTP/1.1\r\nHost: {}\r\n\r\n",
            shared.args.poll_timeout, shared.args.types, shared.args.addr
        );
        conn.get_mut().write_all(req.as_bytes()).await?;
        if permit.take().is_some() {
            // Sent and held by the server: this subscriber is in.
            shared.connected.fetch_add(1, Relaxed);
        }
        let (status, body) = match read_response(&mut conn).await {
            Ok(r) => r,
            Err(e) => {
                shared.ended.fetch_add(1, Relaxed);
                return Err(e);
            }
        };
        let received = now_ms();
        if status != 200 {
            shared.bad_answers.fetch_add(1, Relaxed);
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        record(shared, &body, received);
        if let Some(max) = seqs(&body).max() {
            since = Some(max);
        }
    }
}

/// One HTTP/1.1 response with a Content-Length body: (status, body).
async fn read_response(conn: &mut BufReader<TcpStream>) -> Result<(u16, String)> {
    let mut line = String::new();
    let mut status = 0u16;
    let mut length = 0usize;
    loop {
        line.clear();
        if conn.read_line(&mut line).await? == 0 {
            bail!("connection closed by the server");
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if status == 0 {
            status = l
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
        } else if let Some((k, v)) = l.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().context("content-length")?;
            }
        }
    }
    let mut body = vec![0u8; length];
    conn.read_exact(&mut body).await?;
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// Every `"seq":N` in a body.
fn seqs(body: &str) -> impl Iterator<Item = u64> + '_ {
    body.split("\"seq\":").skip(1).filter_map(|rest| {
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    })
}

/// Records the events of one frame / long-poll answer received at `received` (ms).
fn record(shared: &Shared, body: &str, received: f64) {
    let (start, end) = (
        shared.window_start.load(Relaxed),
        shared.window_end.load(Relaxed),
    );
    if start == 0 {
        return;
    }
    let wanted: Vec<&str> = shared.args.types.split(',').collect();
    // Each event object starts with `{"seq":` (Event::json's field order).
    for chunk in body.split("{\"seq\":").skip(1) {
        let Some(seq) = chunk
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|d| d.parse::<u64>().ok())
        else {
            continue;
        };
        let Some(kind) = field(chunk, "type") else {
            continue;
        };
        let Some(time) = field(chunk, "time").and_then(rfc3339_ms) else {
            continue;
        };
        if !wanted.contains(&kind) || time < start || time >= end {
            continue;
        }
        let latency = received - time as f64;
        let mut stats = shared.stats.lock().unwrap_or_else(|e| e.into_inner());
        stats.all.push(latency);
        let slot = stats.per_seq.entry(seq).or_insert((0, f64::MIN));
        slot.0 += 1;
        slot.1 = slot.1.max(latency);
    }
}

/// The string value of `"name":"…"` in a flat JSON chunk.
fn field<'a>(chunk: &'a str, name: &str) -> Option<&'a str> {
    let key = format!("\"{name}\":\"");
    let at = chunk.find(&key)? + key.len();
    let rest = &chunk[at..];
    Some(&rest[..rest.find('"')?])
}

/// `2026-12-05T18:00:00.123Z` → ms since the epoch.
fn rfc3339_ms(s: &str) -> Option<i64> {
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss, ms) = (num(11..13)?, num(14..16)?, num(17..19)?, num(20..23)?);
    // Days from civil (H. Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + hh) * 60 + mm) * 60_000 + ss * 1000 + ms)
}

/// User + system CPU seconds of a process (`self` or a pid), from /proc/PID/stat.
fn cpu_s(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime, stime are the 12th, 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    f.iter().sum::<f64>() / 100.0
}

fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("server pid {pid}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS")
}

fn quantile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn report(shared: &Shared, rss: [u64; 3], connect_s: f64, cpu: [f64; 2]) {
    let args = &shared.args;
    let connected = shared.connected.load(Relaxed);
    let alive = connected.saturating_sub(shared.ended.load(Relaxed));
    let stats = shared.stats.lock().unwrap_or_else(|e| e.into_inner());
    let events = stats.per_seq.len();
    let mut last: Vec<f64> = stats
        .per_seq
        .values()
        .filter(|(n, _)| *n as usize >= alive.max(1))
        .map(|(_, l)| *l)
        .collect();
    last.sort_by(f64::total_cmp);
    let mut all = stats.all.clone();
    all.sort_by(f64::total_cmp);
    let per_sub = |kib: u64| (kib as f64 - rss[0] as f64) / connected.max(1) as f64;
    let mode = format!("{:?}", args.mode).to_lowercase();
    println!(
        "{mode}: {connected}/{} subscribers connected in {connect_s:.1} s ({} failed, {} ended early, \
         {} non-200 answers); server RSS {:.1} MiB before, {:.1} MiB connected ({:.2} KiB each), \
         {:.1} MiB after the window ({:.2} KiB each)",
        args.n,
        shared.failed.load(Relaxed),
        shared.ended.load(Relaxed),
        shared.bad_answers.load(Relaxed),
        rss[0] as f64 / 1024.0,
        rss[1] as f64 / 1024.0,
        per_sub(rss[1]),
        rss[2] as f64 / 1024.0,
        per_sub(rss[2]),
    );
    println!(
        "{mode}: {events} events ({}) in {} s, {} reached all {alive}; last subscriber p50 {:.1} ms \
         p99 {:.1} ms max {:.1} ms; all {} deliveries p50 {:.1} ms p99 {:.1} ms",
        args.types,
        args.seconds,
        last.len(),
        quantile(&last, 0.5),
        quantile(&last, 0.99),
        last.last().copied().unwrap_or(f64::NAN),
        all.len(),
        quantile(&all, 0.5),
        quantile(&all, 0.99),
    );
    println!(
        "{mode}: CPU over the window: server {:.2} s ({:.1} us per delivery), this client {:.2} s",
        cpu[0],
        cpu[0] * 1e6 / all.len().max(1) as f64,
        cpu[1]
    );
    let json = serde_json::json!({
        "mode": mode, "n": args.n, "connected": connected, "alive": alive,
        "failed": shared.failed.load(Relaxed), "connect_s": connect_s,
        "rss_before_kib": rss[0], "rss_connected_kib": rss[1], "rss_end_kib": rss[2],
        "kib_per_sub_connected": per_sub(rss[1]), "kib_per_sub_end": per_sub(rss[2]),
        "events": events, "events_all_reached": last.len(),
        "last_p50_ms": quantile(&last, 0.5), "last_p99_ms": quantile(&last, 0.99),
        "last_max_ms": last.last().copied(),
        "deliveries": all.len(), "all_p50_ms": quantile(&all, 0.5), "all_p99_ms": quantile(&all, 0.99),
        "server_cpu_s": cpu[0], "client_cpu_s": cpu[1],
    });
    println!("JSON {json}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_to_epoch_ms() {
        for (s, ms) in [
            ("1970-01-01T00:00:00.000Z", 0),
            ("2000-03-01T00:00:00.001Z", 951_868_800_001),
            ("2026-12-05T18:00:00.123Z", 1_796_493_600_123),
        ] {
            assert_eq!(rfc3339_ms(s), Some(ms), "{s}");
        }
    }

    #[test]
    fn seqs_of_a_long_poll_answer() {
        let body = r#"[{"seq":7,"time":"x","type":"a"},{"seq":12,"time":"y","type":"b"}]"#;
        assert_eq!(seqs(body).collect::<Vec<_>>(), [7, 12]);
        assert_eq!(field(body, "type"), Some("a"));
    }
}
