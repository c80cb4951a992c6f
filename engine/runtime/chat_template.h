// Chat formats: detection from a GGUF's tokenizer.chat_template (or by name) and
// rendering of a message list, for the families moecode runs: ChatML (SmolLM2, Qwen),
// Llama 3, DeepSeek V2 ("User: ... Assistant:"), DeepSeek V3/R1 (<｜User｜>...<｜Assistant｜>),
// DeepSeek-Coder 1.x ("### Instruction:"), Llama 2 / Mistral ([INST]). The renderings
// follow llama.cpp's built-in templates (no BOS: the tokenizer adds it when the model asks),
// plus one thing the Jinja templates do and llama.cpp does not: a ChatML template's
// default system message (SmolLM2's, Qwen2.5's) is used when the chat has none.
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "moecode/engine/model.h"

namespace moecode::runtime {

enum class ChatFormat { kChatml, kLlama3, kDeepseek2, kDeepseek3, kDeepseekCoder, kLlama2 };

// The format's name as `--chat-template` takes it: "chatml", "llama3", "deepseek2",
// "deepseek3", "deepseek-coder", "llama2".
const char* chat_format_name(ChatFormat format);
std::optional<ChatFormat> chat_format_from_name(std::string_view name);

// The format a Jinja template is written for, from the marker strings it contains.
std::optional<ChatFormat> detect_chat_format(std::string_view tmpl);
// detect_chat_format() as a name ("" when unknown), for `model info`.
std::string chat_template_family(std::string_view tmpl);

struct ChatTemplate {
  ChatFormat format = ChatFormat::kChatml;
  std::string default_system;  // used when the chat has no system message ("" for none)
};

// The template for a GGUF's chat_template text (detected format + default system message);
// ChatML when the text is empty or unknown.
ChatTemplate chat_template_for(std::string_view tmpl);

std::string render_chat(const ChatTemplate& tmpl, const std::vector<engine::ChatMessage>& messages,
                        bool add_assistant_prefix);

}  // namespace moecode::runtime
