# Finds the torch that the running Python imports (the extension must link against exactly it).
# Sets TORCH_LIBRARIES, TORCH_CXX_FLAGS (from TorchConfig), RAZOR_TORCH_VERSION, RAZOR_TORCH_LIB_DIR.
execute_process(
  COMMAND "${Python_EXECUTABLE}" -c
          "import os, torch; print(torch.utils.cmake_prefix_path); print(torch.__version__); print(os.path.join(os.path.dirname(torch.__file__), 'lib'))"
  OUTPUT_VARIABLE _razor_torch_info OUTPUT_STRIP_TRAILING_WHITESPACE
  RESULT_VARIABLE _razor_torch_status)
if(NOT _razor_torch_status EQUAL 0)
  message(FATAL_ERROR "razor_ext needs PyTorch importable from ${Python_EXECUTABLE}: "
                      "pip install torch==2.13.0, then build with --no-build-isolation")
endif()
string(REPLACE "\n" ";" _razor_torch_info "${_razor_torch_info}")
list(GET _razor_torch_info 0 _razor_torch_prefix)
list(GET _razor_torch_info 1 RAZOR_TORCH_VERSION)
list(GET _razor_torch_info 2 RAZOR_TORCH_LIB_DIR)
list(APPEND CMAKE_PREFIX_PATH "${_razor_torch_prefix}")
find_package(Torch REQUIRED)
