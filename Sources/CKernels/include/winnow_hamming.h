#ifndef WINNOW_HAMMING_H
#define WINNOW_HAMMING_H
#include <stddef.h>
#include <stdint.h>

/// Keeps, in order and at the front of `ids`, the ids whose 256-bit hash (`hashes[4 * id]` to `hashes[4 * id + 3]`)
/// is within Hamming distance `radius` of `query`, writing each kept one's distance to `distances`; returns how
/// many were kept. Uses the POPCNT instruction when the CPU has it, and prefetches the hashes ahead of the loop.
size_t winnow_hamming_filter(
    const uint64_t *hashes, uint32_t *ids, size_t count, const uint64_t *query, int radius, uint8_t *distances);

/// The smallest Hamming distance from `query` to hashes `start` to `end - 1`, and (in `best`) the first id with it:
/// a plain full scan, the exact search the index is measured against.
int winnow_hamming_nearest(const uint64_t *hashes, size_t start, size_t end, const uint64_t *query, size_t *best);

/// Scans `buckets` ranges of bit-packed entries (`width` bits each from bit 0 of `packed`, an id in the low
/// `id_bits` and check bits above): appends to `out` the id of every entry whose check bits differ from `check` in
/// at most `allowance[b]` bits, entries `starts[b]` to `ends[b] - 1` of bucket b. `packed` must be readable 8 bytes
/// past its last entry. Returns the number appended.
size_t winnow_hamming_scan_buckets(
    const uint8_t *packed, const uint32_t *starts, const uint32_t *ends, const uint8_t *allowance, size_t buckets,
    unsigned width, unsigned id_bits, uint64_t check, uint32_t *out);

/// 1 when the POPCNT path is used on this CPU.
int winnow_hamming_have_popcnt(void);

#endif
