#include "parallel/world_group.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "parallel/collective_watch.h"

namespace spacebyte::parallel {

WorldGroup::WorldGroup() {
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
}

bool WorldGroup::AllOk(bool ok) const { return Min(ok ? 1 : 0) == 1; }

absl::Status WorldGroup::Agree(const absl::Status& mine) const {
  if (AllOk(mine.ok())) return absl::OkStatus();
  const int first = Min(mine.ok() ? size_ : rank_);
  // One byte of status code (0 to 16), then the message.
  const std::string shared = Broadcast(
      rank_ == first ? absl::StrCat(std::string(1, static_cast<char>(mine.code())), mine.message())
                     : "",
      first);
  const auto code = static_cast<absl::StatusCode>(shared[0]);
  const std::string message = shared.substr(1);
  return Agreed(
      absl::Status(code, first == 0 ? message : absl::StrCat("rank ", first, ": ", message)));
}

namespace {
constexpr char kAgreedUrl[] = "spacebyte/agreed";
}  // namespace

absl::Status Agreed(absl::Status status) {
  if (!status.ok()) status.SetPayload(kAgreedUrl, absl::Cord("1"));
  return status;
}

bool IsAgreed(const absl::Status& status) {
  return status.GetPayload(kAgreedUrl).has_value();
}

int WorldGroup::Min(int value) const {
  int least = 0;
  const CollectiveWait wait("an all-reduce of the world group");
  MPI_Allreduce(&value, &least, 1, MPI_INT, MPI_MIN, comm_);
  return least;
}

std::vector<double> WorldGroup::AllGather(double value) const {
  std::vector<double> all(size_);
  const CollectiveWait wait("an all-gather of the world group");
  MPI_Allgather(&value, 1, MPI_DOUBLE, all.data(), 1, MPI_DOUBLE, comm_);
  return all;
}

std::vector<std::string> WorldGroup::Gather(const std::string& mine, int root) const {
  int length = static_cast<int>(mine.size());
  std::vector<int> lengths(size_), offsets(size_);
  const CollectiveWait wait("a gather of the world group");
  MPI_Gather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, root, comm_);
  int total = 0;
  for (int r = 0; r < size_; ++r) {
    offsets[r] = total;
    total += lengths[r];
  }
  std::string all(rank_ == root ? total : 0, '\0');
  MPI_Gatherv(mine.data(), length, MPI_BYTE, all.data(), lengths.data(), offsets.data(),
              MPI_BYTE, root, comm_);
  std::vector<std::string> out;
  if (rank_ != root) return out;
  for (int r = 0; r < size_; ++r) out.push_back(all.substr(offsets[r], lengths[r]));
  return out;
}

std::string WorldGroup::Broadcast(const std::string& bytes, int root) const {
  int length = static_cast<int>(bytes.size());
  const CollectiveWait wait("a broadcast of the world group");
  MPI_Bcast(&length, 1, MPI_INT, root, comm_);
  std::string out = bytes;
  out.resize(length);
  MPI_Bcast(out.data(), length, MPI_BYTE, root, comm_);
  return out;
}

void WorldGroup::Barrier() const {
  const CollectiveWait wait("a barrier of the world group");
  MPI_Barrier(comm_);
}

}  // namespace spacebyte::parallel
