// The guest agent's wire protocol, version 1 (packages/agent/PROTOCOL.md; src/protocol.ts is the
// host's copy of these numbers). Frames: a 12-byte little-endian header, then the payload.
#ifndef WVA_PROTOCOL_H
#define WVA_PROTOCOL_H

#include <stdint.h>

#define WVA_VERSION 1u
/* u32 payload length, u16 type, u16 flags, u32 id. */
#define WVA_HEADER_SIZE 12u
/* The largest payload either side accepts; a bigger length ends the connection. */
#define WVA_MAX_PAYLOAD (1u << 20)
/* The vsock port the agent listens on by default. */
#define WVA_VSOCK_PORT 52u

/* Host -> agent. */
enum {
  WVA_EXEC = 0x01,       /* u32 timeout_ms, str cwd, u32 argc, str argv[argc], u32 envc, str env[envc] */
  WVA_STDIN = 0x02,      /* bytes; flag WVA_F_EOF closes the command's stdin after them */
  WVA_KILL = 0x03,       /* u32 signal, sent to the command's process group */
  WVA_WRITE_FILE = 0x04, /* u32 mode, str path, bytes data; flag WVA_F_TRUNCATE on the first chunk */
  WVA_READ_FILE = 0x05,  /* str path */
  WVA_STAT = 0x06,       /* str path */
  WVA_MKDIR = 0x07,      /* u32 mode, str path; flag WVA_F_PARENTS */
  WVA_PING = 0x08,       /* bytes, echoed in a PONG */
};

/* Agent -> host. */
enum {
  WVA_READY = 0x40,      /* id 0, on connect: u32 version, u64 uptime_ms, str release, str machine */
  WVA_STARTED = 0x41,    /* u32 pid */
  WVA_STDOUT = 0x42,     /* bytes */
  WVA_STDERR = 0x43,     /* bytes */
  WVA_EXIT = 0x44,       /* i32 exit code (-1 when killed), u32 signal; flag WVA_F_TIMED_OUT */
  WVA_OK = 0x45,         /* empty */
  WVA_ERROR = 0x46,      /* i32 errno, str message */
  WVA_DATA = 0x47,       /* bytes of a READ_FILE */
  WVA_END = 0x48,        /* the READ_FILE is complete */
  WVA_STAT_REPLY = 0x49, /* u32 st_mode, u64 size, u64 mtime_ms */
  WVA_PONG = 0x4a,       /* the PING's bytes */
};

/* Header flags. */
#define WVA_F_STDIN 0x1u     /* EXEC: give the command a stdin pipe (else /dev/null) */
#define WVA_F_EOF 0x1u       /* STDIN: close stdin after this data */
#define WVA_F_TRUNCATE 0x1u  /* WRITE_FILE: create or truncate (else append) */
#define WVA_F_PARENTS 0x1u   /* MKDIR: create missing parents, an existing directory is fine */
#define WVA_F_TIMED_OUT 0x1u /* EXIT: the agent killed the command at its timeout */

#endif
