// workervisor-agent: serves the host inside a guest (PROTOCOL.md): commands, files, a ready
// signal. One thread, one poll() loop over the listening socket, the host connections, the
// commands' pipes and a signalfd for SIGCHLD; every fd is non-blocking, so one slow peer stalls
// nothing but itself. Built static (build.sh): it needs nothing from the guest image.
//   workervisor-agent [--vsock PORT | --unix PATH | --stdio]
#define _GNU_SOURCE
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/sysinfo.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "protocol.h"

struct conn conns[MAX_CONNS];
struct job jobs[MAX_JOBS];
struct read_op reads[MAX_READS];

static bool stdio_mode;

uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void set_nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

void conn_fail(struct conn *c, const char *why) {
  fprintf(stderr, "workervisor-agent: closing a connection: %s\n", why);
  c->closing = true;
}

void reply_bytes(struct conn *c, uint16_t type, uint32_t id, const void *p, size_t n) {
  struct frame f;
  frame_begin(&f, &c->out, type, 0, id);
  put_bytes(&f, p, n);
  if (!frame_end(&f)) conn_fail(c, "out of memory");
}

void reply_empty(struct conn *c, uint16_t type, uint32_t id) {
  reply_bytes(c, type, id, NULL, 0);
}

void reply_error(struct conn *c, uint32_t id, int err, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  struct frame f;
  frame_begin(&f, &c->out, WVA_ERROR, 0, id);
  put_u32(&f, (uint32_t)err);
  put_str(&f, msg);
  if (!frame_end(&f)) conn_fail(c, "out of memory");
}

static void send_ready(struct conn *c) {
  struct utsname u;
  struct sysinfo si;
  if (uname(&u) != 0) memset(&u, 0, sizeof u);
  uint64_t uptime_ms = 0;
  struct timespec ts;
  // CLOCK_BOOTTIME has milliseconds; sysinfo's uptime is whole seconds.
  if (clock_gettime(CLOCK_BOOTTIME, &ts) == 0) uptime_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
  else if (sysinfo(&si) == 0) uptime_ms = (uint64_t)si.uptime * 1000u;
  struct frame f;
  frame_begin(&f, &c->out, WVA_READY, 0, 0);
  put_u32(&f, WVA_VERSION);
  put_u64(&f, uptime_ms);
  put_str(&f, u.release);
  put_str(&f, u.machine);
  if (!frame_end(&f)) conn_fail(c, "out of memory");
}

static void conn_open(int rfd, int wfd) {
  for (int i = 0; i < MAX_CONNS; i++) {
    if (conns[i].used) continue;
    struct conn *c = &conns[i];
    memset(c, 0, sizeof *c);
    c->used = true;
    c->rfd = rfd;
    c->wfd = wfd;
    set_nonblock(rfd);
    set_nonblock(wfd);
    send_ready(c);
    return;
  }
  fprintf(stderr, "workervisor-agent: %d connections already; refusing one more\n", MAX_CONNS);
  close(rfd);
}

static void conn_close(struct conn *c) {
  jobs_detach(c);
  reads_detach(c);
  close(c->rfd);
  if (c->wfd != c->rfd) close(c->wfd);
  buf_free(&c->in);
  buf_free(&c->out);
  c->used = false;
  if (stdio_mode) exit(0);
}

static void dispatch(struct conn *c, uint16_t type, uint16_t flags, uint32_t id, const uint8_t *payload, size_t n) {
  struct cursor p = {payload, n};
  switch (type) {
    case WVA_EXEC: exec_start(c, id, flags, &p); break;
    case WVA_STDIN: exec_stdin(c, id, flags, &p); break;
    case WVA_KILL: exec_kill(c, id, &p); break;
    case WVA_WRITE_FILE: file_write(c, id, flags, &p); break;
    case WVA_READ_FILE: file_read(c, id, &p); break;
    case WVA_STAT: file_stat(c, id, &p); break;
    case WVA_MKDIR: file_mkdir(c, id, flags, &p); break;
    case WVA_PING: reply_bytes(c, WVA_PONG, id, payload, n); break;
    default: reply_error(c, id, EPROTO, "unknown frame type 0x%x", type); break;
  }
}

