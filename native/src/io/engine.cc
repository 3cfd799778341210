#include "engine.h"

#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace bfd::io {

Micros mono_now() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return Micros(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

struct Engine::IoSession {
  int fd = -1;
  bool connected = false;
  uint16_t port = 0;
  SockAddr dst;
  std::string device;
};

class Engine::Sink final : public PacketSink {
 public:
  bool send(Session& s, const uint8_t* pkt, size_t len) override {
    auto* io = static_cast<IoSession*>(s.user);
    // The TX socket is connected to the peer once a route exists, so the kernel reuses the
    // socket's cached route instead of looking one up per packet (about 15 % of the send path
    // at 1000 sessions). connect() fails exactly when sendto() would (no route, local address
    // not configured yet), so it is simply tried again with the next packet.
    if (!io->connected) {
      if (connect(io->fd, reinterpret_cast<const sockaddr*>(&io->dst.ss), io->dst.len) != 0) return false;
      io->connected = true;
    }
    if (::send(io->fd, pkt, len, MSG_DONTWAIT) == ssize_t(len)) return true;
    // A connected UDP socket reports an earlier ICMP error (port unreachable while the peer's
    // daemon was away) by failing the next send, which then transmits nothing. The failure
    // consumed the report, so one retry tells it apart from a failure of this packet.
    return ::send(io->fd, pkt, len, MSG_DONTWAIT) == ssize_t(len);
  }
};

namespace {
// Batching: with many sessions, one wake-up per packet costs more CPU than the packets. The loop
// then runs at most every kBatchUs (5 % of the smallest practical 10 ms interval), reading and
// sending everything due in one pass. A few sessions keep exact wake-ups.
constexpr size_t kBatchMinSessions = 64;
constexpr Micros kBatchUs = 500;
// While batching, the receive sockets leave epoll and are read on every pass, at least every
// kRxPollUs (the most a received packet waits; 2 % of a 3 x 50 ms detection time). A socket in
// epoll makes every arriving datagram run the epoll wake-up callback in the sender's softirq:
// about 10 % of the engine thread's CPU at 1000 sessions x 50 ms, measured against a peer that
// batches the same way.
constexpr Micros kRxPollUs = 2000;
// A change of CLOCK_REALTIME - CLOCK_MONOTONIC larger than this between two passes is a clock
// step, not a slew (at most 0.5 ms/s, and passes are at most about a second apart).
constexpr Micros kRxClockStepUs = 1000;
// Receive buffer per socket: requested per session on it, within these bounds (the kernel
// doubles the request; SO_RCVBUFFORCE needs CAP_NET_ADMIN, else net.core.rmem_max caps it).
constexpr size_t kRxBufferPerSession = 4096, kRxBufferMin = 256 * 1024, kRxBufferMax = 16 * 1024 * 1024;

timespec to_timespec(Micros t) {
  timespec ts;
  ts.tv_sec = time_t(t / 1000000);
  ts.tv_nsec = long(t % 1000000) * 1000;
  return ts;
}

std::string pair_name(const Addr& l, const Addr& r) { return "session " + format_addr(l) + " -> " + format_addr(r); }
std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }
}  // namespace

Engine::Engine(std::function<void()> notify, size_t out_event_capacity)
    : notify_(std::move(notify)), out_events_(out_event_capacity) {}

Engine::~Engine() { stop(); }

std::string Engine::start(int rt_priority) {
  if (running_) return "engine already started";
  if (rt_priority < 0 || rt_priority > 99) return "realtime priority must be 0..99";
  rt_requested_ = rt_priority;
  uint64_t seed = 0;
  if (getrandom(&seed, sizeof seed, 0) != ssize_t(sizeof seed)) seed = uint64_t(mono_now());
  rng_ = std::make_unique<XorShiftRandom>(seed);
  table_ = std::make_unique<Table>(*rng_);
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  timerfd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  eventfd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epfd_ < 0 || timerfd_ < 0 || eventfd_ < 0) {
    std::string e = errno_text("epoll/timerfd/eventfd");
    stop();
    return e;
  }
  for (int fd : {timerfd_, eventfd_}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev);
  }
  timespec rt, mo;
  clock_gettime(CLOCK_REALTIME, &rt);
  clock_gettime(CLOCK_MONOTONIC, &mo);
  realtime_offset_ = (Micros(rt.tv_sec) - Micros(mo.tv_sec)) * 1000000 + (rt.tv_nsec - mo.tv_nsec) / 1000;
  stop_ = false;
  heartbeat_ = mono_now();
  running_ = true;
  thread_ = std::thread([this] { loop(); });
  return "";
}

