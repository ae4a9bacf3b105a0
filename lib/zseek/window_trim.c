/* Trim a deflate window to the bytes the data after the point actually references.
 *
 * Only the first 32 KiB of output after a point can reach back into its window, and in practice
 * it references a fraction of it. Decoding that stretch with synthetic dictionaries tells which
 * window bytes are used: bytes copied (directly or through earlier copies) from the window differ
 * between an all-0x00 and an all-0xff dictionary, and dictionaries holding the low and the high
 * byte of each position tell which window byte each came from. Unused bytes are zeroed, so the
 * stored (zstd-compressed) window shrinks while the reader stays unchanged: zeros that are never
 * referenced decode the same data as the real bytes. */
#include "zseek_i.h"

#include <limits.h>
#include <string.h>

enum { PROBE_ZERO, PROBE_ONES, PROBE_LOW, PROBE_HIGH, PROBES };

struct probe_input {
    const uint8_t *in;
    size_t in_len;
    uint8_t bits;
    uint8_t prime;
};

/* Decode up to LZS_ZSEEK_WINDOW bytes after the point with dictionary dict; returns the count,
 * or -1 if the input ended first or was invalid (then the window is kept whole). */
static ssize_t probe(const struct probe_input *pi, const uint8_t *dict, size_t len, uint8_t *out)
{
    z_stream z = {0};
    if (inflateInit2(&z, -15) != Z_OK)
        return -1;
    ssize_t n = -1;
    if ((pi->bits == 0 || inflatePrime(&z, pi->bits, pi->prime) == Z_OK) &&
        inflateSetDictionary(&z, dict, (uInt)len) == Z_OK) {
        z.next_in = (Bytef *)pi->in;
        z.avail_in = pi->in_len < UINT_MAX ? (uInt)pi->in_len : UINT_MAX;
        z.next_out = out;
        z.avail_out = LZS_ZSEEK_WINDOW;
        int zr = inflate(&z, Z_SYNC_FLUSH);
        if (zr == Z_STREAM_END || (zr == Z_OK && z.avail_out == 0))
            n = (ssize_t)(LZS_ZSEEK_WINDOW - z.avail_out);
    }
    inflateEnd(&z);
    return n;
}

static void fill_dict(uint8_t *d, size_t len, int kind)
{
    for (size_t j = 0; j < len; j++)
        d[j] = kind == PROBE_ZERO   ? 0x00
               : kind == PROBE_ONES ? 0xff
               : kind == PROBE_LOW  ? (uint8_t)(j & 0xff)
                                    : (uint8_t)(j >> 8);
}

/* scratch: PROBES * 2 * LZS_ZSEEK_WINDOW bytes (dictionary and output per probe). */
static bool find_used(const struct probe_input *pi, size_t len, uint8_t *scratch, uint8_t *used)
{
    uint8_t *out[PROBES];
    ssize_t n = -1;
    for (int k = 0; k < PROBES; k++) {
        uint8_t *dict = scratch + (size_t)k * 2 * LZS_ZSEEK_WINDOW;
        out[k] = dict + LZS_ZSEEK_WINDOW;
        fill_dict(dict, len, k);
        ssize_t got = probe(pi, dict, len, out[k]);
        if (got < 0 || (n >= 0 && got != n))
            return false;
        n = got;
    }
    memset(used, 0, len);
    for (ssize_t i = 0; i < n; i++) {
        if (out[PROBE_ZERO][i] == out[PROBE_ONES][i])
            continue; /* a literal, or copied from output that was */
        size_t src = (size_t)out[PROBE_HIGH][i] << 8 | out[PROBE_LOW][i];
        if (src >= len)
            return false; /* cannot happen: keep the window whole if it does */
        used[src] = 1;
    }
    return true;
}

void lzs_zseek_window_trim(uint8_t *win, size_t len, const uint8_t *in, size_t in_len, uint8_t bits,
                           uint8_t prev_byte, uint8_t *scratch)
{
    _Static_assert(LZS_ZSEEK_TRIM_SCRATCH >= (PROBES * 2 + 1) * LZS_ZSEEK_WINDOW,
                   "probes, outputs and the use map fit the scratch space");
    struct probe_input pi = {in, in_len, bits, (uint8_t)(bits ? prev_byte >> (8 - bits) : 0)};
    if (len == 0 || len > LZS_ZSEEK_WINDOW)
        return; /* keeping the whole window is always correct */
    uint8_t *used = scratch + (size_t)PROBES * 2 * LZS_ZSEEK_WINDOW;
    if (!find_used(&pi, len, scratch, used))
        return;
    for (size_t j = 0; j < len; j++)
        if (!used[j])
            win[j] = 0;
}
