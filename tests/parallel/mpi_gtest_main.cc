// gtest main for tests run under mpirun: MPI lives for the whole test binary.
#include <gtest/gtest.h>

#include <cstdio>

#include "parallel/mpi_env.h"

int main(int argc, char** argv) {
  auto env = spacebyte::parallel::MpiEnv::Init(&argc, &argv);
  if (!env.ok()) {
    std::fprintf(stderr, "%s\n", env.status().ToString().c_str());
    return 1;
  }
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
