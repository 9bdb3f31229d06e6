#define _GNU_SOURCE
#include "CShims.h"
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>

// Weak, so that binaries without jemalloc (tests) still link; the executable links jemalloc and
// then this resolves to the real mallctl.
extern int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen)
    __attribute__((weak));

const char *tandem_jemalloc_version(void) {
    if (mallctl == NULL) return NULL;
    const char *version = NULL;
    size_t len = sizeof(version);
    if (mallctl("version", &version, &len, NULL, 0) != 0) return NULL;
    return version;
}

int tandem_jemalloc_stat(const char *name, size_t *value) {
    if (mallctl == NULL) return ENOENT;
    uint64_t epoch = 1;
    size_t epoch_len = sizeof(epoch);
    mallctl("epoch", &epoch, &epoch_len, &epoch, epoch_len);
    size_t len = sizeof(*value);
    return mallctl(name, value, &len, NULL, 0);
}

void tandem_liburing_version(char *buf, size_t len) {
    if (len == 0) return;
    buf[0] = 0;
#if defined(IO_URING_VERSION_MAJOR)
    snprintf(buf, len, "%d.%d", io_uring_major_version(), io_uring_minor_version());
#else
    Dl_info info;
    if (dladdr((void *)&io_uring_queue_init, &info) != 0 && info.dli_fname != NULL) {
        char resolved[4096];
        const char *path = realpath(info.dli_fname, resolved) ? resolved : info.dli_fname;
        const char *so = strstr(path, ".so.");
        if (so != NULL) {
            snprintf(buf, len, "%s", so + 4);
            return;
        }
    }
    snprintf(buf, len, "unknown");
#endif
}

int tandem_io_uring_probe(void) {
    struct io_uring ring;
    int rc = io_uring_queue_init(2, &ring, 0);
    if (rc < 0) return rc;
    io_uring_queue_exit(&ring);
    return 0;
}

int tandem_errno(void) { return errno; }

int tandem_accept4(int fd, int flags) { return accept4(fd, NULL, NULL, flags); }

struct io_uring_buf_ring *tandem_setup_buf_ring(struct io_uring *ring, unsigned int entries, int bgid, int *err) {
    size_t bytes = entries * sizeof(struct io_uring_buf);
    void *mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (mem == MAP_FAILED) {
        *err = -errno;
        return NULL;
    }
    struct io_uring_buf_ring *br = mem;
    io_uring_buf_ring_init(br);
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof(reg));
    reg.ring_addr = (unsigned long)(uintptr_t)br;
    reg.ring_entries = entries;
    reg.bgid = (unsigned short)bgid;
    int rc = io_uring_register_buf_ring(ring, &reg, 0);
    if (rc != 0) {
        munmap(mem, bytes);
        *err = rc;
        return NULL;
    }
    *err = 0;
    return br;
}

void tandem_free_buf_ring(struct io_uring *ring, struct io_uring_buf_ring *br, unsigned int entries, int bgid) {
    io_uring_unregister_buf_ring(ring, bgid);
    munmap(br, entries * sizeof(struct io_uring_buf));
}

void tandem_buf_ring_add(struct io_uring_buf_ring *br, void *addr, unsigned int len, unsigned short bid,
                         unsigned int entries, int offset) {
    io_uring_buf_ring_add(br, addr, len, bid, io_uring_buf_ring_mask(entries), offset);
}

void tandem_buf_ring_advance(struct io_uring_buf_ring *br, int count) { io_uring_buf_ring_advance(br, count); }

void tandem_prep_recv_multishot(struct io_uring_sqe *sqe, int fd, int bgid) {
    io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = (unsigned short)bgid;
}

void tandem_set_thread_name(const char *name) { prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0); }
