#!/usr/bin/env python3
"""CPU per RTMP channel: N concurrent RTMP publishers into one server, CPU seconds of the server
only, over a fixed window (issue 10's benchmark).

  python3 benches/rtmp_cpu.py --bin target/release/hlsorigin --input bench-out/rtmp/src.flv \
      --nginx-conf bench-out/rtmp/cpu-nginx.conf --work bench-out/rtmp/cpu \
      --channels 1,10,50 --modes ours,ours-ts,nginx [--warmup 10] [--window 30]

Publishers (not counted; their CPU is printed apart): N × `ffmpeg -re -stream_loop -1 -i INPUT
-c copy -f flv rtmp://…/live/cI` (the input pre-encoded once, so no encoder cost).
Servers (one process each for all N channels, as both are built):
  ours     hlsorigin live --rtmp-listen 127.0.0.1:RTMP (server mode, fMP4, 2 s segments)
  ours-ts  the same with --format ts (the job nginx-rtmp does: TS segments)
  nginx    nginx with ngx_rtmp_module, `hls on` (benches/rtmp.sh writes the config; master +
           workers counted)
Per mode and N: CPU seconds (utime+stime, all threads, the process and its children) between two
snapshots WINDOW s apart after WARMUP; segments each channel added (a channel that produced none
is broken, so it cannot look cheap). CPU/RSS/playlist helpers are benches/live_cpu.py's.
"""
import argparse, json, os, shutil, signal, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from live_cpu import cpu_s, last_msn, median, rss_kib  # noqa: E402

RTMP_PORT = 19335


def tree(pid):
    """pid and its descendants (from /proc/PID/task/*/children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for t in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{t}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except (FileNotFoundError, ProcessLookupError):
            pass
    return out


def tree_cpu(pid):
    return sum(c for c in (cpu_s(p) for p in tree(pid)) if c is not None)


def server(a, mode, outdir, log):
    env = dict(os.environ, RUST_LOG="warn")
    if mode.startswith("ours"):
        cmd = [a.bin, "live", "--rtmp-listen", f"127.0.0.1:{RTMP_PORT}", "--root", outdir,
               "--listen", "127.0.0.1:19336", "--segment-duration", "2", "--window", "6",
               "--max-publishers", "256"]
        if mode == "ours-ts":
            cmd += ["--format", "ts"]
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=log, env=env), lambda i: os.path.join(outdir, f"c{i}", "stream.m3u8")
    if mode == "nginx":
        # The config's hls_path is WORK/nginx-hls (benches/rtmp.sh); playlists are hls_path/cI.m3u8.
        hls = os.path.join(a.work, "nginx-hls")
        shutil.rmtree(hls, ignore_errors=True)
        os.makedirs(hls)
        prefix = os.path.dirname(a.nginx_conf)
        cmd = ["/usr/sbin/nginx", "-p", prefix, "-c", a.nginx_conf, "-e", os.path.join(prefix, "error.log")]
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=log), lambda i: os.path.join(hls, f"c{i}.m3u8")
    raise SystemExit(f"unknown mode {mode}")


def stop(procs):
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(p.poll() is None for p in procs):
        time.sleep(0.1)
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait()


def run(a, mode, n):
    outdir = os.path.join(a.work, f"{mode}-{n}")
    shutil.rmtree(outdir, ignore_errors=True)
    os.makedirs(outdir)
    log = open(os.path.join(outdir, "stderr.log"), "wb")
    srv, playlist = server(a, mode, outdir, log)
    pubs = []
    try:
        time.sleep(1.5)  # listening before the first publisher
        for i in range(n):
            pubs.append(subprocess.Popen(
                ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1",
                 "-i", a.input, "-c", "copy", "-f", "flv", f"rtmp://127.0.0.1:{RTMP_PORT}/live/c{i}"],
                stdin=subprocess.DEVNULL, stderr=log))
        time.sleep(a.warmup)
        t0 = time.monotonic()
        c0, h0 = tree_cpu(srv.pid), sum(cpu_s(p.pid) or 0 for p in pubs)
        m0 = [last_msn(playlist(i)) for i in range(n)]
        time.sleep(a.window)
        c1, h1 = tree_cpu(srv.pid), sum(cpu_s(p.pid) or 0 for p in pubs)
        m1 = [last_msn(playlist(i)) for i in range(n)]
        wall = time.monotonic() - t0
        rss = sum(r for r in (rss_kib(p) for p in tree(srv.pid)) if r)
        alive = sum(1 for p in pubs if p.poll() is None)
        load = open("/proc/loadavg").read().split()[0]
    finally:
        stop(pubs + [srv])
        log.close()
    cpu = c1 - c0
    # A playlist not written yet at the first snapshot (a slow start under load) counts from 0.
    segs = [(y - (x or 0)) if y is not None else 0 for x, y in zip(m0, m1)]
    row = {
        "mode": mode, "n": n, "window_s": round(wall, 1), "cpu_s": round(cpu, 2),
        "cpu_pct_total": round(100 * cpu / wall, 1),
        "cpu_pct_per_channel": round(100 * cpu / wall / n, 3),
        "publishers_alive": alive, "segments_min": min(segs), "segments_median": median(segs),
        "broken": sum(1 for s in segs if s <= 0), "rss_mib": round(rss / 1024, 1),
        "publishers_cpu_pct": round(100 * (h1 - h0) / wall, 1), "load1": load,
        "log": os.path.join(outdir, "stderr.log"),
    }
    for d in os.listdir(outdir):
        shutil.rmtree(os.path.join(outdir, d), ignore_errors=True)
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--nginx-conf", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--channels", default="1,10,50")
    ap.add_argument("--modes", default="ours,ours-ts,nginx")
    ap.add_argument("--warmup", type=float, default=10)
    ap.add_argument("--window", type=float, default=30)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    rows = []
    print(f"{'mode':<9}{'N':>4}{'CPU % total':>12}{'CPU %/chan':>11}{'vs nginx':>9}{'alive':>6}"
          f"{'segs min/med':>13}{'broken':>7}{'RSS MiB':>8}{'pubs %':>7}{'load1':>6}", flush=True)
    for n in [int(x) for x in a.channels.split(",")]:
        group = [run(a, mode, n) for mode in a.modes.split(",")]
        rows += group
        peer = next((r for r in group if r["mode"] == "nginx"), None)
        for r in group:
            ratio = (f"{r['cpu_pct_per_channel'] / peer['cpu_pct_per_channel']:.2f}x"
                     if peer and peer["cpu_pct_per_channel"] > 0 else "-")
            r["ratio_to_nginx"] = ratio
            print(f"{r['mode']:<9}{n:>4}{r['cpu_pct_total']:>12.1f}{r['cpu_pct_per_channel']:>11.3f}{ratio:>9}"
                  f"{r['publishers_alive']:>6}{r['segments_min']:>6}/{str(r['segments_median']):<6}"
                  f"{r['broken']:>7}{r['rss_mib']:>8}{r['publishers_cpu_pct']:>7.1f}{r['load1']:>6}", flush=True)
            if a.json:
                print("JSON " + json.dumps(r), flush=True)
    return 0 if all(r["broken"] == 0 and r["publishers_alive"] == r["n"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
