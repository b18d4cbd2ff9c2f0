// The run report (apps/common/report.h): what the page says and links to,
// how it accumulates across commands, and what a browser makes of it.
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <fmt/format.h>
// The screenshot is decoded with a private (static) copy of stb_image.
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include <stb_image.h>
#pragma GCC diagnostic pop

#include "apps/common/report.h"
#include "io/audio.h"
#include "io/plot.h"
#include "tensor/error.h"
#include "browser_check.h"
#include "test_support.h"

namespace fs = std::filesystem;
using namespace mg;
using app::ReportClip;
using app::RunReport;

namespace {

using mg::test::slurp;
void write_text(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }

size_t count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

// A small real PNG and a short real WAV (a tone of `seconds`).
void write_png(const fs::path& p, io::Rgb c = {70, 130, 180}) {
  io::Image img(120, 80);
  img.circle(60, 40, 30, c);
  img.write_png(p.string());
}
void write_tone(const fs::path& p, double hz, double seconds = 0.5) {
  const int rate = 22050;
  std::vector<float> x(static_cast<size_t>(seconds * rate));
  for (size_t i = 0; i < x.size(); ++i) x[i] = 0.5f * static_cast<float>(std::sin(2 * M_PI * hz * i / rate));
  io::write_wav(p.string(), x, rate, false);
}

}  // namespace

