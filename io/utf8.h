#pragma once
// Names as JSON and HTML can hold them. A file name on Linux is any bytes, but
// JSON text and an HTML page are UTF-8: a folder or a file whose name is not
// valid UTF-8 would make a JSON writer throw or a page carry broken bytes.
// Every name that goes into a checkpoint's metadata, a report or a --json
// record passes through valid_utf8 first: each byte that is not part of a
// valid UTF-8 sequence becomes the four characters \xNN (NN its value in
// upper-case hex), so "caf\xE9.wav" names the Latin-1 file café.wav. The
// escape is undone by from_valid_utf8 where such a text is used as a path
// again (the data folder of a resumed run); a valid name that happens to
// contain the text \x80 to \xFF would be read back as that byte.
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace mg::io {

bool is_valid_utf8(std::string_view s);
std::string valid_utf8(std::string_view s);
std::string from_valid_utf8(std::string_view s);
// valid_utf8 on every string value and object key of a JSON document.
void make_valid_utf8(nlohmann::json& j);

}  // namespace mg::io
