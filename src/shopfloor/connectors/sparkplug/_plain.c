/* The columns of a plain Sparkplug B DATA payload, read straight from its protobuf bytes.
 *
 * plain_columns(data) -> (timestamp, seq, aliases, stamps, values) or None
 *
 * A payload is plain when every metric is given by a non-zero alias, has no name, is neither transient nor
 * null, has no properties and no metadata, and carries its value in double_value, boolean_value or
 * string_value: what a busy edge node sends in every NDATA and DDATA.  For such a payload this returns the
 * payload's timestamp and seq (None where absent) and three lists with one entry per metric: the alias, the
 * metric's timestamp (0 where absent) and the value (float, bool or str).  For anything else -- another field,
 * a value of another type, a payload extension, bytes that are not protobuf, a string that is not UTF-8 --
 * it returns None and the caller decodes the payload with protobuf as usual, so this never decides anything
 * the full decoder would decide differently.
 *
 * Field numbers and wire types are those of sparkplug_b.proto beside this file (Payload: timestamp 1, metrics
 * 2, seq 3, uuid 4, body 5, extensions from 6; Metric: name 1, alias 2, timestamp 3, datatype 4,
 * is_historical 5, is_transient 6, is_null 7, metadata 8, properties 9, the value oneof 10-19).  The
 * encoding rules (varints of at most ten bytes, little-endian fixed64, length-delimited fields, the last
 * occurrence of a scalar field wins, a oneof takes its last member) are those of the protobuf encoding guide,
 * https://protobuf.dev/programming-guides/encoding/.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };
enum { V_NONE = 0, V_DOUBLE, V_BOOL, V_STRING, V_OTHER };

typedef struct {
    const unsigned char *p;
    const unsigned char *end;
} reader;

/* A varint of at most ten bytes; bits beyond the 64th are dropped, as protobuf's own decoder (upb) does.
 * 0 on success. */
