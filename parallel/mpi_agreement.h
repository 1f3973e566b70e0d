#ifndef SPACEBYTE_PARALLEL_MPI_AGREEMENT_H_
#define SPACEBYTE_PARALLEL_MPI_AGREEMENT_H_

// Small host-side agreements over MPI_COMM_WORLD, for protocols such as the
// checkpoint commit where ranks must decide together.

#include <string>
#include <vector>

#include <mpi.h>

namespace spacebyte::parallel {

// True on every rank iff `ok` is true on every rank.
bool AllRanksOk(bool ok, MPI_Comm comm = MPI_COMM_WORLD);

// The smallest of every rank's `value`, on every rank.
int MinOverRanks(int value, MPI_Comm comm = MPI_COMM_WORLD);

// Every rank's bytes, in rank order, on `root` (empty elsewhere).
std::vector<std::string> GatherBytes(const std::string& mine, int root,
                                     MPI_Comm comm = MPI_COMM_WORLD);

// `root`'s bytes on every rank.
std::string BroadcastBytes(const std::string& bytes, int root,
                           MPI_Comm comm = MPI_COMM_WORLD);

}  // namespace spacebyte::parallel

#endif  // SPACEBYTE_PARALLEL_MPI_AGREEMENT_H_
