#include "io/plot.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <limits>

#include "io/atomic_file.h"
#include "tensor/error.h"

namespace mg::io {

static Rgb darker(Rgb c, double k) {
  return {static_cast<uint8_t>(c.r * k), static_cast<uint8_t>(c.g * k), static_cast<uint8_t>(c.b * k)};
}

// ---- numbers and ticks --------------------------------------------------------

std::string compact_number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (v == 0) return "0";
  // Round to 4 significant digits first so the unit is chosen on the shown value.
  double e = std::floor(std::log10(std::abs(v)));
  double unit = std::pow(10.0, e - 3);
  double r = std::round(v / unit) * unit;
  double a = std::abs(r);
  if (a >= 1e9 || a < 1e-2) {
    int exp10 = static_cast<int>(std::floor(std::log10(a)));
    return fmt::format("{:.3g}e{}", r / std::pow(10.0, exp10), exp10);
  }
  if (a >= 1e6) return fmt::format("{:.4g}M", r / 1e6);
  if (a >= 1e3) return fmt::format("{:.4g}k", r / 1e3);
  return fmt::format("{:.4g}", r);
}

// Octave label of a C: "C4" for MIDI pitch 60.
static std::string c_label(int midi_pitch) {
  return fmt::format("C{}", (midi_pitch >= 0 ? midi_pitch / 12 : (midi_pitch - 11) / 12) - 1);
}

std::vector<Tick> nice_ticks(double lo, double hi, int target) {
  if (!(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi)) return {{lo, compact_number(lo)}};
  double raw = (hi - lo) / std::max(target, 1);
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double norm = raw / mag;
  double step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  std::vector<Tick> ticks;
  double first = std::ceil(lo / step - 1e-9);
  for (double k = first; k * step <= hi + step * 1e-9; k += 1) {
    double v = k * step;
    if (std::abs(v) < step * 1e-9) v = 0;
    ticks.push_back({v, compact_number(v)});
  }
  return ticks;
}

// Decades as labelled ticks; with less than two decades in view, 2 and 5 too.
static std::vector<Tick> log_ticks(double lo, double hi, std::vector<Tick>* minor) {
  std::vector<Tick> major, fine;
  for (int e = static_cast<int>(std::floor(std::log10(lo))); e <= static_cast<int>(std::ceil(std::log10(hi))); ++e) {
    for (int m = 1; m <= 9; ++m) {
      double v = m * std::pow(10.0, e);
      if (v < lo * (1 - 1e-9) || v > hi * (1 + 1e-9)) continue;
      if (m == 1) major.push_back({v, compact_number(v)});
      else fine.push_back({v, compact_number(v)});
    }
  }
  if (major.size() < 2) {
    for (const Tick& t : fine) {
      double m = t.value / std::pow(10.0, std::floor(std::log10(t.value) + 1e-9));
      if (std::abs(m - 2) < 1e-6 || std::abs(m - 5) < 1e-6) major.push_back(t);
    }
    std::sort(major.begin(), major.end(), [](const Tick& a, const Tick& b) { return a.value < b.value; });
  }
  if (minor) *minor = fine;
  return major;
}

// ---- Axes ---------------------------------------------------------------------

// Widens an empty or inverted range so that mapping never divides by zero.
static void widen(double& lo, double& hi, bool log) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) lo = log ? 1 : 0, hi = log ? 10 : 1;
  if (log && lo <= 0) lo = hi > 0 ? hi / 10 : 1;
  if (log && hi <= lo) hi = lo * 10;
  if (hi < lo) std::swap(lo, hi);
  if (hi == lo) {
    double d = lo == 0 ? 1 : std::abs(lo) * 0.1;
    lo -= d, hi += d;
  }
}

