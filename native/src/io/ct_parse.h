// Parsing ctnetlink messages (conntrack events and dump entries) into fixed-size records that
// JavaScript reads straight out of one Buffer per batch: no JS object per attribute, no JS call per
// event. Syscall-free, so every bounds check runs under ASan/UBSan in unit tests and the fuzzer.
//
// Record layout (kRecordBytes, little-endian, addresses in network order, IPv4 in the first 4 bytes):
//   0 type (kNew/kDestroy/kUpdate/kEntry)  1 family (4/6)  2 layer-4 protocol number  3 flags (kHas*)
//   4 u32 conntrack id
//   8 original src[16]  24 original dst[16]  40 reply src[16]  56 reply dst[16]
//  72 u16 original sport  74 original dport  76 reply sport  78 reply dport
//  80 u64 original packets  88 original bytes  96 reply packets  104 reply bytes
// 112 u64 kernel start ns  120 kernel stop ns
// 128 u32 status (IPS_* bits)  132 u32 mark  136 u16 zone id  138..143 zero
// The kernel leaves out CTA_MARK and CTA_ZONE when they are 0 (the record then holds 0) and CTA_STATUS
// only on some messages (kHasStatus says it came).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ct {

constexpr size_t kRecordBytes = 144;

enum Type : uint8_t { kNew = 1, kDestroy = 2, kEntry = 3, kUpdate = 4 };
enum Flag : uint8_t { kHasPorts = 1, kHasCounters = 2, kHasStart = 4, kHasStop = 8, kHasStatus = 16 };

// What a buffer of messages answers: events (updates skipped), events with updates (only a reader
// subscribed to NFNLGRP_CONNTRACK_UPDATE gets them), or an IPCTNL_MSG_CT_GET dump (kEntry records).
enum class Source : uint8_t { kEvents, kEventsAndUpdates, kDump };

struct Tuple {
  uint8_t src[16] = {};
  uint8_t dst[16] = {};
  uint16_t sport = 0, dport = 0;
  uint8_t proto = 0;
  bool has_ip = false, has_proto = false, has_ports = false;
};

struct Event {
  uint8_t type = 0;
  uint8_t family = 0;
  uint8_t flags = 0;
  uint32_t id = 0;
  Tuple orig, reply;
  uint64_t packets[2] = {}, bytes[2] = {};
  uint64_t start_ns = 0, stop_ns = 0;
  uint32_t status = 0, mark = 0;
  uint16_t zone = 0;
};

enum class Result {
  kEvent,      // `out` holds a conntrack event or dump entry
  kSkip,       // a message we do not want (another subsystem, an update not asked for): not an error
  kDone,       // NLMSG_DONE: the end of a dump
  kError,      // NLMSG_ERROR with a non-zero code (`error` set, a negative errno)
  kMalformed,  // a conntrack message whose attributes do not fit or lack what a record needs
};

// One netlink message at msg[0, len) (len bounds the buffer; the header's own length must fit in it).
Result parse_message(const uint8_t* msg, size_t len, Source source, Event& out, int& error);

void encode(const Event& e, uint8_t* dst);  // kRecordBytes at dst

struct BatchStats {
  size_t records = 0;
  uint32_t malformed = 0;  // messages dropped as malformed (or a broken datagram framing)
  bool done = false;       // NLMSG_DONE seen (dump)
  int error = 0;           // the first NLMSG_ERROR code (negative errno), 0 if none
};

// Netlink messages stored back to back in buf[0, len), each starting at a multiple of 4 (as
// rtnl::fill stores datagrams); appends one record per event to `out`. A message whose header does
// not fit ends the walk (counted as malformed): the rest of the buffer cannot be framed.
BatchStats parse_batch(const uint8_t* buf, size_t len, Source source, std::vector<uint8_t>& out);

}  // namespace ct
