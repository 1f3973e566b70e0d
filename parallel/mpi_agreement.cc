#include "parallel/mpi_agreement.h"

namespace spacebyte::parallel {

bool AllRanksOk(bool ok, MPI_Comm comm) { return MinOverRanks(ok ? 1 : 0, comm) == 1; }

int MinOverRanks(int value, MPI_Comm comm) {
  int least = 0;
  MPI_Allreduce(&value, &least, 1, MPI_INT, MPI_MIN, comm);
  return least;
}

std::vector<std::string> GatherBytes(const std::string& mine, int root, MPI_Comm comm) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  int length = static_cast<int>(mine.size());
  std::vector<int> lengths(size), offsets(size);
  MPI_Gather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, root, comm);
  int total = 0;
  for (int r = 0; r < size; ++r) {
    offsets[r] = total;
    total += lengths[r];
  }
  std::string all(rank == root ? total : 0, '\0');
  MPI_Gatherv(mine.data(), length, MPI_BYTE, all.data(), lengths.data(), offsets.data(),
              MPI_BYTE, root, comm);
  std::vector<std::string> out;
  if (rank != root) return out;
  for (int r = 0; r < size; ++r) out.push_back(all.substr(offsets[r], lengths[r]));
  return out;
}

std::string BroadcastBytes(const std::string& bytes, int root, MPI_Comm comm) {
  int length = static_cast<int>(bytes.size());
  MPI_Bcast(&length, 1, MPI_INT, root, comm);
  std::string out = bytes;
  out.resize(length);
  MPI_Bcast(out.data(), length, MPI_BYTE, root, comm);
  return out;
}

}  // namespace spacebyte::parallel
