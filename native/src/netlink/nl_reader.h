// N-API glue shared by the netlink multicast readers (rtnl_reader.cc, ct_reader.cc):
// new Reader(groups, receiveBufferBytes, onBatch). Reads on the Node event loop (uv_poll,
// level-triggered): each readable event reads one batch of datagrams and makes ONE call into JS,
// onBatch(payload | null, overflows, truncated, error | null, malformed), never one per message.
// Overflows (ENOBUFS) are counted, not fatal, and reading goes on. `Traits` names the reader, its
// netlink protocol, learns the groups subscribed (Subscribe), turns a batch of datagrams into the
// JS payload, and says how long to leave the socket alone after a batch (kCoalesceMs, see Pace).
//
// Why not the `netlink` package's socket: when the kernel flags an overflow while its poll waits,
// epoll reports EPOLLERR, libuv passes UV_EBADF to the poll callback, and the package builds an
// error with a NULL syscall name; Napi::String::New(NULL) throws a C++ exception through libuv and
// std::terminate aborts the process. A JS exception from a listener ends the same way there.
#pragma once
#include <napi.h>
#include <uv.h>
#include <unistd.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "io/rtnl_socket.h"

namespace nlreader {

// One batch: over a thousand messages, small enough that JS handles it in a few ms before the
// event loop moves on (the rest stays queued in the socket and is read next turn), and little
// resident memory in a Pod limited to 64 MiB.
constexpr size_t kBatchBytes = 256 * 1024;
constexpr const char* kOnBatch = "onBatch";

template <class Traits>
class Reader : public Napi::ObjectWrap<Reader<Traits>> {
  using Base = Napi::ObjectWrap<Reader<Traits>>;

 public:
  static Napi::Function Define(Napi::Env env) {
    return Base::DefineClass(env, Traits::kClassName,
                             {Base::template InstanceMethod<&Reader::Close>("close"), Base::template InstanceMethod<&Reader::Info>("info")});
  }

  explicit Reader(const Napi::CallbackInfo& info) : Base(info), buf_(kBatchBytes) {
    Napi::Env env = info.Env();
    if (!info[0].IsArray()) throw Napi::TypeError::New(env, "groups must be an array of multicast group numbers");
    Napi::Array arr = info[0].As<Napi::Array>();
    std::vector<uint32_t> groups;
    for (uint32_t i = 0; i < arr.Length(); i++) groups.push_back(Integer(env, arr.Get(i), "multicast group", 1, 1023));
    traits_.Subscribe(groups);
    const int size = int(Integer(env, info[1], "receiveBufferBytes", 4096, 1 << 30));
    if (!info[2].IsFunction()) throw Napi::TypeError::New(env, "onBatch must be a function");
    // On the object rather than in a persistent reference: a persistent reference is a GC root, and
    // the callback's closure usually leads back to this object, which would then never be freed.
    this->Value().DefineProperty(Napi::PropertyDescriptor::Value(kOnBatch, info[2], napi_default));

    std::string err;
    if (!rtnl::open_socket(Traits::kProtocol, groups, size, sock_, err)) throw Napi::Error::New(env, std::string(Traits::kWhat) + ": " + err);
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok) Fail(env, "napi_get_uv_event_loop failed");
    poll_ = new uv_poll_t;
    if (const int rc = uv_poll_init(loop, poll_, sock_.fd); rc != 0) {
      delete poll_;
      poll_ = nullptr;
      Fail(env, std::string("uv_poll_init: ") + uv_strerror(rc));
    }
    poll_->data = this;
    if (const int rc = uv_poll_start(poll_, UV_READABLE, OnPoll); rc != 0) Fail(env, std::string("uv_poll_start: ") + uv_strerror(rc));
    if constexpr (Traits::kCoalesceMs > 0) {
      timer_ = new uv_timer_t;
      uv_timer_init(loop, timer_);  // cannot fail
      timer_->data = this;
    }
    async_ = std::make_unique<Napi::AsyncContext>(env, Traits::kAsyncName, this->Value());
    this->Ref();  // not collected while the socket is open: the poll handle points here
  }

  ~Reader() override { StopPolling(); }

 private:
  static uint32_t Integer(Napi::Env env, Napi::Value v, const char* what, uint32_t min, uint32_t max) {
    const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
    if (!(d >= min && d <= max) || d != std::floor(d))
      throw Napi::RangeError::New(env, std::string(what) + " must be an integer in " + std::to_string(min) + ".." + std::to_string(max));
    return uint32_t(d);
  }

  [[noreturn]] void Fail(Napi::Env env, const std::string& what) {
    StopPolling();
    throw Napi::Error::New(env, std::string(Traits::kWhat) + ": " + what);
  }

