// The C++ kernel tests' tiny harness: EXPECT counts failures (a test's main returns nonzero when
// any failed) and lcg() gives reproducible pseudo-random data without <random>'s per-platform
// differences. One header so every tests/csrc/test_*.cpp checks the same way.
#pragma once

#include <cstdint>
#include <cstdio>

namespace razor_test {

inline int failures = 0;

inline uint32_t lcg(uint32_t& state) {
  state = state * 1664525u + 1013904223u;
  return state;
}

}  // namespace razor_test

#define EXPECT(cond)                                                           \
  do {                                                                         \
    if (!(cond)) {                                                             \
      std::fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond); \
      ++razor_test::failures;                                                  \
    }                                                                          \
  } while (0)
