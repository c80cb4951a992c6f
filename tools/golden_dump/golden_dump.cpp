// golden_dump: reference data from llama.cpp for the conformance tests (our own program
// against libllama's public C API; built only when pointed at a llama.cpp build, see
// CMakeLists.txt here and tests/data/README.md). Single-threaded.
//
//   golden_dump golden --model M.gguf --family F --quant Q --inputs inputs.json
//                      [--kv f32|f16] [--experts] [--source TEXT] --out OUT.json
//     The golden JSON of the fixtures README: for each input sequence the whole sequence in
//     one llama_decode (logits at every position), the full last logits, the top-10 of every
//     position, a 16-token greedy continuation fed back one token at a time with its top-10s,
//     and llama_tokenize of the input texts. n_ctx = n_batch = n_ubatch = 512, 1 thread,
//     flash attention off, KV cache F32 (or F16 with --kv f16). --experts also records the
//     routed experts llama.cpp chose (the "ffn_moe_topk-<layer>" tensors, through the
//     scheduler's eval callback) for every MoE layer and position.
//
//   golden_dump tokenize --vocab V.gguf --inp X.inp
//     llama.cpp's ids for each case of a test-vector .inp file (cases separated by
//     "\n__ggml_vocab_test__\n"), in the .out format: one line per case, each id preceded by
//     a space; llama_tokenize(add_special=false, parse_special=false).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ggml-backend.h"
#include "ggml.h"
#include "llama.h"

namespace {

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "golden_dump: %s\n", msg.c_str());
  std::exit(1);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) die("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ---- JSON output (numbers as %.7g, as in the shared goldens) ----------------------------

std::string fmt_float(float v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.7g", static_cast<double>(v));
  return buf;
}

std::string json_string(const std::string& s) { return nlohmann::json(s).dump(); }

template <class T, class F>
std::string json_list(const std::vector<T>& v, F each) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += ", ";
    out += each(v[i]);
  }
  return out + "]";
}

std::string ints(const std::vector<int32_t>& v) {
  return json_list(v, [](int32_t x) { return std::to_string(x); });
}

// Top-10 of a logit row: by logit, descending; ties -> lower id.
std::string topk_json(const float* logits, int n_vocab) {
  std::vector<int> ids(n_vocab);
  for (int i = 0; i < n_vocab; ++i) ids[i] = i;
  std::partial_sort(ids.begin(), ids.begin() + 10, ids.end(),
                    [&](int a, int b) { return logits[a] != logits[b] ? logits[a] > logits[b] : a < b; });
  ids.resize(10);
  return json_list(ids, [&](int id) { return "[" + std::to_string(id) + ", " + fmt_float(logits[id]) + "]"; });
}

int argmax(const float* logits, int n_vocab) {
  int best = 0;
  for (int i = 1; i < n_vocab; ++i)
    if (logits[i] > logits[best]) best = i;
  return best;
}

// ---- routed experts through the eval callback -------------------------------------------

// The chosen experts of each MoE layer for the tokens of the current llama_decode call.
struct ExpertTap {
  bool enabled = false;
  std::map<int, std::vector<std::vector<int32_t>>> by_layer;  // layer -> [token][k]
};

constexpr const char kTopkName[] = "ffn_moe_topk-";

bool eval_callback(ggml_tensor* t, bool ask, void* user_data) {
  auto* tap = static_cast<ExpertTap*>(user_data);
  const bool wanted = tap->enabled && std::strncmp(t->name, kTopkName, sizeof kTopkName - 1) == 0;
  if (ask) return wanted;
  if (!wanted) return true;
  if (t->type != GGML_TYPE_I32) die(std::string("tensor ") + t->name + " is not I32");
  // [n_expert_used, n_tokens] (a view of the argsort result: read row by row).
  const int64_t k = t->ne[0], n = t->ne[1];
  const int layer = std::atoi(t->name + sizeof kTopkName - 1);
  auto& rows = tap->by_layer[layer];
  rows.assign(n, std::vector<int32_t>(k));
  for (int64_t i = 0; i < n; ++i)
    ggml_backend_tensor_get(t, rows[i].data(), i * t->nb[1], k * sizeof(int32_t));
  return true;
}

