/* Stand-in for the macOS SDK's <errno.h>, with Darwin's values (they differ from Linux's for
 * ENOTSUP and others). errno is a function call on Darwin, as here. */
#ifndef FW_XINCLUDE_ERRNO_H
#define FW_XINCLUDE_ERRNO_H
int *__error(void);
#define errno (*__error())
#define EIO 5
#define ENOMEM 12
#define EFAULT 14
#define ENODEV 19
#define EINVAL 22
#define ERANGE 34
#define ENOTSUP 45
#endif
