#pragma once
// The size limits of chopin-lstm. Every size a user controls, on the command
// line or inside a checkpoint, is checked against these before anything is
// allocated; --help shows them, README.md lists them. What a network of a
// given size costs, the model says itself (mg::nn::ChopinConfig).
#include <cstddef>
#include <cstdint>

namespace chopin {

inline constexpr int kMaxBatch = 65536;
inline constexpr int64_t kMaxSeqLen = 1000;
inline constexpr int64_t kMaxLayer = 4096;        // --hidden1, --hidden2, --dense, --embed-dim
inline constexpr int64_t kMaxVocab = 100'000;     // distinct tokens a checkpoint may hold
inline constexpr double kMaxLearningRate = 10;
inline constexpr double kMaxDropout = 0.95;
inline constexpr int64_t kMaxNotes = 1'000'000;   // generate --notes
inline constexpr int64_t kMaxEvalNotes = 100'000; // eval --notes
inline constexpr int64_t kMaxPieces = 1000;       // eval --pieces, generate --count
inline constexpr double kMaxTemperature = 100;
inline constexpr double kMinStep = 1.0 / 64, kMaxStep = 64;  // beats per token
inline constexpr double kMinTempo = 4, kMaxTempo = 1000;     // beats per minute
inline constexpr double kMaxWavSeconds = 3600;    // --wav renders pieces up to an hour
inline constexpr int64_t kMaxRollTokens = 2000;   // the piano roll shows at most this many generated tokens
inline constexpr size_t kMaxPrimers = 1000;       // primer windows a checkpoint may hold
inline constexpr int64_t kMaxCacheTokens = 1'000'000'000;  // tokens train reads from a token cache
inline constexpr int64_t kMaxShardTokens = int64_t(1) << 28;  // prepare --shard-tokens (1 GiB shards)
inline constexpr int64_t kMaxSynthesize = 1'000'000;        // prepare --synthesize files
inline constexpr int kMaxSynthesizeBars = 10'000;           // prepare --bars

}  // namespace chopin
