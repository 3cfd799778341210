// A tiny test framework: TEST("ID ... description") { CHECK(...); CHECK_EQ(a, b); }
// A failed check aborts the test case (exception), the runner prints "N passed, M failed".
#pragma once
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace check {

struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Case {
  const char* name;
  void (*fn)();
};

inline std::vector<Case>& registry() {
  static std::vector<Case> cases;
  return cases;
}

struct Registrar {
  Registrar(const char* name, void (*fn)()) { registry().push_back({name, fn}); }
};

template <typename T>
std::string show(const T& v) {
  std::ostringstream o;
  if constexpr (std::is_enum_v<T>) o << int64_t(v);
  else if constexpr (std::is_same_v<T, uint8_t> || std::is_same_v<T, int8_t>) o << int(v);
  else o << v;
  return o.str();
}

[[noreturn]] inline void fail(const char* file, int line, const std::string& what) {
  throw Failure(std::string(file) + ":" + std::to_string(line) + ": " + what);
}

}  // namespace check

#define CHECK_CAT2(a, b) a##b
#define CHECK_CAT(a, b) CHECK_CAT2(a, b)
#define TEST(name)                                                                      \
  static void CHECK_CAT(test_fn_, __LINE__)();                                          \
  static check::Registrar CHECK_CAT(test_reg_, __LINE__)(name, CHECK_CAT(test_fn_, __LINE__)); \
  static void CHECK_CAT(test_fn_, __LINE__)()

#define CHECK(cond) \
  do { if (!(cond)) check::fail(__FILE__, __LINE__, "CHECK(" #cond ") failed"); } while (0)

#define CHECK_EQ(a, b)                                                                               \
  do {                                                                                               \
    const auto& va_ = (a);                                                                           \
    const auto& vb_ = (b);                                                                           \
    if (!(va_ == vb_))                                                                               \
      check::fail(__FILE__, __LINE__, "CHECK_EQ(" #a ", " #b "): " + check::show(va_) + " != " + check::show(vb_)); \
  } while (0)

#define CHECK_BETWEEN(v, lo, hi)                                                                      \
  do {                                                                                               \
    const auto& vv_ = (v);                                                                           \
    if (!(vv_ >= (lo) && vv_ <= (hi)))                                                               \
      check::fail(__FILE__, __LINE__, #v " = " + check::show(vv_) + " not in [" + check::show(lo) + ", " + check::show(hi) + "]"); \
  } while (0)
