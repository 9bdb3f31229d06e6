// CShims: the only C in Tandem. Headers of the system libraries Swift calls directly, plus tiny
// shims for the few things Swift cannot reach (macros, weak symbols, dladdr).
#ifndef TANDEM_CSHIMS_H
#define TANDEM_CSHIMS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <liburing.h>
#include <mysql/mysql.h>

/// jemalloc's version string read through `mallctl("version")`, or NULL when jemalloc is not the
/// process allocator (the weakly linked `mallctl` is absent, e.g. in test binaries).
const char *tandem_jemalloc_version(void);

/// Reads a size_t statistic (e.g. "stats.allocated") through mallctl after refreshing jemalloc's
/// stats epoch. Returns 0 on success, an errno-style code otherwise (ENOENT when jemalloc is absent).
int tandem_jemalloc_stat(const char *name, size_t *value);

/// The liburing version: from the library's own version functions when it has them (liburing >= 2.4),
/// else parsed from the soname of the loaded shared object (liburing.so.2.3 -> "2.3").
/// Writes a NUL-terminated string into `buf`.
void tandem_liburing_version(char *buf, size_t len);

/// Whether the kernel lets this process create an io_uring. Returns 0 when allowed, else the
/// negative errno io_uring_queue_init returned (-EPERM under Docker's default seccomp, -ENOSYS).
int tandem_io_uring_probe(void);

/// accept4(2) without the peer address (glibc declares it only under _GNU_SOURCE).
int tandem_accept4(int fd, int flags);

/// The `errno` of the calling thread (a macro in glibc, so Swift cannot always read it portably).
int tandem_errno(void);

#endif
