/*
 * earmark.chromaprint._test2: the TEST2 fingerprint stage in C, one frame at a time.
 *
 * fingerprinter.py's numpy code is the specification; this module computes the same items
 * (tests/chromaprint/test_native_fingerprint.py compares the two, and the exactness tests compare
 * both with fpcalc). The tables that decide the result (window, chroma band of every bin,
 * classifier areas, quantiser boundaries) are computed once in Python and handed to the
 * constructor, so they have a single definition.
 *
 *   Test2(window, bin_bands, area_rows, area_cols, thresholds)
 *       window: 4096 float32 (the 1/32767 scale folded in); bin_bands: uint8, the band of each
 *       FFT bin from FIRST_BIN on (its length is the number of bins); area_rows, area_cols:
 *       16 x 4 x 4 int32 corner offsets as fingerprinter._classifier_tables() builds them;
 *       thresholds: 16 x 3 float64 boundaries on the ratio (1 + A) / (1 + B).
 *   feed(samples)   int16 mono 11025 Hz samples, any chunking.
 *   items() -> bytes   every item computed so far, native-endian uint32.
 *
 * Every floating-point step after the FFT is done in the order of the numpy code (and of
 * libchromaprint), with contraction to FMA disabled (setup.py passes -ffp-contract=off), so
 * that values next to a quantiser threshold round the same way. The FFT is a float64 radix-4
 * Stockham transform of the 2048 complex points of the packed real frame: it differs from numpy's
 * float64 transform by < 1e-15 of the frame's largest bin, far inside the ~1e-8 by which
 * the closest decision on the test corpus clears a threshold (docs/chromaprint.md).
 * Per-frame work allocates nothing: all buffers live in the object.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>
#include <string.h>

#define FRAME 4096
#define HOP 1365
#define HALF (FRAME / 2) /* complex points of the packed real transform */
#define BANDS 12
#define TAPS 5
#define WIDTH 16 /* widest classifier: an item reads WIDTH + 1 table rows */
#define ROWS (WIDTH + 1)
#define COLS (BANDS + 1)
#define CLASSIFIERS 16
#define AREAS 4
#define NORM_THRESHOLD 0.01
#define FIRST_BIN 10

static const double FILTER[TAPS] = {0.25, 0.75, 1.0, 0.75, 0.25};

/* Twiddles shared by every object: for each radix-4 stage of m butterfly columns, W^p, W^2p and
   W^3p as three runs of m; then the real-transform post-processing factors exp(-2 pi i k / FRAME). */
static double tw_re[HALF * 3], tw_im[HALF * 3];
static double post_re[HALF], post_im[HALF];
static int tables_ready;

static void
init_tables(void)
{
    if (tables_ready) {
        return;
    }
    size_t at = 0;
    for (int n = HALF; n >= 4; n /= 4) {
        int m = n / 4;
        for (int j = 1; j <= 3; j++) {
            for (int p = 0; p < m; p++) {
                double angle = -2.0 * M_PI * (double)(j * p) / (double)n;
                tw_re[at] = cos(angle);
                tw_im[at] = sin(angle);
                at++;
            }
        }
    }
    for (int k = 0; k < HALF; k++) {
        double angle = -2.0 * M_PI * (double)k / (double)FRAME;
        post_re[k] = cos(angle);
        post_im[k] = sin(angle);
    }
    tables_ready = 1;
}

/* One radix-4 butterfly on (a0..a3) with twiddles w1..w3, into (y0..y3). */
#define BUTTERFLY4(a0r, a0i, a1r, a1i, a2r, a2i, a3r, a3i, w1r, w1i, w2r, w2i, w3r, w3i, \
                   y0r, y0i, y1r, y1i, y2r, y2i, y3r, y3i)                             \
    do {                                                                               \
        double apcr = (a0r) + (a2r), apci = (a0i) + (a2i);                             \
        double amcr = (a0r) - (a2r), amci = (a0i) - (a2i);                             \
        double bpdr = (a1r) + (a3r), bpdi = (a1i) + (a3i);                             \
        double jbr = (a3i) - (a1i), jbi = (a1r) - (a3r); /* j * (b - d) */             \
        double t1r = amcr - jbr, t1i = amci - jbi;                                     \
        double t2r = apcr - bpdr, t2i = apci - bpdi;                                   \
        double t3r = amcr + jbr, t3i = amci + jbi;                                     \
        (y0r) = apcr + bpdr;                                                           \
        (y0i) = apci + bpdi;                                                           \
        (y1r) = (w1r) * t1r - (w1i) * t1i;                                             \
        (y1i) = (w1r) * t1i + (w1i) * t1r;                                             \
        (y2r) = (w2r) * t2r - (w2i) * t2i;                                             \
        (y2i) = (w2r) * t2i + (w2i) * t2r;                                             \
        (y3r) = (w3r) * t3r - (w3i) * t3i;                                             \
        (y3i) = (w3r) * t3i + (w3i) * t3r;                                             \
    } while (0)

