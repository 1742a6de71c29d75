// Files: WRITE_FILE (chunks, the first truncating), READ_FILE (DATA frames as the connection has
// room, then END), STAT and MKDIR. Only regular files are read or written: a FIFO or a device
// could block the agent's one thread.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "protocol.h"

/* The size of one DATA frame: well under WVA_MAX_PAYLOAD. */
#define READ_CHUNK (256u * 1024u)

static bool take_path(struct conn *c, uint32_t id, struct cursor *p, char **path, const char *what) {
  if (!take_str(p, path)) {
    reply_error(c, id, EPROTO, "malformed %s payload", what);
    return false;
  }
  if ((*path)[0] == '\0') {
    reply_error(c, id, EINVAL, "%s needs a path", what);
    free(*path);
    return false;
  }
  return true;
}

/* Opens `path` and refuses anything but a regular file (O_NONBLOCK so a FIFO cannot block the open). */
static int open_regular(struct conn *c, uint32_t id, const char *path, int flags, mode_t mode) {
  int fd = open(path, flags | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, mode);
  if (fd < 0) {
    reply_error(c, id, errno, "cannot open %s: %s", path, strerror(errno));
    return -1;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    reply_error(c, id, EINVAL, "%s is not a regular file", path);
    close(fd);
    return -1;
  }
  // Regular files never block; clear the flag so writes are complete.
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

void file_write(struct conn *c, uint32_t id, uint16_t flags, struct cursor *p) {
  uint32_t mode;
  char *path;
  if (!take_u32(p, &mode)) {
    reply_error(c, id, EPROTO, "malformed WRITE_FILE payload");
    return;
  }
  if (!take_path(c, id, p, &path, "WRITE_FILE")) return;
  const uint8_t *data;
  size_t n;
  take_rest(p, &data, &n);
  int fd = open_regular(c, id, path, O_WRONLY | O_CREAT | ((flags & WVA_F_TRUNCATE) ? O_TRUNC : O_APPEND), (mode_t)(mode & 07777));
  if (fd >= 0) {
    size_t done = 0;
    while (done < n) {
      ssize_t w = write(fd, data + done, n - done);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) break;
      done += (size_t)w;
    }
    if (done < n) reply_error(c, id, errno, "writing %s failed: %s", path, strerror(errno));
    else if (close(fd) != 0) reply_error(c, id, errno, "closing %s failed: %s", path, strerror(errno));
    else reply_empty(c, WVA_OK, id);
    if (done < n) close(fd);
  }
  free(path);
}

void file_read(struct conn *c, uint32_t id, struct cursor *p) {
  char *path;
  if (!take_path(c, id, p, &path, "READ_FILE")) return;
  int slot = -1;
  for (int i = 0; i < MAX_READS && slot < 0; i++) {
    if (!reads[i].used) slot = i;
  }
  if (slot < 0) {
    reply_error(c, id, EAGAIN, "%d file reads are in progress already", MAX_READS);
  } else {
    int fd = open_regular(c, id, path, O_RDONLY, 0);
    if (fd >= 0) reads[slot] = (struct read_op){.used = true, .conn = c, .id = id, .fd = fd};
  }
  free(path);
}

bool reads_pump(void) {
  static uint8_t chunk[READ_CHUNK];
  bool more = false;
  for (int i = 0; i < MAX_READS; i++) {
    struct read_op *r = &reads[i];
    if (!r->used || r->conn->out.len >= OUT_HIGH) continue;
    ssize_t n = read(r->fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) {
      more = true;
      continue;
    }
    if (n < 0) reply_error(r->conn, r->id, errno, "reading failed: %s", strerror(errno));
    else if (n == 0) reply_empty(r->conn, WVA_END, r->id);
    else {
      reply_bytes(r->conn, WVA_DATA, r->id, chunk, (size_t)n);
      more = more || r->conn->out.len < OUT_HIGH;
      continue;
    }
    close(r->fd);
    r->used = false;
  }
  return more;
}

void reads_detach(struct conn *c) {
  for (int i = 0; i < MAX_READS; i++) {
    if (reads[i].used && reads[i].conn == c) {
      close(reads[i].fd);
      reads[i].used = false;
    }
  }
}

void file_stat(struct conn *c, uint32_t id, struct cursor *p) {
  char *path;
  if (!take_path(c, id, p, &path, "STAT")) return;
  struct stat st;
  if (stat(path, &st) != 0) {
    reply_error(c, id, errno, "cannot stat %s: %s", path, strerror(errno));
  } else {
    struct frame f;
    frame_begin(&f, &c->out, WVA_STAT_REPLY, 0, id);
    put_u32(&f, (uint32_t)st.st_mode);
    put_u64(&f, (uint64_t)st.st_size);
    put_u64(&f, (uint64_t)st.st_mtim.tv_sec * 1000u + (uint64_t)st.st_mtim.tv_nsec / 1000000u);
    if (!frame_end(&f)) conn_fail(c, "out of memory");
  }
  free(path);
}

/* mkdir -p: every missing component, an existing directory being fine. */
static int mkdir_parents(char *path, mode_t mode) {
  for (char *s = path + 1; *s != '\0'; s++) {
    if (*s != '/') continue;
    *s = '\0';
    int r = mkdir(path, mode);
    int e = errno;
    *s = '/';
    if (r != 0 && e != EEXIST) return -1;
  }
  if (mkdir(path, mode) == 0) return 0;
  struct stat st;
  if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return 0;
  if (errno == EEXIST) errno = ENOTDIR;
  return -1;
}

void file_mkdir(struct conn *c, uint32_t id, uint16_t flags, struct cursor *p) {
  uint32_t mode;
  char *path;
  if (!take_u32(p, &mode)) {
    reply_error(c, id, EPROTO, "malformed MKDIR payload");
    return;
  }
  if (!take_path(c, id, p, &path, "MKDIR")) return;
  int r = (flags & WVA_F_PARENTS) ? mkdir_parents(path, (mode_t)(mode & 07777)) : mkdir(path, (mode_t)(mode & 07777));
  if (r != 0) reply_error(c, id, errno, "cannot create directory %s: %s", path, strerror(errno));
  else reply_empty(c, WVA_OK, id);
  free(path);
}
