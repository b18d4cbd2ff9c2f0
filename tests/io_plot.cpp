// Charts are written to PNG, read back with stb_image and checked where their
// content must be: series pixels on the expected diagonal, the threshold on
// its row, a scatter point's colour at its mapped position, and so on. GIFs
// are checked by walking their blocks and by decoding them.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <iterator>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>
#pragma GCC diagnostic pop

#include "io/gif.h"
#include "io/plot.h"
#include "tensor/error.h"
#include "tests/test_support.h"

using namespace mg::io;
using mg::test::error_of;

namespace {

struct Png {
  int w = 0, h = 0;
  std::vector<uint8_t> px;
  Rgb at(int x, int y) const {
    const uint8_t* p = &px[(static_cast<size_t>(y) * w + x) * 3];
    return {p[0], p[1], p[2]};
  }
};

Png load_png(const std::string& path) {
  Png png;
  int n = 0;
  uint8_t* data = stbi_load(path.c_str(), &png.w, &png.h, &n, 3);
  REQUIRE_MESSAGE(data != nullptr, "cannot decode " << path);
  png.px.assign(data, data + static_cast<size_t>(png.w) * png.h * 3);
  stbi_image_free(data);
  return png;
}

bool near(Rgb a, Rgb b, int tol = 0) {
  return std::abs(a.r - b.r) <= tol && std::abs(a.g - b.g) <= tol && std::abs(a.b - b.b) <= tol;
}

// Pixels of colour c (within tol) inside [x0, x1] x [y0, y1].
int count(const Png& p, Rgb c, int x0, int y0, int x1, int y1, int tol = 0) {
  int n = 0;
  for (int y = std::max(y0, 0); y <= std::min(y1, p.h - 1); ++y)
    for (int x = std::max(x0, 0); x <= std::min(x1, p.w - 1); ++x) n += near(p.at(x, y), c, tol);
  return n;
}
int count(const Png& p, Rgb c, int tol = 0) { return count(p, c, 0, 0, p.w - 1, p.h - 1, tol); }


using mg::test::slurp;

}  // namespace

TEST_CASE("text draws dark pixels inside its box and nowhere else") {
  for (bool vertical : {false, true}) {
    Image img(240, 240);
    TextStyle style{colors::black, 3};
    style.vertical = vertical;
    img.text(20, 30, "Loss 1.2k", style);
    int w = Image::text_width("Loss 1.2k", 3), h = Image::text_height("Loss 1.2k", 3);
    if (vertical) std::swap(w, h);
    int inside = 0, outside = 0;
    for (int y = 0; y < img.height(); ++y)
      for (int x = 0; x < img.width(); ++x) {
        bool dark = img.at(x, y) == colors::black;
        bool in_box = x >= 20 && x < 20 + w && y >= 30 && y < 30 + h;
        (in_box ? inside : outside) += dark;
      }
    CHECK(inside > 100);
    CHECK(outside == 0);
  }
  CHECK(Image::text_width("", 2) == 0);
  Image img(50, 20);
  img.text(0, 0, "\x01\xff\n", {});  // non-printable bytes must not index past the font table
  CHECK(Image::text_width("\x01", 2) == Image::text_width("?", 2));
}

TEST_CASE("compact numbers and nice ticks") {
  CHECK(compact_number(0) == "0");
  CHECK(compact_number(0.5) == "0.5");
  CHECK(compact_number(10) == "10");
  CHECK(compact_number(1200) == "1.2k");
  CHECK(compact_number(5000) == "5k");
  CHECK(compact_number(2.5e6) == "2.5M");
  CHECK(compact_number(0.001) == "1e-3");
  CHECK(compact_number(-0.00025) == "-2.5e-4");
  CHECK(compact_number(0.1 + 0.2) == "0.3");
  CHECK(compact_number(999.99) == "1k");

  std::vector<Tick> t = nice_ticks(0, 1, 5);
  REQUIRE(t.size() == 6);
  CHECK(t[1].value == doctest::Approx(0.2));
  CHECK(t[5].label == "1");
  t = nice_ticks(3.7, 96.1, 5);  // step 20: 20, 40, 60, 80
  REQUIRE(t.size() == 4);
  CHECK(t.front().value == 20);
  CHECK(t.back().label == "80");
  t = nice_ticks(-0.013, 0.011, 4);  // step 0.005, through zero exactly
  CHECK(std::any_of(t.begin(), t.end(), [](const Tick& k) { return k.value == 0 && k.label == "0"; }));
}

