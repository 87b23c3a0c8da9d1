// razor_ext._C: loading it registers the torch.ops.razor_ext.* schemas and kernels (static
// initialisers in the op translation units). The pybind11 surface carries plain build facts only;
// tensors cross through the dispatcher, never through pybind11 signatures.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "razor/huge_pages.h"
#include "razor/isa.h"
#include "razor/weight_only.h"

#ifndef RAZOR_EXT_TORCH_VERSION
#error "RAZOR_EXT_TORCH_VERSION must name the torch version the extension is built against"
#endif
#ifndef RAZOR_EXT_WITH_CUDA
#define RAZOR_EXT_WITH_CUDA 0
#endif
#ifndef RAZOR_EXT_CUDA_ARCHS
#define RAZOR_EXT_CUDA_ARCHS ""
#endif

namespace {

std::vector<std::string> split_archs(const std::string& text) {
  std::vector<std::string> archs;
  std::string current;
  for (char ch : text) {
    if (ch == ';' || ch == ' ' || ch == ',') {
      if (!current.empty()) archs.push_back(current);
      current.clear();
    } else {
      current.push_back(ch);
    }
  }
  if (!current.empty()) archs.push_back(current);
  return archs;
}

}  // namespace

PYBIND11_MODULE(_C, m) {
  m.doc() = "razor_ext compiled kernels; ops live under torch.ops.razor_ext";
  m.attr("torch_version") = RAZOR_EXT_TORCH_VERSION;
  m.attr("with_cuda") = static_cast<bool>(RAZOR_EXT_WITH_CUDA);
  m.attr("cuda_archs") = split_archs(RAZOR_EXT_CUDA_ARCHS);
  // The CPU kernels' instruction-set path (razor/isa.h): the one in use and the CPU's widest.
  m.def("cpu_isa", [] { return std::string(razor::isa_name(razor::active_isa())); });
  m.def("cpu_isa_host", [] { return std::string(razor::isa_name(razor::host_isa())); });
  // Huge-page advice for a fresh CPU buffer by address (razor/huge_pages.h); tensors stay out of
  // pybind11 signatures: razor_ext.ops.advise_huge_pages passes data_ptr() and nbytes.
  m.def("advise_huge_pages", [](uintptr_t address, size_t bytes) {
    return razor::cpu::advise_huge_pages(reinterpret_cast<void*>(address), bytes);
  });
  // weight_only_linear's CPU path for a shape: "avx512_bf16", "avx512", "avx2" or "scalar".
  m.def("weight_only_cpu_path", [](int64_t group_size, int bits) {
    return std::string(razor::cpu::weight_only_path(group_size, bits));
  });
}