// ---- golden -------------------------------------------------------------------------------

struct Args {
  std::map<std::string, std::string> kv;
  bool has(const std::string& k) const { return kv.count(k) > 0; }
  std::string get(const std::string& k) const {
    auto it = kv.find(k);
    if (it == kv.end()) die("missing --" + k);
    return it->second;
  }
  std::string get(const std::string& k, const std::string& def) const { return has(k) ? kv.at(k) : def; }
};

Args parse(int argc, char** argv, int first) {
  Args a;
  for (int i = first; i < argc; ++i) {
    std::string s = argv[i];
    if (s.rfind("--", 0) != 0) die("unexpected argument " + s);
    s = s.substr(2);
    if (s == "experts") {
      a.kv[s] = "1";
    } else {
      if (i + 1 >= argc) die("--" + s + " needs a value");
      a.kv[s] = argv[++i];
    }
  }
  return a;
}

void decode_or_die(llama_context* ctx, llama_batch batch) {
  if (llama_decode(ctx, batch) != 0) die("llama_decode failed");
}

std::vector<int32_t> tokenize(const llama_vocab* vocab, const std::string& text, bool special) {
  std::vector<llama_token> ids(text.size() + 16);
  int n = llama_tokenize(vocab, text.data(), static_cast<int32_t>(text.size()), ids.data(),
                         static_cast<int32_t>(ids.size()), special, special);
  if (n < 0) {
    ids.resize(-n);
    n = llama_tokenize(vocab, text.data(), static_cast<int32_t>(text.size()), ids.data(),
                       static_cast<int32_t>(ids.size()), special, special);
  }
  if (n < 0) die("llama_tokenize failed");
  ids.resize(n);
  return {ids.begin(), ids.end()};
}

// The experts of the last decode call as JSON: [layer][token][k], layers in order.
std::string experts_json(const ExpertTap& tap) {
  std::vector<std::string> layers;
  for (const auto& [il, rows] : tap.by_layer) layers.push_back(json_list(rows, ints));
  return json_list(layers, [](const std::string& s) { return s; });
}

std::vector<int32_t> layer_ids_of(const ExpertTap& tap) {
  std::vector<int32_t> ids;
  for (const auto& [il, rows] : tap.by_layer) ids.push_back(il);
  return ids;
}

