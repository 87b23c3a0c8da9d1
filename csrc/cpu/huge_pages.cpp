#include "razor/huge_pages.h"

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace razor {
namespace cpu {

bool advise_huge_pages(void* data, size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (data == nullptr || bytes < kAdviseHugePagesFromBytes) return false;
  const uintptr_t begin = reinterpret_cast<uintptr_t>(data);
  // Only whole huge pages inside the allocation: advising beyond it would touch other memory's
  // mapping flags.
  const uintptr_t first = (begin + kHugePageBytes - 1) & ~(uintptr_t{kHugePageBytes} - 1);
  const uintptr_t last = (begin + bytes) & ~(uintptr_t{kHugePageBytes} - 1);
  if (last <= first) return false;
  return madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE) == 0;
#else
  (void)data;
  (void)bytes;
  return false;
#endif
}

}  // namespace cpu
}  // namespace razor
