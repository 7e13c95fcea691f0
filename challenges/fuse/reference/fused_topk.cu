// llmbench reference for the `fuse` challenge: fused softmax + top-k over the last axis.
//
// Host ABI (device pointers, row-major, returns 0 on success):
//   extern "C" int fused_softmax_topk(const float* logits, int rows, int vocab, int k,
//                                     int* top_idx, float* top_prob);
// top_idx/top_prob are (rows, k): the k largest logits of each row, best first (equal logits:
// lower index first), with their softmax probabilities over the full row.
//
// One pass over the logits; nothing of size rows x vocab is written.
//  * A row is shared by W warps (1..16, power of two) of a 512-thread block; a block holds
//    16 / W rows. Each warp streams its part of the row with 16-byte loads.
//  * Softmax: every lane keeps an online (max, sum); partials are combined with rescaling,
//    first across the lanes of a warp, then across the warps of a row.
//  * Top-k: each warp keeps its best k in shared memory plus an append buffer. Elements are
//    offered only when they beat the warp's current k-th best (a warp-uniform test, so most
//    tiles cost one compare); a full buffer is sorted (bitonic) and cut back to k. At the end
//    the W sorted lists of a row are merged pairwise (rank by binary search) into one.
//  * Candidates are 64-bit keys: order-preserving logit bits above the inverted column, so
//    one integer compare gives a strict total order (ties broken by the lower index).
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

