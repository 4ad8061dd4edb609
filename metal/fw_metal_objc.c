/* fw_metal_objc.c - the real fw_metal_rt: the only file that calls objc_msgSend.
 *
 * Each wrapper casts the message-send trampoline to the exact C signature of the method it sends
 * (receiver, SEL, then the arguments with their exact widths), never to the variadic prototype: on
 * arm64 variadic arguments travel on the stack while the method reads registers.
 *
 * The trampolines are reached through non-const function-pointer variables rather than by casting
 * the functions' names: gcc warns "function called through a non-compatible type" for a direct cast
 * (no -W flag turns it off, so -Werror fails), and these variables are also what keeps the cast in
 * one visible place.
 *
 * Struct returns: on x86_64 a struct wider than 16 bytes (MTLSize, 24) comes back through a hidden
 * pointer and needs objc_msgSend_stret; arm64 has no _stret variant and returns it in registers
 * through plain objc_msgSend. double returns use plain objc_msgSend on both (objc4 routes only long
 * double through _fpret on x86_64).
 */
#include "fw_metal.h"

void (*fw_metal_objc_send)(void) = objc_msgSend;
#if defined(__x86_64__)
void (*fw_metal_objc_send_stret)(void) = objc_msgSend_stret;
#elif !defined(__aarch64__) && !defined(__arm64__)
#error "the Metal backend supports arm64 and x86_64 macOS only"
#endif

/* The data model these casts assume (LP64, Apple's BOOL), checked wherever this file compiles. */
_Static_assert(sizeof(fw_nsuint) == 8 && sizeof(fw_nsint) == 8, "NSUInteger/NSInteger are 64-bit on macOS");
_Static_assert(sizeof(fw_mtl_size) == 24, "MTLSize is three NSUInteger");
_Static_assert(sizeof(fw_objc_bool) == 1, "BOOL is one byte on both Mac architectures");
#if defined(__APPLE__) && (defined(__aarch64__) || defined(__arm64__))
_Static_assert(__OBJC_BOOL_IS_BOOL, "arm64 macOS: BOOL is bool");
#elif defined(__APPLE__)
_Static_assert(!__OBJC_BOOL_IS_BOOL, "x86_64 macOS: BOOL is signed char");
#endif

#define SEND(type) ((type)fw_metal_objc_send)

static id rt_create_device(void) { return MTLCreateSystemDefaultDevice(); }
/* Older SDKs declare objc_getClass as returning id: the cast keeps both spellings warning-free. */
static Class rt_get_class(const char *name) { return (Class)objc_getClass(name); }
static SEL rt_sel(const char *name) { return sel_registerName(name); }
static void *rt_pool_push(void) { return objc_autoreleasePoolPush(); }
static void rt_pool_pop(void *pool) { objc_autoreleasePoolPop(pool); }

static id s_id(id o, SEL s) { return SEND(id (*)(id, SEL))(o, s); }
static void s_void(id o, SEL s) { SEND(void (*)(id, SEL))(o, s); }
static fw_nsuint s_uint(id o, SEL s) { return SEND(fw_nsuint (*)(id, SEL))(o, s); }
static fw_nsint s_int(id o, SEL s) { return SEND(fw_nsint (*)(id, SEL))(o, s); }
static double s_double(id o, SEL s) { return SEND(double (*)(id, SEL))(o, s); }
static const char *s_cstr(id o, SEL s) { return SEND(const char *(*)(id, SEL))(o, s); }
static void *s_ptr(id o, SEL s) { return SEND(void *(*)(id, SEL))(o, s); }

static fw_mtl_size s_size(id o, SEL s)
{
    if (!o) {
        /* A nil receiver leaves a struct return undefined on some runtimes: answer zeros. */
        fw_mtl_size z = {0, 0, 0};
        return z;
    }
#if defined(__x86_64__)
    return ((fw_mtl_size (*)(id, SEL))fw_metal_objc_send_stret)(o, s);
#else
    return SEND(fw_mtl_size (*)(id, SEL))(o, s);
#endif
}

