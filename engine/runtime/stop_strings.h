// Stop strings over streamed text: text that might be the start of a stop string is held
// back until it is decided, so a stop string split across tokens is still caught and
// never shown. Thread-compatible: one per generation.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace moecode::runtime {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);

  struct Output {
    std::string text;     // safe to emit now
    bool stopped = false; // a stop string was found; `text` ends right before it
  };
  // Appends the next piece of text.
  Output push(std::string_view piece);
  // At the end of the generation: whatever is still held back.
  std::string flush();

 private:
  std::vector<std::string> stops_;
  std::string pending_;
  bool stopped_ = false;
};

}  // namespace moecode::runtime
