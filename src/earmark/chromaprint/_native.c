/*
 * earmark.chromaprint._native: the two per-lookup hot loops of earmark.chromaprint in C.
 *
 * The numpy implementations in codec.py and compare.py are the specification; this module
 * computes exactly the same results (tests/chromaprint/test_native.py compares the two on
 * random and hostile inputs) and is used when it could be built. Both functions take
 * buffers and plain integers only: the Python wrappers check types, sizes and headers and turn
 * status codes into exceptions, so no error message lives here.
 *
 *   decode(body, count, out) -> status
 *       Decompress the item stream of a Chromaprint fingerprint (the bytes after its 4-byte
 *       header) holding `count` items into `out`, a writable buffer of at least count uint32.
 *       Status 0: done; DECODE_NORMAL_SHORT, DECODE_EXCEPTION_SHORT, DECODE_BIT_RANGE: the
 *       problems codec.decode_fingerprint reports, checked in the same order.
 *   compare2(a, b, maxoffset) -> float
 *       pg_acoustid's acoustid_compare2 on two contiguous uint32 item buffers.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>
#include <string.h>

#define DECODE_OK 0
#define DECODE_NORMAL_SHORT 1
#define DECODE_EXCEPTION_SHORT 2
#define DECODE_BIT_RANGE 3

/* An item is at most 32 set bits plus its terminator (codec._MAX_VALUES_PER_ITEM). */
#define MAX_VALUES_PER_ITEM 33

/* Value k of an LSB-first stream of `width`-bit values; the caller guarantees it is complete. */
static inline unsigned
packed_value(const uint8_t *data, Py_ssize_t k, unsigned width)
{
    Py_ssize_t bit = k * (Py_ssize_t)width;
    Py_ssize_t byte = bit >> 3;
    unsigned shift = (unsigned)(bit & 7);
    unsigned word = data[byte];
    if (shift + width > 8) {
        word |= (unsigned)data[byte + 1] << 8;
    }
    return (word >> shift) & ((1u << width) - 1u);
}

static int
decode_items(const uint8_t *body, Py_ssize_t size, Py_ssize_t count, uint32_t *out)
{
    /* Like codec.py: look for the terminators in the first count * 33 values only. */
    Py_ssize_t scan_bytes = (count * MAX_VALUES_PER_ITEM * 3 + 7) / 8;
    if (scan_bytes > size) {
        scan_bytes = size;
    }
    Py_ssize_t available = scan_bytes * 8 / 3;
    Py_ssize_t used = 0, ends = 0, exceptions = 0;
    while (ends < count && used < available) {
        unsigned value = packed_value(body, used++, 3);
        if (value == 0) {
            ends++;
        } else if (value == 7) {
            exceptions++;
        }
    }
    if (ends < count) {
        return DECODE_NORMAL_SHORT;
    }
    Py_ssize_t exc_start = (used * 3 + 7) / 8;
    if (size < exc_start + (exceptions * 5 + 7) / 8) {
        return DECODE_EXCEPTION_SHORT;
    }
    const uint8_t *exc = body + exc_start;
    Py_ssize_t next_exception = 0, item = 0;
    uint32_t previous = 0, delta = 0;
    unsigned position = 0;
    for (Py_ssize_t k = 0; k < used; k++) {
        unsigned value = packed_value(body, k, 3);
        if (value == 0) {
            previous ^= delta;
            out[item++] = previous;
            delta = 0;
            position = 0;
            continue;
        }
        if (value == 7) {
            value += packed_value(exc, next_exception++, 5);
        }
        position += value;
        if (position > 32) {
            return DECODE_BIT_RANGE;
        }
        delta |= (uint32_t)1 << (position - 1);
    }
    return DECODE_OK;
}

