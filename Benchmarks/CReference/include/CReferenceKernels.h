#ifndef CREFERENCE_KERNELS_H
#define CREFERENCE_KERNELS_H

/* Straightforward C reference of Duet's slice kernels, for the benchmark only (same layout as DuetKernels'
 * FourierGrid): a centred half-volume of complex floats (interleaved re, im), indices x in 0..H, y, z in -H..H,
 * element (x, y, z) at x + nx*((y+H) + ny*(z+H)), nx = H+1, ny = 2H+1. Image half-planes have `box` rows of
 * box/2+1 complex values in FFTW order. axis_x/axis_y are the first two rows of the RELION rotation matrix
 * multiplied by the padding scale. No translation. */

/* Trilinear extraction of one central slice within radius r (zero outside), Friedel flip for x < 0. */
void cref_extract_slice(const float *volume, int half_extent, int box, int radius,
                        const float axis_x[3], const float axis_y[3], float *out);

/* Adjoint: trilinear scatter of slice (and weights, may be NULL = 1) into numerator and weight. */
void cref_insert_slice(float *numerator, float *weight, int half_extent, int box, int radius,
                       const float axis_x[3], const float axis_y[3], const float *slice, const float *slice_weights);

/* numerator_dst += numerator_src, weight_dst += weight_src over `count` elements, then zero the sources. */
void cref_accumulate(float *numerator_dst, float *weight_dst, float *numerator_src, float *weight_src, long count);

#endif
