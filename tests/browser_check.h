#pragma once
// Opening a run's report.html in headless Chromium, for the tests that check
// what a person sees: every picture decodes, every player has a readable
// source of non-zero duration, links stay inside the folder, and nothing
// active or external is on the page.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "apps/common/report.h"
#include "test_support.h"

namespace mg::test {

// $MUSICGEN_CHROMIUM, or chromium on the PATH; empty when there is none.
inline std::string find_chromium() {
  if (const char* env = std::getenv("MUSICGEN_CHROMIUM"); env && *env) return env;
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  for (size_t start = 0; start <= dirs.size();) {
    const size_t end = std::min(dirs.find(':', start), dirs.size());
    for (const char* name : {"chromium", "chromium-browser"}) {
      const std::filesystem::path p = std::filesystem::path(dirs.substr(start, end - start)) / name;
      if (access(p.c_str(), X_OK) == 0) return p.string();
    }
    start = end + 1;
  }
  return {};
}

// find_chromium(), reporting the test as skipped (with how to install
// Chromium) when there is none; the caller returns on an empty result.
inline std::string chromium_or_skip() {
  std::string chromium = find_chromium();
  if (chromium.empty()) skip("chromium is not installed (scripts/install-deps.sh --chromium installs it)");
  return chromium;
}

// Loads report.html in a frame, waits for every picture and every player's
// metadata, and writes a one-line verdict into its own page.
inline constexpr const char* kCheckPage = R"(<!doctype html>
<meta charset=utf-8><title>report check</title>
<pre id=verdict>REPORT-CHECK PENDING</pre>
<iframe id=frame src="report.html" style="width:1200px;height:900px"></iframe>
<script>
const frame = document.getElementById('frame');
// Resolves at the first of the events, or after 5 s (a stalled load then fails the check below).
const settled = (el, events) => new Promise(done => {
  events.forEach(e => el.addEventListener(e, done, {once: true}));
  setTimeout(done, 5000);
});
frame.addEventListener('load', async () => {
  const d = frame.contentDocument, problems = [];
  if (!d.doctype || d.doctype.name !== 'html' || d.compatMode !== 'CSS1Compat') problems.push('not standards mode');
  if (d.characterSet !== 'UTF-8') problems.push('charset ' + d.characterSet);
  const images = [...d.images], players = [...d.querySelectorAll('audio')], areas = [...d.querySelectorAll('area')];
  for (const img of images) {
    if (!img.complete) await settled(img, ['load', 'error']);
    if (!(img.naturalWidth > 0)) problems.push('image ' + img.getAttribute('src'));
  }
  for (const a of players) {
    if (a.readyState < 1 && !a.error) await settled(a, ['loadedmetadata', 'error']);
    if (!(a.duration > 0)) problems.push('audio ' + a.getAttribute('src'));
  }
  for (const area of areas) {
    const target = d.getElementById(decodeURIComponent(area.getAttribute('href').slice(1)));
    if (!target || !target.querySelector('audio')) problems.push('area ' + area.getAttribute('href'));
  }
  for (const el of d.querySelectorAll('[src], [href]')) {
    const url = el.getAttribute('src') ?? el.getAttribute('href');
    if (/^([a-z][a-z0-9+.-]*:|\/)/i.test(url)) problems.push('not relative: ' + url);
  }
  if (d.querySelector('script, link, iframe, object, embed')) problems.push('active or external content');
  document.getElementById('verdict').textContent =
      (problems.length ? 'REPORT-CHECK FAILED: ' + problems.join('; ') : 'REPORT-CHECK OK') +
      ' images=' + images.length + ' audio=' + players.length + ' areas=' + areas.length;
});
</script>
)";

// Chromium's flags for a file:// page in `dir`, with its profile in there too.
inline std::vector<std::string> chromium_command(const std::string& chromium, const std::filesystem::path& dir) {
  return {chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--mute-audio",
          "--disable-dev-shm-usage", "--allow-file-access-from-files", "--user-data-dir=" + (dir / "profile").string()};
}

// Writes check.html beside dir/report.html and loads it: the output holds
// "REPORT-CHECK OK images=N audio=N areas=N" or "REPORT-CHECK FAILED: ...",
// and a ":CONSOLE" line for every console message of the page.
inline ChildResult check_report_in_chromium(const std::string& chromium, const std::filesystem::path& dir) {
  std::ofstream(dir / "check.html", std::ios::binary) << kCheckPage;
  std::vector<std::string> argv = chromium_command(chromium, dir);
  const std::string url = "file://" + mg::app::url_encode_path(std::filesystem::absolute(dir).string());
  argv.insert(argv.end(), {"--enable-logging=stderr", "--v=0", "--virtual-time-budget=15000", "--dump-dom",
                           url + "/check.html"});
  return run_program(argv, 120);
}

}  // namespace mg::test