/* s radix-4 butterflies with the same twiddles (w: w1, w2, w3 as re, im pairs), on
   contiguous runs: the inner loop of every stage but the first, written so that it vectorises. */
static inline void
column4(int s, const double *restrict w, const double *restrict a0r, const double *restrict a0i,
        const double *restrict a1r, const double *restrict a1i, const double *restrict a2r,
        const double *restrict a2i, const double *restrict a3r, const double *restrict a3i,
        double *restrict y0r, double *restrict y0i, double *restrict y1r, double *restrict y1i,
        double *restrict y2r, double *restrict y2i, double *restrict y3r, double *restrict y3i)
{
    const double w1r = w[0], w1i = w[1], w2r = w[2], w2i = w[3], w3r = w[4], w3i = w[5];
    for (int q = 0; q < s; q++) {
        BUTTERFLY4(a0r[q], a0i[q], a1r[q], a1i[q], a2r[q], a2i[q], a3r[q], a3i[q], w1r, w1i, w2r,
                   w2i, w3r, w3i, y0r[q], y0i[q], y1r[q], y1i[q], y2r[q], y2i[q], y3r[q], y3i[q]);
    }
}

/* Forward DFT of (xr, xi), HALF points, result in natural order in (xr, xi); (yr, yi) is
   scratch. Radix-4 Stockham stages while n >= 4, then one radix-2 stage (HALF = 2 * 4^5).
   The first stage (stride 1) runs along p so that it vectorises; the others along q. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
__attribute__((target_clones("avx2", "default")))
#endif
static void
fft_half(double *restrict xr, double *restrict xi, double *restrict yr, double *restrict yi)
{
    const double *wr = tw_re, *wi = tw_im;
    {
        const int m = HALF / 4;
        for (int p = 0; p < m; p++) {
            BUTTERFLY4(xr[p], xi[p], xr[p + m], xi[p + m], xr[p + 2 * m], xi[p + 2 * m],
                       xr[p + 3 * m], xi[p + 3 * m], wr[p], wi[p], wr[m + p], wi[m + p],
                       wr[2 * m + p], wi[2 * m + p], yr[4 * p], yi[4 * p], yr[4 * p + 1],
                       yi[4 * p + 1], yr[4 * p + 2], yi[4 * p + 2], yr[4 * p + 3], yi[4 * p + 3]);
        }
        wr += 3 * m;
        wi += 3 * m;
    }
    double *ar = yr, *ai = yi, *br = xr, *bi = xi;
    int s = 4;
    for (int n = HALF / 4; n >= 4; n /= 4, s *= 4) {
        const int m = n / 4;
        for (int p = 0; p < m; p++) {
            const double *a0r = ar + s * p, *a0i = ai + s * p;
            double *y0r = br + s * 4 * p, *y0i = bi + s * 4 * p;
            const double w[6] = {wr[p], wi[p], wr[m + p], wi[m + p], wr[2 * m + p], wi[2 * m + p]};
            column4(s, w, a0r, a0i, a0r + s * m, a0i + s * m, a0r + 2 * s * m, a0i + 2 * s * m,
                    a0r + 3 * s * m, a0i + 3 * s * m, y0r, y0i, y0r + s, y0i + s, y0r + 2 * s,
                    y0i + 2 * s, y0r + 3 * s, y0i + 3 * s);
        }
        wr += 3 * m;
        wi += 3 * m;
        double *t;
        t = ar, ar = br, br = t;
        t = ai, ai = bi, bi = t;
    }
    /* n == 2: five radix-4 stages left the data in y; this last stage writes it back to x */
    for (int q = 0; q < s; q++) {
        double pr = ar[q], pi = ai[q], qr = ar[q + s], qi = ai[q + s];
        br[q] = pr + qr;
        bi[q] = pi + qi;
        br[q + s] = pr - qr;
        bi[q + s] = pi - qi;
    }
}