TEST_CASE("report: values, escaping and URL-encoding") {
  CHECK(app::ReportValue(3).text() == "3");
  CHECK(app::ReportValue(0.123456789).text() == "0.12346");
  CHECK(app::ReportValue(std::nan("")).text() == "nan");
  CHECK(app::ReportValue("x").text() == "x");
  CHECK(app::ReportValue(true).text() == "yes");
  CHECK(app::ReportValue(uint64_t(18446744073709551615u)).text() == "18446744073709551615");  // a seed
  CHECK(!app::ReportValue(uint64_t(18446744073709551615u)).is_number());
  CHECK(app::ReportValue(int64_t(1) << 40).text() == "1099511627776");
  CHECK(app::html_escape(R"(<a href="x">&'</a>)") == "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
  CHECK(app::url_encode_path("sub dir/a\"b#c?&%.wav") == "sub%20dir/a%22b%23c%3F%26%25.wav");
  CHECK(app::url_encode_path("javascript:alert(1)") == "javascript%3Aalert%281%29");
}

TEST_CASE("report: hostile names from users are escaped everywhere") {
  const fs::path dir = test::scratch_dir("report_hostile");
  const std::string evil = R"(<script>alert("x")</script> & 'q')";
  const std::string evil_file = R"(a"<b>&'.png)";
  write_png(dir / evil_file);
  RunReport report(dir.string(), "chopin-lstm" + evil);
  const char* argv[] = {"chopin-lstm", "train", "--data", "<script>x</script>"};
  app::ReportSection& s = report.start(evil, 4, argv);
  s.set(evil, evil);
  s.data.source = evil;
  s.data.files_read = 3;
  s.data.skipped.emplace_back("<img src=x onerror=alert(1)>.mid", evil);
  s.table(evil, {evil, "loss"}).add({evil, 1.5});
  s.picture(evil_file, evil);
  s.clip({"id\"><script>", "none.wav", evil, "", "", {{evil, evil}}});
  report.save();
  const std::string html = slurp(dir / "report.html");
  CHECK(html == report.html());
  CHECK(html.rfind("<!doctype html>\n", 0) == 0);
  CHECK(count(html, "<script") == 0);
  CHECK(count(html, "<img src=x") == 0);
  // Every user text appears, escaped: the title, section heading, setting, data
  // source, table, picture caption, clip caption and its metric.
  CHECK(count(html, "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;") >= 10);
  CHECK(html.find("&#39;&lt;script&gt;x&lt;/script&gt;&#39;") != std::string::npos);  // the quoted argument
  CHECK(html.find("&lt;img src=x onerror=alert(1)&gt;.mid") != std::string::npos);
  CHECK(html.find("<img src=\"a%22%3Cb%3E%26%27.png\"") != std::string::npos);
  CHECK(html.find("id=\"clip-id.22.3E.3Cscript.3E\"") != std::string::npos);
  CHECK(html.find("audio missing: none.wav") != std::string::npos);
}

TEST_CASE("report: a later command adds its section to the same page through report.json") {
  const fs::path dir = test::scratch_dir("report_accumulate");
  write_png(dir / "loss.png");
  write_tone(dir / "piece 1.wav", 440);
  {
    RunReport train(dir.string(), "chopin-lstm");
    app::ReportSection& s = train.start("train", {"chopin-lstm", "train", "--epochs", "2"});
    s.set("epochs", 2);
    s.set("learning rate", 0.002);
    s.data = {"data/chopin", 12, {{"bad.mid", "not a MIDI file"}}, {{"held-out pieces", 2}}};
    app::ReportTable& epochs = s.table("Epochs", {"epoch", "loss", "held-out loss"});
    for (int e = 1; e <= 2; ++e) {
      epochs.add({e, 3.0 / e, 3.5 / e});
      s.picture((dir / "loss.png").string(), "loss curves");  // the app's own path; re-adding replaces
      train.save();
    }
  }
  {
    RunReport generate(dir.string(), "chopin-lstm");
    REQUIRE(generate.sections().size() == 1);
    app::ReportSection& s = generate.start("generate", {"chopin-lstm", "generate"});
    s.clip({"piece-1", "piece 1.wav", "piece 1", "loss.png", "", {{"notes", 120}, {"pitch range", "C3-C6"}}});
    generate.save();
  }
  RunReport again(dir.string(), "chopin-lstm");
  REQUIRE(again.sections().size() == 2);
  const app::ReportSection& train = again.sections()[0];
  CHECK(train.name == "train");
  CHECK(train.command_line == "chopin-lstm train --epochs 2");
  CHECK(train.config.size() == 2);
  CHECK(train.config[1].second.number() == doctest::Approx(0.002));
  CHECK(train.data.skipped.at(0).second == "not a MIDI file");
  REQUIRE(train.tables.size() == 1);
  CHECK(train.tables[0].rows.size() == 2);
  CHECK(train.tables[0].rows[1][1].number() == doctest::Approx(1.5));
  REQUIRE(train.pictures.size() == 1);
  CHECK(train.pictures[0].path == "loss.png");
  CHECK(again.sections()[1].clips.at(0).metrics.at(0).second.text() == "120");

  const std::string html = slurp(dir / "report.html");
  CHECK(html.find("<h2>chopin-lstm train</h2>") < html.find("<h2>chopin-lstm generate</h2>"));
  CHECK(html.find("<td class=n>1.75</td>") != std::string::npos);
  CHECK(html.find("12 files read from <code>data/chopin</code>, 1 skipped.") != std::string::npos);
  CHECK(html.find("<audio controls preload=\"metadata\" src=\"piece%201.wav\"></audio>") != std::string::npos);
  CHECK(html.find("<a href=\"#s-generate\">generate</a>") != std::string::npos);

  // A new train run empties its section but keeps its place; a resumed one keeps its epochs.
  again.section("train").tables[0].drop_rows_after(1);
  CHECK(again.section("train").tables[0].rows.size() == 1);
  again.start("train", {"chopin-lstm", "train"});
  CHECK(again.sections()[0].name == "train");
  CHECK(again.sections()[0].tables.empty());
  CHECK(again.sections()[1].clips.size() == 1);
}

TEST_CASE("report: two commands writing into one folder at once keep each other's sections") {
  const fs::path dir = test::scratch_dir("report_concurrent");
  RunReport train(dir.string(), "chopin-lstm");
  app::ReportTable& epochs = train.start("train", {"chopin-lstm", "train"}).table("Epochs", {"epoch", "loss"});
  epochs.add({1, 2.0});
  train.save();
  RunReport generate(dir.string(), "chopin-lstm");  // while train still runs
  generate.start("generate", {"chopin-lstm", "generate"}).set("temperature", 0.9);
  generate.save();
  epochs.add({2, 1.0});
  train.save();  // keeps generate's section
  generate.save();  // keeps train's second epoch
  RunReport after(dir.string(), "chopin-lstm");
  REQUIRE(after.sections().size() == 2);
  CHECK(after.sections()[0].tables.at(0).rows.size() == 2);
  CHECK(after.sections()[1].config.at(0).first == "temperature");
}

TEST_CASE("report: a corrupt, foreign or oversized report.json is ignored with a warning") {
  const fs::path dir = test::scratch_dir("report_corrupt");
  const std::vector<std::string> bad = {
      "{\"format\": \"musicgen-report-1\", \"sections\": [",                   // cut short
      "[1, 2, 3]",                                                           // not a report
      "{\"format\": \"musicgen-report-1\", \"sections\": [{\"name\": 5}]}",  // wrong types
      std::string("\xff\xfe\0garbage", 10),
  };
  for (const std::string& text : bad) {
    write_text(dir / "report.json", text);
    const test::ChildResult r = test::run_child(
        [&] {
          RunReport report(dir.string(), "jazz-vae");
          if (!report.sections().empty()) return 3;
          report.start("eval", {"jazz-vae", "eval"});
          report.save();
          return 0;
        },
        30);
    CHECK_MESSAGE(r.exit_code == 0, r.output);
    CHECK(r.output.find("warning: ignoring") != std::string::npos);
    CHECK(r.output.find("report.json") != std::string::npos);
    RunReport reread(dir.string(), "jazz-vae");  // the save replaced it with a good one
    CHECK(reread.sections().size() == 1);
  }
  write_text(dir / "report.json", "{}");
  fs::resize_file(dir / "report.json", RunReport::kMaxStateBytes + 1);
  const test::ChildResult r = test::run_child([&] { return RunReport(dir.string(), "jazz-vae").sections().empty() ? 0 : 3; }, 30);
  CHECK(r.exit_code == 0);
  CHECK(r.output.find("larger than") != std::string::npos);
}

TEST_CASE("report: every save replaces the page atomically") {
  const fs::path dir = test::scratch_dir("report_atomic");
  RunReport report(dir.string(), "chopin-lstm");
  app::ReportTable& epochs = report.start("train", {"chopin-lstm", "train"}).table("Epochs", {"epoch", "loss"});
  epochs.add({1, 2.5});
  report.save();
  // A reader that opened the old page (here: a second link to its file) keeps
  // the whole old page: the new one arrives by rename, not by rewriting in place.
  fs::create_hard_link(dir / "report.html", dir / "old.html");
  const std::string before = slurp(dir / "report.html");
  epochs.add({2, 1.25});
  report.save();
  CHECK(slurp(dir / "old.html") == before);
  const std::string after = slurp(dir / "report.html");
  CHECK(after != before);
  CHECK(after.find("<td class=n>1.25</td>") != std::string::npos);
  CHECK(after.size() > 7);
  CHECK(after.substr(after.size() - 8) == "</html>\n");
  for (const auto& e : fs::directory_iterator(dir)) CHECK(e.path().filename().string().find(".tmp.") == std::string::npos);
}

TEST_CASE("report: missing pictures and files outside the output folder are notes, not links") {
  const fs::path dir = test::scratch_dir("report_missing");
  RunReport report(dir.string(), "jazz-vae");
  app::ReportSection& s = report.start("train", {"jazz-vae", "train"});
  s.picture("latent.png", "latent map");
  s.clip({"c1", "c1.wav", "clip one", "roll.png", "c1.mid", {}});
  CHECK_THROWS_AS(s.picture("/etc/passwd", "x"), mg::Error);
  CHECK_THROWS_AS(s.picture("../outside.png", "x"), mg::Error);
  // A hand-edited report.json cannot make the page link outside OUT either.
  s.pictures.push_back({"../secret.png", "s"});
  s.pictures.push_back({"/etc/hostname", "h"});
  std::string html = report.html();
  CHECK(html.find("picture missing: latent.png") != std::string::npos);
  CHECK(html.find("audio missing: c1.wav") != std::string::npos);
  CHECK(html.find("MIDI missing: c1.mid") != std::string::npos);
  CHECK(html.find("picture missing: roll.png") != std::string::npos);
  CHECK(html.find("picture not shown: ../secret.png is not inside the output folder") != std::string::npos);
  CHECK(html.find("picture not shown: /etc/hostname is not inside") != std::string::npos);
  CHECK(count(html, "<img") == 0);
  CHECK(count(html, "<audio") == 0);
  // Once the files exist, the next page shows them.
  write_png(dir / "latent.png");
  write_tone(dir / "c1.wav", 330);
  html = report.html();
  CHECK(html.find("<img src=\"latent.png\" alt=\"latent map\">") != std::string::npos);
  CHECK(count(html, "<audio") == 1);
}

TEST_CASE("report: image map points link to clip anchors, and a grid is laid out as rows x cols") {
  const fs::path dir = test::scratch_dir("report_map");
  write_png(dir / "map.png");
  RunReport report(dir.string(), "jazz-vae");
  app::ReportSection& s = report.start("interpolate", {"jazz-vae", "interpolate"});
  std::vector<ReportClip> cells;
  for (int i = 0; i < 6; ++i) cells.push_back({fmt::format("grid/{}", i), "", fmt::format("cell {}", i), "", "", {}});
  s.clip_grid("Samples", 2, 3, cells);
  CHECK_THROWS_AS(s.clip_grid("too many", 2, 2, cells), mg::Error);
  s.image_map("map.png", "Latent map", {{10.4, 20.6, 6, "grid/4", "blues 4"}, {50, 60, 8, "nowhere", ""}, {std::nan(""), 1, 8, "grid/1", ""}});
  const std::string html = report.html();
  CHECK(html.find("<img src=\"map.png\" usemap=\"#map1\" alt=\"Latent map\">") != std::string::npos);
  CHECK(html.find("<map name=\"map1\">") != std::string::npos);
  CHECK(html.find("<area shape=circle coords=\"10,21,6\" href=\"#clip-grid.2F4\" alt=\"blues 4\"") != std::string::npos);
  CHECK(html.find("id=\"clip-grid.2F4\"") != std::string::npos);
  CHECK(html.find("2 point(s) not linked: no such clip in this report, or no position") != std::string::npos);
  CHECK(count(html, "<area") == 1);
  const size_t grid = html.find("<table class=grid>");
  REQUIRE(grid != std::string::npos);
  const std::string table = html.substr(grid, html.find("</table>\n", html.rfind("cell 5")) - grid);
  CHECK(count(table, "<tr>") == 2);
  CHECK(count(table, "<td>") == 6);
  CHECK(table.find("cell 2") < table.find("</tr>"));  // the first row holds cells 0..2
  CHECK(table.find("cell 3") > table.find("</tr>"));
}

// ---- in a browser -------------------------------------------------------------

namespace {


}  // namespace

TEST_CASE("report: headless Chromium shows every picture, plays every clip, logs no error") {
  const std::string chromium = test::chromium_or_skip();
  if (chromium.empty()) return;
  const fs::path dir = test::scratch_dir("report_chromium");

  // A tiny run: a curve, a piano roll, a latent map with three points, two clips and a 2 x 2 grid.
  io::LineChartOptions curve;
  curve.title = "loss", curve.x_label = "epoch";
  io::line_chart((dir / "loss.png").string(), {{"train", {1, 2, 3}, {3, 2, 1.5}, {}}, {"held-out", {1, 2, 3}, {3.2, 2.4, 2}, {}}}, curve);
  io::piano_roll((dir / "roll 1.png").string(), {{0, 1, 60, 0}, {1, 1, 64, 1}, {2, 2, 67, 1}});
  io::Image map(300, 200);
  const double px[] = {60, 150, 240}, py[] = {50, 150, 90};
  for (int i = 0; i < 3; ++i) map.circle(px[i], py[i], 8, io::series_color(i));
  map.write_png((dir / "latent map.png").string());
  write_tone(dir / "clip 'one' & more.wav", 440);
  write_tone(dir / "two.wav", 550, 0.25);
  std::vector<ReportClip> grid;
  for (int i = 0; i < 4; ++i) {
    const std::string wav = fmt::format("grid_{}.wav", i);
    write_tone(dir / wav, 220.0 * (i + 1), 0.3);
    grid.push_back({fmt::format("grid/{}", i), wav, fmt::format("z = ({}, {})", i / 2, i % 2), "", "", {{"rms", 0.35}}});
  }

  RunReport report(dir.string(), "jazz-vae");
  app::ReportSection& s = report.start("train", {"jazz-vae", "train", "--epochs", "3"});
  s.set("epochs", 3);
  s.data = {"tiny", 6, {{"broken.wav", "truncated: header says 100 frames, read 10"}}, {}};
  app::ReportTable& epochs = s.table("Epochs", {"epoch", "loss", "held-out loss"});
  for (int e = 1; e <= 3; ++e) epochs.add({e, 3.0 / e, 3.3 / e});
  s.picture("loss.png", "loss curves");
  s.picture("missing.png", "a picture that was never written");
  s.clip({"one", "clip 'one' & more.wav", "clip one", "roll 1.png", "", {{"notes", 3}, {"pitch range", "C4-G4"}}});
  s.clip({"two", "two.wav", "clip two", "", "", {{"notes", 0}}});
  s.clip_grid("Samples across the latent plane", 2, 2, grid);
  s.image_map("latent map.png", "Latent map", {{px[0], py[0], 10, "one", "clip one"}, {px[1], py[1], 10, "grid/3", "grid 3"},
                                                 {px[2], py[2], 10, "two", "clip two"}});
  report.save();

  const std::string url = "file://" + app::url_encode_path(fs::absolute(dir).string());
  const std::vector<std::string> common = test::chromium_command(chromium, dir);

  // (a) the page's checks, and every console message Chromium logs.
  const test::ChildResult r = test::check_report_in_chromium(chromium, dir);
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  if (const size_t at = r.output.find("REPORT-CHECK"); at != std::string::npos) MESSAGE(r.output.substr(at, 120));
  CHECK_MESSAGE(r.output.find("REPORT-CHECK OK images=3 audio=6 areas=3") != std::string::npos, r.output);
  CHECK_MESSAGE(r.output.find(":CONSOLE") == std::string::npos, r.output);

  // (b) a screenshot, which must show the page: many colours, mostly not blank.
  const fs::path shot = dir / "screenshot.png";
  std::vector<std::string> screenshot = common;
  screenshot.insert(screenshot.end(), {"--hide-scrollbars", "--window-size=1280,2400", "--virtual-time-budget=5000", "--screenshot=" + shot.string(),
                                       url + "/report.html"});
  const test::ChildResult s2 = test::run_program(screenshot, 120);
  REQUIRE_MESSAGE(s2.exit_code == 0, s2.output);
  int w = 0, h = 0, channels = 0;
  unsigned char* px8 = stbi_load(shot.c_str(), &w, &h, &channels, 3);
  REQUIRE(px8 != nullptr);
  CHECK(w == 1280);
  CHECK(h == 2400);
  size_t ink = 0, colourful = 0;
  for (size_t i = 0; i < static_cast<size_t>(w) * static_cast<size_t>(h); ++i) {
    const unsigned char* p = px8 + 3 * i;
    if (p[0] < 200 || p[1] < 200 || p[2] < 200) ++ink;
    if (std::abs(p[0] - p[2]) > 60) ++colourful;  // chart lines, dots, the orange/blue of the plots
  }
  stbi_image_free(px8);
  MESSAGE(fmt::format("screenshot {}: {:.1f}% ink, {:.2f}% colour", shot.string(), 100.0 * ink / (w * h),
                      100.0 * colourful / (w * h)));
  CHECK(ink > static_cast<size_t>(w) * h / 100);
  CHECK(colourful > 500);
}
