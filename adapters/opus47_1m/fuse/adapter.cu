// opus47_1m's fused softmax + top-k (fused_softmax_topk.cu) behind the challenge's host ABI.
//
// Its launcher is a template on K and takes the logits as [B, T, V]; here B = 1, T = rows and
// K is the requested k (the suite's values and the model's own instantiations).
#include <cuda_runtime.h>

#include "fused_softmax_topk.cu"

template <int K>
static int run(const float* logits, int rows, int vocab, int* top_idx, float* top_prob) {
    launch_fused_softmax_topk<K>(logits, top_idx, top_prob, 1, rows, vocab);
    return static_cast<int>(cudaGetLastError());
}

extern "C" int fused_softmax_topk(const float* logits, int rows, int vocab, int k, int* top_idx,
                                  float* top_prob) {
    switch (k) {  // K is a compile-time parameter
        case 1: return run<1>(logits, rows, vocab, top_idx, top_prob);
        case 3: return run<3>(logits, rows, vocab, top_idx, top_prob);
        case 8: return run<8>(logits, rows, vocab, top_idx, top_prob);
        case 10: return run<10>(logits, rows, vocab, top_idx, top_prob);
        case 16: return run<16>(logits, rows, vocab, top_idx, top_prob);
        case 32: return run<32>(logits, rows, vocab, top_idx, top_prob);
        case 50: return run<50>(logits, rows, vocab, top_idx, top_prob);
        default: return static_cast<int>(cudaErrorInvalidValue);
    }
}
