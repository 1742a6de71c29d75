// Commands: EXEC forks a child in its own session with pipes for stdin/stdout/stderr, streams its
// output as STDOUT/STDERR frames and ends with one EXIT once it has been reaped and its pipes have
// drained. Timeouts and KILL signal the whole process group.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "protocol.h"

extern char **environ;

static struct job *job_find(struct conn *c, uint32_t id) {
  for (int i = 0; i < MAX_JOBS; i++) {
    if (jobs[i].used && jobs[i].conn == c && jobs[i].id == id) return &jobs[i];
  }
  return NULL;
}

static void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

static void free_strs(char **v, uint32_t n) {
  if (v == NULL) return;
  for (uint32_t i = 0; i < n; i++) free(v[i]);
  free(v);
}

/* Reads `count` then that many strings; argv-style NULL-terminated. */
static bool take_strs(struct cursor *p, char ***out, uint32_t *count) {
  uint32_t n;
  // Each string costs at least its 4-byte length: a count the payload cannot hold is malformed.
  if (!take_u32(p, &n) || n > p->left / 4) return false;
  char **v = calloc((size_t)n + 1, sizeof *v);
  if (v == NULL) return false;
  for (uint32_t i = 0; i < n; i++) {
    if (!take_str(p, &v[i])) {
      free_strs(v, i);
      return false;
    }
  }
  *out = v;
  *count = n;
  return true;
}

/* The agent's environment with `extra` (K=V) entries added or replacing the same keys. */
static char **merged_env(char **extra, uint32_t n) {
  size_t base = 0;
  while (environ[base] != NULL) base++;
  char **env = calloc(base + n + 1, sizeof *env);
  if (env == NULL) return NULL;
  size_t k = 0;
  for (size_t i = 0; i < base; i++) {
    const char *eq = strchr(environ[i], '=');
    size_t key = eq == NULL ? strlen(environ[i]) : (size_t)(eq - environ[i]);
    bool replaced = false;
    for (uint32_t e = 0; e < n && !replaced; e++) replaced = strncmp(extra[e], environ[i], key) == 0 && extra[e][key] == '=';
    if (!replaced) env[k++] = environ[i];
  }
  for (uint32_t e = 0; e < n; e++) env[k++] = extra[e];
  return env;
}

static int free_job_slot(void) {
  for (int i = 0; i < MAX_JOBS; i++) {
    if (!jobs[i].used) return i;
  }
  return -1;
}

/* What a child that could not start tells the parent through the status pipe. */
struct start_failure {
  int step; /* 1: chdir, 2: exec */
  int err;
};

static void report_failure(int status_fd, int step) {
  struct start_failure f = {step, errno};
  if (write(status_fd, &f, sizeof f) < 0) {}
  _exit(127);
}

/* In the child: never returns. A failure to start is reported through `status_fd`. */
static void child(char **argv, char **env, const char *cwd, int in, int out, int err, int status_fd) {
  setsid();
  dup2(in, 0);
  dup2(out, 1);
  dup2(err, 2);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  signal(SIGPIPE, SIG_DFL);
  if (cwd[0] != '\0' && chdir(cwd) != 0) report_failure(status_fd, 1);
  environ = env;
  execvp(argv[0], argv);
  report_failure(status_fd, 2);
}

