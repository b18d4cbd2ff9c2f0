// safetensors: round trips, the exact byte layout, a table of corrupt files
// (each must be a one-line mg::Error naming the file), truncation and byte
// corruption at every position, and an independent reader in Python/numpy.
#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

#include <nlohmann/json.hpp>

#include "io/safetensors.h"
#include "tensor/error.h"
#include "tests/test_support.h"

using namespace mg::io;

namespace {

template <typename T>
TensorRecord record(const std::string& name, const std::string& dtype, std::vector<int64_t> shape, const std::vector<T>& values) {
  TensorRecord r{name, dtype, std::move(shape), std::vector<uint8_t>(values.size() * sizeof(T))};
  if (!values.empty()) std::memcpy(r.data.data(), values.data(), r.data.size());
  return r;
}

SafetensorsFile sample() {
  SafetensorsFile f;
  f.tensors.push_back(record<float>("lstm1.weight", "F32", {2, 3}, {1.5f, -2.25f, 0.125f, 3.0f, -0.0f, 1e-7f}));
  f.tensors.push_back(record<double>("adam.m", "F64", {4}, {0.1, -1e300, 2.5, 1.0 / 3}));
  f.tensors.push_back(record<int64_t>("data.position", "I64", {2, 2}, {-1, 0, 1LL << 40, -(1LL << 62)}));
  f.tensors.push_back(record<float>("step_scale", "F32", {}, {0.75f}));
  f.tensors.push_back(record<float>("empty", "F32", {0, 3}, {}));
  f.tensors.push_back(record<int64_t>("rng.state", "I64", {3}, {7, 8, 9}));
  f.metadata = {{"config", R"({"hidden": [512, 256], "name": "chopin \"lstm\""})"}, {"epoch", "17"}};
  return f;
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

using mg::test::slurp;

std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(n >> (8 * i));
  return s;
}

// A file from a header text and a data buffer, with no padding.
std::string raw(const std::string& header, size_t buffer_bytes) { return le64(header.size()) + header + std::string(buffer_bytes, '\x11'); }

}  // namespace

static_assert(std::endian::native == std::endian::little, "the tests write native values as little-endian bytes");

TEST_CASE("safetensors round trip: dtypes, scalar, empty tensor, metadata with JSON inside") {
  std::string path = mg::test::scratch_dir("safetensors/round") + "/model.safetensors";
  SafetensorsFile in = sample();
  write_safetensors(path, in);
  SafetensorsFile out = read_safetensors(path);
  REQUIRE(out.tensors.size() == in.tensors.size());
  for (size_t i = 0; i < in.tensors.size(); ++i) {
    CAPTURE(in.tensors[i].name);
    CHECK(out.tensors[i].name == in.tensors[i].name);
    CHECK(out.tensors[i].dtype == in.tensors[i].dtype);
    CHECK(out.tensors[i].shape == in.tensors[i].shape);
    CHECK(out.tensors[i].data == in.tensors[i].data);
  }
  CHECK(out.metadata == in.metadata);

  SafetensorsFile none;  // no tensors, no metadata: still a valid file
  write_safetensors(path, none);
  CHECK(read_safetensors(path).tensors.empty());
}

TEST_CASE("safetensors byte layout") {
  std::string path = mg::test::scratch_dir("safetensors/layout") + "/model.safetensors";
  SafetensorsFile in = sample();
  write_safetensors(path, in);
  std::string bytes = slurp(path);
  REQUIRE(bytes.size() > 8);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<uint8_t>(bytes[i])) << (8 * i);
  size_t data_bytes = 0;
  for (const TensorRecord& t : in.tensors) data_bytes += t.data.size();
  CHECK(bytes.size() == 8 + n + data_bytes);
  CHECK(n % 8 == 0);
  CHECK(bytes[8] == '{');
  std::string header = bytes.substr(8, n);
  CHECK(header.find_last_not_of(' ') == header.rfind('}'));  // padded with spaces only
  nlohmann::json j = nlohmann::json::parse(header);
  CHECK(j["lstm1.weight"]["data_offsets"] == nlohmann::json::array({0, 24}));
  CHECK(j["adam.m"]["data_offsets"] == nlohmann::json::array({24, 56}));
  CHECK(j["step_scale"]["shape"] == nlohmann::json::array());
  CHECK(j["__metadata__"]["epoch"] == "17");
  // The first tensor's bytes start right after the header.
  float first = 0;
  std::memcpy(&first, bytes.data() + 8 + n, 4);
  CHECK(first == 1.5f);
}

