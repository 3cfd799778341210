// Conntrack events (NETLINK_NETFILTER, the groups the caller names: NEW, UPDATE, DESTROY): each batch of datagrams is
// parsed here (io/ct_parse.h) into one Buffer of fixed-size records, so JS decodes flat fields and
// never walks netlink attributes. Plus conntrackDump(family, onChunk): the table, for resyncs.
#include "netlink/ct_reader.h"

#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <algorithm>
#include <cstring>

#include "io/ct_dump.h"
#include "io/ct_json.h"
#include "io/ct_parse.h"
#include "netlink/nl_reader.h"

namespace {

struct CtTraits {
  static constexpr const char* kClassName = "ConntrackReader";
  static constexpr const char* kAsyncName = "egress-agent:ConntrackReader";
  static constexpr const char* kWhat = "conntrack event listener";
  static constexpr int kProtocol = NETLINK_NETFILTER;
  static constexpr uint64_t kCoalesceMs = 1;  // up to ~80 events per batch at 40,000 flows/s (nl_reader.h, Pace)
  std::vector<uint8_t> records;  // reused between batches
  ct::Source source = ct::Source::kEvents;
  // Update records only for a reader that asked for them (the kernel sends updates to their own group).
  void Subscribe(const std::vector<uint32_t>& groups) {
    const bool updates = std::find(groups.begin(), groups.end(), uint32_t(NFNLGRP_CONNTRACK_UPDATE)) != groups.end();
    source = updates ? ct::Source::kEventsAndUpdates : ct::Source::kEvents;
  }
  Napi::Value Payload(Napi::Env env, const uint8_t* buf, size_t bytes, uint32_t& malformed) {
    records.clear();
    const ct::BatchStats s = ct::parse_batch(buf, bytes, source, records);
    malformed = s.malformed;
    if (records.empty()) return env.Null();
    return Napi::Buffer<uint8_t>::Copy(env, records.data(), records.size());
  }
};

// conntrackDump(family 4|6, onChunk(records)) -> { entries, malformed, interrupted }; throws with the failed step.
Napi::Value ConntrackDump(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const double family = info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : 0;
  if (family != 4 && family != 6) throw Napi::TypeError::New(env, "family must be 4 or 6");
  if (!info[1].IsFunction()) throw Napi::TypeError::New(env, "onChunk must be a function");
  Napi::Function on_chunk = info[1].As<Napi::Function>();
  ct::DumpResult r;
  std::string err;
  const bool ok = ct::dump_table(int(family), 4096, [&](const std::vector<uint8_t>& recs) {
    Napi::HandleScope scope(env);
    on_chunk.Call({Napi::Buffer<uint8_t>::Copy(env, recs.data(), recs.size())});
  }, r, err);
  if (!ok) throw Napi::Error::New(env, "conntrack dump (IPv" + std::to_string(int(family)) + "): " + err);
  Napi::Object o = Napi::Object::New(env);
  o.Set("entries", double(r.entries));
  o.Set("malformed", double(r.malformed));
  o.Set("interrupted", r.interrupted);
  return o;
}

// formatSnatLines(records, receivedAtMs, starts) -> { lines, snat, ends }: one call per batch (see
// io/ct_json.h); lines is a Buffer, snat a Uint8Array and ends a Uint32Array with one entry per record.
Napi::Value FormatSnatLines(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsBuffer()) throw Napi::TypeError::New(env, "records must be a Buffer");
  Napi::Buffer<uint8_t> recs = info[0].As<Napi::Buffer<uint8_t>>();
  if (recs.Length() % ct::kRecordBytes != 0)
    throw Napi::RangeError::New(env, "records: " + std::to_string(recs.Length()) + " bytes is not a multiple of " + std::to_string(ct::kRecordBytes));
  const double at = info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : -1;
  if (!(at >= 0 && at < 253402300800000.0)) throw Napi::RangeError::New(env, "receivedAtMs must be a time in ms since the epoch before year 10000");
  if (!info[2].IsBoolean()) throw Napi::TypeError::New(env, "starts must be a boolean");
  const size_t count = recs.Length() / ct::kRecordBytes;
  thread_local ct::Lines lines;  // reused: its capacity follows the largest batch
  ct::format_lines(recs.Data(), count, ct::LineOptions{uint64_t(at), info[2].As<Napi::Boolean>().Value()}, lines);
  Napi::Object o = Napi::Object::New(env);
  o.Set("lines", Napi::Buffer<char>::Copy(env, lines.text.data(), lines.text.size()));
  Napi::ArrayBuffer snat = Napi::ArrayBuffer::New(env, count);
  if (count) std::memcpy(snat.Data(), lines.snat.data(), count);
  o.Set("snat", Napi::Uint8Array::New(env, count, snat, 0));
  Napi::ArrayBuffer ends = Napi::ArrayBuffer::New(env, count * 4);
  if (count) std::memcpy(ends.Data(), lines.ends.data(), count * 4);
  o.Set("ends", Napi::Uint32Array::New(env, count, ends, 0));
  return o;
}

}  // namespace

void DefineConntrack(Napi::Env env, Napi::Object exports) {
  exports.Set("ConntrackReader", nlreader::Reader<CtTraits>::Define(env));
  exports.Set("conntrackDump", Napi::Function::New(env, ConntrackDump));
  exports.Set("formatSnatLines", Napi::Function::New(env, FormatSnatLines));
  exports.Set("conntrackRecordBytes", Napi::Number::New(env, double(ct::kRecordBytes)));
}
