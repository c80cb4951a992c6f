// engine/runtime: chat formats (detection, exact renderings), split_reasoning, StopMatcher.
#include "engine/runtime/chat_template.h"

#include <gtest/gtest.h>

#include "engine/runtime/stop_strings.h"

namespace moecode::runtime {
namespace {

using engine::ChatMessage;

const std::vector<ChatMessage> kChat = {
    {"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello."}, {"user", "Sum 2+2"}};

TEST(ChatTemplate, DetectsFamiliesFromTemplates) {
  EXPECT_EQ(detect_chat_format("{% for m in messages %}<|im_start|>{{m.role}}..."), ChatFormat::kChatml);
  EXPECT_EQ(detect_chat_format("{{'<|start_header_id|>' + role + '<|end_header_id|>'}}"), ChatFormat::kLlama3);
  EXPECT_EQ(detect_chat_format("{{'<｜User｜>' + c}}{{'<｜Assistant｜>'}}<｜end▁of▁sentence｜>"), ChatFormat::kDeepseek3);
  EXPECT_EQ(detect_chat_format("{{ 'User: ' + message['content'] + '\\n\\n' }}{{ 'Assistant: ' + message['content'] + eos_token }}"),
            ChatFormat::kDeepseek2);
  EXPECT_EQ(detect_chat_format("### Instruction:\\n{{ message['content'] }}"), ChatFormat::kDeepseekCoder);
  EXPECT_EQ(detect_chat_format("{{ '[INST] ' + content + ' [/INST]' }}"), ChatFormat::kLlama2);
  EXPECT_EQ(detect_chat_format("{{ unknown }}"), std::nullopt);
  EXPECT_EQ(chat_template_family("<|im_start|>"), "chatml");
  EXPECT_EQ(chat_template_family(""), "");
  EXPECT_EQ(chat_format_from_name("deepseek3"), ChatFormat::kDeepseek3);
  EXPECT_EQ(chat_format_from_name("nope"), std::nullopt);
}

TEST(ChatTemplate, ChatmlRendering) {
  const ChatTemplate t{ChatFormat::kChatml, ""};
  EXPECT_EQ(render_chat(t, kChat, true),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nSum 2+2<|im_end|>\n"
            "<|im_start|>assistant\n");
  EXPECT_EQ(render_chat(t, {{"user", "x"}}, false), "<|im_start|>user\nx<|im_end|>\n");
}

TEST(ChatTemplate, ChatmlDefaultSystemFromTheTemplate) {
  // SmolLM2-Instruct's template (real newlines inside the literal).
  const std::string smol =
      "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n"
      "You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}"
      "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
      "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";
  const ChatTemplate t = chat_template_for(smol);
  EXPECT_EQ(t.format, ChatFormat::kChatml);
  EXPECT_EQ(t.default_system, "You are a helpful AI assistant named SmolLM, trained by Hugging Face");
  EXPECT_EQ(render_chat(t, {{"user", "Hi"}}, true),
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  // An explicit system message replaces it.
  EXPECT_EQ(render_chat(t, {{"system", "S"}, {"user", "Hi"}}, true),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  // Qwen2.5 style: escaped \n inside the Jinja literal; a computed system part is not a default.
  const std::string qwen =
      "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
      "{%- else %}{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}"
      "{%- endif %}";
  EXPECT_EQ(chat_template_for(qwen).default_system, "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.");
  EXPECT_EQ(chat_template_for("{{'<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>'}}").default_system, "");
}

TEST(ChatTemplate, Llama3Rendering) {
  const ChatTemplate t{ChatFormat::kLlama3, ""};
  EXPECT_EQ(render_chat(t, {{"system", " Be brief. "}, {"user", "Hi"}}, true),
            "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(ChatTemplate, DeepseekRenderings) {
  EXPECT_EQ(render_chat({ChatFormat::kDeepseek3, ""}, kChat, true),
            "Be brief.\n\n<｜User｜>Hi<｜Assistant｜>Hello.<｜end▁of▁sentence｜><｜User｜>Sum 2+2<｜Assistant｜>");
  EXPECT_EQ(render_chat({ChatFormat::kDeepseek2, ""}, kChat, true),
            "Be brief.\n\nUser: Hi\n\nAssistant: Hello.<｜end▁of▁sentence｜>User: Sum 2+2\n\nAssistant:");
  EXPECT_EQ(render_chat({ChatFormat::kDeepseekCoder, ""}, kChat, true),
            "Be brief.### Instruction:\nHi\n### Response:\nHello.\n<|EOT|>\n### Instruction:\nSum 2+2\n### Response:\n");
}

TEST(ChatTemplate, Llama2Rendering) {
  EXPECT_EQ(render_chat({ChatFormat::kLlama2, ""}, kChat, true),
            "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST]Hello.</s>[INST] Sum 2+2 [/INST]");
}

TEST(SplitReasoning, ThinkBlocks) {
  auto r = engine::split_reasoning("<think>\nLet me add.\n</think>\n\nIt is 4.");
  EXPECT_EQ(r.reasoning, "Let me add.");
  EXPECT_EQ(r.answer, "It is 4.");
  // R1: the prompt opened the block, the output only closes it.
  r = engine::split_reasoning("First 2, then 2 more.</think>4");
  EXPECT_EQ(r.reasoning, "First 2, then 2 more.");
  EXPECT_EQ(r.answer, "4");
  // Unfinished reasoning.
  r = engine::split_reasoning("<think>still going");
  EXPECT_EQ(r.reasoning, "still going");
  EXPECT_EQ(r.answer, "");
  // No reasoning at all: the text is the answer, untouched.
  r = engine::split_reasoning("  plain answer\n");
  EXPECT_EQ(r.reasoning, "");
  EXPECT_EQ(r.answer, "  plain answer\n");
}

TEST(StopMatcher, HoldsBackPossibleStartsAndCutsAtTheStop) {
  StopMatcher m({"\n\n", "END"});
  auto o = m.push("def f():");
  EXPECT_EQ(o.text, "def f():");
  EXPECT_FALSE(o.stopped);
  o = m.push("\n");  // could start "\n\n"
  EXPECT_EQ(o.text, "");
  o = m.push("  return 1E");  // "\n  return 1" is safe now; "E" may start END
  EXPECT_EQ(o.text, "\n  return 1");
  o = m.push("N");
  EXPECT_EQ(o.text, "");
  o = m.push("Dx");
  EXPECT_TRUE(o.stopped);
  EXPECT_EQ(o.text, "");
  EXPECT_EQ(m.flush(), "");
  EXPECT_TRUE(m.push("more").stopped);
}

TEST(StopMatcher, FlushReturnsHeldText) {
  StopMatcher m({"</s>"});
  EXPECT_EQ(m.push("abc</").text, "abc");
  EXPECT_EQ(m.flush(), "</");
  StopMatcher none({});
  EXPECT_EQ(none.push("x\n\n").text, "x\n\n");
  StopMatcher two({"cd", "bcx"});
  auto o = two.push("abcd");  // "cd" occurs; "bcx" does not
  EXPECT_TRUE(o.stopped);
  EXPECT_EQ(o.text, "ab");
}

}  // namespace
}  // namespace moecode::runtime