int cmd_golden(const Args& a) {
  const std::string model_path = a.get("model");
  const std::string kv = a.get("kv", "f32");
  if (kv != "f32" && kv != "f16") die("--kv is f32 or f16");
  const nlohmann::json inputs = nlohmann::json::parse(read_file(a.get("inputs")));

  llama_model_params mp = llama_model_default_params();
  mp.progress_callback = [](float, void*) { return true; };  // no progress dots
  llama_model* model = llama_model_load_from_file(model_path.c_str(), mp);
  if (!model) die("cannot load " + model_path);
  const llama_vocab* vocab = llama_model_get_vocab(model);
  const int n_vocab = llama_vocab_n_tokens(vocab);

  ExpertTap tap;
  tap.enabled = a.has("experts");
  llama_context_params cp = llama_context_default_params();
  cp.n_ctx = 512;
  cp.n_batch = 512;
  cp.n_ubatch = 512;
  cp.n_threads = 1;
  cp.n_threads_batch = 1;
  cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
  cp.type_k = kv == "f32" ? GGML_TYPE_F32 : GGML_TYPE_F16;
  cp.type_v = cp.type_k;
  if (tap.enabled) {
    cp.cb_eval = eval_callback;
    cp.cb_eval_user_data = &tap;
  }
  llama_context* ctx = llama_init_from_model(model, cp);
  if (!ctx) die("cannot create a context");

  char desc[256];
  llama_model_desc(model, desc, sizeof desc);
  char arch[128] = "";
  llama_model_meta_val_str(model, "general.architecture", arch, sizeof arch);
  const std::string name = model_path.substr(model_path.find_last_of('/') + 1);

  std::string out = "{";
  out += "\"model\": " + json_string(name);
  out += ", \"model_family\": " + json_string(a.get("family"));
  out += ", \"quant\": " + json_string(a.get("quant"));
  out += ", \"llama_cpp\": {\"source\": " + json_string(a.get("source", "")) +
         ", \"build\": \"CPU backend only (AMX disabled)\", \"system_info\": " +
         json_string(llama_print_system_info()) + ", \"program\": \"tools/golden_dump\"}";
  out += ", \"arch\": " + json_string(arch);
  out += ", \"llama_model_desc\": " + json_string(desc);
  out += ", \"n_vocab\": " + std::to_string(n_vocab);
  out += ", \"settings\": {\"n_threads\": 1, \"n_ctx\": 512, \"n_batch\": 512, \"n_ubatch\": 512, \"kv_cache_type\": " +
         json_string(kv) +
         ", \"flash_attn\": false, \"prompt\": \"whole sequence in one llama_decode call (one ubatch), logits "
         "requested for every position\", \"greedy\": \"16 tokens: greedy[0] = argmax of the last prompt logits; then "
         "greedy[j] (j=0..14) is fed back with one single-token llama_decode at position len(tokens)+j and greedy[j+1] "
         "= argmax of its logits (15 decode calls); greedy_topk[j] = top-10 of those logits; EOS is not special-cased; "
         "ties -> lowest id\"";
  if (tap.enabled) {
    out += ", \"experts\": \"per sequence: experts.layers = the MoE layers; experts.prompt[l][pos] and "
           "experts.greedy[l][j] = the ids of llama.cpp's ffn_moe_topk-<layer> tensor (the selected experts, best "
           "first) for that prompt position / greedy feed j\"";
  }
  out += "}, \"sequences\": [";

  llama_memory_t mem = llama_get_memory(ctx);
  bool first_seq = true;
  for (const auto& js : inputs.at("sequences")) {
    const std::vector<int32_t> tokens = js.get<std::vector<int32_t>>();
    const int n = static_cast<int>(tokens.size());
    llama_memory_clear(mem, true);
    llama_batch batch = llama_batch_init(n, 0, 1);
    for (int i = 0; i < n; ++i) {
      batch.token[i] = tokens[i];
      batch.pos[i] = i;
      batch.n_seq_id[i] = 1;
      batch.seq_id[i][0] = 0;
      batch.logits[i] = 1;
    }
    batch.n_tokens = n;
    tap.by_layer.clear();
    decode_or_die(ctx, batch);
    llama_batch_free(batch);
    const std::string prompt_experts = experts_json(tap);
    const std::vector<int32_t> layer_ids = layer_ids_of(tap);

    std::vector<std::string> topk;
    for (int i = 0; i < n; ++i) topk.push_back(topk_json(llama_get_logits_ith(ctx, i), n_vocab));
    const float* last = llama_get_logits_ith(ctx, n - 1);
    std::vector<float> last_logits(last, last + n_vocab);

    std::vector<int32_t> greedy = {argmax(last, n_vocab)};
    std::vector<std::string> greedy_topk;
    std::vector<std::map<int, std::vector<int32_t>>> greedy_experts;  // [j] layer -> ids
    for (int j = 0; j < 15; ++j) {
      llama_batch one = llama_batch_init(1, 0, 1);
      one.token[0] = greedy.back();
      one.pos[0] = n + j;
      one.n_seq_id[0] = 1;
      one.seq_id[0][0] = 0;
      one.logits[0] = 1;
      one.n_tokens = 1;
      tap.by_layer.clear();
      decode_or_die(ctx, one);
      llama_batch_free(one);
      std::map<int, std::vector<int32_t>> e;
      for (const auto& [il, rows] : tap.by_layer) e[il] = rows.at(0);
      greedy_experts.push_back(std::move(e));
      const float* l = llama_get_logits_ith(ctx, 0);
      greedy_topk.push_back(topk_json(l, n_vocab));
      greedy.push_back(argmax(l, n_vocab));
    }

    out += first_seq ? "" : ", ";
    first_seq = false;
    out += "{\"tokens\": " + ints(tokens);
    out += ", \"last_logits\": " + json_list(last_logits, fmt_float);
    out += ", \"topk_per_pos\": " + json_list(topk, [](const std::string& s) { return s; });
    out += ", \"greedy\": " + ints(greedy);
    out += ", \"greedy_topk\": " + json_list(greedy_topk, [](const std::string& s) { return s; });
    if (tap.enabled) {
      // [layer][j][k], in the layer order of the prompt's list.
      std::vector<std::string> per_layer;
      for (int il : layer_ids) {
        std::vector<std::vector<int32_t>> steps;
        for (const auto& e : greedy_experts) steps.push_back(e.at(il));
        per_layer.push_back(json_list(steps, ints));
      }
      out += ", \"experts\": {\"layers\": " + ints(layer_ids) + ", \"prompt\": " + prompt_experts +
             ", \"greedy\": " + json_list(per_layer, [](const std::string& s) { return s; }) + "}";
    }
    out += "}";
  }
  out += "], \"tokenize\": [";
  bool first_text = true;
  for (const auto& jt : inputs.at("texts")) {
    const std::string text = jt.get<std::string>();
    out += first_text ? "" : ", ";
    first_text = false;
    out += "{\"text\": " + json_string(text);
    out += ", \"ids_add_special_parse_special\": " + ints(tokenize(vocab, text, true));
    out += ", \"ids_plain\": " + ints(tokenize(vocab, text, false)) + "}";
  }
  out += "]}\n";

  std::ofstream f(a.get("out"), std::ios::binary);
  f << out;
  if (!f) die("cannot write " + a.get("out"));
  llama_free(ctx);
  llama_model_free(model);
  return 0;
}

