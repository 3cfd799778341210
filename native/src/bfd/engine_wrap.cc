// N-API glue of the BFD engine (io/engine.h, core/): the Engine class, which configures sessions
// and reads status, and the engine's limits. The engine thread reports state changes in batches
// through ONE ThreadSafeFunction (never per packet).
#include "bfd/engine_wrap.h"

#include <cstring>
#include <memory>
#include <string>

#include "io/engine.h"

namespace {

using bfd::Addr;
using bfd::Diag;
using bfd::SessionConfig;
using bfd::io::Engine;

constexpr bfd::Micros kAliveWindowUs = 3000000;  // the loop wakes at least every second

double to_epoch_ms(bfd::Micros mono, bfd::Micros offset) { return double(mono + offset) / 1000.0; }

class Args {
 public:
  Args(const Napi::CallbackInfo& info) : info_(info) {}
  Addr addr(size_t i, const char* what) const {
    if (!info_[i].IsString()) throw Napi::TypeError::New(info_.Env(), std::string(what) + " must be a string");
    return parse(info_.Env(), info_[i].As<Napi::String>().Utf8Value(), what);
  }
  static Addr parse(Napi::Env env, const std::string& s, const char* what) {
    Addr a;
    if (!bfd::io::parse_addr(s, a))
      throw Napi::TypeError::New(env, std::string(what) + " \"" + s + "\" is not an IPv4 or IPv6 address");
    return a;
  }
 private:
  const Napi::CallbackInfo& info_;
};

uint32_t uint_field(const Napi::Object& o, const char* name, uint32_t min, uint32_t max) {
  Napi::Value v = o.Get(name);
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string(name) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= min && d <= max) || d != double(uint64_t(d)))
    throw Napi::RangeError::New(o.Env(), std::string(name) + " must be an integer in " + std::to_string(min) +
                                             ".." + std::to_string(max) + ", got " + std::to_string(d));
  return uint32_t(d);
}

// Reads the session spec object the TypeScript facade builds (intervals in µs).
SessionConfig read_spec(const Napi::Object& o, std::string& device) {
  Napi::Env env = o.Env();
  SessionConfig c;
  for (const char* f : {"local", "remote"})
    if (!o.Get(f).IsString()) throw Napi::TypeError::New(env, std::string(f) + " must be a string");
  c.local = Args::parse(env, o.Get("local").As<Napi::String>(), "local");
  c.remote = Args::parse(env, o.Get("remote").As<Napi::String>(), "remote");
  c.local_discr = uint_field(o, "localDiscr", 1, 0xffffffffu);
  c.min_tx_us = uint_field(o, "minTxUs", bfd::kMinIntervalUs, bfd::kMaxIntervalUs);
  c.min_rx_us = uint_field(o, "minRxUs", bfd::kMinIntervalUs, bfd::kMaxIntervalUs);
  c.mult = uint8_t(uint_field(o, "multiplier", 1, bfd::kMaxMultiplier));
  c.min_ttl = uint8_t(uint_field(o, "minTtl", 1, 255));
  c.passive = o.Get("passive").ToBoolean();
  if (!o.Get("ifindex").IsUndefined()) c.ifindex = uint_field(o, "ifindex", 0, 0x7fffffffu);
  Napi::Value dev = o.Get("device");
  device = dev.IsString() ? dev.As<Napi::String>().Utf8Value() : "";
  Napi::Value auth = o.Get("auth");
  if (auth.IsObject()) {
    Napi::Object a = auth.As<Napi::Object>();
    c.auth.type = bfd::AuthType(uint_field(a, "type", 0, 5));
    c.auth.key_id = uint8_t(uint_field(a, "keyId", 0, 255));
    Napi::Value key = a.Get("key");
    if (!key.IsBuffer()) throw Napi::TypeError::New(env, "auth.key must be a Buffer");
    auto buf = key.As<Napi::Buffer<uint8_t>>();
    if (buf.Length() > sizeof c.auth.key) throw Napi::RangeError::New(env, "auth.key must be at most 20 bytes");
    c.auth.key_len = uint8_t(buf.Length());
    std::memcpy(c.auth.key, buf.Data(), buf.Length());
  }
  return c;
}

void check(Napi::Env env, const std::string& err) {
  if (!err.empty()) throw Napi::Error::New(env, err);
}

