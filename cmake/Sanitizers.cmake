# -DLZS_SANITIZERS="address;undefined" builds everything with those sanitizers.
if(LZS_SANITIZERS)
  list(JOIN LZS_SANITIZERS "," _lzs_san)
  add_compile_options(-fsanitize=${_lzs_san} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${_lzs_san})
  message(STATUS "lazysnap: sanitizers ${_lzs_san}")
endif()

# -DLZS_FUZZ=ON (with clang): coverage instrumentation for the whole library, fuzzers link libFuzzer.
if(LZS_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "LZS_FUZZ needs clang (CC=clang)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
