// SPDX-License-Identifier: MIT OR Apache-2.0
// UDP fan-out relay for the live benchmark: every datagram received on 127.0.0.1:IN is sent to
// 127.0.0.1:FIRST .. FIRST+N-1 with one sendmmsg(2) call, so N channels cost the harness one
// recv + one syscall per datagram instead of N muxers or N senders.
//
//   cc -O2 -o udp_fanout benches/udp_fanout.c && ./udp_fanout IN FIRST N
//
// Runs until killed. Prints the datagram count and send errors on SIGTERM/SIGINT.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s IN_PORT FIRST_OUT_PORT N\n", argv[0]);
    return 2;
  }
  int in_port = atoi(argv[1]), first = atoi(argv[2]), n = atoi(argv[3]);
  if (in_port <= 0 || in_port > 65535 || first <= 0 || n <= 0 || first + n > 65536) {
    fprintf(stderr, "bad ports\n");
    return 2;
  }
  struct sigaction sa = {0};
  sa.sa_handler = on_signal; // no SA_RESTART: recv returns EINTR
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  int in = socket(AF_INET, SOCK_DGRAM, 0), out = socket(AF_INET, SOCK_DGRAM, 0);
  if (in < 0 || out < 0) { perror("socket"); return 1; }
  int rcv = 8 << 20, snd = 8 << 20;
  setsockopt(in, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
  setsockopt(out, SOL_SOCKET, SO_SNDBUF, &snd, sizeof snd);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(in_port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(in, (struct sockaddr *)&addr, sizeof addr) < 0) { perror("bind"); return 1; }

  struct sockaddr_in *dst = calloc(n, sizeof *dst);
  struct mmsghdr *msgs = calloc(n, sizeof *msgs);
  struct iovec iov;
  static unsigned char buf[65536];
  if (!dst || !msgs) { perror("calloc"); return 1; }
  for (int i = 0; i < n; i++) {
    dst[i] = addr;
    dst[i].sin_port = htons(first + i);
    msgs[i].msg_hdr.msg_name = &dst[i];
    msgs[i].msg_hdr.msg_namelen = sizeof dst[i];
    msgs[i].msg_hdr.msg_iov = &iov;
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  iov.iov_base = buf;
  unsigned long long datagrams = 0, errors = 0;
  while (!stop) {
    ssize_t len = recv(in, buf, sizeof buf, 0);
    if (len < 0) {
      if (errno == EINTR) continue;
      perror("recv");
      return 1;
    }
    iov.iov_len = (size_t)len;
    datagrams++;
    for (int sent = 0; sent < n;) {
      int r = sendmmsg(out, msgs + sent, (unsigned)(n - sent), 0);
      if (r <= 0) {
        // ECONNREFUSED from an ICMP of a closed port, or a full buffer: skip that destination.
        errors++;
        sent++;
        continue;
      }
      sent += r;
    }
  }
  fprintf(stderr, "udp_fanout: %llu datagrams in, %llu send errors\n", datagrams, errors);
  return 0;
}
