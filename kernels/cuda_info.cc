#include "kernels/cuda_info.h"

#include <utility>
#include <vector>

#ifdef SPACEBYTE_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <cuda_runtime_api.h>
#endif

namespace spacebyte::trainer {

std::optional<double> DatasheetBf16Tflops(const std::string& name) {
  // Most specific first: "H100 PCIe" before "H100".
  static const std::vector<std::pair<std::string, double>> kTable = {
      {"H100 PCIe", 756}, {"H100 NVL", 835}, {"H100", 989}, {"GH200", 989},
      {"H200", 989},      {"H800", 989},     {"B200", 2250}, {"B100", 1750},
      {"A100", 312},      {"A800", 312},     {"L40S", 362},  {"L40", 181},
      {"A10G", 70},       {"L4", 121}};
  for (const auto& [key, tflops] : kTable) {
    if (name.find(key) != std::string::npos) return tflops;
  }
  return std::nullopt;
}

#ifdef SPACEBYTE_WITH_CUDA
std::optional<CudaDeviceInfo> DescribeCudaDevice(int index) {
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, index) != cudaSuccess) return std::nullopt;
  CudaDeviceInfo info;
  info.name = prop.name;
  info.peak_bf16_tflops = DatasheetBf16Tflops(info.name);
  info.memory_gb = static_cast<double>(prop.totalGlobalMem) / (1 << 30);
  return info;
}

std::optional<double> PeakCudaMemoryMb(int index) {
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(index);
  // Entry 0 is StatType::AGGREGATE (all pools), whose namespace moved
  // between LibTorch versions.
  return static_cast<double>(stats.allocated_bytes[0].peak) / (1 << 20);
}

void ResetPeakCudaMemory(int index) { c10::cuda::CUDACachingAllocator::resetPeakStats(index); }
void SynchronizeCuda() { cudaDeviceSynchronize(); }
#else
std::optional<CudaDeviceInfo> DescribeCudaDevice(int) { return std::nullopt; }
std::optional<double> PeakCudaMemoryMb(int) { return std::nullopt; }
void ResetPeakCudaMemory(int) {}
void SynchronizeCuda() {}
#endif

}  // namespace spacebyte::trainer
