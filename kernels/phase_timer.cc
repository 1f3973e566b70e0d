#include "kernels/phase_timer.h"

#include <map>

#include "absl/strings/str_format.h"

namespace spacebyte::trainer {
namespace {

struct State {
  std::vector<PhaseTimer::Row> rows;
  std::vector<int> parent;
  std::map<std::string, int> by_path;
  std::vector<int> open;  // rows of the scopes now open, innermost last
};

State& Get() {
  static State state;
  return state;
}

}  // namespace

void PhaseTimer::Reset() { Get() = State(); }

int PhaseTimer::Open(const char* name) {
  State& s = Get();
  const int parent = s.open.empty() ? -1 : s.open.back();
  const std::string path =
      parent < 0 ? std::string(name) : s.rows[parent].path + "/" + name;
  auto [it, added] = s.by_path.emplace(path, static_cast<int>(s.rows.size()));
  if (added) {
    PhaseTimer::Row row;
    row.path = path;
    row.depth = parent < 0 ? 0 : s.rows[parent].depth + 1;
    s.rows.push_back(row);
    s.parent.push_back(parent);
  }
  s.open.push_back(it->second);
  return it->second;
}

void PhaseTimer::Close(int row, double seconds, double cpu_seconds) {
  State& s = Get();
  s.open.pop_back();
  PhaseTimer::Row& r = s.rows[row];
  r.total_s += seconds;
  r.self_s += seconds;
  r.cpu_total_s += cpu_seconds;
  r.cpu_self_s += cpu_seconds;
  r.calls += 1;
  if (s.parent[row] >= 0) {
    s.rows[s.parent[row]].self_s -= seconds;
    s.rows[s.parent[row]].cpu_self_s -= cpu_seconds;
  }
}

std::vector<PhaseTimer::Row> PhaseTimer::Rows() { return Get().rows; }

std::string PhaseTimer::Table(int64_t steps, double wall_s, double cpu_s) {
  const double n = static_cast<double>(steps);
  std::string out = absl::StrFormat("%-36s %9s %9s %7s %9s %9s %7s %6s\n", "phase (per step)",
                                    "wall ms", "self ms", "self %", "cpu ms", "self ms",
                                    "self %", "calls");
  double wall_covered = 0, cpu_covered = 0;
  for (const Row& row : Rows()) {
    const std::string name =
        std::string(2 * row.depth, ' ') + row.path.substr(row.path.rfind('/') + 1);
    out += absl::StrFormat("%-36s %9.1f %9.1f %6.1f%% %9.1f %9.1f %6.1f%% %6.1f\n", name,
                           1e3 * row.total_s / n, 1e3 * row.self_s / n,
                           100 * row.self_s / wall_s, 1e3 * row.cpu_total_s / n,
                           1e3 * row.cpu_self_s / n, 100 * row.cpu_self_s / cpu_s,
                           static_cast<double>(row.calls) / n);
    if (row.depth == 0) {
      wall_covered += row.total_s;
      cpu_covered += row.cpu_total_s;
    }
  }
  out += absl::StrFormat("%-36s %9.1f %9s %6.1f%% %9.1f %9s %6.1f%%\n", "(outside any phase)",
                         1e3 * (wall_s - wall_covered) / n, "",
                         100 * (wall_s - wall_covered) / wall_s,
                         1e3 * (cpu_s - cpu_covered) / n, "", 100 * (cpu_s - cpu_covered) / cpu_s);
  return out;
}

}  // namespace spacebyte::trainer
