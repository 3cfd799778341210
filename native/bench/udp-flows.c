/* New UDP flows at a fixed rate, for the SNAT record test and benchmark: one datagram per flow, each
 * to its own destination port (a new conntrack entry each), from a few client sockets.
 * Flow i goes from sports[i / PER_SOCKET] to DST:BASE_PORT + (i % PER_SOCKET); the flows due are
 * sent in passes 1 ms apart, with sendmmsg (one system call per pass and socket).
 *
 *   udp-flows SRC DST RATE MS BASE_PORT
 *
 * Prints one JSON line: { sent, failed, ms, sports, perSocket, basePort }.
 * C with sendmmsg, not a scripting language: each datagram's forwarding, NAT and conntrack event
 * already cost the sending CPU in the kernel; a sender's own per-datagram cost (a Python sendto was
 * several microseconds) decided whether a shared 2-core machine reached 40,000 flows/s at all.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PER_SOCKET 50000
#define MAX_SOCKETS 64
#define BATCH 1024

static const char USAGE[] = "usage: udp-flows SRC DST RATE MS BASE_PORT";

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static long parse_num(const char *name, const char *s, long min, long max) {
  char *end = NULL;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
    fprintf(stderr, "udp-flows: %s must be an integer in [%ld, %ld], not '%s'\n%s\n", name, min, max, s, USAGE);
    exit(2);
  }
  return v;
}

/* An address (v4 or v6) with a port, as a sockaddr_storage; its length in *len. */
static void parse_addr(const char *name, const char *s, uint16_t port, struct sockaddr_storage *out, socklen_t *len) {
  memset(out, 0, sizeof *out);
  struct sockaddr_in *v4 = (struct sockaddr_in *)out;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
  if (inet_pton(AF_INET, s, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    *len = sizeof *v4;
  } else if (inet_pton(AF_INET6, s, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    *len = sizeof *v6;
  } else {
    fprintf(stderr, "udp-flows: %s is not an IP address: '%s'\n%s\n", name, s, USAGE);
    exit(2);
  }
}

static void set_port(struct sockaddr_storage *a, uint16_t port) {
  if (a->ss_family == AF_INET) ((struct sockaddr_in *)a)->sin_port = htons(port);
  else ((struct sockaddr_in6 *)a)->sin6_port = htons(port);
}

static uint16_t get_port(const struct sockaddr_storage *a) {
  return ntohs(a->ss_family == AF_INET ? ((const struct sockaddr_in *)a)->sin_port : ((const struct sockaddr_in6 *)a)->sin6_port);
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "%s\n", USAGE);
    return 2;
  }
  const long rate = parse_num("RATE", argv[3], 1, 10000000);
  const long ms = parse_num("MS", argv[4], 1, 3600000);
  const long base_port = parse_num("BASE_PORT", argv[5], 1, 65535);
  struct sockaddr_storage src, dst;
  socklen_t src_len, dst_len;
  parse_addr("SRC", argv[1], 0, &src, &src_len);
  parse_addr("DST", argv[2], 0, &dst, &dst_len);
  if (src.ss_family != dst.ss_family) {
    fprintf(stderr, "udp-flows: SRC and DST are of different families\n%s\n", USAGE);
    return 2;
  }

  long per_socket = 65535 - base_port + 1;
  if (per_socket > MAX_PER_SOCKET) per_socket = MAX_PER_SOCKET;
  /* rate * ms / 1000, rounded up (as the callers compute the flows expected). */
  const long long total = ((long long)rate * ms + 999) / 1000;
  const long long nsock = (total + per_socket - 1) / per_socket;
  if (nsock > MAX_SOCKETS) {
    fprintf(stderr, "udp-flows: %lld flows need %lld sockets, more than %d\n", total, nsock, MAX_SOCKETS);
    return 2;
  }
  int fds[MAX_SOCKETS];
  uint16_t sports[MAX_SOCKETS];
  for (long long i = 0; i < nsock; i++) {
    fds[i] = socket(src.ss_family, SOCK_DGRAM, 0);
    if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&src, src_len) != 0) {
      fprintf(stderr, "udp-flows: socket bound to %s: %s\n", argv[1], strerror(errno));
      return 1;
    }
    struct sockaddr_storage bound;
    socklen_t bl = sizeof bound;
    if (getsockname(fds[i], (struct sockaddr *)&bound, &bl) != 0) {
      fprintf(stderr, "udp-flows: getsockname: %s\n", strerror(errno));
      return 1;
    }
    sports[i] = get_port(&bound);
  }

  static struct sockaddr_storage addrs[BATCH];
  static struct mmsghdr msgs[BATCH];
  static struct iovec iov;
  static char payload[1] = {'x'};
  iov.iov_base = payload;
  iov.iov_len = sizeof payload;

  long long sent = 0, failed = 0, queued = 0;
  const int64_t t0 = now_ns();
  while (queued < total) {
    long long due = (long long)((double)(now_ns() - t0) * (double)rate / 1e9);
    if (due > total) due = total;
    while (queued < due) {
      /* One batch: at most BATCH flows, all from the same socket. */
      const long long sock = queued / per_socket;
      long long end = (sock + 1) * per_socket;
      if (end > due) end = due;
      if (end - queued > BATCH) end = queued + BATCH;
      const unsigned n = (unsigned)(end - queued);
      for (unsigned k = 0; k < n; k++) {
        addrs[k] = dst;
        set_port(&addrs[k], (uint16_t)(base_port + (queued + k) % per_socket));
        memset(&msgs[k], 0, sizeof msgs[k]);
        msgs[k].msg_hdr.msg_name = &addrs[k];
        msgs[k].msg_hdr.msg_namelen = dst_len;
        msgs[k].msg_hdr.msg_iov = &iov;
        msgs[k].msg_hdr.msg_iovlen = 1;
      }
      unsigned done = 0;
      while (done < n) {
        int r = sendmmsg(fds[sock], msgs + done, n - done, 0);
        if (r > 0) {
          done += (unsigned)r;
          sent += r;
        } else if (r < 0 && errno == EINTR) {
          continue;
        } else {
          /* The first message of the rest failed: count it, go on with the next. */
          done++;
          failed++;
        }
      }
      queued = end;
    }
    const struct timespec step = {0, 1000000};
    nanosleep(&step, NULL);
  }
  const long long elapsed_ms = (now_ns() - t0 + 500000) / 1000000;
  printf("{\"sent\":%lld,\"failed\":%lld,\"ms\":%lld,\"sports\":[", sent, failed, elapsed_ms);
  for (long long i = 0; i < nsock; i++) printf("%s%u", i ? "," : "", sports[i]);
  printf("],\"perSocket\":%ld,\"basePort\":%ld}\n", per_socket, base_port);
  for (long long i = 0; i < nsock; i++) close(fds[i]);
  return 0;
}
