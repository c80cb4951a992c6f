// RemoteGenerator: the Generator over a remote OpenAI-compatible server (vLLM, SGLang,
// llama.cpp's server, Azure AI Foundry, Together AI, NVIDIA NIM, moecode's own `serve --http`).
// Completions go to /completions (fill-in-the-middle as the preset or `fim` says: "suffix",
// llama.cpp's /infill, the family's FIM tokens written into the prompt, or a chat that asks for
// the code at the cursor); fix, translate and review to /chat/completions. Every answer is
// streamed (SSE) and can be cancelled: cancelling closes the connection, which stops the
// generation on the server. 429 and 5xx answers are retried with backoff (Retry-After
// honoured), as are refused connections, but never once text has been streamed.
// The API key is read from the environment variable the configuration names, at each request;
// it is sent only in the Authorization (or api-key) header, never logged, never stored.
// Token counts are estimates (one token per 3 bytes): no remote tokenizer is at hand.
//
// Threading: thread-compatible (the scheduler's worker makes every call); the CancelToken may
// be set from any thread.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "lsp/assist/generator.h"
#include "lsp/remote/http_client.h"
#include "lsp/remote/remote_config.h"

namespace moecode::remote {

class RemoteGenerator final : public assist::Generator {
 public:
  // Resolves the preset and, where the server lists its models, asks GET /models (the context
  // size, the model name when none is configured and the server has one). A refused key (401,
  // 403) is an error; an unreachable server only a warning: requests will tell.
  static Result<std::unique_ptr<RemoteGenerator>> connect(const RemoteConfig& config,
                                                          const CancelToken& cancel = CancelToken());

  std::string describe() const override;
  int n_ctx() const override { return n_ctx_; }
  int count_tokens(std::string_view text) const override;
  assist::SpecialTokenTexts special_tokens() const override;
  bool has_special_token(std::string_view text) const override;
  Result<assist::Generation> generate(const assist::Prompt& prompt, const assist::GenerationOptions& options,
                                      const assist::StreamFn& on_piece, const CancelToken& cancel) override;
  Result<assist::Generation> chat(const std::vector<assist::ChatMessage>& messages,
                                  const assist::GenerationOptions& options, const assist::StreamFn& on_piece,
                                  const CancelToken& cancel) override;

  // A prompt of token ids (moecode's own server and the shared engine daemon, which take
  // "prompt": [ids] and "stop_token_ids"): the caller tokenized it with the model's tokenizer.
  Result<assist::Generation> generate_tokens(const std::vector<int32_t>& tokens, const std::vector<int32_t>& stop_ids,
                                             const assist::GenerationOptions& options,
                                             const assist::StreamFn& on_piece, const CancelToken& cancel);
  // The server's entry for the model in GET /models (null when it was not listed).
  const nlohmann::json& model_entry() const { return model_entry_; }

  const ResolvedRemote& config() const { return remote_; }
  // The model name requests carry ("" when the server chooses).
  const std::string& model() const { return model_; }
  // Requests sent, retries made (tests, status).
  int n_requests() const { return n_requests_.load(); }
  int n_retries() const { return n_retries_.load(); }

 private:
  enum class Api { kCompletions, kChat, kInfill };
  RemoteGenerator(ResolvedRemote remote, Url base);

  Status probe(const CancelToken& cancel);
  // POSTs `body` to `target`, streams the answer through the stop filter to `on_piece`.
  Result<assist::Generation> run(Api api, const std::string& target, nlohmann::json body,
                                 const std::vector<std::string>& stops, const assist::StreamFn& on_piece,
                                 const CancelToken& cancel);
  Result<HttpResponse> send_with_retries(const HttpRequest& request, const BodyFn& on_body, bool& streamed,
                                         const CancelToken& cancel);
  std::vector<std::pair<std::string, std::string>> headers(bool stream) const;
  std::string target(const std::string& endpoint) const;
  nlohmann::json sampling(const assist::GenerationOptions& options) const;
  std::vector<std::string> stop_list(const assist::GenerationOptions& options) const;
  Result<assist::Generation> chat_fill(const assist::Prompt& prompt, const assist::GenerationOptions& options,
                                       const assist::StreamFn& on_piece, const CancelToken& cancel);

  ResolvedRemote remote_;
  Url base_;
  std::unique_ptr<HttpClient> client_;
  std::string model_;
  int n_ctx_ = 8192;
  nlohmann::json model_entry_;
  std::atomic<int> n_requests_{0};
  std::atomic<int> n_retries_{0};
};

}  // namespace moecode::remote
