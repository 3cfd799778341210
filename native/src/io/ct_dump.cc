#include "io/ct_dump.h"

#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace ct {
namespace {

// Dump replies are built in skbs of up to 32 KiB (netlink_dump); a bit more room costs nothing.
constexpr size_t kDumpRecv = 64 * 1024;
constexpr time_t kRecvTimeoutSec = 5;
constexpr time_t kDumpDeadlineSec = 30;

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

std::string sys_error(const std::string& what) { return what + ": " + std::strerror(errno); }

}  // namespace

bool dump_table(int family, size_t chunk_records, const std::function<void(const std::vector<uint8_t>&)>& on_chunk,
                DumpResult& result, std::string& err) {
  Fd s{socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER)};
  if (s.fd < 0) {
    err = sys_error("socket(AF_NETLINK, NETLINK_NETFILTER)");
    return false;
  }
  struct {
    nlmsghdr h;
    nfgenmsg g;
  } req{};
  req.h.nlmsg_len = sizeof req;
  req.h.nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.h.nlmsg_seq = 1;
  req.g.nfgen_family = uint8_t(family == 6 ? AF_INET6 : AF_INET);
  req.g.version = NFNETLINK_V0;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(s.fd, &req, sizeof req, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) != ssize_t(sizeof req)) {
    err = sys_error("send conntrack dump request");
    return false;
  }
  // The kernel builds the dump itself, but a receive must never wait forever: each read waits at
  // most kRecvTimeout, and the whole dump gives up after kDumpDeadline (it blocks its caller).
  const timeval recv_timeout{kRecvTimeoutSec, 0};
  if (setsockopt(s.fd, SOL_SOCKET, SO_RCVTIMEO, &recv_timeout, sizeof recv_timeout) != 0) {
    err = sys_error("setsockopt(SO_RCVTIMEO) on the conntrack dump socket");
    return false;
  }
  const time_t deadline = time(nullptr) + kDumpDeadlineSec;
  std::vector<uint8_t> buf(kDumpRecv);
  std::vector<uint8_t> records;
  records.reserve(chunk_records * kRecordBytes);
  for (;;) {
    const ssize_t n = recv(s.fd, buf.data(), buf.size(), MSG_TRUNC);
    if (n < 0) {
      if (errno == EINTR) continue;
      err = (errno == EAGAIN || errno == EWOULDBLOCK)
                ? "receive conntrack dump: no reply within " + std::to_string(kRecvTimeoutSec) + " s"
                : sys_error("receive conntrack dump");
      return false;
    }
    if (time(nullptr) > deadline) {
      err = "conntrack dump: not finished within " + std::to_string(kDumpDeadlineSec) + " s";
      return false;
    }
    if (size_t(n) > buf.size()) {
      err = "receive conntrack dump: a " + std::to_string(n) + "-byte reply exceeds the " + std::to_string(buf.size()) + "-byte buffer";
      return false;
    }
    if (n >= ssize_t(sizeof(nlmsghdr)) && (reinterpret_cast<const nlmsghdr*>(buf.data())->nlmsg_flags & NLM_F_DUMP_INTR))
      result.interrupted = true;
    const BatchStats b = parse_batch(buf.data(), size_t(n), Source::kDump, records);
    result.entries += b.records;
    result.malformed += b.malformed;
    if (b.error != 0) {
      errno = -b.error;
      err = sys_error("conntrack dump");
      return false;
    }
    if (records.size() >= chunk_records * kRecordBytes || (b.done && !records.empty())) {
      on_chunk(records);
      records.clear();
    }
    if (b.done) return true;
  }
}

}  // namespace ct
