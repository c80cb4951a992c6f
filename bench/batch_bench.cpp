// Continuous batching throughput: N requests one after another vs the same N at once, in the
// same run, alternating, on one model.
//
//   batch_bench -m MODEL.gguf [-t THREADS] [--requests 8] [--prompt 64] [--gen 128] [--rounds 2]
//               [--http URL]
//
// Engine mode (default): one engine::BatchGenerator with N slots; "sequential" submits the next
// request when the previous one is done (each step runs one sequence: the single-session path),
// "concurrent" submits all N at once (each step runs up to N sequences in one forward pass).
// Every request has its own prompt (distinct token ids, so no slot reuses another's cache) and
// generates exactly --gen tokens (end-of-generation ignored).
// HTTP mode (--http http://127.0.0.1:8090): the same through `moecode serve --http` with N
// parallel slots, requests as token ids with ignore_eos (needs -m only for nothing: prompts are
// token ids 1000+...).
// Prints one line per measurement and the ratio concurrent/sequential of generated tokens/s.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsp/remote/http_client.h"
#include "moecode/engine/batch.h"
#include "moecode/engine/model.h"

namespace {

using Clock = std::chrono::steady_clock;
using moecode::engine::Token;

struct Args {
  std::string model;
  std::string http;
  int threads = 0;
  int requests = 8;
  int prompt = 64;
  int gen = 128;
  int rounds = 2;
};

std::vector<Token> prompt_of(int i, int n) {
  std::vector<Token> t;
  for (int k = 0; k < n; ++k) t.push_back(static_cast<Token>(1000 + (i * 131 + k * 17) % 20000));
  return t;
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// ---- engine mode ------------------------------------------------------------------------------

struct Waiter {
  std::mutex mu;
  std::condition_variable cv;
  int done = 0;
  int tokens = 0;
};

double run_engine(moecode::engine::BatchGenerator& batch, const Args& a, bool concurrent, int round, int& tokens) {
  Waiter w;
  auto submit = [&](int i) {
    moecode::engine::BatchRequest r;
    r.prompt = prompt_of(i + round * a.requests * 7, a.prompt);
    r.options.max_tokens = a.gen;
    r.options.stop_at_end_of_generation = false;
    r.on_done = [&w](moecode::Result<moecode::engine::GenerateResult> res) {
      std::lock_guard lock(w.mu);
      ++w.done;
      if (res.ok()) w.tokens += static_cast<int>(res->tokens.size());
      w.cv.notify_all();
    };
    batch.submit(std::move(r));
  };
  const auto t0 = Clock::now();
  if (concurrent) {
    for (int i = 0; i < a.requests; ++i) submit(i);
    std::unique_lock lock(w.mu);
    w.cv.wait(lock, [&] { return w.done == a.requests; });
  } else {
    for (int i = 0; i < a.requests; ++i) {
      submit(i);
      std::unique_lock lock(w.mu);
      w.cv.wait(lock, [&] { return w.done == i + 1; });
    }
  }
  tokens = w.tokens;
  return seconds_since(t0);
}

// ---- HTTP mode --------------------------------------------------------------------------------

int one_http(const std::string& url, const Args& a, int i) {
  auto u = moecode::remote::parse_url(url);
  if (!u.ok()) return 0;
  moecode::remote::HttpClient client(*u);
  moecode::remote::HttpRequest r;
  r.target = u->path + "/completions";
  r.headers = {{"Content-Type", "application/json"}};
  r.body = nlohmann::json{{"prompt", prompt_of(i, a.prompt)}, {"max_tokens", a.gen}, {"temperature", 0},
                          {"ignore_eos", true}}
               .dump();
  auto resp = client.send(r, nullptr, moecode::remote::HttpTimeouts{10000, 600000}, moecode::engine::CancelToken());
  if (!resp.ok() || resp->status != 200) {
    std::fprintf(stderr, "batch_bench: request failed: %s\n",
                 resp.ok() ? resp->body.c_str() : resp.error().message().c_str());
    return 0;
  }
  return nlohmann::json::parse(resp->body)["usage"]["completion_tokens"].get<int>();
}

double run_http(const Args& a, bool concurrent, int round, int& tokens) {
  std::vector<int> got(static_cast<size_t>(a.requests), 0);
  const auto t0 = Clock::now();
  if (concurrent) {
    std::vector<std::thread> ts;
    for (int i = 0; i < a.requests; ++i) {
      ts.emplace_back([&, i] { got[static_cast<size_t>(i)] = one_http(a.http, a, i + round * a.requests * 7); });
    }
    for (auto& t : ts) t.join();
  } else {
    for (int i = 0; i < a.requests; ++i) got[static_cast<size_t>(i)] = one_http(a.http, a, i + round * a.requests * 7);
  }
  tokens = 0;
  for (int g : got) tokens += g;
  return seconds_since(t0);
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (k == "-m") a.model = next();
    else if (k == "-t") a.threads = std::atoi(next().c_str());
    else if (k == "--requests") a.requests = std::atoi(next().c_str());
    else if (k == "--prompt") a.prompt = std::atoi(next().c_str());
    else if (k == "--gen") a.gen = std::atoi(next().c_str());
    else if (k == "--rounds") a.rounds = std::atoi(next().c_str());
    else if (k == "--http") a.http = next();
    else {
      std::fprintf(stderr, "usage: batch_bench -m MODEL [-t N] [--requests 8] [--prompt 64] [--gen 128] [--rounds 2] [--http URL]\n");
      return 2;
    }
  }
  std::unique_ptr<moecode::engine::BatchGenerator> batch;
  if (a.http.empty()) {
    moecode::engine::LoadOptions lo;
    lo.n_threads = a.threads;
    lo.n_ctx = std::max(512, a.prompt + a.gen + 16);
    auto model = moecode::engine::Model::load(a.model, lo);
    if (!model.ok()) {
      std::fprintf(stderr, "batch_bench: %s\n", model.error().message().c_str());
      return 1;
    }
    moecode::engine::BatchOptions bo;
    bo.n_slots = a.requests;
    bo.n_batch = std::max(256, a.requests);
    auto b = (*model)->new_batch_generator(bo);
    if (!b.ok()) {
      std::fprintf(stderr, "batch_bench: %s\n", b.error().message().c_str());
      return 1;
    }
    batch = std::move(*b);
  }
  std::printf("%s: %d requests, %d prompt tokens, %d generated tokens each, %d threads\n",
              a.http.empty() ? "engine" : a.http.c_str(), a.requests, a.prompt, a.gen, a.threads);
  double seq_tps = 0, conc_tps = 0;
  for (int round = 0; round < a.rounds; ++round) {
    for (bool concurrent : {false, true}) {
      int tokens = 0;
      const double s = a.http.empty() ? run_engine(*batch, a, concurrent, round, tokens) : run_http(a, concurrent, round, tokens);
      const double tps = tokens / s;
      std::printf("round %d %-10s %6.2f s  %5d tokens  %7.1f generated tok/s\n", round + 1,
                  concurrent ? "concurrent" : "sequential", s, tokens, tps);
      std::fflush(stdout);
      (concurrent ? conc_tps : seq_tps) += tps / a.rounds;
    }
  }
  if (batch) {
    const auto st = batch->stats();
    std::printf("steps %llu, multi-sequence steps %llu, most sequences in a step %d\n",
                static_cast<unsigned long long>(st.n_steps), static_cast<unsigned long long>(st.n_multi_steps),
                st.max_seqs_per_step);
  }
  std::printf("mean: sequential %.1f tok/s, concurrent %.1f tok/s, ratio %.2f\n", seq_tps, conc_tps,
              seq_tps > 0 ? conc_tps / seq_tps : 0.0);
  return 0;
}