int Engine::rx_socket(const Addr& local, const std::string& device, std::string& err) {
  const auto key = std::make_pair(format_addr(local), device);
  auto it = rx_fds_.find(key);
  if (it != rx_fds_.end()) {
    it->second.sessions++;
    // Room for a Detection Time's worth of packets (3-4 of ~1 KiB of kernel memory each) from
    // every session on the socket: 1000 sessions at 50 ms overflowed the default 208 KiB while
    // a tenant's load held the engine thread off the CPU. Memory is used only while queued.
    const size_t want = std::min(kRxBufferMax, std::max(kRxBufferMin, it->second.sessions * kRxBufferPerSession));
    if (want > kRxBufferMin) set_receive_buffer(it->second.fd, int(want));
    return it->second.fd;
  }
  const int fd = open_rx_socket(local, device, err);
  if (fd < 0) return -1;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    err = errno_text("epoll_ctl");
    close(fd);
    return -1;
  }
  set_receive_buffer(fd, int(kRxBufferMin));
  rx_fds_[key] = RxSocket{fd, 1};
  return fd;
}

std::string Engine::add(const SessionConfig& cfg, const std::string& device) {
  const std::string name = pair_name(cfg.local, cfg.remote);
  if (!running_) return name + ": engine not started";
  if (const char* e = session_config_error(cfg)) return name + ": " + e;
  const auto key = std::make_pair(format_addr(cfg.local), format_addr(cfg.remote));
  if (mirror_.count(key)) return name + ": already exists";
  if (discrs_.count(cfg.local_discr))
    return name + ": local discriminator " + std::to_string(cfg.local_discr) + " already in use";
  std::string err;
  // One receive socket per local address. Only a link-local address needs its device to bind;
  // for others SO_BINDTODEVICE steers transmission, and reception is checked by address and TTL.
  const bool link_local = cfg.local.family == 6 && cfg.local.b[0] == 0xfe && (cfg.local.b[1] & 0xc0) == 0x80;
  const int rx_fd = rx_socket(cfg.local, link_local ? device : std::string(), err);
  if (rx_fd < 0) return name + ": " + err;
  auto io = std::make_unique<IoSession>();
  uint16_t port = port_cursor_;
  io->fd = open_tx_socket(cfg.local, device, port, err);
  if (io->fd < 0) return name + ": " + err;
  port_cursor_ = port == kSourcePortMax ? kSourcePortMin : uint16_t(port + 1);
  io->port = port;
  io->dst = to_sockaddr(cfg.remote, kControlPort, device);
  io->device = device;
  mirror_[key] = Mirror{cfg.local_discr, device};
  discrs_[cfg.local_discr] = 1;
  Command c{Command::Kind::Add, cfg, io.release()};
  c.rx_fd = rx_fd;
  post(std::move(c));
  return "";
}

std::string Engine::change(const SessionConfig& cfg) {
  const std::string name = pair_name(cfg.local, cfg.remote);
  auto it = mirror_.find(std::make_pair(format_addr(cfg.local), format_addr(cfg.remote)));
  if (it == mirror_.end()) return name + ": no such session";
  SessionConfig c = cfg;
  c.local_discr = it->second.discr;  // fixed for the life of the session
  if (const char* e = session_config_error(c)) return name + ": " + e;
  post(Command{Command::Kind::Change, c});
  return "";
}

std::string Engine::remove(const Addr& local, const Addr& remote) {
  auto it = mirror_.find(std::make_pair(format_addr(local), format_addr(remote)));
  if (it == mirror_.end()) return pair_name(local, remote) + ": no such session";
  discrs_.erase(it->second.discr);
  mirror_.erase(it);
  Command c{Command::Kind::Remove, {}};
  c.cfg.local = local;
  c.cfg.remote = remote;
  post(c);
  return "";
}

