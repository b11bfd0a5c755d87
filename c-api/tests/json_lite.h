/*
 * json_lite.h: the smallest JSON reader that runs the shared vectors (tests/vectors/map.json, transfer.json).
 *
 * Why not cJSON or jansson: the C suites must build on a fresh machine without an apt step and
 * stay clean under ASan and valgrind; the vectors use a small subset of JSON (objects, arrays,
 * strings with simple escapes, 64-bit integers including INT64_MIN, true/false/null), which fits
 * in this one header. It refuses anything else (floats, \u escapes) loudly instead of guessing.
 *
 * Usage: struct json *root = json_parse(text, &err); json_get(obj, "key"), json_at(arr, i),
 * json_len(arr), json_str(v), json_int(v), json_is(v, JSON_NULL); json_free(root).
 */
#ifndef JSON_LITE_H
#define JSON_LITE_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum json_type { JSON_NULL, JSON_BOOL, JSON_INT, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json {
    enum json_type type;
    int64_t integer;     /* JSON_INT, and JSON_BOOL as 0/1 */
    char *string;        /* JSON_STRING (NUL-terminated), and the key of an object member */
    char *key;           /* set on members of an object */
    struct json *child;  /* first element or member */
    struct json *next;   /* next sibling */
};

struct json_parser {
    const char *p;
    const char *error;
};

static void json_free(struct json *v) {
    while (v) {
        struct json *next = v->next;
        json_free(v->child);
        free(v->string);
        free(v->key);
        free(v);
        v = next;
    }
}

static void json_ws(struct json_parser *ps) {
    while (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\t') ps->p++;
}

static char *json_parse_string(struct json_parser *ps) {
    if (*ps->p != '"') {
        ps->error = "expected a string";
        return NULL;
    }
    ps->p++;
    size_t cap = 16, len = 0;
    char *s = (char *)malloc(cap);
    while (s && *ps->p && *ps->p != '"') {
        char c = *ps->p++;
        if (c == '\\') {
            char e = *ps->p++;
            switch (e) {
            case '"': case '\\': case '/': c = e; break;
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            default: ps->error = "unsupported escape"; free(s); return NULL;
            }
        }
        if (len + 2 > cap) {
            char *grown = (char *)realloc(s, cap *= 2);
            if (!grown) { free(s); s = NULL; break; }
            s = grown;
        }
        s[len++] = c;
    }
    if (!s || *ps->p != '"') {
        ps->error = "unterminated string";
        free(s);
        return NULL;
    }
    ps->p++;
    s[len] = 0;
    return s;
}

static struct json *json_value(struct json_parser *ps);

static struct json *json_new(enum json_type type) {
    struct json *v = (struct json *)calloc(1, sizeof *v);
    if (v) v->type = type;
    return v;
}

static struct json *json_container(struct json_parser *ps, enum json_type type, char close) {
    struct json *v = json_new(type);
    struct json **tail = v ? &v->child : NULL;
    ps->p++;
    json_ws(ps);
    if (*ps->p == close) {
        ps->p++;
        return v;
    }
    while (v && !ps->error) {
        char *key = NULL;
        if (type == JSON_OBJECT) {
            json_ws(ps);
            key = json_parse_string(ps);
            json_ws(ps);
            if (!key || *ps->p != ':') {
                if (!ps->error) ps->error = "expected ':'";
                free(key);
                break;
            }
            ps->p++;
        }
        struct json *item = json_value(ps);
        if (!item) {
            free(key);
            break;
        }
        item->key = key;
        *tail = item;
        tail = &item->next;
        json_ws(ps);
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p == close) {
            ps->p++;
            return v;
        }
        ps->error = "expected ',' or the end of a container";
    }
    if (!ps->error) ps->error = "out of memory";
    json_free(v);
    return NULL;
}

static struct json *json_value(struct json_parser *ps) {
    json_ws(ps);
    const char *p = ps->p;
    struct json *v = NULL;
    if (*p == '{') return json_container(ps, JSON_OBJECT, '}');
    if (*p == '[') return json_container(ps, JSON_ARRAY, ']');
    if (*p == '"') {
        char *s = json_parse_string(ps);
        if (!s) return NULL;
        v = json_new(JSON_STRING);
        if (v) v->string = s; else free(s);
        return v;
    }
    if (strncmp(p, "null", 4) == 0) { ps->p += 4; return json_new(JSON_NULL); }
    if (strncmp(p, "true", 4) == 0) { ps->p += 4; v = json_new(JSON_BOOL); if (v) v->integer = 1; return v; }
    if (strncmp(p, "false", 5) == 0) { ps->p += 5; return json_new(JSON_BOOL); }
    if (*p == '-' || (*p >= '0' && *p <= '9')) {
        char *end = NULL;
        errno = 0;
        long long n = strtoll(p, &end, 10);
        if (errno || *end == '.' || *end == 'e' || *end == 'E') {
            ps->error = "only 64-bit integers are supported";
            return NULL;
        }
        ps->p = end;
        v = json_new(JSON_INT);
        if (v) v->integer = (int64_t)n;
        return v;
    }
    ps->error = "unexpected character";
    return NULL;
}

/* Parses `text`; NULL with `*error` set on failure. Free the result with json_free. */
static struct json *json_parse(const char *text, const char **error) {
    struct json_parser ps = {text, NULL};
    struct json *v = json_value(&ps);
    json_ws(&ps);
    if (v && *ps.p) {
        ps.error = "trailing characters";
        json_free(v);
        v = NULL;
    }
    if (error) *error = ps.error;
    return v;
}

/* The member `key` of an object, or NULL. */
static const struct json *json_get(const struct json *obj, const char *key) {
    if (!obj || obj->type != JSON_OBJECT) return NULL;
    for (const struct json *m = obj->child; m; m = m->next)
        if (strcmp(m->key, key) == 0) return m;
    return NULL;
}

static size_t json_len(const struct json *arr) {
    size_t n = 0;
    if (arr && (arr->type == JSON_ARRAY || arr->type == JSON_OBJECT))
        for (const struct json *e = arr->child; e; e = e->next) n++;
    return n;
}

static const struct json *json_at(const struct json *arr, size_t i) {
    if (!arr || arr->type != JSON_ARRAY) return NULL;
    const struct json *e = arr->child;
    while (e && i--) e = e->next;
    return e;
}

static int json_is(const struct json *v, enum json_type type) { return v && v->type == type; }

/* The string value, or NULL when absent or not a string. */
static const char *json_str(const struct json *v) { return json_is(v, JSON_STRING) ? v->string : NULL; }

/* The integer value (or a bool as 0/1); `fallback` when absent or of another type. */
static int64_t json_int(const struct json *v, int64_t fallback) {
    return v && (v->type == JSON_INT || v->type == JSON_BOOL) ? v->integer : fallback;
}

#endif /* JSON_LITE_H */