typedef struct {
    PyObject_HEAD
    float window[FRAME];
    int bins;
    /* band_bins[r][b]: the r-th bin of band b (as an index into power), or `bins`, where
       power holds a 0.0 that leaves the sum unchanged; rounds = the most bins in a band */
    int16_t band_bins[HALF][BANDS];
    int rounds;
    double power[HALF + 1];
    int32_t rows[CLASSIFIERS][AREAS][4];
    int32_t cols[CLASSIFIERS][AREAS][4];
    double thresholds[CLASSIFIERS][3];
    /* the frame being filled */
    int16_t frame[FRAME];
    int fill;
    /* transform buffers */
    double zr[HALF], zi[HALF], sr[HALF], si[HALF];
    /* last TAPS chroma rows (ring), frames seen */
    double chroma[TAPS][BANDS];
    long long frames;
    /* last ROWS summed-area rows (ring), each with its zero column; rows added so far */
    double table[ROWS][COLS];
    long long table_rows;
    /* the items */
    uint32_t *items;
    Py_ssize_t count, capacity;
} Test2Object;

static void
frame_chroma(Test2Object *self, double *chroma)
{
    for (int k = 0; k < HALF; k++) {
        /* int16 * float rounded to float, as libchromaprint; then widened */
        self->zr[k] = (double)((float)self->frame[2 * k] * self->window[2 * k]);
        self->zi[k] = (double)((float)self->frame[2 * k + 1] * self->window[2 * k + 1]);
    }
    fft_half(self->zr, self->zi, self->sr, self->si);
    const double *zr = self->zr, *zi = self->zi;
    double *power = self->power;
    for (int i = 0; i < self->bins; i++) {
        int k = FIRST_BIN + i;
        /* X[k] = E + W^k O with E = (Z[k] + conj Z[M-k]) / 2, O = (Z[k] - conj Z[M-k]) / 2i */
        double ar = zr[k], ai = zi[k], br = zr[HALF - k], bi = zi[HALF - k];
        double er = 0.5 * (ar + br), ei = 0.5 * (ai - bi);
        double or_ = 0.5 * (ai + bi), oi = -0.5 * (ar - br);
        double re = er + (post_re[k] * or_ - post_im[k] * oi);
        double im = ei + (post_re[k] * oi + post_im[k] * or_);
        power[i] = re * re + im * im;
    }
    /* Each band summed in increasing bin order, the twelve sums side by side (as numpy). */
    for (int b = 0; b < BANDS; b++) {
        chroma[b] = power[self->band_bins[0][b]];
    }
    for (int r = 1; r < self->rounds; r++) {
        for (int b = 0; b < BANDS; b++) {
            chroma[b] += power[self->band_bins[r][b]];
        }
    }
}

static int
push_item(Test2Object *self, uint32_t item)
{
    if (self->count == self->capacity) {
        Py_ssize_t capacity = self->capacity ? 2 * self->capacity : 1024;
        uint32_t *grown = PyMem_Realloc(self->items, (size_t)capacity * sizeof(uint32_t));
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        self->items = grown;
        self->capacity = capacity;
    }
    self->items[self->count++] = item;
    return 0;
}

static uint32_t
classify(Test2Object *self, long long x)
{
    const double *t[ROWS];
    for (int r = 0; r < ROWS; r++) {
        t[r] = self->table[(x + r) % ROWS];
    }
    uint32_t item = 0;
    for (int c = 0; c < CLASSIFIERS; c++) {
        double area[AREAS];
        for (int a = 0; a < AREAS; a++) {
            const int32_t *r = self->rows[c][a], *k = self->cols[c][a];
            area[a] = ((t[r[0]][k[0]] - t[r[1]][k[1]]) - t[r[2]][k[2]]) + t[r[3]][k[3]];
        }
        double ratio = (1.0 + (area[0] + area[1])) / (1.0 + (area[2] + area[3]));
        const double *th = self->thresholds[c];
        uint32_t level = (ratio >= th[0]) + (ratio >= th[1]) + (ratio >= th[2]);
        item |= (level ^ (level >> 1)) << (2 * (CLASSIFIERS - 1 - c));
    }
    return item;
}

