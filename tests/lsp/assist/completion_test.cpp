// Completion logic without a model: stop rules, FIM formats, context windows, the pipeline
// over a ScriptedGenerator (range, prefix reuse, cancellation).
#include <gtest/gtest.h>

#include "lsp/assist/completion.h"
#include "lsp/assist/context.h"
#include "lsp/assist/fim.h"
#include "lsp/assist/scripted_generator.h"
#include "lsp/assist/stop_rules.h"

namespace moecode::assist {
namespace {

std::string run_stopper(const std::string& doc, size_t cursor, const std::string& generated, int max_lines = 8,
                        size_t piece = 3) {
  CompletionStopper s(stop_rules_at(doc, cursor, max_lines));
  for (size_t i = 0; i < generated.size(); i += piece) {
    if (!s.feed(std::string_view(generated).substr(i, piece))) break;
  }
  return s.finish();
}

TEST(StopRulesTest, MidLineCompletionIsOneLine) {
  const std::string doc = "print(|)\n";
  EXPECT_EQ(run_stopper(doc, 6, "x, y)\nmore()\n"), "x, y)");
}

TEST(StopRulesTest, BlankLineEndsAMultiLineCompletion) {
  const std::string doc = "def add(a, b):\n";
  EXPECT_EQ(run_stopper(doc, 14, "\n    return a + b\n\ndef sub(a, b):\n"), "\n    return a + b");
}

TEST(StopRulesTest, DedentEndsTheBlock) {
  const std::string doc = "function f() {\n  \n}\n";
  const size_t cursor = 17;  // after the two spaces of the empty line
  EXPECT_EQ(run_stopper(doc, cursor, "const x = 1;\n  return x;\n}\nfunction g() {"), "const x = 1;\n  return x;");
}

TEST(StopRulesTest, RepeatingTheNextLineStops) {
  const std::string doc = "x = 1\n\nprint(x)\n";
  EXPECT_EQ(run_stopper(doc, 6, "y = 2\nprint(x)\n"), "y = 2");
}

TEST(StopRulesTest, MaxLinesAndTrailingWhitespace) {
  const std::string doc = "";
  EXPECT_EQ(run_stopper(doc, 0, "a\nb\nc\nd\n", 2), "a\nb");
  EXPECT_EQ(run_stopper(doc, 0, "abc   \n\n"), "abc");
  EXPECT_EQ(run_stopper(doc, 0, "\n\n\n"), "");
  // A generation that ends mid-line keeps the partial line.
  EXPECT_EQ(run_stopper(doc, 0, "for i in range(", 8, 100), "for i in range(");
}

TEST(StopRulesTest, RulesAtTheCursor) {
  const StopRules r = stop_rules_at("  a = f(|b)\r\n\n  c\n", 9, 4);
  EXPECT_EQ(r.line_prefix, "  a = f(|");
  EXPECT_EQ(r.line_suffix, "b)");
  EXPECT_EQ(r.next_line, "c");
  EXPECT_EQ(indent_width("\t  x"), 6u);
}

// ---- FIM -----------------------------------------------------------------------------------

class FakeVocab final : public Generator {
 public:
  explicit FakeVocab(std::vector<std::string> specials, SpecialTokenTexts meta = {})
      : specials_(std::move(specials)), meta_(std::move(meta)) {}
  std::string describe() const override { return "fake"; }
  int n_ctx() const override { return 4096; }
  int count_tokens(std::string_view t) const override { return static_cast<int>(t.size()); }
  SpecialTokenTexts special_tokens() const override { return meta_; }
  bool has_special_token(std::string_view t) const override {
    return std::find(specials_.begin(), specials_.end(), t) != specials_.end();
  }
  Result<Generation> generate(const Prompt&, const GenerationOptions&, const StreamFn&, const CancelToken&) override {
    return Generation{};
  }