TEST_CASE("line chart: one series from (0,0) to (1,1) lies on the diagonal") {
  std::string dir = mg::test::scratch_dir("plot/line");
  const Rgb red{200, 20, 20};
  LineChartOptions opt;
  opt.width = 600, opt.height = 400;
  opt.title = "diagonal", opt.x_label = "x", opt.y_label = "y";
  opt.x_min = 0, opt.x_max = 1, opt.y_min = 0, opt.y_max = 1;
  line_chart(dir + "/line.png", {{"", {0, 0.5, 1}, {0, 0.5, 1}, red}}, opt);
  Png png = load_png(dir + "/line.png");
  REQUIRE(png.w == 600);
  REQUIRE(png.h == 400);

  // The chart's axes are an Axes over the whole image with the same spec.
  AxesSpec spec;
  spec.title = opt.title, spec.x_label = opt.x_label, spec.y_label = opt.y_label;
  Axes axes({0, 0, 599, 399}, spec);
  for (double t = 0.05; t < 1; t += 0.1) {
    int x = static_cast<int>(std::lround(axes.map_x(t))), y = static_cast<int>(std::lround(axes.map_y(t)));
    CHECK(count(png, red, x - 1, y - 1, x + 1, y + 1) >= 3);
  }
  // Every red pixel is within a few pixels of the diagonal.
  int off = 0;
  for (int y = 0; y < png.h; ++y)
    for (int x = 0; x < png.w; ++x) {
      if (!near(png.at(x, y), red, 40)) continue;
      double tx = (x - axes.map_x(0)) / (axes.map_x(1) - axes.map_x(0));
      double ty = (y - axes.map_y(0)) / (axes.map_y(1) - axes.map_y(0));
      off += std::abs(tx - ty) * (axes.map_x(1) - axes.map_x(0)) > 4;
    }
  CHECK(off == 0);
  // Tick labels and the title leave dark text outside the plot area.
  CHECK(count(png, colors::text, 0, 0, axes.area().x0 - 1, png.h - 1) > 100);

  // A fuller chart for the eye: loss curves with a legend.
  std::vector<Series> s(2);
  s[0].name = "train loss", s[1].name = "held-out loss";
  for (int e = 1; e <= 60; ++e) {
    s[0].x.push_back(e), s[0].y.push_back(4.6 * std::exp(-e / 25.0) + 0.3);
    s[1].x.push_back(e), s[1].y.push_back(4.7 * std::exp(-e / 30.0) + 0.6);
  }
  LineChartOptions loss;
  loss.title = "Chopin LSTM loss", loss.x_label = "epoch", loss.y_label = "cross-entropy";
  line_chart(dir + "/loss.png", s, loss);
  Png lp = load_png(dir + "/loss.png");
  CHECK(lp.w == 900);
  CHECK(count(lp, series_color(0)) > 100);
  CHECK(count(lp, series_color(1)) > 100);

  Series bad{"bad", {1, 2}, {1}, std::nullopt};
  std::string msg = error_of([&] { line_chart(dir + "/bad.png", {bad}); });
  CHECK(msg.find(dir + "/bad.png") != std::string::npos);
  CHECK(msg.find("bad") != std::string::npos);
}