namespace {

constexpr int kWarpSize = 32;
constexpr int kWarpsPerBlock = 16;
constexpr int kThreads = kWarpsPerBlock * kWarpSize;
constexpr int kUnroll = 4;  // 16-byte loads in flight per lane per step
constexpr int kMaxK = 256;
constexpr unsigned kFullMask = 0xffffffffu;
constexpr float kLog2e = 1.4426950408889634f;

typedef unsigned long long Key;  // 0 is the sentinel: below every real element

__device__ __forceinline__ float fast_exp2(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

__device__ __forceinline__ Key make_key(float v, int col) {
    if (v == 0.0f) v = 0.0f;  // -0 and +0 are equal logits: same bits, so the index decides
    unsigned u = __float_as_uint(v);
    unsigned ordered = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
    return (static_cast<Key>(ordered) << 32) | static_cast<unsigned>(~static_cast<unsigned>(col));
}

__device__ __forceinline__ float key_value(Key key) {
    unsigned ordered = static_cast<unsigned>(key >> 32);
    unsigned u = (ordered & 0x80000000u) ? (ordered & 0x7fffffffu) : ~ordered;
    return __uint_as_float(u);
}

__device__ __forceinline__ int key_column(Key key) {
    return static_cast<int>(~static_cast<unsigned>(key));
}

// The one comparison used everywhere: larger logit first, then lower column.
__device__ __forceinline__ bool ranks_above(Key a, Key b) { return a > b; }

// Merge two softmax partials (running max m, sum of exp(x - m)) into (m, s).
__device__ __forceinline__ void combine_partials(float& m, float& s, float mo, float so) {
    const float mn = fmaxf(m, mo);
    if (mn == -INFINITY) return;  // both empty
    s = s * fast_exp2((m - mn) * kLog2e) + so * fast_exp2((mo - mn) * kLog2e);
    m = mn;
}

// Per-warp state; every field is warp-uniform except m and s (per lane).
struct WarpState {
    Key* buf;     // n keys: [0, count) candidates, best k first after a flush
    int n;        // buffer size, power of two, >= max(2k, k + 64)
    int k;
    int count;
    Key thresh;   // k-th best key after the last flush (0 until k keys were seen)
    float tval;   // its logit; -inf while thresh == 0
    float m;      // this lane's running max
    float s;      // this lane's sum of exp(x - m)
};

// Bitonic sort of n keys (power of two) in shared memory, best first; one warp.
__device__ __forceinline__ void warp_sort_desc(Key* buf, int n, int lane) {
    for (int size = 2; size <= n; size <<= 1) {
        for (int j = size >> 1; j > 0; j >>= 1) {
            for (int t = lane; t < (n >> 1); t += kWarpSize) {
                const int i = 2 * t - (t & (j - 1));  // t with a zero bit inserted at log2(j)
                const int l = i + j;
                const Key a = buf[i];
                const Key b = buf[l];
                const bool best_first = (i & size) == 0;
                if (best_first ? ranks_above(b, a) : ranks_above(a, b)) {
                    buf[i] = b;
                    buf[l] = a;
                }
            }
            __syncwarp();
        }
    }
}

// Sort the buffer and keep the best k; the k-th becomes the admission threshold.
__device__ __forceinline__ void flush(WarpState& st, int lane) {
    __syncwarp();
    for (int i = st.count + lane; i < st.n; i += kWarpSize) st.buf[i] = 0;
    __syncwarp();
    warp_sort_desc(st.buf, st.n, lane);
    if (st.count >= st.k) {
        st.count = st.k;
        st.thresh = st.buf[st.k - 1];
        st.tval = key_value(st.thresh);
    }
}

// Offer one element per lane (warp-uniform call); invalid lanes offer nothing.
__device__ __forceinline__ void offer(WarpState& st, float v, int col, bool valid, int lane) {
    const Key key = make_key(v, col);
    const bool take = valid && ranks_above(key, st.thresh);
    const unsigned mask = __ballot_sync(kFullMask, take);
    if (mask == 0) return;
    if (take) st.buf[st.count + __popc(mask & ((1u << lane) - 1u))] = key;
    st.count += __popc(mask);
    if (st.count > st.n - kWarpSize) flush(st, lane);
}

__device__ __forceinline__ void absorb1(WarpState& st, float x) {
    if (x > st.m) {
        st.s *= fast_exp2((st.m - x) * kLog2e);
        st.m = x;
    }
    const float base = st.m == -INFINITY ? 0.0f : st.m;
    st.s += fast_exp2((x - base) * kLog2e);
}

// Online softmax update with four values; returns their max.
__device__ __forceinline__ float absorb4(WarpState& st, float4 x) {
    const float mx = fmaxf(fmaxf(x.x, x.y), fmaxf(x.z, x.w));
    if (mx > st.m) {
        st.s *= fast_exp2((st.m - mx) * kLog2e);
        st.m = mx;
    }
    const float base = st.m == -INFINITY ? 0.0f : st.m;
    st.s += (fast_exp2((x.x - base) * kLog2e) + fast_exp2((x.y - base) * kLog2e)) +
            (fast_exp2((x.z - base) * kLog2e) + fast_exp2((x.w - base) * kLog2e));
    return mx;
}

__device__ __forceinline__ float component(float4 v, int c) {
    return c == 0 ? v.x : (c == 1 ? v.y : (c == 2 ? v.z : v.w));
}

// One step of a warp: kUnroll float4 per lane at vector indices q0 + u * stride.
template <bool kChecked>
__device__ __forceinline__ void consume(WarpState& st, const float4* __restrict__ body, int q0,
                                        int stride, int nvec, int head, int lane) {
    float4 v[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
        const int q = q0 + u * stride;
        if (!kChecked || q < nvec) {
            v[u] = __ldcs(body + q);  // read once: stream past the caches
        } else {
            v[u] = make_float4(-INFINITY, -INFINITY, -INFINITY, -INFINITY);
        }
    }
    float lane_max = -INFINITY;
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) lane_max = fmaxf(lane_max, absorb4(st, v[u]));
    // Most steps end here: no lane holds anything that can enter the warp's top k.
    if (!__any_sync(kFullMask, lane_max >= st.tval)) return;
    // Rare path: mark each lane's candidates, then offer one per lane per round (lowest
    // first). A stale threshold only lets more through; offer() compares exactly.
    unsigned cand = 0;
#pragma unroll
    for (int c = 0; c < 4 * kUnroll; ++c) {
        const bool ok = !kChecked || q0 + (c >> 2) * stride < nvec;
        if (ok && component(v[c >> 2], c & 3) >= st.tval) cand |= 1u << c;
    }
    while (__any_sync(kFullMask, cand != 0)) {
        const int c = cand != 0 ? __ffs(cand) - 1 : 0;
        float val = v[0].x;
#pragma unroll
        for (int cc = 1; cc < 4 * kUnroll; ++cc) {
            if (cc == c) val = component(v[cc >> 2], cc & 3);
        }
        const int q = q0 + (c >> 2) * stride;
        offer(st, val, head + 4 * q + (c & 3), cand != 0, lane);
        cand &= cand - 1u;
    }
}

// Merge the sorted best-k lists a and b into a (scratch: a[k .. 2k)); one warp.
__device__ __forceinline__ void merge_lists(Key* a, const Key* b, int k, int lane) {
    Key* out = a + k;
    for (int t = lane; t < 2 * k; t += kWarpSize) {
        const bool from_a = t < k;
        const int i = from_a ? t : t - k;
        const Key key = from_a ? a[i] : b[i];
        const Key* other = from_a ? b : a;
        int lo = 0;  // entries of `other` ranking above key (a prefix: lists are sorted)
        int hi = k;
        while (lo < hi) {
            const int mid = (lo + hi) >> 1;
            if (ranks_above(other[mid], key)) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        const int rank = i + lo;  // distinct for distinct keys; equal sentinels write equal data
        if (rank < k) out[rank] = key;
    }
    __syncwarp();
    for (int t = lane; t < k; t += kWarpSize) a[t] = out[t];
    __syncwarp();
}

__global__ void __launch_bounds__(kThreads, 2)
fused_softmax_topk_kernel(const float* __restrict__ logits, int rows, int vocab, int k,
                          int warps_per_row, int n_buf, int* __restrict__ top_idx,
                          float* __restrict__ top_prob) {
    extern __shared__ Key smem_keys[];
    __shared__ float part_m[kWarpsPerBlock];
    __shared__ float part_s[kWarpsPerBlock];

    const int lane = threadIdx.x & (kWarpSize - 1);
    const int warp = threadIdx.x / kWarpSize;
    const int wr = warp % warps_per_row;  // rank of this warp within its row
    const int rows_per_block = kWarpsPerBlock / warps_per_row;
    const long long row = static_cast<long long>(blockIdx.x) * rows_per_block + warp / warps_per_row;
    const bool active = row < rows;

    WarpState st;
    st.buf = smem_keys + static_cast<size_t>(warp) * n_buf;
    st.n = n_buf;
    st.k = k;
    st.count = 0;
    st.thresh = 0;
    st.tval = -INFINITY;
    st.m = -INFINITY;
    st.s = 0.0f;

    if (active) {  // warp-uniform; inactive warps still reach every __syncthreads below
        const float* x = logits + row * static_cast<long long>(vocab);
        // Scalar head up to 16-byte alignment, float4 body, scalar tail (< 4 each).
        int head = static_cast<int>(((16u - (static_cast<unsigned>(reinterpret_cast<uintptr_t>(x)) & 15u)) & 15u) >> 2);
        head = min(head, vocab);
        const int nvec = (vocab - head) >> 2;
        const int body_end = head + 4 * nvec;
        const int tail = vocab - body_end;
        const float4* body = reinterpret_cast<const float4*>(x + head);

        if (wr == 0) {
            const bool valid = lane < head + tail;
            const int col = lane < head ? lane : body_end + (lane - head);
            const float v = valid ? x[col] : -INFINITY;
            absorb1(st, v);
            offer(st, v, col, valid, lane);
        }

        const int stride = warps_per_row * kWarpSize;  // vectors between a warp's loads
        int wbase = wr * kWarpSize;
        for (; wbase + (kUnroll - 1) * stride + kWarpSize <= nvec; wbase += kUnroll * stride) {
            consume<false>(st, body, wbase + lane, stride, nvec, head, lane);
        }
        // The rest of the row: vocab is rarely a multiple of the block's step.
        for (; wbase < nvec; wbase += kUnroll * stride) {
            consume<true>(st, body, wbase + lane, stride, nvec, head, lane);
        }
    }
    flush(st, lane);  // sorted best k (sentinels where the warp saw fewer than k)

    float m = st.m;
    float s = st.s;
#pragma unroll
    for (int off = kWarpSize / 2; off > 0; off >>= 1) {
        const float mo = __shfl_xor_sync(kFullMask, m, off);
        const float so = __shfl_xor_sync(kFullMask, s, off);
        combine_partials(m, s, mo, so);
    }
    if (lane == 0) {
        part_m[warp] = m;
        part_s[warp] = s;
    }

    // Pairwise merge of the row's warp lists; the row's first warp ends with the result.
    for (int step = 1; step < warps_per_row; step <<= 1) {
        __syncthreads();
        if ((wr & (2 * step - 1)) == 0) merge_lists(st.buf, st.buf + step * n_buf, k, lane);
    }
    __syncthreads();

    if (active && wr == 0) {
        float row_m = -INFINITY;
        float row_s = 0.0f;
        if (lane < warps_per_row) {
            row_m = part_m[warp + lane];
            row_s = part_s[warp + lane];
        }
#pragma unroll
        for (int off = kWarpSize / 2; off > 0; off >>= 1) {
            const float mo = __shfl_xor_sync(kFullMask, row_m, off);
            const float so = __shfl_xor_sync(kFullMask, row_s, off);
            combine_partials(row_m, row_s, mo, so);
        }
        const float inv_s = 1.0f / row_s;
        for (int t = lane; t < k; t += kWarpSize) {
            const Key key = st.buf[t];
            const long long o = row * k + t;
            top_idx[o] = key_column(key);
            top_prob[o] = expf(key_value(key) - row_m) * inv_s;
        }
    }
}

int next_pow2(int v) {
    int p = 1;
    while (p < v) p <<= 1;
    return p;
}

// Warps per row: enough warps in flight to keep every SM streaming, but each warp's slice
// long enough (>= 2048 logits) that its top-k bookkeeping stays cheap.
int warps_per_row_for(int rows, int vocab) {
    int by_vocab = 1;
    while (by_vocab < kWarpsPerBlock && by_vocab * 2 * 2048 <= vocab) by_vocab *= 2;
    int dev = 0;
    int sms = 132;
    if (cudaGetDevice(&dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess) {
        sms = 132;
    }
    const long long target = static_cast<long long>(sms) * kWarpsPerBlock;
    int w = 1;
    while (w < by_vocab && static_cast<long long>(rows) * w < target) w *= 2;
    return w;
}

}  // namespace

extern "C" int fused_softmax_topk(const float* logits, int rows, int vocab, int k, int* top_idx,
                                  float* top_prob) {
    if (rows < 0 || vocab < 1 || k < 1 || k > vocab || k > kMaxK) return static_cast<int>(cudaErrorInvalidValue);
    if (rows == 0) return 0;
    if (logits == nullptr || top_idx == nullptr || top_prob == nullptr) {
        return static_cast<int>(cudaErrorInvalidValue);
    }
    cudaGetLastError();  // a stale error from the caller must not be reported as ours
    int n_buf = next_pow2(2 * k);
    if (n_buf < k + 64) n_buf = next_pow2(k + 64);
    if (n_buf < 128) n_buf = 128;
    const size_t smem = static_cast<size_t>(kWarpsPerBlock) * n_buf * sizeof(Key);
    if (smem > 48 * 1024) {
        const cudaError_t err = cudaFuncSetAttribute(
            fused_softmax_topk_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem));
        if (err != cudaSuccess) return static_cast<int>(err);
    }
    const int warps_per_row = warps_per_row_for(rows, vocab);
    const int rows_per_block = kWarpsPerBlock / warps_per_row;
    const int blocks = (rows + rows_per_block - 1) / rows_per_block;
    fused_softmax_topk_kernel<<<blocks, kThreads, smem>>>(logits, rows, vocab, k, warps_per_row, n_buf,
                                                          top_idx, top_prob);
    return static_cast<int>(cudaGetLastError());
}
