# Every third-party library the project uses, from Debian 12 packages, as imported targets.
# Each is linked PRIVATE by exactly one module (STYLE.md: the owner), checked by scripts/check-includes.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

pkg_check_modules(ZLIB REQUIRED IMPORTED_TARGET zlib)                  # zseek
pkg_check_modules(ZSTD REQUIRED IMPORTED_TARGET libzstd)               # zseek
pkg_check_modules(LIBARCHIVE REQUIRED IMPORTED_TARGET libarchive)      # archive
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)               # registry
pkg_check_modules(GRPC REQUIRED IMPORTED_TARGET grpc)                  # rpc (C core)
pkg_check_modules(PROTOBUF_C REQUIRED IMPORTED_TARGET libprotobuf-c)   # rpc
pkg_check_modules(FUSE3 REQUIRED IMPORTED_TARGET fuse3)                # fusefs
pkg_check_modules(SQLITE3 REQUIRED IMPORTED_TARGET sqlite3)            # snapshot
pkg_check_modules(LIBCRYPTO REQUIRED IMPORTED_TARGET libcrypto)        # base (sha256)
pkg_check_modules(JSONC REQUIRED IMPORTED_TARGET json-c)               # oci
pkg_check_modules(MHD REQUIRED IMPORTED_TARGET libmicrohttpd)          # tests: fault-injecting HTTP fronts
pkg_check_modules(TOMLPP REQUIRED IMPORTED_TARGET tomlplusplus)        # config (C++17 shim)

find_program(PROTOC_C protoc-c REQUIRED)
set(LZS_WKT_DIR /usr/include CACHE PATH "where google/protobuf/*.proto live")