TEST_CASE("bar chart: threshold line on its row, bars up to their values") {
  std::string dir = mg::test::scratch_dir("plot/bars");
  const Rgb blue{30, 90, 200};
  std::vector<Bar> bars;
  for (int i = 0; i < 20; ++i) bars.push_back({"", 10.0 * i});
  BarChartOptions opt;
  opt.width = 700, opt.height = 400, opt.color = blue;
  opt.title = "counts", opt.y_label = "count";
  opt.y_min = 0, opt.y_max = 200;
  opt.threshold = 100, opt.threshold_label = "min count 100";
  bar_chart(dir + "/bars.png", bars, opt);
  Png png = load_png(dir + "/bars.png");

  AxesSpec spec;
  spec.title = opt.title, spec.y_label = opt.y_label;
  spec.x_min = -0.5, spec.x_max = 19.5, spec.y_min = 0, spec.y_max = 200;
  spec.x_ticks = std::vector<Tick>{};
  spec.vertical_x_labels = true;
  Axes axes({0, 0, png.w - 1, png.h - 1}, spec);
  const Rect& a = axes.area();
  int row = static_cast<int>(std::lround(axes.map_y(100)));
  CHECK(count(png, colors::threshold, a.x0, row - 1, a.x1, row + 1, 30) > a.width() / 3);
  // Above the line only its label, which is right-aligned.
  CHECK(count(png, colors::threshold, a.x0, a.y0, (a.x0 + a.x1) / 2, row - 4, 30) == 0);
  // Bar 15 (value 150) reaches three quarters of the way up; bar 0 is empty.
  int x15 = static_cast<int>(std::lround(axes.map_x(15)));
  CHECK(near(png.at(x15, static_cast<int>(std::lround(axes.map_y(145)))), blue));
  CHECK(!near(png.at(x15, static_cast<int>(std::lround(axes.map_y(155)))), blue));
  CHECK(count(png, blue, static_cast<int>(axes.map_x(-0.4)), a.y0, static_cast<int>(axes.map_x(0.4)), a.y1 - 2) == 0);

  // The note-frequency histogram: 317 tokens sorted by count, log y.
  std::vector<Bar> tokens;
  for (int i = 0; i < 317; ++i) tokens.push_back({fmt::format("{}.{}", i % 12, (i * 7) % 12), std::round(5000 * std::exp(-i / 40.0)) + 1});
  BarChartOptions hist;
  hist.title = "Token frequency", hist.x_label = "token (sorted by count)", hist.y_label = "count";
  hist.log_y = true, hist.threshold = 100, hist.threshold_label = "min count 100";
  bar_chart(dir + "/histogram.png", tokens, hist);
  Png hp = load_png(dir + "/histogram.png");
  CHECK(count(hp, series_color(0)) > 1000);
  CHECK(count(hp, colors::threshold, 30) > 200);
}

TEST_CASE("scatter chart: a point's colour at its mapped position, labels beside points") {
  std::string dir = mg::test::scratch_dir("plot/scatter");
  ScatterOptions opt;
  opt.width = 600, opt.height = 500;
  opt.x_min = -1, opt.x_max = 2, opt.y_min = -1, opt.y_max = 2;
  opt.group_names = {"train", "held-out"};
  opt.group_colors = {{40, 100, 220}, {240, 120, 20}};
  opt.x_label = "z0", opt.y_label = "z1", opt.title = "latent means";
  scatter_chart(dir + "/scatter.png", {{0, 0, 0, ""}, {1, 1, 1, ""}, {0.5, -0.5, 0, "clip 12"}}, opt);
  Png png = load_png(dir + "/scatter.png");
  AxesSpec spec;
  spec.x_min = -1, spec.x_max = 2, spec.y_min = -1, spec.y_max = 2;
  spec.title = opt.title, spec.x_label = opt.x_label, spec.y_label = opt.y_label;
  Axes axes({0, 0, png.w - 1, png.h - 1}, spec);
  auto at = [&](double x, double y) {
    return png.at(static_cast<int>(std::lround(axes.map_x(x))), static_cast<int>(std::lround(axes.map_y(y))));
  };
  CHECK(near(at(0, 0), opt.group_colors[0]));
  CHECK(near(at(1, 1), opt.group_colors[1]));
  CHECK(near(at(0.5, -0.5), opt.group_colors[0]));
  int lx = static_cast<int>(axes.map_x(0.5)) + 8, ly = static_cast<int>(axes.map_y(-0.5));
  CHECK(count(png, colors::text, lx, ly - 10, lx + 90, ly + 10) > 30);
  CHECK(count(png, opt.group_colors[1]) > 60);  // the point and its legend dot
}