void exec_start(struct conn *c, uint32_t id, uint16_t flags, struct cursor *p) {
  uint32_t timeout_ms, argc = 0, envc = 0;
  char *cwd = NULL, **argv = NULL, **extra = NULL;
  if (!take_u32(p, &timeout_ms) || !take_str(p, &cwd) || !take_strs(p, &argv, &argc) || !take_strs(p, &extra, &envc) || p->left != 0) {
    reply_error(c, id, EPROTO, "malformed EXEC payload");
    goto out;
  }
  if (argc == 0) {
    reply_error(c, id, EINVAL, "EXEC needs at least one argument (the program)");
    goto out;
  }
  if (job_find(c, id) != NULL) {
    reply_error(c, id, EEXIST, "a command with id %u is still running", id);
    goto out;
  }
  int slot = free_job_slot();
  if (slot < 0) {
    reply_error(c, id, EAGAIN, "%d commands are running already", MAX_JOBS);
    goto out;
  }
  int in[2] = {-1, -1}, o[2] = {-1, -1}, e[2] = {-1, -1}, st[2] = {-1, -1};
  bool ok = pipe2(o, O_CLOEXEC) == 0 && pipe2(e, O_CLOEXEC) == 0 && pipe2(st, O_CLOEXEC) == 0;
  if (ok) ok = (flags & WVA_F_STDIN) ? pipe2(in, O_CLOEXEC) == 0 : (in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;
  char **env = ok ? merged_env(extra, envc) : NULL;
  pid_t pid = env != NULL ? fork() : -1;
  if (pid == 0) child(argv, env, cwd, in[0], o[1], e[1], st[1]);
  int fork_errno = errno;
  free(env);
  close_fd(&in[0]);
  close_fd(&o[1]);
  close_fd(&e[1]);
  close_fd(&st[1]);
  if (pid < 0) {
    close_fd(&in[1]);
    close_fd(&o[0]);
    close_fd(&e[0]);
    close_fd(&st[0]);
    reply_error(c, id, fork_errno, "cannot start %s: %s", argv[0], strerror(fork_errno));
    goto out;
  }
  // The status pipe closes on a successful exec (O_CLOEXEC) or carries the errno; a short wait.
  struct start_failure report;
  ssize_t got;
  do got = read(st[0], &report, sizeof report);
  while (got < 0 && errno == EINTR);
  close_fd(&st[0]);
  struct job *j = &jobs[slot];
  memset(j, 0, sizeof *j);
  j->used = true;
  j->conn = c;
  j->id = id;
  j->pid = pid;
  j->in_fd = in[1];
  j->out_fd = o[0];
  j->err_fd = e[0];
  fcntl(o[0], F_SETFL, O_NONBLOCK);
  fcntl(e[0], F_SETFL, O_NONBLOCK);
  if (in[1] >= 0) fcntl(in[1], F_SETFL, O_NONBLOCK);
  if (got == sizeof report) {
    if (report.step == 1) reply_error(c, id, report.err, "cannot change to directory %s: %s", cwd, strerror(report.err));
    else reply_error(c, id, report.err, "cannot run %s: %s", argv[0], strerror(report.err));
    j->conn = NULL; // reaped silently
    close_fd(&j->in_fd);
    goto out;
  }
  if (timeout_ms > 0) j->deadline_ms = now_ms() + timeout_ms;
  struct frame f;
  frame_begin(&f, &c->out, WVA_STARTED, 0, id);
  put_u32(&f, (uint32_t)pid);
  if (!frame_end(&f)) conn_fail(c, "out of memory");
out:
  free(cwd);
  free_strs(argv, argc);
  free_strs(extra, envc);
}

void exec_stdin(struct conn *c, uint32_t id, uint16_t flags, struct cursor *p) {
  struct job *j = job_find(c, id);
  if (j == NULL || j->in_fd < 0 || j->stdin_eof) {
    reply_error(c, id, j == NULL ? ESRCH : EPIPE, j == NULL ? "no running command with id %u" : "the stdin of command %u is closed", id);
    return;
  }
  const uint8_t *data;
  size_t n;
  take_rest(p, &data, &n);
  if (!buf_append(&j->stdin_pending, data, n)) {
    reply_error(c, id, ENOMEM, "no memory for %zu bytes of stdin", n);
    return;
  }
  if (flags & WVA_F_EOF) j->stdin_eof = true;
  job_write_stdin(j);
}

void job_write_stdin(struct job *j) {
  while (j->in_fd >= 0 && j->stdin_pending.len > 0) {
    ssize_t n = write(j->in_fd, j->stdin_pending.data, j->stdin_pending.len);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      // The command closed its stdin (EPIPE): the rest is dropped, as a pipe would.
      buf_free(&j->stdin_pending);
      close_fd(&j->in_fd);
      return;
    }
    buf_consume(&j->stdin_pending, (size_t)n);
  }
  if (j->stdin_eof && j->stdin_pending.len == 0) close_fd(&j->in_fd);
}

