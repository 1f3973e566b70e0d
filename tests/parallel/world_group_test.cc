// WorldGroup: the host-side agreements every rank of the job settles
// together (run on 2 and 4 ranks).

#include "parallel/world_group.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"

namespace spacebyte::parallel {
namespace {

TEST(WorldGroupTest, OneFailingRankReachesEveryRank) {
  const WorldGroup world;
  EXPECT_TRUE(world.AllOk(true));
  EXPECT_FALSE(world.AllOk(world.rank() != world.size() - 1));
  EXPECT_TRUE(world.Agree(absl::OkStatus()).ok());
  // Every rank gets the lowest failing rank's error, named, so that one
  // rank (rank 0) prints it and the rest stay quiet.
  const absl::Status agreed = world.Agree(world.rank() >= 1
                                              ? absl::DataLossError(absl::StrCat(
                                                    "shard ", world.rank(), " is corrupt"))
                                              : absl::OkStatus());
  EXPECT_EQ(agreed.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(agreed.message(), "rank 1: shard 1 is corrupt");
  EXPECT_TRUE(IsAgreed(agreed));
  // An error every rank sees alike is rank 0's, unprefixed.
  const absl::Status alike = world.Agree(absl::NotFoundError("no such config"));
  EXPECT_EQ(alike.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(alike.message(), "no such config");
  EXPECT_TRUE(IsAgreed(alike));
  EXPECT_FALSE(IsAgreed(absl::NotFoundError("no such config")));
}

TEST(WorldGroupTest, MinAndAllGatherSeeEveryRank) {
  const WorldGroup world;
  EXPECT_EQ(world.Min(10 - world.rank()), 11 - world.size());
  const std::vector<double> all = world.AllGather(0.5 * world.rank());
  ASSERT_EQ(static_cast<int>(all.size()), world.size());
  for (int r = 0; r < world.size(); ++r) EXPECT_EQ(all[r], 0.5 * r);
}

TEST(WorldGroupTest, BytesOfEveryLengthGatherAndBroadcast) {
  const WorldGroup world;
  // Lengths 0, 1, 2, ...: an empty part must keep its place.
  const std::string mine(world.rank(), static_cast<char>('a' + world.rank()));
  const int root = world.size() - 1;
  const std::vector<std::string> parts = world.Gather(mine, root);
  if (world.rank() == root) {
    ASSERT_EQ(static_cast<int>(parts.size()), world.size());
    for (int r = 0; r < world.size(); ++r) {
      EXPECT_EQ(parts[r], std::string(r, static_cast<char>('a' + r)));
    }
  } else {
    EXPECT_TRUE(parts.empty());
  }
  const std::string sent = world.rank() == 0 ? std::string("commit\0ok", 9) : "ignored";
  EXPECT_EQ(world.Broadcast(sent, 0), std::string("commit\0ok", 9));
  world.Barrier();
}

}  // namespace
}  // namespace spacebyte::parallel
