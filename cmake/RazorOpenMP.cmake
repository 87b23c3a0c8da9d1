# OpenMP for targets that call at::parallel_for, bound to the OpenMP runtime torch ships.
function(razor_use_torch_openmp target)
  execute_process(
    COMMAND "${Python_EXECUTABLE}" -c
            "import torch; print('ATen parallel backend: OpenMP' in torch.__config__.parallel_info())"
    OUTPUT_VARIABLE _razor_aten_openmp OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT _razor_aten_openmp STREQUAL "True")
    message(STATUS "razor_ext: torch's parallel backend is not OpenMP; no -fopenmp")
    return()
  endif()
  file(GLOB _razor_torch_gomp "${RAZOR_TORCH_LIB_DIR}/libgomp*.so*")
  if(_razor_torch_gomp)
    list(GET _razor_torch_gomp 0 _razor_gomp)
    message(STATUS "razor_ext: OpenMP runtime from torch: ${_razor_gomp}")
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-fopenmp>)
    target_link_libraries(${target} PRIVATE "${_razor_gomp}")
  else()
    # Wheels that link the system runtime (e.g. some Linux distributions' torch builds).
    find_package(OpenMP REQUIRED COMPONENTS CXX)
    target_link_libraries(${target} PRIVATE OpenMP::OpenMP_CXX)
  endif()
endfunction()
