// The native module (egress_native.node): one target, because node-gyp-build loads one file per
// package. Each area registers its own exports, and agent/native/ (plus agent/bfd/native.ts for the
// engine) types them:
//   bfd/      the BFD engine's N-API glue (the protocol in core/, its thread and sockets in io/)
//   netlink/  the rtnetlink and conntrack readers' N-API glue (their sockets and parsers in io/)
//   mem/      the page release (release.cc) and its N-API glue
#include <napi.h>

#include "bfd/engine_wrap.h"
#include "mem/release_napi.h"
#include "netlink/ct_reader.h"
#include "netlink/rtnl_reader.h"

namespace {

// Bumped on any change of the exports; agent/native/load.ts refuses another number.
constexpr int kAbiVersion = 7;

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  DefineBfdEngine(env, exports);
  DefineRtnlReader(env, exports);
  DefineConntrack(env, exports);
  DefineRelease(env, exports);
  exports.Set("abiVersion", Napi::Number::New(env, kAbiVersion));
  return exports;
}

}  // namespace

NODE_API_MODULE(egress_native, Init)
