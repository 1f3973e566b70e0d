// Checkpoint manifests: any bytes are refused with a message or give a
// manifest that serialises and parses back to itself.

#include <cstdlib>
#include <string>

#include "google/protobuf/util/field_comparator.h"
#include "google/protobuf/util/message_differencer.h"
#include "tests/fuzz/fuzz_input.h"
#include "checkpoint/checkpoint_manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using spacebyte::trainer::ParseManifest;
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<spacebyte::proto::CheckpointManifest> m = ParseManifest("manifest.pb", bytes);
  spacebyte::fuzz::RequireMessage(m.status());
  if (!m.ok()) return 0;
  absl::StatusOr<spacebyte::proto::CheckpointManifest> again =
      ParseManifest("manifest.pb", spacebyte::trainer::SerializeManifest(*m));
  if (!again.ok()) std::abort();
  again->clear_manifest_crc32c();
  m->clear_manifest_crc32c();
  m->set_format_version(spacebyte::trainer::kCheckpointFormatVersion);
  // A NaN in the stored config (refused later, when a resume resolves it)
  // round-trips bit for bit but never equals itself.
  google::protobuf::util::DefaultFieldComparator nan_equal;
  nan_equal.set_treat_nan_as_equal(true);
  google::protobuf::util::MessageDifferencer same;
  same.set_field_comparator(&nan_equal);
  if (!same.Compare(*m, *again)) std::abort();
  return 0;
}
