// SPDX-License-Identifier: MIT OR Apache-2.0
// Parks N LL-HLS blocking playlist reloads on one server and measures the server's RSS.
// C and epoll because a Python client cannot open 10,000 connections within the server's
// 10 s idle timeout on a busy two-core machine.
//
//   cc -O2 -o park_client benches/park_client.c
//   ./park_client --port 8080 --path /ll/stream.m3u8 --pid SERVER_PID [-n 10000] [--segments]
//
// 1. RSS of PID (baseline). Opens N keep-alive connections, each with one plain playlist
//    request answered (repeated after 5 s idle while the others open, so none reaches the
//    server's idle timeout). RSS again (idle keep-alive connections).
// 2. Fetches the playlist on the first connection. Target: the part being written (msn M,
//    part P, after the last EXT-X-PART of the playlist) one segment later, M+1 part P, about one
//    target duration ahead: inside the Advance Part Limit and the 503 timeout of three target
//    durations (RFC 8216bis 6.2.5.2). --segments (no parts, e.g. ffmpeg's playlists served by
//    `hlsorigin serve`): _HLS_msn=NEXT+1 alone, the segment after the one being written.
// 3. Sends GET PATH?_HLS_msn=..&_HLS_part=.. on every connection, samples the RSS every 20 ms
//    until the first 200 arrives (the largest sample is the parked figure) and the CPU time.
// 4. Reads every response: counts statuses and the 200s whose playlist lists the target.
// Prints one JSON line; exit 0 if all N were answered 200 with the target listed.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { NEW, CONNECTING, READING, IDLE, FAILED };

typedef struct {
  int fd, state, blocking;
  double last; // time the last response completed
  char *buf;
  size_t len, cap;
} Conn;

static Conn *conns;
static int in_state[5]; // connections per state
static char *fetched;    // body of the plain response on fetch_conn
static Conn *fetch_conn;
static int n_conns, epfd, pid = -1;
static const char *host = "127.0.0.1", *path;
static int port;
static char plain_req[512], park_req[640];
// Results.
static long failures, refreshes, ok200, with_target, other_status, parked_answers;
static double first_ok = -1, last_answer = -1;
static char first_failure[160];
static long target_msn = -1, target_part = -1;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static long status_kib(const char *key) {
  char p[64], line[256];
  snprintf(p, sizeof p, "/proc/%d/status", pid);
  FILE *f = fopen(p, "r");
  long v = -1;
  if (!f) return -1;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, key, strlen(key)) == 0) v = strtol(line + strlen(key), NULL, 10);
  fclose(f);
  return v;
}

