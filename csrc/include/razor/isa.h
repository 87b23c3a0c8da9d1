// Which instruction-set path the CPU kernels run: the widest one the CPU supports, unless the
// environment variable RAZOR_EXT_ISA=avx512|avx2|scalar narrows it (read once, at first use), so
// that the tests can run every path on one host (an AVX-512 host runs all three).
//   avx512  the x86-64-v4 clones and the hand-written AVX-512 fake-quant loops
//   avx2    the x86-64-v3 / AVX2 clones and AVX2 streaming row copies
//   scalar  plain x86-64 code with loop vectorization off, SSE2 streaming row copies
// A request wider than the CPU supports is capped at the CPU's level. The older switch
// RAZOR_EXT_NO_AVX512=1 still caps the path at avx2 when RAZOR_EXT_ISA is unset.
#pragma once

namespace razor {

enum class Isa : int { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

// The widest level this CPU runs (kScalar off x86-64 or without GCC's multiversioning).
Isa host_isa();

// The level the kernels use: host_isa() capped by the environment (see above).
Isa active_isa();

// "avx512", "avx2" or "scalar".
const char* isa_name(Isa isa);

// Parses a level name; false (and *out untouched) for anything else, empty text included.
bool parse_isa(const char* text, Isa* out);

}  // namespace razor
