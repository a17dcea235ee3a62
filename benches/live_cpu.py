#!/usr/bin/env python3
"""CPU per live channel: N packagers fed the same MPEG-TS over UDP, CPU seconds of the
packagers only, over a fixed window.

  python3 benches/live_cpu.py --bin target/release/hlsorigin --input bench-out/live/src.ts \
      --relay bench-out/live/udp_fanout --work bench-out/live/cpu --channels 1,10,50,100 \
      --modes ours-ts,ours-fmp4,ours-ll,ffmpeg [--warmup 10] [--window 30] [--port 19010]

Source (the same for every mode): one `ffmpeg -re -stream_loop -1 -i INPUT -c copy -f mpegts`
sends the pre-encoded file to the relay (benches/udp_fanout.c), which sends every datagram to
ports PORT+1 .. PORT+N with one sendmmsg. Neither is counted; their CPU is printed apart.

Modes (one process per channel, output under WORK/MODE-N/cI/):
  ours-ts    hlsorigin live --format ts (2 s segments, window 6) — the same job as `ffmpeg`
  ours-fmp4  hlsorigin live (fMP4, the default)
  ours-ll    hlsorigin live --ll-hls --part-duration 0.2 --listen 127.0.0.1:(PORT+200+I)
  ffmpeg     ffmpeg -i udp://… -c copy -f hls -hls_time 2 -hls_list_size 6 -hls_flags delete_segments

Per mode and N: CPU seconds (utime+stime from /proc/PID/stat, all threads) of the N processes
between two snapshots WINDOW seconds apart, after WARMUP; segments each channel added to its
playlist in the window (a channel that produced none is reported as broken, so it cannot look
cheap); UDP receive-queue drops of the channel sockets (/proc/net/udp). Prints a table and, with
--json, one JSON line per row.
"""
import argparse, json, os, re, shutil, signal, subprocess, sys, time

TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (fields 14, 15)
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    return None


def last_msn(playlist):
    """Media sequence number after the last complete segment of a media playlist, or None."""
    try:
        text = open(playlist).read()
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    m = re.search(r"^#EXT-X-MEDIA-SEQUENCE:(\d+)", text, re.M)
    base = int(m.group(1)) if m else 0
    return base + len(re.findall(r"^#EXTINF:", text, re.M))


def udp_drops(ports):
    """Sum of the drops column of /proc/net/udp for sockets bound to 127.0.0.1:PORT."""
    wanted = {f"0100007F:{p:04X}" for p in ports}
    total = 0
    with open("/proc/net/udp") as f:
        next(f)
        for line in f:
            cols = line.split()
            if cols[1] in wanted:
                total += int(cols[-1])
    return total


def median(xs):
    s = sorted(xs)
    if not s:
        return None
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def channel_cmd(a, mode, i, port, outdir):
    name = f"c{i}"
    if mode.startswith("ours"):
        cmd = [a.bin, "live", "--input", f"udp://127.0.0.1:{port}", "--name", name, "--root", outdir,
               "--segment-duration", "2", "--window", "6"]
        if mode == "ours-ts":
            cmd += ["--format", "ts"]
        elif mode == "ours-ll":
            cmd += ["--ll-hls", "--part-duration", "0.2", "--listen", f"127.0.0.1:{a.port + 200 + i}"]
        return cmd, os.path.join(outdir, name, "stream.m3u8")
    if mode == "ffmpeg":
        d = os.path.join(outdir, name)
        os.makedirs(d, exist_ok=True)
        cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error",
               "-i", f"udp://127.0.0.1:{port}?fifo_size=1000000&overrun_nonfatal=1",
               "-c", "copy", "-f", "hls", "-hls_time", "2", "-hls_list_size", "6",
               "-hls_flags", "delete_segments", os.path.join(d, "stream.m3u8")]
        return cmd, os.path.join(d, "stream.m3u8")
    raise SystemExit(f"unknown mode {mode}")


