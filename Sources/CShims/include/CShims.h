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
#include <sys/eventfd.h>
// The kernel's uapi header first: liburing ships its own copy under the same include guard, and
// SwiftNIO's CSystem module includes the kernel's, so one definition must win for both modules.
#include <linux/io_uring.h>
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

/// Names the calling thread (at most 15 bytes are kept; shows in /proc/self/task/*/comm, top, perf).
void tandem_set_thread_name(const char *name);

/// The `errno` of the calling thread (a macro in glibc, so Swift cannot always read it portably).
int tandem_errno(void);

/// A provided-buffer ring registered with `ring` under group `bgid` (what liburing 2.4's
/// io_uring_setup_buf_ring does, for liburing 2.3): `entries` (a power of two) ring slots in
/// page-aligned memory, initialised empty. Returns NULL and sets `*err` (negative errno) on failure,
/// e.g. -EINVAL on kernels before 5.19.
struct io_uring_buf_ring *tandem_setup_buf_ring(struct io_uring *ring, unsigned int entries, int bgid, int *err);

/// Unregisters and unmaps a ring made by `tandem_setup_buf_ring`.
void tandem_free_buf_ring(struct io_uring *ring, struct io_uring_buf_ring *br, unsigned int entries, int bgid);

/// Puts buffer `bid` (`len` bytes at `addr`) at slot `offset` past the ring's tail (not yet visible).
void tandem_buf_ring_add(struct io_uring_buf_ring *br, void *addr, unsigned int len, unsigned short bid,
                         unsigned int entries, int offset);

/// Makes `count` added buffers visible to the kernel.
void tandem_buf_ring_advance(struct io_uring_buf_ring *br, int count);

/// Arms a multishot receive on `fd` that takes its buffers from group `bgid` (IOSQE_BUFFER_SELECT).
void tandem_prep_recv_multishot(struct io_uring_sqe *sqe, int fd, int bgid);

#endif
