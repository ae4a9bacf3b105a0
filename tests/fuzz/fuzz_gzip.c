/* Fuzz target: gzip layer blobs (untrusted: they come from registries). See fuzz_zseek.h. */
#include "fuzz_zseek.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_zseek_one(data, size, LZS_COMPRESSION_GZIP);
}
