#pragma once
// The report of a run: OUT/report.html, one page to open, look at and listen
// to. Each command that writes into OUT (train, generate, interpolate, eval)
// fills a section of it: the command line, the configuration, the data
// summary, tables (the per-epoch one, statistics), pictures, audio clips with
// their metrics, a grid of clips, and clickable image maps.
//
// The page's state lives in OUT/report.json; a RunReport loads it, so a later
// command adds its section to what an earlier one wrote, and save() writes
// report.json and report.html again, each atomically (io/atomic_file.h), so a
// browser or a crash never sees half a page.
//
// The page is self-contained and safe to open: relative links only (every
// file must lie inside OUT), every text HTML-escaped, every path URL-encoded,
// no script, nothing from the network, a small inline stylesheet. A picture
// or clip whose file is missing when the page is written is shown as a note.
//
// Paths given to a section are inside OUT either as the app wrote them
// ("OUT/loss.png", absolute or relative to the working folder) or relative to
// OUT ("loss.png"); a path outside OUT is an mg::Error.
#include <cstdint>
#include <deque>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace mg::app {

// A table cell, a setting or a metric: a number or a text. Numbers show
// whole when they are integers, otherwise with 5 significant digits. A bool
// shows as yes/no, and an integer beyond 2^53 (a seed) is kept as its exact
// text, since a double would change its last digits.
class ReportValue {
 public:
  ReportValue(std::string text) : text_(std::move(text)) {}
  ReportValue(const char* text) : text_(text) {}
  template <typename T>
    requires std::is_arithmetic_v<T>
  ReportValue(T number) {
    constexpr int64_t kExact = int64_t(1) << 53;
    if constexpr (std::is_same_v<T, bool>) {
      text_ = number ? "yes" : "no";
      return;
    } else if constexpr (std::is_integral_v<T>) {
      if (std::cmp_greater(number, kExact) || std::cmp_less(number, -kExact)) {
        text_ = std::to_string(number);
        return;
      }
    }
    number_ = static_cast<double>(number);
    is_number_ = true;
  }

  bool is_number() const { return is_number_; }
  double number() const { return number_; }
  std::string text() const;  // as shown on the page

 private:
  std::string text_;
  double number_ = 0;
  bool is_number_ = false;
};

using ReportFacts = std::vector<std::pair<std::string, ReportValue>>;

struct ReportTable {
  std::string title;
  std::vector<std::string> columns;
  std::vector<std::vector<ReportValue>> rows;

  // Appends a row; an mg::Error when its length differs from columns.
  void add(std::vector<ReportValue> row);
  // Drops rows whose first cell is a number above max_first, as a resumed run
  // does with the epochs after its checkpoint.
  void drop_rows_after(double max_first);
};

// A sound with its player, metrics and an optional picture beside it.
struct ReportClip {
  std::string id;       // unique in the page: image-map points link to it
  std::string audio;    // WAV file
  std::string caption;
  std::string image;    // optional picture beside the player (piano roll, spectrogram)
  std::string midi;     // optional MIDI file, linked beside the player
  ReportFacts metrics;
};

// A clickable disc of an image map, in the image's pixels (origin top left).
struct ReportMapPoint {
  double x = 0, y = 0, radius = 8;
  std::string clip_id;  // the ReportClip it links to
  std::string label;    // tooltip
};

struct ReportDataSummary {
  std::string source;      // folder read, or "built-in"
  int64_t files_read = 0;
  std::vector<std::pair<std::string, std::string>> skipped;  // file, reason
  ReportFacts details;     // e.g. training and held-out examples
};

struct ReportPicture {
  std::string path, caption;
};

struct ReportClipGrid {
  std::string caption;
  int rows = 0, cols = 0;
  std::vector<ReportClip> clips;  // row-major, rows * cols
};

struct ReportImageMap {
  std::string image, caption;
  std::vector<ReportMapPoint> points;
};

