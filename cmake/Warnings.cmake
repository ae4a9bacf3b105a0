# Warnings for every target of the project (STYLE.md, "Size and format").
set(LZS_C_WARNINGS
  -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes -Wmissing-prototypes
  -Wwrite-strings -Wvla -Wno-unused-parameter
  -Werror=implicit-function-declaration -Werror=incompatible-pointer-types
  -Werror=int-conversion -Werror=return-type)
if(LZS_WERROR)
  list(APPEND LZS_C_WARNINGS -Werror)
endif()

function(lzs_target_warnings target)
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:C>:${LZS_C_WARNINGS}>)
endfunction()
