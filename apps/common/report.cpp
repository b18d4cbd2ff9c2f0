#include "apps/common/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "io/atomic_file.h"
#include "io/utf8.h"
#include "tensor/error.h"

namespace mg::app {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kStateFile = "report.json";
constexpr const char* kPageFile = "report.html";
constexpr const char* kFormat = "musicgen-report-1";

// ---- text helpers -----------------------------------------------------------

// ASCII only, whatever the locale says of bytes above 127.
bool is_alnum(unsigned char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

// An HTML id (and URL fragment) from any text: letters, digits, '-' and '_'
// kept, every other byte written as ".XX", so distinct texts give distinct ids.
std::string slug(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (is_alnum(c) || c == '-' || c == '_') out += static_cast<char>(c);
    else out += fmt::format(".{:02X}", c);
  }
  return out;
}

std::string clip_anchor(const std::string& id) { return "clip-" + slug(id); }

std::string shell_quote(const std::string& arg) {
  if (!arg.empty() && arg.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=:,+@%") ==
                          std::string::npos)
    return arg;
  std::string q = "'";
  for (char c : arg) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// A path the page may link to: relative, inside OUT (no ".." part), not empty.
bool safe_relative(const std::string& path) {
  const fs::path p(path);
  if (path.empty() || p.is_absolute()) return false;
  for (const fs::path& part : p)
    if (part == "..") return false;
  return true;
}

// ---- JSON state -------------------------------------------------------------

json to_json(const ReportValue& v) {
  return v.is_number() && std::isfinite(v.number()) ? json(v.number()) : json(v.text());
}
ReportValue value_from(const json& j) {
  if (j.is_number()) return ReportValue(j.get<double>());
  return ReportValue(j.get<std::string>());  // throws for any other type
}
json to_json(const ReportFacts& facts) {
  json a = json::array();
  for (const auto& [k, v] : facts) a.push_back({k, to_json(v)});
  return a;
}
ReportFacts facts_from(const json& j) {
  ReportFacts facts;
  for (const json& kv : j) facts.emplace_back(kv.at(0).get<std::string>(), value_from(kv.at(1)));
  return facts;
}
json to_json(const ReportClip& c) {
  return {{"id", c.id}, {"audio", c.audio}, {"caption", c.caption},
          {"image", c.image}, {"midi", c.midi}, {"metrics", to_json(c.metrics)}};
}
ReportClip clip_from(const json& j) {
  return {j.at("id").get<std::string>(),    j.at("audio").get<std::string>(), j.at("caption").get<std::string>(),
          j.at("image").get<std::string>(), j.at("midi").get<std::string>(),  facts_from(j.at("metrics"))};
}
std::vector<ReportClip> clips_from(const json& j) {
  std::vector<ReportClip> clips;
  for (const json& c : j) clips.push_back(clip_from(c));
  return clips;
}

json to_json(const ReportSection& s) {
  json j = {{"name", s.name}, {"command_line", s.command_line}, {"config", to_json(s.config)}};
  j["data"] = {{"source", s.data.source}, {"files_read", s.data.files_read},
               {"skipped", s.data.skipped}, {"details", to_json(s.data.details)}};
  j["tables"] = json::array();
  for (const ReportTable& t : s.tables) {
    json rows = json::array();
    for (const auto& row : t.rows) {
      json r = json::array();
      for (const ReportValue& v : row) r.push_back(to_json(v));
      rows.push_back(r);
    }
    j["tables"].push_back({{"title", t.title}, {"columns", t.columns}, {"rows", rows}});
  }
  j["pictures"] = json::array();
  for (const ReportPicture& p : s.pictures) j["pictures"].push_back({p.path, p.caption});
  j["maps"] = json::array();
  for (const ReportImageMap& m : s.maps) {
    json points = json::array();
    for (const ReportMapPoint& p : m.points)
      points.push_back({{"x", p.x}, {"y", p.y}, {"radius", p.radius}, {"clip", p.clip_id}, {"label", p.label}});
    j["maps"].push_back({{"image", m.image}, {"caption", m.caption}, {"points", points}});
  }
  j["clips"] = json::array();
  for (const ReportClip& c : s.clips) j["clips"].push_back(to_json(c));
  j["grids"] = json::array();
  for (const ReportClipGrid& g : s.grids) {
    json clips = json::array();
    for (const ReportClip& c : g.clips) clips.push_back(to_json(c));
    j["grids"].push_back({{"caption", g.caption}, {"rows", g.rows}, {"cols", g.cols}, {"clips", clips}});
  }
  return j;
}

void section_from(const json& j, ReportSection& s) {
  s.name = j.at("name").get<std::string>();
  s.command_line = j.at("command_line").get<std::string>();
  s.config = facts_from(j.at("config"));
  const json& d = j.at("data");
  s.data.source = d.at("source").get<std::string>();
  s.data.files_read = d.at("files_read").get<int64_t>();
  s.data.skipped = d.at("skipped").get<std::vector<std::pair<std::string, std::string>>>();
  s.data.details = facts_from(d.at("details"));
  for (const json& t : j.at("tables")) {
    ReportTable& table = s.tables.emplace_back();
    table.title = t.at("title").get<std::string>();
    table.columns = t.at("columns").get<std::vector<std::string>>();
    for (const json& r : t.at("rows")) {
      std::vector<ReportValue> row;
      for (const json& v : r) row.push_back(value_from(v));
      table.rows.push_back(std::move(row));
    }
  }
  for (const json& p : j.at("pictures")) s.pictures.push_back({p.at(0).get<std::string>(), p.at(1).get<std::string>()});
  for (const json& m : j.at("maps")) {
    ReportImageMap map{m.at("image").get<std::string>(), m.at("caption").get<std::string>(), {}};
    for (const json& p : m.at("points"))
      map.points.push_back({p.at("x").get<double>(), p.at("y").get<double>(), p.at("radius").get<double>(),
                            p.at("clip").get<std::string>(), p.at("label").get<std::string>()});
    s.maps.push_back(std::move(map));
  }
  s.clips = clips_from(j.at("clips"));
  for (const json& g : j.at("grids"))
    s.grids.push_back({g.at("caption").get<std::string>(), g.at("rows").get<int>(), g.at("cols").get<int>(),
                       clips_from(g.at("clips"))});
}

// ---- HTML -------------------------------------------------------------------

constexpr const char* kStyle = R"(body{font:15px/1.45 system-ui,sans-serif;color:#222;max-width:1400px;margin:1em auto;padding:0 1em}
h1{margin:.2em 0}h2{border-bottom:2px solid #ddd;margin-top:2em}h3{margin:1.2em 0 .4em}
pre{background:#f4f4f4;padding:.5em .7em;white-space:pre-wrap;word-break:break-all}
table{border-collapse:collapse;margin:.3em 0}th,td{border:1px solid #ddd;padding:.15em .6em;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:0 0 1em}figcaption{color:#555}.figs{display:flex;flex-wrap:wrap;gap:1em}
img{max-width:100%;height:auto;border:1px solid #ddd}.map img{max-width:none}.map{overflow-x:auto}
.clip{display:flex;flex-wrap:wrap;gap:1em;border:1px solid #ddd;padding:.6em;margin:.6em 0}
.clip img{max-width:min(520px,100%)}.clip:target{outline:3px solid #e69f00}
.grid td{padding:.3em}.grid .clip{margin:0;border:0}.note{color:#a33})";

class PageWriter {
 public:
  PageWriter(const std::string& out_dir, const std::set<std::string>& clip_ids) : out_(out_dir), clip_ids_(clip_ids) {}
  std::string page;

  void section(const std::string& app, const ReportSection& s) {
    page += fmt::format("<section id=\"s-{}\">\n<h2>{} {}</h2>\n", slug(s.name), html_escape(app), html_escape(s.name));
    if (!s.command_line.empty()) page += "<pre>" + html_escape(s.command_line) + "</pre>\n";
    if (!s.config.empty()) page += "<h3>Configuration</h3>\n" + facts(s.config);
    data(s.data);
    for (const ReportTable& t : s.tables) table(t);
    if (!s.pictures.empty()) {
      page += "<h3>Pictures</h3>\n<div class=figs>\n";
      for (const ReportPicture& p : s.pictures) page += figure(p.path, p.caption);
      page += "</div>\n";
    }
    for (const ReportImageMap& m : s.maps) image_map(m);
    if (!s.clips.empty()) page += "<h3>Clips</h3>\n";
    for (const ReportClip& c : s.clips) page += clip(c);
    for (const ReportClipGrid& g : s.grids) grid(g);
    page += "</section>\n";
  }

 private:
  // The URL of a file to show, or empty after adding a note when it cannot be.
  std::string link(const std::string& path, const char* what) {
    if (!path.empty() && !safe_relative(path)) {
      notes_ += fmt::format("<p class=note>{} not shown: {} is not inside the output folder</p>\n", what,
                            html_escape(path));
      return {};
    }
    std::error_code ec;
    if (path.empty() || !fs::is_regular_file(fs::path(out_) / path, ec)) {
      notes_ += fmt::format("<p class=note>{} missing: {}</p>\n", what, path.empty() ? "(no file given)" : html_escape(path));
      return {};
    }
    return html_escape(url_encode_path(path));
  }
  std::string take_notes() { return std::exchange(notes_, {}); }

  static std::string cell(const ReportValue& v) {
    return (v.is_number() ? "<td class=n>" : "<td>") + html_escape(v.text()) + "</td>";
  }
  static std::string facts(const ReportFacts& f) {
    std::string h = "<table>\n";
    for (const auto& [k, v] : f) h += "<tr><th>" + html_escape(k) + "</th>" + cell(v) + "</tr>\n";
    return h + "</table>\n";
  }

  void data(const ReportDataSummary& d) {
    if (d.source.empty() && d.files_read == 0 && d.skipped.empty() && d.details.empty()) return;
    page += fmt::format("<h3>Data</h3>\n<p>{} file{} read", d.files_read, d.files_read == 1 ? "" : "s");
    if (!d.source.empty()) page += " from <code>" + html_escape(d.source) + "</code>";
    page += fmt::format(", {} skipped.</p>\n", d.skipped.size());
    if (!d.details.empty()) page += facts(d.details);
    if (d.skipped.empty()) return;
    page += fmt::format("<details><summary>{} file{} skipped</summary>\n<table>\n<tr><th>file</th><th>reason</th></tr>\n",
                        d.skipped.size(), d.skipped.size() == 1 ? "" : "s");
    for (const auto& [file, why] : d.skipped)
      page += "<tr><td>" + html_escape(file) + "</td><td>" + html_escape(why) + "</td></tr>\n";
    page += "</table></details>\n";
  }

  void table(const ReportTable& t) {
    page += "<h3>" + html_escape(t.title) + "</h3>\n<table>\n<tr>";
    for (const std::string& c : t.columns) page += "<th>" + html_escape(c) + "</th>";
    page += "</tr>\n";
    for (const auto& row : t.rows) {
      page += "<tr>";
      for (const ReportValue& v : row) page += cell(v);
      page += "</tr>\n";
    }
    page += "</table>\n";
  }

  // A picture linked to itself (full size), with its caption when shown_caption.
  std::string figure(const std::string& path, const std::string& caption, bool shown_caption = true) {
    const std::string url = link(path, "picture");
    if (url.empty()) return take_notes();
    return fmt::format("<figure><a href=\"{0}\"><img src=\"{0}\" alt=\"{1}\"></a>{2}</figure>\n", url,
                       html_escape(caption),
                       shown_caption ? "<figcaption>" + html_escape(caption) + "</figcaption>" : std::string());
  }

  std::string clip(const ReportClip& c) {
    std::string h = fmt::format("<div class=clip id=\"{}\"><div>\n", clip_anchor(c.id));
    if (!c.caption.empty()) h += "<b>" + html_escape(c.caption) + "</b><br>\n";
    if (const std::string url = link(c.audio, "audio"); !url.empty())
      h += fmt::format("<audio controls preload=\"metadata\" src=\"{0}\"></audio><br>\n<a href=\"{0}\">WAV</a>", url);
    if (!c.midi.empty())
      if (const std::string url = link(c.midi, "MIDI"); !url.empty()) h += fmt::format(" <a href=\"{}\">MIDI</a>", url);
    h += "\n" + take_notes();
    if (!c.metrics.empty()) h += facts(c.metrics);
    h += "</div>\n";
    if (!c.image.empty()) h += figure(c.image, c.caption, false);
    return h + "</div>\n";
  }

  void grid(const ReportClipGrid& g) {
    page += "<h3>" + html_escape(g.caption) + "</h3>\n<table class=grid>\n";
    for (int r = 0; r < g.rows; ++r) {
      page += "<tr>";
      for (int c = 0; c < g.cols; ++c) {
        const size_t i = static_cast<size_t>(r) * static_cast<size_t>(g.cols) + static_cast<size_t>(c);
        page += "<td>" + (i < g.clips.size() ? clip(g.clips[i]) : std::string()) + "</td>";
      }
      page += "</tr>\n";
    }
    page += "</table>\n";
  }

  // An <img usemap> whose discs link to the clips' anchors; points whose clip
  // is not in the page, or whose position is not finite, get no disc.
  void image_map(const ReportImageMap& m) {
    page += "<h3>" + html_escape(m.caption) + "</h3>\n";
    const std::string url = link(m.image, "image map");
    if (url.empty()) {
      page += take_notes();
      return;
    }
    const std::string name = fmt::format("map{}", ++maps_);
    page += fmt::format("<figure class=map><img src=\"{}\" usemap=\"#{}\" alt=\"{}\">\n<map name=\"{}\">\n", url, name,
                        html_escape(m.caption), name);
    size_t unlinked = 0;
    for (const ReportMapPoint& p : m.points) {
      if (!clip_ids_.count(p.clip_id) || !std::isfinite(p.x) || !std::isfinite(p.y) || !std::isfinite(p.radius)) {
        ++unlinked;
        continue;
      }
      const std::string label = html_escape(p.label.empty() ? p.clip_id : p.label);
      page += fmt::format("<area shape=circle coords=\"{},{},{}\" href=\"#{}\" alt=\"{}\" title=\"{}\">\n",
                          std::lround(p.x), std::lround(p.y), std::max(1L, std::lround(p.radius)),
                          clip_anchor(p.clip_id), label, label);
    }
    page += "</map><figcaption>Click a point to go to its clip.</figcaption></figure>\n";
    if (unlinked) page += fmt::format("<p class=note>{} point(s) not linked: no such clip in this report, or no position</p>\n", unlinked);
  }

  const std::string& out_;
  const std::set<std::string>& clip_ids_;
  std::string notes_;
  int maps_ = 0;
};

}  // namespace

// ---- values, tables, sections -----------------------------------------------

std::string ReportValue::text() const {
  if (!is_number_) return text_;
  if (std::isnan(number_)) return "nan";
  if (std::isinf(number_)) return number_ > 0 ? "inf" : "-inf";
  if (number_ == std::floor(number_) && std::fabs(number_) < 1e15) return fmt::format("{:.0f}", number_);
  return fmt::format("{:.5g}", number_);
}

void ReportTable::add(std::vector<ReportValue> row) {
  MG_CHECK(row.size() == columns.size(), "report table '{}': {} values for {} columns", title, row.size(),
           columns.size());
  rows.push_back(std::move(row));
}

void ReportTable::drop_rows_after(double max_first) {
  std::erase_if(rows, [&](const auto& r) { return !r.empty() && r[0].is_number() && r[0].number() > max_first; });
}

std::string ReportSection::in_out(const std::string& path) const {
  if (path.empty()) return path;
  const fs::path out = fs::absolute(out_dir_).lexically_normal();
  const fs::path rel = fs::absolute(path).lexically_normal().lexically_relative(out);
  if (!rel.empty() && safe_relative(rel.generic_string())) return rel.generic_string();
  const fs::path as_given = fs::path(path).lexically_normal();
  if (safe_relative(as_given.generic_string())) return as_given.generic_string();
  fail("report: {} is not inside the output folder {}", path, out_dir_);
}

bool ReportSection::contains(const std::string& path) const {
  try {
    in_out(path);
    return true;
  } catch (const mg::Error&) {
    return false;
  }
}

ReportClip ReportSection::clip_in_out(ReportClip c) const {
  c.audio = in_out(c.audio), c.image = in_out(c.image), c.midi = in_out(c.midi);
  return c;
}

void ReportSection::set(const std::string& key, ReportValue value) {
  for (auto& [k, v] : config)
    if (k == key) return void(v = std::move(value));
  config.emplace_back(key, std::move(value));
}

ReportTable& ReportSection::table(const std::string& title, const std::vector<std::string>& columns) {
  for (ReportTable& t : tables) {
    if (t.title != title) continue;
    if (t.columns != columns) t = {title, columns, {}};
    return t;
  }
  return tables.emplace_back(ReportTable{title, columns, {}});
}

void ReportSection::picture(const std::string& path, const std::string& caption) {
  const std::string rel = in_out(path);
  for (ReportPicture& p : pictures)
    if (p.path == rel) return void(p.caption = caption);
  pictures.push_back({rel, caption});
}

void ReportSection::clip(ReportClip c) {
  c = clip_in_out(std::move(c));
  for (ReportClip& old : clips)
    if (old.id == c.id) return void(old = std::move(c));
  clips.push_back(std::move(c));
}

void ReportSection::clip_grid(const std::string& caption, int rows, int cols, std::vector<ReportClip> grid_clips) {
  MG_CHECK(rows > 0 && cols > 0 && grid_clips.size() <= static_cast<size_t>(rows) * static_cast<size_t>(cols),
           "report grid '{}': {} clips do not fit {} x {}", caption, grid_clips.size(), rows, cols);
  for (ReportClip& c : grid_clips) c = clip_in_out(std::move(c));
  ReportClipGrid g{caption, rows, cols, std::move(grid_clips)};
  for (ReportClipGrid& old : grids)
    if (old.caption == caption) return void(old = std::move(g));
  grids.push_back(std::move(g));
}

void ReportSection::image_map(const std::string& image, const std::string& caption,
                              std::vector<ReportMapPoint> points) {
  ReportImageMap m{in_out(image), caption, std::move(points)};
  for (ReportImageMap& old : maps)
    if (old.image == m.image) return void(old = std::move(m));
  maps.push_back(std::move(m));
}

// ---- the report ---------------------------------------------------------------

RunReport::RunReport(std::string out_dir, std::string app) : out_dir_(std::move(out_dir)), app_(std::move(app)) {
  try {
    if (auto loaded = load()) sections_ = std::move(*loaded);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "warning: ignoring %s (%s); the report starts afresh\n",
                 (fs::path(out_dir_) / kStateFile).string().c_str(), e.what());
  }
}

std::optional<std::deque<ReportSection>> RunReport::load() const {
  const fs::path state = fs::path(out_dir_) / kStateFile;
  std::error_code ec;
  if (!fs::exists(state, ec)) return std::nullopt;
  if (!fs::is_regular_file(state)) fail("not a regular file");
  if (fs::file_size(state) > kMaxStateBytes) fail("larger than {} bytes", kMaxStateBytes);
  std::ifstream f(state, std::ios::binary);
  const std::string text{std::istreambuf_iterator<char>(f), {}};
  if (!f) fail("cannot be read");
  const json j = json::parse(text);
  if (j.at("format") != kFormat) fail("format is not {}", kFormat);
  std::deque<ReportSection> sections;
  for (const json& s : j.at("sections")) {
    ReportSection& section = sections.emplace_back();
    section_from(s, section);
    section.out_dir_ = out_dir_;
  }
  return sections;
}

std::deque<ReportSection> RunReport::merged() const {
  std::optional<std::deque<ReportSection>> disk;
  try {
    disk = load();
  } catch (const std::exception&) {  // already warned about, or torn by hand since: ours replaces it
  }
  if (!disk) return sections_;
  for (const ReportSection& s : sections_) {
    if (!owned_.count(s.name)) continue;
    auto same = std::find_if(disk->begin(), disk->end(), [&](const ReportSection& d) { return d.name == s.name; });
    if (same != disk->end()) *same = s;
    else disk->push_back(s);
  }
  return std::move(*disk);
}

ReportSection& RunReport::section(const std::string& name) {
  owned_.insert(name);
  for (ReportSection& s : sections_)
    if (s.name == name) return s;
  ReportSection& s = sections_.emplace_back();
  s.name = name;
  s.out_dir_ = out_dir_;
  return s;
}

ReportSection& RunReport::start(const std::string& name, const std::vector<std::string>& argv) {
  ReportSection& s = section(name);
  s = ReportSection{};
  s.name = name;
  s.out_dir_ = out_dir_;
  s.command_line = shell_command(argv);
  return s;
}

std::string shell_command(const std::vector<std::string>& argv) {
  std::string line;
  for (const std::string& a : argv) {
    if (!line.empty()) line += ' ';
    line += shell_quote(a);
  }
  return line;
}

ReportSection& RunReport::start(const std::string& name, int argc, const char* const* argv) {
  return start(name, std::vector<std::string>(argv, argv + argc));
}

std::string RunReport::html() const { return render(merged()); }

std::string RunReport::render(const std::deque<ReportSection>& sections) const {
  std::set<std::string> clip_ids;
  for (const ReportSection& s : sections) {
    for (const ReportClip& c : s.clips) clip_ids.insert(c.id);
    for (const ReportClipGrid& g : s.grids)
      for (const ReportClip& c : g.clips) clip_ids.insert(c.id);
  }
  PageWriter w(out_dir_, clip_ids);
  w.page = fmt::format(
      "<!doctype html>\n<html lang=en>\n<head>\n<meta charset=utf-8>\n"
      "<meta name=viewport content=\"width=device-width, initial-scale=1\">\n<title>{0} report</title>\n"
      "<style>\n{1}\n</style>\n</head>\n<body>\n<h1>{0}</h1>\n",
      html_escape(app_), kStyle);
  if (sections.size() > 1) {
    w.page += "<nav>";
    for (const ReportSection& s : sections)
      w.page += fmt::format("<a href=\"#s-{}\">{}</a> ", slug(s.name), html_escape(s.name));
    w.page += "</nav>\n";
  }
  for (const ReportSection& s : sections) w.section(app_, s);
  return w.page + "</body>\n</html>\n";
}

void RunReport::save() const {
  const std::deque<ReportSection> all = merged();
  json sections = json::array();
  for (const ReportSection& s : all) sections.push_back(to_json(s));
  json state = {{"format", kFormat}, {"app", app_}, {"sections", sections}};
  const std::string state_path = (fs::path(out_dir_) / kStateFile).string();
  io::ensure_parent_dir(state_path);
  // File names need not be UTF-8: their invalid bytes are written as \xNN (io/utf8.h).
  io::make_valid_utf8(state);
  io::write_file_atomic(state_path, state.dump(1, ' ', false, json::error_handler_t::replace) + "\n");
  io::write_file_atomic((fs::path(out_dir_) / kPageFile).string(), render(all));
}

std::string html_escape(const std::string& text) {
  const std::string s = io::valid_utf8(text);  // a page is UTF-8; a file name need not be
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f ? '?' : static_cast<char>(c);
    }
  }
  return out;
}

std::string url_encode_path(const std::string& path) {
  std::string out;
  for (unsigned char c : path) {
    if (is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') out += static_cast<char>(c);
    else out += fmt::format("%{:02X}", c);
  }
  return out;
}

}  // namespace mg::app