TEST_CASE("safetensors writer rejects what it cannot write") {
  std::string dir = mg::test::scratch_dir("safetensors/write");
  auto message = [&](SafetensorsFile f) {
    try {
      write_safetensors(dir + "/bad.safetensors", f);
    } catch (const mg::Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  SafetensorsFile f;
  f.tensors = {record<float>("a", "F32", {3}, {1, 2})};
  CHECK(message(f).find("bad.safetensors") != std::string::npos);
  f.tensors = {record<float>("a", "F33", {1}, {1})};
  CHECK(message(f).find("F33") != std::string::npos);
  f.tensors = {record<float>("a", "F32", {1}, {1}), record<float>("a", "F32", {1}, {1})};
  CHECK(message(f).find("twice") != std::string::npos);
  f.tensors = {record<float>("__metadata__", "F32", {1}, {1})};
  CHECK(message(f).find("bad.safetensors") != std::string::npos);
  f.tensors = {record<float>("a", "F32", {-1}, {})};
  CHECK(message(f).find("bad.safetensors") != std::string::npos);
  CHECK(!std::filesystem::exists(dir + "/bad.safetensors"));
}

TEST_CASE("safetensors reader: every kind of corrupt file is one error naming the file") {
  std::string dir = mg::test::scratch_dir("safetensors/corrupt");
  const std::string f32 = R"("dtype": "F32")";
  struct Case {
    const char* what;
    std::string bytes;
  };
  const std::vector<Case> cases = {
      {"empty file", ""},
      {"shorter than 8 bytes", std::string("\x05\0\0\0\0", 5)},
      {"header longer than the file", le64(1000) + "{}"},
      {"header length absurd", le64(1ULL << 62) + "{}"},
      {"header over 100 MB", le64(200'000'000) + std::string(16, ' ')},
      {"header over the 16 MB limit", le64(17'000'000) + "{" + std::string(17'000'000 - 2, ' ') + "}"},
      {"header nested 200,000 levels deep",
       raw(R"({"a": )" + std::string(200'000, '[') + std::string(200'000, ']') + "}", 0)},
      {"header not JSON", raw("{\"a\": ", 0)},
      {"header not an object", raw("[1, 2]  ", 0)},
      {"header not closed", raw("{\"a\": {}", 0)},
      {"tensor entry not an object", raw(R"({"a": 1})", 0)},
      {"missing dtype", raw(R"({"a": {"shape": [1], "data_offsets": [0, 4]}})", 4)},
      {"missing shape", raw(R"({"a": {)" + f32 + R"(, "data_offsets": [0, 4]}})", 4)},
      {"missing data_offsets", raw(R"({"a": {)" + f32 + R"(, "shape": [1]}})", 4)},
      {"dtype not a string", raw(R"({"a": {"dtype": 4, "shape": [1], "data_offsets": [0, 4]}})", 4)},
      {"unknown dtype", raw(R"({"a": {"dtype": "F128", "shape": [1], "data_offsets": [0, 4]}})", 4)},
      {"negative shape", raw(R"({"a": {)" + f32 + R"(, "shape": [-1], "data_offsets": [0, 4]}})", 4)},
      {"fractional shape", raw(R"({"a": {)" + f32 + R"(, "shape": [1.5], "data_offsets": [0, 4]}})", 4)},
      {"shape not an array", raw(R"({"a": {)" + f32 + R"(, "shape": 1, "data_offsets": [0, 4]}})", 4)},
      {"shape overflows", raw(R"({"a": {)" + f32 + R"(, "shape": [4294967296, 4294967296], "data_offsets": [0, 4]}})", 4)},
      {"offsets out of range", raw(R"({"a": {)" + f32 + R"(, "shape": [1], "data_offsets": [0, 400]}})", 4)},
      {"offsets reversed", raw(R"({"a": {)" + f32 + R"(, "shape": [0], "data_offsets": [4, 0]}})", 4)},
      {"offsets negative", raw(R"({"a": {)" + f32 + R"(, "shape": [1], "data_offsets": [-4, 0]}})", 4)},
      {"offsets not a pair", raw(R"({"a": {)" + f32 + R"(, "shape": [1], "data_offsets": [0, 4, 8]}})", 8)},
      {"byte length not shape x dtype", raw(R"({"a": {)" + f32 + R"(, "shape": [3], "data_offsets": [0, 8]}})", 8)},
      {"overlapping tensors",
       raw(R"({"a": {)" + f32 + R"(, "shape": [2], "data_offsets": [0, 8]}, "b": {)" + f32 + R"(, "shape": [2], "data_offsets": [4, 12]}})", 12)},
      {"hole in the buffer",
       raw(R"({"a": {)" + f32 + R"(, "shape": [1], "data_offsets": [0, 4]}, "b": {)" + f32 + R"(, "shape": [1], "data_offsets": [8, 12]}})", 12)},
      {"buffer not starting at 0", raw(R"({"a": {)" + f32 + R"(, "shape": [1], "data_offsets": [4, 8]}})", 8)},
      {"trailing garbage", raw(R"({"a": {)" + f32 + R"(, "shape": [1], "data_offsets": [0, 4]}})", 5)},
      {"metadata value not a string", raw(R"({"__metadata__": {"epoch": 3}})", 0)},
      {"metadata not an object", raw(R"({"__metadata__": "x"})", 0)},
      {"duplicate tensor name",
       raw(R"({"a": {)" + f32 + R"(, "shape": [1], "data_offsets": [0, 4]}, "a": {)" + f32 + R"(, "shape": [1], "data_offsets": [4, 8]}})", 8)},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    CAPTURE(cases[i].what);
    std::string path = dir + "/case" + std::to_string(i) + ".safetensors";
    write_bytes(path, cases[i].bytes);
    std::string msg = "(no error)";
    try {
      read_safetensors(path);
    } catch (const mg::Error& e) {
      msg = e.what();
    }
    CAPTURE(msg);
    CHECK(msg.find(path) != std::string::npos);
    CHECK(msg.find('\n') == std::string::npos);
  }
  std::string missing = dir + "/missing.safetensors";
  CHECK_THROWS_WITH_AS(read_safetensors(missing), doctest::Contains(missing.c_str()), mg::Error);
}

TEST_CASE("safetensors reader: every truncation fails cleanly, corrupted bytes never crash") {
  std::string dir = mg::test::scratch_dir("safetensors/truncate");
  SafetensorsFile small;
  small.tensors = {record<float>("w", "F32", {2}, {1, 2}), record<int64_t>("n", "I64", {}, {5})};
  small.metadata = {{"k", "v"}};
  std::string good_path = dir + "/good.safetensors";
  write_safetensors(good_path, small);
  const std::string good = slurp(good_path);
  const std::string path = dir + "/cut.safetensors";
  int errors = 0;
  for (size_t len = 0; len < good.size(); ++len) {
    write_bytes(path, good.substr(0, len));
    CHECK_THROWS_AS(read_safetensors(path), mg::Error);  // the last tensor always loses bytes
    ++errors;
  }
  CHECK(errors == static_cast<int>(good.size()));

  // Overwrite each header byte with a few values: an error or a valid file, nothing else.
  int accepted = 0;
  for (size_t i = 0; i < good.size(); ++i) {
    for (char v : {'\0', '\xff', '9', '"', '}', ' '}) {
      std::string bad = good;
      bad[i] = v;
      write_bytes(path, bad);
      try {
        read_safetensors(path);
        ++accepted;
      } catch (const mg::Error&) {
      }
    }
  }
  CHECK(accepted > 0);  // e.g. changed data bytes or padding
}

TEST_CASE("safetensors files read by an independent Python reader") {
  // The first Python with numpy: PATH's python3, else Debian's (scripts/install-deps.sh installs python3-numpy).
  std::string python;
  for (const char* candidate : {"python3", "/usr/bin/python3"}) {
    if (std::system((std::string(candidate) + " -c \"import numpy\" > /dev/null 2>&1").c_str()) == 0) {
      python = candidate;
      break;
    }
  }
  if (python.empty()) {
    mg::test::skip("no python3 with numpy for the independent reader");
    return;
  }
  std::string dir = mg::test::scratch_dir("safetensors/python");
  std::string path = dir + "/model.safetensors";
  SafetensorsFile in = sample();
  write_safetensors(path, in);
  // Parses with json, struct and numpy.frombuffer only; prints one line per tensor.
  std::ofstream(dir + "/reader.py") << R"(import json, struct, sys
import numpy as np
raw = open(sys.argv[1], "rb").read()
(n,) = struct.unpack("<Q", raw[:8])
header = json.loads(raw[8:8 + n])
data = raw[8 + n:]
kinds = {"F32": "<f4", "F64": "<f8", "I64": "<i8"}
for name in sorted(k for k in header if k != "__metadata__"):
    t = header[name]
    begin, end = t["data_offsets"]
    a = np.frombuffer(data[begin:end], dtype=kinds[t["dtype"]]).reshape(t["shape"])
    values = ["%d" % v if t["dtype"] == "I64" else "%.17g" % v for v in a.ravel().tolist()]
    print(name, t["dtype"], list(a.shape), " ".join(values))
print("meta", json.dumps(header.get("__metadata__", {}), sort_keys=True))
)";
  std::string out_path = dir + "/out.txt";
  REQUIRE(std::system((python + " " + dir + "/reader.py " + path + " > " + out_path).c_str()) == 0);

  std::vector<TensorRecord> sorted = in.tensors;
  std::sort(sorted.begin(), sorted.end(), [](const TensorRecord& a, const TensorRecord& b) { return a.name < b.name; });
  std::string expected;
  for (const TensorRecord& t : sorted) {
    std::string shape = "[";
    for (size_t i = 0; i < t.shape.size(); ++i) shape += (i ? ", " : "") + std::to_string(t.shape[i]);
    expected += t.name + " " + t.dtype + " " + shape + "] ";
    size_t elem = dtype_size(t.dtype);
    for (size_t i = 0; i < t.data.size() / elem; ++i) {
      if (i) expected += " ";
      if (t.dtype == "F32") {
        float v;
        std::memcpy(&v, t.data.data() + i * 4, 4);
        expected += fmt::format("{:.17g}", static_cast<double>(v));
      } else if (t.dtype == "F64") {
        double v;
        std::memcpy(&v, t.data.data() + i * 8, 8);
        expected += fmt::format("{:.17g}", v);
      } else {
        int64_t v;
        std::memcpy(&v, t.data.data() + i * 8, 8);
        expected += std::to_string(v);
      }
    }
    expected += "\n";
  }
  expected += "meta " + nlohmann::json(in.metadata).dump(-1) + "\n";
  std::string got = slurp(out_path);
  // Python's json.dumps puts a space after ':' and ','; compare the parsed metadata instead.
  size_t meta_at = got.rfind("meta ");
  REQUIRE(meta_at != std::string::npos);
  CHECK(got.substr(0, meta_at) == expected.substr(0, expected.rfind("meta ")));
  CHECK(nlohmann::json::parse(got.substr(meta_at + 5)) == nlohmann::json(in.metadata));
}

TEST_CASE("safetensors parsed from memory equals the file read from disk") {
  std::string path = mg::test::scratch_dir("safetensors/memory") + "/model.safetensors";
  write_safetensors(path, sample());
  const std::string bytes = slurp(path);
  const SafetensorsFile a = read_safetensors(path);
  const SafetensorsFile b = parse_safetensors(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "mem");
  REQUIRE(a.tensors.size() == b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    CHECK(a.tensors[i].name == b.tensors[i].name);
    CHECK(a.tensors[i].data == b.tensors[i].data);
  }
  CHECK(a.metadata == b.metadata);
  CHECK(content_checksum(a, "") == content_checksum(b, ""));
  CHECK_THROWS_WITH_AS(parse_safetensors(reinterpret_cast<const uint8_t*>(bytes.data()), 7, "mem"),
                       doctest::Contains("mem: 7 bytes is too short"), mg::Error);
}

TEST_CASE("content checksum changes with every covered field and ignores the skipped key") {
  const SafetensorsFile f = sample();
  const uint64_t base = content_checksum(f, "checksum");
  SafetensorsFile g = f;
  g.metadata["checksum"] = "anything";
  CHECK(content_checksum(g, "checksum") == base);
  g = f;
  g.tensors[0].data[3] ^= 1;
  CHECK(content_checksum(g, "checksum") != base);
  g = f;
  g.tensors[1].name = "adam.n";
  CHECK(content_checksum(g, "checksum") != base);
  g = f;
  g.tensors[0].shape = {3, 2};
  CHECK(content_checksum(g, "checksum") != base);
  g = f;
  g.metadata["epoch"] = "18";
  CHECK(content_checksum(g, "checksum") != base);
  // Field boundaries count: moving a byte from a key to its value changes the sum.
  SafetensorsFile x, y;
  x.metadata = {{"ab", "c"}};
  y.metadata = {{"a", "bc"}};
  CHECK(content_checksum(x, "") != content_checksum(y, ""));
}
