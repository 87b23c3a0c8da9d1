// Transparent huge pages for large fresh outputs. A new tensor's memory is mapped on first write,
// one page fault per 4 KiB page; for a gather whose output is hundreds of MiB (a pruned LLM's
// weights) those faults cost more than the copying itself (a 1 GiB clone: 0.32 s with 4 KiB pages,
// 0.10 s with 2 MiB ones, AMD EPYC, 2 threads). Asking for huge pages before the first write
// turns 512 faults into one. It is advice: the kernel may still use small pages.
#pragma once

#include <cstddef>
#include <cstdint>

namespace razor {
namespace cpu {

// A huge page on x86-64 and most Linux targets.
constexpr size_t kHugePageBytes = size_t{2} << 20;

// Outputs from this size are advised: smaller ones hold at most one aligned huge page, and a
// smaller allocation may share its pages with others that do not want them.
constexpr size_t kAdviseHugePagesFromBytes = size_t{4} << 20;

// Advises huge pages for the 2 MiB-aligned pages inside [data, data + bytes), which must be
// memory this process owns and has not yet written (pages already mapped stay small). Returns
// whether advice was given: false off Linux, for spans under kAdviseHugePagesFromBytes, or when
// the kernel refuses (THP disabled).
bool advise_huge_pages(void* data, size_t bytes);

}  // namespace cpu
}  // namespace razor
