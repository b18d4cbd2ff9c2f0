#pragma once
// The charts the apps write beside their numbers, drawn on the canvas of
// io/canvas.h: an Axes helper that maps data coordinates onto a plot area, a
// legend, and the charts themselves (loss curves, the note-frequency histogram,
// the latent map, piano rolls, waveform grids, spectrograms).
//
// Every chart has two forms: render_X(...) returns the Image, X(path, ...)
// writes it as PNG atomically (io/atomic_file.h). Errors are mg::Error naming
// the file.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "io/canvas.h"

namespace mg::io {

// Compact number text for tick labels: 0.5, 10, 250, 1.2k, 3M, 1e-3 style
// (k and M above a thousand, an exponent below 0.01).
std::string compact_number(double v);

struct Tick {
  double value = 0;
  std::string label;
};

struct AxesSpec {
  double x_min = 0, x_max = 1, y_min = 0, y_max = 1;  // data range shown; y must be > 0 with log_y
  std::string title, x_label, y_label;
  bool log_y = false;  // decades as major ticks, 2..9 as minor grid lines
  // Ticks to use instead of the automatic 1-2-5 steps (e.g. pitch names, bar labels).
  std::optional<std::vector<Tick>> x_ticks, y_ticks;
  bool vertical_x_labels = false;  // rotate x tick labels (long or dense labels)
  bool x_grid = true, y_grid = true;  // light lines at the ticks
  int right_margin = 20;  // room to the right of the plot area (a colour bar needs more)
  int font_scale = 2;
};

// Lays out a plot area inside `box` of an image (room for the title, tick
// labels and axis labels) and maps data coordinates to pixels. Layout depends
// only on the box and the spec, so a second Axes built from the same inputs maps
// identically.
class Axes {
 public:
  Axes(Rect box, const AxesSpec& spec);

  const Rect& area() const { return area_; }
  const AxesSpec& spec() const { return spec_; }
  double map_x(double x) const;
  double map_y(double y) const;  // clamps non-positive values to the bottom on a log axis
  const std::vector<Tick>& x_ticks() const { return x_ticks_; }
  const std::vector<Tick>& y_ticks() const { return y_ticks_; }

  // Grid lines under the data: call before drawing data.
  void draw_grid(Image& img) const;
  // Frame, ticks, tick labels, axis labels and title: call after drawing data.
  void draw_frame(Image& img) const;

