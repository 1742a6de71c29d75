// vsock-tool: a tiny AF_VSOCK client/server for the Linux-tier guest (busybox's nc has no vsock).
// Built static by build.sh and installed as /bin/vsock-tool in the initramfs.
//   vsock-tool listen PORT        accept one connection; copy stdin -> socket, socket -> stdout
//   vsock-tool connect CID PORT   connect to CID:PORT (the host is CID 2); copy the same way
//   vsock-tool echo PORT [COUNT]  accept COUNT connections (default: forever), one child each,
//                                 echoing every byte back and closing after the peer's EOF
// EOF on stdin becomes shutdown(SHUT_WR) (a vsock SHUTDOWN); the copy ends when both directions
// have ended. Exit status 0 on a clean end, 1 on an error (message on stderr).
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

static void die(const char *what) {
  fprintf(stderr, "vsock-tool: %s: %s\n", what, strerror(errno));
  exit(1);
}

static unsigned parse_u32(const char *s, const char *what) {
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (errno != 0 || *s == '\0' || *end != '\0' || v > 0xffffffffUL) {
    fprintf(stderr, "vsock-tool: bad %s '%s'\n", what, s);
    exit(2);
  }
  return (unsigned)v;
}

static int write_all(int fd, const char *buf, ssize_t n) {
  while (n > 0) {
    ssize_t w = write(fd, buf, (size_t)n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    buf += w;
    n -= w;
  }
  return 0;
}

/* Copies in -> sock and sock -> out until both directions reached EOF. */
static void relay(int sock, int in, int out) {
  static char buf[65536];
  int in_open = 1, sock_open = 1;
  while (in_open || sock_open) {
    struct pollfd p[2];
    int n = 0, ii = -1, is = -1;
    if (in_open) { p[n].fd = in; p[n].events = POLLIN; ii = n++; }
    if (sock_open) { p[n].fd = sock; p[n].events = POLLIN; is = n++; }
    if (poll(p, (nfds_t)n, -1) < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    if (ii >= 0 && p[ii].revents != 0) {
      ssize_t r = read(in, buf, sizeof buf);
      if (r < 0 && errno != EINTR) die("read stdin");
      if (r == 0) {
        in_open = 0;
        shutdown(sock, SHUT_WR);
      } else if (r > 0 && write_all(sock, buf, r) < 0) die("write socket");
    }
    if (is >= 0 && p[is].revents != 0) {
      ssize_t r = read(sock, buf, sizeof buf);
      if (r < 0 && errno != EINTR) {
        if (errno == ECONNRESET) break;
        die("read socket");
      }
      if (r == 0) {
        sock_open = 0;
        if (out != in) close(out);
      } else if (r > 0 && write_all(out, buf, r) < 0) die("write stdout");
    }
  }
}

static int listen_on(unsigned port) {
  int s = socket(AF_VSOCK, SOCK_STREAM, 0);
  if (s < 0) die("socket(AF_VSOCK)");
  struct sockaddr_vm a;
  memset(&a, 0, sizeof a);
  a.svm_family = AF_VSOCK;
  a.svm_cid = VMADDR_CID_ANY;
  a.svm_port = port;
  if (bind(s, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
  if (listen(s, 128) < 0) die("listen");
  return s;
}

static void echo(int c) {
  static char buf[65536];
  for (;;) {
    ssize_t r = read(c, buf, sizeof buf);
    if (r < 0) {
      if (errno == EINTR) continue;
      die("read");
    }
    if (r == 0) break;
    if (write_all(c, buf, r) < 0) die("write");
  }
  shutdown(c, SHUT_WR);
  close(c);
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc == 3 && strcmp(argv[1], "listen") == 0) {
    int s = listen_on(parse_u32(argv[2], "port"));
    int c = accept(s, NULL, NULL);
    if (c < 0) die("accept");
    close(s);
    relay(c, 0, 1);
    return 0;
  }
  if (argc == 4 && strcmp(argv[1], "connect") == 0) {
    int s = socket(AF_VSOCK, SOCK_STREAM, 0);
    if (s < 0) die("socket(AF_VSOCK)");
    struct sockaddr_vm a;
    memset(&a, 0, sizeof a);
    a.svm_family = AF_VSOCK;
    a.svm_cid = parse_u32(argv[2], "cid");
    a.svm_port = parse_u32(argv[3], "port");
    if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) die("connect");
    relay(s, 0, 1);
    return 0;
  }
  if ((argc == 3 || argc == 4) && strcmp(argv[1], "echo") == 0) {
    int s = listen_on(parse_u32(argv[2], "port"));
    long count = argc == 4 ? (long)parse_u32(argv[3], "count") : -1;
    signal(SIGCHLD, SIG_IGN); /* children are reaped by the kernel */
    for (long i = 0; count < 0 || i < count; i++) {
      int c = accept(s, NULL, NULL);
      if (c < 0) {
        if (errno == EINTR) { i--; continue; }
        die("accept");
      }
      pid_t pid = fork();
      if (pid < 0) die("fork");
      if (pid == 0) {
        close(s);
        echo(c);
        _exit(0);
      }
      close(c);
    }
    close(s);
    /* With SIGCHLD ignored, wait() returns once every child has ended. */
    while (wait(NULL) > 0 || errno == EINTR) {}
    return 0;
  }
  fprintf(stderr, "usage: vsock-tool listen PORT | connect CID PORT | echo PORT [COUNT]\n");
  return 2;
}