std::string Engine::admin_down(const Addr& local, const Addr& remote, Diag diag) {
  if (!mirror_.count(std::make_pair(format_addr(local), format_addr(remote))))
    return pair_name(local, remote) + ": no such session";
  Command c{Command::Kind::AdminDown, {}};
  c.cfg.local = local;
  c.cfg.remote = remote;
  c.diag = diag;
  post(c);
  return "";
}

std::string Engine::admin_up(const Addr& local, const Addr& remote) {
  if (!mirror_.count(std::make_pair(format_addr(local), format_addr(remote))))
    return pair_name(local, remote) + ": no such session";
  Command c{Command::Kind::AdminUp, {}};
  c.cfg.local = local;
  c.cfg.remote = remote;
  post(c);
  return "";
}

void Engine::drain(Micros grace) {
  Command c{Command::Kind::Drain, {}};
  c.grace = grace;
  post(c);
}

void Engine::post(Command c) {
  {
    std::lock_guard<std::mutex> g(cmd_mu_);
    commands_.push_back(std::move(c));
  }
  const uint64_t one = 1;
  if (write(eventfd_, &one, sizeof one) < 0) { /* counter saturated: the thread is awake anyway */ }
}

void Engine::stop() {
  if (thread_.joinable()) {
    stop_ = true;
    const uint64_t one = 1;
    if (write(eventfd_, &one, sizeof one) < 0) { /* see post() */ }
    thread_.join();
  }
  running_ = false;
  std::lock_guard<std::mutex> g(state_mu_);
  if (table_) {
    table_->for_each([](const Session& s) {
      auto* io = static_cast<IoSession*>(s.user);
      close(io->fd);
      delete io;
    });
    table_.reset();
  }
  {
    std::lock_guard<std::mutex> c(cmd_mu_);
    for (auto& cmd : commands_)
      if (cmd.io) { close(cmd.io->fd); delete cmd.io; }
    commands_.clear();
  }
  for (auto& kv : rx_fds_) close(kv.second.fd);
  rx_fds_.clear();
  rx_list_.clear();
  rx_polled_ = false;
  mirror_.clear();
  discrs_.clear();
  for (int* fd : {&epfd_, &timerfd_, &eventfd_})
    if (*fd >= 0) { close(*fd); *fd = -1; }
}

void Engine::loop() {
  prctl(PR_SET_TIMERSLACK, 1UL);  // µs-accurate timerfd wake-ups instead of the 50 µs default slack
  prctl(PR_SET_NAME, "bfd-engine");  // its CPU apart from Node's threads (top -H, /proc/PID/task)
  if (rt_requested_ > 0) {
    // A loaded node preempts a normal thread for tens of ms: enough to flap a 3 x 10 ms session.
    sched_param sp{};
    sp.sched_priority = rt_requested_;
    const int err = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
    std::lock_guard<std::mutex> g(state_mu_);
    if (err == 0) rt_applied_ = rt_requested_;
    else rt_error_ = std::string("SCHED_FIFO ") + std::to_string(rt_requested_) + ": " + std::strerror(err);
  }
  Sink sink;
  epoll_event evs[32];
  rx_batch_ = std::make_unique<RxBatch>();
  Micros armed = -1, batch_until = 0, last = 0;
  std::vector<Command> cmds;
  for (;;) {
    if (batch_until > 0) {
      const timespec ts = to_timespec(batch_until);
      clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
    }
    Micros wake;
    {
      std::lock_guard<std::mutex> g(state_mu_);
      wake = std::min(table_->wake_time(), drain_deadline_);
    }
    if (rx_polled_) wake = std::min(wake, last + kRxPollUs);  // polled sockets wake nobody
    // Something already due (the usual case after a batch pause) needs no timer: poll and go on.
    // Arming one anyway cost a timerfd_settime per loop, 6 % of the thread at 1000 sessions.
    int timeout_ms = 1000;
    if (wake <= mono_now()) timeout_ms = 0;
    else if (wake != armed) { arm_timer(wake); armed = wake; }
    const int n = epoll_wait(epfd_, evs, 32, timeout_ms);
    bool wake_js;
    {
      std::lock_guard<std::mutex> g(state_mu_);
      // The clock is read once the table is ours: time spent waiting for the lock (the JS thread
      // reading status) must not make this pass believe it is earlier than it is.
      const Micros now = mono_now();
      sample_rx_clock(now);
      last = now;
      heartbeat_ = now;
      loops_++;
      {
        std::lock_guard<std::mutex> c(cmd_mu_);
        cmds.swap(commands_);
      }
      for (auto& cmd : cmds) apply(cmd, now);
      cmds.clear();
      for (int i = 0; i < n; i++) {
        const int fd = evs[i].data.fd;
        uint64_t v;
        if (fd == timerfd_ || fd == eventfd_) {
          if (read(fd, &v, sizeof v) < 0) { /* EAGAIN: already drained */ }
          if (fd == timerfd_) armed = -1;
          continue;
        }
        read_socket(fd, now);
      }
      if (rx_polled_)
        for (int fd : rx_list_) read_socket(fd, now);
      table_->run(now, sink);
      const bool drained = now >= drain_deadline_;
      if (drained) drain_deadline_ = kNever;
      wake_js = publish_events(drained);
      const bool batch = table_->size() >= kBatchMinSessions;
      batch_until = batch ? now + kBatchUs : 0;
      poll_rx(batch);
    }
    // Outside state_mu_: the callback enters N-API (the thread-safe function's own lock), and a
    // consumer that reads status from it must not find the engine locked.
    if (wake_js) notify_();
    // Checked last: commands queued before stop() (a drain's AdminDown) still go out.
    if (stop_) break;
  }
}