static int read_varint(reader *r, uint64_t *out) {
    uint64_t v = 0;
    for (int i = 0; i < 10; i++) {
        if (r->p >= r->end) return -1;
        unsigned char b = *r->p++;
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

/* A length-delimited field's bytes; 0 on success. */
static int read_len(reader *r, const unsigned char **start, Py_ssize_t *size) {
    uint64_t n;
    if (read_varint(r, &n) < 0 || n > (uint64_t)(r->end - r->p)) return -1;
    *start = r->p;
    *size = (Py_ssize_t)n;
    r->p += n;
    return 0;
}

static double read_double(const unsigned char *p) {
    uint64_t bits = 0;
    for (int i = 7; i >= 0; i--) bits = (bits << 8) | p[i];
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

typedef struct {
    uint64_t alias, timestamp;
    int has_alias, kind;
    double number;
    int boolean;
    const unsigned char *text;
    Py_ssize_t text_size;
} metric;

/* One Metric message; 0 when it is plain, -1 otherwise. */
static int read_metric(const unsigned char *p, Py_ssize_t size, metric *m) {
    reader r = {p, p + size};
    memset(m, 0, sizeof *m);
    int transient = 0, null = 0, named = 0;
    while (r.p < r.end) {
        uint64_t key, v;
        const unsigned char *s;
        Py_ssize_t n;
        if (read_varint(&r, &key) < 0) return -1;
        uint64_t number = key >> 3;
        int wire = (int)(key & 7);
        switch (number) {
        case 1: /* name: plain metrics have none (an empty name reads as none) */
            if (wire != WT_LEN || read_len(&r, &s, &n) < 0) return -1;
            named = n > 0;
            break;
        case 2: case 3: case 4: case 5: case 6: case 7:
            if (wire != WT_VARINT || read_varint(&r, &v) < 0) return -1;
            if (number == 2) { m->alias = v; m->has_alias = 1; }
            else if (number == 3) m->timestamp = v;
            else if (number == 6) transient = v != 0;
            else if (number == 7) null = v != 0;
            /* datatype (4) and is_historical (5) change nothing in a DATA metric's value */
            break;
        case 13:
            if (wire != WT_I64 || r.end - r.p < 8) return -1;
            m->number = read_double(r.p);
            r.p += 8;
            m->kind = V_DOUBLE;
            break;
        case 14:
            if (wire != WT_VARINT || read_varint(&r, &v) < 0) return -1;
            m->boolean = v != 0;
            m->kind = V_BOOL;
            break;
        case 15:
            if (wire != WT_LEN || read_len(&r, &s, &n) < 0) return -1;
            m->text = s;
            m->text_size = n;
            m->kind = V_STRING;
            break;
        default: /* metadata, properties, another value type, an unknown field */
            return -1;
        }
    }
    if (named || transient || null || !m->has_alias || m->alias == 0) return -1;
    return m->kind == V_DOUBLE || m->kind == V_BOOL || m->kind == V_STRING ? 0 : -1;
}

static PyObject *append_new(PyObject *list, PyObject *item) {
    if (item == NULL) return NULL;
    int failed = PyList_Append(list, item);
    Py_DECREF(item);
    return failed ? NULL : list;
}

static PyObject *columns(const unsigned char *data, Py_ssize_t size) {
    reader r = {data, data + size};
    uint64_t timestamp = 0, seq = 0;
    int has_timestamp = 0, has_seq = 0;
    PyObject *aliases = PyList_New(0), *stamps = PyList_New(0), *values = PyList_New(0);
    PyObject *result = NULL;
    if (aliases == NULL || stamps == NULL || values == NULL) goto done;
    while (r.p < r.end) {
        uint64_t key, v;
        const unsigned char *s;
        Py_ssize_t n;
        metric m;
        if (read_varint(&r, &key) < 0) goto plain_no;
        uint64_t number = key >> 3;
        int wire = (int)(key & 7);
        if (number == 1 || number == 3) {
            if (wire != WT_VARINT || read_varint(&r, &v) < 0) goto plain_no;
            if (number == 1) { timestamp = v; has_timestamp = 1; }
            else { seq = v; has_seq = 1; }
        } else if (number == 4 || number == 5) { /* uuid, body: not read by DATA */
            if (wire != WT_LEN || read_len(&r, &s, &n) < 0) goto plain_no;
        } else if (number == 2) {
            if (wire != WT_LEN || read_len(&r, &s, &n) < 0 || read_metric(s, n, &m) < 0) goto plain_no;
            PyObject *value;
            if (m.kind == V_DOUBLE) value = PyFloat_FromDouble(m.number);
            else if (m.kind == V_BOOL) value = PyBool_FromLong(m.boolean);
            else {
                value = PyUnicode_DecodeUTF8((const char *)m.text, m.text_size, "strict");
                if (value == NULL) {
                    if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) goto done;
                    PyErr_Clear();
                    goto plain_no;
                }
            }
            if (append_new(values, value) == NULL) goto done;
            if (append_new(aliases, PyLong_FromUnsignedLongLong(m.alias)) == NULL) goto done;
            if (append_new(stamps, PyLong_FromUnsignedLongLong(m.timestamp)) == NULL) goto done;
        } else {
            goto plain_no; /* a payload extension */
        }
    }
    {
        PyObject *ts = has_timestamp ? PyLong_FromUnsignedLongLong(timestamp) : Py_NewRef(Py_None);
        PyObject *sq = has_seq ? PyLong_FromUnsignedLongLong(seq) : Py_NewRef(Py_None);
        if (ts != NULL && sq != NULL) result = PyTuple_Pack(5, ts, sq, aliases, stamps, values);
        Py_XDECREF(ts);
        Py_XDECREF(sq);
    }
    goto done;
plain_no:
    result = Py_NewRef(Py_None);
done:
    Py_XDECREF(aliases);
    Py_XDECREF(stamps);
    Py_XDECREF(values);
    return result;
}

static PyObject *plain_columns(PyObject *module, PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    PyObject *result = columns((const unsigned char *)view.buf, view.len);
    PyBuffer_Release(&view);
    return result;
}

static PyMethodDef methods[] = {
    {"plain_columns", plain_columns, METH_O,
     "plain_columns(data) -> (timestamp, seq, aliases, stamps, values) or None\n\n"
     "The columns of a Sparkplug B payload whose every metric is plain (a non-zero alias, no name, not\n"
     "transient, not null, no properties or metadata, a double, boolean or string value); None for any other\n"
     "payload, which is then decoded in full. timestamp and seq are None where absent; a metric's stamp is 0\n"
     "where absent."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_plain",
    "Plain Sparkplug B DATA payloads read a column at a time, in C (see plain_columns).", -1, methods,
};

PyMODINIT_FUNC PyInit__plain(void) { return PyModule_Create(&module); }