TEST_CASE("piano roll shows both groups, the generation line and octave labels") {
  std::string dir = mg::test::scratch_dir("plot/piano");
  std::vector<PianoRollNote> notes;
  for (int i = 0; i < 40; ++i) notes.push_back({static_cast<double>(i), 1, 55 + (i * 5) % 19, 0});
  for (int i = 40; i < 100; ++i) notes.push_back({static_cast<double>(i), 1, 60 + (i * 7) % 17, 1});
  PianoRollOptions opt;
  opt.title = "primer and generated melody";
  opt.marker_time = 40;
  piano_roll(dir + "/piano.png", notes, opt);
  Png png = load_png(dir + "/piano.png");
  CHECK(png.w == 900);
  CHECK(png.h == 500);
  CHECK(count(png, series_color(0)) > 300);
  CHECK(count(png, series_color(1)) > 300);
  CHECK(count(png, Rgb{60, 60, 60}, 30) > 100);  // dashed marker and its label
}

TEST_CASE("waveform grid: returned image equals the PNG, empty panels stay empty") {
  std::string dir = mg::test::scratch_dir("plot/waveforms");
  std::vector<WaveformPanel> panels;
  for (int k = 0; k < 10; ++k) {
    WaveformPanel p{fmt::format("test clip {}", k), {}};
    for (int i = 0; i < 9000; ++i)
      p.samples.push_back(0.5f + 0.4f * std::sin(i * 0.002f * (k + 1)) * std::exp(-i / 6000.0f * (k % 3)));
    panels.push_back(std::move(p));
  }
  WaveformGridOptions opt;
  opt.title = "epoch 3";
  opt.y_min = 0, opt.y_max = 1;
  Image img = waveform_grid(dir + "/grid.png", panels, opt);
  Png png = load_png(dir + "/grid.png");
  REQUIRE(png.w == img.width());
  REQUIRE(png.h == img.height());
  CHECK(png.px == img.pixels());
  CHECK(count(png, series_color(0)) > 5000);
  // 10 panels in a 4x4 grid: the bottom row is empty.
  CHECK(count(png, series_color(0), 0, png.h * 3 / 4 + 10, png.w - 1, png.h - 1) == 0);
  CHECK(error_of([&] { render_waveform_grid(std::vector<WaveformPanel>(17), opt); }).find("17") != std::string::npos);
}

TEST_CASE("spectrogram: bright cell where the matrix is large, low bins at the bottom") {
  std::string dir = mg::test::scratch_dir("plot/spectrogram");
  SpectrogramPanel p{"input", 8, 10, std::vector<float>(80, -80.0f)};
  p.values[6 * 10 + 2] = 0;  // bin 6, frame 2
  spectrogram_image(dir + "/spec.png", p);
  Png png = load_png(dir + "/spec.png");
  const Rgb low = viridis(0), high = viridis(1);
  // The plot area is where the darkest colour fills whole rows and columns
  // (the colour bar holds it in only its bottom rows).
  int x0 = png.w, x1 = -1, y0 = png.h, y1 = -1;
  for (int x = 0; x < png.w; ++x)
    if (count(png, low, x, 0, x, png.h - 1) > 50) x0 = std::min(x0, x), x1 = std::max(x1, x);
  for (int y = 0; y < png.h; ++y)
    if (count(png, low, 0, y, png.w - 1, y) > 50) y0 = std::min(y0, y), y1 = std::max(y1, y);
  REQUIRE(x1 > x0);
  REQUIRE(y1 > y0);
  auto cell = [&](double frame, double bin) {
    return png.at(x0 + static_cast<int>((frame + 0.5) / 10 * (x1 - x0 + 1)),
                  y1 - static_cast<int>((bin + 0.5) / 8 * (y1 - y0 + 1)));
  };
  CHECK(near(cell(2, 6), high));
  CHECK(near(cell(2, 1), low));
  CHECK(near(cell(7, 6), low));
  CHECK(count(png, high, x0, y0, x1, y1) > 100);

  // Input vs reconstruction, stacked on one colour scale.
  SpectrogramPanel in{"input", 64, 300, {}}, out{"reconstruction", 64, 300, {}};
  for (int b = 0; b < 64; ++b)
    for (int f = 0; f < 300; ++f) {
      float v = -70 + 60 * std::exp(-std::pow((b - 10 - 8 * std::sin(f / 30.0)) / 4.0, 2));
      in.values.push_back(v);
      out.values.push_back(0.8f * v - 10);
    }
  SpectrogramOptions opt;
  opt.title = "epoch 20";
  opt.seconds_per_frame = 0.1, opt.hz_per_bin = 23.4;
  opt.x_label = "time (s)", opt.y_label = "Hz";
  spectrogram_stack(dir + "/spec_pair.png", {in, out}, opt);
  Png pair = load_png(dir + "/spec_pair.png");
  CHECK(pair.h > 2 * opt.panel_height);  // two panels and the title
  CHECK(count(pair, high) > 50);
  std::string msg = error_of([&] { spectrogram_image(dir + "/bad.png", {"x", 3, 3, {1, 2}}); });
  CHECK(msg.find(dir + "/bad.png") != std::string::npos);
}

