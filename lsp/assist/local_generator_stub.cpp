// load_local_generator() for builds whose engine does not implement models yet (see
// CMakeLists.txt): every load is an error that says so.
#include "lsp/assist/local_generator.h"

namespace moecode::assist {

bool local_engine_available() { return false; }

Result<std::unique_ptr<Generator>> load_local_generator(const std::string& gguf_path,
                                                        const LocalGeneratorOptions&) {
  return make_error(ErrorCode::kUnsupported,
                    "cannot load '" + gguf_path + "': this build of moecode has no local engine runtime yet");
}

}  // namespace moecode::assist
