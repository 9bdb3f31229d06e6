#define _GNU_SOURCE
#include "CShims.h"
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
