// The agent's state: connections from the host, running commands (jobs) and file reads, shared
// by the event loop (agent.c), commands (exec.c) and file operations (files.c).
#ifndef WVA_AGENT_H
#define WVA_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "wire.h"

#define MAX_CONNS 32
#define MAX_JOBS 256
#define MAX_READS 64
/* Output queued for one connection above which commands' output and file reads wait. */
#define OUT_HIGH (2u << 20)
/* A command's unwritten stdin above which its connection is not read (backpressure to the host). */
#define STDIN_HIGH (1u << 20)
/* After a command exits, how long its output pipes may stay open (a background child holding them). */
#define DRAIN_MS 250

struct conn {
  bool used;
  int rfd, wfd; /* the same socket, or stdin/stdout with --stdio */
  struct buf in, out;
  bool closing; /* a fatal protocol error: flush what is queued, then close */
};

struct job {
  bool used;
  struct conn *conn; /* NULL once its connection is gone: killed, reaped, never reported */
  uint32_t id;
  pid_t pid;
  int in_fd, out_fd, err_fd; /* -1 once closed */
  struct buf stdin_pending;
  bool stdin_eof;
  uint64_t deadline_ms; /* 0: no timeout */
  bool timed_out, reaped;
  int status;
  uint64_t reaped_at_ms;
};

struct read_op {
  bool used;
  struct conn *conn;
  uint32_t id;
  int fd;
};

extern struct conn conns[MAX_CONNS];
extern struct job jobs[MAX_JOBS];
extern struct read_op reads[MAX_READS];

uint64_t now_ms(void);

/* Replies (agent.c). A reply that does not fit in memory closes the connection. */
void reply_error(struct conn *c, uint32_t id, int err, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void reply_empty(struct conn *c, uint16_t type, uint32_t id);
void reply_bytes(struct conn *c, uint16_t type, uint32_t id, const void *p, size_t n);
void conn_fail(struct conn *c, const char *why);

/* Commands (exec.c). */
void exec_start(struct conn *c, uint32_t id, uint16_t flags, struct cursor *p);
void exec_stdin(struct conn *c, uint32_t id, uint16_t flags, struct cursor *p);
void exec_kill(struct conn *c, uint32_t id, struct cursor *p);
void job_read_output(struct job *j, bool is_err);
void job_write_stdin(struct job *j);
void jobs_reap(void);
/* Timeouts and finished jobs; returns the poll timeout in ms until the next deadline (-1: none). */
int jobs_tick(void);
void jobs_detach(struct conn *c);

/* Files (files.c). */
void file_write(struct conn *c, uint32_t id, uint16_t flags, struct cursor *p);
void file_read(struct conn *c, uint32_t id, struct cursor *p);
void file_stat(struct conn *c, uint32_t id, struct cursor *p);
void file_mkdir(struct conn *c, uint32_t id, uint16_t flags, struct cursor *p);
/* Moves file reads forward while their connections have room; true if any can go on at once. */
bool reads_pump(void);
void reads_detach(struct conn *c);

#endif
