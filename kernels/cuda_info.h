#ifndef SPACEBYTE_KERNELS_CUDA_INFO_H_
#define SPACEBYTE_KERNELS_CUDA_INFO_H_

// What `bench` reports about a CUDA device. Without a CUDA build every
// answer is empty.

#include <optional>
#include <string>

namespace spacebyte::trainer {

struct CudaDeviceInfo {
  std::string name;  // e.g. "NVIDIA H100 80GB HBM3"
  // The datasheet's dense bf16 tensor-core peak, TFLOP/s; empty for a card
  // not in our table.
  std::optional<double> peak_bf16_tflops;
  double memory_gb = 0;
};

std::optional<CudaDeviceInfo> DescribeCudaDevice(int index);

// The caching allocator's peak of allocated bytes since the last reset, MiB.
std::optional<double> PeakCudaMemoryMb(int index);
void ResetPeakCudaMemory(int index);
// Waits for all work queued on the current CUDA device.
void SynchronizeCuda();

// Dense bf16 peak of a card by its name (datasheet figures, without
// sparsity); empty when unknown.
std::optional<double> DatasheetBf16Tflops(const std::string& name);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_KERNELS_CUDA_INFO_H_
