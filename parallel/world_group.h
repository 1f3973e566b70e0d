#ifndef SPACEBYTE_PARALLEL_WORLD_GROUP_H_
#define SPACEBYTE_PARALLEL_WORLD_GROUP_H_

// Every rank of the job as one group, for the small host-side exchanges the
// ranks settle together: agreeing on an error or a stop, the checkpoint
// commit, timings. The trainer's MPI calls go through this object or through
// Collectives (tensors within a tp or dp group); nothing outside parallel/
// calls MPI itself.

#include <mpi.h>

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace spacebyte::parallel {

class WorldGroup {
 public:
  // MPI_COMM_WORLD; MPI must be initialised.
  WorldGroup();

  int rank() const { return rank_; }
  int size() const { return size_; }

  // True on every rank iff `ok` is true on every rank.
  bool AllOk(bool ok) const;
  // A status one rank saw becomes, on every rank, the error of the lowest
  // failing rank R (its message prefixed "rank R: " when R is not 0),
  // marked Agreed; nobody is left waiting in a collective, and the error
  // needs printing only once.
  absl::Status Agree(const absl::Status& mine) const;
  // The smallest of every rank's `value`, on every rank.
  int Min(int value) const;
  // Every rank's `value`, in rank order, on every rank.
  std::vector<double> AllGather(double value) const;
  // Every rank's bytes, in rank order, on `root` (empty elsewhere).
  std::vector<std::string> Gather(const std::string& mine, int root) const;
  // `root`'s bytes on every rank.
  std::string Broadcast(const std::string& bytes, int root) const;
  void Barrier() const;

 private:
  MPI_Comm comm_ = MPI_COMM_WORLD;
  int rank_ = 0, size_ = 1;
};

// `status`, marked as the same on every rank (Agree's result, or a status
// every rank computed from the same agreed figures).
absl::Status Agreed(absl::Status status);
bool IsAgreed(const absl::Status& status);

}  // namespace spacebyte::parallel

#endif  // SPACEBYTE_PARALLEL_WORLD_GROUP_H_