 private:
  std::vector<std::string> specials_;
  SpecialTokenTexts meta_;
};

TEST(FimTest, MetadataTokensWin) {
  SpecialTokenTexts meta;
  meta.fim_prefix = "<P>";
  meta.fim_suffix = "<S>";
  meta.fim_middle = "<M>";
  meta.eos = "</s>";
  FakeVocab g({"<P>", "<S>", "<M>", "</s>", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"}, meta);
  const FimFormat f = detect_fim_format(g);
  EXPECT_EQ(f.name, "gguf");
  EXPECT_EQ(f.prefix, "<P>");
  EXPECT_EQ(f.stop_special, (std::vector<std::string>{"</s>"}));
}

TEST(FimTest, KnownFamiliesByTokenText) {
  FakeVocab qwen({"<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|file_sep|>", "<|endoftext|>"});
  FimFormat f = detect_fim_format(qwen);
  EXPECT_EQ(f.name, "qwen");
  EXPECT_EQ(f.file_sep, "<|file_sep|>");
  EXPECT_NE(std::find(f.stop_special.begin(), f.stop_special.end(), "<|endoftext|>"), f.stop_special.end());
  FakeVocab ds({"<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"});
  EXPECT_EQ(detect_fim_format(ds).name, "deepseek");
  FakeVocab sc({"<fim_prefix>", "<fim_suffix>", "<fim_middle>"});
  EXPECT_EQ(detect_fim_format(sc).name, "starcoder");
  FakeVocab codestral({"[PREFIX]", "[SUFFIX]"});
  EXPECT_EQ(detect_fim_format(codestral).order, FimFormat::Order::kSpm);
  // SmolLM2-style vocabulary: repo tokens but no FIM tokens.
  FakeVocab smol({"<file_sep>", "<filename>", "<repo_name>"});
  EXPECT_EQ(detect_fim_format(smol).order, FimFormat::Order::kPrefixOnly);
}

TEST(FimTest, RendersPsmSpmAndPrefixOnlyWithSnippets) {
  CompletionContext ctx;
  ctx.path = "/w/a.py";
  ctx.language_id = "python";
  ctx.prefix = "def f():\n    ";
  ctx.suffix = "\nprint(f())\n";
  ctx.snippets = {{"/w/b.py", "def g():\n    pass"}};
  FakeVocab qwen({"<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|file_sep|>"});
  Prompt p = render_prompt(detect_fim_format(qwen), ctx);
  EXPECT_EQ(p.render(),
            "<|file_sep|>/w/b.py\ndef g():\n    pass\n<|file_sep|>/w/a.py\n<|fim_prefix|>def f():\n    "
            "<|fim_suffix|>\nprint(f())\n<|fim_middle|>");
  ASSERT_GE(p.parts.size(), 2u);
  EXPECT_EQ(p.parts[0].kind, PromptPart::Kind::kSpecial);
  EXPECT_EQ(p.parts[1].kind, PromptPart::Kind::kText);
  FakeVocab codestral({"[PREFIX]", "[SUFFIX]"});
  ctx.snippets.clear();
  EXPECT_EQ(render_prompt(detect_fim_format(codestral), ctx).render(),
            "[SUFFIX]\nprint(f())\n[PREFIX]def f():\n    ");
  FakeVocab none({});
  ctx.snippets = {{"/w/b.py", "x = 1"}};
  EXPECT_EQ(render_prompt(detect_fim_format(none), ctx).render(), "# Path: /w/b.py\n# x = 1\n\ndef f():\n    ");
}

TEST(FimTest, CodeThatLooksLikeAControlTokenStaysText) {
  FakeVocab qwen({"<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"});
  CompletionContext ctx;
  ctx.prefix = "s = '<|fim_middle|>'";
  const Prompt p = render_prompt(detect_fim_format(qwen), ctx);
  ASSERT_EQ(p.parts.size(), 4u);  // <pre> text <suf> <mid> (the empty suffix adds no part)
  EXPECT_EQ(p.parts[1].kind, PromptPart::Kind::kText);
  EXPECT_EQ(p.parts[1].text, "s = '<|fim_middle|>'");
}

// ---- context -------------------------------------------------------------------------------

TEST(ContextTest, SmallDocumentFitsWhole) {
  WindowContextProvider provider;
  ContextRequest req;
  req.text = std::make_shared<const std::string>("line1\nline2\nline3\n");
  req.cursor = 8;
  req.token_budget = 1000;
  auto ctx = provider.gather(req, [](std::string_view s) { return static_cast<int>(s.size()); }, {});
  ASSERT_TRUE(ctx.ok());
  EXPECT_EQ(ctx->prefix, "line1\nli");
  EXPECT_EQ(ctx->suffix, "ne2\nline3\n");
}

TEST(ContextTest, WindowStartIsStableWhileTyping) {
  std::string text;
  for (int i = 0; i < 400; ++i) text += "value_" + std::to_string(i) + " = compute(" + std::to_string(i) + ")\n";
  WindowContextProvider provider;
  auto count = [](std::string_view s) { return static_cast<int>((s.size() + 3) / 4); };
  ContextRequest req;
  req.token_budget = 1024;
  std::string doc = text;
  size_t cursor = doc.size() - 40;
  size_t first_start = 0;
  for (int k = 0; k < 10; ++k) {  // type ten characters
    doc.insert(cursor, "x");
    ++cursor;
    req.text = std::make_shared<const std::string>(doc);
    req.cursor = cursor;
    auto ctx = provider.gather(req, count, {});
    ASSERT_TRUE(ctx.ok());
    EXPECT_LE(count(ctx->prefix), 768);
    EXPECT_GT(count(ctx->prefix), 400) << "the window uses most of its budget";
    EXPECT_EQ(ctx->prefix_start + ctx->prefix.size(), cursor);
    if (k == 0) first_start = ctx->prefix_start;
    EXPECT_EQ(ctx->prefix_start, first_start) << "typing moved the start of the window";
    EXPECT_LE(count(ctx->suffix), 256);
  }
}

TEST(ContextTest, HugeSingleLineIsCut) {
  WindowContextProvider provider;
  ContextRequest req;
  req.text = std::make_shared<const std::string>(std::string(100000, 'a'));
  req.cursor = 50000;
  req.token_budget = 100;
  auto ctx = provider.gather(req, [](std::string_view s) { return static_cast<int>(s.size()); }, {});
  ASSERT_TRUE(ctx.ok());
  EXPECT_LE(ctx->prefix.size(), 300u);
  EXPECT_LE(ctx->suffix.size(), 25u);
  EXPECT_EQ(ctx->prefix_start + ctx->prefix.size(), 50000u);
}

// ---- the pipeline --------------------------------------------------------------------------

TEST(CompleterTest, CompletesWithARangeAndReusesThePrefix) {
  Script script;
  script.replies = {{"def add(a, b):", "\n    return a + b\n\nprint(add(1, 2))\n"}};
  script.fallback = "x)";
  ScriptedGenerator gen(script);
  WindowContextProvider provider;
  Completer completer(gen, provider);
  EXPECT_EQ(completer.format().name, "prefix-only");

  CompletionRequest req;
  req.context.text = std::make_shared<const std::string>("import os\n\ndef add(a, b):\n");
  req.context.cursor = 25;  // end of the def line
  auto r = completer.complete(req, {});
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->text, "\n    return a + b");
  EXPECT_EQ(r->replace_start, 25u);
  EXPECT_EQ(r->replace_end, 25u);
  EXPECT_EQ(gen.last_prompt(), "import os\n\ndef add(a, b):");
  // Mid-line with a closing bracket after the cursor: the fallback "x)" replaces ")".
  req.context.text = std::make_shared<const std::string>("import os\n\ndef sub(a, b):\nprint()\n");
  req.context.cursor = 32;
  auto r2 = completer.complete(req, {});
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->text, "x)");
  EXPECT_EQ(r2->replace_start, 32u);
  EXPECT_EQ(r2->replace_end, 33u);
  EXPECT_EQ(r2->word_start, 32u);
  EXPECT_GT(r2->generation.n_cached_tokens, 0) << "the second prompt shares the first one's prefix";
}

TEST(CompleterTest, TrailingSpaceGoesBackToTheModelAndOffItsAnswer) {
  Script script;
  script.replies = {{"print(a,", " b)\n"}, {"def add(a, b):", " return a + b\n"}};
  ScriptedGenerator gen(script);
  WindowContextProvider provider;
  Completer completer(gen, provider);
  CompletionRequest req;
  req.context.text = std::make_shared<const std::string>("def add(a, b):\n    ");
  req.context.cursor = req.context.text->size();
  auto r = completer.complete(req, {});
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(gen.last_prompt(), "def add(a, b):\n   ");
  EXPECT_EQ(r->text, "return a + b");
  req.context.text = std::make_shared<const std::string>("x = 1\nprint(a, ");
  req.context.cursor = req.context.text->size();
  auto r2 = completer.complete(req, {});
  ASSERT_TRUE(r2.ok()) << r2.error().message();
  EXPECT_EQ(gen.last_prompt(), "x = 1\nprint(a,");
  EXPECT_EQ(r2->text, "b)");
}

TEST(CompleterTest, CancellationIsAnError) {
  Script script;
  script.fallback = std::string(400, 'a');
  script.token_delay_ms = 1;
  ScriptedGenerator gen(script);
  WindowContextProvider provider;
  Completer completer(gen, provider);
  CompletionRequest req;
  req.context.text = std::make_shared<const std::string>("x");
  req.context.cursor = 1;
  CancelToken cancel;
  gen.on_start([cancel] { cancel.cancel(); });
  auto r = completer.complete(req, cancel);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kCancelled);
  EXPECT_EQ(gen.n_cancelled(), 1);
}

TEST(CompleterTest, MaxTokensBoundsTheGeneration) {
  Script script;
  script.fallback = "abcdefghijklmnopqrstuvwxyz";
  ScriptedGenerator gen(script);
  WindowContextProvider provider;
  Completer completer(gen, provider);
  CompletionRequest req;
  req.context.text = std::make_shared<const std::string>("");
  req.options.max_tokens = 2;
  auto r = completer.complete(req, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->text, "abcdefgh");  // two 4-byte "tokens"
  EXPECT_EQ(r->generation.finish, FinishReason::kLength);
}

}  // namespace
}  // namespace moecode::assist
