/* Compression detection by magic bytes. */
#include "zseek_i.h"

enum lzs_compression lzs_zseek_detect(const void *p, size_t n)
{
    const uint8_t *b = p;
    if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b)
        return LZS_COMPRESSION_GZIP;
    if (n < 4)
        return LZS_COMPRESSION_NONE;
    if (b[0] == 0x28 && b[1] == 0xb5 && b[2] == 0x2f && b[3] == 0xfd)
        return LZS_COMPRESSION_ZSTD;
    if ((b[0] & 0xf0) == 0x50 && b[1] == 0x2a && b[2] == 0x4d && b[3] == 0x18)
        return LZS_COMPRESSION_ZSTD; /* skippable frame 0x184D2A5? */
    return LZS_COMPRESSION_NONE;
}

const char *lzs_compression_name(enum lzs_compression c)
{
    switch (c) {
    case LZS_COMPRESSION_NONE:
        return "none";
    case LZS_COMPRESSION_GZIP:
        return "gzip";
    case LZS_COMPRESSION_ZSTD:
        return "zstd";
    }
    return "unknown";
}
