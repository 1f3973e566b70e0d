#ifndef SPACEBYTE_TESTS_PARALLEL_MPI_GTEST_MAIN_H_
#define SPACEBYTE_TESTS_PARALLEL_MPI_GTEST_MAIN_H_

#include "parallel/mpi_env.h"

namespace spacebyte::test_support {

// The MPI environment mpi_gtest_main.cc set up for the whole test binary.
const parallel::MpiEnv& TestMpiEnv();

}  // namespace spacebyte::test_support

#endif  // SPACEBYTE_TESTS_PARALLEL_MPI_GTEST_MAIN_H_
