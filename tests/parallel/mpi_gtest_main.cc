// gtest main for tests run under mpirun: MPI lives for the whole test binary.
#include "tests/parallel/mpi_gtest_main.h"

#include <gtest/gtest.h>

#include <cstdio>

namespace spacebyte::test_support {

const parallel::MpiEnv* g_test_env = nullptr;  // lives in main
const parallel::MpiEnv& TestMpiEnv() { return *g_test_env; }

}  // namespace spacebyte::test_support

int main(int argc, char** argv) {
  auto env = spacebyte::parallel::MpiEnv::Init(&argc, &argv);
  if (!env.ok()) {
    std::fprintf(stderr, "%s\n", env.status().ToString().c_str());
    return 1;
  }
  spacebyte::test_support::g_test_env = &*env;
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
