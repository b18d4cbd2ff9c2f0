#include "io/gif.h"

#include <cgif.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <numeric>
#include <unordered_map>

#include "io/atomic_file.h"
#include "tensor/error.h"

namespace mg::io {

namespace {

// One global palette for all frames and every pixel's index into it.
struct Indexed {
  std::vector<uint8_t> palette;                // 3 bytes per entry, padded to a power of two
  std::vector<std::vector<uint8_t>> indices;   // per frame, width*height
};

uint32_t rgb_key(const uint8_t* p) { return uint32_t(p[0]) << 16 | uint32_t(p[1]) << 8 | p[2]; }
uint32_t bin_key(const uint8_t* p) { return uint32_t(p[0] >> 3) << 10 | uint32_t(p[1] >> 3) << 5 | (p[2] >> 3); }

// Exact palette when the frames have at most 256 distinct colours.
bool exact_palette(const std::vector<Image>& frames, Indexed& out) {
  std::unordered_map<uint32_t, uint8_t> index;
  for (const Image& f : frames) {
    const std::vector<uint8_t>& px = f.pixels();
    for (size_t i = 0; i < px.size(); i += 3) {
      uint32_t k = rgb_key(&px[i]);
      if (index.count(k)) continue;
      if (index.size() == 256) return false;
      index.emplace(k, static_cast<uint8_t>(index.size()));
      out.palette.insert(out.palette.end(), {px[i], px[i + 1], px[i + 2]});
    }
  }
  for (const Image& f : frames) {
    const std::vector<uint8_t>& px = f.pixels();
    std::vector<uint8_t> idx(px.size() / 3);
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = index.at(rgb_key(&px[3 * i]));
    out.indices.push_back(std::move(idx));
  }
  return true;
}

// Popularity palette: the 256 most-used 5-5-5-bit bins, each represented by the
// mean of its pixels; every bin then maps to the nearest palette colour.
void popularity_palette(const std::vector<Image>& frames, Indexed& out) {
  constexpr size_t bins = 1 << 15;
  std::vector<uint64_t> count(bins, 0);
  std::vector<std::array<uint64_t, 3>> sum(bins, {0, 0, 0});
  for (const Image& f : frames) {
    const std::vector<uint8_t>& px = f.pixels();
    for (size_t i = 0; i < px.size(); i += 3) {
      uint32_t b = bin_key(&px[i]);
      ++count[b];
      for (int c = 0; c < 3; ++c) sum[b][c] += px[i + c];
    }
  }
  auto mean = [&](size_t b) {
    std::array<int, 3> m;
    for (int c = 0; c < 3; ++c) m[c] = static_cast<int>((sum[b][c] + count[b] / 2) / count[b]);
    return m;
  };
  std::vector<uint32_t> order(bins);
  std::iota(order.begin(), order.end(), 0u);
  std::partial_sort(order.begin(), order.begin() + 256, order.end(),
                    [&](uint32_t a, uint32_t b) { return count[a] != count[b] ? count[a] > count[b] : a < b; });
  std::vector<std::array<int, 3>> colors;
  for (size_t i = 0; i < 256 && count[order[i]] > 0; ++i) colors.push_back(mean(order[i]));
  for (const auto& c : colors) out.palette.insert(out.palette.end(), {uint8_t(c[0]), uint8_t(c[1]), uint8_t(c[2])});

  std::vector<uint8_t> lut(bins, 0);
  for (size_t b = 0; b < bins; ++b) {
    if (count[b] == 0) continue;
    std::array<int, 3> m = mean(b);
    int best = 0, best_d = INT32_MAX;
    for (size_t k = 0; k < colors.size(); ++k) {
      int dr = m[0] - colors[k][0], dg = m[1] - colors[k][1], db = m[2] - colors[k][2];
      int d = 2 * dr * dr + 4 * dg * dg + 3 * db * db;  // rough perceptual weights
      if (d < best_d) best_d = d, best = static_cast<int>(k);
    }
    lut[b] = static_cast<uint8_t>(best);
  }
  for (const Image& f : frames) {
    const std::vector<uint8_t>& px = f.pixels();
    std::vector<uint8_t> idx(px.size() / 3);
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = lut[bin_key(&px[3 * i])];
    out.indices.push_back(std::move(idx));
  }
}

int append_bytes(void* ctx, const uint8_t* data, const size_t n) {
  static_cast<std::string*>(ctx)->append(reinterpret_cast<const char*>(data), n);
  return 0;
}

}  // namespace

void write_gif(const std::string& path, const std::vector<Image>& frames, int delay_centiseconds, int loops,
               int last_frame_hold) {
  if (frames.empty()) fail("{}: no frames to write", path);
  const int w = frames[0].width(), h = frames[0].height();
  if (w < 1 || h < 1 || w > 65535 || h > 65535) fail("{}: frame size {}x{} is not possible in a GIF", path, w, h);
  for (size_t i = 1; i < frames.size(); ++i)
    if (frames[i].width() != w || frames[i].height() != h)
      fail("{}: frame {} is {}x{} but frame 0 is {}x{}", path, i, frames[i].width(), frames[i].height(), w, h);
  if (delay_centiseconds < 1 || delay_centiseconds > 65535) fail("{}: frame delay {} cs is outside 1..65535", path, delay_centiseconds);
  if (loops < 0 || loops > 65536) fail("{}: loop count {} is outside 0..65536", path, loops);
  if (last_frame_hold < 0) fail("{}: last frame hold {} is negative", path, last_frame_hold);
  const long last_delay = static_cast<long>(delay_centiseconds) * (1 + static_cast<long>(last_frame_hold));
  if (last_delay > 65535) fail("{}: last frame delay {} cs exceeds the GIF limit of 65535", path, last_delay);

  Indexed q;
  if (!exact_palette(frames, q)) {
    q = {};
    popularity_palette(frames, q);
  }
  size_t entries = 2;
  while (entries < q.palette.size() / 3) entries *= 2;
  q.palette.resize(entries * 3, 0);

  std::string bytes;
  CGIF_Config cfg{};
  cfg.pGlobalPalette = q.palette.data();
  cfg.attrFlags = CGIF_ATTR_IS_ANIMATED | (loops == 1 ? CGIF_ATTR_NO_LOOP : 0);
  cfg.width = static_cast<uint16_t>(w);
  cfg.height = static_cast<uint16_t>(h);
  cfg.numGlobalPaletteEntries = static_cast<uint16_t>(entries);
  // The NETSCAPE2.0 count is the number of repeats after the first play.
  cfg.numLoops = static_cast<uint16_t>(loops == 0 ? CGIF_INFINITE_LOOP : loops - 1);
  cfg.pWriteFn = append_bytes;
  cfg.pContext = &bytes;
  CGIF* gif = cgif_newgif(&cfg);
  if (!gif) fail("{}: cannot start GIF encoder", path);
  int rc = CGIF_OK;
  for (size_t i = 0; i < frames.size() && rc == CGIF_OK; ++i) {
    CGIF_FrameConfig fc{};
    fc.pImageData = q.indices[i].data();
    fc.delay = static_cast<uint16_t>(i + 1 == frames.size() ? last_delay : delay_centiseconds);
    rc = cgif_addframe(gif, &fc);
  }
  int close_rc = cgif_close(gif);
  if (rc != CGIF_OK || close_rc != CGIF_OK) fail("{}: GIF encoding failed (cgif error {})", path, rc != CGIF_OK ? rc : close_rc);
  write_file_atomic(path, bytes);
}

}  // namespace mg::io