Axes::Axes(Rect box, const AxesSpec& spec) : box_(box), spec_(spec) {
  widen(spec_.x_min, spec_.x_max, false);
  widen(spec_.y_min, spec_.y_max, spec_.log_y);
  const int fs = std::max(spec_.font_scale, 1), th = 9 * fs;
  // Tick density from the box size less typical margins; the exact area follows.
  int approx_w = std::max(box.width() - 120, 50), approx_h = std::max(box.height() - 90, 50);
  x_ticks_ = spec_.x_ticks ? *spec_.x_ticks : nice_ticks(spec_.x_min, spec_.x_max, std::max(2, approx_w / 100));
  if (spec_.y_ticks) y_ticks_ = *spec_.y_ticks;
  else if (spec_.log_y) y_ticks_ = log_ticks(spec_.y_min, spec_.y_max, &y_minor_);
  else y_ticks_ = nice_ticks(spec_.y_min, spec_.y_max, std::max(2, approx_h / 60));

  int y_label_w = 0, x_label_h = 0;
  for (const Tick& t : y_ticks_) y_label_w = std::max(y_label_w, Image::text_width(t.label, fs));
  for (const Tick& t : x_ticks_)
    x_label_h = std::max(x_label_h, spec_.vertical_x_labels ? Image::text_width(t.label, fs) : Image::text_height(t.label, fs));
  int top = 12 + (spec_.title.empty() ? 0 : 9 * (fs + 1) + 12);
  int left = 10 + (spec_.y_label.empty() ? 0 : th + 10) + y_label_w + 10;
  int bottom = 8 + x_label_h + 10 + (spec_.x_label.empty() ? 0 : th + 10);
  area_ = {box.x0 + left, box.y0 + top, box.x1 - spec_.right_margin, box.y1 - bottom};
  area_.x1 = std::max(area_.x1, area_.x0 + 9);
  area_.y1 = std::max(area_.y1, area_.y0 + 9);
}

double Axes::map_x(double x) const {
  return area_.x0 + (x - spec_.x_min) / (spec_.x_max - spec_.x_min) * (area_.width() - 1);
}

double Axes::map_y(double y) const {
  double t;
  if (spec_.log_y) {
    if (!(y > 0)) return area_.y1;
    t = (std::log10(y) - std::log10(spec_.y_min)) / (std::log10(spec_.y_max) - std::log10(spec_.y_min));
  } else {
    t = (y - spec_.y_min) / (spec_.y_max - spec_.y_min);
  }
  return area_.y1 - t * (area_.height() - 1);
}

void Axes::draw_grid(Image& img) const {
  auto inside_x = [&](double px) { return px >= area_.x0 && px <= area_.x1; };
  auto inside_y = [&](double py) { return py >= area_.y0 && py <= area_.y1; };
  for (const Tick& t : y_minor_) {
    int py = static_cast<int>(std::lround(map_y(t.value)));
    if (spec_.y_grid && inside_y(py)) img.fill_rect(area_.x0, py, area_.x1, py, colors::minor_grid);
  }
  for (const Tick& t : x_ticks_) {
    int px = static_cast<int>(std::lround(map_x(t.value)));
    if (spec_.x_grid && inside_x(px)) img.fill_rect(px, area_.y0, px, area_.y1, colors::grid);
  }
  for (const Tick& t : y_ticks_) {
    int py = static_cast<int>(std::lround(map_y(t.value)));
    if (spec_.y_grid && inside_y(py)) img.fill_rect(area_.x0, py, area_.x1, py, colors::grid);
  }
}

void Axes::draw_frame(Image& img) const {
  const int fs = std::max(spec_.font_scale, 1), th = 9 * fs;
  img.rect(area_.x0, area_.y0, area_.x1, area_.y1, colors::axis);
  for (const Tick& t : x_ticks_) {
    int px = static_cast<int>(std::lround(map_x(t.value)));
    if (px < area_.x0 || px > area_.x1) continue;
    img.fill_rect(px, area_.y1 + 1, px, area_.y1 + 5, colors::axis);
    if (spec_.vertical_x_labels)
      img.text(px, area_.y1 + 9, t.label, {colors::text, fs, HAlign::center, VAlign::top, true});
    else
      img.text(px, area_.y1 + 9, t.label, {colors::text, fs, HAlign::center, VAlign::top});
  }
  int y_label_w = 0;
  for (const Tick& t : y_ticks_) {
    int py = static_cast<int>(std::lround(map_y(t.value)));
    if (py < area_.y0 || py > area_.y1) continue;
    img.fill_rect(area_.x0 - 5, py, area_.x0 - 1, py, colors::axis);
    img.text(area_.x0 - 9, py, t.label, {colors::text, fs, HAlign::right, VAlign::middle});
    y_label_w = std::max(y_label_w, Image::text_width(t.label, fs));
  }
  int cx = (area_.x0 + area_.x1) / 2, cy = (area_.y0 + area_.y1) / 2;
  if (!spec_.x_label.empty()) img.text(cx, box_.y1 - 8, spec_.x_label, {colors::text, fs, HAlign::center, VAlign::bottom});
  if (!spec_.y_label.empty())
    img.text(area_.x0 - 9 - y_label_w - 10 - th, cy, spec_.y_label, {colors::text, fs, HAlign::left, VAlign::middle, true});
  if (!spec_.title.empty())
    img.text((box_.x0 + box_.x1) / 2, box_.y0 + 12, spec_.title, {colors::black, fs + 1, HAlign::center, VAlign::top});
}