namespace {

// Walks GIF blocks: counts image descriptors and collects frame delays.
struct GifInfo {
  int images = 0;
  std::vector<int> delays;
  bool netscape = false;
  bool ok = false;
};

GifInfo walk_gif(const std::string& b) {
  GifInfo info;
  auto u8 = [&](size_t i) { return static_cast<uint8_t>(b.at(i)); };
  auto skip_sub_blocks = [&](size_t& i) {
    while (u8(i) != 0) i += 1 + u8(i);
    ++i;
  };
  if (b.size() < 13 || b.compare(0, 6, "GIF89a") != 0) return info;
  size_t i = 13;
  if (u8(10) & 0x80) i += 3u * (1u << ((u8(10) & 7) + 1));  // global colour table
  while (i < b.size()) {
    uint8_t tag = u8(i);
    if (tag == 0x3B) {
      info.ok = true;
      break;
    }
    if (tag == 0x21) {
      uint8_t label = u8(i + 1);
      if (label == 0xF9) info.delays.push_back(u8(i + 4) | u8(i + 5) << 8);
      if (label == 0xFF && b.compare(i + 3, 11, "NETSCAPE2.0") == 0) info.netscape = true;
      i += 2;
      skip_sub_blocks(i);
    } else if (tag == 0x2C) {
      ++info.images;
      uint8_t flags = u8(i + 9);
      i += 10;
      if (flags & 0x80) i += 3u * (1u << ((flags & 7) + 1));  // local colour table
      ++i;                                                     // LZW minimum code size
      skip_sub_blocks(i);
    } else {
      break;
    }
  }
  return info;
}

}  // namespace

