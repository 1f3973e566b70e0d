#include "kernels/attention_kernels.h"

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
  // The scale goes on q and the mask is added as 0 / -inf: the score matrix,
  // the largest tensor here, sees no extra pass forward or backward.
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  const torch::Tensor bias =
      torch::zeros(allowed.sizes(), q.options().requires_grad(false))
          .masked_fill_(allowed.logical_not(), -std::numeric_limits<float>::infinity());
  torch::Tensor scores = torch::matmul(q * scale, k.transpose(-1, -2)).add_(bias);
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

namespace {

// Rows per chunk for WindowedAttention: a chunk of c queries reads the
// ceil(window / c) chunks before it and itself, (1 + ceil(window / c)) * c
// keys, and the sequence pads up to whole chunks. Smaller chunks waste fewer
// scores (2 * window keys per query at c = window, 4/3 * window at
// c = window / 3) but make smaller matrix products and copy each key and
// value into (1 + window / c) chunks. On the CPU 64 rows keep a product
// worth a BLAS call; on CUDA the copies, kept for backward, cost more than
// the scores (at W 768, 64-row chunks copied K and V 13 times), so chunks
// keep 256 rows or more.
int64_t ChunkRows(int64_t length, int64_t window, int64_t min_rows) {
  int64_t best = window, best_cost = -1;
  for (int64_t before = 1;; ++before) {
    const int64_t c = (window + before - 1) / before;
    if (c < min_rows && before > 1) break;
    const int64_t padded = (length + c - 1) / c * c;
    const int64_t cost = padded * (before + 1) * c;
    if (best_cost < 0 || cost < best_cost) {
      best = c;
      best_cost = cost;
    }
    if (c == 1) break;
  }
  return best;
}

}  // namespace

torch::Tensor WindowedAttention(const torch::Tensor& q, const torch::Tensor& k,
                                const torch::Tensor& v, int64_t window,
                                int64_t min_chunk_rows) {
  TORCH_CHECK(window > 0, "attention window must be positive, got ", window);
  TORCH_CHECK(q.size(2) == k.size(2), "windowed attention needs as many queries as keys");
  const int64_t length = q.size(2);
  if (length <= window + 1) return CausalAttention(q, k, v);

  if (min_chunk_rows <= 0) min_chunk_rows = q.is_cuda() ? 256 : 64;
  const int64_t chunk = ChunkRows(length, window, min_chunk_rows);
  const int64_t n = (length + chunk - 1) / chunk;
  const int64_t before = (window + chunk - 1) / chunk;  // chunks of keys before a chunk
  const int64_t batch = q.size(0), heads = q.size(1), d_key = q.size(3);
  const int64_t pad = n * chunk - length;
  auto chunks = [&](const torch::Tensor& x) {
    return torch::constant_pad_nd(x, {0, 0, 0, pad}).view({batch, heads, n, chunk, d_key});
  };
  // Keys of chunk i: the `before` chunks preceding it (zeros before the
  // first) and itself, [B, H, n, (before + 1) * chunk, d_key].
  auto with_previous = [&](const torch::Tensor& x) {
    const torch::Tensor padded = torch::constant_pad_nd(chunks(x), {0, 0, 0, 0, before, 0});
    std::vector<torch::Tensor> parts;
    for (int64_t j = 0; j <= before; ++j) parts.push_back(padded.narrow(2, j, n));
    return torch::cat(parts, 3);
  };
  // Query a of chunk i sits at key index before * chunk + a; it sees keys
  // back to `window` positions earlier that exist (index >= (before - i) * chunk).
  const auto opts = torch::TensorOptions().dtype(torch::kLong).device(q.device());
  const torch::Tensor a = torch::arange(chunk, opts).view({1, chunk, 1}) + before * chunk;
  const torch::Tensor b = torch::arange((before + 1) * chunk, opts).view({1, 1, -1});
  const torch::Tensor first_key = (before - torch::arange(n, opts)).clamp_min(0).view({n, 1, 1}) * chunk;
  const torch::Tensor allowed =
      b.le(a).logical_and(b.ge(a - window)).logical_and(b.ge(first_key));
  // SDPA's fused kernels take 4-D inputs only; 5-D ones fall back to the math
  // path, which materialises every score. The chunks fold into the head axis.
  const int64_t keys = (before + 1) * chunk;
  const torch::Tensor out =
      Attend(chunks(q).reshape({batch, heads * n, chunk, d_key}),
             with_previous(k).reshape({batch, heads * n, keys, d_key}),
             with_previous(v).reshape({batch, heads * n, keys, d_key}),
             allowed.unsqueeze(0).expand({heads, n, chunk, keys}).reshape({1, heads * n, chunk, keys}));
  // reshape, not view: CUDA's memory-efficient kernel (fp32, as in evaluation)
  // returns its output as a transposed [B, chunk, H n, d_key] buffer, where
  // the chunk and head axes do not merge.
  return out.reshape({batch, heads, n * chunk, d_key}).narrow(2, 0, length);
}

}  // namespace spacebyte::trainer
