// Continuous batching: many generations over one loaded model, advanced together.
//
// Each request is given a slot: a KV cache of its own, kept when the request ends, so that a
// later prompt that starts like the slot's last one evaluates only what differs (requests go
// to the free slot that shares the longest prefix with them). Every step runs ONE forward pass
// over the next token of every request that is decoding plus a chunk of each prompt still
// being read (at most n_batch tokens in all, decoding requests first): N concurrent requests
// read the weights once per step instead of N times. Requests join and leave between steps;
// a cancelled request leaves at the next step. Sampling, stop tokens, stop strings and
// streaming behave as Session::generate does.
//
// Threading: submit(), stats() and the destructor are thread-safe. The generator owns one
// thread, on which every callback runs (on_text for each token, then on_done exactly once).
// The destructor cancels what is queued or running, answers it, and joins the thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "moecode/engine/result.h"
#include "moecode/engine/session.h"
#include "moecode/engine/tokenizer.h"

namespace moecode::engine {

struct BatchOptions {
  int n_slots = 4;    // generations that run at once (more wait in the queue)
  int n_ctx = 0;      // context of each slot; 0: the model's n_ctx()
  int n_batch = 256;  // tokens per forward step, all slots together (>= n_slots)
  std::optional<KvCacheType> kv_type;  // unset: the model's
};

struct BatchRequest {
  std::vector<Token> prompt;  // not empty; at most the slot's context
  GenerateOptions options;
  TextCallback on_text;       // optional; batcher thread
  CancelToken cancel;
  // Exactly once, on the batcher thread: the result (stop = kCancelled when cancelled) or an
  // error (a prompt that does not fit, a generator shutting down: kCancelled).
  std::function<void(Result<GenerateResult>)> on_done;
};

struct BatchStats {
  uint64_t n_requests = 0;       // finished requests
  uint64_t n_steps = 0;          // forward passes
  uint64_t n_tokens = 0;         // tokens evaluated, all slots
  uint64_t n_reused = 0;         // prompt tokens served from a slot's cache
  uint64_t n_multi_steps = 0;    // steps that ran more than one sequence
  int max_seqs_per_step = 0;     // most sequences one step has run
  int n_active = 0;              // requests in a slot now
  int n_queued = 0;              // requests waiting for a slot
};

class BatchGenerator {
 public:
  virtual ~BatchGenerator() = default;
  virtual void submit(BatchRequest request) = 0;
  virtual BatchStats stats() const = 0;
  virtual int n_slots() const = 0;
  virtual int n_ctx() const = 0;  // of each slot
};

}  // namespace moecode::engine
