#include "kernels/flash_window_attention.h"

#include <torch/version.h>

// window_size_left is in the op from LibTorch 2.11 on at the latest (the
// oldest 2.x we build and test against).
#if defined(SPACEBYTE_WITH_CUDA) && \
    (TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 11))
#define SPACEBYTE_FLASH_WINDOW 1
#else
#define SPACEBYTE_FLASH_WINDOW 0
#endif

#if SPACEBYTE_FLASH_WINDOW
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/autocast_mode.h>

#include "kernels/attention_kernels.h"
#include "kernels/kernel_check.h"
#endif

namespace spacebyte::trainer {

#if SPACEBYTE_FLASH_WINDOW
namespace {

// The window is FlashAttention's window_size_left: keys p - window .. p,
// both ends included, with is_causal closing the right side. The op's own
// autograd formula (_flash_attention_backward) carries the window back.
torch::Tensor Flash(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                    int64_t window) {
  const int64_t length = q.size(1);
  return std::get<0>(at::_flash_attention_forward(
      q.contiguous(), k.contiguous(), v.contiguous(), std::nullopt, std::nullopt, length, length,
      /*dropout_p=*/0.0, /*is_causal=*/true, /*return_debug_mask=*/false,
      /*scale=*/std::nullopt, window, /*window_size_right=*/0));
}

// Turns CUDA autocast off for a comparison's lifetime.
class NoCudaAutocast {
 public:
  NoCudaAutocast() : was_on_(at::autocast::is_autocast_enabled(at::kCUDA)) {
    at::autocast::set_autocast_enabled(at::kCUDA, false);
  }
  ~NoCudaAutocast() { at::autocast::set_autocast_enabled(at::kCUDA, was_on_); }

 private:
  bool was_on_;
};

// A window of 8 keys makes a key too many or too few move the output by
// about a ninth: far above bf16 rounding. Heads of width d: FlashAttention
// compiles a kernel per head width, so each width in use is checked.
std::string CheckFailure(const torch::Device& device, int64_t d) {
  at::Generator gen = at::detail::createCPUGenerator(/*seed_val=*/20261128);
  const auto cpu = torch::TensorOptions().dtype(torch::kFloat);
  auto input = [&] {
    return at::randn({2, 200, 2, d}, gen, cpu).to(device, torch::kBFloat16).requires_grad_(true);
  };
  const torch::Tensor q = input(), k = input(), v = input();
  return FlashWindowMismatch(q, k, v, at::randn({2, 200, 2, d}, gen, cpu).to(device), 8);
}

bool CheckedOk(const torch::Device& device, int64_t d) {
  return PassesCheckOnce(
      "FlashAttention's sliding window (heads " + std::to_string(d) + " wide)", device,
      [&] { return CheckFailure(device, d); }, "the chunked windowed attention");
}

}  // namespace

std::string FlashWindowMismatch(const torch::Tensor& q, const torch::Tensor& k,
                                const torch::Tensor& v, const torch::Tensor& grad_out,
                                int64_t window) {
  NoCudaAutocast no_autocast;
  torch::AutoGradMode grad(true);
  const torch::Tensor fast = Flash(q, k, v, window).to(torch::kFloat);
  const auto fast_grads = torch::autograd::grad({fast}, {q, k, v}, {grad_out});
  auto heads_first = [](const torch::Tensor& x) { return x.to(torch::kFloat).transpose(1, 2); };
  const torch::Tensor slow =
      MaskedAttention(heads_first(q), heads_first(k), heads_first(v), window).transpose(1, 2);
  const auto slow_grads = torch::autograd::grad({slow}, {q, k, v}, {grad_out});
  return FirstMismatch({{"output", fast, slow},
                        {"dq", fast_grads[0], slow_grads[0]},
                        {"dk", fast_grads[1], slow_grads[1]},
                        {"dv", fast_grads[2], slow_grads[2]}});
}

std::optional<torch::Tensor> FlashWindowedAttention(const torch::Tensor& q, const torch::Tensor& k,
                                                    const torch::Tensor& v, int64_t window) {
  at::ScalarType dtype = q.scalar_type();
  if (at::autocast::is_autocast_enabled(at::kCUDA)) {
    dtype = at::autocast::get_autocast_dtype(at::kCUDA);
  }
  if (dtype != torch::kBFloat16 && dtype != torch::kHalf) return std::nullopt;
  if (!FlashWindowedAttentionWorks(q.device(), q.size(-1))) return std::nullopt;
  return Flash(q.to(dtype), k.to(dtype), v.to(dtype), window);
}

bool FlashWindowedAttentionWorks(const torch::Device& device, int64_t head_width) {
  // FlashAttention takes head widths that are multiples of 8, up to 256.
  return device.is_cuda() && head_width % 8 == 0 && head_width <= 256 &&
         !SwitchedOff("SPACEBYTE_FLASH_WINDOW") && CheckedOk(device, head_width);
}
#else
std::string FlashWindowMismatch(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&,
                                const torch::Tensor&, int64_t) {
  return "FlashAttention's sliding window is not in this build";
}

std::optional<torch::Tensor> FlashWindowedAttention(const torch::Tensor&, const torch::Tensor&,
                                                    const torch::Tensor&, int64_t) {
  return std::nullopt;
}

bool FlashWindowedAttentionWorks(const torch::Device&, int64_t) { return false; }
#endif

}  // namespace spacebyte::trainer
