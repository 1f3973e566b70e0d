// Checks the launch plumbing of the multi-host test: every rank of
// MPI_COMM_WORLD answers an all-reduce (a small one and one past the TCP
// eager limit), and the ranks really sit in the expected number of distinct
// network namespaces, i.e. on that many "hosts".
//
//   mpi_hosts_check HOSTS
//
// Rank 0 prints one line and every rank exits 0, or rank 0 prints the
// mismatch and every rank exits 1.

#include <mpi.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <set>
#include <vector>

namespace {

// The inode of this process's network namespace names it.
unsigned long long NetworkNamespace() {
  struct stat st {};
  if (stat("/proc/self/ns/net", &st) != 0) return 0;
  return static_cast<unsigned long long>(st.st_ino);
}

// Sum over ranks of (rank + 1) in every element of a `count`-long vector.
bool AllReduceIsExact(int rank, int size, int count) {
  std::vector<double> values(count, rank + 1.0);
  MPI_Allreduce(MPI_IN_PLACE, values.data(), count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  const double expected = size * (size + 1) / 2.0;
  for (double v : values) {
    if (v != expected) return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const int want_hosts = argc > 1 ? std::atoi(argv[1]) : 1;

  const bool sums_ok = AllReduceIsExact(rank, size, 1) && AllReduceIsExact(rank, size, 1 << 20);
  int all_ok = sums_ok ? 1 : 0;
  MPI_Allreduce(MPI_IN_PLACE, &all_ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);

  unsigned long long mine = NetworkNamespace();
  std::vector<unsigned long long> all(size);
  MPI_Allgather(&mine, 1, MPI_UNSIGNED_LONG_LONG, all.data(), 1, MPI_UNSIGNED_LONG_LONG,
                MPI_COMM_WORLD);
  const int hosts = static_cast<int>(std::set<unsigned long long>(all.begin(), all.end()).size());

  const bool ok = all_ok == 1 && hosts == want_hosts;
  if (rank == 0) {
    std::printf("mpi_hosts_check: %d ranks in %d network namespaces (want %d), all-reduce %s\n",
                size, hosts, want_hosts, all_ok ? "exact" : "WRONG");
  }
  MPI_Finalize();
  return ok ? 0 : 1;
}