void Engine::sample_rx_clock(Micros now) {
  timespec rt;
  clock_gettime(CLOCK_REALTIME, &rt);
  const Micros off = Micros(rt.tv_sec) * 1000000 + rt.tv_nsec / 1000 - now;
  // Kernel receive timestamps are CLOCK_REALTIME. NTP slews it by at most 0.5 ms/s, but a step
  // (settimeofday, chrony makestep) between a packet's arrival and its read would move the
  // packet in time: after a jump of the offset, this pass uses its own clock instead.
  rx_clock_ok_ = rx_clock_off_ != 0 && std::abs(off - rx_clock_off_) <= kRxClockStepUs;
  rx_clock_off_ = off;
}

void Engine::read_socket(int fd, Micros now) {
  RxBatch& rx = *rx_batch_;
  for (int k = 0; k < 4; k++) {  // bounded so one busy socket cannot starve the timers
    const size_t got = rx.read(fd);
    for (size_t j = 0; j < got; j++) {
      // A Detection Time runs from the packet's arrival (RFC 5880 6.8.4), which the kernel
      // stamped; the engine may read it much later (a deferred softirq, a preempted thread, the
      // polling period while batching). Reading time here made detection late by that delay.
      const Micros at = rx_clock_ok_ && rx.arrival(j) > 0 ? std::min(now, rx.arrival(j) - rx_clock_off_) : now;
      table_->receive(RxMeta{rx.dst(j), rx.src(j), rx.ttl(j), rx.ifindex(j)}, rx.data(j), rx.len(j), at);
    }
    if (got < RxBatch::kMax) break;
  }
}

void Engine::watch_rx(int fd) {
  if (std::find(rx_list_.begin(), rx_list_.end(), fd) != rx_list_.end()) return;  // shared by sessions
  rx_list_.push_back(fd);
  if (rx_polled_) epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);  // rx_socket() added it; read on each pass
}

void Engine::poll_rx(bool on) {
  if (on == rx_polled_) return;
  rx_polled_ = on;
  for (int fd : rx_list_) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    epoll_ctl(epfd_, on ? EPOLL_CTL_DEL : EPOLL_CTL_ADD, fd, &ev);
  }
}

