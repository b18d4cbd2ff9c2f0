// Where outputs may go and how they are written (io/atomic_file.h): regular
// files only, symbolic links written through, folders and FIFOs refused,
// stale temporaries of dead processes removed, a failed command's outputs
// removed together. The FIFO and the links are made in a scratch folder; no
// device of the machine is touched.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "io/atomic_file.h"
#include "tensor/error.h"
#include "tests/test_support.h"

namespace fs = std::filesystem;

using mg::test::error_of;

namespace {

using mg::test::slurp;

// The message of the mg::Error that fn throws ("" when it throws none).
// A pid that belonged to a process that has exited.
pid_t dead_pid() {
  const pid_t pid = fork();
  if (pid == 0) _exit(0);
  waitpid(pid, nullptr, 0);
  return pid;
}

}  // namespace

TEST_CASE("atomic writes replace a regular file and leave no temporary behind") {
  const std::string dir = mg::test::scratch_dir("output-files/regular");
  const std::string path = dir + "/out.txt";
  mg::io::write_file_atomic(path, std::string("first"));
  mg::io::write_file_atomic(path, std::string("second"));
  CHECK(slurp(path) == "second");
  for (const auto& e : fs::directory_iterator(dir)) CHECK(e.path().filename() == "out.txt");

  // A writer that fails leaves the old content and no temporary.
  CHECK_THROWS_AS(mg::io::write_file_atomic(path, [](const std::string& tmp) {
                    std::ofstream(tmp) << "partial";
                    mg::fail("disk full");
                  }),
                  mg::Error);
  CHECK(slurp(path) == "second");
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 1);
}

TEST_CASE("outputs go only to regular files: folders and FIFOs are refused by name") {
  const std::string dir = mg::test::scratch_dir("output-files/special");
  fs::create_directories(dir + "/folder");
  const std::string fifo = dir + "/pipe";
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);

  const std::string to_folder = error_of([&] { mg::io::write_file_atomic(dir + "/folder", std::string("x")); });
  CHECK(to_folder.find(dir + "/folder: is a folder") != std::string::npos);
  const std::string to_fifo = error_of([&] { mg::io::write_file_atomic(fifo, std::string("x")); });
  CHECK(to_fifo.find(fifo + ": is a FIFO") != std::string::npos);
  // The FIFO is still a FIFO (not replaced by a regular file), and nothing else appeared.
  struct stat st {};
  REQUIRE(lstat(fifo.c_str(), &st) == 0);
  CHECK(S_ISFIFO(st.st_mode));
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 2);

  CHECK(error_of([&] { mg::io::check_output_folder(fifo, "--out"); }).find("--out " + fifo + ": exists and is not a folder") !=
        std::string::npos);
}

TEST_CASE("a symbolic link is never written through: a link to a file, a dangling one and one to a FIFO are refused") {
  const std::string dir = mg::test::scratch_dir("output-files/links");
  fs::create_directories(dir + "/real");
  std::ofstream(dir + "/real/target.txt") << "old";
  fs::create_symlink("real/target.txt", dir + "/link.txt");
  CHECK(error_of([&] { mg::io::write_file_atomic(dir + "/link.txt", std::string("new")); })
            .find(dir + "/link.txt: is a symbolic link; outputs are never written through links") != std::string::npos);
  CHECK(fs::is_symlink(dir + "/link.txt"));
  CHECK(slurp(dir + "/real/target.txt") == "old");

  fs::create_symlink("real/missing.txt", dir + "/dangling.txt");
  CHECK(error_of([&] { mg::io::write_file_atomic(dir + "/dangling.txt", std::string("x")); })
            .find(dir + "/dangling.txt: is a symbolic link") != std::string::npos);
  CHECK_FALSE(fs::exists(dir + "/real/missing.txt"));

  REQUIRE(mkfifo((dir + "/real/pipe").c_str(), 0600) == 0);
  fs::create_symlink("real/pipe", dir + "/pipe-link");
  CHECK(error_of([&] { mg::io::write_file_atomic(dir + "/pipe-link", std::string("x")); }).find("is a symbolic link") !=
        std::string::npos);
  // Nothing was created beside the targets: no temporary file is left.
  CHECK(std::distance(fs::directory_iterator(dir + "/real"), fs::directory_iterator()) == 2);
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 4);
}

TEST_CASE("stale temporaries of dead processes are removed, live ones and other files kept") {
  const std::string dir = mg::test::scratch_dir("output-files/stale");
  const std::string dead = dir + "/model.safetensors.tmp." + std::to_string(dead_pid());
  const std::string live = dir + "/log.csv.tmp." + std::to_string(getppid());
  for (const std::string& p : {dead, live, dir + "/notes.tmp.txt", dir + "/keep.tmp.12x"}) std::ofstream(p) << "x";
  CHECK(mg::io::remove_stale_temporaries(dir) == 1);
  CHECK_FALSE(fs::exists(dead));
  CHECK(fs::exists(live));
  CHECK(fs::exists(dir + "/notes.tmp.txt"));
  CHECK(fs::exists(dir + "/keep.tmp.12x"));

  // The first write into a folder sweeps it.
  const std::string dead2 = dir + "/sub/x.wav.tmp." + std::to_string(dead_pid());
  fs::create_directories(dir + "/sub");
  std::ofstream(dead2) << "x";
  mg::io::write_file_atomic(dir + "/sub/y.txt", std::string("y"));
  CHECK_FALSE(fs::exists(dead2));
}

TEST_CASE("an output set that is not kept removes the files it recorded") {
  const std::string dir = mg::test::scratch_dir("output-files/set");
  {
    mg::io::OutputSet outputs;
    mg::io::write_file_atomic(dir + "/a.mid", std::string("a"));
    outputs.add(dir + "/a.mid");
    mg::io::write_file_atomic(dir + "/a-roll.png", std::string("b"));
    outputs.add(dir + "/a-roll.png");
  }
  CHECK_FALSE(fs::exists(dir + "/a.mid"));
  CHECK_FALSE(fs::exists(dir + "/a-roll.png"));
  {
    mg::io::OutputSet outputs;
    mg::io::write_file_atomic(dir + "/b.mid", std::string("a"));
    outputs.add(dir + "/b.mid");
    outputs.keep();
  }
  CHECK(fs::exists(dir + "/b.mid"));
}
