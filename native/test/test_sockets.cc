// The engine's UDP sockets on loopback: a transmit socket keeps the kernel's smallest receive
// buffer (it is never read), yet what arrives there is still counted and ICMP errors still reach
// the sender.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include "check.h"
#include "io/sockets.h"

namespace {
using namespace bfd;

// A plain UDP socket on 127.0.0.1 with a kernel-chosen port; returns the fd and sets `port`.
int plain_socket(uint16_t& port) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  CHECK(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  CHECK_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  port = ntohs(a.sin_port);
  return fd;
}

sockaddr_in loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

}  // namespace

TEST("sockets: a transmit socket has the smallest receive buffer; strays are counted as drops, ICMP errors still arrive") {
  Addr local;
  CHECK(io::parse_addr("127.0.0.1", local));
  std::string err;
  uint16_t tx_port = io::kSourcePortMin;
  const int tx = io::open_tx_socket(local, "", tx_port, err);
  CHECK_EQ(err, std::string());
  CHECK(tx >= 0);
  uint16_t peer_port = 0;
  const int peer = plain_socket(peer_port);
  io::ReceiveQueue q, plain;
  CHECK(io::receive_queue(tx, q));
  CHECK(io::receive_queue(peer, plain));
  // The kernel's floor (SOCK_MIN_RCVBUF, ~4.6 KiB with 64-bit sk_buffs) against the default
  // (net.core.rmem_default, 208 KiB unless tuned).
  CHECK(q.rcvbuf <= 8192);
  CHECK(q.rcvbuf < plain.rcvbuf);

  // The engine connects its transmit sockets to the peer: datagrams from the peer's port to our
  // source port are accepted, queued until the tiny buffer is full and dropped (counted) after.
  const sockaddr_in peer_addr = loopback(peer_port), tx_addr = loopback(tx_port);
  CHECK_EQ(connect(tx, reinterpret_cast<const sockaddr*>(&peer_addr), sizeof peer_addr), 0);
  const uint8_t junk[64] = {};
  constexpr int kStrays = 32;
  for (int i = 0; i < kStrays; i++)
    CHECK_EQ(sendto(peer, junk, sizeof junk, 0, reinterpret_cast<const sockaddr*>(&tx_addr), sizeof tx_addr), ssize_t(sizeof junk));
  CHECK(io::receive_queue(tx, q));
  CHECK(q.drops > 0);
  CHECK(q.queued <= q.rcvbuf);
  CHECK(q.queued > 0);

  // Our packets still go out; once the peer's port is closed, its ICMP port unreachable fails
  // the next send (the engine's retry in its sink relies on this), full buffer or not.
  CHECK_EQ(send(tx, junk, sizeof junk, 0), ssize_t(sizeof junk));
  close(peer);
  CHECK_EQ(send(tx, junk, sizeof junk, 0), ssize_t(sizeof junk));  // draws the ICMP error
  bool refused = false;
  for (int i = 0; i < 100 && !refused; i++) {  // loopback ICMP is synchronous; the loop is a margin
    refused = send(tx, junk, sizeof junk, 0) < 0 && errno == ECONNREFUSED;
    if (!refused) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  CHECK(refused);
  close(tx);
}