void draw_legend(Image& img, const Axes& axes, const std::vector<LegendEntry>& entries) {
  if (entries.empty()) return;
  const int fs = std::max(axes.spec().font_scale, 1), th = 9 * fs, row = th + 8, swatch = 26;
  int text_w = 0;
  for (const LegendEntry& e : entries) text_w = std::max(text_w, Image::text_width(e.name, fs));
  const int w = 10 + swatch + 8 + text_w + 10, h = 8 + row * static_cast<int>(entries.size());
  const Rect& a = axes.area();
  const int inset = 8;
  std::array<Rect, 4> corners = {{{a.x1 - inset - w, a.y0 + inset, a.x1 - inset, a.y0 + inset + h},
                                  {a.x0 + inset, a.y0 + inset, a.x0 + inset + w, a.y0 + inset + h},
                                  {a.x1 - inset - w, a.y1 - inset - h, a.x1 - inset, a.y1 - inset},
                                  {a.x0 + inset, a.y1 - inset - h, a.x0 + inset + w, a.y1 - inset}}};
  auto busy = [&](const Rect& r) {
    long n = 0;
    for (int y = std::max(r.y0, 0); y <= std::min(r.y1, img.height() - 1); ++y)
      for (int x = std::max(r.x0, 0); x <= std::min(r.x1, img.width() - 1); ++x) {
        Rgb c = img.at(x, y);
        n += !(c == colors::white || c == colors::grid || c == colors::minor_grid);
      }
    return n;
  };
  Rect best = corners[0];
  long fewest = busy(best);
  for (size_t i = 1; i < corners.size(); ++i)
    if (long n = busy(corners[i]); n < fewest) fewest = n, best = corners[i];
  img.fill_rect(best.x0, best.y0, best.x1, best.y1, colors::white);
  img.rect(best.x0, best.y0, best.x1, best.y1, Rgb{180, 180, 180});
  for (size_t i = 0; i < entries.size(); ++i) {
    int cy = best.y0 + 4 + row * static_cast<int>(i) + row / 2;
    int sx = best.x0 + 10;
    if (entries[i].dot) img.circle(sx + swatch / 2.0, cy, 5, entries[i].color);
    else img.line(sx, cy, sx + swatch, cy, entries[i].color, 3);
    img.text(sx + swatch + 8, cy, entries[i].name, {colors::text, fs, HAlign::left, VAlign::middle});
  }
}

// ---- charts -------------------------------------------------------------------

// Renders, then writes; any error names the file.
static void write_chart(const std::string& path, const std::function<Image()>& render) {
  Image img;
  try {
    img = render();
  } catch (const Error& e) {
    fail("{}: {}", path, e.what());
  }
  img.write_png(path);
}

// Data range of finite values (positive only on a log axis); NaN when none.
struct Extent {
  double lo = std::numeric_limits<double>::infinity(), hi = -std::numeric_limits<double>::infinity();
  void add(double v, bool log = false) {
    if (!std::isfinite(v) || (log && v <= 0)) return;
    lo = std::min(lo, v), hi = std::max(hi, v);
  }
  bool empty() const { return lo > hi; }
};

// Axis limits: the caller's where given, else the data's with a margin.
static void choose_limits(const Extent& ext, std::optional<double> want_lo, std::optional<double> want_hi, double pad,
                          bool log, double& lo, double& hi) {
  if (ext.empty()) {
    lo = log ? 1 : 0, hi = log ? 10 : 1;
  } else if (log) {
    double f = std::pow(std::max(ext.hi / ext.lo, 10.0), pad);
    lo = ext.lo / f, hi = ext.hi * f;
  } else {
    double d = (ext.hi - ext.lo) * pad;
    lo = ext.lo - d, hi = ext.hi + d;
  }
  if (want_lo) lo = *want_lo;
  if (want_hi) hi = *want_hi;
  widen(lo, hi, log);
}

