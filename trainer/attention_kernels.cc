#include "trainer/attention_kernels.h"

#include <cmath>
#include <limits>

#include <torch/version.h>

namespace spacebyte::trainer {
namespace {

// softmax(q k^T / sqrt(d) + mask) v, where `allowed` broadcasts against the
// score matrix (true = attend). LibTorch 2 dispatches to a fused kernel.
torch::Tensor Attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                     const torch::Tensor& allowed) {
#if TORCH_VERSION_MAJOR >= 2
  return at::scaled_dot_product_attention(q, k, v, allowed);
#else
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  torch::Tensor scores = torch::matmul(q, k.transpose(-1, -2)).mul_(scale);
  scores.masked_fill_(allowed.logical_not(), -std::numeric_limits<float>::infinity());
  return torch::matmul(scores.softmax(-1), v);
#endif
}

// allowed[i][j] for query i at key position (lk - lq + i) and key j.
torch::Tensor BandMask(int64_t lq, int64_t lk, int64_t window, const torch::Device& device) {
  const auto opts = torch::TensorOptions().dtype(torch::kLong).device(device);
  const torch::Tensor qpos = torch::arange(lk - lq, lk, opts).unsqueeze(1);
  const torch::Tensor kpos = torch::arange(lk, opts).unsqueeze(0);
  const torch::Tensor distance = qpos - kpos;
  torch::Tensor allowed = distance.ge(0);
  if (window >= 0) allowed = allowed.logical_and(distance.le(window));
  return allowed;
}

}  // namespace

torch::Tensor CausalAttention(const torch::Tensor& q, const torch::Tensor& k,
                              const torch::Tensor& v) {
#if TORCH_VERSION_MAJOR >= 2
  if (q.size(2) == k.size(2)) {
    return at::scaled_dot_product_attention(q, k, v, {}, 0.0, /*is_causal=*/true);
  }
#endif
  return Attend(q, k, v, BandMask(q.size(2), k.size(2), -1, q.device()));
}

torch::Tensor MaskedAttention(const torch::Tensor& q, const torch::Tensor& k,
                              const torch::Tensor& v, int64_t window) {
  return Attend(q, k, v, BandMask(q.size(2), k.size(2), window, q.device()));
}

torch::Tensor WindowedAttention(const torch::Tensor& q, const torch::Tensor& k,
                                const torch::Tensor& v, int64_t window) {
  TORCH_CHECK(window > 0, "attention window must be positive, got ", window);
  TORCH_CHECK(q.size(2) == k.size(2), "windowed attention needs as many queries as keys");
  const int64_t length = q.size(2);
  if (length <= window + 1) return CausalAttention(q, k, v);

  const int64_t chunk = window, n = (length + chunk - 1) / chunk;
  const int64_t batch = q.size(0), heads = q.size(1), d_key = q.size(3);
  const int64_t pad = n * chunk - length;
  auto chunks = [&](const torch::Tensor& x) {
    return torch::constant_pad_nd(x, {0, 0, 0, pad}).view({batch, heads, n, chunk, d_key});
  };
  // Keys of chunk i: the chunk before it (zeros before the first) and itself.
  auto with_previous = [&](const torch::Tensor& x) {
    const torch::Tensor c = chunks(x);
    const torch::Tensor prev =
        torch::constant_pad_nd(c.narrow(2, 0, n - 1), {0, 0, 0, 0, 1, 0});
    return torch::cat({prev, c}, 3);  // [B, H, n, 2 * chunk, d_key]
  };
  // Query a of a chunk sits at key index chunk + a; it sees keys a .. chunk + a.
  const auto opts = torch::TensorOptions().dtype(torch::kLong).device(q.device());
  const torch::Tensor a = torch::arange(chunk, opts).view({1, chunk, 1});
  const torch::Tensor b = torch::arange(2 * chunk, opts).view({1, 1, 2 * chunk});
  const torch::Tensor first = torch::arange(n, opts).eq(0).view({n, 1, 1});
  const torch::Tensor allowed = b.ge(a).logical_and(b.le(a + chunk))
                                    .logical_and(first.logical_and(b.lt(chunk)).logical_not());
  const torch::Tensor out = Attend(chunks(q), with_previous(k), with_previous(v), allowed);
  return out.reshape({batch, heads, n * chunk, d_key}).narrow(2, 0, length);
}

}  // namespace spacebyte::trainer
