#ifndef TMM_CLINUX_SHIM_H
#define TMM_CLINUX_SHIM_H
// Linux system headers Glibc's Swift module does not bring in.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/prctl.h>

#include <sys/socket.h>
#include <unistd.h>

// Declared by glibc only under _GNU_SOURCE, which Swift's Glibc module is built without.
extern int accept4(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags);
extern int pipe2(int pipefd[2], int flags);

static inline int tmm_accept4(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags) {
    return accept4(fd, addr, addrlen, flags);
}
static inline int tmm_pipe2(int pipefd[2], int flags) { return pipe2(pipefd, flags); }

static inline int tmm_set_thread_name(const char *name) { return prctl(PR_SET_NAME, name, 0, 0, 0); }
#endif