/* One image row (filtered, normalised chroma) into the summed-area table, then its item. */
static int
add_row(Test2Object *self, const double *row)
{
    double cumulative[COLS];
    cumulative[0] = 0.0;
    cumulative[1] = row[0];
    for (int b = 1; b < BANDS; b++) {
        cumulative[b + 1] = cumulative[b] + row[b];
    }
    long long k = ++self->table_rows;
    const double *previous = self->table[(k - 1) % ROWS];
    double *current = self->table[k % ROWS];
    for (int j = 0; j < COLS; j++) {
        current[j] = previous[j] + cumulative[j];
    }
    if (k >= WIDTH) {
        return push_item(self, classify(self, k - WIDTH));
    }
    return 0;
}

static int
process_frame(Test2Object *self)
{
    long long f = self->frames++;
    frame_chroma(self, self->chroma[f % TAPS]);
    if (f < TAPS - 1) {
        return 0;
    }
    double out[BANDS];
    const double *h = self->chroma[(f - (TAPS - 1)) % TAPS];
    for (int b = 0; b < BANDS; b++) {
        out[b] = h[b] * FILTER[0];
    }
    for (int tap = 1; tap < TAPS; tap++) {
        h = self->chroma[(f - (TAPS - 1) + tap) % TAPS];
        for (int b = 0; b < BANDS; b++) {
            out[b] += h[b] * FILTER[tap];
        }
    }
    double squares = out[0] * out[0];
    for (int b = 1; b < BANDS; b++) {
        squares += out[b] * out[b];
    }
    double norm = sqrt(squares);
    for (int b = 0; b < BANDS; b++) {
        out[b] = norm < NORM_THRESHOLD ? 0.0 : out[b] / norm;
    }
    return add_row(self, out);
}

static PyObject *
test2_feed(Test2Object *self, PyObject *arg)
{
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        return NULL;
    }
    const char *format = view.format;
    if (format != NULL && (format[0] == '@' || format[0] == '=' || format[0] == '<')) {
        format++;
    }
    if (view.itemsize != 2 || format == NULL || strcmp(format, "h") != 0) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_TypeError, "expected a buffer of native int16 samples");
        return NULL;
    }
    const int16_t *samples = view.buf;
    Py_ssize_t left = view.len / 2;
    while (left > 0) {
        Py_ssize_t n = FRAME - self->fill;
        if (n > left) {
            n = left;
        }
        memcpy(self->frame + self->fill, samples, (size_t)n * sizeof(int16_t));
        self->fill += (int)n;
        samples += n;
        left -= n;
        if (self->fill == FRAME) {
            if (process_frame(self) < 0) {
                PyBuffer_Release(&view);
                return NULL;
            }
            memmove(self->frame, self->frame + HOP, (FRAME - HOP) * sizeof(int16_t));
            self->fill = FRAME - HOP;
        }
    }
    PyBuffer_Release(&view);
    Py_RETURN_NONE;
}

static PyObject *
test2_items(Test2Object *self, PyObject *Py_UNUSED(ignored))
{
    return PyBytes_FromStringAndSize((const char *)self->items,
                                     self->count * (Py_ssize_t)sizeof(uint32_t));
}

/* Copy a table argument of exactly `size` bytes; 0 on success. */
static int
copy_table(PyObject *source, void *target, Py_ssize_t size, const char *name)
{
    Py_buffer view;
    if (PyObject_GetBuffer(source, &view, PyBUF_C_CONTIGUOUS) < 0) {
        return -1;
    }
    int ok = view.len == size;
    if (ok) {
        memcpy(target, view.buf, (size_t)size);
    } else {
        PyErr_Format(PyExc_ValueError, "%s: expected %zd bytes, got %zd", name, size, view.len);
    }
    PyBuffer_Release(&view);
    return ok ? 0 : -1;
}

