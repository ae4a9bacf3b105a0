/* Fuzz target: zstd and zstd:chunked layer blobs (untrusted). See fuzz_zseek.h. */
#include "fuzz_zseek.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_zseek_one(data, size, LZS_COMPRESSION_ZSTD);
}
