// Byte buffers and the payload codec (wire.h). Integers are little-endian on the wire.
#include "wire.h"

#include <stdlib.h>
#include <string.h>

#include "protocol.h"

bool buf_append(struct buf *b, const void *p, size_t n) {
  if (n == 0) return true;
  if (b->len + n > b->cap) {
    size_t cap = b->cap == 0 ? 4096 : b->cap;
    while (cap < b->len + n) cap *= 2;
    uint8_t *d = realloc(b->data, cap);
    if (d == NULL) return false;
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
  return true;
}

void buf_consume(struct buf *b, size_t n) {
  if (n >= b->len) {
    b->len = 0;
  } else {
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
  }
  // Give back a large buffer once it has drained (a 1 MiB file chunk should not stay resident).
  if (b->len == 0 && b->cap > (4u << 20)) buf_free(b);
}

void buf_free(struct buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

uint32_t read_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint16_t read_le16(const uint8_t *p) {
  return (uint16_t)(p[0] | p[1] << 8);
}

bool take_u32(struct cursor *c, uint32_t *v) {
  if (c->left < 4) return false;
  *v = read_le32(c->p);
  c->p += 4;
  c->left -= 4;
  return true;
}

bool take_str(struct cursor *c, char **out) {
  uint32_t n;
  if (!take_u32(c, &n) || n > c->left) return false;
  if (memchr(c->p, '\0', n) != NULL) return false;
  char *s = malloc((size_t)n + 1);
  if (s == NULL) return false;
  memcpy(s, c->p, n);
  s[n] = '\0';
  c->p += n;
  c->left -= n;
  *out = s;
  return true;
}

void take_rest(struct cursor *c, const uint8_t **p, size_t *n) {
  *p = c->p;
  *n = c->left;
  c->p += c->left;
  c->left = 0;
}

static void put_raw(struct frame *f, const void *p, size_t n) {
  if (!f->failed && !buf_append(f->out, p, n)) f->failed = true;
}

void frame_begin(struct frame *f, struct buf *out, uint16_t type, uint16_t flags, uint32_t id) {
  uint8_t h[WVA_HEADER_SIZE] = {0};
  f->out = out;
  f->start = out->len;
  f->failed = false;
  h[4] = (uint8_t)type;
  h[5] = (uint8_t)(type >> 8);
  h[6] = (uint8_t)flags;
  h[7] = (uint8_t)(flags >> 8);
  for (int i = 0; i < 4; i++) h[8 + i] = (uint8_t)(id >> (8 * i));
  put_raw(f, h, sizeof h);
}

void put_u32(struct frame *f, uint32_t v) {
  uint8_t b[4];
  for (int i = 0; i < 4; i++) b[i] = (uint8_t)(v >> (8 * i));
  put_raw(f, b, 4);
}

void put_u64(struct frame *f, uint64_t v) {
  uint8_t b[8];
  for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
  put_raw(f, b, 8);
}

void put_str(struct frame *f, const char *s) {
  size_t n = strlen(s);
  put_u32(f, (uint32_t)n);
  put_raw(f, s, n);
}

void put_bytes(struct frame *f, const void *p, size_t n) {
  put_raw(f, p, n);
}

bool frame_end(struct frame *f) {
  if (f->failed) {
    f->out->len = f->start;
    return false;
  }
  uint32_t n = (uint32_t)(f->out->len - f->start - WVA_HEADER_SIZE);
  uint8_t *h = f->out->data + f->start;
  for (int i = 0; i < 4; i++) h[i] = (uint8_t)(n >> (8 * i));
  return true;
}
