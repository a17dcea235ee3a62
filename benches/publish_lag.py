#!/usr/bin/env python3
"""How late a live playlist publishes its media: watches a media playlist and, every time its
edge (end of the last segment, or of the last part for LL-HLS) moves, prints
now - (EXT-X-PROGRAM-DATE-TIME of that segment + the duration up to the edge).

  python3 benches/publish_lag.py URL [--seconds 20] [--poll 0.02] [--blocking]

With PDT = wall clock at ingest of a segment's first sample (hlsorigin; ffmpeg's
`program_date_time` flag is its start time + durations), the lag is the time from a sample's
arrival to the playlist listing it. --blocking follows the playlist with LL-HLS blocking reloads
(_HLS_msn/_HLS_part of the preload hint) instead of polling every --poll seconds. Prints the
samples' median, p10, p90 and the playlist's part/segment counts.
"""
import argparse, datetime, json, re, sys, time, urllib.request


def edge(text):
    """(wall clock of the edge, next msn, next part) from a media playlist, or None.

    A segment's tags (EXTINF, PROGRAM-DATE-TIME, in either order) apply to the next URI line."""
    msn = 0
    m = re.search(r"^#EXT-X-MEDIA-SEQUENCE:(\d+)", text, re.M)
    if m:
        msn = int(m.group(1))
    start = None  # wall clock (s) of the start of the segment being read
    offset, parts, extinf = 0.0, 0, None
    for line in text.splitlines():
        if line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            v = line.split(":", 1)[1].replace("Z", "+00:00")
            if re.search(r"[+-]\d{4}$", v):  # ffmpeg writes +0000
                v = v[:-2] + ":" + v[-2:]
            start = datetime.datetime.fromisoformat(v).timestamp()
        elif line.startswith("#EXT-X-PART:"):
            offset += float(re.search(r"DURATION=([\d.]+)", line).group(1))
            parts += 1
        elif line.startswith("#EXTINF:"):
            extinf = float(line.split(":", 1)[1].split(",")[0])
        elif line and not line.startswith("#") and extinf is not None:
            if start is not None:
                start += extinf
            offset, parts, extinf = 0.0, 0, None
            msn += 1
    if start is None:
        return None
    return start + offset, msn, parts


def q(xs, p):
    s = sorted(xs)
    i = (len(s) - 1) * p
    lo = int(i)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (i - lo)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url", help="http://… or a file path (polled)")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--poll", type=float, default=0.02)
    ap.add_argument("--blocking", action="store_true")
    ap.add_argument("--json", action="store_true", help="print one JSON line instead")
    a = ap.parse_args()
    lags, last = [], None
    t_end = time.time() + a.seconds
    url = a.url
    while time.time() < t_end:
        if url.startswith("http"):
            text = urllib.request.urlopen(url, timeout=10).read().decode()
        else:
            try:
                text = open(url).read()
            except FileNotFoundError:
                text = ""
        now = time.time()
        e = edge(text)
        if e and e[0] != last:
            if last is not None:
                lags.append(now - e[0])
            last = e[0]
        if a.blocking and e and url.startswith("http"):
            url = f"{a.url}?_HLS_msn={e[1]}&_HLS_part={e[2]}"
        else:
            time.sleep(a.poll)
    if not lags:
        print("{}" if a.json else "no edge moves seen")
        return 1
    if a.json:
        print(json.dumps({"n": len(lags), "median": q(lags, .5), "p10": q(lags, .1), "p90": q(lags, .9)}))
        return 0
    print(f"{len(lags)} edge moves: publish lag median {q(lags, .5):.3f} s, p10 {q(lags, .1):.3f}, "
          f"p90 {q(lags, .9):.3f}, min {min(lags):.3f}, max {max(lags):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
