// FFTW's MPI interface (single precision; its header includes <mpi.h> and <fftw3.h>). Duet uses its distributed
// transposes between the passes of the update's slab-decomposed transforms.
#include <fftw3-mpi.h>
