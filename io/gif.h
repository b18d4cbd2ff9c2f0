#pragma once
// Animated GIF from a sequence of Images (e.g. the VAE's waveform grid per
// epoch), through cgif, written atomically.
#include <string>
#include <vector>

#include "io/canvas.h"

namespace mg::io {

// Writes frames (all the same size, at most 65535 per side) as an animated GIF.
// delay_centiseconds: time each frame is shown (1..65535).
// loops: 0 plays forever (NETSCAPE2.0 loop extension with count 0); n > 0
//   plays the animation n times in all.
// last_frame_hold: the last frame stays up for this many extra frame delays, the
//   way the seed notebook appended its last frame again; the file still has one
//   image per frame (the hold is in the last frame's delay, not a copy).
// Colours are quantised to one global palette: exact when the frames use at
// most 256 colours (typical for charts), else the 256 most-used 5-5-5-bit bins
// (averaged) with every pixel mapped to its nearest palette colour.
// Errors (no frames, sizes differ, cannot write) are mg::Error naming the file.
void write_gif(const std::string& path, const std::vector<Image>& frames, int delay_centiseconds, int loops = 0,
               int last_frame_hold = 0);

}  // namespace mg::io
