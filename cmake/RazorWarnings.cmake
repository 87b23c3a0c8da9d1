# Strict warnings for our own targets (csrc/, python/, tests/csrc/). Torch and pybind11 headers come
# in as imported (system) include directories, so their warnings do not count against us.
function(razor_strict_warnings target)
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra>)
  if(RAZOR_EXT_WERROR)
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Werror>)
  endif()
endfunction()
