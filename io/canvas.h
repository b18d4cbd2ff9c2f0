#pragma once
// A raster canvas: an RGB8 Image with the drawing primitives the charts are
// made of (antialiased lines, rectangles, disks, text), colours and a
// perceptual colormap, and its PNG encoding. io/plot.h draws charts on it.
//
// Text uses stb_easy_font scaled up by an integer factor; it is ASCII only
// (other bytes are drawn as '?'). write_png writes atomically
// (io/atomic_file.h); errors are mg::Error naming the file.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>


namespace mg::io {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
  friend bool operator==(const Rgb&, const Rgb&) = default;
};

namespace colors {
inline constexpr Rgb white{255, 255, 255};
inline constexpr Rgb black{0, 0, 0};
inline constexpr Rgb text{30, 30, 30};
inline constexpr Rgb grid{225, 225, 225};
inline constexpr Rgb minor_grid{242, 242, 242};
inline constexpr Rgb axis{90, 90, 90};
inline constexpr Rgb threshold{214, 39, 40};
}  // namespace colors

// The i-th colour of a 10-colour qualitative palette (blue, orange, green, red,
// purple, ...): series and groups that are not given a colour use it.
Rgb series_color(int i);

// Viridis-like perceptual colormap: t in [0, 1] (clamped) from dark purple to yellow.
Rgb viridis(double t);

enum class HAlign { left, center, right };
enum class VAlign { top, middle, bottom };

struct TextStyle {
  Rgb color = colors::text;
  int scale = 2;  // font units to pixels: 2 gives glyphs about 14 px tall
  HAlign halign = HAlign::left;
  VAlign valign = VAlign::top;
  bool vertical = false;  // rotated 90 degrees counter-clockwise (reads bottom to top)
};

struct Rect {
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // corners inclusive
  int width() const { return x1 - x0 + 1; }
  int height() const { return y1 - y0 + 1; }
};

// An RGB8 picture, row-major, origin at the top left. Coordinates of the
// drawing calls are pixel centres; anything outside the image is clipped.
class Image {
 public:
  Image() = default;
  Image(int width, int height, Rgb background = colors::white);  // 1..16384 per side

  int width() const { return width_; }
  int height() const { return height_; }
  const std::vector<uint8_t>& pixels() const { return pixels_; }  // width*height*3 bytes
  Rgb at(int x, int y) const;                                     // x, y must be inside

  void fill(Rgb c);
  void set(int x, int y, Rgb c);
  // Mixes c into the pixel with weight alpha in [0, 1].
  void blend(int x, int y, Rgb c, double alpha);

  // A segment of the given width; antialiased edges unless told otherwise.
  void line(double x0, double y0, double x1, double y1, Rgb c, double width = 1.0, bool antialias = true);
  // Like line, drawn as dashes of `dash` pixels separated by gaps of the same length.
  void dashed_line(double x0, double y0, double x1, double y1, Rgb c, double width = 1.0, double dash = 6.0);
  // Outline and filled axis-aligned rectangles, corners inclusive.
  void rect(int x0, int y0, int x1, int y1, Rgb c);
  void fill_rect(int x0, int y0, int x1, int y1, Rgb c);
  // A disk (or ring of 1.5 px when filled is false) with an antialiased edge.
  void circle(double cx, double cy, double radius, Rgb c, bool filled = true);
  // Text anchored at (x, y) according to the style's alignment.
  void text(int x, int y, std::string_view s, const TextStyle& style = {});
  // While a clip rectangle is set, drawing touches only pixels inside it
  // (charts clip data to the plot area).
  void set_clip(const Rect& r) { clip_ = r; }
  void clear_clip() { clip_.reset(); }
  // Copies src with its top-left corner at (x, y).
  void blit(const Image& src, int x, int y);

  // Size of the box text occupies, before any rotation.
  static int text_width(std::string_view s, int scale = 2);
  static int text_height(std::string_view s, int scale = 2);

  // PNG bytes, and the atomic write of them to path.
  std::string encode_png() const;
  void write_png(const std::string& path) const;

 private:
  int width_ = 0, height_ = 0;
  std::vector<uint8_t> pixels_;
  std::optional<Rect> clip_;
};

}  // namespace mg::io
