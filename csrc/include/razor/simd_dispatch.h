// Run-time choice of vector width, as ATen does: a hot loop is compiled once per instruction set
// (AVX-512, AVX2, plain x86-64) and razor::active_isa() picks one per call: the widest the CPU
// supports, or the narrower one RAZOR_EXT_ISA asks for (razor/isa.h), so that every path can be
// tested on one host. Never -march=native: that would tie a build to the machine that compiled it.
#pragma once

#include "razor/isa.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define RAZOR_X86_DISPATCH 1
#else
#define RAZOR_X86_DISPATCH 0
#endif

// Helpers inlined into every version, so each is compiled for the version's instruction set.
#if defined(__GNUC__)
#define RAZOR_INLINE inline __attribute__((always_inline))
#else
#define RAZOR_INLINE inline
#endif

// RAZOR_ISA_VERSIONS(T512, T2, name, (params), (args)) defines `void name(params)`, which runs
// `name##_body(args)` (a RAZOR_INLINE function) compiled for the target T512, T2 or plain x86-64
// with loop vectorization off ("scalar"), as active_isa() says.
#if RAZOR_X86_DISPATCH
#define RAZOR_ISA_VERSIONS(T512, T2, name, params, args)                                 \
  __attribute__((target(T512))) void name##_avx512 params { name##_body args; }          \
  __attribute__((target(T2))) void name##_avx2 params { name##_body args; }              \
  __attribute__((optimize("no-tree-vectorize", "no-tree-slp-vectorize"))) void           \
      name##_scalar params {                                                             \
    name##_body args;                                                                    \
  }                                                                                      \
  void name params {                                                                     \
    switch (::razor::active_isa()) {                                                     \
      case ::razor::Isa::kAvx512: return name##_avx512 args;                             \
      case ::razor::Isa::kAvx2: return name##_avx2 args;                                 \
      default: return name##_scalar args;                                                \
    }                                                                                    \
  }
#else
#define RAZOR_ISA_VERSIONS(T512, T2, name, params, args) \
  void name params { name##_body args; }
#endif

// The vector versions of the elementwise and reduction loops.
#define RAZOR_VECTOR_VERSIONS(name, params, args) \
  RAZOR_ISA_VERSIONS("avx512f", "avx2", name, params, args)