static PyObject *
native_decode(PyObject *self, PyObject *args)
{
    Py_buffer body, out;
    Py_ssize_t count;
    if (!PyArg_ParseTuple(args, "y*nw*", &body, &count, &out)) {
        return NULL;
    }
    PyObject *result = NULL;
    if (count < 0 || count > 0xFFFFFF) {
        PyErr_SetString(PyExc_ValueError, "count must be a 24-bit item count");
    } else if (out.len < count * (Py_ssize_t)sizeof(uint32_t)) {
        PyErr_SetString(PyExc_ValueError, "output buffer too small for count items");
    } else {
        int status = decode_items(body.buf, body.len, count, out.buf);
        result = PyLong_FromLong(status);
    }
    PyBuffer_Release(&body);
    PyBuffer_Release(&out);
    return result;
}

/* compare2 aligns on the top 14 bits of each item (compare.MATCH_BITS). */
#define MATCH_BITS 14
#define KEY_COUNT (1 << MATCH_BITS)
#define LAST_KEY (KEY_COUNT - 1)
#define MIDDLE_KEY (LAST_KEY / 2)

static inline uint32_t
key_of(uint32_t item)
{
    return item >> (32 - MATCH_BITS);
}

static inline int
popcount32(uint32_t x)
{
    return __builtin_popcount(x);
}

/* The uint16 last-occurrence table of compare.py's _offset_table (0 also means absent). */
static void
offset_table(const uint32_t *items, Py_ssize_t size, uint16_t *table)
{
    for (Py_ssize_t i = 0; i < size; i++) {
        table[key_of(items[i])] = (uint16_t)i; /* later occurrences overwrite; wraps at 65536 */
    }
}

/* Distinct 14-bit keys among items[start:size], as a 0/1 byte per key. */
static void
seen_keys(const uint32_t *items, Py_ssize_t start, Py_ssize_t size, uint8_t *seen)
{
    for (Py_ssize_t i = start; i < size; i++) {
        seen[key_of(items[i])] = 1;
    }
}

/* The scratch space of one comparison, zeroed: no state is shared between calls. */
struct scratch {
    uint16_t table_a[KEY_COUNT];
    uint16_t table_b[KEY_COUNT];
    uint8_t seen_a[KEY_COUNT];
    uint8_t seen_b[KEY_COUNT];
    int counts[]; /* one vote counter per possible offset */
};

static double
compare2_scored(const uint32_t *a, Py_ssize_t asize, const uint32_t *b, Py_ssize_t bsize,
                long maxoffset, struct scratch *s, Py_ssize_t below)
{
    offset_table(a, asize, s->table_a);
    offset_table(b, bsize, s->table_b);
    int topcount = 0;
    long topoffset = 0;
    for (int key = 0; key < LAST_KEY; key++) { /* key 16383 never votes (compare.py) */
        if (s->table_a[key] == 0 || s->table_b[key] == 0) {
            continue;
        }
        long offset = (long)s->table_a[key] - (long)s->table_b[key];
        if (maxoffset != 0 && (offset < -maxoffset || offset > maxoffset)) {
            continue;
        }
        int count = ++s->counts[offset + below];
        if (count > topcount) { /* strictly greater: the first offset to reach the top wins */
            topcount = count;
            topoffset = offset;
        }
    }
    if (topcount == 0) {
        return 0.0;
    }

    Py_ssize_t minsize = (asize < bsize ? asize : bsize) & ~(Py_ssize_t)1;
    Py_ssize_t astart = topoffset > 0 ? topoffset : 0;
    Py_ssize_t bstart = topoffset < 0 ? -topoffset : 0;
    Py_ssize_t alen = asize - astart, blen = bsize - bstart;
    Py_ssize_t size = (alen < blen ? alen : blen) / 2;
    if (size == 0 || minsize == 0) {
        return 0.0;
    }

    seen_keys(a, astart, asize, s->seen_a);
    seen_keys(b, bstart, bsize, s->seen_b);
    long auniq = 0, buniq = 0;
    for (int key = 0; key < LAST_KEY; key++) {
        auniq += s->seen_a[key];
        buniq += s->seen_b[key];
    }
    int stale_byte = s->table_a[MIDDLE_KEY] >> 8; /* the C quirk described in compare.py */
    if (s->seen_a[LAST_KEY] && stale_byte == 0) {
        auniq++;
    }
    if (s->seen_b[LAST_KEY] && stale_byte == 0 && !s->seen_a[LAST_KEY]) {
        buniq++;
    }

    /* Single-precision steps stored in volatile floats: no wider intermediate survives. */
    volatile float ratio_a = (float)(auniq + 10) / (float)alen;
    volatile float ratio_b = (float)(buniq + 10) / (float)blen;
    double low = (double)ratio_a + 0.5;
    if ((double)ratio_b + 0.5 < low) {
        low = (double)ratio_b + 0.5;
    }
    volatile float diversity = (float)(low < 1.0 ? low : 1.0);
    long most = auniq > buniq ? auniq : buniq;
    if ((double)topcount < (double)most * 0.02) {
        return 0.0;
    }

    long long biterror = 0;
    for (Py_ssize_t i = 0; i < 2 * size; i++) {
        biterror += popcount32(a[astart + i] ^ b[bstart + i]);
    }
    volatile float score = (float)(((double)size * 2.0 / (double)minsize) *
                                   (1.0 - 2.0 * (double)biterror / (double)(64 * size)));
    if (score < 0.0f) {
        score = 0.0f;
    }
    if (diversity < 1.0f) {
        score = (float)pow((double)score, 8.0 - 7.0 * (double)diversity);
    }
    return (double)score;
}