static AxesSpec axes_spec(const ChartOptions& o) {
  AxesSpec s;
  s.title = o.title, s.x_label = o.x_label, s.y_label = o.y_label, s.log_y = o.log_y;
  return s;
}

static Rect whole(const Image& img) { return {0, 0, img.width() - 1, img.height() - 1}; }

Image render_line_chart(const std::vector<Series>& series, const LineChartOptions& opt) {
  Extent ex, ey;
  for (const Series& s : series) {
    if (s.x.size() != s.y.size()) fail("line chart series '{}' has {} x values but {} y values", s.name, s.x.size(), s.y.size());
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i]) || (opt.log_y && s.y[i] <= 0)) continue;
      ex.add(s.x[i]), ey.add(s.y[i], opt.log_y);
    }
  }
  AxesSpec spec = axes_spec(opt);
  choose_limits(ex, opt.x_min, opt.x_max, 0.0, false, spec.x_min, spec.x_max);
  choose_limits(ey, opt.y_min, opt.y_max, 0.05, opt.log_y, spec.y_min, spec.y_max);
  Image img(opt.width, opt.height);
  Axes axes(whole(img), spec);
  axes.draw_grid(img);
  img.set_clip(axes.area());
  std::vector<LegendEntry> legend;
  for (size_t k = 0; k < series.size(); ++k) {
    const Series& s = series[k];
    Rgb c = s.color.value_or(series_color(static_cast<int>(k)));
    auto drawable = [&](size_t i) {
      return std::isfinite(s.x[i]) && std::isfinite(s.y[i]) && !(opt.log_y && s.y[i] <= 0);
    };
    bool have_prev = false;
    double px = 0, py = 0;
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!drawable(i)) {
        have_prev = false;
        continue;
      }
      double qx = axes.map_x(s.x[i]), qy = axes.map_y(s.y[i]);
      if (have_prev) img.line(px, py, qx, qy, c, opt.line_width);
      // A point with no drawable neighbour would otherwise be invisible.
      bool isolated = !have_prev && (i + 1 == s.x.size() || !drawable(i + 1));
      if (opt.markers || isolated) img.circle(qx, qy, opt.line_width + 1.5, c);
      px = qx, py = qy, have_prev = true;
    }
    if (!s.name.empty()) legend.push_back({s.name, c});
  }
  img.clear_clip();
  axes.draw_frame(img);
  draw_legend(img, axes, legend);
  return img;
}

void line_chart(const std::string& path, const std::vector<Series>& series, const LineChartOptions& opt) {
  write_chart(path, [&] { return render_line_chart(series, opt); });
}

