// Byte buffers and the payload codec: growable buffers for connection I/O, a bounds-checked
// reader over one payload, and frame builders. Nothing here trusts a length it did not check.
#ifndef WVA_WIRE_H
#define WVA_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
  uint8_t *data;
  size_t len;
  size_t cap;
};

/* Appends n bytes; false when memory is exhausted (the buffer is unchanged). */
bool buf_append(struct buf *b, const void *p, size_t n);
/* Drops the first n bytes. */
void buf_consume(struct buf *b, size_t n);
void buf_free(struct buf *b);

/* A cursor over one received payload. Every take fails (returns false) past its end. */
struct cursor {
  const uint8_t *p;
  size_t left;
};

bool take_u32(struct cursor *c, uint32_t *v);
/* A string: u32 length + bytes, copied NUL-terminated into *out (malloc'ed). Refuses a NUL inside. */
bool take_str(struct cursor *c, char **out);
/* The rest of the payload. */
void take_rest(struct cursor *c, const uint8_t **p, size_t *n);

/* Builds one outgoing frame in a buffer: begin, put fields, end (which writes the length). */
struct frame {
  struct buf *out;
  size_t start;
  bool failed;
};

void frame_begin(struct frame *f, struct buf *out, uint16_t type, uint16_t flags, uint32_t id);
void put_u32(struct frame *f, uint32_t v);
void put_u64(struct frame *f, uint64_t v);
void put_str(struct frame *f, const char *s);
void put_bytes(struct frame *f, const void *p, size_t n);
/* Finishes the frame; false (and the frame removed) when memory ran out. */
bool frame_end(struct frame *f);

uint32_t read_le32(const uint8_t *p);
uint16_t read_le16(const uint8_t *p);

#endif