/* A command of this connection whose stdin backlog is over STDIN_HIGH holds further reads. */
static bool conn_held(const struct conn *c) {
  for (int i = 0; i < MAX_JOBS; i++) {
    if (jobs[i].used && jobs[i].conn == c && jobs[i].stdin_pending.len > STDIN_HIGH) return true;
  }
  return false;
}

/* Handles every complete frame in c->in (or up to one that holds the connection). */
static void conn_frames(struct conn *c) {
  size_t off = 0;
  while (!c->closing && c->in.len - off >= WVA_HEADER_SIZE && !conn_held(c)) {
    const uint8_t *h = c->in.data + off;
    uint32_t len = read_le32(h);
    uint16_t type = read_le16(h + 4), flags = read_le16(h + 6);
    uint32_t id = read_le32(h + 8);
    if (len > WVA_MAX_PAYLOAD) {
      // The stream cannot be resynchronised: say why, then close.
      reply_error(c, id, EMSGSIZE, "frame payload of %u bytes exceeds the limit of %u", len, WVA_MAX_PAYLOAD);
      conn_fail(c, "oversized frame");
      break;
    }
    if (c->in.len - off < WVA_HEADER_SIZE + (size_t)len) break;
    dispatch(c, type, flags, id, h + WVA_HEADER_SIZE, len);
    off += WVA_HEADER_SIZE + len;
  }
  buf_consume(&c->in, off);
}

static void conn_readable(struct conn *c) {
  uint8_t tmp[65536];
  ssize_t n = read(c->rfd, tmp, sizeof tmp);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
    conn_close(c);
    return;
  }
  if (n < 0) return;
  if (!buf_append(&c->in, tmp, (size_t)n)) {
    conn_fail(c, "out of memory");
    return;
  }
  conn_frames(c);
}

static void conn_writable(struct conn *c) {
  while (c->out.len > 0) {
    ssize_t n = write(c->wfd, c->out.data, c->out.len);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      conn_close(c);
      return;
    }
    buf_consume(&c->out, (size_t)n);
  }
  if (c->closing) conn_close(c);
}

static int listen_vsock(unsigned port) {
  int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_vm a = {.svm_family = AF_VSOCK, .svm_port = port, .svm_cid = VMADDR_CID_ANY};
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 16) != 0) {
    fprintf(stderr, "workervisor-agent: cannot listen on vsock port %u: %s\n", port, strerror(errno));
    exit(1);
  }
  return fd;
}

static int listen_unix(const char *path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof a.sun_path) {
    fprintf(stderr, "workervisor-agent: socket path too long: %s\n", path);
    exit(2);
  }
  strcpy(a.sun_path, path);
  unlink(path);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 16) != 0) {
    fprintf(stderr, "workervisor-agent: cannot listen on %s: %s\n", path, strerror(errno));
    exit(1);
  }
  return fd;
}