TEST_CASE("GIF: header, loop extension, one image per frame, held last frame") {
  std::string dir = mg::test::scratch_dir("plot/gif");
  std::vector<Image> frames;
  for (int k = 0; k < 3; ++k) {
    LineChartOptions opt;
    opt.width = 320, opt.height = 200, opt.title = fmt::format("epoch {}", k + 1);
    frames.push_back(render_line_chart({{"loss", {0, 1, 2}, {3.0, 2.0 - k * 0.5, 1.0}, std::nullopt}}, opt));
  }
  write_gif(dir + "/anim.gif", frames, 25, 0, 3);
  std::string bytes = slurp(dir + "/anim.gif");
  REQUIRE(bytes.size() > 100);
  CHECK(bytes.compare(0, 6, "GIF89a") == 0);
  GifInfo info = walk_gif(bytes);
  CHECK(info.ok);
  CHECK(info.netscape);
  CHECK(info.images == 3);
  CHECK(info.delays == std::vector<int>{25, 25, 100});

  // Antialiased charts have a few hundred colours: decoding gives them back closely.
  auto decode = [](const std::string& gif, std::vector<std::vector<uint8_t>>& out) {
    int* delays = nullptr;
    int w = 0, h = 0, z = 0, comp = 0;
    uint8_t* data = stbi_load_gif_from_memory(reinterpret_cast<const stbi_uc*>(gif.data()), static_cast<int>(gif.size()),
                                              &delays, &w, &h, &z, &comp, 3);
    REQUIRE(data != nullptr);
    for (int k = 0; k < z; ++k) out.emplace_back(data + static_cast<size_t>(k) * w * h * 3, data + static_cast<size_t>(k + 1) * w * h * 3);
    stbi_image_free(data);
    stbi_image_free(delays);
  };
  auto mean_error = [](const Image& a, const std::vector<uint8_t>& b) {
    double err = 0;
    for (size_t i = 0; i < b.size(); ++i) err += std::abs(int(a.pixels()[i]) - int(b[i]));
    return err / static_cast<double>(b.size());
  };
  std::vector<std::vector<uint8_t>> decoded;
  decode(bytes, decoded);
  REQUIRE(decoded.size() == 3);
  for (int k = 0; k < 3; ++k) CHECK(mean_error(frames[k], decoded[k]) < 1.0);

  // At most 256 colours: the palette is exact.
  std::vector<Image> flat(2, Image(64, 48));
  flat[0].fill_rect(5, 5, 30, 20, series_color(0));
  flat[1].fill_rect(10, 10, 60, 40, series_color(1));
  flat[1].text(2, 2, "ok", {colors::black, 2});
  write_gif(dir + "/flat.gif", flat, 50, 0, 0);
  decoded.clear();
  decode(slurp(dir + "/flat.gif"), decoded);
  REQUIRE(decoded.size() == 2);
  CHECK(decoded[0] == flat[0].pixels());
  CHECK(decoded[1] == flat[1].pixels());

  // Many colours (a spectrogram's colour map): popularity palette, close colours.
  SpectrogramPanel p{"", 64, 64, {}};
  for (int i = 0; i < 64 * 64; ++i) p.values.push_back(static_cast<float>(i % 97));
  SpectrogramOptions sopt;
  sopt.width = 400;
  Image spec = render_spectrogram_image(p, sopt);
  write_gif(dir + "/spec.gif", {spec, spec}, 10, 1, 0);
  bytes = slurp(dir + "/spec.gif");
  info = walk_gif(bytes);
  CHECK(info.images == 2);
  CHECK(!info.netscape);  // played once: no loop extension
  decoded.clear();
  decode(bytes, decoded);
  REQUIRE(decoded.size() == 2);
  CHECK(mean_error(spec, decoded[0]) < 4.0);
}

TEST_CASE("GIF and PNG errors name the file") {
  std::string dir = mg::test::scratch_dir("plot/errors");
  Image a(40, 30), b(41, 30);
  std::string msg = error_of([&] { write_gif(dir + "/sizes.gif", {a, b}, 10, 0, 0); });
  CHECK(msg.find(dir + "/sizes.gif") != std::string::npos);
  CHECK(msg.find("41x30") != std::string::npos);
  CHECK(error_of([&] { write_gif(dir + "/none.gif", {}, 10, 0, 0); }).find("none.gif") != std::string::npos);
  CHECK(error_of([&] { write_gif(dir + "/d.gif", {a}, 0, 0, 0); }).find("d.gif") != std::string::npos);

  // A folder that cannot be created because a file is in the way.
  std::ofstream(dir + "/afile") << "x";
  std::string blocked = dir + "/afile/sub";
  msg = error_of([&] { line_chart(blocked + "/chart.png", {}); });
  CHECK(msg.find(blocked) != std::string::npos);
  msg = error_of([&] { write_gif(blocked + "/anim.gif", {a}, 10, 0, 0); });
  CHECK(msg.find(blocked) != std::string::npos);
  CHECK(!std::filesystem::exists(blocked));
}