Image render_bar_chart(const std::vector<Bar>& bars, const BarChartOptions& opt) {
  const int n = static_cast<int>(bars.size());
  Extent ey;
  for (const Bar& b : bars) ey.add(b.value, opt.log_y);
  if (!opt.log_y) ey.add(0);
  if (opt.threshold) ey.add(*opt.threshold, opt.log_y);
  AxesSpec spec = axes_spec(opt);
  spec.x_min = -0.5, spec.x_max = std::max(n, 1) - 0.5;
  if (opt.x_min) spec.x_min = *opt.x_min;
  if (opt.x_max) spec.x_max = *opt.x_max;
  if (opt.log_y && !ey.empty()) {
    // Bars of the smallest count keep a visible height above the axis.
    spec.y_min = opt.y_min.value_or(ey.lo / 2);
    spec.y_max = opt.y_max.value_or(ey.hi * 2);
    widen(spec.y_min, spec.y_max, true);
  } else {
    choose_limits(ey, opt.y_min, opt.y_max, 0.05, opt.log_y, spec.y_min, spec.y_max);
    if (!opt.log_y && !opt.y_min && ey.lo >= 0) spec.y_min = 0;
  }
  Image img(opt.width, opt.height);
  // Label every k-th bar so that the rotated labels (one text height wide) do not touch.
  spec.x_ticks = std::vector<Tick>{};
  const double slot = Axes(whole(img), spec).area().width() / std::max(spec.x_max - spec.x_min, 1.0);
  const int stride = std::max(1, static_cast<int>(std::ceil((9 * spec.font_scale + 6) / std::max(slot, 1e-9))));
  std::vector<Tick> labels;
  for (int i = 0; i < n; i += stride)
    if (!bars[static_cast<size_t>(i)].label.empty()) labels.push_back({static_cast<double>(i), bars[static_cast<size_t>(i)].label});
  spec.x_ticks = labels;
  spec.vertical_x_labels = true;
  spec.x_grid = false;
  Axes axes(whole(img), spec);
  axes.draw_grid(img);
  img.set_clip(axes.area());
  const Rgb c = opt.color.value_or(series_color(0));
  const double half = slot >= 3 ? 0.4 : 0.5;
  const double base = opt.log_y ? spec.y_min : std::clamp(0.0, spec.y_min, spec.y_max);
  for (int i = 0; i < n; ++i) {
    double v = bars[static_cast<size_t>(i)].value;
    if (!std::isfinite(v) || (opt.log_y && v <= 0)) continue;
    int x0 = static_cast<int>(std::lround(axes.map_x(i - half))), x1 = static_cast<int>(std::lround(axes.map_x(i + half)));
    // Without a gap, neighbouring bars would share their edge column.
    img.fill_rect(x0, static_cast<int>(std::lround(axes.map_y(v))), std::max(x0, x1 - (half < 0.5 ? 0 : 1)),
                  static_cast<int>(std::lround(axes.map_y(base))), c);
  }
  img.clear_clip();
  if (opt.threshold) {
    const Rect& a = axes.area();
    double ty = axes.map_y(*opt.threshold);
    if (ty >= a.y0 && ty <= a.y1) {
      img.dashed_line(a.x0, ty, a.x1, ty, colors::threshold, 2, 8);
      img.text(a.x1 - 6, static_cast<int>(ty) - 5, opt.threshold_label,
               {colors::threshold, spec.font_scale, HAlign::right, VAlign::bottom});
    }
  }
  axes.draw_frame(img);
  return img;
}

void bar_chart(const std::string& path, const std::vector<Bar>& bars, const BarChartOptions& opt) {
  write_chart(path, [&] { return render_bar_chart(bars, opt); });
}

static Rgb group_color(const std::vector<Rgb>& colors, int group) {
  return group >= 0 && group < static_cast<int>(colors.size()) ? colors[static_cast<size_t>(group)] : series_color(group);
}

Image render_scatter_chart(const std::vector<ScatterPoint>& points, const ScatterOptions& opt) {
  Extent ex, ey;
  for (const ScatterPoint& p : points) {
    if (!std::isfinite(p.x) || !std::isfinite(p.y)) continue;
    ex.add(p.x), ey.add(p.y, opt.log_y);
  }
  AxesSpec spec = axes_spec(opt);
  choose_limits(ex, opt.x_min, opt.x_max, 0.08, false, spec.x_min, spec.x_max);
  choose_limits(ey, opt.y_min, opt.y_max, 0.08, opt.log_y, spec.y_min, spec.y_max);
  Image img(opt.width, opt.height);
  Axes axes(whole(img), spec);
  axes.draw_grid(img);
  img.set_clip(axes.area());
  int groups = static_cast<int>(opt.group_names.size());
  for (const ScatterPoint& p : points) {
    if (!std::isfinite(p.x) || !std::isfinite(p.y)) continue;
    Rgb c = group_color(opt.group_colors, p.group);
    double px = axes.map_x(p.x), py = axes.map_y(p.y);
    img.circle(px, py, opt.radius, c);
    img.circle(px, py, opt.radius, darker(c, 0.6), false);
    groups = std::max(groups, p.group + 1);
  }
  for (const ScatterPoint& p : points) {
    if (p.label.empty() || !std::isfinite(p.x) || !std::isfinite(p.y)) continue;
    img.text(static_cast<int>(axes.map_x(p.x) + opt.radius + 7), static_cast<int>(axes.map_y(p.y)), p.label,
             {colors::text, spec.font_scale, HAlign::left, VAlign::middle});
  }
  img.clear_clip();
  axes.draw_frame(img);
  std::vector<LegendEntry> legend;
  for (int g = 0; g < static_cast<int>(opt.group_names.size()); ++g)
    if (!opt.group_names[static_cast<size_t>(g)].empty())
      legend.push_back({opt.group_names[static_cast<size_t>(g)], group_color(opt.group_colors, g), true});
  draw_legend(img, axes, legend);
  return img;
}