static double cpu_s(void) {
  char p[64], s[1024];
  snprintf(p, sizeof p, "/proc/%d/stat", pid);
  FILE *f = fopen(p, "r");
  if (!f) return -1;
  size_t n = fread(s, 1, sizeof s - 1, f);
  fclose(f);
  s[n] = 0;
  char *c = strrchr(s, ')');
  if (!c) return -1;
  unsigned long ut = 0, st = 0;
  // After ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
  if (sscanf(c + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2) return -1;
  return (ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static void set_state(Conn *c, int state) {
  in_state[c->state]--;
  in_state[state]++;
  c->state = state;
}

static void fail(Conn *c, const char *why) {
  if (c->state == FAILED) return;
  if (!first_failure[0]) snprintf(first_failure, sizeof first_failure, "%s", why);
  failures++;
  set_state(c, FAILED);
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
}

static void send_req(Conn *c, const char *req, int blocking) {
  size_t n = strlen(req);
  if (write(c->fd, req, n) != (ssize_t)n) {
    fail(c, "short write");
    return;
  }
  set_state(c, READING);
  c->blocking = blocking;
  c->len = 0;
}

// Next media sequence number (the segment being written) and how many of its parts the
// playlist lists (RFC 8216bis 4.4.3.2, 4.4.4.9).
static void playlist_edge(const char *body, long *next_msn, long *parts) {
  long msn = 0, extinf = 0, p = 0;
  for (const char *l = body; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
    if (strncmp(l, "#EXT-X-MEDIA-SEQUENCE:", 22) == 0) msn = strtol(l + 22, NULL, 10);
    else if (strncmp(l, "#EXTINF:", 8) == 0) extinf++, p = 0;
    else if (strncmp(l, "#EXT-X-PART:", 12) == 0) p++;
  }
  *next_msn = msn + extinf;
  *parts = p;
}

// Splits a complete response in c->buf; returns 1 when complete (status and body set).
static int complete(Conn *c, int *status, char **body, size_t *body_len) {
  c->buf[c->len] = 0;
  char *end = strstr(c->buf, "\r\n\r\n");
  if (!end) return 0;
  *status = atoi(c->buf + 9);
  char *b = end + 4;
  size_t have = c->len - (size_t)(b - c->buf);
  long clen = -1;
  int chunked = 0;
  for (char *l = strstr(c->buf, "\r\n") + 2; l < end; l = strstr(l, "\r\n") + 2) {
    if (strncasecmp(l, "content-length:", 15) == 0) clen = strtol(l + 15, NULL, 10);
    if (strncasecmp(l, "transfer-encoding:", 18) == 0) {
      char *k = strcasestr(l, "chunked");
      chunked = k != NULL && k < strstr(l, "\r\n");
    }
  }
  if (!chunked) {
    if (clen < 0) clen = 0;
    if (have < (size_t)clen) return 0;
    *body = b, *body_len = (size_t)clen;
    return 1;
  }
  // De-chunk in place once the terminating chunk is there.
  char *r = b, *w = b;
  for (;;) {
    char *eol = strstr(r, "\r\n");
    if (!eol) return 0;
    long size = strtol(r, NULL, 16);
    if (size == 0) {
      if (strncmp(eol, "\r\n\r\n", 4) != 0) return 0;
      *w = 0;
      *body = b, *body_len = (size_t)(w - b);
      return 1;
    }
    if ((size_t)(eol + 2 + size + 2 - c->buf) > c->len) return 0;
    memmove(w, eol + 2, (size_t)size);
    w += size;
    r = eol + 2 + size + 2;
  }
}

static void on_response(Conn *c, int status, char *body) {
  double t = now();
  set_state(c, IDLE);
  c->last = t;
  if (!c->blocking) {
    if (status != 200) fail(c, "plain request not 200");
    else if (c == fetch_conn && !fetched) fetched = strdup(body);
    return;
  }
  parked_answers++;
  last_answer = t;
  if (status != 200) {
    other_status++;
    return;
  }
  ok200++;
  if (first_ok < 0) first_ok = t;
  long next, parts;
  playlist_edge(body, &next, &parts);
  if (target_msn < next || (target_part >= 0 && target_msn == next && parts > target_part)) with_target++;
}

static void on_readable(Conn *c) {
  for (;;) {
    if (c->cap - c->len < 65536) {
      c->cap = c->cap * 2 + 65536;
      c->buf = realloc(c->buf, c->cap + 1);
      if (!c->buf) {
        perror("realloc");
        exit(2);
      }
    }
    ssize_t n = read(c->fd, c->buf + c->len, c->cap - c->len);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n <= 0) {
      fail(c, n == 0 ? (c->state == IDLE ? "closed by the server while idle" : "closed mid-response")
                     : strerror(errno));
      return;
    }
    c->len += (size_t)n;
  }
  if (c->state != READING) return;
  int status;
  char *body;
  size_t blen;
  if (complete(c, &status, &body, &blen)) {
    body[blen] = 0;
    on_response(c, status, body);
    c->len = 0;
    if (c->cap > 65536 * 4) { // a playlist is small: do not keep large buffers
      free(c->buf);
      c->buf = NULL;
      c->cap = 0;
    }
  }
}

static void on_writable(Conn *c) {
  int err = 0;
  socklen_t l = sizeof err;
  getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
  if (err) {
    fail(c, strerror(err));
    return;
  }
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
  epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
  send_req(c, plain_req, 0);
}

static void start_connect(Conn *c) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, host, &a.sin_addr);
  set_state(c, CONNECTING);
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (c->fd < 0) {
    fail(c, strerror(errno));
    return;
  }
  struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = c};
  epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
  if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) fail(c, strerror(errno));
}

static void poll_once(int timeout_ms) {
  struct epoll_event evs[512];
  int n = epoll_wait(epfd, evs, 512, timeout_ms);
  for (int i = 0; i < n; i++) {
    Conn *c = evs[i].data.ptr;
    if (c->state == FAILED) continue;
    if (c->state == CONNECTING) {
      if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_writable(c);
    } else {
      on_readable(c);
    }
  }
}

// While connections open: a plain request on every connection idle for 5 s.
static void refresh_idle(void) {
  double t = now();
  for (int i = 0; i < n_conns; i++)
    if (conns[i].state == IDLE && t - conns[i].last > 5) {
      send_req(&conns[i], plain_req, 0);
      refreshes++;
    }
}