static fw_objc_bool s_bool_sel(id o, SEL s, SEL a) { return SEND(fw_objc_bool (*)(id, SEL, SEL))(o, s, a); }
static fw_objc_bool s_bool_int(id o, SEL s, fw_nsint a)
{
    return SEND(fw_objc_bool (*)(id, SEL, fw_nsint))(o, s, a);
}
static id s_id_cstr(id o, SEL s, const char *a) { return SEND(id (*)(id, SEL, const char *))(o, s, a); }
static id s_id_id(id o, SEL s, id a) { return SEND(id (*)(id, SEL, id))(o, s, a); }
static id s_id_llong(id o, SEL s, long long a) { return SEND(id (*)(id, SEL, long long))(o, s, a); }
static id s_id_id_id_err(id o, SEL s, id a, id b, id *e) { return SEND(id (*)(id, SEL, id, id, id *))(o, s, a, b, e); }
static id s_id_id_err(id o, SEL s, id a, id *e) { return SEND(id (*)(id, SEL, id, id *))(o, s, a, e); }
static id s_id_uint_uint(id o, SEL s, fw_nsuint a, fw_nsuint b)
{
    return SEND(id (*)(id, SEL, fw_nsuint, fw_nsuint))(o, s, a, b);
}
static id s_id_objs_keys_count(id o, SEL s, const id *objs, const id *keys, fw_nsuint n)
{
    return SEND(id (*)(id, SEL, const id *, const id *, fw_nsuint))(o, s, objs, keys, n);
}
static void s_void_id(id o, SEL s, id a) { SEND(void (*)(id, SEL, id))(o, s, a); }
static void s_void_bool(id o, SEL s, fw_objc_bool a) { SEND(void (*)(id, SEL, fw_objc_bool))(o, s, a); }
static void s_void_uint(id o, SEL s, fw_nsuint a) { SEND(void (*)(id, SEL, fw_nsuint))(o, s, a); }
static void s_void_int(id o, SEL s, fw_nsint a) { SEND(void (*)(id, SEL, fw_nsint))(o, s, a); }
static void s_void_uint_uint(id o, SEL s, fw_nsuint a, fw_nsuint b)
{
    SEND(void (*)(id, SEL, fw_nsuint, fw_nsuint))(o, s, a, b);
}
static void s_void_id_uint_uint(id o, SEL s, id a, fw_nsuint b, fw_nsuint c)
{
    SEND(void (*)(id, SEL, id, fw_nsuint, fw_nsuint))(o, s, a, b, c);
}
static void s_void_ptr_uint_uint(id o, SEL s, const void *a, fw_nsuint b, fw_nsuint c)
{
    SEND(void (*)(id, SEL, const void *, fw_nsuint, fw_nsuint))(o, s, a, b, c);
}
static void s_void_size_size(id o, SEL s, fw_mtl_size a, fw_mtl_size b)
{
    SEND(void (*)(id, SEL, fw_mtl_size, fw_mtl_size))(o, s, a, b);
}

const fw_metal_rt fw_metal_objc_runtime = {
    .version = FW_METAL_RT_VERSION,
    .create_device = rt_create_device,
    .get_class = rt_get_class,
    .sel = rt_sel,
    .pool_push = rt_pool_push,
    .pool_pop = rt_pool_pop,
    .send_id = s_id,
    .send_void = s_void,
    .send_uint = s_uint,
    .send_int = s_int,
    .send_double = s_double,
    .send_cstr = s_cstr,
    .send_ptr = s_ptr,
    .send_size = s_size,
    .send_bool_sel = s_bool_sel,
    .send_bool_int = s_bool_int,
    .send_id_cstr = s_id_cstr,
    .send_id_id = s_id_id,
    .send_id_llong = s_id_llong,
    .send_id_id_id_err = s_id_id_id_err,
    .send_id_id_err = s_id_id_err,
    .send_id_uint_uint = s_id_uint_uint,
    .send_id_objs_keys_count = s_id_objs_keys_count,
    .send_void_id = s_void_id,
    .send_void_bool = s_void_bool,
    .send_void_uint = s_void_uint,
    .send_void_int = s_void_int,
    .send_void_uint_uint = s_void_uint_uint,
    .send_void_id_uint_uint = s_void_id_uint_uint,
    .send_void_ptr_uint_uint = s_void_ptr_uint_uint,
    .send_void_size_size = s_void_size_size,
};
