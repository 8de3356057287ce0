#include <stddef.h>
#include <stdint.h>

/* libFuzzer's driver (compiler-rt, LLVM ≥ 11): parses the libFuzzer flags in argv and runs
   callback on each input. Linked in by -sanitize=fuzzer. */
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

/* Starts recording the largest single allocation (malloc, calloc, realloc, aligned allocation)
   made from now on, through AddressSanitizer's allocator hooks. */
void CFuzzerTrackAllocations(void);

/* Stops recording and returns the largest allocation, in bytes, since CFuzzerTrackAllocations. */
size_t CFuzzerLargestAllocation(void);
