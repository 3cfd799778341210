// The engine thread: owns the session table, the sockets, epoll and a CLOCK_MONOTONIC timerfd.
// All transmission, reception and detection happen here; with many sessions in batched passes
// (kBatchMinSessions in engine.cc). The JS thread talks to it through a locked command queue
// plus an eventfd, reads status under the state mutex, and is told about state changes in
// batches through one notify callback (a ThreadSafeFunction in the addon).
#pragma once
#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/table.h"
#include "io/sockets.h"

namespace bfd::io {

Micros mono_now();

struct SessionStatus {
  SessionConfig cfg;
  std::string device;
  uint16_t src_port = 0;
  State state = State::Down, remote_state = State::Down;
  Diag diag = Diag::None, remote_diag = Diag::None;
  uint32_t remote_discr = 0, remote_min_rx = 0, remote_min_tx = 0, adv_tx = 0, adv_rx = 0;
  uint8_t remote_mult = 0;
  bool poll_active = false;
  Micros tx_interval = 0, detect_time = 0, last_change = 0, last_rx = 0;
  Counters counters;
};

// A receive socket (one per local address) as the kernel sees it (SO_MEMINFO).
struct RxSocketStats {
  std::string local, device;
  size_t sessions = 0;
  uint32_t rcvbuf = 0, queued = 0;
  uint32_t drops = 0;  // datagrams the kernel dropped on this socket (buffer full): lost packets
};

struct EngineStats {
  uint64_t drops[kDropCount] = {};
  std::vector<RxSocketStats> rx_sockets;
  uint64_t events_coalesced = 0;  // state changes merged into a queued one because a queue was full
  uint64_t loops = 0;
  size_t sessions = 0;
  int realtime_priority = 0;   // SCHED_FIFO priority in effect, 0 = normal scheduling
  std::string realtime_error;  // why a requested priority could not be set
};

// State changes waiting for the JS thread; beyond this they are coalesced per session.
constexpr size_t kOutEventCapacity = 4096;

class Engine {
 public:
  // `notify` runs on the engine thread, never under an engine lock, when events become pending.
  explicit Engine(std::function<void()> notify, size_t out_event_capacity = kOutEventCapacity);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // JS-thread API. Each returns "" on success or an error naming the input.
  // rt_priority > 0 asks for SCHED_FIFO at that priority for the engine thread (needs
  // CAP_SYS_NICE); failure is not fatal and shows in stats().
  std::string start(int rt_priority = 0);
  std::string add(const SessionConfig& cfg, const std::string& device);
  std::string change(const SessionConfig& cfg);
  std::string remove(const Addr& local, const Addr& remote);
  std::string admin_down(const Addr& local, const Addr& remote, Diag diag);
  std::string admin_up(const Addr& local, const Addr& remote);
  void drain(Micros grace);  // completion arrives as an Event::Kind::Drained
  void stop();               // joins the thread and closes every socket

  std::vector<SessionStatus> status();
  EngineStats stats();
  std::vector<Event> take_events();
  bool running() const { return running_.load(); }
  Micros last_loop() const { return heartbeat_.load(); }
  Micros realtime_offset() const { return realtime_offset_; }  // epoch µs = mono µs + offset

 private:
  struct IoSession;
  struct Command {
    enum class Kind { Add, Change, Remove, AdminDown, AdminUp, Drain } kind;
    SessionConfig cfg;
    IoSession* io = nullptr;
    int rx_fd = -1;  // Add: the receive socket for the session's local address
    Diag diag = Diag::None;
    Micros grace = 0;
  };
  struct Mirror {  // what the JS thread knows, so it can validate without touching the table
    uint32_t discr;
    std::string device;
  };
  class Sink;

  void post(Command c);
  void loop();
  void apply(Command& c, Micros now);
  void sample_rx_clock(Micros now);
  void read_socket(int fd, Micros now);
  void watch_rx(int fd);
  void poll_rx(bool on);
  void arm_timer(Micros wake);
  bool publish_events(bool drained);
  int rx_socket(const Addr& local, const std::string& device, std::string& err);

  std::function<void()> notify_;
  std::unique_ptr<XorShiftRandom> rng_;
  std::unique_ptr<Table> table_;
  std::thread thread_;
  std::atomic<bool> running_{false}, stop_{false};
  std::atomic<Micros> heartbeat_{0};
  Micros realtime_offset_ = 0;
  int rt_requested_ = 0;
  std::atomic<int> rt_applied_{0};
  std::string rt_error_;  // written by the engine thread before it first takes state_mu_
  int epfd_ = -1, timerfd_ = -1, eventfd_ = -1;

  std::mutex state_mu_;  // the table and the engine-thread-owned fields below
  Micros drain_deadline_ = kNever;
  uint64_t loops_ = 0;

  // Engine thread only: every receive socket, and whether they are polled (not in epoll).
  std::vector<int> rx_list_;
  bool rx_polled_ = false;
  std::unique_ptr<RxBatch> rx_batch_;
  Micros rx_clock_off_ = 0;  // CLOCK_REALTIME - CLOCK_MONOTONIC at this pass, µs
  bool rx_clock_ok_ = false;  // no clock step since the previous pass: kernel timestamps usable

  std::mutex cmd_mu_;
  std::vector<Command> commands_;

  std::mutex ev_mu_;
  EventQueue out_events_;  // bounded: the JS thread may be busy for a long time

  // JS-thread only.
  std::map<std::pair<std::string, std::string>, Mirror> mirror_;  // (local, remote) canonical text
  std::map<uint32_t, int> discrs_;
  struct RxSocket {
    int fd;
    size_t sessions;  // sessions ever added on it (the buffer only grows)
  };
  std::map<std::pair<std::string, std::string>, RxSocket> rx_fds_;  // (local, device if link-local), kept until stop
  uint16_t port_cursor_ = kSourcePortMin;
};

}  // namespace bfd::io