// ---- tokenize -----------------------------------------------------------------------------

int cmd_tokenize(const Args& a) {
  llama_model_params mp = llama_model_default_params();
  mp.vocab_only = true;
  mp.progress_callback = [](float, void*) { return true; };
  llama_model* model = llama_model_load_from_file(a.get("vocab").c_str(), mp);
  if (!model) die("cannot load " + a.get("vocab"));
  const llama_vocab* vocab = llama_model_get_vocab(model);
  const std::string text = read_file(a.get("inp"));
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> cases;
  for (size_t pos = 0; pos <= text.size();) {
    const size_t hit = text.find(sep, pos);
    if (hit == std::string::npos) {
      if (pos < text.size()) cases.push_back(text.substr(pos));
      break;
    }
    cases.push_back(text.substr(pos, hit - pos));
    pos = hit + sep.size();
  }
  for (const std::string& c : cases) {
    for (int32_t id : tokenize(vocab, c, false)) std::printf(" %d", id);
    std::printf("\n");
  }
  llama_model_free(model);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) die("usage: golden_dump golden|tokenize --option value ...");
  const std::string cmd = argv[1];
  const Args a = parse(argc, argv, 2);
  llama_log_set([](ggml_log_level level, const char* text, void*) {
    if (level >= GGML_LOG_LEVEL_WARN) std::fputs(text, stderr);
  }, nullptr);
  llama_backend_init();
  int rc = 1;
  if (cmd == "golden") {
    rc = cmd_golden(a);
  } else if (cmd == "tokenize") {
    rc = cmd_tokenize(a);
  } else {
    die("unknown command " + cmd);
  }
  llama_backend_free();
  return rc;
}
