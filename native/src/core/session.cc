#include "session.h"

#include <algorithm>

namespace bfd {

const char* session_config_error(const SessionConfig& c) {
  if (c.local.family != 4 && c.local.family != 6) return "local address is not IPv4 or IPv6";
  if (c.remote.family != c.local.family) return "local and remote addresses are of different families";
  if (c.local_discr == 0) return "local discriminator must be non-zero";
  if (c.min_tx_us < kMinIntervalUs || c.min_rx_us < kMinIntervalUs) return "intervals must be at least 1 ms";
  if (c.min_tx_us > kMaxIntervalUs || c.min_rx_us > kMaxIntervalUs) return "intervals must be at most 3600 s";
  if (c.mult == 0) return "detect multiplier must be 1..255";
  if (c.min_ttl == 0) return "minimum TTL must be 1..255";
  return auth_config_error(c.auth);
}

Session::Session(const SessionConfig& cfg, RandomSource& rng, SessionObserver* obs, Micros now)
    : cfg_(cfg), rng_(rng), obs_(obs), last_change_(now) {
  auth_.xmit_seq = rng_.next32();  // V-09
  update_advertised(now);
  // Start-up Poll: the first periodic packet (sent at once) and those after it carry P until a
  // Final arrives. RFC 5880 4.1: "Poll (P): If set, the transmitting system is requesting
  // verification of connectivity, or of a parameter change, and is expecting a packet with the
  // Final (F) bit in reply." 6.8.7: on a received Poll the peer "MUST transmit a BFD Control
  // packet with the Final (F) bit set as soon as practicable, without respect to the transmission
  // timer or any other transmission limitations, without respect to the session state". After a
  // restart the peer (FRR, OVN) is Down and sends at its 1 s slow rate, so without the Poll our
  // Down waited up to a second for its Init; with it the Final carries the Init at once and the
  // session is Up within a round trip. 6.5 is kept: P rides the scheduled periodic packets only.
  // A passive session sends nothing before it has heard from the peer: nothing to poll.
  if (!cfg_.passive) begin_poll();
  sync_tx(now);
}

void Session::configure(const SessionConfig& cfg, Micros now) {
  const bool auth_changed = !(cfg.auth == cfg_.auth);
  const SessionConfig old = cfg_;
  cfg_ = cfg;
  cfg_.local = old.local;
  cfg_.remote = old.remote;
  cfg_.local_discr = old.local_discr;
  if (auth_changed) auth_.seq_known = false;
  update_advertised(now);  // N-01: a timer change starts a Poll; N-09: the multiplier needs none
  sync_tx(now);
}

void Session::admin_down(Diag diag, Micros now) {
  if (state_ == State::AdminDown) return;
  set_state(State::AdminDown, diag, now);
  sync_tx(now);
}

void Session::admin_up(Micros now) {
  if (state_ != State::AdminDown) return;
  set_state(State::Down, Diag::None, now);
  sync_tx(now);
}

bool Session::receive(const Packet& p, const uint8_t* raw, uint8_t ttl, Micros now) {
  if (ttl < cfg_.min_ttl) { count_drop(Drop::BadTtl); return false; }  // RFC 5881 §5 (S-04)
  //
  if (p.auth && cfg_.auth.type == AuthType::None) { count_drop(Drop::AuthUnexpected); return false; }
  if (!p.auth && cfg_.auth.type != AuthType::None) { count_drop(Drop::AuthMissing); return false; }
  if (p.auth) {
    switch (auth_verify(cfg_.auth, auth_, p, raw)) {
      case AuthResult::Ok: break;
      case AuthResult::Bad: count_drop(Drop::AuthBad); return false;
      case AuthResult::Seq: count_drop(Drop::AuthSeq); return false;
    }
  }
  //
  remote_discr_ = p.my_discr;
  remote_state_ = p.state;
  remote_demand_ = p.demand;
  remote_min_rx_ = p.required_min_rx;
  remote_diag_ = p.diag;
  // we never transmit Echo packets, so there is nothing to cease.
  // R-13 (and N-07: a queued Poll starts after a packet without F)
  if (p.final) {
    if (poll_active_) { counters_.finals_received++; end_poll(); }
  } else if (poll_after_f0_) {
    poll_after_f0_ = false;
    if (state_ == State::Init || state_ == State::Up) begin_poll();
  }
  // R-14 (X-01 recomputed on every packet, whatever the peer did with its timers)
  remote_min_tx_ = p.desired_min_tx;
  remote_mult_ = p.mult;
  rx_active_ = true;
  last_rx_ = std::max(last_rx_, now);  // `now` is the arrival time, which the owner may read out of order
  recompute_detect();
  authseq_deadline_ = now + 2 * detect_time_;  // V-09
  if (state_ == State::AdminDown) {
    count_drop(Drop::LocalAdminDown);
    sync_tx(now);
    return false;
  }
  counters_.packets_in++;
  if (p.state == State::AdminDown) {
    if (state_ != State::Down) set_state(State::Down, Diag::NeighborDown, now);
  } else if (state_ == State::Down) {
    if (p.state == State::Down) set_state(State::Init, diag_, now);
    else if (p.state == State::Init) set_state(State::Up, Diag::None, now);
  } else if (state_ == State::Init) {
    if (p.state == State::Init || p.state == State::Up) set_state(State::Up, Diag::None, now);
  } else if (state_ == State::Up) {
    if (p.state == State::Down) set_state(State::Down, Diag::NeighborDown, now);
  }
  if (p.poll) final_pending_ = true;  // R-21, T-08
  sync_tx(now);                       // R-20, N-05, T-04
  return true;
}

void Session::run(Micros now) {
  if (rx_active_ && now >= last_rx_ + detect_time_) {
    count_detect_lateness(now - (last_rx_ + detect_time_));
    rx_active_ = false;
    // V-03: forget the remote system once a Detection Time passes without a valid packet.
    remote_discr_ = 0;
    remote_state_ = State::Down;
    remote_min_rx_ = 1;
    remote_demand_ = false;
    if (state_ == State::Init || state_ == State::Up) set_state(State::Down, Diag::DetectionTimeExpired, now);
  }
  if (auth_.seq_known && now >= authseq_deadline_) auth_.seq_known = false;  // V-09
  sync_tx(now);
}

void Session::count_detect_lateness(Micros late) {
  counters_.detect_expiries++;
  counters_.last_detect_lateness = late;
  counters_.max_detect_lateness = std::max(counters_.max_detect_lateness, late);
  counters_.detect_lateness_sum += late;
  size_t b = 0;
  while (b + 1 < kDetectLatenessBuckets && late > kDetectLatenessBoundsUs[b]) b++;
  counters_.detect_lateness[b]++;
}

Micros Session::wake_time() const {
  if (final_pending_ || (extra_pending_ && may_transmit())) return 0;
  Micros w = tx_enabled_ ? next_tx_ : kNever;
  if (rx_active_) w = std::min(w, last_rx_ + detect_time_);
  if (auth_.seq_known) w = std::min(w, authseq_deadline_);
  return w;
}

bool Session::should_send(Micros now) const {
  return final_pending_ || (extra_pending_ && may_transmit()) || (tx_enabled_ && now >= next_tx_);
}

size_t Session::build_packet(uint8_t* buf, size_t cap, Micros now) {
  Packet p;
  p.diag = diag_;                                 // C-02
  p.state = state_;
  p.final = final_pending_;                       // C-03: F only in a reply, never with P
  p.poll = !p.final && poll_active_;
  p.mult = cfg_.mult;                             // C-07
  p.my_discr = cfg_.local_discr;                  // C-09
  p.your_discr = remote_discr_;
  p.desired_min_tx = adv_tx_;                     // C-10
  p.required_min_rx = adv_rx_;
  p.required_min_echo_rx = 0;
  const size_t alen = auth_section_len(cfg_.auth);
  p.auth = alen > 0;                              // C-05
  p.length = uint8_t(kHeaderLen + alen);          // C-08
  if (cap < p.length || encode(p, buf, cap) == 0) return 0;
  if (p.auth) auth_sign(cfg_.auth, auth_, buf);
  counters_.packets_out++;
  if (p.poll) counters_.polls_sent++;
  final_pending_ = false;
  extra_pending_ = false;
  if (tx_enabled_ && now >= next_tx_) {  // this packet is also the periodic one
    if (sched_interval_ > 0) {
      const Micros lateness = now - next_tx_;
      counters_.max_tx_lateness = std::max(counters_.max_tx_lateness, lateness);
      if (lateness > sched_interval_ / 2) counters_.late_tx++;
    }
    sched_interval_ = tx_interval();
    last_periodic_tx_ = now;
    next_tx_ = now + jittered(sched_interval_);  // T-01..T-03
  }
  if (state_ == State::Up) {
    if (last_up_tx_ > 0) counters_.max_tx_gap = std::max(counters_.max_tx_gap, now - last_up_tx_);
    last_up_tx_ = now;
  } else {
    last_up_tx_ = 0;
  }
  return p.length;
}

Micros Session::tx_interval() const { return std::max<Micros>(eff_tx_, remote_min_rx_); }

Micros Session::peer_detect_time() const { return Micros(cfg_.mult) * std::max<Micros>(adv_tx_, remote_min_rx_); }

void Session::set_state(State to, Diag diag, Micros now) {
  if (to == state_) return;
  const State from = state_;
  state_ = to;
  diag_ = diag;
  last_change_ = now;
  counters_.transitions++;
  if (from == State::Up) counters_.flaps++;
  extra_pending_ = true;  // T-09
  if (to == State::Down || to == State::AdminDown) {
    poll_active_ = poll_queued_ = poll_after_f0_ = false;  // a Poll only makes sense towards a live peer
    eff_tx_ = adv_tx_;
    eff_rx_ = adv_rx_;
  }
  update_advertised(now);
  // N-10: entering Init, poll. The peer must answer a Poll at once (RFC 5880 6.5, 6.8.6) with its
  // state, which our Init has just made Up; otherwise its Up waits for its periodic packet.
  // OVN 23.03's pinctrl sends periodic packets only when one of ours wakes it, i.e. about once a
  // second while we are slow (not Up), so a detection time under 1 s expired in Init before its
  // Up came: sessions flapped Init <-> Down for seconds and OVN's SB status with them (the e2e
  // test vov-ovn). The P bit rides the Init announcement (T-09) and the periodic packets after it.
  if (to == State::Init) begin_poll();
  if (obs_) obs_->on_state_change(*this, from, to, diag, now);
}

void Session::update_advertised(Micros) {
  // N-04: slow DesiredMinTx while not Up; RequiredMinRx is advertised as configured from the
  // start (OVN 23.03 flaps against a peer that asks for 1 s while Down, OVN-07).
  const uint32_t tx = state_ == State::Up ? cfg_.min_tx_us : std::max(cfg_.min_tx_us, kSlowTxUs);
  const uint32_t rx = cfg_.min_rx_us;
  if (tx == adv_tx_ && rx == adv_rx_) return;
  adv_tx_ = tx;
  adv_rx_ = rx;
  if (state_ == State::Up && eff_tx_ != 0) {
    eff_tx_ = std::min(eff_tx_, tx);  // N-02: a slower TX waits for the Final
    eff_rx_ = std::max(eff_rx_, rx);  // N-03: a faster RX waits for the Final
  } else {
    eff_tx_ = tx;  // N-06
    eff_rx_ = rx;
  }
  if (state_ == State::Init || state_ == State::Up) begin_poll();  // N-01
  recompute_detect();
}

void Session::begin_poll() {
  // N-07: one Poll at a time, so a Final is never taken for values the peer has not seen. That
  // matters only while a change waits for the Final (N-02, N-03); when every advertised value is
  // already in effect (e.g. going Up during N-10's Poll: the faster TX applies at once), the
  // running Poll simply carries the new values and either Final completes it.
  if (poll_active_ && (eff_tx_ != adv_tx_ || eff_rx_ != adv_rx_)) { poll_queued_ = true; return; }
  poll_active_ = true;
  poll_tx_ = adv_tx_;
  poll_rx_ = adv_rx_;
}

void Session::end_poll() {
  poll_active_ = false;
  if (poll_queued_) {
    // The Final may answer a packet carrying either set of values: apply the safe combination
    // and poll again for the rest once the peer has sent a packet without F (N-07).
    eff_tx_ = std::min(poll_tx_, adv_tx_);
    eff_rx_ = std::max(poll_rx_, adv_rx_);
    poll_queued_ = false;
    poll_after_f0_ = true;
  } else {
    eff_tx_ = adv_tx_;
    eff_rx_ = adv_rx_;
  }
}

void Session::recompute_detect() {
  if (rx_active_) detect_time_ = Micros(remote_mult_) * std::max<Micros>(eff_rx_, remote_min_tx_);
}

bool Session::periodic_enabled() const {
  if (!may_transmit()) return false;                       // D-01, T-05
  if (remote_min_rx_ == 0) return false;                   // T-06
  if (remote_demand_ && state_ == State::Up && remote_state_ == State::Up && !poll_active_) return false;  // T-07, R-20
  return true;
}

void Session::sync_tx(Micros now) {
  const bool en = periodic_enabled();
  if (en && !tx_enabled_) {  // start or resume at once (D-01, A-03)
    next_tx_ = now;
    sched_interval_ = 0;
  }
  if (!en) last_up_tx_ = 0;
  tx_enabled_ = en;
  if (!en || sched_interval_ == 0) return;
  const Micros iv = tx_interval();
  if (iv == sched_interval_) return;
  // T-04: the interval changed; N-05: a shorter one applies now (ASAP if already overdue).
  const Micros cand = std::max(now, last_periodic_tx_ + jittered(iv));
  if (iv > sched_interval_ || cand < next_tx_) next_tx_ = cand;
  sched_interval_ = iv;
}

Micros Session::jittered(Micros interval) {
  const uint32_t r = rng_.next32();
  const Micros per10k = cfg_.mult == 1 ? 1000 + r % 1501 : r % 2501;  // T-03: 10-25 %, T-02: 0-25 %
  return interval - interval * per10k / 10000;
}

}  // namespace bfd
