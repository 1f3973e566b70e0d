#include "kernels/op_profile.h"

#include <torch/csrc/autograd/profiler_kineto.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "kernels/cuda_info.h"

namespace spacebyte::trainer {
namespace {

namespace prof = torch::profiler::impl;
using torch::autograd::profiler::KinetoEvent;

// LibTorch 2.x times events in nanoseconds, 1.13 in microseconds.
template <typename E>
auto StartNs(const E& e, int) -> decltype(e.startNs()) {
  return e.startNs();
}
template <typename E>
uint64_t StartNs(const E& e, long) {
  return e.startUs() * 1000;
}
template <typename E>
auto DurationNs(const E& e, int) -> decltype(e.durationNs()) {
  return e.durationNs();
}
template <typename E>
uint64_t DurationNs(const E& e, long) {
  return e.durationUs() * 1000;
}

struct Event {
  std::string name;
  uint64_t start = 0, end = 0;  // ns
  bool gpu = false, phase = false;
  int64_t lane = 0;  // CPU thread or GPU stream
  double self_ns = 0;
};

std::vector<Event> Collect(const std::vector<KinetoEvent>& raw) {
  std::vector<Event> events;
  for (const KinetoEvent& e : raw) {
    Event ev;
    ev.name = e.name();
    ev.start = StartNs(e, 0);
    ev.end = ev.start + DurationNs(e, 0);
    ev.gpu = e.deviceType() != c10::DeviceType::CPU;
    ev.phase = e.scope() == static_cast<uint8_t>(at::RecordScope::USER_SCOPE);
    ev.lane = ev.gpu ? e.deviceResourceId() : static_cast<int64_t>(e.startThreadId());
    ev.self_ns = static_cast<double>(ev.end - ev.start);
    events.push_back(std::move(ev));
  }
  return events;
}

// On each CPU thread operators nest (aten::linear runs aten::matmul runs
// aten::mm): each one's time less its children's is its own.
void SubtractChildren(std::vector<Event>& events) {
  std::vector<Event*> cpu;
  for (Event& e : events) {
    if (!e.gpu) cpu.push_back(&e);
  }
  std::sort(cpu.begin(), cpu.end(), [](const Event* a, const Event* b) {
    if (a->lane != b->lane) return a->lane < b->lane;
    if (a->start != b->start) return a->start < b->start;
    return a->end > b->end;  // the parent first
  });
  std::vector<Event*> open;
  for (Event* e : cpu) {
    while (!open.empty() && (open.back()->lane != e->lane || open.back()->end <= e->start)) {
      open.pop_back();
    }
    if (!open.empty()) {
      const uint64_t overlap = std::min(open.back()->end, e->end) - e->start;
      open.back()->self_ns -= static_cast<double>(overlap);
    }
    open.push_back(e);
  }
}

OpProfile Summarise(const std::vector<Event>& events, bool cuda) {
  std::map<std::string, OpTime> by_name;
  for (const Event& e : events) {
    // On CUDA the kernels; on the CPU the operators, not the phases around them.
    if (cuda ? !e.gpu : (e.gpu || e.phase)) continue;
    OpTime& row = by_name[e.name];
    row.name = e.name;
    row.ms += std::max(0.0, e.self_ns) / 1e6;
    row.calls += 1;
  }
  OpProfile profile;
  profile.basis = cuda ? "cuda kernels (device time)" : "cpu operators (self time)";
  for (auto& [name, row] : by_name) {
    profile.total_ms += row.ms;
    profile.ops.push_back(std::move(row));
  }
  std::sort(profile.ops.begin(), profile.ops.end(),
            [](const OpTime& a, const OpTime& b) { return a.ms > b.ms; });
  return profile;
}

absl::Status WriteTrace(const std::vector<Event>& events, const std::string& path) {
  uint64_t origin = UINT64_MAX;
  for (const Event& e : events) origin = std::min(origin, e.start);
  nlohmann::json list = nlohmann::json::array();
  for (const Event& e : events) {
    list.push_back({{"name", e.name},
                    {"ph", "X"},
                    {"cat", e.gpu ? "kernel" : e.phase ? "phase" : "cpu_op"},
                    {"ts", static_cast<double>(e.start - origin) / 1e3},
                    {"dur", static_cast<double>(e.end - e.start) / 1e3},
                    {"pid", e.gpu ? "GPU" : "CPU"},
                    {"tid", e.lane}});
  }
  std::ofstream out(path, std::ios::trunc);
  out << nlohmann::json{{"traceEvents", list}, {"displayTimeUnit", "ms"}}.dump() << "\n";
  out.close();
  if (!out) return absl::UnavailableError(absl::StrCat(path, ": cannot write the trace: ",
                                                       std::strerror(errno)));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<OpProfile> ProfileOps(const std::function<void()>& work, bool cuda,
                                     const std::string& trace_path) {
  std::set<prof::ActivityType> activities = {prof::ActivityType::CPU};
  if (cuda) activities.insert(prof::ActivityType::CUDA);
  const prof::ProfilerConfig config(prof::ProfilerState::KINETO);
  try {
    torch::autograd::profiler::prepareProfiler(config, activities);
    torch::autograd::profiler::enableProfiler(config, activities);
  } catch (const c10::Error& e) {
    // The work runs all the same: on several ranks it holds collectives
    // that the others, whose profiler may have started, wait in.
    work();
    return absl::UnavailableError(
        absl::StrCat("the profiler did not start: ", e.what_without_backtrace()));
  }
  try {
    work();
    if (cuda) SynchronizeCuda();
  } catch (...) {
    torch::autograd::profiler::disableProfiler();
    throw;
  }
  std::vector<Event> events = Collect(torch::autograd::profiler::disableProfiler()->events());
  SubtractChildren(events);
  if (absl::Status written = WriteTrace(events, trace_path); !written.ok()) return written;
  return Summarise(events, cuda);
}

std::string OpTable(const OpProfile& profile, int top, int64_t steps) {
  std::string table = absl::StrFormat("%10s %8s %7s  %s\n", "ms/step", "calls", "share",
                                      profile.basis);
  const double per_step = 1.0 / static_cast<double>(steps);
  for (size_t i = 0; i < profile.ops.size() && i < static_cast<size_t>(top); ++i) {
    const OpTime& op = profile.ops[i];
    absl::StrAppendFormat(&table, "%10.2f %8.1f %6.1f%%  %s\n", op.ms * per_step,
                          static_cast<double>(op.calls) * per_step,
                          100.0 * op.ms / std::max(profile.total_ms, 1e-12), op.name.substr(0, 120));
  }
  absl::StrAppendFormat(&table, "%10.2f %8s %7s  all %d\n", profile.total_ms * per_step, "", "",
                        static_cast<int>(profile.ops.size()));
  return table;
}

}  // namespace spacebyte::trainer