void exec_kill(struct conn *c, uint32_t id, struct cursor *p) {
  uint32_t sig;
  struct job *j = job_find(c, id);
  if (!take_u32(p, &sig) || p->left != 0) {
    reply_error(c, id, EPROTO, "malformed KILL payload");
    return;
  }
  if (j == NULL || j->reaped) {
    reply_error(c, id, ESRCH, "no running command with id %u", id);
    return;
  }
  if (kill(-j->pid, (int)sig) != 0 && kill(j->pid, (int)sig) != 0) {
    reply_error(c, id, errno, "cannot send signal %u to command %u: %s", sig, id, strerror(errno));
  }
}

void job_read_output(struct job *j, bool is_err) {
  int *fd = is_err ? &j->err_fd : &j->out_fd;
  uint8_t tmp[65536];
  ssize_t n = read(*fd, tmp, sizeof tmp);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    close_fd(fd);
    return;
  }
  if (j->conn != NULL) reply_bytes(j->conn, is_err ? WVA_STDERR : WVA_STDOUT, j->id, tmp, (size_t)n);
}

void jobs_reap(void) {
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    for (int i = 0; i < MAX_JOBS; i++) {
      if (jobs[i].used && jobs[i].pid == pid && !jobs[i].reaped) {
        jobs[i].reaped = true;
        jobs[i].status = status;
        jobs[i].reaped_at_ms = now_ms();
        close_fd(&jobs[i].in_fd);
      }
    }
  }
}

static void job_finish(struct job *j) {
  if (j->conn != NULL) {
    int code = WIFEXITED(j->status) ? WEXITSTATUS(j->status) : -1;
    unsigned sig = WIFSIGNALED(j->status) ? (unsigned)WTERMSIG(j->status) : 0;
    struct frame f;
    frame_begin(&f, &j->conn->out, WVA_EXIT, j->timed_out ? WVA_F_TIMED_OUT : 0, j->id);
    put_u32(&f, (uint32_t)code);
    put_u32(&f, sig);
    if (!frame_end(&f)) conn_fail(j->conn, "out of memory");
  }
  close_fd(&j->in_fd);
  close_fd(&j->out_fd);
  close_fd(&j->err_fd);
  buf_free(&j->stdin_pending);
  j->used = false;
}

int jobs_tick(void) {
  uint64_t now = now_ms();
  int64_t next = -1;
  for (int i = 0; i < MAX_JOBS; i++) {
    struct job *j = &jobs[i];
    if (!j->used) continue;
    if (!j->reaped && j->deadline_ms != 0) {
      if (now >= j->deadline_ms) {
        kill(-j->pid, SIGKILL);
        kill(j->pid, SIGKILL);
        j->timed_out = true;
        j->deadline_ms = 0;
      } else if (next < 0 || (int64_t)(j->deadline_ms - now) < next) {
        next = (int64_t)(j->deadline_ms - now);
      }
    }
    if (!j->reaped) continue;
    // Output the connection cannot take yet waits (the pipes are read as room frees up).
    bool pipes_open = j->out_fd >= 0 || j->err_fd >= 0;
    bool backlogged = j->conn != NULL && j->conn->out.len >= OUT_HIGH;
    if (!pipes_open || (!backlogged && now >= j->reaped_at_ms + DRAIN_MS) || j->conn == NULL) {
      job_finish(j);
    } else if (!backlogged) {
      int64_t left = (int64_t)(j->reaped_at_ms + DRAIN_MS - now);
      if (next < 0 || left < next) next = left;
    }
  }
  return next > 0x7fffffff ? 0x7fffffff : (int)next;
}

void jobs_detach(struct conn *c) {
  for (int i = 0; i < MAX_JOBS; i++) {
    struct job *j = &jobs[i];
    if (!j->used || j->conn != c) continue;
    if (!j->reaped) {
      kill(-j->pid, SIGKILL);
      kill(j->pid, SIGKILL);
    }
    j->conn = NULL;
  }
}
