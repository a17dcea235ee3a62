// SPDX-License-Identifier: MIT OR Apache-2.0
// The floor of a TCP fan-out on this machine: what the events benchmark's WebSocket fan-out
// (10,000 subscribers, ~5 events/s, last subscriber p50/p99) would measure if the server did
// nothing but the kernel's work. No HTTP, no WebSocket framing, no JSON, no runtime: a C
// server writes one BYTES-byte message per event to each of N loopback connections (one
// `write` each, from THREADS threads at nice SERVER_NICE, TCP_NODELAY like hlsorigin's
// sockets), and a C client (one thread, epoll, its own process) reads them and records, per
// event, when it reached its last connection. Same cadence (5 events/s) and the same
// figures as examples/events_load.rs; benches/events.sh (phase floor) runs it beside ours.
//
//   cc -O2 -pthread -o fanout_floor benches/fanout_floor.c
//   ./fanout_floor [-n 10000] [--events 100] [--threads 2] [--server-nice 10]
//                  [--client-nice 0] [--bytes 190] [--port 19299]
//
// Prints one line: events that reached all N, last subscriber p50/p99/max (ms), CPU per
// delivery of server and client (µs). Exit 1 if a socket fails or an event is lost.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { MAX_BYTES = 4096, MAX_THREADS = 16 };

static int n = 10000, events = 100, threads = 2, server_nice = 10, client_nice = 0;
static int bytes = 190, port = 19299;
static int *server_fds;
static char message[MAX_BYTES];
static pthread_barrier_t start_event, end_event;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static double cpu_s(int who) {
  struct rusage r;
  getrusage(who, &r);
  return r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6 + r.ru_stime.tv_sec +
         r.ru_stime.tv_usec / 1e6;
}

static void die(const char *what) {
  perror(what);
  exit(1);
}

// Server thread `id`: on each event, one write to every THREADS-th connection.
static void *writer(void *arg) {
  long id = (long)arg;
  setpriority(PRIO_PROCESS, gettid(), server_nice);
  for (int e = 0; e < events; e++) {
    pthread_barrier_wait(&start_event);
    for (int i = id; i < n; i += threads)
      if (write(server_fds[i], message, bytes) != bytes) die("server write");
    pthread_barrier_wait(&end_event);
  }
  return NULL;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

// The client process: connects N sockets, then reads until every event reached all of them
// (or 10 s pass without data). A message carries its event number and its send time.
static int client(const struct sockaddr_in *addr) {
  setpriority(PRIO_PROCESS, 0, client_nice);
  int ep = epoll_create1(0);
  for (int i = 0; i < n; i++) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0 || connect(s, (const struct sockaddr *)addr, sizeof *addr)) die("connect");
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = s};
    epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
  }
  double *last = calloc(events, sizeof *last), *sent = calloc(events, sizeof *sent);
  int *reached = calloc(events, sizeof *reached);
  long delivered = 0, want = (long)n * events;
  struct epoll_event ready[256];
  static char buf[16 * MAX_BYTES];
  double cpu0 = cpu_s(RUSAGE_SELF);
  while (delivered < want) {
    int k = epoll_wait(ep, ready, 256, 10000);
    if (k <= 0) break;
    for (int j = 0; j < k; j++) {
      // Messages are whole: each is far below the socket buffer and read in one go.
      ssize_t r = read(ready[j].data.fd, buf, sizeof buf);
      double t = now();
      for (ssize_t o = 0; o + bytes <= r; o += bytes) {
        int e;
        memcpy(&e, buf + o, sizeof e);
        if (e < 0 || e >= events) continue;
        memcpy(&sent[e], buf + o + 8, sizeof sent[e]);
        last[e] = t;
        reached[e]++;
        delivered++;
      }
    }
  }
  double cpu = cpu_s(RUSAGE_SELF) - cpu0;
  double *lat = calloc(events, sizeof *lat);
  int complete = 0;
  for (int e = 0; e < events; e++)
    if (reached[e] == n) lat[complete++] = (last[e] - sent[e]) * 1e3;
  qsort(lat, complete, sizeof *lat, by_value);
  printf("floor: %d events in %.0f s, %d reached all %d; last subscriber p50 %.1f ms p99 %.1f ms "
         "max %.1f ms; client CPU %.2f us per delivery",
         events, events / 5.0, complete, n, complete ? lat[complete / 2] : 0,
         complete ? lat[(int)(complete * 0.99)] : 0, complete ? lat[complete - 1] : 0,
         delivered ? cpu / delivered * 1e6 : 0);
  fflush(stdout);
  return complete == events ? 0 : 1;
}

int main(int argc, char **argv) {
  for (int i = 1; i + 1 < argc; i += 2) {
    int v = atoi(argv[i + 1]);
    if (!strcmp(argv[i], "-n")) n = v;
    else if (!strcmp(argv[i], "--events")) events = v;
    else if (!strcmp(argv[i], "--threads")) threads = v;
    else if (!strcmp(argv[i], "--server-nice")) server_nice = v;
    else if (!strcmp(argv[i], "--client-nice")) client_nice = v;
    else if (!strcmp(argv[i], "--bytes")) bytes = v;
    else if (!strcmp(argv[i], "--port")) port = v;
    else {
      fprintf(stderr, "unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (bytes < 16 || bytes > MAX_BYTES || threads < 1 || threads > MAX_THREADS || n < 1 ||
      events < 1) {
    fprintf(stderr, "bad options\n");
    return 2;
  }
  int listener = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listener, (struct sockaddr *)&addr, sizeof addr) || listen(listener, 4096))
    die("listen");
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) exit(client(&addr));
  server_fds = calloc(n, sizeof *server_fds);
  for (int i = 0; i < n; i++) {
    if ((server_fds[i] = accept(listener, NULL, NULL)) < 0) die("accept");
    setsockopt(server_fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  sleep(1);
  pthread_barrier_init(&start_event, NULL, threads + 1);
  pthread_barrier_init(&end_event, NULL, threads + 1);
  pthread_t th[MAX_THREADS];
  for (long i = 0; i < threads; i++) pthread_create(&th[i], NULL, writer, (void *)i);
  memset(message, 'x', sizeof message);
  double cpu0 = cpu_s(RUSAGE_SELF);
  struct timespec due;
  clock_gettime(CLOCK_MONOTONIC, &due);
  for (int e = 0; e < events; e++) {
    // Every 200 ms (5 events/s), or at once when a fan-out took longer.
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL);
    due.tv_nsec += 200000000;
    if (due.tv_nsec >= 1000000000) {
      due.tv_sec++;
      due.tv_nsec -= 1000000000;
    }
    double t = now();
    memcpy(message, &e, sizeof e);
    memcpy(message + 8, &t, sizeof t);
    pthread_barrier_wait(&start_event);
    pthread_barrier_wait(&end_event);
  }
  double cpu = cpu_s(RUSAGE_SELF) - cpu0;
  int status = 1;
  waitpid(child, &status, 0);
  printf(", server CPU %.2f us per delivery\n", cpu / ((double)n * events) * 1e6);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