void Engine::apply(Command& c, Micros now) {
  Sink sink;
  switch (c.kind) {
    case Command::Kind::Add: {
      watch_rx(c.rx_fd);
      Session* s = nullptr;
      if (table_->add(c.cfg, now, &s) != nullptr) {  // validated on the JS thread; cannot happen
        close(c.io->fd);
        delete c.io;
      } else {
        s->user = c.io;
      }
      c.io = nullptr;
      break;
    }
    case Command::Kind::Change:
      table_->change(c.cfg, now);
      break;
    case Command::Kind::Remove: {
      Session* s = table_->find(c.cfg.local, c.cfg.remote);
      if (!s) break;
      auto* io = static_cast<IoSession*>(s->user);
      table_->remove(c.cfg.local, c.cfg.remote, sink, now);
      close(io->fd);
      delete io;
      break;
    }
    case Command::Kind::AdminDown:
      table_->admin_down(c.cfg.local, c.cfg.remote, c.diag, now);
      break;
    case Command::Kind::AdminUp:
      table_->admin_up(c.cfg.local, c.cfg.remote, now);
      break;
    case Command::Kind::Drain: {
      const Micros hold = table_->drain(now);
      table_->run(now, sink);  // AdminDown goes out at once (T-09)
      drain_deadline_ = now + std::min(c.grace, hold);
      break;
    }
  }
}

void Engine::arm_timer(Micros wake) {
  itimerspec its{};
  if (wake != kNever) its.it_value = to_timespec(wake <= 0 ? 1 : wake);  // zero would disarm; a past time fires at once
  timerfd_settime(timerfd_, TFD_TIMER_ABSTIME, &its, nullptr);
}

// Returns true when the JS thread needs a wake-up: one per batch, it takes everything queued.
bool Engine::publish_events(bool drained) {
  if (table_->events().empty() && !drained) return false;
  const std::vector<Event> evs = table_->take_events();
  std::lock_guard<std::mutex> g(ev_mu_);
  const bool was_empty = out_events_.empty();
  for (const Event& e : evs) out_events_.push(e);
  if (drained) {
    Event d;
    d.kind = Event::Kind::Drained;
    out_events_.push(d);
  }
  return was_empty;
}

std::vector<Event> Engine::take_events() {
  std::lock_guard<std::mutex> g(ev_mu_);
  return out_events_.take();
}

std::vector<SessionStatus> Engine::status() {
  std::vector<SessionStatus> out;
  std::lock_guard<std::mutex> g(state_mu_);
  if (!table_) return out;
  out.reserve(table_->size());
  table_->for_each([&out](const Session& s) {
    SessionStatus st;
    st.cfg = s.config();
    st.cfg.auth = AuthConfig{};  // secrets never leave the engine
    st.cfg.auth.type = s.config().auth.type;
    st.cfg.auth.key_id = s.config().auth.key_id;
    const auto* io = static_cast<const IoSession*>(s.user);
    st.device = io->device;
    st.src_port = io->port;
    st.state = s.state();
    st.remote_state = s.remote_state();
    st.diag = s.diag();
    st.remote_diag = s.remote_diag();
    st.remote_discr = s.remote_discr();
    st.remote_min_rx = s.remote_min_rx();
    st.remote_min_tx = s.remote_min_tx();
    st.remote_mult = s.remote_mult();
    st.adv_tx = s.advertised_tx();
    st.adv_rx = s.advertised_rx();
    st.poll_active = s.poll_active();
    st.tx_interval = s.tx_interval();
    st.detect_time = s.detect_time();
    st.last_change = s.last_state_change();
    st.last_rx = s.last_rx();
    st.counters = s.counters();
    out.push_back(st);
  });
  return out;
}

EngineStats Engine::stats() {
  EngineStats st;
  for (const auto& kv : rx_fds_) {  // JS-thread state, and the kernel's counters: no lock needed
    RxSocketStats r;
    r.local = kv.first.first;
    r.device = kv.first.second;
    r.sessions = kv.second.sessions;
    ReceiveQueue q;
    if (receive_queue(kv.second.fd, q)) { r.rcvbuf = q.rcvbuf; r.queued = q.queued; r.drops = q.drops; }
    st.rx_sockets.push_back(r);
  }
  std::lock_guard<std::mutex> g(state_mu_);
  if (!table_) return st;
  std::memcpy(st.drops, table_->global_drops(), sizeof st.drops);
  st.events_coalesced = table_->events_coalesced();
  {
    std::lock_guard<std::mutex> e(ev_mu_);
    st.events_coalesced += out_events_.coalesced();
  }
  st.loops = loops_;
  st.sessions = table_->size();
  st.realtime_priority = rt_applied_;
  st.realtime_error = rt_error_;
  return st;
}

}  // namespace bfd::io