 private:
  Rect box_, area_;
  AxesSpec spec_;
  std::vector<Tick> x_ticks_, y_ticks_, y_minor_;
};

// Nice ticks over [lo, hi]: multiples of 1, 2 or 5 times a power of ten, about
// `target` of them, all inside the range.
std::vector<Tick> nice_ticks(double lo, double hi, int target);

struct LegendEntry {
  std::string name;
  Rgb color;
  bool dot = false;  // swatch drawn as a dot (scatter groups) instead of a line
};

// A boxed legend in whichever corner of the plot area holds the fewest drawn
// pixels, so it covers as little data as possible.
void draw_legend(Image& img, const Axes& axes, const std::vector<LegendEntry>& entries);

// Shared by the x/y charts. Unset limits follow the data (with a margin on y).
struct ChartOptions {
  int width = 900, height = 500;
  std::string title, x_label, y_label;
  bool log_y = false;
  std::optional<double> x_min, x_max, y_min, y_max;
};

// ---- 1. line chart: loss and accuracy curves --------------------------------

struct Series {
  std::string name;  // legend text; series with an empty name are left out of the legend
  std::vector<double> x, y;  // same length; non-finite points break the line
  std::optional<Rgb> color;  // default series_color(index)
};

struct LineChartOptions : ChartOptions {
  double line_width = 2.0;
  bool markers = false;  // a dot at every point (useful for few points)
};

Image render_line_chart(const std::vector<Series>& series, const LineChartOptions& opt = {});
void line_chart(const std::string& path, const std::vector<Series>& series, const LineChartOptions& opt = {});

// ---- 2. bar chart: the note-frequency histogram -----------------------------

struct Bar {
  std::string label;  // shown under the axis for as many bars as fit without overlap
  double value = 0;
};

struct BarChartOptions : ChartOptions {
  std::optional<Rgb> color;            // default series_color(0)
  std::optional<double> threshold;     // a horizontal line at this value...
  std::string threshold_label;         // ...labelled at its right end
};

Image render_bar_chart(const std::vector<Bar>& bars, const BarChartOptions& opt = {});
void bar_chart(const std::string& path, const std::vector<Bar>& bars, const BarChartOptions& opt = {});

// ---- 3. scatter chart: the VAE's 2-D latent map -----------------------------

struct ScatterPoint {
  double x = 0, y = 0;
  int group = 0;      // colour and legend entry
  std::string label;  // short text drawn beside the point; empty for none
};

struct ScatterOptions : ChartOptions {
  std::vector<std::string> group_names;  // legend, by group index
  std::vector<Rgb> group_colors;         // by group index; default series_color(group)
  double radius = 5.0;
};

Image render_scatter_chart(const std::vector<ScatterPoint>& points, const ScatterOptions& opt = {});
void scatter_chart(const std::string& path, const std::vector<ScatterPoint>& points, const ScatterOptions& opt = {});

// ---- 4. piano roll: primer and generated notes ------------------------------

struct PianoRollNote {
  double start = 0, duration = 1;  // in x units (beats or seconds)
  int pitch = 60;                  // MIDI pitch
  int group = 0;                   // 0 = primer, 1 = generated by default
};

struct PianoRollOptions {
  int width = 900, height = 500;
  std::string title, x_label = "time (quarter notes)";
  std::vector<std::string> group_names = {"primer", "generated"};
  std::vector<Rgb> group_colors;       // default series_color(group)
  std::optional<double> marker_time;   // vertical line, e.g. where generation starts
  std::string marker_label = "generation starts";
};

// Pitches span whole octaves around the notes; grid lines and labels at each C.
Image render_piano_roll(const std::vector<PianoRollNote>& notes, const PianoRollOptions& opt = {});
void piano_roll(const std::string& path, const std::vector<PianoRollNote>& notes, const PianoRollOptions& opt = {});

// ---- 5. waveform grid: decoded clips per epoch ------------------------------

struct WaveformPanel {
  std::string title;
  std::vector<float> samples;
};

struct WaveformGridOptions {
  int rows = 4, cols = 4;  // panels fill row by row; missing panels stay empty
  int width = 1200, height = 900;
  std::string title;
  // Shared vertical range of every panel; default the data's range. Fix it when
  // frames of a GIF should be comparable.
  std::optional<float> y_min, y_max;
  std::optional<Rgb> color;  // default series_color(0)
};

// Each panel draws the min/max envelope of the samples per pixel column.
Image render_waveform_grid(const std::vector<WaveformPanel>& panels, const WaveformGridOptions& opt = {});
// Writes the PNG and returns the picture, e.g. to collect GIF frames per epoch.
Image waveform_grid(const std::string& path, const std::vector<WaveformPanel>& panels, const WaveformGridOptions& opt = {});

// ---- 6. spectrograms --------------------------------------------------------

struct SpectrogramPanel {
  std::string title;
  int bins = 0, frames = 0;   // rows = frequency bins (bin 0 lowest), cols = frames
  std::vector<float> values;  // row-major [bins][frames], e.g. dB or log magnitude
};

struct SpectrogramOptions {
  int width = 900;
  int panel_height = 320;  // per panel; the image is as tall as the panels need
  std::string title;       // above all panels
  // Axis units: frame index times seconds_per_frame, bin index times hz_per_bin.
  double seconds_per_frame = 1, hz_per_bin = 1;
  std::string x_label = "frame", y_label = "bin", value_label = "dB";
  // Colour scale limits shared by every panel; default the data's range.
  std::optional<float> v_min, v_max;
};

// One spectrogram with a colour bar, low frequencies at the bottom.
Image render_spectrogram_image(const SpectrogramPanel& panel, const SpectrogramOptions& opt = {});
void spectrogram_image(const std::string& path, const SpectrogramPanel& panel, const SpectrogramOptions& opt = {});
// Several spectrograms stacked vertically on one colour scale (input vs reconstruction).
Image render_spectrogram_stack(const std::vector<SpectrogramPanel>& panels, const SpectrogramOptions& opt = {});
void spectrogram_stack(const std::string& path, const std::vector<SpectrogramPanel>& panels, const SpectrogramOptions& opt = {});

}  // namespace mg::io