def run(a, mode, n):
    outdir = os.path.join(a.work, f"{mode}-{n}")
    shutil.rmtree(outdir, ignore_errors=True)
    os.makedirs(outdir)
    procs, playlists = [], []
    env = dict(os.environ, RUST_LOG="warn")
    log = open(os.path.join(outdir, "stderr.log"), "wb")
    ports = [a.port + 1 + i for i in range(n)]
    try:
        for i, port in enumerate(ports):
            cmd, pl = channel_cmd(a, mode, i, port, outdir)
            procs.append(subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                          stderr=log, env=env))
            playlists.append(pl)
        time.sleep(1)  # every socket bound before the first datagram
        relay = subprocess.Popen([a.relay, str(a.port), str(ports[0]), str(n)], stderr=log)
        sender = subprocess.Popen(
            ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1",
             "-i", a.input, "-c", "copy", "-f", "mpegts", f"udp://127.0.0.1:{a.port}?pkt_size=1316"],
            stdin=subprocess.DEVNULL, stderr=log)
        time.sleep(a.warmup)
        drops0 = udp_drops(ports)
        t0 = time.monotonic()
        c0 = [cpu_s(p.pid) for p in procs]
        m0 = [last_msn(pl) for pl in playlists]
        h0 = (cpu_s(relay.pid) or 0) + (cpu_s(sender.pid) or 0)
        time.sleep(a.window)
        c1 = [cpu_s(p.pid) for p in procs]
        m1 = [last_msn(pl) for pl in playlists]
        h1 = (cpu_s(relay.pid) or 0) + (cpu_s(sender.pid) or 0)
        wall = time.monotonic() - t0
        drops = udp_drops(ports) - drops0
        rss = [rss_kib(p.pid) for p in procs]
        load = open("/proc/loadavg").read().split()[0]
    finally:
        # SIGTERM everything, then SIGKILL what is left after 5 s (ffmpeg reading UDP can hang
        # on SIGTERM once its input stops).
        everyone = procs + [p for p in (locals().get("relay"), locals().get("sender")) if p is not None]
        for p in everyone:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(p.poll() is None for p in everyone):
            time.sleep(0.1)
        for p in everyone:
            if p.poll() is None:
                p.kill()
            p.wait()
        log.close()
    alive = sum(1 for x, y in zip(c0, c1) if x is not None and y is not None)
    cpu = sum(y - x for x, y in zip(c0, c1) if x is not None and y is not None)
    segs = [(y - x) if (x is not None and y is not None) else 0 for x, y in zip(m0, m1)]
    row = {
        "mode": mode, "n": n, "window_s": round(wall, 1), "cpu_s": round(cpu, 2),
        "cpu_pct_total": round(100 * cpu / wall, 1),
        "cpu_pct_per_channel": round(100 * cpu / wall / n, 3),
        "channels_per_2_cores": round(200 / (100 * cpu / wall / n)) if cpu > 0 else None,
        "alive": alive, "segments_min": min(segs), "segments_median": median(segs),
        "broken": sum(1 for s in segs if s <= 0), "udp_drops": drops,
        "rss_median_mib": round(median([r for r in rss if r]) / 1024, 1) if any(rss) else None,
        "harness_cpu_pct": round(100 * (h1 - h0) / wall, 1), "load1": load,
    }
    # Keep the disk tidy between runs; keep the processes' stderr.
    for d in os.listdir(outdir):
        shutil.rmtree(os.path.join(outdir, d), ignore_errors=True)
    row["log"] = os.path.join(outdir, "stderr.log")
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--relay", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--channels", default="1,10,50,100")
    ap.add_argument("--modes", default="ours-ts,ours-fmp4,ours-ll,ffmpeg")
    ap.add_argument("--warmup", type=float, default=10)
    ap.add_argument("--window", type=float, default=30)
    ap.add_argument("--port", type=int, default=19010)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    modes = a.modes.split(",")
    rows = []
    hdr = (f"{'mode':<10}{'N':>5}{'CPU % total':>12}{'CPU %/chan':>11}{'chan/2 cores':>13}"
           f"{'vs ffmpeg':>10}{'alive':>6}{'segs min/med':>13}{'broken':>7}{'drops':>7}"
           f"{'RSS MiB':>8}{'harness %':>10}{'load1':>6}")
    print(hdr, flush=True)
    for n in [int(x) for x in a.channels.split(",")]:
        group = []
        for mode in modes:
            row = run(a, mode, n)
            group.append(row)
            rows.append(row)
        peer = next((r for r in group if r["mode"] == "ffmpeg"), None)
        for r in group:
            ratio = (f"{r['cpu_pct_per_channel'] / peer['cpu_pct_per_channel']:.2f}x"
                     if peer and peer["cpu_pct_per_channel"] > 0 else "-")
            r["ratio_to_ffmpeg"] = ratio
            print(f"{r['mode']:<10}{r['n']:>5}{r['cpu_pct_total']:>12.1f}{r['cpu_pct_per_channel']:>11.3f}"
                  f"{str(r['channels_per_2_cores']):>13}{ratio:>10}{r['alive']:>6}"
                  f"{r['segments_min']:>6}/{r['segments_median']:<6}{r['broken']:>7}{r['udp_drops']:>7}"
                  f"{str(r['rss_median_mib']):>8}{r['harness_cpu_pct']:>10.1f}{r['load1']:>6}", flush=True)
            if a.json:
                print("JSON " + json.dumps(r), flush=True)
    return 0 if all(r["broken"] == 0 and r["alive"] == r["n"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
