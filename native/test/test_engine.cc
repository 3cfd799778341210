// The engine thread on loopback (no Node): its bounded queue of events for the JS thread, and
// that the notify callback runs with no engine lock held. Sessions use 127.66.x.y (IP_FREEBIND)
// and never reach a peer: their state changes come from admin down/up.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <thread>

#include "check.h"
#include "io/engine.h"

namespace {
using namespace bfd;
using bfd::io::Engine;

Addr addr(const std::string& s) {
  Addr a;
  CHECK(io::parse_addr(s, a));
  return a;
}

SessionConfig cfg(int i) {
  SessionConfig c;
  c.local = addr("127.66.0.1");
  c.remote = addr("127.66.1." + std::to_string(i + 1));
  c.local_discr = uint32_t(1000 + i);
  return c;
}

// Waits until `done` holds; gives up (a failure naming what it waited for) after about 5 s.
template <typename F>
void wait_until(F done, const char* what) {
  for (int i = 0; i < 5000; i++) {
    if (done()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  check::fail(__FILE__, __LINE__, std::string("gave up waiting for ") + what);
}

// A deadlocked engine thread would hang the suite in stop(): end the run with a message instead.
void on_alarm(int) {
  static const char msg[] = "FAIL engine test deadlocked (an engine lock held across the notify callback)\n";
  if (write(2, msg, sizeof msg - 1) < 0) { /* exiting anyway */ }
  _exit(1);
}
struct DeadlockGuard {
  DeadlockGuard() { signal(SIGALRM, on_alarm); alarm(30); }
  ~DeadlockGuard() { alarm(0); }
};

}  // namespace

TEST("engine: events for a busy JS thread are bounded, coalesced per session, and each session's last state is kept") {
  DeadlockGuard guard;
  constexpr size_t kCapacity = 8;
  constexpr int kSessions = 4, kRounds = 100;
  std::atomic<int> notified{0};
  Engine e([&] { notified++; }, kCapacity);  // the "JS thread" never takes the events meanwhile
  CHECK_EQ(e.start(), std::string());
  for (int i = 0; i < kSessions; i++) CHECK_EQ(e.add(cfg(i), ""), std::string());
  for (int r = 0; r < kRounds; r++)
    for (int i = 0; i < kSessions; i++) {
      CHECK_EQ(e.admin_down(cfg(i).local, cfg(i).remote, Diag::AdminDown), std::string());
      CHECK_EQ(e.admin_up(cfg(i).local, cfg(i).remote), std::string());
    }
  for (int i = 0; i < 2; i++) CHECK_EQ(e.admin_down(cfg(i).local, cfg(i).remote, Diag::PathDown), std::string());
  // Commands apply in order: once a session added last exists, everything before it has run.
  CHECK_EQ(e.add(cfg(kSessions), ""), std::string());
  wait_until([&] { return e.status().size() == kSessions + 1; }, "the engine to apply every command");
  const std::vector<Event> evs = e.take_events();
  const size_t transitions = size_t(kSessions) * kRounds * 2 + 2;
  CHECK(evs.size() <= kCapacity + kSessions + 1);
  CHECK_EQ(evs.size() + e.stats().events_coalesced, transitions);  // each one delivered or merged, none lost
  std::map<uint32_t, State> last;
  for (const Event& ev : evs) last[ev.local_discr] = ev.to;
  for (int i = 0; i < kSessions; i++) CHECK(last.at(cfg(i).local_discr) == (i < 2 ? State::AdminDown : State::Down));
  CHECK(notified.load() >= 1);
  e.stop();
}

TEST("engine: the notify callback runs with no engine lock held (it may read the status)") {
  DeadlockGuard guard;
  std::atomic<int> calls{0};
  std::atomic<size_t> seen{0};
  Engine* engine = nullptr;
  // status() takes the engine's state lock: a callback made under it would deadlock here.
  Engine e([&] {
    seen = engine->status().size();
    calls++;
  });
  engine = &e;
  CHECK_EQ(e.start(), std::string());
  CHECK_EQ(e.add(cfg(0), ""), std::string());
  CHECK_EQ(e.admin_down(cfg(0).local, cfg(0).remote, Diag::AdminDown), std::string());
  wait_until([&] { return calls.load() > 0; }, "the notify callback");
  CHECK_EQ(seen.load(), size_t(1));
  CHECK_EQ(e.take_events().size(), size_t(1));
  e.stop();
}
