// Run-time choice of vector width, as ATen does: a function marked RAZOR_VECTOR_CLONES is compiled
// for AVX-512, AVX2 and baseline x86-64, and the loader picks the widest the CPU supports. Never
// -march=native: that would tie a build to the machine that compiled it.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define RAZOR_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define RAZOR_VECTOR_CLONES
#endif

// Helpers inlined into every clone, so each is compiled for the clone's instruction set.
#if defined(__GNUC__)
#define RAZOR_INLINE inline __attribute__((always_inline))
#else
#define RAZOR_INLINE inline
#endif
