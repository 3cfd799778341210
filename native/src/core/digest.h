// Small MD5 (RFC 1321) and SHA-1 (FIPS 180-4) for BFD authentication; no allocation, no OpenSSL.
#pragma once
#include <cstddef>
#include <cstdint>

namespace bfd {

class Md5 {
 public:
  static constexpr size_t kLen = 16;
  Md5();
  void update(const uint8_t* p, size_t n);
  void final(uint8_t out[kLen]);
  void block(const uint8_t* p);  // one 64-byte block (used by the shared padding code)
 private:
  uint32_t h_[4];
  uint8_t buf_[64];
  uint64_t total_ = 0;
};

class Sha1 {
 public:
  static constexpr size_t kLen = 20;
  Sha1();
  void update(const uint8_t* p, size_t n);
  void final(uint8_t out[kLen]);
  void block(const uint8_t* p);  // one 64-byte block (used by the shared padding code)
 private:
  uint32_t h_[5];
  uint8_t buf_[64];
  uint64_t total_ = 0;
};

}  // namespace bfd
