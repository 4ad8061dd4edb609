/* fw_metal_objc.h - the Objective-C runtime and Metal C entry points the Metal backend uses.
 *
 * On macOS with the SDK the runtime's own headers are included. Everywhere else (Linux CI, and the
 * cross-compiles to Mach-O objects that have no SDK: -DFW_METAL_NO_SDK) this header declares the
 * same shapes Apple's headers declare, so the backend type-checks under -Wall -Wextra -Werror and
 * clang can emit real arm64/x86_64 macOS objects whose undefined symbols tests/metal inspects.
 *
 * Only the types fairway itself needs are named here, with fw_ prefixes where Foundation has its own
 * (NSUInteger, MTLSize) so the two never collide when the SDK is present.
 */
#ifndef FW_METAL_OBJC_H
#define FW_METAL_OBJC_H

#include <stdbool.h>

#if defined(__APPLE__) && !defined(FW_METAL_NO_SDK)
/* objc_msgSend without arguments in its prototype: every call is cast to the method's signature. */
#ifndef OBJC_OLD_DISPATCH_PROTOTYPES
#define OBJC_OLD_DISPATCH_PROTOTYPES 0
#endif
#include <objc/message.h>
#include <objc/runtime.h>
typedef BOOL fw_objc_bool;
#else
typedef struct objc_object *id;
typedef struct objc_selector *SEL;
typedef struct objc_class *Class;
Class objc_getClass(const char *name);
SEL sel_registerName(const char *name);
/* Declared without a prototype's arguments, as objc4 does when OBJC_OLD_DISPATCH_PROTOTYPES is 0:
 * every call casts it to the exact signature of the method (never the variadic form). */
void objc_msgSend(void);
#if defined(__x86_64__)
void objc_msgSend_stret(void);
#endif
/* BOOL is bool on arm64 macOS and signed char on x86_64 macOS; clang says which. */
#if defined(__OBJC_BOOL_IS_BOOL) && __OBJC_BOOL_IS_BOOL
typedef bool fw_objc_bool;
#else
typedef signed char fw_objc_bool;
#endif
#endif

/* In libobjc but in no public header (zig-objc and others declare them the same way). */
void *objc_autoreleasePoolPush(void);
void objc_autoreleasePoolPop(void *pool);

/* Metal.framework's C entry point; +1 (the "Create" rule). nil without a GPU, and nil in a
 * command-line process that does not link CoreGraphics. */
id MTLCreateSystemDefaultDevice(void);

typedef unsigned long fw_nsuint;   /* NSUInteger on 64-bit macOS */
typedef long fw_nsint;             /* NSInteger on 64-bit macOS */

/* MTLSize: three NSUInteger, 24 bytes. Returned by value it needs objc_msgSend_stret on x86_64. */
typedef struct fw_mtl_size {
    fw_nsuint width, height, depth;
} fw_mtl_size;

#endif
