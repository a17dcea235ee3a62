#!/usr/bin/env python3
"""Runs wrk against several servers, interleaved, and prints medians and ratios.

  python3 benches/wrk_compare.py --duration 10 --rounds 3 --threads 2 \
      --server ours=http://127.0.0.1:18080 --server nginx=http://127.0.0.1:18081 \
      [--only 'ours=segment'] \
      --case 'playlist gzip|/vod/stream.m3u8|gzip|req' --case 'segment|/vod/seg.ts||GB' --conns 64,1000

For every round, case and connection count, each server gets one wrk run in turn (so drifting
machine load hits all alike). Reported: median requests/s, median transfer rate, median p99
latency, errors (connect/read/write/timeout and non-2xx responses, summed over rounds),
a throughput ratio (of GB/s for "GB" cases, of requests/s for the others) and,
for servers given as name=URL=PID, the server's CPU time per request (user + system of the
process and its children, e.g. nginx's workers, from /proc) -- on a shared machine the one
figure that does not depend on what else runs. A case is name|path|gzip-or-empty|req-or-GB: the last field says
whether CPU is given in ms per request or in s per GB sent (for large objects: wrk counts the
bytes of responses unfinished when a run ends, but not the requests). Ratios are relative to the last server given (the reference, e.g. nginx).
"""
import argparse, os, re, statistics, subprocess, sys

UNITS = {"": 1, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
TIME_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def size(text):
    m = re.fullmatch(r"([\d.]+)([KMGT]?)B?", text)
    if not m:
        raise ValueError(text)
    return float(m.group(1)) * UNITS[m.group(2)]


def ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        raise ValueError(text)
    return float(m.group(1)) * TIME_UNITS[m.group(2)]


def tree_cpu_seconds(pid):
    """utime + stime of `pid` and its direct children (threads are included in a process)."""
    if pid is None:
        return 0.0
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the ")" of comm: state ppid ... utime(12th) stime(13th), 0-based 11 and 12.
        if int(entry) == pid or int(fields[1]) == pid:
            total += int(fields[11]) + int(fields[12])
    return total / tick


def run_wrk(url, conns, threads, duration, gzip):
    cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{duration}s", "--latency", "--timeout", "10s"]
    if gzip:
        cmd += ["-H", "Accept-Encoding: gzip"]
    cmd.append(url)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    # wrk prints binary prefixes (1 KB = 1024 B); convert to decimal bytes.
    t = re.search(r"Transfer/sec:\s+([\d.]+)([KMGT]?)B", out)
    bps = float(t.group(1)) * (1024 ** " KMGT".index(t.group(2) or " "))
    p99 = ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    errors = 0
    e = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if e:
        errors += sum(int(x) for x in e.groups())
    n = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if n:
        errors += int(n.group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    return rps, bps, p99, errors, requests


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", action="append", required=True, help="name=base URL[=PID]")
    ap.add_argument("--case", action="append", required=True,
                    help="name|path|gzip-or-empty|req-or-GB")
    ap.add_argument("--conns", default="64,1000")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", action="append", default=[],
                    help="server=case: that server runs only the named case(s)")
    a = ap.parse_args()
    only = {}
    for spec in a.only:
        sname, cname = spec.split("=", 1)
        only.setdefault(sname, set()).add(cname)
    servers = []
    for spec in a.server:
        name, rest = spec.split("=", 1)
        url, sep, pid = rest.rpartition("=")
        if not sep or not pid.isdigit():
            url, pid = rest, None
        servers.append((name, url, int(pid) if pid else None))
    cases = [c.split("|") for c in a.case]
    conns = [int(c) for c in a.conns.split(",")]
    res = {}
    for r in range(a.rounds):
        for cname, path, gz, per in cases:
            for c in conns:
                for sname, base, pid in servers:
                    if sname in only and cname not in only[sname]:
                        continue
                    before = tree_cpu_seconds(pid)
                    rps, bps, p99, errors, requests = run_wrk(base + path, c, a.threads, a.duration,
                                                              bool(gz))
                    cpu = tree_cpu_seconds(pid) - before
                    # Per GB for segments: wrk counts the bytes of responses still in flight at
                    # the end, but only completed requests.
                    if per == "GB":
                        cpu_per = cpu / max(bps * a.duration / 1e9, 1e-9)
                    else:
                        cpu_per = cpu * 1e3 / max(requests, 1)
                    got = (rps, bps, p99, errors, cpu_per if pid else float("nan"))
                    res.setdefault((cname, c, sname), []).append(got)
                    print(f"round {r + 1} {cname:<16} c={c:<5} {sname:<10} {rps:>10.0f} req/s "
                          f"{bps / 1e9:>7.3f} GB/s  p99 {p99:>8.2f} ms  errors {errors}  "
                          f"server cpu {got[4]:.3f} {'s/GB' if per == 'GB' else 'ms/req'}",
                          file=sys.stderr, flush=True)
    ref = servers[-1][0]
    print(f"{'case':<16}{'conns':>6} {'server':<10}{'req/s':>9}{'GB/s':>8}{'p99 ms':>9}{'errors':>7}"
          f"{'cpu/unit':>11}{'thru ratio':>12}{'p99 ratio':>10}{'cpu ratio':>10}")
    for cname, _, _, per in cases:
        for c in conns:
            med = {}
            for sname, _, _ in servers:
                runs = res.get((cname, c, sname))
                if not runs:
                    continue
                med[sname] = (statistics.median(x[0] for x in runs),
                              statistics.median(x[1] for x in runs),
                              statistics.median(x[2] for x in runs),
                              sum(x[3] for x in runs),
                              statistics.median(x[4] for x in runs))
            for sname in med:
                rps, bps, p99, err, cpu = med[sname]
                # Throughput ratio: of GB/s for large objects, of requests/s otherwise.
                k = 1 if per == "GB" else 0
                rr = med[sname][k] / med[ref][k] if med[ref][k] else float("nan")
                pr = p99 / med[ref][2] if med[ref][2] else float("nan")
                cr = cpu / med[ref][4] if med[ref][4] else float("nan")
                print(f"{cname:<16}{c:>6} {sname:<10}{rps:>9.0f}{bps / 1e9:>8.3f}{p99:>9.2f}{err:>7}"
                      f"{cpu:>11.3f}{rr:>11.2f}x{pr:>9.2f}x{cr:>9.2f}x")


if __name__ == "__main__":
    main()
