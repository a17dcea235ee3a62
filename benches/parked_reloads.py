#!/usr/bin/env python3
"""Parks N LL-HLS blocking playlist reloads on a live server and measures its RSS.

  python3 benches/parked_reloads.py --port 8080 --path /ll/stream.m3u8 --pid PID -n 10000

1. Reads the server's RSS (baseline), opens N keep-alive connections without a request and
   reads it again (idle connections).
2. Fetches the playlist once, takes the preload hint (the part in progress: msn M, part P) and
   sends, on every connection at once, GET PATH?_HLS_msn=M+1&_HLS_part=P: the same part one
   segment later, about one target duration ahead (inside the Advance Part Limit and the 503
   timeout of three target durations, RFC 8216bis 6.2.5.2).
3. While no response has arrived, samples the server's RSS every 20 ms (the parked figure is the
   largest sample taken while all N requests were in flight).
4. Reads every response and checks it: status 200 and a playlist that lists that part (or its
   whole segment). Prints one JSON line. Exit 0 if all N were answered 200 with the part.

Loopback only; raise `ulimit -n` above N first.
"""
import argparse, asyncio, json, os, re, sys, time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def hwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def parts_listed(playlist):
    """{msn: (parts listed, complete)} for a media playlist (RFC 8216bis 4.4.4.9, 4.4.4.2)."""
    msn, out, parts = 0, {}, 0
    lines = playlist.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            msn = int(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-PART:"):
            parts += 1
            out[msn] = (parts, False)
        elif line.startswith("#EXTINF:"):
            out[msn] = (parts, True)
            msn, parts = msn + 1, 0
    return out


def has_part(playlist, msn, part):
    listed = parts_listed(playlist).get(msn)
    return listed is not None and (listed[1] or listed[0] > part)


def preload_hint(playlist):
    """(msn, part) of the EXT-X-PRELOAD-HINT part: the one being written."""
    listed = parts_listed(playlist)
    m = re.search(r"#EXT-X-PRELOAD-HINT:TYPE=PART", playlist)
    if not m or not listed:
        raise RuntimeError("no EXT-X-PRELOAD-HINT: is this an LL-HLS playlist?")
    last = max(listed)
    parts, complete = listed[last]
    return (last + 1, 0) if complete else (last, parts)


async def read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length, chunked = None, False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            body += (await reader.readexactly(size + 2))[:-2]
            if size == 0:
                break
    else:
        body = await reader.readexactly(length or 0)
    return status, head, body


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", required=True)
    ap.add_argument("--pid", type=int, required=True, help="server process to measure")
    ap.add_argument("-n", type=int, default=10_000)
    a = ap.parse_args()
    out = {"n": a.n}
    out["rss_baseline_kib"] = rss_kib(a.pid)

    conns, failures = [], []
    slots = asyncio.Semaphore(256)  # bounded concurrent handshakes: the listen backlog is finite

    async def connect():
        try:
            async with slots:
                conns.append(await asyncio.wait_for(asyncio.open_connection(a.host, a.port), 30))
        except Exception as e:
            failures.append(repr(e))

    t = time.monotonic()
    await asyncio.gather(*(connect() for _ in range(a.n)))
    out["connect_s"] = round(time.monotonic() - t, 2)
    out["open"], out["connect_failures"] = len(conns), len(failures)
    await asyncio.sleep(1)
    out["rss_idle_conns_kib"] = rss_kib(a.pid)

    # The part being written now, and the target one segment later.
    r, w = await asyncio.open_connection(a.host, a.port)
    w.write(f"GET {a.path} HTTP/1.1\r\nHost: {a.host}\r\n\r\n".encode())
    status, _, body = await read_response(r)
    w.close()
    msn, part = preload_hint(body.decode())
    target = (msn + 1, part)
    out["hint"], out["target"] = [msn, part], list(target)
    request = (f"GET {a.path}?_HLS_msn={target[0]}&_HLS_part={target[1]} HTTP/1.1\r\n"
               f"Host: {a.host}:{a.port}\r\n\r\n").encode()

    results = []
    first_answer = asyncio.Event()

    async def park(reader, writer):
        try:
            writer.write(request)
            res = await asyncio.wait_for(read_response(reader), 30)
            first_answer.set()
            results.append((time.monotonic(), res[0], has_part(res[2].decode(errors="replace"), *target)))
        except Exception as e:
            first_answer.set()
            results.append((time.monotonic(), repr(e), False))

    t_send = time.monotonic()
    cpu_send = cpu_s(a.pid)
    tasks = [asyncio.ensure_future(park(r, w)) for r, w in conns]
    # Sample RSS until the first answer comes back (the part landed).
    samples = []
    while not first_answer.is_set():
        samples.append(rss_kib(a.pid))
        try:
            await asyncio.wait_for(first_answer.wait(), 0.02)
        except asyncio.TimeoutError:
            pass
    out["parked_for_s"] = round(time.monotonic() - t_send, 2)
    cpu_first = cpu_s(a.pid)
    out["server_cpu_parking_s"] = round(cpu_first - cpu_send, 2)
    out["rss_samples"] = len(samples)
    out["rss_parked_kib"] = max(samples) if samples else None
    await asyncio.gather(*tasks)
    out["server_cpu_answering_s"] = round(cpu_s(a.pid) - cpu_first, 2)
    out["hwm_kib"] = hwm_kib(a.pid)
    out["rss_after_kib"] = rss_kib(a.pid)
    times = sorted(t for t, _, _ in results)
    statuses = {}
    for _, s, _ in results:
        statuses[str(s)] = statuses.get(str(s), 0) + 1
    out["statuses"] = statuses
    out["ok_with_part"] = sum(1 for _, s, good in results if s == 200 and good)
    out["answer_spread_ms"] = round((times[-1] - times[0]) * 1000) if times else None
    for _, w in conns:
        w.close()
    print(json.dumps(out), flush=True)
    return 0 if out["ok_with_part"] == a.n else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
