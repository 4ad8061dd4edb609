/* fake_objc.h - a recording stand-in for the Objective-C runtime and Metal, for tests/metal.
 *
 * fake_objc_runtime is an fw_metal_rt whose objects are C structs. It models what the backend's own
 * logic depends on and nothing more:
 *   - ownership: alloc/new.../MTLCreateSystemDefaultDevice give +1 objects; class convenience
 *     constructors and getters give +0 objects registered in the innermost autorelease pool, which
 *     releases them when popped; a message to a freed object is a violation;
 *   - pools: push/pop must nest (LIFO), and an autoreleased object with no pool is a violation;
 *   - shapes: each selector is accepted only through the wrapper of its exact C signature (a
 *     setBuffer:offset:atIndex: sent through another shape is a violation);
 *   - command buffers: endEncoding before commit, commit before waitUntilCompleted, nothing encoded
 *     after endEncoding, GPUStartTime/GPUEndTime 0.0 until completion;
 *   - scripted failures (fake_script) for every error path of the backend.
 * Violations are counted and their first texts kept, so a test asserts fake_violations() == 0.
 */
#ifndef FAKE_OBJC_H
#define FAKE_OBJC_H

#include "fw_metal.h"

typedef struct fake_script {
    int no_device;          /* MTLCreateSystemDefaultDevice returns nil */
    int missing_class;      /* objc_getClass("MTLCompileOptions") returns nil */
    int no_queue;           /* newCommandQueue returns nil */
    int compile_error;      /* newLibraryWithSource: nil + NSError code 3 */
    int compile_warning;    /* newLibraryWithSource: library + NSError code 4 */
    int pipeline_error;     /* newComputePipelineStateWithFunction:error: nil + NSError */
    int buffer_fail;        /* newBufferWithLength:options: returns nil */
    int no_command_buffer;  /* commandBuffer returns nil */
    long cb_error;          /* non-zero: the command buffer ends with status 5 and this error code */
    int has_math_mode;      /* respondsToSelector:@selector(setMathMode:) answers YES */
    int no_timestamps;      /* GPUStartTime/GPUEndTime stay 0.0 after completion */
} fake_script;

typedef struct fake_record {
    /* what the backend sent, for assertions */
    int macros_n;
    char macro_keys[16][64];
    char macro_vals[16][64];      /* "num:64" for an NSNumber, "str:..." for an NSString */
    unsigned long language;
    int math_mode;                /* -1 if never set */
    int fast_math;                /* -1 if never set */
    char function_name[128];
    unsigned long grid[3], group[3];
    int dispatches;
    int set_buffers, set_bytes;
    unsigned long set_bytes_len[8];
    unsigned long tg_mem_len;
    unsigned long tg_mem_at[8];   /* setThreadgroupMemoryLength by index */
    unsigned long buffer_at;      /* bit i: a setBuffer at index i */
    int commits;
    unsigned long buffer_options;
} fake_record;

extern const fw_metal_rt fake_objc_runtime;

/* Start a fresh world with a script (frees every object of the previous one). */
void fake_reset(const fake_script *s);
fake_record *fake_rec(void);
/* Violations so far, and the first one's text (or ""). */
int fake_violations(void);
const char *fake_first_violation(void);
/* +1 objects still alive (created by alloc/new/Create and not released to 0). */
int fake_owned_alive(void);
/* Pools pushed and not popped. */
int fake_pool_depth(void);
/* Total pushes and pops so far. */
int fake_pool_pushes(void);
int fake_pool_pops(void);
/* Messages sent with this selector so far. */
int fake_sent(const char *selector);
/* Was every selector the backend sent (sel_registerName) in this NULL-terminated list? Returns the
 * first one that was not, or NULL. */
const char *fake_sel_outside(const char *const *allowed);

#endif
