// One BFD session (RFC 5880 §6.8): state machine, timer negotiation with Poll/Final, jitter,
// detection and authentication. Sans-I/O in the style of OVS lib/bfd.c: the owner feeds it
// packets and the time (monotonic µs) and asks when to wake and what to send.
#pragma once
#include "auth.h"
#include "packet.h"

namespace bfd {

struct SessionConfig {
  Addr local, remote;
  uint32_t local_discr = 0;
  uint32_t min_tx_us = kSlowTxUs;  // configured DesiredMinTxInterval (used once Up)
  uint32_t min_rx_us = kSlowTxUs;  // RequiredMinRxInterval, advertised from the start (OVN profile)
  uint8_t mult = 3;
  bool passive = false;
  uint8_t min_ttl = 255;
  // The interface the peer is reached through (the owner learns it from the route to the peer);
  // packets that arrive on another one are dropped. 0 = not known: any interface.
  uint32_t ifindex = 0;
  AuthConfig auth;
};

// Validates a configuration; returns nullptr or a static message naming the problem.
const char* session_config_error(const SessionConfig& c);

// Detection lateness histogram (how long after its deadline an expired Detection Time was
// handled): upper bounds of the buckets in µs; the last bucket has no bound.
constexpr Micros kDetectLatenessBoundsUs[] = {100, 1000, 10000, 100000};
constexpr size_t kDetectLatenessBuckets = sizeof kDetectLatenessBoundsUs / sizeof kDetectLatenessBoundsUs[0] + 1;

struct Counters {
  uint64_t packets_in = 0, packets_out = 0;
  uint64_t drops[kDropCount] = {};
  uint64_t transitions = 0, flaps = 0;
  uint64_t late_tx = 0;     // periodic packets sent more than half an interval after their deadline
  Micros max_tx_gap = 0;    // largest gap between two of our transmissions while Up
  Micros max_tx_lateness = 0;  // largest delay of a periodic packet past its deadline (any interval)
  uint64_t polls_sent = 0;  // packets sent with P set
  uint64_t finals_received = 0;
  uint64_t stale_discr_accepted = 0;  // OVN stale Your Discriminator fallback (OVN-04)
  uint64_t tx_errors = 0;
  // Every Detection Time that ran out (X-02 while Init/Up, V-03 otherwise) and how late it was
  // handled: a deadline that moved earlier without the owner's timer following shows up here.
  uint64_t detect_expiries = 0;
  Micros max_detect_lateness = 0, last_detect_lateness = 0, detect_lateness_sum = 0;
  uint64_t detect_lateness[kDetectLatenessBuckets] = {};
};

class Session;

class SessionObserver {
 public:
  virtual ~SessionObserver() = default;
  virtual void on_state_change(const Session& s, State from, State to, Diag diag, Micros at) = 0;
};

class Session {
 public:
  Session(const SessionConfig& cfg, RandomSource& rng, SessionObserver* obs, Micros now);

  // Live change of timers, multiplier, role, TTL or auth (addresses and discriminator are fixed).
  void configure(const SessionConfig& cfg, Micros now);
  void admin_down(Diag diag, Micros now);
  void admin_up(Micros now);

  // R-10 onwards for a packet the table has already demultiplexed to this session. Returns
  // true if the packet was accepted; otherwise the drop has been counted.
  bool receive(const Packet& p, const uint8_t* raw, uint8_t ttl, Micros now);

  void run(Micros now);  // detection, RemoteDiscr reset (V-03), AuthSeqKnown reset (V-09)
  Micros wake_time() const;
  bool should_send(Micros now) const;
  size_t build_packet(uint8_t* buf, size_t cap, Micros now);  // call while should_send()

  void count_drop(Drop d) { counters_.drops[static_cast<size_t>(d)]++; }
  void count_stale_discr() { counters_.stale_discr_accepted++; }
  void count_tx_error() { counters_.tx_errors++; }

  const SessionConfig& config() const { return cfg_; }
  State state() const { return state_; }
  State remote_state() const { return remote_state_; }
  Diag diag() const { return diag_; }
  Diag remote_diag() const { return remote_diag_; }
  uint32_t remote_discr() const { return remote_discr_; }
  uint32_t remote_min_rx() const { return remote_min_rx_; }
  uint32_t remote_min_tx() const { return remote_min_tx_; }
  uint8_t remote_mult() const { return remote_mult_; }
  bool remote_demand() const { return remote_demand_; }
  uint32_t advertised_tx() const { return adv_tx_; }
  uint32_t advertised_rx() const { return adv_rx_; }
  bool poll_active() const { return poll_active_; }
  Micros tx_interval() const;    // negotiated, before jitter
  Micros detect_time() const { return detect_time_; }
  Micros peer_detect_time() const;  // how long the peer waits for us: our mult x our TX interval
  Micros last_state_change() const { return last_change_; }
  Micros last_rx() const { return rx_active_ ? last_rx_ : 0; }
  const Counters& counters() const { return counters_; }
  const AuthState& auth_state() const { return auth_; }

  // Owner bookkeeping (table slot, I/O binding).
  size_t slot = 0;
  void* user = nullptr;

 private:
  void set_state(State to, Diag diag, Micros now);
  void count_detect_lateness(Micros late);
  void update_advertised(Micros now);
  void begin_poll();
  void end_poll();
  void recompute_detect();
  bool periodic_enabled() const;
  bool may_transmit() const { return !(cfg_.passive && remote_discr_ == 0); }  // D-01, T-05
  void sync_tx(Micros now);
  Micros jittered(Micros interval);

  SessionConfig cfg_;
  RandomSource& rng_;
  SessionObserver* obs_;

  State state_ = State::Down, remote_state_ = State::Down;  // V-01
  Diag diag_ = Diag::None, remote_diag_ = Diag::None;       // V-04
  uint32_t remote_discr_ = 0;                                // V-03
  uint32_t remote_min_rx_ = 1;                               // V-06
  uint32_t remote_min_tx_ = 0;                               // last received Desired Min TX
  uint8_t remote_mult_ = 0;
  bool remote_demand_ = false;                               // V-07

  // Advertised values (what the peer sees) and the ones in effect locally; they differ only
  // while a Poll Sequence defers a change (N-02, N-03).
  uint32_t adv_tx_ = 0, adv_rx_ = 0, eff_tx_ = 0, eff_rx_ = 0;
  bool poll_active_ = false, poll_queued_ = false, poll_after_f0_ = false;
  uint32_t poll_tx_ = 0, poll_rx_ = 0;  // values advertised when the running Poll began

  bool final_pending_ = false;  // R-21/T-08
  bool extra_pending_ = false;  // T-09: contents changed, send without waiting for the timer

  bool tx_enabled_ = false;
  Micros next_tx_ = 0, sched_interval_ = 0, last_periodic_tx_ = 0, last_up_tx_ = 0;

  bool rx_active_ = false;  // a valid packet arrived less than a Detection Time ago
  Micros last_rx_ = 0, detect_time_ = 0, authseq_deadline_ = kNever;
  Micros last_change_ = 0;

  AuthState auth_;
  Counters counters_;
};

}  // namespace bfd
