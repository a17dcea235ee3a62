#!/usr/bin/env python3
"""Side-by-side timing: runs each command several times in one session and prints medians, ratios
and peak RSS (from wait4's rusage, so no external `time` tool is needed). Two clocks: wall time,
and CPU time (user + system of the command and its children) -- on a shared, loaded machine wall
time mostly measures the other tenants, CPU time much less.

  python3 benches/compare.py --runs 5 --baseline cp -- name1 'cmd1' name2 'cmd2' ...

Commands run through `sh -c`; `{i}` in a command is replaced by the run index (fresh output dirs).
"""
import argparse, os, shlex, statistics, subprocess, sys, time


TIME = "/usr/bin/time"
RSS_FILE = f"/tmp/compare-rss-{os.getpid()}"


def run_once(cmd):
    # Peak RSS: Linux carries a process's RSS high-water mark across fork and exec, so the
    # rusage of a child forked from this Python process never reports less than Python's own
    # ~15 MiB. GNU time (forked from here, but tiny itself) reports the peak of the process tree
    # it starts, which is the command's own. Without it, fall back to rusage (an upper bound).
    argv = ["sh", "-c", cmd]
    if os.access(TIME, os.X_OK):
        argv = [TIME, "-f", "%M", "-o", RSS_FILE] + argv
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"command failed ({status}): {cmd}\n{err}")
    peak = usage.ru_maxrss * 1024
    if argv[0] == TIME:
        with open(RSS_FILE) as f:
            peak = int(f.read().split()[-1]) * 1024
        os.unlink(RSS_FILE)
    # CPU time covers the whole process tree that was waited for (time + sh + the command).
    return wall, usage.ru_utime + usage.ru_stime, peak


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--baseline", default=None, help="name of the command ratios are relative to")
    ap.add_argument("--setup", action="append", default=[], help="shell command run before each run (untimed)")
    ap.add_argument("pairs", nargs="+")
    a = ap.parse_args()
    if len(a.pairs) % 2:
        sys.exit("give name/command pairs")
    cmds = list(zip(a.pairs[::2], a.pairs[1::2]))
    results = {n: [] for n, _ in cmds}
    cpu = {n: [] for n, _ in cmds}
    rss = {n: 0 for n, _ in cmds}
    for i in range(a.runs):
        for name, cmd in cmds:  # interleaved, so drift in machine load hits every command alike
            for s in a.setup:
                subprocess.run(["sh", "-c", s.replace("{i}", str(i))], check=True)
            wall, used, peak = run_once(cmd.replace("{i}", str(i)))
            results[name].append(wall)
            cpu[name].append(used)
            rss[name] = max(rss[name], peak)
    base = statistics.median(results[a.baseline]) if a.baseline else None
    cbase = statistics.median(cpu[a.baseline]) if a.baseline else None
    print(f"{'command':<22}{'wall med s':>11}{'min':>7}{'max':>7}{'ratio':>7}"
          f"{'cpu med s':>11}{'min':>7}{'max':>7}{'ratio':>7}{'peak RSS MiB':>14}")
    for name, _ in cmds:
        med = statistics.median(results[name])
        cmed = statistics.median(cpu[name])
        ratio = f"{med / base:.2f}x" if base else "-"
        cratio = f"{cmed / cbase:.2f}x" if cbase else "-"
        print(f"{name:<22}{med:>11.3f}{min(results[name]):>7.2f}{max(results[name]):>7.2f}{ratio:>7}"
              f"{cmed:>11.3f}{min(cpu[name]):>7.2f}{max(cpu[name]):>7.2f}{cratio:>7}{rss[name] / 2**20:>14.1f}")


if __name__ == "__main__":
    main()
