// Chat formats and split_reasoning (see chat_template.h, moecode/engine/model.h).
#include "engine/runtime/chat_template.h"

#include <sstream>

namespace moecode::runtime {

namespace {

bool contains(std::string_view s, std::string_view what) { return s.find(what) != std::string_view::npos; }

std::string trim(std::string_view s) {
  const char* ws = " \t\n\r";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return "";
  const size_t e = s.find_last_not_of(ws);
  return std::string(s.substr(b, e - b + 1));
}

// A ChatML template's default system message: the literal
// '<|im_start|>system\n' TEXT '<|im_end|>' written as one quoted string in the template.
std::string chatml_default_system(std::string_view tmpl) {
  for (const std::string_view start : {std::string_view("<|im_start|>system\n"), std::string_view("<|im_start|>system\\n")}) {
    size_t pos = 0;
    while ((pos = tmpl.find(start, pos)) != std::string_view::npos) {
      const size_t text_begin = pos + start.size();
      const bool quoted = pos > 0 && (tmpl[pos - 1] == '\'' || tmpl[pos - 1] == '"');
      const size_t end = tmpl.find("<|im_end|>", text_begin);
      pos = text_begin;
      if (!quoted || end == std::string_view::npos) continue;
      const std::string_view text = tmpl.substr(text_begin, end - text_begin);
      // Template code inside means the content is computed, not a literal.
      if (text.empty() || contains(text, "'") || contains(text, "\"") || contains(text, "{{") || contains(text, "{%"))
        continue;
      std::string out;
      for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\\' && i + 1 < text.size() && text[i + 1] == 'n') {
          out += '\n';
          ++i;
        } else {
          out += text[i];
        }
      }
      return out;
    }
  }
  return "";
}

}  // namespace

const char* chat_format_name(ChatFormat format) {
  switch (format) {
    case ChatFormat::kChatml: return "chatml";
    case ChatFormat::kLlama3: return "llama3";
    case ChatFormat::kDeepseek2: return "deepseek2";
    case ChatFormat::kDeepseek3: return "deepseek3";
    case ChatFormat::kDeepseekCoder: return "deepseek-coder";
    case ChatFormat::kLlama2: return "llama2";
  }
  return "chatml";
}

std::optional<ChatFormat> chat_format_from_name(std::string_view name) {
  for (ChatFormat f : {ChatFormat::kChatml, ChatFormat::kLlama3, ChatFormat::kDeepseek2, ChatFormat::kDeepseek3,
                       ChatFormat::kDeepseekCoder, ChatFormat::kLlama2}) {
    if (name == chat_format_name(f)) return f;
  }
  return std::nullopt;
}

std::optional<ChatFormat> detect_chat_format(std::string_view t) {
  if (contains(t, "<｜User｜>") && contains(t, "<｜Assistant｜>")) return ChatFormat::kDeepseek3;
  if (contains(t, "<|start_header_id|>") && contains(t, "<|end_header_id|>")) return ChatFormat::kLlama3;
  if (contains(t, "<|im_start|>")) return ChatFormat::kChatml;
  if (contains(t, "### Instruction:")) return ChatFormat::kDeepseekCoder;
  if (contains(t, "'Assistant: ' + message['content'] + eos_token") || (contains(t, "User: ") && contains(t, "Assistant:")))
    return ChatFormat::kDeepseek2;
  if (contains(t, "[INST]")) return ChatFormat::kLlama2;
  return std::nullopt;
}

std::string chat_template_family(std::string_view tmpl) {
  auto f = detect_chat_format(tmpl);
  return f ? chat_format_name(*f) : "";
}

ChatTemplate chat_template_for(std::string_view tmpl) {
  ChatTemplate t;
  t.format = detect_chat_format(tmpl).value_or(ChatFormat::kChatml);
  if (t.format == ChatFormat::kChatml) t.default_system = chatml_default_system(tmpl);
  return t;
}

