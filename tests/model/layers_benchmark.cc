// The layers of the 1e19 shapes' local blocks (d 768, d_key 64, W 768, RoPE)
// forward and backward on one row, on the CPU: RoPE on one of Q or K
// [1, 6144, 12, 64] in fp32 and in bf16 (bytes_per_second counts the input
// once), a query's norm and RoPE as separate ops and fused, and a whole
// local block on 1,536 bytes for scale. RoPE is
// element-wise work that reads and writes memory and little else, so its
// time here follows the passes it makes over the tensor, as on a GPU.

#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "kernels/norm_rope.h"
#include "model/layers.h"

namespace spacebyte::trainer {
namespace {

void BM_RopeForwardBackward(benchmark::State& state) {
  torch::manual_seed(0);
  const auto dtype = state.range(0) == 32 ? torch::kFloat : torch::kBFloat16;
  const torch::Tensor x = torch::randn({1, 6144, 12, 64}).to(dtype).requires_grad_(true);
  const torch::Tensor grad = torch::randn({1, 6144, 12, 64}).to(dtype);
  for (auto _ : state) {
    torch::Tensor y = ApplyRope(x);
    y.backward(grad);
    benchmark::DoNotOptimize(x.grad().data_ptr());
  }
  state.SetBytesProcessed(state.iterations() * x.numel() * x.element_size());
}
BENCHMARK(BM_RopeForwardBackward)->Arg(32)->Arg(16)->Unit(benchmark::kMillisecond);

// A query's LayerNorm and RoPE, forward and backward, on a strided view
// like its view of the fused projection [1, 6144, 3, 12, 64], in fp32: as
// separate ops (Arg 0) and as kernels/norm_rope.h's one pass (Arg 1).
void BM_QueryNormRopeForwardBackward(benchmark::State& state) {
  torch::manual_seed(0);
  const bool fused = state.range(0) == 1;
  const torch::Tensor qkv = torch::randn({1, 6144, 3, 12, 64});
  const torch::Tensor grad = torch::randn({1, 6144, 12, 64});
  Norm norm(64, NormKind::kLayerNorm);
  const torch::Tensor rotation = RopeRotation(6144, 64, 0, torch::kCPU);
  const torch::Tensor turn = torch::view_as_real(rotation.squeeze(1));
  const torch::Tensor cos = turn.select(-1, 0).contiguous(), sin = turn.select(-1, 1).contiguous();
  const torch::Tensor q = qkv.select(2, 0).detach().requires_grad_(true);
  for (auto _ : state) {
    torch::Tensor y = fused ? NormRope(q, norm->scale(), cos, sin, true, 1e-5, torch::kFloat)
                            : ApplyRope(norm(q), rotation);
    y.backward(grad);
    benchmark::DoNotOptimize(q.grad().data_ptr());
  }
  state.SetBytesProcessed(state.iterations() * grad.numel() * grad.element_size());
}
BENCHMARK(BM_QueryNormRopeForwardBackward)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// A block's pre-norm, forward and backward, on rows of the residual stream
// [1, 6144, 768] in fp32: torch's LayerNorm (Arg 0) and the one pass of
// kernels/norm_rope.h without rotation (Arg 1), which the model uses on
// CUDA only (NormImpl::BeforeProduct) because on the CPU it is slower.
void BM_PreNormForwardBackward(benchmark::State& state) {
  torch::manual_seed(0);
  const bool fused = state.range(0) == 1;
  const torch::Tensor x = torch::randn({1, 6144, 768}).requires_grad_(true);
  const torch::Tensor grad = torch::randn({1, 6144, 768});
  Norm norm(768, NormKind::kLayerNorm);
  for (auto _ : state) {
    torch::Tensor y = fused ? NormRope(x.unsqueeze(2), norm->scale(), {}, {}, true, 1e-5,
                                       torch::kFloat).squeeze(2)
                            : norm(x);
    y.backward(grad);
    benchmark::DoNotOptimize(x.grad().data_ptr());
  }
  state.SetBytesProcessed(state.iterations() * grad.numel() * grad.element_size());
}
BENCHMARK(BM_PreNormForwardBackward)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

void BM_LocalBlockForwardBackward(benchmark::State& state) {
  torch::manual_seed(0);
  ModelSpec spec;
  spec.rope = true;
  Block block(768, spec, /*window=*/768);
  const torch::Tensor x = torch::randn({1, 1536, 768});
  for (auto _ : state) {
    block->zero_grad();
    block->forward(x).sum().backward();
  }
  state.SetBytesProcessed(state.iterations() * x.size(1));
}
BENCHMARK(BM_LocalBlockForwardBackward)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace spacebyte::trainer
BENCHMARK_MAIN();
