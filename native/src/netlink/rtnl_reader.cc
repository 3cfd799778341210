// rtnetlink change notifications: the datagrams as read, for JS to split and parse (see nl_reader.h).
#include "netlink/rtnl_reader.h"

#include <linux/netlink.h>

#include "netlink/nl_reader.h"

namespace {

struct RtnlTraits {
  static constexpr const char* kClassName = "RtnlReader";
  static constexpr const char* kAsyncName = "egress-agent:RtnlReader";
  static constexpr const char* kWhat = "rtnetlink listener";
  static constexpr int kProtocol = NETLINK_ROUTE;
  static constexpr uint64_t kCoalesceMs = 0;  // rtnetlink changes are few; each is read at once
  void Subscribe(const std::vector<uint32_t>& /*groups*/) {}
  Napi::Value Payload(Napi::Env env, const uint8_t* buf, size_t bytes, uint32_t& /*malformed*/) {
    return Napi::Buffer<uint8_t>::Copy(env, buf, bytes);
  }
};

}  // namespace

void DefineRtnlReader(Napi::Env env, Napi::Object exports) {
  exports.Set("RtnlReader", nlreader::Reader<RtnlTraits>::Define(env));
}
