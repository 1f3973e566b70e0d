#include "kernels/band_attention_cpu.h"

#include <ATen/Parallel.h>
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu_threads.h"

namespace spacebyte::trainer {
namespace {

constexpr int64_t kChunkRows = 64;

// Which keys each chunk of queries reads: chunk i holds queries
// [Begin(i), Begin(i) + Rows(i)) and reads keys [KeyBegin(i), KeyBegin(i) +
// Keys(i)). Score rows are `width` wide, the most keys any chunk reads.
struct Band {
  int64_t length, window, chunks, width;

  Band(int64_t length, int64_t window)
      : length(length),
        window(window),
        chunks((length + kChunkRows - 1) / kChunkRows),
        width(window < 0 ? length : std::min(length, kChunkRows + window)) {}
  int64_t Begin(int64_t i) const { return i * kChunkRows; }
  int64_t Rows(int64_t i) const { return std::min(length - Begin(i), kChunkRows); }
  int64_t KeyBegin(int64_t i) const {
    return window < 0 ? 0 : std::max<int64_t>(0, Begin(i) - window);
  }
  int64_t Keys(int64_t i) const { return Begin(i) + Rows(i) - KeyBegin(i); }
};

// 0 where chunk i's row a may see its key column j, -inf elsewhere:
// [chunks, kChunkRows, width]. Rows past the sequence end see column 0 only,
// which keeps their softmax finite; nothing reads them.
torch::Tensor BandBias(const Band& band, const torch::TensorOptions& options) {
  const auto opts = torch::TensorOptions().dtype(torch::kLong);
  const torch::Tensor i = torch::arange(band.chunks, opts).view({-1, 1, 1});
  const torch::Tensor pos = i * kChunkRows + torch::arange(kChunkRows, opts).view({1, -1, 1});
  const torch::Tensor j = torch::arange(band.width, opts).view({1, 1, -1});
  std::vector<int64_t> key_begin(band.chunks);
  for (int64_t c = 0; c < band.chunks; ++c) key_begin[c] = band.KeyBegin(c);
  const torch::Tensor key = torch::tensor(key_begin, opts).view({-1, 1, 1}) + j;
  torch::Tensor allowed = key.le(pos);
  if (band.window >= 0) allowed = allowed.logical_and(key.ge(pos - band.window));
  allowed = allowed.logical_or(pos.ge(band.length).logical_and(j.eq(0)));
  return torch::zeros(allowed.sizes(), options)
      .masked_fill_(allowed.logical_not(), -std::numeric_limits<double>::infinity());
}

// C[m x n] = alpha * op(A) * op(B) + beta * C on row-major matrices with
// leading dimensions lda, ldb, ldc, straight to the system BLAS (OpenBLAS,
// the one LibTorch calls): LibTorch does not export its own gemm wrapper.
void Gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void Gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
          const double* a, int64_t lda, const double* b, int64_t ldb, double beta, double* c,
          int64_t ldc) {
  cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

// The rows of one (batch, head) of a [B, L, H, d] tensor.
template <typename T>
struct HeadRows {
  T* data;
  int64_t ld;
  T* Row(int64_t r) const { return data + r * ld; }
};

template <typename T>
HeadRows<T> Head(const torch::Tensor& x, int64_t b, int64_t h) {
  return {x.data_ptr<T>() + b * x.stride(0) + h * x.stride(2), x.stride(1)};
}

// Calls fn(b, h) for every (batch, head), spread over LibTorch's threads
// with OpenBLAS serial meanwhile: a chunk's products are too small to split
// (OpenBLAS would hand half of each to another thread and wait for it), so
// each core takes whole heads, their products and their softmax.
template <typename Fn>
void ForEachHead(const torch::Tensor& q, Fn fn) {
  const SerialBlasScope serial_blas;
  const int64_t heads = q.size(2);
  at::parallel_for(0, q.size(0) * heads, 1, [&](int64_t begin, int64_t end) {
    for (int64_t bh = begin; bh < end; ++bh) fn(bh / heads, bh % heads);
  });
}

// One head's blocks, [chunks, kChunkRows, width], uninitialised: products
// fill each chunk's [Rows, Keys] corner and ZeroRest the remainder.
torch::Tensor Slab(const Band& band, const torch::Tensor& like) {
  return torch::empty({band.chunks, kChunkRows, band.width}, like.options());
}

template <typename T>
T* Block(const Band& band, const torch::Tensor& slab, int64_t i) {
  return slab.data_ptr<T>() + i * kChunkRows * band.width;
}

// Zeros what no product writes in chunk i's block: the key columns past
// Keys(i) (early chunks see fewer keys) and the rows past the sequence end.
template <typename T>
void ZeroRest(const Band& band, int64_t i, T* block) {
  for (int64_t a = 0; a < kChunkRows; ++a) {
    const int64_t written = a < band.Rows(i) ? band.Keys(i) : 0;
    std::fill(block + a * band.width + written, block + (a + 1) * band.width, T{0});
  }
}

// Block i of one head's slab = alpha * A[chunk rows] * B[chunk keys]^T: the
// scores (A = q, B = k, alpha = 1/sqrt(d)) and, backward, dP (A = dO, B = v).
template <typename T>
void RowKeyProducts(const Band& band, const HeadRows<T>& a, const HeadRows<T>& b, int64_t d,
                    T alpha, const torch::Tensor& slab) {
  for (int64_t i = 0; i < band.chunks; ++i) {
    T* block = Block<T>(band, slab, i);
    Gemm(false, true, band.Rows(i), band.Keys(i), d, alpha, a.Row(band.Begin(i)), a.ld,
         b.Row(band.KeyBegin(i)), b.ld, T{0}, block, band.width);
    ZeroRest(band, i, block);
  }
}

template <typename T>
T Scale(const torch::Tensor& q) {
  return static_cast<T>(1.0 / std::sqrt(static_cast<double>(q.size(3))));
}

// Forward of one head: probabilities into `probs` (its slab of the saved
// [B, H, chunks, kChunkRows, width] tensor), P V into its rows of `out`.
template <typename T>
void HeadForward(const Band& band, const torch::Tensor& q, const torch::Tensor& k,
                 const torch::Tensor& v, const torch::Tensor& bias, int64_t b, int64_t h,
                 torch::Tensor probs, torch::Tensor& out) {
  const int64_t d = q.size(3);
  torch::Tensor scores = Slab(band, q);
  RowKeyProducts<T>(band, Head<T>(q, b, h), Head<T>(k, b, h), d, Scale<T>(q), scores);
  at::_softmax_out(probs, scores.add_(bias), -1, false);
  const HeadRows<T> vh = Head<T>(v, b, h), oh = Head<T>(out, b, h);
  for (int64_t i = 0; i < band.chunks; ++i) {
    Gemm(false, false, band.Rows(i), d, band.Keys(i), T{1}, Block<T>(band, probs, i), band.width,
         vh.Row(band.KeyBegin(i)), vh.ld, T{0}, oh.Row(band.Begin(i)), oh.ld);
  }
}

struct Grads {
  torch::Tensor q, k, v;
};

// Backward of one head: dP = dO V^T, dS through the softmax, then per chunk
// dQ = scale dS K, dK += scale dS^T Q, dV += P^T dO (key rows are shared by
// neighbouring chunks, hence the accumulation).
template <typename T>
void HeadBackward(const Band& band, const torch::Tensor& q, const torch::Tensor& k,
                  const torch::Tensor& v, const torch::Tensor& probs, const torch::Tensor& grad_out,
                  int64_t b, int64_t h, Grads& g) {
  const int64_t d = q.size(3);
  const T scale = Scale<T>(q);
  const HeadRows<T> qh = Head<T>(q, b, h), kh = Head<T>(k, b, h), oh = Head<T>(grad_out, b, h);
  const HeadRows<T> dq = Head<T>(g.q, b, h), dk = Head<T>(g.k, b, h), dv = Head<T>(g.v, b, h);
  torch::Tensor grad_probs = Slab(band, q), grad_scores = Slab(band, q);
  RowKeyProducts<T>(band, oh, Head<T>(v, b, h), d, T{1}, grad_probs);
  at::_softmax_backward_data_out(grad_scores, grad_probs, probs, -1, probs.scalar_type());
  for (int64_t i = 0; i < band.chunks; ++i) {
    const T* ds = Block<T>(band, grad_scores, i);
    const T* p = Block<T>(band, probs, i);
    const int64_t rows = band.Rows(i), keys = band.Keys(i);
    const int64_t row0 = band.Begin(i), key0 = band.KeyBegin(i);
    Gemm(false, false, rows, d, keys, scale, ds, band.width, kh.Row(key0), kh.ld, T{0},
         dq.Row(row0), dq.ld);
    Gemm(true, false, keys, d, rows, scale, ds, band.width, qh.Row(row0), qh.ld, T{1}, dk.Row(key0),
         dk.ld);
    Gemm(true, false, keys, d, rows, T{1}, p, band.width, oh.Row(row0), oh.ld, T{1}, dv.Row(key0),
         dv.ld);
  }
}

torch::Tensor LastDimContiguous(const torch::Tensor& x) {
  return x.stride(3) == 1 ? x : x.contiguous();
}

class BandAttentionFunction : public torch::autograd::Function<BandAttentionFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& q,
                               const torch::Tensor& k, const torch::Tensor& v, int64_t window) {
    const Band band(q.size(1), window);
    const torch::Tensor bias = BandBias(band, q.options());
    torch::Tensor probs =
        torch::empty({q.size(0), q.size(2), band.chunks, kChunkRows, band.width}, q.options());
    torch::Tensor out = torch::empty(q.sizes(), q.options());
    AT_DISPATCH_FLOATING_TYPES(q.scalar_type(), "band_attention_forward", [&] {
      ForEachHead(q, [&](int64_t b, int64_t h) {
        HeadForward<scalar_t>(band, q, k, v, bias, b, h, probs.select(0, b).select(0, h), out);
      });
    });
    ctx->save_for_backward({q, k, v, probs});
    ctx->saved_data["window"] = window;
    return out;
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const torch::autograd::variable_list saved = ctx->get_saved_variables();
    const torch::Tensor &q = saved[0], &k = saved[1], &v = saved[2], &probs = saved[3];
    const Band band(q.size(1), ctx->saved_data["window"].toInt());
    const torch::Tensor grad_out = grads[0].contiguous();
    Grads g{torch::empty(q.sizes(), q.options()), torch::zeros(k.sizes(), k.options()),
            torch::zeros(v.sizes(), v.options())};
    AT_DISPATCH_FLOATING_TYPES(q.scalar_type(), "band_attention_backward", [&] {
      ForEachHead(q, [&](int64_t b, int64_t h) {
        HeadBackward<scalar_t>(band, q, k, v, probs.select(0, b).select(0, h), grad_out, b, h, g);
      });
    });
    return {g.q, g.k, g.v, torch::Tensor()};
  }
};

}  // namespace

bool BandAttentionCpuApplies(const torch::Tensor& q, const torch::Tensor& k,
                             const torch::Tensor& v) {
  const auto type = q.scalar_type();
  return q.device().is_cpu() && (type == torch::kFloat || type == torch::kDouble) &&
         k.scalar_type() == type && v.scalar_type() == type;
}

torch::Tensor BandAttentionCpu(const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v, int64_t window) {
  TORCH_CHECK(BandAttentionCpuApplies(q, k, v),
              "BandAttentionCpu takes CPU tensors, all float or all double");
  TORCH_CHECK(q.dim() == 4 && q.sizes() == k.sizes() && q.sizes() == v.sizes(),
              "BandAttentionCpu takes q, k, v of one shape [B, L, H, d_key], got ", q.sizes(), ", ",
              k.sizes(), ", ", v.sizes());
  return BandAttentionFunction::apply(LastDimContiguous(q), LastDimContiguous(k),
                                      LastDimContiguous(v), window);
}

}  // namespace spacebyte::trainer
