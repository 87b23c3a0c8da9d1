# Without a CUDA torch, still prove that every csrc/cuda/*.cu compiles: one ctest per file running
# `nvcc -c`. The .cu files include only the CUDA runtime (no torch), which is what makes this work.
if(RAZOR_EXT_CUDA)
  return()  # the real build compiles them
endif()
find_program(RAZOR_NVCC nvcc)
if(NOT RAZOR_NVCC)
  message(STATUS "razor_ext: nvcc not found; CUDA compile check skipped")
  return()
endif()
set(RAZOR_CHECK_ARCH "90" CACHE STRING "Architecture used by the nvcc compile check")
file(GLOB RAZOR_CHECK_CU CONFIGURE_DEPENDS "${CMAKE_CURRENT_SOURCE_DIR}/csrc/cuda/*.cu")
foreach(cu ${RAZOR_CHECK_CU})
  get_filename_component(cu_name "${cu}" NAME_WE)
  set(_werror "")
  if(RAZOR_EXT_WERROR)
    set(_werror "-Werror=all-warnings")
  endif()
  add_test(NAME nvcc_compile_${cu_name}
           COMMAND "${RAZOR_NVCC}" -c -std=c++17 -O3 ${_werror}
                   -gencode "arch=compute_${RAZOR_CHECK_ARCH},code=sm_${RAZOR_CHECK_ARCH}"
                   -I "${CMAKE_CURRENT_SOURCE_DIR}/csrc/include" "${cu}"
                   -o "${CMAKE_CURRENT_BINARY_DIR}/nvcc_check_${cu_name}.o")
endforeach()
