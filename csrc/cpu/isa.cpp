#include "razor/isa.h"

#include <cstdlib>
#include <cstring>
#include <initializer_list>

#include "razor/simd_dispatch.h"

namespace razor {

Isa host_isa() {
#if RAZOR_X86_DISPATCH
  static const Isa host = [] {
    __builtin_cpu_init();
    // The exp clones are built for the x86-64-v4 / v3 levels (FMA, AVX-512 VL/BW/DQ), so a level
    // counts as available only when the CPU has all of it.
    if (__builtin_cpu_supports("x86-64-v4")) return Isa::kAvx512;
    if (__builtin_cpu_supports("x86-64-v3")) return Isa::kAvx2;
    return Isa::kScalar;
  }();
  return host;
#else
  return Isa::kScalar;
#endif
}

Isa active_isa() {
  static const Isa active = [] {
    Isa wanted = Isa::kAvx512;
    const char* text = std::getenv("RAZOR_EXT_ISA");
    const char* no_avx512 = std::getenv("RAZOR_EXT_NO_AVX512");
    if (text != nullptr && text[0] != '\0') {
      // An unknown name leaves the host's level; the Python layer rejects it with a ValueError.
      parse_isa(text, &wanted);
    } else if (no_avx512 != nullptr && no_avx512[0] != '\0' && no_avx512[0] != '0') {
      wanted = Isa::kAvx2;
    }
    const Isa host = host_isa();
    return static_cast<int>(wanted) < static_cast<int>(host) ? wanted : host;
  }();
  return active;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kAvx512: return "avx512";
    case Isa::kAvx2: return "avx2";
    default: return "scalar";
  }
}

bool parse_isa(const char* text, Isa* out) {
  if (text == nullptr) return false;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (std::strcmp(text, isa_name(isa)) == 0) {
      *out = isa;
      return true;
    }
  }
  return false;
}

}  // namespace razor
