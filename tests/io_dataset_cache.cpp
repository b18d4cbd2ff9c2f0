// io/dataset_cache.h: a shard is mapped only when its size and checksum match
// the index, and prepare's --out check refuses a folder holding other files.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "io/checksum.h"
#include "io/dataset_cache.h"
#include "test_support.h"

namespace fs = std::filesystem;
using mg::test::error_of;

namespace {

void write_bytes(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

const mg::io::ShardNames kNames{"part-", ".bin"};

}  // namespace

TEST_CASE("MappedFile maps a shard whose size and checksum match the index, and refuses one that does not") {
  const std::string dir = mg::test::scratch_dir("io-dataset-cache-mapped"), path = dir + "/" + kNames(0);
  CHECK(kNames(0) == "part-00000.bin");
  const std::string bytes = "0123456789abcdef";
  mg::io::write_shard(path, bytes.data(), bytes.size());
  const uint64_t sum = mg::io::fnv1a64(bytes.data(), bytes.size());
  const std::string again = "run it again";
  {
    const mg::io::MappedFile file(path, bytes.size(), sum, "4 things", again);
    CHECK(std::string(static_cast<const char*>(file.data()), file.bytes()) == bytes);
  }
  CHECK(error_of([&] { mg::io::MappedFile(path, 20, sum, "5 things", again); }) ==
        path + ": 16 bytes, but index.json lists 5 things (20 bytes): a truncated or replaced shard (run it again)");
  CHECK(error_of([&] { mg::io::MappedFile(path, bytes.size(), sum + 1, "4 things", again); }) ==
        path + ": checksum mismatch against index.json: a damaged shard (run it again)");
  CHECK(contains(error_of([&] { mg::io::MappedFile(dir + "/missing", 0, 0, "0 things", again); }),
                 dir + "/missing: cannot read the cache shard: "));
  CHECK(error_of([&] { mg::io::MappedFile(dir, 0, 0, "0 things", again); }) ==
        dir + ": cannot read the cache shard: not a regular file");
}

TEST_CASE("refuse_foreign_folder accepts an empty folder, a cache, and what a failed prepare left, and nothing else") {
  const std::string dir = mg::test::scratch_dir("io-dataset-cache-foreign");
  auto refusal = [&](bool (*owns)(const std::string&)) {
    return error_of([&] { mg::io::refuse_foreign_folder(dir, "--out", kNames, "a test cache", owns); });
  };
  auto yes = [](const std::string&) { return true; };
  auto no = [](const std::string&) { return false; };
  CHECK(refusal(no) == "(no error)");
  for (const char* name : {"part-00000.bin", "part-00001.bin.tmp.123", "run.lock", "index.json.tmp.9"})
    write_bytes(dir + "/" + name, "x");
  CHECK(refusal(no) == "(no error)");
  write_bytes(dir + "/part-1.bin", "x");
  CHECK(refusal(no) == "--out " + dir + ": holds part-1.bin, and is not a test cache (no index.json); give a new or "
                       "empty folder, or a cache to replace");
  write_bytes(dir + "/index.json", "{}");
  CHECK(refusal(yes) == "(no error)");
  CHECK(refusal(no) == "--out " + dir + ": holds an index.json that is not a test cache's; give a new or empty "
                       "folder, or a cache to replace");
}