int main(int argc, char **argv) {
  int segments = 0;
  n_conns = 10000;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--port") && i + 1 < argc) port = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--path") && i + 1 < argc) path = argv[++i];
    else if (!strcmp(argv[i], "--pid") && i + 1 < argc) pid = atoi(argv[++i]);
    else if (!strcmp(argv[i], "-n") && i + 1 < argc) n_conns = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--host") && i + 1 < argc) host = argv[++i];
    else if (!strcmp(argv[i], "--segments")) segments = 1;
    else {
      fprintf(stderr, "usage: %s --port P --path PATH --pid PID [-n N] [--segments]\n", argv[0]);
      return 2;
    }
  }
  if (!port || !path || pid <= 0 || n_conns <= 0) {
    fprintf(stderr, "--port, --path and --pid are required\n");
    return 2;
  }
  snprintf(plain_req, sizeof plain_req, "GET %s HTTP/1.1\r\nHost: %s:%d\r\n\r\n", path, host, port);
  conns = calloc((size_t)n_conns, sizeof *conns);
  in_state[NEW] = n_conns; // calloc: every state is NEW
  epfd = epoll_create1(0);
  long rss_base = status_kib("VmRSS:");

  // 1. Open, at most 256 handshakes + first requests in flight.
  double t0 = now();
  int next = 0;
  while (next < n_conns || in_state[CONNECTING] + in_state[READING] > 0) {
    while (next < n_conns && in_state[CONNECTING] + in_state[READING] < 256) start_connect(&conns[next++]);
    poll_once(10);
    refresh_idle();
    if (now() - t0 > 120) break;
  }
  double connect_s = now() - t0;
  int open_idle = in_state[IDLE];
  long rss_idle = status_kib("VmRSS:");

  // 2. The playlist on the first open connection, the target.
  Conn *c0 = NULL;
  for (int i = 0; i < n_conns && !c0; i++)
    if (conns[i].state == IDLE) c0 = &conns[i];
  if (!c0) {
    printf("{\"n\": %d, \"open\": 0, \"first_failure\": \"%s\"}\n", n_conns, first_failure);
    return 1;
  }
  fetch_conn = c0;
  send_req(c0, plain_req, 0);
  while (!fetched && c0->state == READING) poll_once(10);
  if (!fetched) {
    printf("{\"n\": %d, \"open\": %d, \"first_failure\": \"playlist fetch: %s\"}\n", n_conns,
           open_idle, first_failure);
    return 1;
  }
  long hint_msn, hint_part;
  playlist_edge(fetched, &hint_msn, &hint_part);
  target_msn = hint_msn + 1;
  target_part = segments ? -1 : hint_part;
  if (segments)
    snprintf(park_req, sizeof park_req, "GET %s?_HLS_msn=%ld HTTP/1.1\r\nHost: %s:%d\r\n\r\n", path,
             target_msn, host, port);
  else
    snprintf(park_req, sizeof park_req, "GET %s?_HLS_msn=%ld&_HLS_part=%ld HTTP/1.1\r\nHost: %s:%d\r\n\r\n",
             path, target_msn, target_part, host, port);

  // 3. Park on every open connection; sample RSS until the first 200.
  double cpu0 = cpu_s(), ts = now();
  int parked = 0;
  for (int i = 0; i < n_conns; i++)
    if (conns[i].state == IDLE) send_req(&conns[i], park_req, 1), parked++;
  double sent_s = now() - ts;
  long rss_parked = 0, samples = 0;
  double next_sample = 0;
  while (first_ok < 0 && parked_answers < parked && now() - ts < 30) {
    if (now() >= next_sample) {
      long r = status_kib("VmRSS:");
      if (r > rss_parked) rss_parked = r;
      samples++;
      next_sample = now() + 0.02;
    }
    poll_once(5);
  }
  double parked_for = (first_ok > 0 ? first_ok : now()) - ts, cpu1 = cpu_s();
  // 4. Every answer.
  while (parked_answers < parked && in_state[READING] > 0 && now() - ts < 30) poll_once(10);
  double cpu2 = cpu_s();
  printf("{\"n\": %d, \"rss_baseline_kib\": %ld, \"connect_s\": %.2f, \"open\": %d, "
         "\"connect_failures\": %ld, \"keepalive_refreshes\": %ld, \"rss_idle_conns_kib\": %ld, "
         "\"hint\": [%ld, %ld], \"target\": [%ld, %ld], \"sent_s\": %.3f, \"parked_for_s\": %.2f, "
         "\"rss_samples\": %ld, \"rss_parked_kib\": %ld, \"server_cpu_parking_s\": %.2f, "
         "\"server_cpu_answering_s\": %.2f, \"hwm_kib\": %ld, \"rss_after_kib\": %ld, "
         "\"statuses\": {\"200\": %ld, \"other\": %ld, \"unanswered\": %ld}, \"ok_with_part\": %ld, "
         "\"answer_spread_ms\": %.0f, \"first_failure\": \"%s\"}\n",
         n_conns, rss_base, connect_s, open_idle, failures, refreshes, rss_idle, hint_msn,
         segments ? -1 : hint_part, target_msn, target_part, sent_s, parked_for, samples, rss_parked,
         cpu1 - cpu0, cpu2 - cpu1, status_kib("VmHWM:"), status_kib("VmRSS:"), ok200, other_status,
         parked - parked_answers, with_target, first_ok > 0 ? (last_answer - first_ok) * 1000 : -1,
         first_failure);
  return with_target == n_conns ? 0 : 1;
}