  // Closes the poll and timer handles, then the socket (libuv requires that order); idempotent.
  void StopPolling() {
    if (timer_) {
      timer_->data = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
      timer_ = nullptr;
    }
    if (poll_) {
      poll_->data = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      poll_ = nullptr;
    }
    if (sock_.fd >= 0) {
      close(sock_.fd);
      sock_.fd = -1;
    }
  }

  // After close() or a fatal error: no more events, and the object may be collected.
  void Release() {
    StopPolling();
    if (!released_) {
      released_ = true;
      this->Unref();
    }
  }

  static void OnPoll(uv_poll_t* handle, int status, int /*events*/) {
    if (auto* self = static_cast<Reader*>(handle->data)) self->Pump(status);
  }

  static void OnTimer(uv_timer_t* handle) {
    if (auto* self = static_cast<Reader*>(handle->data)) self->Pump(0);
  }

  // After a batch, with Traits::kCoalesceMs: the socket is left alone that long, so the messages
  // arriving meanwhile come as one batch (one JS call, one file write) instead of one each. At
  // 40,000 conntrack flows/s a reader that kept up woke once per event, about 17 µs of CPU each
  // with a JS callback that did nothing. The kernel queues them meanwhile (the forced buffer holds
  // hundreds of ms at that rate); the first message after a quiet spell still comes at once.
  void Pace(bool delivered) {
    if constexpr (Traits::kCoalesceMs > 0) {
      if (delivered) {
        uv_poll_stop(poll_);
        uv_timer_start(timer_, OnTimer, Traits::kCoalesceMs, 0);
        paused_ = true;
      } else if (paused_) {
        paused_ = false;
        if (const int rc = uv_poll_start(poll_, UV_READABLE, OnPoll); rc != 0) Deliver({}, std::string("uv_poll_start: ") + uv_strerror(rc));
      }
    } else {
      (void)delivered;
    }
  }

  void Pump(int status) {
    rtnl::Batch b = rtnl::read_batch(sock_.fd, buf_.data(), buf_.size());
    std::string error;
    if (b.fatal != 0) {
      error = std::string("recvmsg: ") + uv_err_name(-b.fatal) + " (" + uv_strerror(-b.fatal) + ")";
    } else if (status < 0) {
      // EPOLLERR while the socket held an error (the pending ENOBUFS, collected by the read above):
      // libuv reported it as UV_EBADF and stopped the handle. Poll again.
      if (const int rc = uv_poll_start(poll_, UV_READABLE, OnPoll); rc != 0) error = std::string("uv_poll_start: ") + uv_strerror(rc);
    }
    const bool delivered = b.bytes > 0 || b.overflows > 0 || b.truncated > 0 || !error.empty();
    if (delivered) Deliver(b, error);
    if (poll_) Pace(delivered);  // unless closed by the callback or an error
  }

  // One call into JS with a batch (or only an error, which ends the reader).
  void Deliver(const rtnl::Batch& b, const std::string& error) {
    if (!error.empty()) StopPolling();
    Napi::Env env = this->Env();
    Napi::HandleScope scope(env);
    uint32_t malformed = 0;
    Napi::Value payload = b.bytes > 0 ? traits_.Payload(env, buf_.data(), b.bytes, malformed) : env.Null();
    Napi::Value err = error.empty() ? env.Null() : Napi::Value(Napi::String::New(env, std::string(Traits::kWhat) + ": " + error));
    try {
      this->Value().Get(kOnBatch).template As<Napi::Function>().MakeCallback(
          this->Value(),
          {payload, Napi::Number::New(env, b.overflows), Napi::Number::New(env, b.truncated), err, Napi::Number::New(env, malformed)},
          *async_);
    } catch (const Napi::Error& e) {
      // A throwing callback becomes an ordinary uncaught JS exception; letting the C++ exception
      // unwind into libuv would end in std::terminate.
      napi_fatal_exception(env, e.Value());
    }
    if (!error.empty()) Release();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Release();
    return info.Env().Undefined();
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("portId", double(sock_.port_id));
    o.Set("receiveBufferBytes", double(sock_.receive_buffer));
    o.Set("forced", sock_.forced);
    const int64_t drops = sock_.fd >= 0 ? rtnl::socket_drops(sock_.fd) : -1;
    o.Set("drops", drops < 0 ? env.Null() : Napi::Value(Napi::Number::New(env, double(drops))));
    return o;
  }

  std::vector<uint8_t> buf_;
  Traits traits_;
  rtnl::Socket sock_;
  uv_poll_t* poll_ = nullptr;
  uv_timer_t* timer_ = nullptr;  // only with Traits::kCoalesceMs
  bool paused_ = false;
  std::unique_ptr<Napi::AsyncContext> async_;
  bool released_ = false;
};

}  // namespace nlreader
