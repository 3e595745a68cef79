#include "CReferenceKernels.h"
#include <string.h>

static int row_half_width(int y, int r) {
    int rest = r * r - y * y, x;
    if (rest < 0) return -1;
    x = 0;
    while ((x + 1) * (x + 1) <= rest) x++;
    return x;
}

void cref_extract_slice(const float *volume, int h, int box, int r,
                        const float ax[3], const float ay[3], float *out) {
    const int hx = box / 2 + 1, nx = h + 1, ny = 2 * h + 1, nxy = nx * ny;
    const float off = (float)h;
    for (int row = 0; row < box; row++) {
        float *o = out + 2 * row * hx;
        int y;
        if (row <= r) y = row; else if (row >= box - r) y = row - box;
        else { memset(o, 0, sizeof(float) * 2 * hx); continue; }
        const int xmax = row_half_width(y, r);
        for (int x = 0; x <= xmax; x++) {
            float px = x * ax[0] + y * ay[0], py = x * ax[1] + y * ay[1], pz = x * ax[2] + y * ay[2];
            float sign = 1.0f;
            if (px < 0) { px = -px; py = -py; pz = -pz; sign = -1.0f; }
            py += off; pz += off;
            const int x0 = (int)px, y0 = (int)py, z0 = (int)pz;
            const float fx = px - x0, fy = py - y0, fz = pz - z0;
            const float *q = volume + 2 * (x0 + nx * y0 + nxy * z0);
            float v[2];
            for (int c = 0; c < 2; c++) {
                const float c000 = q[c], c100 = q[2 + c], c010 = q[2 * nx + c], c110 = q[2 * nx + 2 + c];
                const float c001 = q[2 * nxy + c], c101 = q[2 * nxy + 2 + c];
                const float c011 = q[2 * (nxy + nx) + c], c111 = q[2 * (nxy + nx) + 2 + c];
                const float c00 = c000 + (c100 - c000) * fx, c10 = c010 + (c110 - c010) * fx;
                const float c01 = c001 + (c101 - c001) * fx, c11 = c011 + (c111 - c011) * fx;
                const float c0 = c00 + (c10 - c00) * fy, c1 = c01 + (c11 - c01) * fy;
                v[c] = c0 + (c1 - c0) * fz;
            }
            o[2 * x] = v[0];
            o[2 * x + 1] = sign * v[1];
        }
        for (int x = xmax + 1; x < hx; x++) { o[2 * x] = 0; o[2 * x + 1] = 0; }
    }
}

void cref_insert_slice(float *num, float *wgt, int h, int box, int r,
                       const float ax[3], const float ay[3], const float *slice, const float *sw) {
    const int hx = box / 2 + 1, nx = h + 1, ny = 2 * h + 1, nxy = nx * ny;
    const float off = (float)h;
    for (int row = 0; row < box; row++) {
        int y;
        if (row <= r) y = row; else if (row >= box - r) y = row - box; else continue;
        const int xmax = row_half_width(y, r);
        const float *s = slice + 2 * row * hx;
        for (int x = 0; x <= xmax; x++) {
            float px = x * ax[0] + y * ay[0], py = x * ax[1] + y * ay[1], pz = x * ax[2] + y * ay[2];
            float re = s[2 * x], im = s[2 * x + 1];
            if (px < 0) { px = -px; py = -py; pz = -pz; im = -im; }
            py += off; pz += off;
            const int x0 = (int)px, y0 = (int)py, z0 = (int)pz;
            const float fx = px - x0, fy = py - y0, fz = pz - z0;
            const float gx = 1 - fx, gy = 1 - fy, gz = 1 - fz;
            const float w[8] = { gx * gy * gz, fx * gy * gz, gx * fy * gz, fx * fy * gz,
                                 gx * gy * fz, fx * gy * fz, gx * fy * fz, fx * fy * fz };
            const long base = x0 + (long)nx * y0 + (long)nxy * z0;
            const long idx[8] = { base, base + 1, base + nx, base + nx + 1,
                                  base + nxy, base + nxy + 1, base + nxy + nx, base + nxy + nx + 1 };
            const float sweight = sw ? sw[row * hx + x] : 1.0f;
            for (int k = 0; k < 8; k++) {
                num[2 * idx[k]] += w[k] * re;
                num[2 * idx[k] + 1] += w[k] * im;
                wgt[idx[k]] += w[k] * sweight;
            }
        }
    }
}

void cref_accumulate(float *nd, float *wd, float *ns, float *ws, long count) {
    for (long i = 0; i < 2 * count; i++) nd[i] += ns[i];
    for (long i = 0; i < count; i++) wd[i] += ws[i];
    memset(ns, 0, sizeof(float) * 2 * count);
    memset(ws, 0, sizeof(float) * count);
}
