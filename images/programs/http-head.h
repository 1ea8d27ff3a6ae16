/*
 * http-head.h: reading an HTTP/1.x message head, shared by the blade's
 * server (blade-httpd) and its load generator (blade-loadgen).
 *
 * Both read heads a peer wrote, so everything here is bounded by the
 * buffer it is given and takes any bytes.  Static functions in a header:
 * each program is one static binary built from one .c file.
 */

#ifndef HTTP_HEAD_H
#define HTTP_HEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

/* Longest Content-Length taken, in digits (under 1 GB: far above any use). */
#define HTTP_LENGTH_DIGITS 9

/* One header field: its name and its value without surrounding blanks. */
typedef struct HttpField {
    const char *name, *name_end;
    const char *value, *value_end;
} HttpField;

enum {
    HTTP_FIELD_END = 0,         /* the blank line, or the head's end */
    HTTP_FIELD_OK = 1,
    HTTP_FIELD_NO_COLON = -1,   /* a line without ':' or with an empty name */
    HTTP_FIELD_FOLDED = -2,     /* obsolete line folding (RFC 9112 5.2) */
};

/* The end of the message head (after its blank line), or 0. */
static inline size_t http_head_end(const char *buf, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (buf[i] != '\n') {
            continue;
        }
        if (buf[i + 1] == '\n') {
            return i + 2;
        }
        if (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n') {
            return i + 3;
        }
    }
    return 0;
}

/*
 * The header field that starts at *@p (before @end), in @f; *@p moves
 * past its line.  HTTP_FIELD_OK, HTTP_FIELD_END, or a negative reason.
 */
static inline int http_next_field(const char **p, const char *end,
                                  HttpField *f)
{
    const char *line = *p, *eol, *colon, *v, *ve;

    if (line >= end) {
        return HTTP_FIELD_END;
    }
    eol = memchr(line, '\n', end - line);
    if (!eol || eol == line || (eol == line + 1 && *line == '\r')) {
        return HTTP_FIELD_END;
    }
    *p = eol + 1;
    if (*line == ' ' || *line == '\t') {
        return HTTP_FIELD_FOLDED;
    }
    colon = memchr(line, ':', eol - line);
    if (!colon || colon == line) {
        return HTTP_FIELD_NO_COLON;
    }
    v = colon + 1;
    ve = eol;
    if (ve > v && ve[-1] == '\r') {
        ve--;
    }
    while (v < ve && (*v == ' ' || *v == '\t')) {
        v++;
    }
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) {
        ve--;
    }
    f->name = line;
    f->name_end = colon;
    f->value = v;
    f->value_end = ve;
    return HTTP_FIELD_OK;
}

/* Is @f's name @name (lower case), ignoring case? */
static inline bool http_field_is(const HttpField *f, const char *name)
{
    size_t n = strlen(name);

    return (size_t)(f->name_end - f->name) == n &&
           !strncasecmp(f->name, name, n);
}

/*
 * A Content-Length value: its number in *@n, or false when it is not
 * 1 to HTTP_LENGTH_DIGITS decimal digits.
 */
static inline bool http_parse_length(const HttpField *f, long long *n)
{
    const char *v = f->value, *ve = f->value_end;
    long long sum = 0;

    if (v == ve || ve - v > HTTP_LENGTH_DIGITS) {
        return false;
    }
    for (const char *q = v; q < ve; q++) {
        if (*q < '0' || *q > '9') {
            return false;
        }
        sum = sum * 10 + (*q - '0');
    }
    *n = sum;
    return true;
}

#endif
