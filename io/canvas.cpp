#include "io/canvas.h"

#include <algorithm>
#include <array>
#include <cmath>

// Third-party single-header libraries: their own warnings are not ours to fix.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wunused-function"
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>
#include <stb_easy_font.h>
#pragma GCC diagnostic pop

#include "io/atomic_file.h"
#include "tensor/error.h"

namespace mg::io {

// ---- colours ----------------------------------------------------------------

Rgb series_color(int i) {
  static constexpr std::array<Rgb, 10> palette = {{{31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40},
                                                   {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {127, 127, 127},
                                                   {188, 189, 34}, {23, 190, 207}}};
  return palette[static_cast<size_t>(((i % 10) + 10) % 10)];
}

Rgb viridis(double t) {
  // Nine samples of viridis; linear interpolation between them is close enough
  // for plots and keeps the map perceptually ordered.
  static constexpr std::array<std::array<double, 3>, 9> stops = {{{68, 1, 84}, {71, 44, 122}, {59, 81, 139},
                                                                  {44, 113, 142}, {33, 144, 141}, {39, 173, 129},
                                                                  {92, 200, 99}, {170, 220, 50}, {253, 231, 37}}};
  if (!(t >= 0)) t = 0;  // also catches NaN
  t = std::min(t, 1.0) * (stops.size() - 1);
  size_t i = std::min(static_cast<size_t>(t), stops.size() - 2);
  double f = t - static_cast<double>(i);
  auto mix = [&](int k) { return static_cast<uint8_t>(std::lround(stops[i][k] * (1 - f) + stops[i + 1][k] * f)); };
  return {mix(0), mix(1), mix(2)};
}

// ---- Image ------------------------------------------------------------------

Image::Image(int width, int height, Rgb background) : width_(width), height_(height) {
  if (width < 1 || height < 1 || width > 16384 || height > 16384)
    fail("image size {}x{} is out of range (1..16384 per side)", width, height);
  pixels_.resize(static_cast<size_t>(width) * height * 3);
  fill(background);
}

Rgb Image::at(int x, int y) const {
  MG_CHECK(x >= 0 && y >= 0 && x < width_ && y < height_, "pixel ({}, {}) outside {}x{}", x, y, width_, height_);
  const uint8_t* p = &pixels_[(static_cast<size_t>(y) * width_ + x) * 3];
  return {p[0], p[1], p[2]};
}

void Image::fill(Rgb c) {
  for (size_t i = 0; i < pixels_.size(); i += 3) {
    pixels_[i] = c.r;
    pixels_[i + 1] = c.g;
    pixels_[i + 2] = c.b;
  }
}

void Image::blend(int x, int y, Rgb c, double alpha) {
  if (x < 0 || y < 0 || x >= width_ || y >= height_ || !(alpha > 0)) return;
  if (clip_ && (x < clip_->x0 || x > clip_->x1 || y < clip_->y0 || y > clip_->y1)) return;
  alpha = std::min(alpha, 1.0);
  uint8_t* p = &pixels_[(static_cast<size_t>(y) * width_ + x) * 3];
  auto mix = [&](uint8_t old, uint8_t now) { return static_cast<uint8_t>(std::lround(old + (now - old) * alpha)); };
  p[0] = mix(p[0], c.r);
  p[1] = mix(p[1], c.g);
  p[2] = mix(p[2], c.b);
}

void Image::set(int x, int y, Rgb c) { blend(x, y, c, 1.0); }

void Image::line(double x0, double y0, double x1, double y1, Rgb c, double width, bool antialias) {
  // Coverage from the distance of each pixel centre to the segment: round caps
  // and joints come for free, and any width works the same way.
  double r = std::max(width, 0.5) / 2;
  int bx0 = static_cast<int>(std::floor(std::min(x0, x1) - r - 1)), bx1 = static_cast<int>(std::ceil(std::max(x0, x1) + r + 1));
  int by0 = static_cast<int>(std::floor(std::min(y0, y1) - r - 1)), by1 = static_cast<int>(std::ceil(std::max(y0, y1) + r + 1));
  bx0 = std::max(bx0, 0), by0 = std::max(by0, 0), bx1 = std::min(bx1, width_ - 1), by1 = std::min(by1, height_ - 1);
  double dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy;
  for (int y = by0; y <= by1; ++y) {
    for (int x = bx0; x <= bx1; ++x) {
      double t = len2 > 0 ? std::clamp(((x - x0) * dx + (y - y0) * dy) / len2, 0.0, 1.0) : 0.0;
      double d = std::hypot(x - (x0 + t * dx), y - (y0 + t * dy));
      double cover = antialias ? std::clamp(r + 0.5 - d, 0.0, 1.0) : (d <= r ? 1.0 : 0.0);
      blend(x, y, c, cover);
    }
  }
}

void Image::dashed_line(double x0, double y0, double x1, double y1, Rgb c, double width, double dash) {
  double len = std::hypot(x1 - x0, y1 - y0);
  if (len == 0 || dash <= 0) return line(x0, y0, x1, y1, c, width);
  double ux = (x1 - x0) / len, uy = (y1 - y0) / len;
  for (double s = 0; s < len; s += 2 * dash) {
    double e = std::min(s + dash, len);
    line(x0 + ux * s, y0 + uy * s, x0 + ux * e, y0 + uy * e, c, width);
  }
}

void Image::rect(int x0, int y0, int x1, int y1, Rgb c) {
  fill_rect(x0, y0, x1, y0, c);
  fill_rect(x0, y1, x1, y1, c);
  fill_rect(x0, y0, x0, y1, c);
  fill_rect(x1, y0, x1, y1, c);
}

void Image::fill_rect(int x0, int y0, int x1, int y1, Rgb c) {
  if (x0 > x1) std::swap(x0, x1);
  if (y0 > y1) std::swap(y0, y1);
  for (int y = std::max(y0, 0); y <= std::min(y1, height_ - 1); ++y)
    for (int x = std::max(x0, 0); x <= std::min(x1, width_ - 1); ++x) set(x, y, c);
}

void Image::circle(double cx, double cy, double radius, Rgb c, bool filled) {
  int x0 = static_cast<int>(std::floor(cx - radius - 2)), x1 = static_cast<int>(std::ceil(cx + radius + 2));
  int y0 = static_cast<int>(std::floor(cy - radius - 2)), y1 = static_cast<int>(std::ceil(cy + radius + 2));
  for (int y = std::max(y0, 0); y <= std::min(y1, height_ - 1); ++y) {
    for (int x = std::max(x0, 0); x <= std::min(x1, width_ - 1); ++x) {
      double d = std::hypot(x - cx, y - cy);
      double cover = filled ? radius + 0.5 - d : 0.75 + 0.5 - std::abs(d - radius);
      blend(x, y, c, std::clamp(cover, 0.0, 1.0));
    }
  }
}

void Image::blit(const Image& src, int x, int y) {
  for (int sy = 0; sy < src.height(); ++sy)
    for (int sx = 0; sx < src.width(); ++sx) set(x + sx, y + sy, src.at(sx, sy));
}

// stb_easy_font indexes its glyph table by (char - 32) without checking.
static std::string printable(std::string_view s) {
  std::string out(s);
  for (char& ch : out)
    if (ch < 32 || ch > 126) ch = '?';
  return out;
}

int Image::text_width(std::string_view s, int scale) {
  if (s.empty()) return 0;
  std::string t = printable(s);
  // The reported width includes one unit of spacing after the last glyph.
  return std::max(stb_easy_font_width(t.data()) - 1, 0) * scale;
}

int Image::text_height(std::string_view s, int scale) { return s.empty() ? 0 : 9 * scale; }

void Image::text(int x, int y, std::string_view s, const TextStyle& style) {
  if (s.empty()) return;
  std::string t = printable(s);
  const int k = std::max(style.scale, 1);
  const int w = text_width(t, k), h = text_height(t, k);
  const int bw = style.vertical ? h : w, bh = style.vertical ? w : h;
  int ox = x - (style.halign == HAlign::center ? bw / 2 : style.halign == HAlign::right ? bw - 1 : 0);
  int oy = y - (style.valign == VAlign::middle ? bh / 2 : style.valign == VAlign::bottom ? bh - 1 : 0);
  // No printable glyph takes more than 11 quads of 64 bytes; a short buffer
  // would silently drop the last glyphs' strokes.
  std::vector<char> buf(t.size() * 12 * 64 + 64);
  int quads = stb_easy_font_print(0, 0, t.data(), nullptr, buf.data(), static_cast<int>(buf.size()));
  for (int q = 0; q < quads; ++q) {
    float qx0 = 1e9f, qy0 = 1e9f, qx1 = -1e9f, qy1 = -1e9f;
    for (int v = 0; v < 4; ++v) {
      const float* p = reinterpret_cast<const float*>(buf.data() + (q * 4 + v) * 16);
      qx0 = std::min(qx0, p[0]), qx1 = std::max(qx1, p[0]);
      qy0 = std::min(qy0, p[1]), qy1 = std::max(qy1, p[1]);
    }
    int ax0 = static_cast<int>(std::lround(qx0 * k)), ax1 = static_cast<int>(std::lround(qx1 * k)) - 1;
    int ay0 = static_cast<int>(std::lround(qy0 * k)), ay1 = static_cast<int>(std::lround(qy1 * k)) - 1;
    if (style.vertical)  // (u, v) -> (v, w - u): a quarter turn counter-clockwise
      fill_rect(ox + ay0, oy + w - 1 - ax1, ox + ay1, oy + w - 1 - ax0, style.color);
    else
      fill_rect(ox + ax0, oy + ay0, ox + ax1, oy + ay1, style.color);
  }
}

std::string Image::encode_png() const {
  std::string bytes;
  auto append = [](void* ctx, void* data, int size) {
    static_cast<std::string*>(ctx)->append(static_cast<const char*>(data), static_cast<size_t>(size));
  };
  if (width_ == 0 || !stbi_write_png_to_func(append, &bytes, width_, height_, 3, pixels_.data(), width_ * 3))
    return {};
  return bytes;
}

void Image::write_png(const std::string& path) const {
  std::string bytes = encode_png();
  if (bytes.empty()) fail("{}: cannot encode an empty image as PNG", path);
  write_file_atomic(path, bytes);
}

}  // namespace mg::io
