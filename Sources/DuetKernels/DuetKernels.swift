/// Numerical kernels of Duet: FFTs over FFTW, the RELION CTF, Fourier-slice projection and back-projection,
/// SO(3) grids and Fourier shell correlation. Pure computation: no file I/O and no MPI.
public enum DuetKernels {}
