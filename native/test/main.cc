// Runs every registered test (or those whose name contains argv[1]).
#include <cstdio>
#include <cstring>

#include "check.h"

int main(int argc, char** argv) {
  int passed = 0, failed = 0;
  for (const auto& c : check::registry()) {
    if (argc > 1 && !std::strstr(c.name, argv[1])) continue;
    try {
      c.fn();
      passed++;
    } catch (const check::Failure& f) {
      failed++;
      std::printf("FAIL %s\n  %s\n", c.name, f.what());
    } catch (const std::exception& e) {
      failed++;
      std::printf("FAIL %s\n  exception: %s\n", c.name, e.what());
    }
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 && passed > 0 ? 0 : 1;
}
