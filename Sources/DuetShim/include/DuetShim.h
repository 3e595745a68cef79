// DuetShim: one-line getters for the MPI and HDF5 handles that are C macros (or macro-wrapped
// globals) and so cannot be imported into Swift, and glibc's mallopt, which Swift's Glibc module
// does not export. Nothing else lives here.
#ifndef DUET_SHIM_H
#define DUET_SHIM_H

#include <mpi.h>
#include <hdf5.h>

MPI_Comm duet_mpi_comm_world(void);
MPI_Comm duet_mpi_comm_null(void);
MPI_Datatype duet_mpi_float(void);
MPI_Datatype duet_mpi_double(void);
MPI_Datatype duet_mpi_c_float_complex(void);
MPI_Datatype duet_mpi_c_double_complex(void);
MPI_Datatype duet_mpi_int64(void);
MPI_Datatype duet_mpi_int32(void);
MPI_Datatype duet_mpi_byte(void);
MPI_Op duet_mpi_op_sum(void);
MPI_Op duet_mpi_op_max(void);
MPI_Info duet_mpi_info_null(void);
void *duet_mpi_in_place(void);
int duet_mpi_undefined(void);
MPI_Errhandler duet_mpi_errors_return(void);
int duet_mpi_max_error_string(void);

hid_t duet_h5p_default(void);
hid_t duet_h5s_all(void);
hid_t duet_h5t_native_float(void);
hid_t duet_h5t_native_double(void);
hid_t duet_h5t_native_int32(void);
hid_t duet_h5t_native_int64(void);
hid_t duet_h5t_c_s1(void);
hid_t duet_h5p_file_access(void);
hid_t duet_h5p_dataset_xfer(void);
hid_t duet_h5p_dataset_create(void);
unsigned duet_h5f_acc_trunc(void);
unsigned duet_h5f_acc_rdonly(void);

/// Lets glibc keep freed memory for reuse instead of handing every large block back to the kernel and
/// faulting it in again on the next allocation (blocks under 64 MB come from the heap, which keeps up to
/// 256 MB of free memory). No effect on other C libraries.
void duet_keep_freed_memory(void);

#endif