void scatter_chart(const std::string& path, const std::vector<ScatterPoint>& points, const ScatterOptions& opt) {
  write_chart(path, [&] { return render_scatter_chart(points, opt); });
}

Image render_piano_roll(const std::vector<PianoRollNote>& notes, const PianoRollOptions& opt) {
  int lo = 60, hi = 71;
  Extent ex;
  if (!notes.empty()) {
    lo = hi = notes.front().pitch;
    for (const PianoRollNote& n : notes) {
      lo = std::min(lo, n.pitch), hi = std::max(hi, n.pitch);
      ex.add(n.start), ex.add(n.start + n.duration);
    }
  }
  lo -= ((lo % 12) + 12) % 12;          // down to a C
  hi += 11 - ((hi % 12) + 12) % 12;     // up to a B
  if (opt.marker_time) ex.add(*opt.marker_time);
  AxesSpec spec;
  spec.title = opt.title, spec.x_label = opt.x_label, spec.y_label = "pitch";
  choose_limits(ex, std::nullopt, std::nullopt, 0.0, false, spec.x_min, spec.x_max);
  spec.y_min = lo - 0.5, spec.y_max = hi + 0.5;
  std::vector<Tick> octaves;
  for (int p = lo; p <= hi; p += 12) octaves.push_back({static_cast<double>(p), c_label(p)});
  spec.y_ticks = octaves;
  Image img(opt.width, opt.height);
  Axes axes(whole(img), spec);
  const Rect& a = axes.area();
  img.set_clip(a);
  // Black-key rows lightly shaded, as on a keyboard.
  for (int p = lo; p <= hi; ++p) {
    int pc = p % 12;
    if (pc == 1 || pc == 3 || pc == 6 || pc == 8 || pc == 10)
      img.fill_rect(a.x0, static_cast<int>(std::lround(axes.map_y(p + 0.5))), a.x1,
                    static_cast<int>(std::lround(axes.map_y(p - 0.5))), Rgb{244, 244, 246});
  }
  axes.draw_grid(img);
  const double row_px = (a.height() - 1.0) / (hi - lo + 1);
  for (const PianoRollNote& n : notes) {
    Rgb c = group_color(opt.group_colors, n.group);
    int x0 = static_cast<int>(std::lround(axes.map_x(n.start)));
    int x1 = std::max(x0, static_cast<int>(std::lround(axes.map_x(n.start + n.duration))) - 1);
    int y0 = static_cast<int>(std::lround(axes.map_y(n.pitch + 0.5))), y1 = static_cast<int>(std::lround(axes.map_y(n.pitch - 0.5)));
    if (row_px >= 4) y0 += 1;
    img.fill_rect(x0, y0, x1, y1, c);
    if (row_px >= 6 && x1 - x0 >= 4) img.rect(x0, y0, x1, y1, darker(c, 0.65));
  }
  if (opt.marker_time) {
    double mx = axes.map_x(*opt.marker_time);
    img.dashed_line(mx, a.y0, mx, a.y1, Rgb{60, 60, 60}, 2, 8);
    img.clear_clip();
    img.text(static_cast<int>(mx) + 6, a.y0 + 6, opt.marker_label, {Rgb{60, 60, 60}, spec.font_scale});
  }
  img.clear_clip();
  axes.draw_frame(img);
  std::vector<LegendEntry> legend;
  for (size_t g = 0; g < opt.group_names.size(); ++g)
    if (!opt.group_names[g].empty()) legend.push_back({opt.group_names[g], group_color(opt.group_colors, static_cast<int>(g))});
  draw_legend(img, axes, legend);
  return img;
}

void piano_roll(const std::string& path, const std::vector<PianoRollNote>& notes, const PianoRollOptions& opt) {
  write_chart(path, [&] { return render_piano_roll(notes, opt); });
}

