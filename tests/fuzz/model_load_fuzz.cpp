// libFuzzer entry: loading a model from arbitrary bytes gives an error or a model, never a
// crash, an abort or a read outside the file. The bytes go into a memory file (memfd) that
// the loader opens by its /proc/self/fd path, exactly as it opens a file on disk (mmap).
// When the model loads, it is inspected (`moecode model info`), its chat template applied,
// a session opened and two tokens evaluated and one sampled: every hyperparameter the
// loader accepted must be one the kernels can run.
// Seeds: tests/fuzz/corpus/model_load_fuzz (tiny models of each architecture,
// make_model_seeds.cpp).
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "moecode/engine/model.h"

namespace {

using namespace moecode::engine;

int memory_file() {
  static const int fd = [] {
    const int f = ::memfd_create("model_load_fuzz.gguf", MFD_CLOEXEC);
    if (f < 0) {
      std::perror("memfd_create");
      std::abort();
    }
    return f;
  }();
  return fd;
}

bool write_all(int fd, const uint8_t* data, size_t size) {
  if (::ftruncate(fd, 0) != 0) return false;
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pwrite(fd, data + done, size - done, static_cast<off_t>(done));
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)memory_file();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int fd = memory_file();
  if (!write_all(fd, data, size)) std::abort();
  const std::string path = "/proc/self/fd/" + std::to_string(fd);

  if (auto summary = inspect_model(path); summary.ok()) {
    volatile size_t sink = summary->metadata.size() + summary->hparams.size() + summary->tensor_types.size();
    (void)sink;
  }

  LoadOptions options;
  options.n_threads = 1;
  options.n_ctx = 16;
  options.kv_type = (size & 1) ? KvCacheType::kF32 : KvCacheType::kF16;
  auto model = Model::load(path, options);
  if (!model.ok()) return 0;

  const Model& m = **model;
  const Tokenizer& tok = m.tokenizer();
  (void)m.apply_chat_template({{"system", "be brief"}, {"user", "hi"}}, true);
  std::vector<Token> prompt = tok.encode("a", /*add_special=*/true, /*parse_special=*/false);
  if (prompt.empty()) prompt.push_back(0);
  prompt.push_back(tok.n_vocab() - 1);
  auto session = m.new_session(SessionOptions{});
  if (!session.ok()) return 0;
  GenerateOptions g;
  g.max_tokens = 1;
  auto r = (*session)->generate(prompt, g);
  if (r.ok()) {
    const auto logits = (*session)->last_logits();
    if (logits.size() != static_cast<size_t>(tok.n_vocab())) {
      std::fprintf(stderr, "model_load_fuzz: %zu logits for %d tokens\n", logits.size(), tok.n_vocab());
      std::abort();
    }
  }
  return 0;
}
