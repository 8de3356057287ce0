#include "CFuzzer.h"
#include <stddef.h>
#include <stdint.h>

/* The sanitizer runtime's allocation hooks (compiler-rt, sanitizer/allocator_interface.h): called
   on every allocation and deallocation the sanitizer's allocator makes. */
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
                                              void (*free_hook)(const volatile void *));

static volatile int tracking = 0;
static volatile size_t largest = 0;

static void on_malloc(const volatile void *pointer, size_t size) {
    (void)pointer;
    if (tracking && size > largest) largest = size;
}

static void on_free(const volatile void *pointer) { (void)pointer; }

void CFuzzerTrackAllocations(void) {
    static int installed = 0;
    if (!installed) {
        __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
        installed = 1;
    }
    largest = 0;
    tracking = 1;
}

size_t CFuzzerLargestAllocation(void) {
    tracking = 0;
    return largest;
}