// What one command shows. Shown in this order: command line, configuration,
// data, tables, pictures, image maps, clips, grids.
class ReportSection {
 public:
  std::string name;          // "train", "generate", ...
  std::string command_line;  // shell-quoted
  ReportFacts config;
  ReportDataSummary data;
  std::deque<ReportTable> tables;  // a deque: references from table() stay valid
  std::vector<ReportPicture> pictures;
  std::vector<ReportImageMap> maps;
  std::vector<ReportClip> clips;
  std::vector<ReportClipGrid> grids;

  // Sets a configuration entry (replaces one with the same key).
  void set(const std::string& key, ReportValue value);
  // The table with this title, added when absent; when its columns differ
  // from `columns` it is emptied and takes them.
  ReportTable& table(const std::string& title, const std::vector<std::string>& columns);
  // Adds a picture, or re-captions the one with the same path.
  void picture(const std::string& path, const std::string& caption);
  // Adds a clip, or replaces the one with the same id.
  void clip(ReportClip clip);
  // Adds a rows x cols grid of clips, or replaces the one with the same caption.
  void clip_grid(const std::string& caption, int rows, int cols, std::vector<ReportClip> clips);
  // Whether `path` lies inside the output folder, so that the page can link it.
  bool contains(const std::string& path) const;
  // Adds an image map, or replaces the one on the same image.
  void image_map(const std::string& image, const std::string& caption, std::vector<ReportMapPoint> points);

 private:
  friend class RunReport;
  std::string in_out(const std::string& path) const;
  ReportClip clip_in_out(ReportClip c) const;
  std::string out_dir_;
};

class RunReport {
 public:
  // Largest report.json read back; a larger one is ignored like a corrupt one.
  static constexpr uintmax_t kMaxStateBytes = uintmax_t(16) << 20;

  // The report of out_dir for program `app` (the page's title). Loads
  // out_dir/report.json when present; one that cannot be read, is too large
  // or is not a report is ignored with a warning on stderr (save() replaces it).
  RunReport(std::string out_dir, std::string app);
  RunReport(const RunReport&) = delete;
  RunReport& operator=(const RunReport&) = delete;

  // The section of a command that starts now: a section of the same name
  // from an earlier command is emptied (its place in the page kept). The
  // section's title is the app and `name`; argv is the command line shown.
  ReportSection& start(const std::string& name, const std::vector<std::string>& argv);
  ReportSection& start(const std::string& name, int argc, const char* const* argv);
  // The section `name` as it is (added empty when absent): a resumed train
  // run keeps its earlier epochs.
  ReportSection& section(const std::string& name);

  // Writes report.json and report.html, each atomically; creates out_dir.
  // The sections this report started or touched replace theirs in the
  // report.json on disk, which keeps the others as they are now: another
  // command writing into the same folder meanwhile keeps its section.
  void save() const;
  // The page as save() would write it now.
  std::string html() const;

  const std::string& out_dir() const { return out_dir_; }
  // The sections loaded at construction, and those of this report.
  const std::deque<ReportSection>& sections() const { return sections_; }

 private:
  std::optional<std::deque<ReportSection>> load() const;  // nullopt: no report.json
  std::deque<ReportSection> merged() const;
  std::string render(const std::deque<ReportSection>& sections) const;

  std::string out_dir_, app_;
  std::deque<ReportSection> sections_;  // a deque: references from start() stay valid
  std::set<std::string> owned_;         // names of the sections this report writes
};

// Text made safe for HTML content and quoted attributes (& < > " '), bytes
// that are not UTF-8 written as \xNN (io/utf8.h).
// A command line as a shell would take it back: each argument quoted when it needs to be.
std::string shell_command(const std::vector<std::string>& argv);
std::string html_escape(const std::string& s);
// A relative path percent-encoded for an href or src: every byte but
// A-Z a-z 0-9 - . _ ~ and '/' becomes %XX.
std::string url_encode_path(const std::string& path);

}  // namespace mg::app