std::string render_chat(const ChatTemplate& tmpl, const std::vector<engine::ChatMessage>& messages,
                        bool add_assistant_prefix) {
  std::ostringstream ss;
  const bool has_system = !messages.empty() && messages.front().role == "system";
  switch (tmpl.format) {
    case ChatFormat::kChatml:
      if (!has_system && !tmpl.default_system.empty())
        ss << "<|im_start|>system\n" << tmpl.default_system << "<|im_end|>\n";
      for (const auto& m : messages) ss << "<|im_start|>" << m.role << "\n" << m.content << "<|im_end|>\n";
      if (add_assistant_prefix) ss << "<|im_start|>assistant\n";
      break;
    case ChatFormat::kLlama3:
      for (const auto& m : messages)
        ss << "<|start_header_id|>" << m.role << "<|end_header_id|>\n\n" << trim(m.content) << "<|eot_id|>";
      if (add_assistant_prefix) ss << "<|start_header_id|>assistant<|end_header_id|>\n\n";
      break;
    case ChatFormat::kDeepseek2:
      for (const auto& m : messages) {
        if (m.role == "system") ss << m.content << "\n\n";
        else if (m.role == "user") ss << "User: " << m.content << "\n\n";
        else ss << "Assistant: " << m.content << "<｜end▁of▁sentence｜>";
      }
      if (add_assistant_prefix) ss << "Assistant:";
      break;
    case ChatFormat::kDeepseek3:
      for (const auto& m : messages) {
        if (m.role == "system") ss << m.content << "\n\n";
        else if (m.role == "user") ss << "<｜User｜>" << m.content;
        else ss << "<｜Assistant｜>" << m.content << "<｜end▁of▁sentence｜>";
      }
      if (add_assistant_prefix) ss << "<｜Assistant｜>";
      break;
    case ChatFormat::kDeepseekCoder:
      for (const auto& m : messages) {
        if (m.role == "system") ss << m.content;
        else if (m.role == "user") ss << "### Instruction:\n" << m.content << "\n";
        else ss << "### Response:\n" << m.content << "\n<|EOT|>\n";
      }
      if (add_assistant_prefix) ss << "### Response:\n";
      break;
    case ChatFormat::kLlama2: {
      bool in_turn = true;
      ss << "[INST] ";
      for (const auto& m : messages) {
        if (!in_turn) {
          ss << "[INST] ";
          in_turn = true;
        }
        if (m.role == "system") {
          ss << "<<SYS>>\n" << m.content << "\n<</SYS>>\n\n";
        } else if (m.role == "user") {
          ss << m.content << " [/INST]";
        } else {
          ss << m.content << "</s>";
          in_turn = false;
        }
      }
      break;
    }
  }
  return ss.str();
}

}  // namespace moecode::runtime

namespace moecode::engine {

ReasonedText split_reasoning(const std::string& text) {
  static constexpr std::string_view kOpen = "<think>";
  static constexpr std::string_view kClose = "</think>";
  ReasonedText r;
  const size_t open = text.find(kOpen);
  const size_t close = text.find(kClose);
  if (close != std::string::npos && (open == std::string::npos || open < close)) {
    // "<think>R</think>A", or "R</think>A" when the prompt already opened the block (R1).
    const size_t r_begin = open == std::string::npos ? 0 : open + kOpen.size();
    r.reasoning = runtime::trim(std::string_view(text).substr(r_begin, close - r_begin));
    const std::string before = open == std::string::npos ? "" : text.substr(0, open);
    r.answer = runtime::trim(before + text.substr(close + kClose.size()));
    return r;
  }
  if (open != std::string::npos) {
    // Still thinking: everything after <think> is reasoning.
    r.reasoning = runtime::trim(std::string_view(text).substr(open + kOpen.size()));
    r.answer = runtime::trim(std::string_view(text).substr(0, open));
    return r;
  }
  r.answer = text;
  return r;
}

}  // namespace moecode::engine