/* Returns the score, or -1.0 with a Python exception set (out of memory). */
static double
compare2_items(const uint32_t *a, Py_ssize_t asize, const uint32_t *b, Py_ssize_t bsize,
               long maxoffset)
{
    if (asize == 0 || bsize == 0) {
        return 0.0;
    }
    /* Offsets lie in [-(b's largest table entry), a's largest table entry]. */
    Py_ssize_t below = bsize < 65536 ? bsize : 65536;
    Py_ssize_t above = asize < 65536 ? asize : 65536;
    struct scratch *s = PyMem_Calloc(1, sizeof(struct scratch) + (size_t)(below + above) * sizeof(int));
    if (s == NULL) {
        PyErr_NoMemory();
        return -1.0;
    }
    double score = compare2_scored(a, asize, b, bsize, maxoffset, s, below);
    PyMem_Free(s);
    return score;
}

static PyObject *
native_compare2(PyObject *self, PyObject *args)
{
    Py_buffer a, b;
    long maxoffset;
    if (!PyArg_ParseTuple(args, "y*y*l", &a, &b, &maxoffset)) {
        return NULL;
    }
    double score = compare2_items(a.buf, a.len / (Py_ssize_t)sizeof(uint32_t), b.buf,
                                  b.len / (Py_ssize_t)sizeof(uint32_t), maxoffset);
    PyBuffer_Release(&a);
    PyBuffer_Release(&b);
    if (score < 0.0) {
        return NULL;
    }
    return PyFloat_FromDouble(score);
}

static PyMethodDef native_methods[] = {
    {"decode", native_decode, METH_VARARGS,
     "decode(body, count, out) -> status: decompress count items into out (uint32)."},
    {"compare2", native_compare2, METH_VARARGS,
     "compare2(a, b, maxoffset) -> float: acoustid_compare2 on two uint32 buffers."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef native_module = {
    PyModuleDef_HEAD_INIT,
    "earmark.chromaprint._native",
    "C versions of earmark.chromaprint's fingerprint decoding and compare2.",
    -1,
    native_methods,
};

PyMODINIT_FUNC
PyInit__native(void)
{
    PyObject *module = PyModule_Create(&native_module);
    if (module == NULL) {
        return NULL;
    }
    if (PyModule_AddIntConstant(module, "DECODE_OK", DECODE_OK) < 0 ||
        PyModule_AddIntConstant(module, "DECODE_NORMAL_SHORT", DECODE_NORMAL_SHORT) < 0 ||
        PyModule_AddIntConstant(module, "DECODE_EXCEPTION_SHORT", DECODE_EXCEPTION_SHORT) < 0 ||
        PyModule_AddIntConstant(module, "DECODE_BIT_RANGE", DECODE_BIT_RANGE) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