/* One poll() round over everything; returns after handling what was ready. */
static void loop_once(int lfd, int sfd) {
  enum { K_LISTEN, K_SIGNAL, K_CONN_R, K_CONN_W, K_OUT, K_ERR, K_IN };
  static struct pollfd pfd[2 + 2 * MAX_CONNS + 3 * MAX_JOBS];
  static struct { int kind, index; } who[sizeof pfd / sizeof pfd[0]];
  // First what needs no fd (timeouts, finished commands, file reads): it may queue output to watch.
  int timeout = jobs_tick();
  if (reads_pump()) timeout = 0;
  nfds_t n = 0;
#define WATCH(fd_, ev_, kind_, index_) (pfd[n] = (struct pollfd){.fd = (fd_), .events = (ev_)}, who[n].kind = (kind_), who[n].index = (index_), n++)
  if (lfd >= 0) WATCH(lfd, POLLIN, K_LISTEN, 0);
  WATCH(sfd, POLLIN, K_SIGNAL, 0);
  for (int i = 0; i < MAX_CONNS; i++) {
    struct conn *c = &conns[i];
    if (!c->used) continue;
    if (!c->closing && !conn_held(c)) WATCH(c->rfd, POLLIN, K_CONN_R, i);
    if (c->out.len > 0 || c->closing) WATCH(c->wfd, POLLOUT, K_CONN_W, i);
  }
  for (int i = 0; i < MAX_JOBS; i++) {
    struct job *j = &jobs[i];
    if (!j->used) continue;
    bool room = j->conn == NULL || j->conn->out.len < OUT_HIGH;
    if (j->out_fd >= 0 && room) WATCH(j->out_fd, POLLIN, K_OUT, i);
    if (j->err_fd >= 0 && room) WATCH(j->err_fd, POLLIN, K_ERR, i);
    if (j->in_fd >= 0 && (j->stdin_pending.len > 0 || j->stdin_eof)) WATCH(j->in_fd, POLLOUT, K_IN, i);
  }
#undef WATCH
  int r = poll(pfd, n, timeout);
  if (r < 0) {
    if (errno == EINTR) return;
    perror("workervisor-agent: poll");
    exit(1);
  }
  for (nfds_t k = 0; k < n && r > 0; k++) {
    short ev = pfd[k].revents;
    if (ev == 0) continue;
    int i = who[k].index;
    switch (who[k].kind) {
      case K_LISTEN: {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0) conn_open(fd, fd);
        break;
      }
      case K_SIGNAL: {
        struct signalfd_siginfo si;
        while (read(sfd, &si, sizeof si) == sizeof si) {}
        jobs_reap();
        break;
      }
      // A connection closed by the read side is skipped by the write side (used turns false).
      case K_CONN_R: if (conns[i].used) conn_readable(&conns[i]); break;
      case K_CONN_W: if (conns[i].used) conn_writable(&conns[i]); break;
      case K_OUT: if (jobs[i].used) job_read_output(&jobs[i], false); break;
      case K_ERR: if (jobs[i].used) job_read_output(&jobs[i], true); break;
      case K_IN: if (jobs[i].used) job_write_stdin(&jobs[i]); break;
    }
  }
  // Frames held back by a stdin backlog go on once it has drained.
  for (int i = 0; i < MAX_CONNS; i++) {
    if (conns[i].used && conns[i].in.len > 0 && !conn_held(&conns[i])) conn_frames(&conns[i]);
  }
}

int main(int argc, char **argv) {
  unsigned port = WVA_VSOCK_PORT;
  const char *unix_path = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--vsock") == 0 && i + 1 < argc) port = (unsigned)strtoul(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--unix") == 0 && i + 1 < argc) unix_path = argv[++i];
    else if (strcmp(argv[i], "--stdio") == 0) stdio_mode = true;
    else {
      fprintf(stderr, "usage: workervisor-agent [--vsock PORT | --unix PATH | --stdio]\n");
      return 2;
    }
  }
  // Started by an init that may have closed 0-2: a pipe landing there would be clobbered by dup2.
  for (int fd = 0; fd < 3; fd++) {
    if (fcntl(fd, F_GETFD) < 0) open("/dev/null", O_RDWR);
  }
  signal(SIGPIPE, SIG_IGN);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, NULL);
  int sfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sfd < 0) {
    perror("workervisor-agent: signalfd");
    return 1;
  }
  int lfd = -1;
  if (stdio_mode) conn_open(0, 1);
  else lfd = unix_path != NULL ? listen_unix(unix_path) : listen_vsock(port);
  if (unix_path != NULL) fprintf(stderr, "workervisor-agent: listening on %s\n", unix_path);
  else if (!stdio_mode) fprintf(stderr, "workervisor-agent: listening on vsock port %u\n", port);
  for (;;) loop_once(lfd, sfd);
}