Image render_waveform_grid(const std::vector<WaveformPanel>& panels, const WaveformGridOptions& opt) {
  if (opt.rows < 1 || opt.cols < 1) fail("waveform grid needs at least 1x1 panels, got {}x{}", opt.rows, opt.cols);
  if (panels.size() > static_cast<size_t>(opt.rows) * opt.cols)
    fail("waveform grid of {}x{} cannot hold {} panels", opt.rows, opt.cols, panels.size());
  Extent ey;
  for (const WaveformPanel& p : panels)
    for (float v : p.samples) ey.add(v);
  double y_lo = 0, y_hi = 0;
  choose_limits(ey, opt.y_min, opt.y_max, 0.02, false, y_lo, y_hi);

  Image img(opt.width, opt.height);
  const int fs = 2, th = 9 * fs, gap = 14;
  int top = 10;
  if (!opt.title.empty()) {
    img.text(opt.width / 2, top, opt.title, {colors::black, fs + 1, HAlign::center});
    top += 9 * (fs + 1) + 12;
  }
  const int cell_w = (opt.width - gap) / opt.cols, cell_h = (opt.height - top) / opt.rows;
  const Rgb c = opt.color.value_or(series_color(0));
  for (size_t k = 0; k < panels.size(); ++k) {
    const WaveformPanel& p = panels[k];
    int col = static_cast<int>(k) % opt.cols, row = static_cast<int>(k) / opt.cols;
    int cx0 = gap + col * cell_w, cy0 = top + row * cell_h;
    img.text(cx0, cy0, p.title, {colors::text, fs});
    Rect box{cx0, cy0 + th + 6, cx0 + cell_w - gap - 1, cy0 + cell_h - gap};
    if (box.width() < 4 || box.height() < 4) fail("waveform grid of {}x{} does not fit in {}x{} pixels", opt.rows, opt.cols, opt.width, opt.height);
    img.fill_rect(box.x0, box.y0, box.x1, box.y1, Rgb{248, 248, 250});
    const int inner_w = box.width() - 2, inner_h = box.height() - 2;
    auto map_y = [&](double v) {
      return static_cast<int>(std::lround(box.y1 - 1 - (v - y_lo) / (y_hi - y_lo) * (inner_h - 1)));
    };
    img.set_clip({box.x0 + 1, box.y0 + 1, box.x1 - 1, box.y1 - 1});
    if (y_lo < 0 && y_hi > 0) img.fill_rect(box.x0, map_y(0), box.x1, map_y(0), colors::grid);
    const size_t n = p.samples.size();
    for (int i = 0; i < inner_w && n > 0; ++i) {
      // Samples under this pixel column, plus the next one so that sparse
      // waveforms (fewer samples than pixels) stay connected.
      size_t s0 = static_cast<size_t>(static_cast<double>(i) * n / inner_w);
      size_t s1 = std::min(n, std::max(s0 + 1, static_cast<size_t>(static_cast<double>(i + 1) * n / inner_w)) + 1);
      float mn = std::numeric_limits<float>::infinity(), mx = -mn;
      for (size_t s = s0; s < s1; ++s)
        if (std::isfinite(p.samples[s])) mn = std::min(mn, p.samples[s]), mx = std::max(mx, p.samples[s]);
      if (mn > mx) continue;
      img.fill_rect(box.x0 + 1 + i, map_y(mx), box.x0 + 1 + i, map_y(mn), c);
    }
    img.clear_clip();
    img.rect(box.x0, box.y0, box.x1, box.y1, Rgb{170, 170, 170});
  }
  return img;
}

Image waveform_grid(const std::string& path, const std::vector<WaveformPanel>& panels, const WaveformGridOptions& opt) {
  Image img;
  write_chart(path, [&] { return img = render_waveform_grid(panels, opt); });
  return img;
}

