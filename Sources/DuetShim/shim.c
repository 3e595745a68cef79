#include "DuetShim.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

MPI_Comm duet_mpi_comm_world(void) { return MPI_COMM_WORLD; }
MPI_Comm duet_mpi_comm_null(void) { return MPI_COMM_NULL; }
MPI_Datatype duet_mpi_float(void) { return MPI_FLOAT; }
MPI_Datatype duet_mpi_double(void) { return MPI_DOUBLE; }
MPI_Datatype duet_mpi_c_float_complex(void) { return MPI_C_FLOAT_COMPLEX; }
MPI_Datatype duet_mpi_c_double_complex(void) { return MPI_C_DOUBLE_COMPLEX; }
MPI_Datatype duet_mpi_int64(void) { return MPI_INT64_T; }
MPI_Datatype duet_mpi_int32(void) { return MPI_INT32_T; }
MPI_Datatype duet_mpi_byte(void) { return MPI_BYTE; }
MPI_Op duet_mpi_op_sum(void) { return MPI_SUM; }
MPI_Op duet_mpi_op_max(void) { return MPI_MAX; }
MPI_Info duet_mpi_info_null(void) { return MPI_INFO_NULL; }
void *duet_mpi_in_place(void) { return MPI_IN_PLACE; }
int duet_mpi_undefined(void) { return MPI_UNDEFINED; }
MPI_Errhandler duet_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
int duet_mpi_max_error_string(void) { return MPI_MAX_ERROR_STRING; }

hid_t duet_h5p_default(void) { return H5P_DEFAULT; }
hid_t duet_h5s_all(void) { return H5S_ALL; }
hid_t duet_h5t_native_float(void) { return H5T_NATIVE_FLOAT; }
hid_t duet_h5t_native_double(void) { return H5T_NATIVE_DOUBLE; }
hid_t duet_h5t_native_int32(void) { return H5T_NATIVE_INT32; }
hid_t duet_h5t_native_int64(void) { return H5T_NATIVE_INT64; }
hid_t duet_h5t_c_s1(void) { return H5T_C_S1; }
hid_t duet_h5p_file_access(void) { return H5P_FILE_ACCESS; }
hid_t duet_h5p_dataset_xfer(void) { return H5P_DATASET_XFER; }
hid_t duet_h5p_dataset_create(void) { return H5P_DATASET_CREATE; }
unsigned duet_h5f_acc_trunc(void) { return H5F_ACC_TRUNC; }
unsigned duet_h5f_acc_rdonly(void) { return H5F_ACC_RDONLY; }

void duet_keep_freed_memory(void) {
#ifdef __GLIBC__
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
}
