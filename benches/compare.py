#!/usr/bin/env python3
"""Side-by-side timing: runs each command several times in one session and prints medians, ratios
and peak RSS (from wait4's rusage, so no external `time` tool is needed).

  python3 benches/compare.py --runs 5 --baseline cp -- name1 'cmd1' name2 'cmd2' ...

Commands run through `sh -c`; `{i}` in a command is replaced by the run index (fresh output dirs).
"""
import argparse, os, shlex, statistics, subprocess, sys, time


def run_once(cmd):
    start = time.perf_counter()
    proc = subprocess.Popen(["sh", "-c", cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"command failed ({status}): {cmd}\n{err}")
    # ru_maxrss of `sh -c` covers its largest child too (it is the max over the process tree that was waited for).
    return wall, usage.ru_maxrss * 1024


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
    rss = {n: 0 for n, _ in cmds}
    for i in range(a.runs):
        for name, cmd in cmds:  # interleaved, so drift in machine load hits every command alike
            for s in a.setup:
                subprocess.run(["sh", "-c", s.replace("{i}", str(i))], check=True)
            wall, peak = run_once(cmd.replace("{i}", str(i)))
            results[name].append(wall)
            rss[name] = max(rss[name], peak)
    base = statistics.median(results[a.baseline]) if a.baseline else None
    print(f"{'command':<28}{'median s':>10}{'min s':>9}{'max s':>9}{'ratio':>8}{'peak RSS MiB':>14}")
    for name, _ in cmds:
        med = statistics.median(results[name])
        ratio = f"{med / base:.2f}x" if base else "-"
        print(f"{name:<28}{med:>10.3f}{min(results[name]):>9.3f}{max(results[name]):>9.3f}{ratio:>8}{rss[name] / 2**20:>14.1f}")


if __name__ == "__main__":
    main()
