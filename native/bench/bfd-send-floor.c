/* The physical floor for the BFD benchmark (scripts/bench/bfd.ts, "drops"): sends what the engine
 * sends and nothing else. One UDP socket per session, bound like the engine's (local address,
 * source ports from 49152, TTL 255, CS6) and connected to PEER:3784; a 24-byte Control packet per
 * session every INTERVAL_US x U(0.75, 1) (RFC 5880 6.8.7 jitter, as the engine); due packets are
 * sent in passes at most BATCH_US apart (the engine's batching at >= 64 sessions), one send()
 * each. No receiving, no protocol. Peer addresses come one per line on stdin.
 *
 *   bfd-send-floor LOCAL INTERVAL_US SECONDS [BATCH_US] < peers.txt
 *
 * Prints JSON: packets sent and failed, and the CPU time (user + system, µs) of the sending loop
 * alone (the sockets' setup excluded, as the engine's is excluded from its window).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SESSIONS 4096

static int64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint32_t next32(void) { /* xorshift64*, as cheap as the engine's */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (uint32_t)((rng_state * 0x2545f4914f6cdd1du) >> 32);
}

static int64_t jittered(int64_t interval) { return interval * 3 / 4 + (int64_t)(next32() % (uint32_t)(interval / 4 + 1)); }

static int die(const char* what) {
  fprintf(stderr, "bfd-send-floor: %s: %s\n", what, strerror(errno));
  return 1;
}

/* Binds to LOCAL on the first free port from *port on and connects to PEER:3784. */
static int open_session(int af, const void* local, const void* peer, uint16_t* port) {
  int fd = socket(af, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1, ttl = 255, tos = 0xc0;
  if (setsockopt(fd, SOL_IP, IP_FREEBIND, &one, sizeof one) != 0 ||
      (af == AF_INET ? setsockopt(fd, SOL_IP, IP_TTL, &ttl, sizeof ttl) || setsockopt(fd, SOL_IP, IP_TOS, &tos, sizeof tos)
                     : setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof ttl) ||
                           setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof tos))) {
    close(fd);
    return -1;
  }
  struct sockaddr_storage a, b;
  socklen_t len;
  memset(&a, 0, sizeof a);
  memset(&b, 0, sizeof b);
  if (af == AF_INET) {
    struct sockaddr_in *l = (struct sockaddr_in*)&a, *r = (struct sockaddr_in*)&b;
    l->sin_family = r->sin_family = AF_INET;
    memcpy(&l->sin_addr, local, 4);
    memcpy(&r->sin_addr, peer, 4);
    r->sin_port = htons(3784);
    len = sizeof *l;
  } else {
    struct sockaddr_in6 *l = (struct sockaddr_in6*)&a, *r = (struct sockaddr_in6*)&b;
    l->sin6_family = r->sin6_family = AF_INET6;
    memcpy(&l->sin6_addr, local, 16);
    memcpy(&r->sin6_addr, peer, 16);
    r->sin6_port = htons(3784);
    len = sizeof *l;
  }
  for (; *port != 0; (*port)++) { /* wraps to 0 after 65535: out of ports */
    if (af == AF_INET) ((struct sockaddr_in*)&a)->sin_port = htons(*port);
    else ((struct sockaddr_in6*)&a)->sin6_port = htons(*port);
    if (bind(fd, (struct sockaddr*)&a, len) == 0) break;
    if (errno != EADDRINUSE) break;
  }
  if (*port == 0 || connect(fd, (struct sockaddr*)&b, len) != 0) {
    close(fd);
    return -1;
  }
  (*port)++;
  return fd;
}

int main(int argc, char** argv) {
  if (argc < 4 || argc > 5) {
    fprintf(stderr, "usage: bfd-send-floor LOCAL INTERVAL_US SECONDS [BATCH_US] < peers.txt\n");
    return 2;
  }
  unsigned char local[16], peer[16];
  const int af = inet_pton(AF_INET, argv[1], local) == 1 ? AF_INET : AF_INET6;
  if (af == AF_INET6 && inet_pton(AF_INET6, argv[1], local) != 1) {
    fprintf(stderr, "bfd-send-floor: LOCAL '%s' is not an IP address\n", argv[1]);
    return 2;
  }
  const long interval = strtol(argv[2], NULL, 10), seconds = strtol(argv[3], NULL, 10);
  const long batch = argc == 5 ? strtol(argv[4], NULL, 10) : 500;
  if (interval < 1000 || interval > 10000000 || seconds < 1 || seconds > 3600 || batch < 0 || batch > 100000) {
    fprintf(stderr, "bfd-send-floor: INTERVAL_US 1000..10000000, SECONDS 1..3600, BATCH_US 0..100000\n");
    return 2;
  }
  static int fds[MAX_SESSIONS];
  static int64_t due[MAX_SESSIONS];
  static unsigned char pkt[MAX_SESSIONS][24];
  int n = 0;
  uint16_t port = 49152;
  char line[128];
  const int64_t t0 = now_us();
  while (n < MAX_SESSIONS && fgets(line, sizeof line, stdin)) {
    line[strcspn(line, "\r\n")] = 0;
    if (!line[0]) continue;
    if (inet_pton(af, line, peer) != 1) {
      fprintf(stderr, "bfd-send-floor: peer '%s' is not an address of LOCAL's family\n", line);
      return 2;
    }
    fds[n] = open_session(af, local, peer, &port);
    if (fds[n] < 0) return die(line);
    /* Version 1, Down, multiplier 3, length 24, My Discriminator, intervals = INTERVAL_US. */
    unsigned char* p = pkt[n];
    const uint32_t discr = htonl(0x2000u + (uint32_t)n), iv = htonl((uint32_t)interval);
    memset(p, 0, 24);
    p[0] = 1 << 5;
    p[1] = 1 << 6;
    p[2] = 3;
    p[3] = 24;
    memcpy(p + 4, &discr, 4);
    memcpy(p + 12, &iv, 4);
    memcpy(p + 16, &iv, 4);
    due[n] = t0 + jittered(interval);
    n++;
  }
  struct rusage r0, r1;
  getrusage(RUSAGE_SELF, &r0);
  const int64_t start = now_us(), end = start + (int64_t)seconds * 1000000;
  uint64_t sent = 0, failed = 0;
  for (;;) {
    const int64_t now = now_us();
    if (now >= end) break;
    int64_t next = end;
    for (int i = 0; i < n; i++) {
      if (due[i] <= now) {
        if (send(fds[i], pkt[i], 24, MSG_DONTWAIT) == 24) sent++;
        else failed++;
        due[i] = now + jittered(interval);
      }
      if (due[i] < next) next = due[i];
    }
    if (next < now + batch) next = now + batch;
    struct timespec ts = {(time_t)(next / 1000000), (long)(next % 1000000) * 1000};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
  }
  getrusage(RUSAGE_SELF, &r1);
  const int64_t wall = now_us() - start;
  const int64_t cpu = ((int64_t)r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) * 1000000 +
                      (r1.ru_utime.tv_usec - r0.ru_utime.tv_usec) + (r1.ru_stime.tv_usec - r0.ru_stime.tv_usec);
  printf("{\"sessions\":%d,\"sent\":%llu,\"failed\":%llu,\"cpuUs\":%lld,\"wallUs\":%lld}\n", n, (unsigned long long)sent,
         (unsigned long long)failed, (long long)cpu, (long long)wall);
  return 0;
}