class EngineWrap : public Napi::ObjectWrap<EngineWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Engine",
                       {InstanceMethod<&EngineWrap::Start>("start"),
                        InstanceMethod<&EngineWrap::AddSession>("addSession"),
                        InstanceMethod<&EngineWrap::ChangeSession>("changeSession"),
                        InstanceMethod<&EngineWrap::RemoveSession>("removeSession"),
                        InstanceMethod<&EngineWrap::AdminDown>("adminDown"),
                        InstanceMethod<&EngineWrap::AdminUp>("adminUp"),
                        InstanceMethod<&EngineWrap::Sessions>("sessions"),
                        InstanceMethod<&EngineWrap::Stats>("stats"),
                        InstanceMethod<&EngineWrap::Drain>("drain"),
                        InstanceMethod<&EngineWrap::Close>("close"),
                        InstanceMethod<&EngineWrap::ThreadAlive>("threadAlive")});
  }

  // new Engine(onEvents: (events: object[]) => void)
  explicit EngineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EngineWrap>(info) {
    if (!info[0].IsFunction()) throw Napi::TypeError::New(info.Env(), "onEvents must be a function");
    on_events_ = Napi::Persistent(info[0].As<Napi::Function>());
    engine_ = std::make_unique<Engine>([this] {
      // Engine thread: queue one delivery; the JS side takes every event pending at that time.
      tsfn_.NonBlockingCall([this](Napi::Env env, Napi::Function cb) { Deliver(env, cb); });
    });
  }

 private:
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (started_) throw Napi::Error::New(env, "engine already started");
    if (closed_) throw Napi::Error::New(env, "engine is closed");
    int rt_priority = 0;
    if (info[0].IsObject()) {
      Napi::Value rt = info[0].As<Napi::Object>().Get("realtimePriority");
      if (!rt.IsUndefined()) {
        if (!rt.IsNumber()) throw Napi::TypeError::New(env, "realtimePriority must be a number");
        rt_priority = rt.As<Napi::Number>().Int32Value();
      }
    }
    tsfn_ = Napi::ThreadSafeFunction::New(env, on_events_.Value(), "bfd-events", 0, 1,
                                          [this](Napi::Env) { Unref(); });
    Ref();  // keep this object alive until the TSFN is finalised (queued calls use `this`)
    const std::string err = engine_->start(rt_priority);
    if (!err.empty()) {
      tsfn_.Release();
      throw Napi::Error::New(env, err);
    }
    started_ = true;
    return env.Undefined();
  }

  void RequireRunning(Napi::Env env) {
    if (!started_ || closed_) throw Napi::Error::New(env, "engine is not running");
  }

  Napi::Value AddSession(const Napi::CallbackInfo& info) {
    RequireRunning(info.Env());
    if (!info[0].IsObject()) throw Napi::TypeError::New(info.Env(), "spec must be an object");
    std::string device;
    SessionConfig c = read_spec(info[0].As<Napi::Object>(), device);
    check(info.Env(), engine_->add(c, device));
    return info.Env().Undefined();
  }

  Napi::Value ChangeSession(const Napi::CallbackInfo& info) {
    RequireRunning(info.Env());
    if (!info[0].IsObject()) throw Napi::TypeError::New(info.Env(), "spec must be an object");
    std::string device;
    SessionConfig c = read_spec(info[0].As<Napi::Object>(), device);
    check(info.Env(), engine_->change(c));
    return info.Env().Undefined();
  }

  Napi::Value RemoveSession(const Napi::CallbackInfo& info) {
    RequireRunning(info.Env());
    Args a(info);
    check(info.Env(), engine_->remove(a.addr(0, "local"), a.addr(1, "remote")));
    return info.Env().Undefined();
  }

  Napi::Value AdminDown(const Napi::CallbackInfo& info) {
    RequireRunning(info.Env());
    Args a(info);
    uint32_t diag = 7;
    if (info[2].IsNumber()) diag = info[2].As<Napi::Number>().Uint32Value();
    if (diag > 8) throw Napi::RangeError::New(info.Env(), "diag must be 0..8");
    check(info.Env(), engine_->admin_down(a.addr(0, "local"), a.addr(1, "remote"), Diag(diag)));
    return info.Env().Undefined();
  }

  Napi::Value AdminUp(const Napi::CallbackInfo& info) {
    RequireRunning(info.Env());
    Args a(info);
    check(info.Env(), engine_->admin_up(a.addr(0, "local"), a.addr(1, "remote")));
    return info.Env().Undefined();
  }

  Napi::Value Sessions(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const auto list = engine_->status();
    const bfd::Micros off = engine_->realtime_offset();
    Napi::Array arr = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); i++) {
      const auto& s = list[i];
      Napi::Object o = Napi::Object::New(env);
      o.Set("local", bfd::io::format_addr(s.cfg.local));
      o.Set("remote", bfd::io::format_addr(s.cfg.remote));
      o.Set("state", bfd::state_name(s.state));
      o.Set("remoteState", bfd::state_name(s.remote_state));
      o.Set("localDiag", bfd::diag_name(s.diag));
      o.Set("remoteDiag", bfd::diag_name(s.remote_diag));
      o.Set("localDiscr", double(s.cfg.local_discr));
      o.Set("remoteDiscr", double(s.remote_discr));
      o.Set("txIntervalMs", double(s.tx_interval) / 1000.0);
      o.Set("detectTimeMs", double(s.detect_time) / 1000.0);
      o.Set("lastStateChange", to_epoch_ms(s.last_change, off));
      o.Set("lastRx", s.last_rx ? Napi::Value(Napi::Number::New(env, to_epoch_ms(s.last_rx, off))) : env.Null());
      o.Set("flaps", double(s.counters.flaps));
      o.Set("minTxMs", double(s.cfg.min_tx_us) / 1000.0);
      o.Set("minRxMs", double(s.cfg.min_rx_us) / 1000.0);
      o.Set("multiplier", double(s.cfg.mult));
      o.Set("passive", s.cfg.passive);
      o.Set("minTtl", double(s.cfg.min_ttl));
      o.Set("device", s.device);
      o.Set("ifindex", double(s.cfg.ifindex));
      o.Set("srcPort", double(s.src_port));
      o.Set("desiredMinTxMs", double(s.adv_tx) / 1000.0);
      o.Set("requiredMinRxMs", double(s.adv_rx) / 1000.0);
      o.Set("remoteMinTxMs", double(s.remote_min_tx) / 1000.0);
      o.Set("remoteMinRxMs", double(s.remote_min_rx) / 1000.0);
      o.Set("remoteMultiplier", double(s.remote_mult));
      o.Set("pollActive", s.poll_active);
      o.Set("authType", double(s.cfg.auth.type));
      const auto& c = s.counters;
      Napi::Object co = Napi::Object::New(env);
      co.Set("packetsIn", double(c.packets_in));
      co.Set("packetsOut", double(c.packets_out));
      co.Set("drops", Drops(env, c.drops));
      co.Set("transitions", double(c.transitions));
      co.Set("lateTransmissions", double(c.late_tx));
      co.Set("maxTxGapUs", double(c.max_tx_gap));
      co.Set("maxTxLatenessUs", double(c.max_tx_lateness));
      co.Set("pollsSent", double(c.polls_sent));
      co.Set("finalsReceived", double(c.finals_received));
      co.Set("staleDiscrAccepted", double(c.stale_discr_accepted));
      co.Set("txErrors", double(c.tx_errors));
      co.Set("detectExpiries", double(c.detect_expiries));
      co.Set("maxDetectLatenessUs", double(c.max_detect_lateness));
      co.Set("lastDetectLatenessUs", double(c.last_detect_lateness));
      co.Set("detectLatenessSumUs", double(c.detect_lateness_sum));
      Napi::Array hist = Napi::Array::New(env, bfd::kDetectLatenessBuckets);
      for (size_t k = 0; k < bfd::kDetectLatenessBuckets; k++) hist.Set(uint32_t(k), double(c.detect_lateness[k]));
      co.Set("detectLatenessBuckets", hist);
      o.Set("counters", co);
      arr.Set(uint32_t(i), o);
    }
    return arr;
  }

  static Napi::Object Drops(Napi::Env env, const uint64_t* drops) {
    Napi::Object d = Napi::Object::New(env);
    for (size_t k = 0; k < bfd::kDropCount; k++) d.Set(bfd::drop_name(bfd::Drop(k)), double(drops[k]));
    return d;
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const auto st = engine_->stats();
    Napi::Object o = Napi::Object::New(env);
    o.Set("drops", Drops(env, st.drops));
    o.Set("eventsCoalesced", double(st.events_coalesced));
    o.Set("loops", double(st.loops));
    o.Set("sessions", double(st.sessions));
    o.Set("realtimePriority", double(st.realtime_priority));
    o.Set("realtimeError", st.realtime_error.empty() ? env.Null() : Napi::Value(Napi::String::New(env, st.realtime_error)));
    Napi::Array socks = Napi::Array::New(env, st.rx_sockets.size());
    for (size_t i = 0; i < st.rx_sockets.size(); i++) {
      const auto& r = st.rx_sockets[i];
      Napi::Object so = Napi::Object::New(env);
      so.Set("local", r.local);
      so.Set("device", r.device);
      so.Set("sessions", double(r.sessions));
      so.Set("receiveBufferBytes", double(r.rcvbuf));
      so.Set("queuedBytes", double(r.queued));
      so.Set("drops", double(r.drops));
      socks.Set(uint32_t(i), so);
    }
    o.Set("rxSockets", socks);
    return o;
  }

  Napi::Value Drain(const Napi::CallbackInfo& info) {
    RequireRunning(info.Env());
    if (!info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), "graceMs must be a number");
    const double ms = info[0].As<Napi::Number>().DoubleValue();
    if (!(ms >= 0 && ms <= bfd::kMaxDrainGraceMs))
      throw Napi::RangeError::New(info.Env(), "graceMs must be 0.." + std::to_string(bfd::kMaxDrainGraceMs));
    engine_->drain(bfd::Micros(ms * 1000));
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (started_ && !closed_) {
      engine_->stop();
      tsfn_.Release();
    }
    closed_ = true;
    return info.Env().Undefined();
  }

  Napi::Value ThreadAlive(const Napi::CallbackInfo& info) {
    const bool alive = engine_->running() && bfd::io::mono_now() - engine_->last_loop() < kAliveWindowUs;
    return Napi::Boolean::New(info.Env(), alive);
  }

  void Deliver(Napi::Env env, Napi::Function cb) {
    const auto events = engine_->take_events();
    if (events.empty()) return;
    const bfd::Micros off = engine_->realtime_offset();
    Napi::Array arr = Napi::Array::New(env, events.size());
    for (size_t i = 0; i < events.size(); i++) {
      const auto& e = events[i];
      Napi::Object o = Napi::Object::New(env);
      if (e.kind == bfd::Event::Kind::Drained) {
        o.Set("type", "drained");
      } else {
        o.Set("type", "state");
        o.Set("local", bfd::io::format_addr(e.local));
        o.Set("remote", bfd::io::format_addr(e.remote));
        o.Set("localDiscr", double(e.local_discr));
        o.Set("from", bfd::state_name(e.from));
        o.Set("to", bfd::state_name(e.to));
        o.Set("diag", bfd::diag_name(e.diag));
        o.Set("at", to_epoch_ms(e.at, off));
      }
      arr.Set(uint32_t(i), o);
    }
    cb.Call({arr});
  }

  std::unique_ptr<Engine> engine_;
  Napi::ThreadSafeFunction tsfn_;
  Napi::FunctionReference on_events_;
  bool started_ = false, closed_ = false;
};

}  // namespace

void DefineBfdEngine(Napi::Env env, Napi::Object exports) {
  exports.Set("Engine", EngineWrap::Define(env));
  Napi::Array bounds = Napi::Array::New(env, bfd::kDetectLatenessBuckets - 1);
  for (size_t k = 0; k + 1 < bfd::kDetectLatenessBuckets; k++) bounds.Set(uint32_t(k), double(bfd::kDetectLatenessBoundsUs[k]));
  exports.Set("detectLatenessBoundsUs", bounds);
  // The session limits the engine enforces; agent/lib/bfd-limits.ts has the same numbers for
  // config validation (which must not load the addon) and a unit test compares them.
  Napi::Object limits = Napi::Object::New(env);
  limits.Set("minIntervalUs", double(bfd::kMinIntervalUs));
  limits.Set("maxIntervalUs", double(bfd::kMaxIntervalUs));
  limits.Set("maxMultiplier", double(bfd::kMaxMultiplier));
  limits.Set("maxDrainGraceMs", double(bfd::kMaxDrainGraceMs));
  exports.Set("limits", limits);
}