static int
test2_init(Test2Object *self, PyObject *args, PyObject *kwds)
{
    PyObject *window, *bin_bands, *rows, *cols, *thresholds;
    if (!PyArg_ParseTuple(args, "OOOOO", &window, &bin_bands, &rows, &cols, &thresholds)) {
        return -1;
    }
    Py_buffer bands;
    if (PyObject_GetBuffer(bin_bands, &bands, PyBUF_C_CONTIGUOUS) < 0) {
        return -1;
    }
    const uint8_t *band_of = bands.buf;
    int ok = bands.len > 0 && FIRST_BIN + bands.len <= HALF;
    int filled[BANDS] = {0};
    for (Py_ssize_t i = 0; ok && i < bands.len; i++) {
        ok = band_of[i] < BANDS;
        if (ok) {
            self->band_bins[filled[band_of[i]]++][band_of[i]] = (int16_t)i;
        }
    }
    if (ok) {
        self->bins = (int)bands.len;
        self->rounds = 0;
        for (int b = 0; b < BANDS; b++) {
            self->rounds = filled[b] > self->rounds ? filled[b] : self->rounds;
        }
        for (int b = 0; b < BANDS; b++) {
            for (int r = filled[b]; r < self->rounds; r++) {
                self->band_bins[r][b] = (int16_t)self->bins;
            }
        }
        self->power[self->bins] = 0.0;
    }
    PyBuffer_Release(&bands);
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "bin_bands: bands 0..11 for bins below 2048");
        return -1;
    }
    if (copy_table(window, self->window, sizeof self->window, "window") < 0 ||
        copy_table(rows, self->rows, sizeof self->rows, "area_rows") < 0 ||
        copy_table(cols, self->cols, sizeof self->cols, "area_cols") < 0 ||
        copy_table(thresholds, self->thresholds, sizeof self->thresholds, "thresholds") < 0) {
        return -1;
    }
    for (int c = 0; c < CLASSIFIERS; c++) {
        for (int a = 0; a < AREAS; a++) {
            for (int j = 0; j < 4; j++) {
                if (self->rows[c][a][j] < 0 || self->rows[c][a][j] >= ROWS ||
                    self->cols[c][a][j] < 0 || self->cols[c][a][j] >= COLS) {
                    PyErr_SetString(PyExc_ValueError, "area corner outside the table");
                    return -1;
                }
            }
        }
    }
    self->fill = 0;
    self->frames = 0;
    self->table_rows = 0;
    memset(self->table, 0, sizeof self->table);
    self->count = 0;
    return 0;
}

static void
test2_dealloc(Test2Object *self)
{
    PyMem_Free(self->items);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef test2_methods[] = {
    {"feed", (PyCFunction)test2_feed, METH_O, "feed(samples): append int16 samples."},
    {"items", (PyCFunction)test2_items, METH_NOARGS, "items() -> bytes: the items so far."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject Test2Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "earmark.chromaprint._test2.Test2",
    .tp_basicsize = sizeof(Test2Object),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Streaming TEST2 fingerprint stage (see the module source).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)test2_init,
    .tp_dealloc = (destructor)test2_dealloc,
    .tp_methods = test2_methods,
};

static struct PyModuleDef test2_module = {
    PyModuleDef_HEAD_INIT,
    "earmark.chromaprint._test2",
    "The TEST2 fingerprint stage of earmark.chromaprint in C.",
    -1,
    NULL,
};

PyMODINIT_FUNC
PyInit__test2(void)
{
    init_tables();
    if (PyType_Ready(&Test2Type) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&test2_module);
    if (module == NULL) {
        return NULL;
    }
    Py_INCREF(&Test2Type);
    if (PyModule_AddObject(module, "Test2", (PyObject *)&Test2Type) < 0 ||
        PyModule_AddIntConstant(module, "FRAME_SIZE", FRAME) < 0 ||
        PyModule_AddIntConstant(module, "HOP", HOP) < 0 ||
        PyModule_AddIntConstant(module, "FIRST_BIN", FIRST_BIN) < 0) {
        Py_DECREF(&Test2Type);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