Image render_spectrogram_stack(const std::vector<SpectrogramPanel>& panels, const SpectrogramOptions& opt) {
  if (panels.empty()) fail("spectrogram plot needs at least one panel");
  Extent ev;
  for (const SpectrogramPanel& p : panels) {
    if (p.bins < 1 || p.frames < 1 || p.values.size() != static_cast<size_t>(p.bins) * static_cast<size_t>(p.frames))
      fail("spectrogram '{}': {} values do not make {} bins x {} frames", p.title, p.values.size(), p.bins, p.frames);
    for (float v : p.values) ev.add(v);
  }
  double v_lo = 0, v_hi = 0;
  choose_limits(ev, opt.v_min, opt.v_max, 0.0, false, v_lo, v_hi);
  if (opt.panel_height < 60) fail("spectrogram panel height {} is below 60 pixels", opt.panel_height);

  const int fs = 2, title_h = opt.title.empty() ? 0 : 9 * (fs + 1) + 20;
  const int bar_w = 20, bar_gap = 22;
  int value_label_w = 0;
  std::vector<Tick> bar_ticks = nice_ticks(v_lo, v_hi, std::max(2, static_cast<int>(panels.size()) * opt.panel_height / 70));
  for (const Tick& t : bar_ticks) value_label_w = std::max(value_label_w, Image::text_width(t.label, fs));
  Image img(opt.width, title_h + static_cast<int>(panels.size()) * opt.panel_height);
  if (!opt.title.empty()) img.text(opt.width / 2, 10, opt.title, {colors::black, fs + 1, HAlign::center});

  Rect span{0, 0, 0, 0};
  for (size_t k = 0; k < panels.size(); ++k) {
    const SpectrogramPanel& p = panels[k];
    AxesSpec spec;
    spec.title = p.title, spec.x_label = opt.x_label, spec.y_label = opt.y_label;
    spec.x_min = 0, spec.x_max = p.frames * opt.seconds_per_frame;
    spec.y_min = 0, spec.y_max = p.bins * opt.hz_per_bin;
    spec.x_grid = spec.y_grid = false;
    spec.font_scale = fs;
    spec.right_margin = bar_gap + bar_w + 8 + value_label_w + 10 + 9 * fs + 10;
    int y0 = title_h + static_cast<int>(k) * opt.panel_height;
    Axes axes({0, y0, opt.width - 1, y0 + opt.panel_height - 1}, spec);
    const Rect& a = axes.area();
    if (k == 0) span = a;
    span.y1 = a.y1;
    // Each pixel shows the loudest cell it covers, so narrow peaks survive
    // when there are more frames or bins than pixels.
    auto cells = [](int i, int pixels, int count) {
      int c0 = static_cast<int>(static_cast<long>(i) * count / pixels);
      int c1 = std::max(c0 + 1, static_cast<int>(static_cast<long>(i + 1) * count / pixels));
      return std::pair{c0, std::min(c1, count)};
    };
    for (int py = 0; py < a.height(); ++py) {
      auto [b0, b1] = cells(a.height() - 1 - py, a.height(), p.bins);  // low bins at the bottom
      for (int px = 0; px < a.width(); ++px) {
        auto [f0, f1] = cells(px, a.width(), p.frames);
        float m = -std::numeric_limits<float>::infinity();
        for (int b = b0; b < b1; ++b)
          for (int f = f0; f < f1; ++f) {
            float v = p.values[static_cast<size_t>(b) * p.frames + f];
            if (std::isfinite(v)) m = std::max(m, v);
          }
        img.set(a.x0 + px, a.y0 + py, viridis((m - v_lo) / (v_hi - v_lo)));
      }
    }
    axes.draw_frame(img);
  }
  // One colour bar beside all panels.
  const int bx0 = span.x1 + bar_gap, bx1 = bx0 + bar_w - 1;
  for (int y = span.y0; y <= span.y1; ++y)
    img.fill_rect(bx0, y, bx1, y, viridis(static_cast<double>(span.y1 - y) / std::max(span.height() - 1, 1)));
  img.rect(bx0, span.y0, bx1, span.y1, colors::axis);
  for (const Tick& t : bar_ticks) {
    int y = static_cast<int>(std::lround(span.y1 - (t.value - v_lo) / (v_hi - v_lo) * (span.height() - 1)));
    img.fill_rect(bx1 + 1, y, bx1 + 4, y, colors::axis);
    img.text(bx1 + 8, y, t.label, {colors::text, fs, HAlign::left, VAlign::middle});
  }
  img.text(bx1 + 8 + value_label_w + 10, (span.y0 + span.y1) / 2, opt.value_label,
           {colors::text, fs, HAlign::left, VAlign::middle, true});
  return img;
}

Image render_spectrogram_image(const SpectrogramPanel& panel, const SpectrogramOptions& opt) {
  return render_spectrogram_stack({panel}, opt);
}

void spectrogram_image(const std::string& path, const SpectrogramPanel& panel, const SpectrogramOptions& opt) {
  write_chart(path, [&] { return render_spectrogram_image(panel, opt); });
}

void spectrogram_stack(const std::string& path, const std::vector<SpectrogramPanel>& panels, const SpectrogramOptions& opt) {
  write_chart(path, [&] { return render_spectrogram_stack(panels, opt); });
}

}  // namespace mg::io
