#!/usr/bin/env python3
"""Opens N keep-alive HTTP/1.1 connections to a server, sends one request on each and reads its
response, then holds them all open, idle, until stdin closes (or --hold seconds pass).

  python3 benches/idle_conns.py --port 8080 --path /vod/stream.m3u8 -n 10000 [--hold 60]

Prints one line "ready OPEN FAILED" on stdout once every connection has had its response, so a
driving script can read the server's RSS while the connections sit idle. Loopback only; raise
`ulimit -n` above N first.
"""
import argparse, asyncio, sys


async def one(host, port, request, conns, failures, connect_slots):
    try:
        async with connect_slots:  # bounded concurrent handshakes: the listen backlog is finite
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 30)
            writer.write(request)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            length = 0
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            if length:
                await asyncio.wait_for(reader.readexactly(length), 30)
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(head.split(b"\r\n")[0].decode(errors="replace"))
        conns.append(writer)
    except Exception as e:  # counted, reported; a benchmark client must not die on one socket
        failures.append(repr(e))


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", default="/")
    ap.add_argument("-n", type=int, default=10_000)
    ap.add_argument("--hold", type=float, default=120.0, help="longest time to hold, seconds")
    a = ap.parse_args()
    request = (f"GET {a.path} HTTP/1.1\r\nHost: {a.host}:{a.port}\r\n"
               "Accept-Encoding: gzip\r\n\r\n").encode()
    conns, failures = [], []
    slots = asyncio.Semaphore(256)
    await asyncio.gather(*(one(a.host, a.port, request, conns, failures, slots) for _ in range(a.n)))
    print(f"ready {len(conns)} {len(failures)}", flush=True)
    if failures:
        print(f"first failure: {failures[0]}", file=sys.stderr)
    loop = asyncio.get_running_loop()
    stdin_closed = loop.run_in_executor(None, sys.stdin.read)
    try:
        await asyncio.wait_for(stdin_closed, a.hold)
    except asyncio.TimeoutError:
        pass
    for w in conns:
        w.close()


if __name__ == "__main__":
    asyncio.run(main())
