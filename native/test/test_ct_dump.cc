// ct::read_dump, the receiving half of the conntrack table dump, on a socketpair standing in for
// the netlink socket: entries in chunks up to NLMSG_DONE, an NLMSG_ERROR, and the two limits that
// keep a dump from blocking the event loop forever (a silent peer: the receive timeout; a peer that
// never finishes: the overall deadline), with limits of milliseconds instead of the 5 s / 30 s.
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "check.h"
#include "ct_msg.h"
#include "io/ct_dump.h"

namespace {

using ctmsg::Msg;

struct Pair {
  int fd[2] = {-1, -1};
  Pair() { CHECK_EQ(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, fd), 0); }
  ~Pair() {
    close(fd[0]);
    close(fd[1]);
  }
  void send(const std::vector<uint8_t>& d) const { CHECK_EQ(::send(fd[1], d.data(), d.size(), 0), ssize_t(d.size())); }
};

// A dump reply: one IPv4 TCP entry (CT_NEW without NLM_F_CREATE, NLM_F_MULTI).
std::vector<uint8_t> entry(uint32_t id) {
  Msg m(0, 0x2, 2);
  ctmsg::tuple4(m, 1, {10, 16, 0, 100}, {198, 51, 100, 10}, 6, 40000, 443);
  ctmsg::tuple4(m, 2, {198, 51, 100, 10}, {172, 17, 0, 11}, 6, 443, 1025);
  m.be(12, id, 4);
  return m.done();
}

const std::vector<uint8_t> kDone = {20, 0, 0, 0, 3, 0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};

struct Run {
  bool ok = false;
  std::string err;
  ct::DumpResult r;
  std::vector<size_t> chunks;  // records per chunk
};

Run read(const Pair& p, ct::DumpLimits limits, size_t chunk_records = 2) {
  Run run;
  run.ok = ct::read_dump(p.fd[0], limits, chunk_records, [&](const std::vector<uint8_t>& recs) { run.chunks.push_back(recs.size() / ct::kRecordBytes); },
                         run.r, run.err);
  return run;
}

}  // namespace

TEST("ct dump: entries in chunks until NLMSG_DONE") {
  Pair p;
  for (uint32_t id = 1; id <= 5; id++) p.send(entry(id));
  p.send(kDone);
  const Run run = read(p, ct::DumpLimits{1000, 5000});
  CHECK(run.ok);
  CHECK_EQ(run.err, std::string());
  CHECK_EQ(run.r.entries, size_t(5));
  CHECK(run.chunks == (std::vector<size_t>{2, 2, 1}));
}

TEST("ct dump: an NLMSG_ERROR ends it with the errno's text") {
  Pair p;
  p.send(entry(1));
  p.send({36, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});  // -EPERM
  const Run run = read(p, ct::DumpLimits{1000, 5000});
  CHECK(!run.ok);
  CHECK_EQ(run.err, std::string("conntrack dump: Operation not permitted"));
}

TEST("ct dump: a silent peer ends it at the receive timeout") {
  Pair p;
  p.send(entry(1));
  const auto t0 = std::chrono::steady_clock::now();
  const Run run = read(p, ct::DumpLimits{100, 60000});
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  CHECK(!run.ok);
  CHECK_EQ(run.err, std::string("receive conntrack dump: no reply within 100 ms"));
  CHECK_EQ(run.r.entries, size_t(1));
  CHECK(waited >= 90);  // it did wait (SO_RCVTIMEO), rather than fail at once
}

TEST("ct dump: a peer that never finishes ends it at the deadline, though every receive is in time") {
  Pair p;
  std::atomic<bool> stop{false};
  // One entry every 20 ms, never NLMSG_DONE: each receive is well within its 1 s timeout.
  std::thread peer([&] {
    for (uint32_t id = 1; !stop && id < 500; id++) {
      const std::vector<uint8_t> e = entry(id);
      if (::send(p.fd[1], e.data(), e.size(), MSG_DONTWAIT) < 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  const Run run = read(p, ct::DumpLimits{1000, 200});
  stop = true;
  peer.join();
  CHECK(!run.ok);
  CHECK_EQ(run.err, std::string("conntrack dump: not finished within 200 ms"));
  CHECK(run.r.entries >= 3);
}

TEST("ct dump: limits in whole seconds are named in seconds") {
  Pair p;
  const Run run = read(p, ct::DumpLimits{1000, 30000});
  CHECK_EQ(run.err, std::string("receive conntrack dump: no reply within 1 s"));
}
